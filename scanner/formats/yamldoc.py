"""YAML documents as data with the position of every scalar, for the infrastructure-as-code parsers.

Composed, not constructed: CloudFormation's short-form tags (``!Ref``, ``!Sub``, ``!GetAtt``) and any other tag
load without a custom constructor, and a tagged node reads as a one-key mapping ``{"!Ref": value}``, as the long
form ``{"Ref": value}`` does. Scalars stay strings. Aliases are followed a bounded number of times (a YAML bomb
is not a document we read). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

import yaml

from scanner.formats.tfstate import Leaf, Path

MAX_NODES = 200_000
# libyaml when PyYAML has it (15-20 times faster); its marks count characters as the pure-Python reader does.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class NotYaml(ValueError):
    """The text is not YAML we read (a syntax error, a bomb, nesting too deep)."""


class _Reader:
    def __init__(self) -> None:
        self.leaves: list[Leaf] = []
        self.seen: set[int] = set()
        self.count = 0

    def value(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise NotYaml(f"over {MAX_NODES} nodes (aliases expanding?)")
        tag = str(node.tag or "")
        if tag.startswith("!") and not tag.startswith("!!"):
            inner = self._plain(node, (*path, tag))
            return {tag: inner}
        return self._plain(node, path)

    def _plain(self, node: yaml.Node, path: Path) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else str(len(out))
                out[key] = self.value(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.value(item, (*path, i)) for i, item in enumerate(node.value)]
        style = getattr(node, "style", None)
        text = str(node.value)
        start, end = node.start_mark.index, node.end_mark.index
        if style in ("'", '"'):
            start, end = start + 1, max(start + 1, end - 1)
        elif style is None and "\n" not in text:
            start = max(start, end - len(text))  # past a tag or an anchor
        if id(node) not in self.seen:  # an alias's node is where its anchor is
            self.seen.add(id(node))
            self.leaves.append(Leaf(path, start, end, text))
        return text


def load_documents(text: str) -> tuple[list[Any], list[Leaf]]:
    """Every document of a YAML stream (document ``i``'s leaves have paths starting with ``i``) and the scalar
    leaves in file order. Raises ``NotYaml``."""
    reader = _Reader()
    docs: list[Any] = []
    try:
        for i, node in enumerate(yaml.compose_all(text, Loader=_LOADER)):
            reader.seen = set()  # aliases stay within a document; an id may be reused once one is freed
            docs.append(None if node is None else reader.value(node, (i,)))
    except yaml.YAMLError as exc:
        raise NotYaml(str(exc).splitlines()[0] if str(exc) else "invalid YAML") from None
    except RecursionError:
        raise NotYaml("nested too deeply") from None
    reader.leaves.sort(key=lambda leaf: (leaf.start, leaf.end))
    return docs, reader.leaves
