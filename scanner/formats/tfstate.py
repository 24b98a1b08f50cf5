"""Terraform state as data: a v4 state file or ``terraform show -json`` output, parsed with the position of
every value and the resource attribute or output it belongs to. Pure: no I/O, no detection.

Used by the state source (is this a state at all?) and by the structured detector (``detect.structured``), which
ties rule matches to resource attributes and finds the plaintext values Terraform marks sensitive
(integrations.md 6.1, 6.2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from scanner.errors import InputError
from scanner.formats.shapes import as_dict, as_list
from scanner.formats.tfplan import check_format_version, plan_owners, true_paths

# Attributes that hold a secret whatever the provider marks (integrations.md 6.2). "*" covers every resource type.
SECRET_ATTRIBUTES: dict[str, frozenset[str]] = {
    "aws_iam_access_key": frozenset({"secret", "ses_smtp_password_v4"}),
    "aws_iam_user_login_profile": frozenset({"password"}),
    "aws_db_instance": frozenset({"password"}),
    "aws_rds_cluster": frozenset({"master_password"}),
    "aws_redshift_cluster": frozenset({"master_password"}),
    "aws_docdb_cluster": frozenset({"master_password"}),
    "random_password": frozenset({"result", "bcrypt_hash"}),
    "random_string": frozenset({"result"}),
    "tls_private_key": frozenset({"private_key_pem", "private_key_pem_pkcs8", "private_key_openssh"}),
    "google_service_account_key": frozenset({"private_key"}),
    "google_sql_user": frozenset({"password"}),
    "azurerm_storage_account": frozenset(
        {"primary_access_key", "secondary_access_key", "primary_connection_string", "secondary_connection_string"}
    ),
    "azuread_application_password": frozenset({"value"}),
    "azuread_service_principal_password": frozenset({"value"}),
    "kubernetes_secret": frozenset({"data"}),
    "kubernetes_secret_v1": frozenset({"data"}),
    "github_actions_secret": frozenset({"plaintext_value"}),
    "aws_secretsmanager_secret_version": frozenset({"secret_string"}),
    "vault_generic_secret": frozenset({"data_json", "data"}),
    "vault_kv_secret_v2": frozenset({"data_json", "data"}),
}
_CONNECTION_STRING = re.compile(r"(?:^|_)connection_strings?$")

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Leaf:
    """A scalar value in the state file: its JSON path and where its token sits (character offsets)."""

    path: Path
    start: int
    end: int
    value: Any


@dataclass(frozen=True)
class Owner:
    """What a value in the state belongs to: a resource instance attribute or an output."""

    address: str
    attribute: str
    sensitive: bool


class Walker:
    """A JSON reader that records each scalar's position; the text was already validated by ``json.loads``."""

    _NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
    _SPACE = re.compile(r"[ \t\n\r]*")

    def __init__(self, text: str) -> None:
        self.text = text
        self.leaves: list[Leaf] = []

    def run(self) -> list[Leaf]:
        self._value(self._skip(0), ())
        return self.leaves

    def _skip(self, pos: int) -> int:
        match = self._SPACE.match(self.text, pos)
        assert match is not None
        return match.end()

    def _value(self, pos: int, path: Path) -> int:
        text = self.text
        char = text[pos]
        if char == "{":
            pos = self._skip(pos + 1)
            if text[pos] == "}":
                return pos + 1
            while True:
                key, pos = scanstring(text, pos + 1)
                pos = self._skip(pos)
                pos = self._value(self._skip(pos + 1), (*path, key))  # past the colon
                pos = self._skip(pos)
                if text[pos] == "}":
                    return pos + 1
                pos = self._skip(pos + 1)  # past the comma
        if char == "[":
            pos = self._skip(pos + 1)
            if text[pos] == "]":
                return pos + 1
            index = 0
            while True:
                pos = self._skip(self._value(pos, (*path, index)))
                index += 1
                if text[pos] == "]":
                    return pos + 1
                pos = self._skip(pos + 1)
        if char == '"':
            value, end = scanstring(text, pos + 1)
            self.leaves.append(Leaf(path, pos + 1, end - 1, value))
            return int(end)
        for literal, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(literal, pos):
                self.leaves.append(Leaf(path, pos, pos + len(literal), value))
                return pos + len(literal)
        match = self._NUMBER.match(text, pos)
        if match is None:
            raise ValueError(f"unexpected character at {pos}")
        self.leaves.append(Leaf(path, pos, match.end(), match.group()))
        return match.end()


def decode_state(data: bytes, shown: str) -> tuple[str, dict[str, Any]]:
    """The text and document of a state file; ``InputError`` (naming ``shown``) when it is not one."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown}: not a Terraform state: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return text, load_state(text, shown)


def _not_json(constant: str) -> Any:
    """``NaN`` and ``Infinity``: Python's ``json`` takes them, JSON (and Terraform) does not."""
    raise ValueError(f"{constant} is not JSON")


