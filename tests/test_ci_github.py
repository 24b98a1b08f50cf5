"""``leakstop ci`` on GitHub Actions: what each event scans, on real repositories (a bare origin, the developer's
clone, the runner's checkout of it, full or shallow) with the event payloads of ``tests/data/ci/github``.

Every history has a secret on main from before the event (``old.env``): a range that reaches it scans too much.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ciworld import World, findings
from helpers import MakeConfig, RunCli
from tokens import TokenFactory

ZERO = "0" * 40


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, monkeypatch)


@pytest.fixture
def config(make_config: MakeConfig) -> Path:
    return make_config()


def main_history(world: World, tokens: TokenFactory) -> tuple[str, str]:
    """main: a secret in old.env, then a README; pushed."""
    first = world.commit("settings", {"old.env": f"TOKEN={tokens.github_clean()}\n"})
    second = world.commit("readme", {"README.md": "# demo\n"})
    world.push("main")
    return first, second


def ci(run_cli: RunCli, config: Path, *args: str) -> tuple[int, list[tuple[str, str, str]], str]:
    code, out, err = run_cli("ci", "--format", "json", "-c", config, "--no-summary", *args)
    return code, findings(out) if out.strip() else [], err


def decision(err: str) -> str:
    return next(line for line in err.splitlines() if line.startswith("leakstop ci: github "))


# --- push ---


def test_push_scans_before_to_after(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    _, before = main_history(world, tokens)
    after = world.commit("deploy settings", {"app.env": f"TOKEN={tokens.github_clean()}\n"})
    world.push("main")
    runner = world.checkout(after)
    values = {"BRANCH": "main", "BEFORE": before, "AFTER": after}
    world.enter(runner, world.github(runner, "push", world.payload("push", values, commits=[after])))

    code, found, err = ci(run_cli, config)

    assert code == 1
    assert decision(err) == f"leakstop ci: github push: scanning 1 commit {before[:7]}..{after[:7]}"
    assert found == [("app.env", after, found[0][2])]


def test_push_of_a_new_branch_scans_what_no_other_branch_has(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    main_history(world, tokens)
    world.dev.git("checkout", "-q", "-b", "feature")
    added = world.commit("settings", {"app.env": f"TOKEN={tokens.github_clean()}\n"})
    after = world.commit("more", {"notes.txt": "x\n"})
    world.push("feature")
    runner = world.checkout(after)  # fetch-depth: 0: origin/main and origin/feature (which holds `after`)
    runner.git("remote", "set-head", "origin", "feature")  # a symbolic ref naming the pushed branch: left out too
    values = {"BRANCH": "feature", "AFTER": after}
    world.enter(runner, world.github(runner, "push", world.payload("push-created", values, commits=[added, after])))

    code, found, err = ci(run_cli, config)

    assert (
        decision(err)
        == f"leakstop ci: github push: scanning 2 commits up to {after[:7]} that no other branch of origin has"
    )
    assert [(path, commit) for path, commit, _ in found] == [("app.env", added)]
    assert code == 1


def test_new_branch_with_nothing_new_scans_nothing(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    _, tip = main_history(world, tokens)
    world.push("main:refs/heads/copy")
    runner = world.checkout(tip)
    world.enter(runner, world.github(runner, "push", world.payload("push-created", {"BRANCH": "copy", "AFTER": tip})))

    code, found, err = ci(run_cli, config)

    assert (code, found) == (0, [])
    assert "scanning 0 commits" in decision(err)


def test_force_push_whose_before_is_gone_scans_what_other_branches_lack(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    main_history(world, tokens)
    world.dev.git("checkout", "-q", "-b", "feature")
    world.commit("first try", {"draft.txt": "one\n"})
    gone = world.commit("second try", {"draft.txt": "two\n"})
    world.push("feature")
    world.dev.git("reset", "-q", "--hard", "main")
    after = world.commit("rewritten", {"app.env": f"TOKEN={tokens.github_clean()}\n"})
    world.push("feature", force=True)
    runner = world.checkout(after)
    values = {"BRANCH": "feature", "BEFORE": gone, "AFTER": after}
    world.enter(runner, world.github(runner, "push", world.payload("push-forced", values, commits=[after])))

    code, found, err = ci(run_cli, config)

    assert code == 1
    assert "scanning 1 commit up to" in decision(err)
    assert f"leakstop ci: {gone[:12]}, the range's base, is not in the clone (the push was forced)" in err
    assert [(p, c) for p, c, _ in found] == [("app.env", after)]

    # Allowed to fetch, it asks origin for the old tip by id (origin still has it, as GitHub keeps such commits
    # for a while) and scans from there.
    code, found, err = ci(run_cli, config, "--fetch")
    assert f"leakstop ci: ran git fetch origin {gone[:12]}\n" in err
    assert decision(err) == f"leakstop ci: github push: scanning 1 commit {gone[:7]}..{after[:7]}"
    assert [(p, c) for p, c, _ in found] == [("app.env", after)]


def test_deleted_branch_scans_nothing(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    _, tip = main_history(world, tokens)
    runner = world.checkout(tip)
    values = {"BRANCH": "gone", "BEFORE": tip}
    world.enter(runner, world.github(runner, "push", world.payload("push-deleted", values)))

    code, found, err = ci(run_cli, config)

    assert (code, found) == (0, [])
    assert decision(err) == "leakstop ci: github push: nothing to scan: the push deleted refs/heads/gone"


def test_tag_push_scans_the_commits_no_branch_has(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    main_history(world, tokens)
    world.dev.git("checkout", "-q", "--detach")
    tagged = world.commit("release build", {"dist/app.env": f"TOKEN={tokens.github_clean()}\n"})
    world.dev.git("tag", "v1.0")
    world.push("v1.0")
    runner = world.checkout(tagged, ("+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"))
    world.enter(runner, world.github(runner, "push", world.payload("push-tag", {"TAG": "v1.0", "AFTER": tagged})))

    code, found, err = ci(run_cli, config)

    assert code == 1
    assert "scanning 1 commit up to" in decision(err)
    assert [(p, c) for p, c, _ in found] == [("dist/app.env", tagged)]


# --- pull requests ---


def pull_request(world: World, tokens: TokenFactory) -> dict[str, str]:
    """main (old secret), a feature branch with a secret in app.env, main moving on with a secret of its own
    (main.env), and the test merge commit GitHub makes, which for this test adds a third (merge.env): only the
    pull request's commits may be scanned."""
    main_history(world, tokens)
    world.dev.git("checkout", "-q", "-b", "feature")
    added = world.commit("settings", {"app.env": f"TOKEN={tokens.github_clean()}\n"})
    head = world.commit("docs", {"docs.md": "how\n"})
    world.dev.git("checkout", "-q", "main")
    base = world.commit("main moves on", {"main.env": f"TOKEN={tokens.github_clean()}\n"})
    world.dev.git("merge", "-q", "--no-ff", "--no-commit", "feature")
    merge = world.commit("Merge abc into def", {"merge.env": f"TOKEN={tokens.github_clean()}\n"})
    world.dev.git("reset", "-q", "--hard", base)  # the merge exists only on GitHub's side
    world.push("feature", f"{merge}:refs/pull/7/merge", "main")
    return {"BASE": base, "HEAD": head, "MERGE": merge, "ADDED": added, "BRANCH": "feature"}


