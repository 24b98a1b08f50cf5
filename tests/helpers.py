"""Plain helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import functools
import io
import tarfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_RULES = ROOT / "rules"

# Fixture types (see conftest.py).
RunCli = Callable[..., tuple[int, str, str]]
MakeConfig = Callable[..., Path]


def reads_while_preparing(monkeypatch: pytest.MonkeyPatch, ahead: Any) -> list[list[str]]:
    """What ``ahead`` (a read-ahead class: ``staged.ReadAhead``, ``planahead.PlanAhead``) has running each time the
    pipeline's ``prepare`` (the rules' and detector's load) starts: the list fills as scans run."""
    from scanner.pipeline import runner

    seen: list[list[str]] = []
    real = runner.prepare

    def watched(*args: Any) -> Any:
        seen.append(sorted(ahead.running))
        return real(*args)

    monkeypatch.setattr(runner, "prepare", watched)
    return seen


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Create ``files`` ({relative path: text or bytes}) under ``root``; returns ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@functools.cache
def _builtin_rules_by_id() -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}
    for path in sorted(BUILTIN_RULES.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for rule in doc.get("rules") or []:
            entry = dict(rule)
            entry.setdefault("provider", doc.get("provider", ""))
            rules.setdefault(entry["id"], entry)
    return rules


def builtin_rule(rule_id: str) -> dict[str, Any]:
    """A built-in rule as a config rule, without its examples (so a config file holding it holds no token)."""
    rule = dict(_builtin_rules_by_id()[rule_id])
    for key in ("examples", "negative_examples"):
        rule.pop(key, None)
    return rule


def config_doc(rule_ids: Iterable[str] = ("github-pat",), **extra: Any) -> dict[str, Any]:
    """A ``.leakstop.yaml`` running only the given built-in rules: other rule files cannot affect a test."""
    return {"extend": "none", "rules": [builtin_rule(r) for r in rule_ids], **extra}


def config_text(rule_ids: Iterable[str] = ("github-pat",), **extra: Any) -> str:
    return yaml.safe_dump(config_doc(rule_ids, **extra), sort_keys=False)


def rule_file(path: Path, *rules: Mapping[str, Any], provider: str = "test") -> Path:
    """Write a rule file holding ``rules``; ``examples``/``negative_examples`` default to harmless strings."""
    entries = []
    for rule in rules:
        entry = {"severity": "high", "confidence": "high", **rule}
        entry.setdefault("examples", ["placeholder example"])
        entry.setdefault("negative_examples", ["nothing here"])
        entries.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"provider": provider, "rules": entries}, sort_keys=False), encoding="utf-8")
    return path


def password_state(password: str, serial: int = 1, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A state holding a random_password (no rule pattern matches its bare value) and optionally one more
    resource."""
    resources: list[dict[str, Any]] = [
        {
            "mode": "managed",
            "type": "random_password",
            "name": "db",
            "provider": 'provider["registry.terraform.io/hashicorp/random"]',
            "instances": [{"schema_version": 3, "attributes": {"id": "none", "length": 24, "result": password}}],
        }
    ]
    if extra:
        resources.append(extra)
    return {"version": 4, "terraform_version": "1.9.5", "serial": serial, "lineage": "l-1", "resources": resources}


def notes_resource(text: str) -> dict[str, Any]:
    return {
        "mode": "managed",
        "type": "acme_service",
        "name": "api",
        "provider": 'provider["registry.terraform.io/acme/acme"]',
        "instances": [{"attributes": {"name": "api", "notes": text}}],
    }


def tar_bytes(members: Iterable[tuple[str, bytes] | tarfile.TarInfo]) -> bytes:
    """A tar archive (PAX) of ``(name, data)`` members, and ``TarInfo`` members (links) as they are."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
                continue
            name, data = member
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
