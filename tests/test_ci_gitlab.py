"""``leakstop ci`` on GitLab CI: what each pipeline source scans, from the job's predefined variables, on real
repositories checked out as the GitLab runner does (only the ref built, and the tags)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ciworld import World, findings
from helpers import MakeConfig, RunCli
from test_ci_github import main_history, pull_request, scheduled_history
from tokens import TokenFactory

ZERO = "0" * 40


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, monkeypatch)


@pytest.fixture
def config(make_config: MakeConfig) -> Path:
    return make_config()


def branch_refspecs(branch: str) -> tuple[str, str]:
    """What the GitLab runner fetches for a branch pipeline."""
    return (f"+refs/heads/{branch}:refs/remotes/origin/{branch}", "+refs/tags/*:refs/tags/*")


def ci(run_cli: RunCli, config: Path, *args: str) -> tuple[int, list[tuple[str, str]], str]:
    code, out, err = run_cli("ci", "--format", "json", "-c", config, *args)
    return code, [(path, commit) for path, commit, _ in findings(out)], err


def decision(err: str) -> str:
    return next(line for line in err.splitlines() if line.startswith("leakstop ci: gitlab "))


def test_push_scans_before_to_sha(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    _, before = main_history(world, tokens)
    sha = world.commit("settings", {"app.env": f"TOKEN={tokens.github_clean()}\n"})
    world.push("main")
    runner = world.checkout(sha, branch_refspecs("main"))
    world.enter(runner, world.gitlab(runner, "push", CI_COMMIT_BEFORE_SHA=before, CI_COMMIT_BRANCH="main"))

    code, found, err = ci(run_cli, config)

    assert decision(err) == f"leakstop ci: gitlab push: scanning 1 commit {before[:7]}..{sha[:7]}"
    assert (code, found) == (1, [("app.env", sha)])


def test_first_push_of_a_branch(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    """``CI_COMMIT_BEFORE_SHA`` is zeros and the runner fetched only this branch: nothing to compare with, so its
    whole history is scanned and the line says so; with --fetch the default branch is fetched to compare with."""
    main_history(world, tokens)
    world.dev.git("checkout", "-q", "-b", "feature")
    added = world.commit("settings", {"app.env": f"TOKEN={tokens.github_clean()}\n"})
    world.push("feature")
    runner = world.checkout(added, branch_refspecs("feature"))
    world.enter(runner, world.gitlab(runner, "push", CI_COMMIT_BEFORE_SHA=ZERO, CI_COMMIT_BRANCH="feature"))

    _, found, err = ci(run_cli, config)

    assert decision(err) == (
        f"leakstop ci: gitlab push: scanning 3 commits up to {added[:7]}: all its history"
        " (no other branch in the clone)"
    )
    assert sorted(path for path, _ in found) == ["app.env", "old.env"]

    code, found, err = ci(run_cli, config, "--fetch")

    assert "leakstop ci: ran git fetch origin +refs/heads/main:refs/remotes/origin/main" in err
    assert (
        decision(err)
        == f"leakstop ci: gitlab push: scanning 1 commit up to {added[:7]} that no other branch of origin has"
    )
    assert (code, found) == (1, [("app.env", added)])


def test_merge_request_scans_diff_base_to_head(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    ids = pull_request(world, tokens)
    fork_point = world.dev.git("merge-base", ids["BASE"], ids["HEAD"])
    world.push(f"{ids['HEAD']}:refs/merge-requests/7/head")
    runner = world.checkout(ids["HEAD"], ("+refs/merge-requests/7/head:refs/remotes/origin/feature",))
    variables = {
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": fork_point,
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature",
        "CI_MERGE_REQUEST_EVENT_TYPE": "detached",
        "CI_COMMIT_BEFORE_SHA": ZERO,
    }
    world.enter(runner, world.gitlab(runner, "merge_request_event", **variables))

    code, found, err = ci(run_cli, config)

    assert decision(err) == (
        f"leakstop ci: gitlab merge_request_event: scanning 2 commits {fork_point[:7]}..{ids['HEAD'][:7]}"
    )
    assert (code, found) == (1, [("app.env", ids["ADDED"])])


def test_merged_results_pipeline_scans_the_source_branch_not_the_merge(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    """In a merged-results pipeline CI_COMMIT_SHA is the temporary merge commit (here with a secret of its own);
    the range ends at CI_MERGE_REQUEST_SOURCE_BRANCH_SHA."""
    ids = pull_request(world, tokens)
    fork_point = world.dev.git("merge-base", ids["BASE"], ids["HEAD"])
    runner = world.checkout(ids["MERGE"], ("+refs/pull/7/merge:refs/remotes/origin/merge", *branch_refspecs("main")))
    variables = {
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": fork_point,
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": ids["HEAD"],
        "CI_MERGE_REQUEST_TARGET_BRANCH_SHA": ids["BASE"],
        "CI_MERGE_REQUEST_EVENT_TYPE": "merged_result",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature",
    }
    world.enter(runner, world.gitlab(runner, "merge_request_event", **variables))

    code, found, err = ci(run_cli, config)

    assert decision(err).endswith(f"scanning 2 commits {fork_point[:7]}..{ids['HEAD'][:7]}")
    assert (code, found) == (1, [("app.env", ids["ADDED"])])


def test_tag_pipeline(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    _, tip = main_history(world, tokens)
    world.dev.git("tag", "v2.0")
    world.push("v2.0")
    runner = world.checkout(tip, branch_refspecs("main"))
    variables = {"CI_COMMIT_BEFORE_SHA": ZERO, "CI_COMMIT_TAG": "v2.0", "CI_COMMIT_REF_NAME": "v2.0"}
    world.enter(runner, world.gitlab(runner, "push", **variables))

    code, found, err = ci(run_cli, config)

    assert (
        decision(err)
        == f"leakstop ci: gitlab push: scanning 0 commits up to {tip[:7]} that no other branch of origin has"
    )
    assert (code, found) == (0, [])


@pytest.mark.parametrize(("source", "words"), [("schedule", "(scope tree)"), ("web", "(scope tree)")])
def test_scheduled_and_manual_pipelines_scan_the_configured_scope(
    source: str, words: str, world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    deleted_in, tip = scheduled_history(world, tokens)
    runner = world.checkout(tip, branch_refspecs("main"))
    world.enter(runner, world.gitlab(runner, source, CI_COMMIT_BEFORE_SHA=ZERO))

    code, found, err = ci(run_cli, config)
    assert decision(err) == f"leakstop ci: gitlab {source}: scanning the tree at {tip[:7]} {words}"
    assert (code, found) == (1, [("old.env", "")])

    _, found, err = ci(run_cli, config, "--scope", "history")
    assert sorted(found) == sorted([("old.env", found[0][1]), ("tmp.env", deleted_in)])


def test_an_unknown_pipeline_source_scans_the_tree(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    _, tip = main_history(world, tokens)
    runner = world.checkout(tip, branch_refspecs("main"))
    world.enter(runner, world.gitlab(runner, "parent_pipeline"))

    code, found, err = ci(run_cli, config)

    assert (
        decision(err)
        == f"leakstop ci: gitlab parent_pipeline: unknown event 'parent_pipeline': scanning the tree at {tip[:7]}"
    )
    assert (code, found) == (1, [("old.env", "")])


def test_shallow_clone_names_the_boundary_and_fetch_deepens_it(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    """The runner's default depth cut inside the pushed range (depth 2 of 4 commits)."""
    _, before = main_history(world, tokens)
    added = world.commit("settings", {"app.env": f"TOKEN={tokens.github_clean()}\n"})
    for n in range(3):
        world.commit(f"docs {n}", {"docs.md": f"{n}\n"})
    sha = world.dev.head()
    world.push("main")
    runner = world.checkout(sha, branch_refspecs("main"), depth=2)
    world.enter(runner, world.gitlab(runner, "push", CI_COMMIT_BEFORE_SHA=before, CI_COMMIT_BRANCH="main"))

    code, out, err = run_cli("ci", "--format", "json", "-c", config)

    doc = json.loads(out)
    [issue] = [i for i in doc["issues"] if i["reason"] == "shallow-range"]
    boundary = runner.git("rev-parse", f"{sha}~1")
    assert issue["message"].startswith(
        f"the clone is shallow (it ends at {boundary[:12]}): commits older than {boundary[:12]} in the range were"
        " not scanned;"
    )
    assert f"{before[:12]}, the range's base, is not in the clone" in err
    assert code == 1  # the boundary commit is scanned whole: app.env is in its tree

    code, out, err = run_cli("ci", "--format", "json", "-c", config, "--fetch")

    assert decision(err) == f"leakstop ci: gitlab push: scanning 4 commits {before[:7]}..{sha[:7]}"
    assert [(p, c) for p, c, _ in findings(out)] == [("app.env", added)]