def load_state(text: str, shown: str) -> dict[str, Any]:
    try:
        doc = json.loads(text, parse_constant=_not_json)
    except ValueError as exc:
        raise InputError(f"{shown}: not a Terraform state: invalid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{shown}: not a Terraform state: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise InputError(f"{shown}: not a Terraform state: the JSON is not an object")
    if "format_version" in doc and "version" not in doc:
        check_format_version(doc, shown)
        return doc  # `terraform show -json` / plan JSON
    version = doc.get("version")
    if version != 4:
        raise InputError(
            f"{shown}: unknown Terraform state version {version!r} "
            "(leakstop reads state version 4 and `terraform show -json` output)"
        )
    return doc


def attribute_path(steps: Path) -> str:
    """``("tags", "Name")`` → ``tags.Name``; list indexes as ``[0]``."""
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else step
    return out


def _sensitive_paths(instance: dict[str, Any]) -> list[Path]:
    """``sensitive_attributes`` as paths: steps are get_attr names or typed index keys (6.1)."""
    paths: list[Path] = []
    for entry in as_list(instance.get("sensitive_attributes")):
        steps: list[str | int] = []
        for step in entry if isinstance(entry, list) else []:
            if not isinstance(step, dict):
                break
            if step.get("type") == "get_attr":
                steps.append(str(step.get("value")))
            elif step.get("type") == "index":
                key = step.get("value")
                key = key.get("value") if isinstance(key, dict) else key
                steps.append(int(key) if isinstance(key, int | float) else str(key))
        if steps:
            paths.append(tuple(steps))
    return paths


def _is_secret_attribute(resource_type: str, attribute: Path) -> bool:
    if not attribute or not isinstance(attribute[0], str):
        return False
    name = attribute[0]
    if name in SECRET_ATTRIBUTES.get(resource_type, frozenset()):
        return True
    return bool(_CONNECTION_STRING.search(name))


class StateIndex:
    """Maps each scalar in the file to the resource attribute or output it belongs to."""

    def __init__(self, doc: dict[str, Any], leaves: list[Leaf]) -> None:
        self.owners: dict[Path, tuple[str, str, Path, bool]] = {}
        self.leaves = leaves
        if "format_version" in doc and "version" not in doc:
            self._show_json(doc)
        else:
            self._v4(doc)

    def _v4(self, doc: dict[str, Any]) -> None:
        for name, output in as_dict(doc.get("outputs")).items():
            if isinstance(output, dict):
                self.owners[("outputs", name, "value")] = (f"output.{name}", "", (), bool(output.get("sensitive")))
        for r, resource in enumerate(as_list(doc.get("resources"))):
            if not isinstance(resource, dict):
                continue
            base = f"{resource.get('type')}.{resource.get('name')}"
            if resource.get("mode") == "data":
                base = f"data.{base}"
            if resource.get("module"):
                base = f"{resource['module']}.{base}"
            for i, instance in enumerate(as_list(resource.get("instances"))):
                if not isinstance(instance, dict):
                    continue
                address = base + _index_key(instance.get("index_key"))
                if instance.get("deposed"):
                    address += f" (deposed {instance['deposed']})"
                prefix: Path = ("resources", r, "instances", i, "attributes")
                self.owners[prefix] = (address, str(resource.get("type") or ""), (), False)
                for path in _sensitive_paths(instance):
                    self.owners[prefix + path] = (address, str(resource.get("type") or ""), path, True)

    def _show_json(self, doc: dict[str, Any]) -> None:
        self.owners.update(plan_owners(doc))  # a plan's resource_changes, outputs, variables, configuration
        for top in ("values", "planned_values", "prior_state"):
            section = doc.get(top)
            if top == "prior_state" and isinstance(section, dict):
                section = section.get("values")
                prefix: Path = ("prior_state", "values")
            else:
                prefix = (top,)
            if not isinstance(section, dict):
                continue
            for name, output in as_dict(section.get("outputs")).items():
                if isinstance(output, dict):
                    sensitive = bool(output.get("sensitive"))
                    key: Path = (*prefix, "outputs", name, "value")
                    self.owners[key] = (f"output.{name}", "", (), sensitive)
            self._show_module(section.get("root_module"), (*prefix, "root_module"))

    def _show_module(self, module: Any, prefix: Path) -> None:
        if not isinstance(module, dict):
            return
        for r, resource in enumerate(as_list(module.get("resources"))):
            if not isinstance(resource, dict):
                continue
            address = str(resource.get("address") or f"{resource.get('type')}.{resource.get('name')}")
            values: Path = (*prefix, "resources", r, "values")
            rtype = str(resource.get("type") or "")
            self.owners[values] = (address, rtype, (), False)
            marks = resource.get("sensitive_values")
            for path in true_paths(marks, ()):
                self.owners[values + path] = (address, rtype, path, True)
        for c, child in enumerate(as_list(module.get("child_modules"))):
            self._show_module(child, (*prefix, "child_modules", c))

    def owner(self, path: Path) -> tuple[Owner, bool] | None:
        """The owner of the value at ``path`` and whether the value is a secret by marking or by attribute."""
        sensitive = False
        for cut in range(len(path), 0, -1):
            found = self.owners.get(path[:cut])
            if found is None:
                continue
            address, rtype, marked, flag = found
            sensitive = sensitive or flag
            if address.startswith("output."):
                return Owner(address, attribute_path(path[cut:]) or "value", flag), flag
            if marked:
                continue  # a sensitive path inside an instance: walk on up to the instance's attributes
            attribute = path[cut:]
            secret = sensitive or _is_secret_attribute(rtype, attribute)
            return Owner(address, attribute_path(attribute), sensitive), secret
        return None


def _index_key(key: Any) -> str:
    if key is None:
        return ""
    if isinstance(key, int):
        return f"[{key}]"
    return f"[{json.dumps(str(key))}]"


def byte_offsets(text: str, leaves: list[Leaf]) -> Iterator[tuple[int, int]]:
    """Each leaf's character span as byte offsets into the UTF-8 file; leaves come in file order."""
    if len(text) == len(text.encode("utf-8")):
        for leaf in leaves:
            yield leaf.start, leaf.end
        return
    chars = nbytes = 0
    for leaf in leaves:
        nbytes += len(text[chars : leaf.start].encode("utf-8"))
        start = nbytes
        nbytes += len(text[leaf.start : leaf.end].encode("utf-8"))
        chars = leaf.end
        yield start, nbytes


def string_leaves(node: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from string_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from string_leaves(value, (*path, i))
    elif isinstance(node, str) and node.strip():
        yield path, node
