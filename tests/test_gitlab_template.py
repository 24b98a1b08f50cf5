"""``templates/leakstop.gitlab-ci.yml``: the job users include. Its ``script:`` lines run as the GitLab runner
runs them (one bash session with ``set -eo pipefail``, the job's ``variables:`` and the predefined CI variables)
in a real merge request checkout.

One substitution: ``before_script`` (``python3 -m venv`` + ``pip install``, a minute or more) is not run;
``LEAKSTOP_VENV`` names the environment running the tests instead, which is this checkout installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ciworld import World
from test_ci_github import pull_request
from tokens import TokenFactory

from scanner.report import REPORTERS

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = yaml.safe_load((ROOT / "templates" / "leakstop.gitlab-ci.yml").read_text(encoding="utf-8"))
REPORT = "gl-secret-detection-report.json"


def test_the_job_uploads_its_report_whatever_the_result() -> None:
    job = TEMPLATE["leakstop"]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"] == {"secret_detection": REPORT}
    assert job["variables"]["GIT_DEPTH"] == "0"
    assert "allow_failure" not in job  # exit 1 fails the pipeline
    [line] = job["script"]
    assert f" ci --fetch --format gitlab --output {REPORT} " in line


def run_job(world: World, runner: Path, variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    job = TEMPLATE["leakstop"]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LEAKSTOP_CACHE_DIR", "LANG")}
    env.update({k: v for k, v in os.environ.items() if k.startswith("GIT_CONFIG")})
    env.update(job["variables"])
    env.update(variables)
    env["LEAKSTOP_VENV"] = sys.prefix  # instead of before_script's install (see the module docstring)
    script = "set -eo pipefail\n" + "\n".join(job["script"]) + "\n"
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        cwd=runner, env=env, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


@pytest.mark.skipif("gitlab" not in REPORTERS, reason="the gitlab reporter (branch h-gitlab) is not merged yet")
def test_the_job_blocks_a_merge_request_bringing_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory
) -> None:
    world = World(tmp_path, monkeypatch)
    ids = pull_request(world, tokens)
    fork_point = world.dev.git("merge-base", ids["BASE"], ids["HEAD"])
    world.push(f"{ids['HEAD']}:refs/merge-requests/7/head")
    runner = world.checkout(ids["HEAD"], ("+refs/merge-requests/7/head:refs/remotes/origin/feature",))
    variables = world.gitlab(
        runner,
        "merge_request_event",
        CI_MERGE_REQUEST_DIFF_BASE_SHA=fork_point,
        CI_MERGE_REQUEST_IID="7",
        CI_MERGE_REQUEST_SOURCE_BRANCH_NAME="feature",
    )

    proc = run_job(world, runner.path, variables)

    assert proc.returncode == 1, proc.stderr
    assert f"leakstop ci: gitlab merge_request_event: scanning 2 commits {fork_point[:7]}.." in proc.stderr
    report = json.loads((runner.path / REPORT).read_text(encoding="utf-8"))
    assert report["version"].startswith("15.")
    [vulnerability] = report["vulnerabilities"]
    assert vulnerability["location"]["file"] == "app.env"
    assert vulnerability["location"]["commit"]["sha"] == ids["ADDED"]

    proc = run_job(world, runner.path, {**variables, "LEAKSTOP_ARGS": "--fail-on never"})
    assert proc.returncode == 0, proc.stderr