def test_first_push_of_the_default_branch_has_nothing_to_compare_with(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    first, tip = main_history(world, tokens)
    runner = world.checkout(tip, branch_refspecs("main"))
    world.enter(runner, world.gitlab(runner, "push", CI_COMMIT_BEFORE_SHA=ZERO, CI_COMMIT_BRANCH="main"))

    code, found, err = ci(run_cli, config, "--fetch")

    assert "ran git fetch" not in err
    assert decision(err).endswith(
        "scanning 2 commits up to " + tip[:7] + ": all its history (no other branch in the clone)"
    )
    assert (code, found) == (1, [("old.env", first)])


def test_git_problems_are_input_errors(world: World, tokens: TokenFactory, run_cli: RunCli, tmp_path: Path) -> None:
    from scanner.errors import InputError
    from scanner.integrations.ci.gitrepo import GitRepo

    empty = tmp_path / "empty"
    world.dev.git("init", "-q", str(empty))
    world.enter(world.dev, {"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "schedule"})
    world.monkeypatch.chdir(empty)
    code, _, err = run_cli("ci")
    assert (code, err) == (2, f"leakstop: error: {empty}: HEAD names no commit (an empty repository?)\n")

    with pytest.raises(InputError, match=r"^git rev-parse --verify nosuch failed in .*: fatal: "):
        GitRepo(str(empty)).git("rev-parse", "--verify", "nosuch")

    world.monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    code, _, err = run_cli("ci")
    assert code == 2
    assert err.startswith("leakstop: error: git rev-parse --show-toplevel: cannot run: ")
