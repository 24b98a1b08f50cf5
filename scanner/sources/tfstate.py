"""The Terraform state source: a v4 state file (``terraform.tfstate``, ``.tfstate.backup``) or the output of
``terraform show -json``, read from a file, stdin, a remote backend (``sources.tfremote``), or met as a file in a
directory, staged or history scan (``add_state_chunk``, ``state_blob_groups``).

The whole file is scanned with the rules, so every finding carries the line where the value sits; each match is
then tied to the resource address and attribute path of the value it falls in. Values Terraform marks sensitive
(``sensitive_attributes``, ``sensitive`` outputs) and known secret-bearing attributes are findings of rule
``terraform-sensitive-in-state`` even when no pattern matches: the marking is display-only and state holds them in
plaintext (integrations.md 6.1, 6.2).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from scanner.detect.engine import Detector, RawMatch, to_matches
from scanner.detect.entropy import shannon_entropy
from scanner.errors import InputError, UsageError
from scanner.models import Chunk, Match, ScanIssue, TfstateOrigin
from scanner.ruleset import CompiledRule
from scanner.scan import Scan
from scanner.sources.files import blob_id

SENSITIVE_RULE = "terraform-sensitive-in-state"

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


class _Walker:
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


def load_state(text: str, shown: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{shown}: not a Terraform state: invalid JSON ({exc})") from None
    except RecursionError:
        raise InputError(f"{shown}: not a Terraform state: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise InputError(f"{shown}: not a Terraform state: the JSON is not an object")
    if "format_version" in doc and "version" not in doc:
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
    for entry in instance.get("sensitive_attributes") or []:
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


class _StateIndex:
    """Maps each scalar in the file to the resource attribute or output it belongs to."""

    def __init__(self, doc: dict[str, Any], leaves: list[Leaf]) -> None:
        self.owners: dict[Path, tuple[str, str, Path, bool]] = {}
        self.leaves = leaves
        if "format_version" in doc and "version" not in doc:
            self._show_json(doc)
        else:
            self._v4(doc)

    def _v4(self, doc: dict[str, Any]) -> None:
        for name, output in (doc.get("outputs") or {}).items():
            if isinstance(output, dict):
                self.owners[("outputs", name, "value")] = (f"output.{name}", "", (), bool(output.get("sensitive")))
        for r, resource in enumerate(doc.get("resources") or []):
            if not isinstance(resource, dict):
                continue
            base = f"{resource.get('type')}.{resource.get('name')}"
            if resource.get("mode") == "data":
                base = f"data.{base}"
            if resource.get("module"):
                base = f"{resource['module']}.{base}"
            for i, instance in enumerate(resource.get("instances") or []):
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
        for top in ("values", "planned_values", "prior_state"):
            section = doc.get(top)
            if top == "prior_state" and isinstance(section, dict):
                section = section.get("values")
                prefix: Path = ("prior_state", "values")
            else:
                prefix = (top,)
            if not isinstance(section, dict):
                continue
            for name, output in (section.get("outputs") or {}).items():
                if isinstance(output, dict):
                    sensitive = bool(output.get("sensitive"))
                    key: Path = (*prefix, "outputs", name, "value")
                    self.owners[key] = (f"output.{name}", "", (), sensitive)
            self._show_module(section.get("root_module"), (*prefix, "root_module"))

    def _show_module(self, module: Any, prefix: Path) -> None:
        if not isinstance(module, dict):
            return
        for r, resource in enumerate(module.get("resources") or []):
            if not isinstance(resource, dict):
                continue
            address = str(resource.get("address") or f"{resource.get('type')}.{resource.get('name')}")
            values: Path = (*prefix, "resources", r, "values")
            rtype = str(resource.get("type") or "")
            self.owners[values] = (address, rtype, (), False)
            marks = resource.get("sensitive_values")
            for path in _true_paths(marks, ()):
                self.owners[values + path] = (address, rtype, path, True)
        for c, child in enumerate(module.get("child_modules") or []):
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


def _true_paths(marks: Any, prefix: Path) -> Iterator[Path]:
    """``sensitive_values`` of show -json mirrors the value with ``true`` where a value is sensitive."""
    if marks is True:
        yield prefix
    elif isinstance(marks, dict):
        for key, value in marks.items():
            yield from _true_paths(value, (*prefix, key))
    elif isinstance(marks, list):
        for i, value in enumerate(marks):
            yield from _true_paths(value, (*prefix, i))


def _index_key(key: Any) -> str:
    if key is None:
        return ""
    if isinstance(key, int):
        return f"[{key}]"
    return f"[{json.dumps(str(key))}]"


def _byte_offsets(text: str, leaves: list[Leaf]) -> Iterator[tuple[int, int]]:
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


@dataclass(frozen=True, slots=True)
class StateGroup:
    """The matches that fall in one resource attribute or output (``address`` is "" outside any)."""

    address: str
    attribute: str
    matches: tuple[Match, ...]


def sensitive_rule(rules: Iterable[CompiledRule]) -> CompiledRule | None:
    return next((rule for rule in rules if rule.id == SENSITIVE_RULE), None)


def analyse(data: bytes, shown: str, matches: Sequence[Match], rule: CompiledRule | None) -> list[StateGroup]:
    """Tie the rule ``matches`` of a state file to resource attributes, and add a ``rule`` match for each value
    state keeps in plaintext that no pattern matched. Raises ``InputError`` when ``data`` is not a state."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown}: not a Terraform state: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    doc = load_state(text, shown)
    leaves = _Walker(text).run()
    index = _StateIndex(doc, leaves)
    spans = [(start, end, leaf) for leaf, (start, end) in zip(leaves, _byte_offsets(text, leaves), strict=True)]
    starts = [s for s, _, _ in spans]

    def leaf_at(offset: int) -> Leaf | None:
        i = bisect_right(starts, offset) - 1
        if i >= 0 and spans[i][0] <= offset <= spans[i][1]:
            return spans[i][2]
        return None

    covered: set[Path] = set()
    groups: dict[tuple[str, str], list[Match]] = {}
    for match in matches:
        leaf = leaf_at(match.start)
        owned = index.owner(leaf.path) if leaf is not None else None
        key = (owned[0].address, owned[0].attribute) if owned else ("", "")
        groups.setdefault(key, []).append(match)
        if leaf is not None:
            covered.add(leaf.path)

    if rule is not None:
        for start, end, leaf in spans:
            if leaf.path in covered or not isinstance(leaf.value, str) or not leaf.value.strip():
                continue
            owned = index.owner(leaf.path)
            if owned is None or not owned[1]:
                continue
            value = leaf.value
            raw = RawMatch(rule, start, end, value, shannon_entropy(value))
            groups.setdefault((owned[0].address, owned[0].attribute), []).extend(to_matches(data, [raw]))
    return [StateGroup(address, attribute, tuple(found)) for (address, attribute), found in groups.items()]


