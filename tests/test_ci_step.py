"""What ``leakstop ci`` hands back to a GitHub Actions step (annotations, outputs, the job summary, SARIF, the exit
code by ``--fail-on``), and its one-line errors for missing or malformed CI variables and payloads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from ciworld import World
from gitrepo import Repo
from helpers import MakeConfig, RunCli
from tokens import TokenFactory

TESTS = Path(__file__).resolve().parent
SARIF_SCHEMA = json.loads((TESTS / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
ZERO = "0" * 40
ANNOTATION = re.compile(r"^::(error|warning|notice) ([^:]*)::(.*)$")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, monkeypatch)


@pytest.fixture
def config(make_config: MakeConfig) -> Path:
    """github-pat blocks; findings under warn/ only warn."""
    return make_config(policy={"overrides": [{"paths": ["warn/"], "action": "warn"}]})


def many_findings(world: World, tokens: TokenFactory, blocking: int, warning: int) -> tuple[Repo, list[str]]:
    """A tree with ``blocking`` secrets in block/, ``warning`` in warn/, and one in a file whose name needs
    escaping in an annotation; checked out under the workspace in a subdirectory, as ``actions/checkout`` with
    ``path: src`` does."""
    secrets = [tokens.github_clean() for _ in range(blocking + warning + 1)]
    files = {f"block/{n:02}.env": f"T={secrets[n]}\n" for n in range(blocking)}
    files.update({f"warn/{n:02}.env": f"T={secrets[blocking + n]}\n" for n in range(warning)})
    files["odd, name: 100%.env"] = f"T={secrets[-1]}\n"
    tip = world.commit("settings", files)
    world.push("main")
    runner = world.checkout(tip)
    workspace = world.tmp / "workspace"
    workspace.mkdir()
    runner.path.rename(workspace / "src")
    return Repo(workspace / "src", world.clock), secrets


def github_run(world: World, runner: Repo) -> dict[str, str]:
    env = world.github(runner, "workflow_dispatch", world.payload("workflow_dispatch", {}))
    env["GITHUB_WORKSPACE"] = str(runner.path.parent)
    world.enter(runner, env)
    return env


def annotations(text: str) -> list[tuple[str, dict[str, str], str]]:
    found = []
    for line in text.splitlines():
        match = ANNOTATION.match(line)
        if match:
            props = dict(p.split("=", 1) for p in match[2].split(",")) if match[2] else {}
            found.append((match[1], props, match[3]))
    return found


def test_annotations_summary_and_outputs(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path, make_config: MakeConfig
) -> None:
    runner, secrets = many_findings(world, tokens, blocking=12, warning=11)
    env = github_run(world, runner)

    code, out, err = run_cli("ci", "-c", config, "--sarif", "leakstop.sarif")

    assert code == 1
    # The text report on stdout is fenced off from workflow commands; annotations follow it.
    lines = out.splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    resume = lines.index(f"::{token}::")
    assert any(line.startswith("BLOCKED") for line in lines[1:resume])
    found = annotations("\n".join(lines[resume + 1 :]))
    assert [level for level, _, _ in found] == ["error"] * 10 + ["warning"] * 10 + ["notice"]
    assert found[-1][2] == "4 more not shown here: the job summary lists them all"
    props, message = next((p, m) for _, p, m in found if p.get("file") == "src/block/00.env")  # the workspace's
    assert (props["line"], props["col"], props["endColumn"]) == ("1", "3", "43")
    assert props["title"] == "GitHub personal access token (classic) (github-pat)"
    assert message.startswith("GitHub personal access token (classic): ghp_…(40): blocks this change.")
    odd = next(p for _, p, _ in found if "odd" in p.get("file", ""))
    assert odd["file"] == "src/odd%2C name%3A 100%25.env"
    assert not any(s in out or s in err for s in secrets)

    outputs = Path(env["GITHUB_OUTPUT"]).read_text(encoding="utf-8")
    assert outputs == "findings=24\nblocked=13\nsarif=leakstop.sarif\n"

    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert summary.startswith("### 🛑 leakstop: 13 secrets block this change\n")
    assert "github workflow\\_dispatch\\: scanning the tree at" in summary
    assert summary.count("| 🛑 block |") == 13 and summary.count("| ⚠️ warn \\(override\\:0\\) |") == 11
    assert "odd\\, name\\: 100\\%\\.env\\:1" in summary
    assert not any(s in summary for s in secrets)

    sarif = json.loads((runner.path / "leakstop.sarif").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft7Validator(SARIF_SCHEMA).iter_errors(sarif)) == []
    assert len(sarif["runs"][0]["results"]) == 24


def test_a_json_report_on_stdout_stays_json(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    runner, _ = many_findings(world, tokens, blocking=1, warning=0)
    github_run(world, runner)

    code, out, err = run_cli("ci", "-c", config, "--format", "json", "--no-summary")

    assert json.loads(out)["summary"]["block"] == 2
    assert [level for level, _, _ in annotations(err)] == ["error", "error"]  # the runner reads stderr too
    assert code == 1


def test_summary_stays_within_the_step_limit(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    """Another tool of the step already wrote most of the 1 MiB: ours is cut, and says how much was left out."""
    runner, _ = many_findings(world, tokens, blocking=30, warning=0)
    env = github_run(world, runner)
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    summary.write_text("x" * (1024 * 1024 - 2500), encoding="utf-8")

    run_cli("ci", "-c", config)

    size = summary.stat().st_size
    assert 1024 * 1024 - 1000 < size <= 1024 * 1024
    text = summary.read_text(encoding="utf-8")
    shown = text.count("| 🛑 block |")
    assert 0 < shown < 31
    assert f"**{31 - shown} more rows not shown:** a job summary holds at most" in text


def test_no_summary_and_no_output_file(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    runner, _ = many_findings(world, tokens, blocking=1, warning=0)
    env = github_run(world, runner)
    del_output = world.monkeypatch.delenv
    del_output("GITHUB_OUTPUT")

    code, _, _ = run_cli("ci", "-c", config, "--no-summary", "--output", "report.txt")

    assert code == 1
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8") == ""
    assert "BLOCKED" in (runner.path / "report.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(("blocking", "warning", "fail_on", "code"), [
    (1, 0, "block", 1), (0, 2, "block", 0), (0, 2, "warn", 1), (1, 1, "never", 0), (0, 0, "warn", 0),
])  # fmt: skip
def test_fail_on(
    blocking: int, warning: int, fail_on: str, code: int, tmp_path: Path, tokens: TokenFactory, run_cli: RunCli,
    world: World, make_config: MakeConfig,
) -> None:  # fmt: skip
    files = {f"block/{n}.env": f"T={tokens.github_clean()}\n" for n in range(blocking)}
    files.update({f"warn/{n}.env": f"T={tokens.github_clean()}\n" for n in range(warning)})
    tip = world.commit("files", files or {"empty.txt": ""})
    world.push("main")
    runner = world.checkout(tip)
    world.enter(runner, world.gitlab(runner, "schedule"))
    config = make_config(policy={"overrides": [{"paths": ["warn/"], "action": "warn"}]})

    assert run_cli("ci", "-c", config, "--fail-on", fail_on)[0] == code


@pytest.mark.shows_secrets  # the JSON report asks for them (--show-secrets); the SARIF must not hold them
def test_sarif_is_redacted_and_fingerprinted_stably(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    secret = tokens.github_clean()
    tip = world.commit("settings", {"app.env": f"A={secret}\nB={secret}\n"})
    world.push("main")
    runner = world.checkout(tip)
    world.enter(runner, world.gitlab(runner, "schedule"))  # a tree: both lines are findings

    runs = []
    sarif, report = world.tmp / "out.sarif", world.tmp / "report.json"  # outside the tree it scans
    for _ in range(2):
        run_cli("ci", "-c", config, "--sarif", sarif, "--show-secrets", "--output", report, "-f", "json")
        runs.append(sarif.read_text(encoding="utf-8"))

    assert secret in report.read_text(encoding="utf-8")  # asked for in the report
    assert secret not in runs[0]  # never in SARIF: it is uploaded
    results = json.loads(runs[0])["runs"][0]["results"]
    hashes = [r["partialFingerprints"]["primaryLocationLineHash"] for r in results]
    assert hashes == [f"{results[0]['partialFingerprints']['leakstop/v1'][:16]}:{n}" for n in (1, 2)]
    assert all(len(r["locations"]) == 1 for r in results)
    for result in results:
        assert not {"author", "email"} & set(result["partialFingerprints"])
    assert json.loads(runs[0])["runs"][0]["results"] == json.loads(runs[1])["runs"][0]["results"]


# --- bad input: one line naming the variable, exit 2 ---


def run_bad(run_cli: RunCli) -> str:
    code, out, err = run_cli("ci", "--format", "json")
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    return err.strip()


def github_env(world: World, runner: Repo, event: str, doc: object) -> None:
    path = world.tmp / "event.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    world.enter(runner, world.github(runner, event, path))


@pytest.fixture
def runner(world: World, tokens: TokenFactory) -> Repo:
    tip = world.commit("one", {"a.txt": "a\n"})
    world.push("main")
    return world.checkout(tip)


def test_not_in_ci(world: World, runner: Repo, run_cli: RunCli) -> None:
    world.enter(runner, {})
    assert run_bad(run_cli) == (
        "leakstop: error: leakstop ci runs in GitHub Actions or GitLab CI: neither GITHUB_ACTIONS nor GITLAB_CI is set"
        " to true"
    )


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("GITHUB_EVENT_NAME", "GITHUB_EVENT_NAME is not set"),
        ("GITHUB_EVENT_PATH", "GITHUB_EVENT_PATH is not set (the event payload file)"),
    ],
)
def test_missing_github_variable(world: World, runner: Repo, run_cli: RunCli, drop: str, message: str) -> None:
    github_env(world, runner, "push", {})
    world.monkeypatch.delenv(drop)
    assert run_bad(run_cli) == f"leakstop: error: {message}"


def test_unreadable_payloads(world: World, runner: Repo, run_cli: RunCli) -> None:
    github_env(world, runner, "push", {})
    path = world.tmp / "event.json"
    world.monkeypatch.setenv("GITHUB_EVENT_PATH", str(world.tmp / "missing.json"))
    assert run_bad(run_cli).endswith("missing.json: No such file or directory")
    world.monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
    path.write_text("{not json", encoding="utf-8")
    assert re.fullmatch(r"leakstop: error: GITHUB_EVENT_PATH: .*event\.json is not JSON: .*", run_bad(run_cli))
    path.write_text("[]", encoding="utf-8")
    assert run_bad(run_cli).endswith("event.json holds no JSON object")


@pytest.mark.parametrize(
    ("event", "doc", "message"),
    [
        ("pull_request", {"pull_request": {"head": {"sha": "a" * 40, "ref": "x"}}}, "pull_request.base.sha is missing"),
        ("pull_request", {"number": 3}, "pull_request is missing"),
        ("push", {"ref": "refs/heads/main", "before": ZERO, "after": "main"}, "after: not a commit id: 'main'"),
        ("push", {"ref": "refs/heads/main", "after": "b" * 40}, "before is missing"),
        ("merge_group", {"merge_group": {"head_sha": "c" * 40}}, "base_sha is missing"),
    ],
)
def test_malformed_payloads(
    world: World, runner: Repo, run_cli: RunCli, event: str, doc: dict[str, object], message: str
) -> None:
    github_env(world, runner, event, doc)
    error = run_bad(run_cli)
    assert error.startswith(f"leakstop: error: GITHUB_EVENT_PATH ({world.tmp / 'event.json'})")
    assert error.endswith(message)


@pytest.mark.parametrize(
    ("source", "variables", "message"),
    [
        ("", {}, "CI_PIPELINE_SOURCE is not set"),
        ("push", {}, "CI_COMMIT_BEFORE_SHA is not set (the previous tip of the pushed ref)"),
        ("merge_request_event", {}, "CI_MERGE_REQUEST_DIFF_BASE_SHA is not set (the merge request's diff base)"),
        ("push", {"CI_COMMIT_BEFORE_SHA": "HEAD~1"}, "CI_COMMIT_BEFORE_SHA: not a commit id: 'HEAD~1'"),
        ("external_pull_request_event", {}, "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_SHA is not set"),
    ],
)
def test_missing_gitlab_variables(
    world: World, runner: Repo, run_cli: RunCli, source: str, variables: dict[str, str], message: str
) -> None:
    world.enter(runner, world.gitlab(runner, source, **variables))
    if not source:
        world.monkeypatch.delenv("CI_PIPELINE_SOURCE")
    assert run_bad(run_cli) == f"leakstop: error: {message}"


def test_bad_repository_arguments(world: World, runner: Repo, run_cli: RunCli, tmp_path: Path) -> None:
    world.enter(runner, world.gitlab(runner, "schedule"))
    assert run_cli("ci", ".", "..")[0:2] == (2, "")
    plain = tmp_path / "plain"
    plain.mkdir()
    code, _, err = run_cli("ci", str(plain))
    assert code == 2
    assert err.startswith(f"leakstop: error: {plain}: not a git work tree: fatal: not a git repository")


def test_unwritable_step_output(world: World, runner: Repo, run_cli: RunCli) -> None:
    github_env(world, runner, "schedule", {})
    world.monkeypatch.setenv("GITHUB_OUTPUT", str(world.tmp / "no" / "such" / "dir"))
    code, _, err = run_cli("ci", "--no-summary")
    assert code == 2
    assert err.splitlines()[-1].startswith("leakstop: error: GITHUB_OUTPUT: cannot write ")


def test_annotations_of_allowed_multi_line_and_outside_findings(
    world: World, tokens: TokenFactory, run_cli: RunCli, make_config: MakeConfig
) -> None:
    """An allowed finding gets no annotation, a finding over several lines no column, and a finding outside the
    workspace no file; a summary file the runner has not made yet is made."""
    from helpers import builtin_rule

    multi_line = {
        "id": "test-multi-line",
        "name": "Multi-line test secret",
        "regex": "(BEGIN-TEST\\n[A-Za-z0-9]{32}\\nEND-TEST)",
        "keywords": ["begin-test"],
        "severity": "high",
        "confidence": "high",
    }
    config = make_config(rules=[builtin_rule("github-pat"), multi_line], allowlist={"paths": ["fixtures/"]})
    body = tokens.clean_chars("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 32)
    files = {"key.txt": f"x\nBEGIN-TEST\n{body}\nEND-TEST\n", "fixtures/sample.env": f"T={tokens.github_clean()}\n"}
    tip = world.commit("files", files)
    world.push("main")
    runner = world.checkout(tip)
    env = world.github(runner, "workflow_dispatch", world.payload("workflow_dispatch", {}))
    env["GITHUB_STEP_SUMMARY"] = str(world.tmp / "new-summary.md")
    world.enter(runner, env)

    code, out, _ = run_cli("ci", "-c", config, "--output", str(world.tmp / "report.txt"))

    [(level, props, _)] = annotations(out)
    assert (level, props) == (
        "error",
        {"file": "key.txt", "line": "2", "endLine": "4", "title": "Multi-line test secret (test-multi-line)"},
    )
    assert "1 allowed finding" in (world.tmp / "new-summary.md").read_text(encoding="utf-8")
    assert code == 1

    world.monkeypatch.setenv("GITHUB_WORKSPACE", str(world.tmp / "elsewhere"))
    _, out, _ = run_cli("ci", "-c", config, "--output", str(world.tmp / "report.txt"), "--no-summary")
    [(_, props, _)] = annotations(out)
    assert props == {"title": "Multi-line test secret (test-multi-line)"}


def test_a_commit_message_finding_is_annotated_without_a_file(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    before = world.commit("one", {"a.txt": "a\n"})
    after = world.commit(f"use token {tokens.github_clean()} for now", {"a.txt": "b\n"})
    world.push("main")
    runner = world.checkout(after)
    values = {"BRANCH": "main", "BEFORE": before, "AFTER": after}
    world.enter(runner, world.github(runner, "push", world.payload("push", values, commits=[after])))

    code, out, _ = run_cli("ci", "-c", config, "--no-summary", "--output", str(world.tmp / "report.txt"))

    [(level, props, message)] = annotations(out)
    assert (code, level, props) == (1, "error", {"title": "GitHub personal access token (classic) (github-pat)"})
    assert message.endswith(f"Introduced in commit {after[:12]}.")
