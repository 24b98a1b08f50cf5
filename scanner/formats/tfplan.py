"""Terraform plans: ``terraform show -json PLAN`` output beyond what state has, and saved plan files. Pure.

A plan's JSON holds values in ``resource_changes`` (``change.before`` / ``change.after``, with
``before_sensitive`` / ``after_sensitive`` mirroring them with ``true`` where a value is sensitive), the same for
``resource_drift`` and ``output_changes``, input ``variables`` (sensitive by the configuration's declaration) and
the ``configuration`` itself (literal ``constant_value`` expressions, sensitive variables' defaults).
``planned_values`` and ``prior_state`` have state's shape and are read as state (``formats.tfstate``).

A saved plan (``terraform plan -out``) is a zip whose ``tfplan`` member is protobuf; leakstop reads a JSON
rendering stored in it when there is one, and otherwise says to run ``terraform show -json``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

from scanner.errors import InputError

Path = tuple[str | int, ...]
OwnerEntry = tuple[str, str, Path, bool]  # address, resource type, marked path, sensitive

KNOWN_MAJORS = ("0", "1")  # Terraform's JSON output: a new major version is an incompatible change
MAX_MEMBER = 256 << 20


def check_format_version(doc: dict[str, Any], shown: str) -> None:
    """``terraform show -json`` documents carry ``format_version`` "MAJOR.MINOR"; minor versions only add."""
    version = doc.get("format_version")
    major = version.split(".", 1)[0] if isinstance(version, str) else None
    if major not in KNOWN_MAJORS:
        raise InputError(
            f"{shown}: unknown Terraform JSON format_version {version!r} (leakstop reads format versions 0.x and 1.x)"
        )


def true_paths(marks: Any, prefix: Path) -> Iterator[Path]:
    """A ``*_sensitive`` mirror: the paths where it holds ``true``."""
    if marks is True:
        yield prefix
    elif isinstance(marks, dict):
        for key, value in marks.items():
            yield from true_paths(value, (*prefix, key))
    elif isinstance(marks, list):
        for i, value in enumerate(marks):
            yield from true_paths(value, (*prefix, i))


def plan_owners(doc: dict[str, Any]) -> dict[Path, OwnerEntry]:
    """The owner of each value prefix of a plan's own sections (what ``StateIndex`` looks up by prefix)."""
    owners: dict[Path, OwnerEntry] = {}
    for section in ("resource_changes", "resource_drift"):
        changes = doc.get(section)
        for i, change in enumerate(changes if isinstance(changes, list) else []):
            if isinstance(change, dict) and isinstance(change.get("change"), dict):
                _change(owners, (section, i, "change"), change)
    outputs = doc.get("output_changes")
    for name, change in (outputs if isinstance(outputs, dict) else {}).items():
        if isinstance(change, dict):
            _output_change(owners, ("output_changes", name), f"output.{name}", change)
    config = doc.get("configuration")
    module = config.get("root_module") if isinstance(config, dict) else None
    sensitive_vars = _configuration(owners, module, ("configuration", "root_module"))
    variables = doc.get("variables")
    for name, variable in (variables if isinstance(variables, dict) else {}).items():
        if isinstance(variable, dict):
            owners[("variables", name)] = (f"var.{name}", "", (), name in sensitive_vars)
    return owners


def _change(owners: dict[Path, OwnerEntry], prefix: Path, entry: dict[str, Any]) -> None:
    address = str(entry.get("address") or f"{entry.get('type')}.{entry.get('name')}")
    rtype = str(entry.get("type") or "")
    change = entry["change"]
    for side in ("before", "after"):
        values: Path = (*prefix, side)
        owners[values] = (address, rtype, (), False)
        for path in true_paths(change.get(f"{side}_sensitive"), ()):
            owners[values + path] = (address, rtype, path, True)


def _output_change(owners: dict[Path, OwnerEntry], prefix: Path, address: str, change: dict[str, Any]) -> None:
    for side in ("before", "after"):
        marks = change.get(f"{side}_sensitive")
        key: Path = (*prefix, side)
        owners[key] = (address, "", (), marks is True)
        for path in true_paths(marks, ()):
            if path:
                marked: Path = (*key, *path)
                owners[marked] = (address, "", (), True)


def _configuration(owners: dict[Path, OwnerEntry], module: Any, prefix: Path, scope: str = "") -> set[str]:
    """Literal expressions of resources (a hard-coded password is in the plan), and variables declared
    sensitive (their defaults are secrets; the root module's names are returned). Addresses in a module call
    are relative to it: ``scope`` (``module.app.``) makes them whole."""
    if not isinstance(module, dict) or scope.count("module.") > 64:
        return set()
    resources = module.get("resources")
    for r, resource in enumerate(resources if isinstance(resources, list) else []):
        if isinstance(resource, dict):
            address = scope + str(resource.get("address") or f"{resource.get('type')}.{resource.get('name')}")
            where: Path = (*prefix, "resources", r, "expressions")
            owners[where] = (address, str(resource.get("type") or ""), (), False)
    sensitive: set[str] = set()
    variables = module.get("variables")
    for name, variable in (variables if isinstance(variables, dict) else {}).items():
        if isinstance(variable, dict):
            flag = variable.get("sensitive") is True
            declared: Path = (*prefix, "variables", name)
            owners[declared] = (f"{scope}var.{name}", "", (), flag)
            if flag:
                sensitive.add(name)
    calls = module.get("module_calls")
    for name, call in (calls if isinstance(calls, dict) else {}).items():
        if isinstance(call, dict):
            inner: Path = (*prefix, "module_calls", name, "module")
            _configuration(owners, call.get("module"), inner, f"{scope}module.{name}.")
    return sensitive


def is_plan(doc: dict[str, Any]) -> bool:
    return "format_version" in doc and any(
        key in doc for key in ("resource_changes", "planned_values", "output_changes", "configuration")
    )


def saved_plan_json(data: bytes, shown: str) -> bytes:
    """The JSON rendering of a plan stored in a saved plan file (a zip), or an ``InputError`` that says what to
    do: a saved plan's ``tfplan`` member is protobuf, which only Terraform itself reads."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        for info in archive.infolist():
            if not info.filename.endswith(".json") or info.file_size > MAX_MEMBER:
                continue
            content = archive.read(info)
            try:
                doc = json.loads(content)
            except ValueError:
                continue
            if isinstance(doc, dict) and is_plan(doc):
                return content
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as exc:
        raise InputError(f"{shown}: not a readable saved Terraform plan: damaged or truncated zip ({exc})") from None
    what = "a saved Terraform plan (binary tfplan)" if "tfplan" in names else "a zip without a Terraform plan"
    raise InputError(
        f"{shown}: {what}; leakstop reads plans as JSON: run `terraform show -json {shown} > plan.json` "
        "and scan plan.json"
    )