def _touching(groups: list[StateGroup], lines: frozenset[int]) -> list[StateGroup]:
    """Only the matches on ``lines`` (what a staged change or a range adds)."""
    kept = []
    for group in groups:
        matches = tuple(m for m in group.matches if any(n in lines for n in range(m.line, m.end_line + 1)))
        if matches:
            kept.append(StateGroup(group.address, group.attribute, matches))
    return kept


def add_groups(scan: Scan, shown: str, groups: Iterable[StateGroup]) -> None:
    for group in groups:
        scan.add_matches(TfstateOrigin(shown, address=group.address, attribute=group.attribute), group.matches)


def add_state_chunk(scan: Scan, chunk: Chunk, only_lines: frozenset[int] | None = None) -> bool:
    """A state file met in a directory or staged scan: analysed as state, so its rule findings carry the resource
    address and plaintext sensitive values are found too. Not a valid state: an issue, and False so the caller
    scans it as plain text."""
    shown = chunk.origin.path
    try:
        groups = analyse(chunk.content, shown, scan.matches_for(chunk), scan.ruleset.by_id.get(SENSITIVE_RULE))
    except InputError as exc:
        message = str(exc).removeprefix(f"{shown}: ")
        scan.result.stats.skipped["invalid-state"] += 1
        scan.result.issues.append(ScanIssue(shown, "invalid-state", f"scanned as plain text, not as state: {message}"))
        return False
    stats = scan.result.stats
    stats.items_scanned += 1
    stats.bytes_scanned += len(chunk.content)
    add_groups(scan, shown, groups if only_lines is None else _touching(groups, only_lines))
    return True


def state_blob_groups(
    detector: Detector, data: bytes, previous: bytes | None, only_added_lines: bool
) -> list[StateGroup] | None:
    """A state file's version in a git history or range scan (called in worker processes): parsed whole, since
    a change deep in the file needs the resources around it. None when it is not a valid state (scanned as
    plain text then). In a range, only what the version adds against ``previous`` counts.

    Most versions of a state change ids, tags and the serial, not secrets: when the changed parts hold no rule
    match and no new value of a secret attribute, the version has nothing the previous one did not, and the
    costly whole-file analysis is skipped (findings already made at this path stand)."""
    if previous is not None and _nothing_new(detector, data, previous):
        return []
    try:
        groups = analyse(data, "", detector.detect(data), sensitive_rule(detector.rules))
    except InputError:
        return None
    if only_added_lines and previous is not None:
        from scanner.sources.git import new_line_numbers

        groups = _touching(groups, new_line_numbers(previous, data))
    return groups


