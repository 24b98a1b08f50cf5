"""What a user of the released hooks relies on: the README's ``rev:`` is the package's version as a tag name, and
the hook manifest puts each hook at the stages it is for (integrations.md 1.1)."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
import yaml
from helpers import ROOT

import scanner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

README = (ROOT / "README.md").read_text(encoding="utf-8")
MANIFEST = ROOT / ".pre-commit-hooks.yaml"


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"])


def test_the_package_has_one_version() -> None:
    assert scanner.__version__ == project_version()


def test_the_readme_pins_the_hooks_to_the_release_tag() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README, re.DOTALL)
    configs = [yaml.safe_load(block) for block in blocks if "rev:" in block]  # .pre-commit-config.yaml examples
    revs = [repo["rev"] for config in configs for repo in config["repos"]]
    assert revs == [f"v{project_version()}"]


def hooks() -> dict[str, dict[str, Any]]:
    return {hook["id"]: hook for hook in yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))}


def test_each_hook_runs_at_its_own_stages() -> None:
    stages = {hook_id: hook.get("stages") for hook_id, hook in hooks().items()}
    commit_stages = ["pre-commit", "pre-merge-commit", "manual"]
    assert stages == {"leakstop": commit_stages, "leakstop-staged": commit_stages, "leakstop-push": ["pre-push"]}


def test_pre_commit_accepts_the_manifest_and_its_stage_names() -> None:
    clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit is in the test extra")
    loaded = clientlib.load_manifest(str(MANIFEST))  # raises on an invalid manifest
    assert {hook["id"] for hook in loaded} == set(hooks())
    for hook in hooks().values():
        assert set(hook["stages"]) <= set(clientlib.STAGES)