def test_pull_request_scans_base_to_head_not_the_merge_commit(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    ids = pull_request(world, tokens)
    refspecs = ("+refs/heads/*:refs/remotes/origin/*", "+refs/pull/7/merge:refs/remotes/pull/7/merge")
    runner = world.checkout(ids["MERGE"], refspecs)  # what actions/checkout checks out: GITHUB_SHA, the merge
    world.enter(runner, world.github(runner, "pull_request", world.payload("pull_request", ids)))

    code, found, err = ci(run_cli, config)

    assert code == 1
    assert decision(err) == (
        f"leakstop ci: github pull_request: scanning 2 commits {ids['BASE'][:7]}..{ids['HEAD'][:7]}"
    )
    assert [(p, c) for p, c, _ in found] == [("app.env", ids["ADDED"])]


def test_merge_group_scans_base_to_head(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    ids = pull_request(world, tokens)
    runner = world.checkout(ids["HEAD"])
    world.enter(runner, world.github(runner, "merge_group", world.payload("merge_group", ids)))

    _code, found, err = ci(run_cli, config)

    assert decision(err).endswith(f"scanning 2 commits {ids['BASE'][:7]}..{ids['HEAD'][:7]}")
    assert [(p, c) for p, c, _ in found] == [("app.env", ids["ADDED"])]


# --- scheduled, manual and unknown events ---


def scheduled_history(world: World, tokens: TokenFactory) -> tuple[str, str]:
    """old.env still in the tree; a secret committed and deleted later, so only history holds it."""
    main_history(world, tokens)
    deleted_in = world.commit("oops", {"tmp.env": f"TOKEN={tokens.github_clean()}\n"})
    world.dev.git("rm", "-q", "tmp.env")
    tip = world.commit("remove tmp.env")
    world.push("main")
    return deleted_in, tip


@pytest.mark.parametrize("event", ["schedule", "workflow_dispatch"])
def test_scheduled_and_manual_runs_scan_the_tree_by_default(
    event: str, world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    _, tip = scheduled_history(world, tokens)
    runner = world.checkout(tip)
    world.enter(runner, world.github(runner, event, world.payload(event, {})))

    code, found, err = ci(run_cli, config)

    assert code == 1
    assert decision(err) == f"leakstop ci: github {event}: scanning the tree at {tip[:7]} (scope tree)"
    assert [(p, c) for p, c, _ in found] == [("old.env", "")]


def test_scheduled_run_scans_history_with_scope_history(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    deleted_in, tip = scheduled_history(world, tokens)
    runner = world.checkout(tip)
    world.enter(runner, world.github(runner, "schedule", world.payload("schedule", {})))

    _code, found, err = ci(run_cli, config, "--scope", "history")

    assert decision(err) == "leakstop ci: github schedule: scanning every commit of every ref (scope history)"
    assert sorted(p for p, _, _ in found) == ["old.env", "tmp.env"]
    assert ("tmp.env", deleted_in) in [(p, c) for p, c, _ in found]


def test_the_config_sets_the_scope(
    world: World, tokens: TokenFactory, run_cli: RunCli, make_config: MakeConfig
) -> None:
    main_history(world, tokens)
    make_config(path=world.dev.path / ".leakstop.yaml", ci={"scope": "history"})
    tip = world.commit("config")
    world.push("main")
    runner = world.checkout(tip)
    world.enter(runner, world.github(runner, "workflow_dispatch", world.payload("workflow_dispatch", {})))

    _, out, err = run_cli("ci", "--format", "json")  # .leakstop.yaml of the checkout

    assert "scanning every commit of every ref (scope history)" in err
    assert [p for p, _, _ in findings(out)] == ["old.env"]
    _code, out, err = run_cli("ci", "--format", "json", "--scope", "tree")  # the flag wins
    assert "(scope tree)" in err


def test_an_unknown_event_scans_the_tree_and_says_so(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    _, tip = main_history(world, tokens)
    runner = world.checkout(tip)
    world.enter(runner, world.github(runner, "issue_comment", world.payload("issue_comment", {})))

    code, found, err = ci(run_cli, config)

    assert (
        decision(err)
        == f"leakstop ci: github issue_comment: unknown event 'issue_comment': scanning the tree at {tip[:7]}"
    )
    assert [p for p, _, _ in found] == ["old.env"]
    assert code == 1


# --- shallow clones ---


def shallow_push(world: World, tokens: TokenFactory) -> dict[str, str]:
    """Three commits pushed at once onto feature (the first adds a secret), in a depth-1 checkout."""
    _, before = main_history(world, tokens)
    world.dev.git("checkout", "-q", "-b", "feature")
    world.push("feature")
    first = world.commit("settings", {"app.env": f"TOKEN={tokens.github_clean()}\n"})
    second = world.commit("docs", {"docs.md": "one\n"})
    third = world.commit("more docs", {"docs.md": "two\n"})
    world.push("feature")
    ids = {"BRANCH": "feature", "BEFORE": before, "AFTER": third, "FIRST": first, "SECOND": second}
    runner = world.checkout(third, ("+refs/heads/feature:refs/remotes/origin/feature",), depth=1)
    world.enter(runner, world.github(runner, "push", world.payload("push", ids, commits=[first, second, third])))
    return ids


def test_shallow_push_without_fetch_names_the_commits_not_scanned(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    ids = shallow_push(world, tokens)

    code, out, err = run_cli("ci", "--format", "json", "-c", config, "--no-summary")

    doc = json.loads(out)
    issue = next(i for i in doc["issues"] if i["reason"] == "shallow-range")
    assert issue["path"] == f"{ids['BEFORE'][:12]}..{ids['AFTER'][:12]}"
    assert (
        f"2 commits of the push are not in the clone and were not scanned: {ids['FIRST'][:12]}, {ids['SECOND'][:12]}"
        in issue["message"]
    )
    assert "fetch-depth: 0" in issue["message"]
    assert f"leakstop ci: not scanned: {issue['path']}:" in err
    # What the clone has is scanned: the boundary commit as a whole (it has no parent to compare with), so the
    # pushed secret is found there, and so is the one main had before.
    found = sorted((f["location"]["path"], f["location"]["commit"]) for f in doc["findings"])
    assert found == [("app.env", ids["AFTER"]), ("old.env", ids["AFTER"])]
    assert code == 1


def test_shallow_push_with_fetch_deepens_and_scans_the_whole_range(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    ids = shallow_push(world, tokens)

    _code, out, err = run_cli("ci", "--format", "json", "-c", config, "--no-summary", "--fetch")

    assert "leakstop ci: ran git fetch --deepen=56 origin" in err
    assert decision(err) == f"leakstop ci: github push: scanning 3 commits {ids['BEFORE'][:7]}..{ids['AFTER'][:7]}"
    doc = json.loads(out)
    assert not [i for i in doc["issues"] if i["reason"].startswith("shallow-")]
    assert [(f["location"]["path"], f["location"]["commit"]) for f in doc["findings"]] == [("app.env", ids["FIRST"])]


def test_pull_request_in_a_depth_1_checkout(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    """actions/checkout's default: only the merge commit. The head is not there: the tree is scanned and the
    range is named as not scanned; with --fetch the clone is deepened and the range scanned."""
    ids = pull_request(world, tokens)
    runner = world.checkout(ids["MERGE"], ("+refs/pull/7/merge:refs/remotes/pull/7/merge",), depth=1)
    world.enter(runner, world.github(runner, "pull_request", world.payload("pull_request", ids, commits=2)))

    _, out, err = run_cli("ci", "--format", "json", "-c", config, "--no-summary")

    doc = json.loads(out)
    assert decision(err).endswith(
        f"{ids['HEAD'][:7]} is not in the clone: scanning the tree at {ids['MERGE'][:7]} instead"
    )
    [issue] = [i for i in doc["issues"] if i["reason"] == "missing-commit"]
    assert issue["path"] == f"{ids['BASE'][:12]}..{ids['HEAD'][:12]}"
    assert "were not scanned (the checked-out tree was scanned instead)" in issue["message"]
    assert sorted(f["location"]["path"] for f in doc["findings"]) == ["app.env", "main.env", "merge.env", "old.env"]

    _code, out, err = run_cli("ci", "--format", "json", "-c", config, "--no-summary", "--fetch")

    assert "leakstop ci: ran git fetch --deepen=54 origin" in err
    assert decision(err).endswith(f"scanning 2 commits {ids['BASE'][:7]}..{ids['HEAD'][:7]}")
    assert [(p, c) for p, c, _ in findings(out)] == [("app.env", ids["ADDED"])]


def forked_far_back(world: World, tokens: TokenFactory, main_commits: int, depth: int) -> tuple[dict[str, str], Path]:
    """A pull request whose branch forked ``main_commits`` commits before main's tip, checked out at its test
    merge commit ``depth`` commits deep."""
    ids = pull_request(world, tokens)
    for n in range(main_commits):
        world.commit(f"main {n}", {"counter.txt": f"{n}\n"})
    base = world.dev.head()
    world.dev.git("merge", "-q", "--no-ff", "-m", "merge", "feature")
    merge = world.dev.head()
    world.push(f"{merge}:refs/pull/7/merge", "main", force=True)
    ids.update(BASE=base, MERGE=merge)
    runner = world.checkout(merge, ("+refs/pull/7/merge:refs/remotes/pull/7/merge",), depth=depth)
    world.enter(runner, world.github(runner, "pull_request", world.payload("pull_request", ids, commits=2)))
    return ids, runner.path


def test_pull_request_based_far_back_unshallows(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    """A branch forked 60 commits back: deepening by what the event counts does not reach the fork point, so the
    clone is unshallowed."""
    ids, _ = forked_far_back(world, tokens, main_commits=60, depth=1)

    _code, out, err = run_cli("ci", "--format", "json", "-c", config, "--no-summary", "--fetch")

    assert "leakstop ci: ran git fetch --deepen=54 origin" in err
    assert "leakstop ci: ran git fetch --unshallow origin" in err
    assert decision(err).endswith(f"scanning 2 commits {ids['BASE'][:7]}..{ids['HEAD'][:7]}")
    assert [(p, c) for p, c, _ in findings(out)] == [("app.env", ids["ADDED"])]


def test_history_scope_unshallows_with_fetch(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    deleted_in, tip = scheduled_history(world, tokens)
    runner = world.checkout(tip, ("+refs/heads/main:refs/remotes/origin/main",), depth=1)
    world.enter(runner, world.github(runner, "schedule", world.payload("schedule", {})))

    _, found, err = ci(run_cli, config, "--scope", "history", "--fetch")

    assert "leakstop ci: ran git fetch --unshallow origin" in err
    assert ("tmp.env", deleted_in) in [(p, c) for p, c, _ in found]


def test_pull_request_in_a_depth_2_checkout_counts_what_is_missing(
    world: World, tokens: TokenFactory, run_cli: RunCli, config: Path
) -> None:
    ids = pull_request(world, tokens)
    runner = world.checkout(ids["MERGE"], ("+refs/pull/7/merge:refs/remotes/pull/7/merge",), depth=2)
    world.enter(runner, world.github(runner, "pull_request", world.payload("pull_request", ids, commits=2)))

    _, out, err = run_cli("ci", "--format", "json", "-c", config, "--no-summary")

    assert decision(err).endswith(f"scanning 1 commit {ids['BASE'][:7]}..{ids['HEAD'][:7]}")
    [issue] = [i for i in json.loads(out)["issues"] if i["reason"] == "shallow-range"]
    assert (
        f"commits older than {ids['HEAD'][:12]} in the range were not scanned (1 of the 2 the event counts)"
        in (issue["message"])
    )


def test_a_base_side_cut_short_is_said(world: World, tokens: TokenFactory, run_cli: RunCli, config: Path) -> None:
    """The head's side of the clone reaches the root, the base's side stops before the fork point: the commits
    main had before the fork are taken for new ones (their content is still in the base's tree, so nothing is
    reported twice here), and the report says so."""
    forked_far_back(world, tokens, main_commits=10, depth=6)

    _, out, _ = run_cli("ci", "--format", "json", "-c", config, "--no-summary")

    doc = json.loads(out)
    [issue] = [i for i in doc["issues"] if i["reason"].startswith("shallow-")]
    assert issue["reason"] == "shallow-base"
    assert "commits the base already has may be scanned and reported as new" in issue["message"]
    assert [f["location"]["path"] for f in doc["findings"]] == ["app.env"]