_JSON_STRING = re.compile(rb'"(?:[^"\\\n]|\\.)*"')


def _nothing_new(detector: Detector, data: bytes, previous: bytes) -> bool:
    """True when ``data`` is a valid state whose new lines (lines ``previous`` does not have) hold no rule match
    and no string at a secret or sensitive path. Any doubt (invalid JSON, ...) is False: analyse in full."""
    from scanner.gitscan import changed_regions  # gitscan imports this module
    from scanner.sources.git import new_line_numbers

    added = new_line_numbers(previous, data)
    for region, first in changed_regions(previous, data):
        for match in detector.detect(region, first_line=first):
            if any(n in added for n in range(match.line, match.end_line + 1)):
                return False
    lines = data.split(b"\n")
    fresh = {m.group() for n in added for m in _JSON_STRING.finditer(lines[n - 1])}
    try:
        doc = load_state(data.decode("utf-8"), "")  # still a state? (C speed; the walk is what costs)
        values = {json.loads(token) for token in fresh}
    except (InputError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return False
    if not values:
        return True
    index = _StateIndex(doc, [])
    for path, value in _string_leaves(doc, ()):
        if value in values:
            owned = index.owner(path)
            if owned is not None and owned[1]:
                return False
    return True


def _string_leaves(node: Any, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _string_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _string_leaves(value, (*path, i))
    elif isinstance(node, str) and node.strip():
        yield path, node


def _read(path: str) -> tuple[bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "-"
    try:
        with open(path, "rb") as fh:
            return fh.read(), path.replace("\\", "/")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


def scan_tfstate(scan: Scan, source: str, all_versions: bool = False) -> str:
    """``--tfstate FILE|-|URL``: one state, or each state a remote location holds. Returns what was read, for the
    report's target detail. A single state that cannot be read or parsed is an ``InputError``; in a listing (an
    S3 prefix, object versions) such a state is an issue, scanned as plain text if it was read, and the scan goes
    on."""
    from scanner.sources import tfremote

    if not tfremote.is_remote(source):
        if all_versions:
            raise UsageError("--all-versions reads the versions of s3:// state; it does not apply to a file")
        data, shown = _read(source)
        add_groups(scan, shown, _analyse_whole(scan, data, shown))
        return f"state {shown}"
    remote = tfremote.open_remote(source, tfremote.RemoteOptions(all_versions=all_versions))
    seen: set[tuple[str, ...]] = set()
    count = 0
    for document in remote.documents():
        count += 1
        if document.error:
            scan.result.stats.skipped[document.reason] += 1
            scan.result.issues.append(ScanIssue(document.shown, document.reason, document.error))
            continue
        try:
            groups = _analyse_whole(scan, document.data, document.shown)
        except InputError as exc:
            if not remote.listing:
                raise
            message = str(exc).removeprefix(f"{document.shown}: ")
            scan.result.stats.skipped["invalid-state"] += 1
            scan.result.issues.append(
                ScanIssue(document.shown, "invalid-state", f"scanned as plain text, not as state: {message}")
            )
            scan.add(Chunk(document.data, TfstateOrigin(document.shown), blob_id(document.data)))
            continue
        add_groups(scan, document.shown, _first_seen(groups, document.key, seen) if remote.listing else groups)
    return f"state {remote.shown} ({count} {'state' if count == 1 else 'states'} read)"


def _analyse_whole(scan: Scan, data: bytes, shown: str) -> list[StateGroup]:
    chunk = Chunk(data, TfstateOrigin(shown), blob_id(data))
    groups = analyse(data, shown, scan.matches_for(chunk), scan.ruleset.by_id.get(SENSITIVE_RULE))
    stats = scan.result.stats
    stats.items_scanned += 1
    stats.bytes_scanned += len(data)
    return groups


def _first_seen(groups: list[StateGroup], key: str, seen: set[tuple[str, ...]]) -> Iterator[StateGroup]:
    """Versions are read oldest first: a secret kept from version to version is one finding, at the version that
    introduced it (a stable location, as a git finding names the commit that introduced it)."""
    for group in groups:
        fresh = []
        for match in group.matches:
            digest = hashlib.sha256(match.secret.reveal().encode("utf-8", "surrogatepass")).hexdigest()
            marker = (key, group.address, group.attribute, match.rule_id, digest)
            if marker not in seen:
                seen.add(marker)
                fresh.append(match)
        if fresh:
            yield StateGroup(group.address, group.attribute, tuple(fresh))
