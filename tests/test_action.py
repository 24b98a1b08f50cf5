"""``action.yml``: valid against the action metadata schema (SchemaStore's ``github-action.json``, vendored in
``tests/data/github-action.schema.json`` from SchemaStore/schemastore at 3b6446ad, Apache-2.0), no input spliced
into a script, and its steps run as a runner runs them: each ``run:`` script through ``bash --noprofile --norc -eo
pipefail`` with the step's ``env:`` (its ``${{ }}`` expressions evaluated by ``Runner.expand`` below), the
``GITHUB_*`` variables, an event file and per-step ``GITHUB_OUTPUT`` / ``GITHUB_STEP_SUMMARY`` files, in the
workspace of a real repository with a generated secret in a pull request.

One substitution: the install step (``python3 -m venv`` + ``pip install`` of this checkout, a minute or more) is
not run; the test gives its output (``leakstop=<path>``) the leakstop of the environment running the tests, which
is this checkout installed. Every other step runs for real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from ciworld import World
from helpers import config_doc
from test_ci_github import pull_request
from test_ci_step import SARIF_SCHEMA, annotations
from tokens import TokenFactory

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
SCHEMA = json.loads((ROOT / "tests" / "data" / "github-action.schema.json").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
LEAKSTOP = Path(sys.executable).with_name("leakstop")


def test_action_metadata_is_valid() -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert [e.message for e in validator.iter_errors(ACTION)] == []
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {"config", "args", "fail-on", "sarif", "summary"}
    assert {name: o["value"] for name, o in ACTION["outputs"].items()} == {
        name: f"${{{{ steps.scan.outputs.{name} }}}}" for name in ("findings", "blocked", "sarif")
    }


def test_no_expression_is_spliced_into_a_script() -> None:
    """Script injection (integrations.md 2.1): inputs and contexts reach scripts through env: only."""
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step["run"], step["name"]


@dataclass
class Step:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


@dataclass
class Runner:
    """Runs the action's steps as the GitHub runner does, in ``workspace``, with ``env`` (the job's variables)."""

    workspace: Path
    env: dict[str, str]
    temp: Path
    inputs: dict[str, str] = field(default_factory=dict)
    steps: dict[str, Step] = field(default_factory=dict)

    def expand(self, text: str) -> str:
        """The handful of expressions action.yml uses; any other fails the test."""

        def value(match: re.Match[str]) -> str:
            expr = match[1]
            if expr == "github.action_path":
                return str(ROOT)
            if expr == "runner.temp":
                return str(self.temp)
            if expr.startswith("inputs."):
                return self.inputs[expr.removeprefix("inputs.")]
            found = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
            if found:
                step = self.steps.get(found[1])
                return step.outputs.get(found[2], "") if step else ""
            raise AssertionError(f"expression not simulated: {expr}")

        return EXPRESSION.sub(value, text)

    def run(self, given: Mapping[str, str]) -> tuple[int, dict[str, str]]:
        """The composite action: its steps in order until one fails; its exit code and outputs."""
        self.inputs = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
        self.inputs.update(given)
        for index, spec in enumerate(ACTION["runs"]["steps"]):
            step = self.install() if spec["id"] == "install" else self.script(index, spec)
            self.steps[spec["id"]] = step
            if step.returncode != 0:
                return step.returncode, {}
        return 0, {name: self.expand(o["value"]) for name, o in ACTION["outputs"].items()}

    def install(self) -> Step:
        return Step(0, "", "", {"leakstop": str(LEAKSTOP)}, "")

    def script(self, index: int, spec: dict[str, Any]) -> Step:
        files = self.temp / f"step-{index}"
        files.mkdir()
        script = files / "script.sh"
        script.write_text(spec["run"], encoding="utf-8")
        output, summary = files / "output", files / "summary"
        output.touch()
        summary.touch()
        env = {**self.env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
        env.update({name: self.expand(str(value)) for name, value in spec.get("env", {}).items()})
        proc = subprocess.run(
            [spec["shell"], "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace, env=env, capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        return Step(proc.returncode, proc.stdout, proc.stderr, parse_outputs(output), summary.read_text("utf-8"))


def parse_outputs(path: Path) -> dict[str, str]:
    """``name=value`` and ``name<<DELIMITER`` … ``DELIMITER`` lines, as the runner reads ``GITHUB_OUTPUT``."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            outputs[name] = "\n".join(iter(lambda: next(lines), delimiter))
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory) -> Runner:
    """A pull request bringing a secret (app.env), checked out as actions/checkout does with fetch-depth: 0."""
    world = World(tmp_path, monkeypatch)
    ids = pull_request(world, tokens)
    refspecs = ("+refs/heads/*:refs/remotes/origin/*", "+refs/pull/7/merge:refs/remotes/pull/7/merge")
    checkout = world.checkout(ids["MERGE"], refspecs)  # no .leakstop.yaml: the built-in rules
    env = world.github(checkout, "pull_request", world.payload("pull_request", ids))
    keep = ("PATH", "HOME", "LEAKSTOP_CACHE_DIR", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "LANG")
    base = {name: value for name, value in os.environ.items() if name in keep}
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    return Runner(checkout.path, {**base, **env, "RUNNER_TEMP": str(temp)}, temp)


