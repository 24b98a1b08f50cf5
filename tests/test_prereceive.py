"""Server push protection: ``hooks/pre-receive`` → ``leakstop hook pre-receive`` on real bare repositories, pushed
to with real ``git push`` (git's quarantine in play), tokens generated at run time."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gitrepo import Repo, isolate_git
from prereceive_server import LEAKSTOP, Server, make_server, push, remote_lines, seeded_clone
from tokens import TokenFactory

from scanner.respond.audit_log import verify

HOST_VARIABLES = ("GL_ID", "GL_USERNAME", "GL_PROTOCOL", "GL_PROJECT_PATH", "GITHUB_USER_LOGIN", "GITHUB_REPO_NAME")


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    for name in (*HOST_VARIABLES, "LEAKSTOP_HOOK_ARGS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server(tmp_path: Path) -> Server:
    return make_server(tmp_path / "server.git")


@pytest.fixture
def work(server: Server, tmp_path: Path) -> Repo:
    """A clone whose main branch (one clean commit) the server has."""
    return seeded_clone(server, tmp_path / "work")


def env_line(token: str) -> str:
    return f"GITHUB_TOKEN={token}\n"


def test_a_pushed_secret_is_rejected_with_what_where_and_how_to_fix(
    server: Server, work: Repo, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    before = server.rev("main")
    older = work.commit("add settings", {"deploy/ci.env": "USER=ci\n" + env_line(token)})
    last = work.commit("docs", {"README.md": "# app\nmore\n"})

    proc = push(work, "origin", "HEAD:main")

    said = remote_lines(proc)
    assert proc.returncode != 0
    assert "pre-receive hook declined" in proc.stderr
    assert said[0] == "leakstop: push rejected: 1 secret in the pushed commits"
    assert said[1] == f"  github-pat  deploy/ci.env:2  commit {older[:12]}  {token[:4]}…(40)"
    assert any(f"git rebase -i {older[:12]}^" in line for line in said)
    assert any("rotate it" in line for line in said)
    assert not any("leakstop.bypass" in line for line in said)  # the default policy allows no bypass
    assert token not in proc.stderr
    assert server.rev("main") == before  # nothing was updated
    assert not server.has(last)  # and the quarantine is gone
    (record,) = server.audit()
    assert (record["action"], record["commits"], record["refs"]) == ("reject", [older], ["refs/heads/main"])
    assert [f["rule"] for f in record["findings"]] == ["github-pat"]
    assert token not in server.audit_log.read_text()


def test_a_clean_push_is_accepted_and_says_what_it_checked(server: Server, work: Repo) -> None:
    work.commit("one", {"src/a.py": "print(1)\n"})
    head = work.commit("two", {"src/b.py": "print(2)\n"})
    proc = push(work, "origin", "HEAD:main")
    assert proc.returncode == 0, proc.stderr
    (line,) = remote_lines(proc)
    assert line.startswith("leakstop: push checked: 2 commits, 2 unique blobs, no secret to block (")
    assert server.rev("main") == head
    assert server.audit() == []


def test_the_last_commit_of_a_branch_is_fixed_by_amending(server: Server, work: Repo, tokens: TokenFactory) -> None:
    head = work.commit("settings", {"ci.env": env_line(tokens.github_clean())})
    said = remote_lines(push(work, "origin", "HEAD:main"))
    assert f"  {head[:12]} is the last commit of refs/heads/main: fix the file, git commit --amend" in said


def test_a_new_branch_is_checked_on_what_it_adds_only(
    server: Server, work: Repo, tokens: TokenFactory, tmp_path: Path
) -> None:
    # A secret the server had before the hook: not what a new branch adds, so not the pusher's to fix.
    old = tokens.github_clean()
    (server.path / "hooks" / "pre-receive").rename(tmp_path / "hook")
    work.commit("old secret", {"old.env": env_line(old)})
    assert push(work, "origin", "HEAD:main").returncode == 0
    (tmp_path / "hook").rename(server.path / "hooks" / "pre-receive")
    work.git("switch", "-q", "-c", "feature")
    work.commit("feature", {"feature.py": "print('f')\n"})

    clean = push(work, "origin", "feature")
    assert clean.returncode == 0, clean.stderr
    assert "1 commits, 1 unique blobs" in remote_lines(clean)[0]

    new = tokens.github_clean()
    work.commit("feature secret", {"feature.env": env_line(new)})
    work.git("switch", "-q", "-c", "feature-2")
    proc = push(work, "origin", "feature-2")
    said = "\n".join(remote_lines(proc))
    assert proc.returncode != 0
    assert "feature.env:1" in said and "old.env" not in said


def test_a_force_push_is_checked_on_the_rewritten_commits(server: Server, work: Repo, tokens: TokenFactory) -> None:
    work.commit("a", {"a.txt": "a\n"})
    assert push(work, "origin", "HEAD:main").returncode == 0
    work.git("reset", "-q", "--hard", "HEAD~1")
    work.commit("b, rewritten", {"b.env": env_line(tokens.github_clean())})

    rejected = push(work, "--force", "origin", "HEAD:main")
    assert rejected.returncode != 0
    assert any("b.env:1" in line for line in remote_lines(rejected))

    work.git("reset", "-q", "--hard", "HEAD~1")
    work.commit("b, clean", {"b.txt": "b\n"})
    accepted = push(work, "--force", "origin", "HEAD:main")
    assert accepted.returncode == 0, accepted.stderr
    assert server.rev("main") == work.head()


def test_tags_are_checked_annotated_tag_messages_too(server: Server, work: Repo, tokens: TokenFactory) -> None:
    work.commit("release", {"version.txt": "1.0\n"})
    message_token = tokens.github_clean()
    work.git("tag", "-a", "v1.0", "-m", f"release notes\n\ntoken {message_token}\n")
    rejected = push(work, "origin", "v1.0")
    assert rejected.returncode != 0
    assert any("<tag message>:3" in line for line in remote_lines(rejected))

    work.git("tag", "-d", "v1.0")
    work.git("tag", "-a", "v1.0", "-m", "release notes")
    assert push(work, "origin", "v1.0").returncode == 0

    secret_commit = work.commit("secret", {"s.env": env_line(tokens.github_clean())})
    work.git("tag", "light", secret_commit)
    light = push(work, "origin", "light")
    assert light.returncode != 0
    assert any("s.env:1" in line for line in remote_lines(light))


def test_deleting_a_ref_is_accepted_and_scans_nothing(server: Server, work: Repo, tokens: TokenFactory) -> None:
    work.git("switch", "-q", "-c", "old")
    work.commit("clean", {"x.txt": "x\n"})
    assert push(work, "origin", "old").returncode == 0
    proc = push(work, "origin", "--delete", "old")
    assert proc.returncode == 0, proc.stderr
    assert remote_lines(proc) == []
    assert server.rev("refs/heads/old") == ""


def test_a_ref_name_with_unusual_characters_is_shown_as_it_is(server: Server, work: Repo, tokens: TokenFactory) -> None:
    name = 'feat/ünïcödé-"quoted"'
    work.git("switch", "-q", "-c", name)
    head = work.commit("secret", {"s.env": env_line(tokens.github_clean())})
    said = remote_lines(push(work, "origin", name))
    assert f"  {head[:12]} is the last commit of refs/heads/{name}: fix the file, git commit --amend" in said
    assert server.audit()[0]["refs"] == [f"refs/heads/{name}"]


# --- bypass ---


def _allow_bypass(server: Server) -> None:
    server.configure(policy={"bypass": {"enabled": True, "channels": ["push-option"]}})


def test_a_bypass_with_a_reason_lets_the_push_through_and_is_recorded(
    server: Server, work: Repo, tokens: TokenFactory
) -> None:
    _allow_bypass(server)
    token = tokens.github_clean()
    commit = work.commit("fixture", {"tests/fixture.env": env_line(token)})
    rejected = push(work, "origin", "HEAD:main")
    assert any('git push -o leakstop.bypass="<why>"' in line for line in remote_lines(rejected))

    proc = push(work, "-o", "leakstop.bypass=test fixture, revoked", "origin", "HEAD:main", env={"USER": "carol"})

    assert proc.returncode == 0, proc.stderr
    assert server.rev("main") == commit
    reject, bypass = server.audit()
    assert reject["action"] == "reject"
    assert (bypass["action"], bypass["actor"], bypass["commits"]) == ("bypass", "carol", [commit])
    assert bypass["reason"] == "test fixture, revoked (through push-option)"
    assert bypass["findings"] == reject["findings"]
    assert token not in server.audit_log.read_text()
    assert verify(server.audit_log).ok


def test_a_bypass_without_a_reason_is_refused_and_says_so(server: Server, work: Repo, tokens: TokenFactory) -> None:
    _allow_bypass(server)
    work.commit("fixture", {"f.env": env_line(tokens.github_clean())})
    proc = push(work, "-o", "leakstop.bypass", "origin", "HEAD:main")
    said = remote_lines(proc)
    assert proc.returncode != 0
    assert "leakstop: bypass refused: no reason given" in said
    assert server.audit()[0]["reason"] == "1 blocking findings; bypass refused: no reason given"


def test_a_bypass_the_policy_does_not_allow_is_refused(server: Server, work: Repo, tokens: TokenFactory) -> None:
    work.commit("fixture", {"f.env": env_line(tokens.github_clean())})
    proc = push(work, "-o", "leakstop.bypass=please", "origin", "HEAD:main")
    assert proc.returncode != 0
    assert "leakstop: bypass refused: bypass is not enabled by the policy" in remote_lines(proc)


def test_the_bypass_hint_says_when_the_server_does_not_take_push_options(
    server: Server, work: Repo, tokens: TokenFactory
) -> None:
    _allow_bypass(server)
    server.repo.git("config", "receive.advertisePushOptions", "false")
    work.commit("fixture", {"f.env": env_line(tokens.github_clean())})
    said = remote_lines(push(work, "origin", "HEAD:main"))
    assert any("must first set receive.advertisePushOptions=true" in line for line in said)


# --- GitLab ---


def test_under_gitlab_every_rejection_line_is_prefixed_and_the_quarantine_comes_from_git_object_directory(
    server: Server, work: Repo, tokens: TokenFactory
) -> None:
    # GitLab does not list GIT_QUARANTINE_PATH among the variables it passes: the hook reads GIT_OBJECT_DIRECTORY.
    hook = server.path / "hooks" / "pre-receive"
    hook.rename(server.path / "hooks" / "leakstop-pre-receive")
    hook.write_text('#!/bin/sh\nunset GIT_QUARANTINE_PATH\nexec "$(dirname "$0")/leakstop-pre-receive"\n')
    hook.chmod(0o755)
    env = {"GL_ID": "user-7", "GL_USERNAME": "dana", "GL_PROTOCOL": "ssh", "GL_PROJECT_PATH": "group/app"}
    work.commit("secret", {"s.env": env_line(tokens.github_clean())})

    proc = push(work, "origin", "HEAD:main", env=env)

    said = remote_lines(proc)
    assert proc.returncode != 0
    assert len(said) >= 5
    assert all(line.startswith("GL-HOOK-ERR: ") for line in said)
    assert "s.env:1" in said[1]
    (record,) = server.audit()
    assert (record["actor"], record["repository"]) == ("dana", "group/app")

    work.git("reset", "-q", "--hard", "HEAD~1")
    work.commit("clean", {"c.txt": "c\n"})
    accepted = push(work, "origin", "HEAD:main", env=env)
    assert accepted.returncode == 0, accepted.stderr
    assert not any(line.startswith("GL-HOOK-ERR") for line in remote_lines(accepted))


# --- concurrency ---


def test_eight_concurrent_pushes_are_each_decided_and_audited_in_one_chain(
    server: Server, work: Repo, tokens: TokenFactory, tmp_path: Path
) -> None:
    clones = []
    for n in range(8):
        clone = server.repo.clone(tmp_path / f"clone-{n}")
        clone.git("switch", "-q", "-c", f"topic-{n}", "origin/main")
        files = {f"topic{n}.py": f"print({n})\n"}
        if n % 2:
            files[f"topic{n}.env"] = env_line(tokens.github_clean())
        clone.commit(f"topic {n}", files)
        clones.append(clone)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda c: push(c, "origin", "HEAD"), clones))

    for n, proc in enumerate(results):
        assert (proc.returncode != 0) == bool(n % 2), proc.stderr
        assert server.rev(f"refs/heads/topic-{n}") == ("" if n % 2 else clones[n].head())
    records = server.audit()
    assert sorted(r["refs"][0] for r in records) == [f"refs/heads/topic-{n}" for n in (1, 3, 5, 7)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert verify(server.audit_log).ok


# --- the time budget ---


def fast_import_commits(repo: Repo, count: int, branch: str = "bulk") -> str:
    """``count`` commits on ``branch`` in one ``git fast-import``, each a new version of one of 100 files (a tree
    that grows with every commit would make the import quadratic); returns the tip."""
    stream = []
    for n in range(count):
        data = f"value = {n}\n"
        stream.append(
            f"commit refs/heads/{branch}\ncommitter T <t@example.com> {1_700_000_000 + n} +0000\n"
            f"data {len(f'c{n}')}\nc{n}\n"
            + (f"from refs/heads/{branch}^0\n" if n == 0 else "")
            + f"M 644 inline bulk/f{n % 100:02}.py\ndata {len(data)}\n{data}\n"
        )
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo.path, input="".join(stream), text=True, check=True)
    return repo.rev(branch)


def test_a_push_of_ten_thousand_commits_is_decided_within_its_budget(
    server: Server, work: Repo, tokens: TokenFactory
) -> None:
    work.git("branch", "bulk")
    fast_import_commits(work, 10_000)
    work.git("switch", "-q", "bulk")
    work.commit("the last one", {"late.env": env_line(tokens.github_clean())})
    assert work.git("rev-list", "--count", "main..bulk") == "10001"

    # A budget too small to read them all: decided when it runs out, and rejected (fail-closed).
    tight = push(work, "origin", "bulk", env={"LEAKSTOP_HOOK_ARGS": "--budget 200ms --workers 2"})
    said = remote_lines(tight)
    assert tight.returncode != 0
    assert said[0].startswith("leakstop: push rejected: the time budget (0.2 s) ran out before the push was checked")
    assert "the rest not read" in said[0] or "blobs found but not scanned" in said[0]
    assert any("push fewer commits at a time" in line for line in said)

    # The default budget (4 s) is enough to read all of it: the secret in the last commit is found.
    whole = push(work, "origin", "bulk")
    assert whole.returncode != 0
    assert any("late.env:1" in line for line in remote_lines(whole)), whole.stderr
    assert server.rev("refs/heads/bulk") == ""


@pytest.mark.parametrize("mode", ["fail-open", "fail-closed"])
def test_a_budget_overrun_follows_the_policy(server: Server, work: Repo, mode: str) -> None:
    server.configure(push_protection={"budget": "1ms", "when_undecided": mode})
    head = work.commit("change", {"a.py": "print('a')\n"})

    proc = push(work, "origin", "HEAD:main")

    said = remote_lines(proc)
    (record,) = server.audit()
    assert record["commits"] == [head]
    if mode == "fail-open":
        assert proc.returncode == 0, proc.stderr
        assert said[0].startswith("leakstop: warning: push accepted unchecked: the time budget (0.001 s) ran out")
        assert record["action"] == "fail-open"
        assert server.rev("main") == head
    else:
        assert proc.returncode != 0
        assert said[0].startswith("leakstop: push rejected: the time budget (0.001 s) ran out")
        assert record["action"] == "reject"
        assert "time budget" in record["reason"]


def test_the_budget_flag_and_fail_mode_flag_override_the_config(server: Server, work: Repo) -> None:
    server.configure(push_protection={"budget": 30, "when_undecided": "fail-closed"})
    work.commit("change", {"a.py": "print('a')\n"})
    proc = push(work, "origin", "HEAD:main", env={"LEAKSTOP_HOOK_ARGS": "--budget 1ms --fail-open"})
    assert proc.returncode == 0
    assert server.audit()[0]["action"] == "fail-open"


def test_fail_open_without_a_writable_audit_log_rejects(server: Server, work: Repo, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    args = f"--budget 1ms --fail-open --audit-log {blocker}/audit.jsonl"
    work.commit("change", {"a.py": "print('a')\n"})
    proc = push(work, "origin", "HEAD:main", env={"LEAKSTOP_HOOK_ARGS": args})
    said = remote_lines(proc)
    assert proc.returncode != 0
    assert "fail-open needs an audit record and it cannot be written" in said[0]


# --- the cache ---


def _known_clean(proc: subprocess.CompletedProcess[str]) -> int:
    line = remote_lines(proc)[0]
    assert line.startswith("leakstop: push checked: "), proc.stderr
    return int(line.split(" blobs known clean")[0].rsplit(", ", 1)[1]) if "known clean" in line else 0


def test_the_cache_makes_a_repush_of_the_same_content_cheaper(server: Server, work: Repo) -> None:
    files = {f"pkg/m{n}.py": f"VALUE_{n} = {n}\n" for n in range(12)}
    work.git("switch", "-q", "-c", "topic")
    work.commit("topic", files)
    first = push(work, "origin", "topic")
    assert _known_clean(first) == 0
    assert "1 commits, 12 unique blobs" in remote_lines(first)[0]

    # The same content again under new commits (a rebase onto a newer main): nothing new to scan.
    work.git("switch", "-q", "main")
    work.commit("main moves", {"README.md": "# app\nv2\n"})
    assert push(work, "origin", "main").returncode == 0  # its run promotes the topic's blobs
    work.git("switch", "-q", "topic")
    work.git("rebase", "-q", "main")
    again = push(work, "--force", "origin", "topic")
    assert again.returncode == 0, again.stderr
    assert _known_clean(again) == 12


def test_blobs_of_a_rejected_push_are_not_cached(server: Server, work: Repo, tokens: TokenFactory) -> None:
    files = {f"pkg/m{n}.py": f"VALUE_{n} = {n}\n" for n in range(5)}
    work.commit("with a secret", {**files, "s.env": env_line(tokens.github_clean())})
    assert push(work, "origin", "HEAD:main").returncode != 0
    work.git("rm", "-q", "s.env")
    work.git("commit", "-q", "--amend", "-m", "without it")
    clean = push(work, "origin", "HEAD:main")
    assert clean.returncode == 0, clean.stderr
    assert _known_clean(clean) == 0


def test_no_cache_scans_everything(server: Server, work: Repo) -> None:
    server.configure(push_protection={"cache": False})
    (server.path / "leakstop" / "clean-blobs.sqlite").unlink()  # made by the fixture's first push
    work.commit("one", {"a.py": "a = 1\n"})
    assert push(work, "origin", "HEAD:main").returncode == 0
    assert not (server.path / "leakstop" / "clean-blobs.sqlite").exists()


# --- what the hook cannot read ---


def test_a_huge_binary_blob_is_skipped_per_the_size_policy_and_named(server: Server, work: Repo) -> None:
    server.configure(max_file_size=1024)
    work.commit("assets", {"assets/big.txt": "x" * 4096 + "\n", "assets/logo.bin": b"\0\1\2" * 100})
    proc = push(work, "origin", "HEAD:main")
    said = remote_lines(proc)
    assert proc.returncode == 0, proc.stderr
    assert any(line.startswith("leakstop: not scanned, per the size policy: 1 blobs over the size cap: assets/big.txt")
               for line in said)  # fmt: skip
    assert any("1 blobs binary (not text in the first 8000 bytes)" in line for line in said)


def test_a_sha256_repository_is_refused_clearly(tmp_path: Path) -> None:
    server = make_server(tmp_path / "s256.git", "--object-format=sha256")
    work = Repo.init(tmp_path / "w256", "--object-format=sha256")
    work.commit("one", {"a.txt": "a\n"})
    proc = push(work, str(server.path), "HEAD:refs/heads/main")
    said = remote_lines(proc)
    assert proc.returncode != 0
    assert said[0].startswith("leakstop: push rejected: cannot read the push: ")
    assert "sha256" in said[0]


def test_scan_pre_push_and_range_work_in_a_pre_receive_hook(server: Server, work: Repo, tokens: TokenFactory) -> None:
    """The two ways users tried before this hook existed (issue #11): both read the quarantine now."""
    hook = server.path / "hooks" / "pre-receive"
    for body in (
        f'exec "{LEAKSTOP}" scan --pre-push --no-progress --config leakstop.yaml .',
        f'read old new ref; exec "{LEAKSTOP}" scan --range "$old..$new" --no-progress --config leakstop.yaml .',
    ):
        hook.write_text(f"#!/bin/sh\n{body}\n")
        work.commit("secret", {"s.env": env_line(tokens.github_clean())})
        proc = push(work, "origin", "HEAD:main")
        assert proc.returncode != 0
        assert any("s.env:1" in line for line in remote_lines(proc)), proc.stderr
        work.git("reset", "-q", "--hard", "HEAD~1")


def test_a_rejection_lists_a_handful_then_counts_the_rest(server: Server, work: Repo, tokens: TokenFactory) -> None:
    for n in range(7):
        work.commit(f"secret {n}", {f"s{n}.env": env_line(tokens.github_clean())})
    said = remote_lines(push(work, "origin", "HEAD:main"))
    assert said[0] == "leakstop: push rejected: 7 secrets in the pushed commits"
    assert [line.split()[1] for line in said[1:6]] == [f"s{n}.env:1" for n in range(5)]
    assert said[6] == "  and 2 more"
    assert "  and 2 more commits" in said