def test_the_action_blocks_a_pull_request_bringing_a_secret(runner: Runner, tokens: TokenFactory) -> None:
    code, outputs = runner.run({})

    assert code == 1
    scan = runner.steps["scan"]
    assert scan.outputs == {"findings": "1", "blocked": "1", "sarif": "leakstop.sarif"}
    assert "leakstop ci: github pull_request: scanning 2 commits" in scan.stderr
    [(level, props, message)] = annotations(scan.stdout)
    assert (level, props["file"], props["line"]) == ("error", "app.env", "1")
    assert message.startswith("GitHub personal access token (classic): ghp_…(40): blocks this change.")
    assert scan.summary.startswith("### 🛑 leakstop: 1 secret blocks this change\n")
    assert (
        "| 🛑 block | GitHub personal access token \\(classic\\) \\(github\\-pat\\) | app\\.env\\:1 |" in scan.summary
    )
    sarif = json.loads((runner.workspace / "leakstop.sarif").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft7Validator(SARIF_SCHEMA).iter_errors(sarif)) == []
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]] == [
        "app.env"
    ]
    assert outputs == {}  # a failed step ends the action; the job fails


def test_inputs(runner: Runner) -> None:
    code, outputs = runner.run({"fail-on": "never", "summary": "false", "sarif": "", "args": "--scope  history\n"})

    assert code == 0
    assert outputs == {"findings": "1", "blocked": "1", "sarif": ""}
    assert runner.steps["scan"].summary == ""
    assert not (runner.workspace / "leakstop.sarif").exists()


def test_a_config_input_with_spaces(runner: Runner) -> None:
    config = runner.workspace.parent / "my config.yaml"
    config.write_text(yaml.safe_dump(config_doc() | {"disabled_rules": ["github-pat"]}), encoding="utf-8")

    code, outputs = runner.run({"config": str(config)})

    assert (code, outputs["findings"]) == (0, "0")


def test_hostile_inputs_are_arguments_not_code(runner: Runner) -> None:
    code, _ = runner.run({"args": "$(touch pwned) `touch pwned2` ; touch pwned3", "fail-on": "block; touch pwned4"})

    assert code == 2  # argparse refuses them
    assert (
        "leakstop ci: error: argument --fail-on: invalid choice: 'block; touch pwned4'" in runner.steps["scan"].stderr
    )
    assert not list(runner.workspace.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))


def test_a_step_output_with_a_line_break_is_read_back(tmp_path: Path) -> None:
    from scanner.integrations.ci.github import write_outputs

    path = tmp_path / "output"
    write_outputs(str(path), {"sarif": "a\nb", "findings": "3"})
    assert parse_outputs(path) == {"sarif": "a\nb", "findings": "3"}


def test_every_package_is_installed() -> None:
    """The action installs this checkout with pip (not editable): a package missing from pyproject.toml's list
    would be missing there."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "scanner").rglob("__init__.py")}
    assert found - listed == set()
