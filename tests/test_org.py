"""Org scans' parts without Dask: listing through loopback fakes of the GitHub and GitLab REST APIs (paging by
Link headers, rate limits, forks and archived left out, refusals naming the token variable), the repository list
file, and the store's refusals and idempotent writes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from httpserver import Reply, Request, ServerFactory
from tokens import TokenFactory

from scanner.errors import InputError
from scanner.org.listing import (
    MAX_PAGES,
    Filters,
    Platform,
    Repo,
    github_platform,
    github_repos,
    gitlab_platform,
    gitlab_repos,
    repo_name,
    repos_file,
    unique,
)
from scanner.org.merge import OrgRun, merged_result
from scanner.org.store import SCHEMA_VERSION, Store, StoreError
from scanner.transport import HttpClient

if TYPE_CHECKING:
    from gitrepo import Repo as GitRepo


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """A repository of one commit and an annotated tag (``ls-remote`` also lists it peeled), git isolated."""
    from gitrepo import Repo as GitRepo
    from gitrepo import isolate_git

    isolate_git(monkeypatch, tmp_path / "home")
    work = GitRepo.init(tmp_path / "work")
    work.commit("one", {"a.txt": "a\n"})
    work.git("tag", "-a", "v1", "-m", "v1")
    return work


def gh_repo(name: str, **extra: Any) -> dict[str, Any]:
    return {"full_name": f"acme/{name}", "clone_url": f"git://127.0.0.1:1/{name}.git", **extra}


def page(items: list[dict[str, Any]], next_url: str = "") -> Reply:
    headers = {"Content-Type": "application/json"}
    if next_url:
        headers["Link"] = f'<{next_url}>; rel="next", <{next_url}>; rel="last"'
    return Reply(200, json.dumps(items).encode(), headers)


def test_github_org_pages_filters_and_sends_the_token(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    token = tokens.github()
    second = api.url("/orgs/acme/repos") + "?per_page=100&type=all&page=2"

    def first_or_second(request: Request) -> Reply:
        if "page=2" in request.query:
            return page([gh_repo("c"), gh_repo("old", archived=True)])
        return page([gh_repo("a"), gh_repo("forked", fork=True), gh_repo("b")], second)

    api.route("GET", "/orgs/acme/repos", first_or_second)
    platform = github_platform({"GITHUB_API_URL": api.url("/"), "GITHUB_TOKEN": token})
    with HttpClient() as client:
        repos = github_repos(client, platform, "acme", False, Filters(), _no_sleep)
        everything = github_repos(client, platform, "acme", False, Filters(True, True), _no_sleep)
    assert [r.name for r in repos] == ["acme/a", "acme/b", "acme/c"]
    assert len(everything) == 5
    assert all(r.headers["authorization"] == f"Bearer {token}" for r in api.requests)


def test_github_user_listing_uses_the_users_endpoint(http_server: ServerFactory) -> None:
    api = http_server()
    api.route("GET", "/users/alice/repos", page([gh_repo("dots")]))
    with HttpClient() as client:
        repos = github_repos(
            client, github_platform({"GITHUB_API_URL": api.url("")}), "alice", True, Filters(), _no_sleep
        )
    assert repos == [Repo("acme/dots", "git://127.0.0.1:1/dots.git", "GITHUB_TOKEN")]
    assert "authorization" not in api.requests[0].headers


def test_a_rate_limit_waits_for_its_reset_then_goes_on(http_server: ServerFactory) -> None:
    api = http_server()
    limited = Reply(403, b'{"message": "API rate limit exceeded"}', {"X-RateLimit-Remaining": "0", "Retry-After": "7"})
    api.route("GET", "/orgs/acme/repos", limited, page([gh_repo("a")]))
    waits: list[float] = []
    with HttpClient() as client:
        repos = github_repos(
            client, github_platform({"GITHUB_API_URL": api.url("")}), "acme", False, Filters(), waits.append
        )
    assert waits == [7.0] and [r.name for r in repos] == ["acme/a"]


def test_a_rate_limit_longer_than_the_bound_is_one_line(http_server: ServerFactory) -> None:
    api = http_server()
    api.route("GET", "/orgs/acme/repos", Reply(429, b"", {"Retry-After": "3600"}))
    with HttpClient() as client, pytest.raises(InputError, match=r"rate limited \(HTTP 429\) for longer than"):
        github_repos(client, github_platform({"GITHUB_API_URL": api.url("")}), "acme", False, Filters(), _no_sleep)


@pytest.mark.parametrize(
    ("reply", "token", "message"),
    [
        (
            Reply(403, b'{"message": "forbidden"}'),
            "x" * 20,
            r"access denied \(HTTP 403\): GITHUB_TOKEN was not accepted or lacks access \(the API said: .forbidden.\)$",
        ),
        (
            Reply(401, b'{"message": "Bad\\ncredentials", "documentation_url": "https://docs.example"}'),
            "x" * 20,
            r"GITHUB_TOKEN was not accepted or lacks access \(the API said: .Bad credentials.\)$",
        ),
        (Reply(403, b"<html>no</html>"), "x" * 20, r"GITHUB_TOKEN was not accepted or lacks access$"),
        (
            Reply(404, b'{"message": "404 Group Not Found"}'),
            "",
            r"cannot see it \(the API said: .404 Group Not Found.\)$",
        ),
        (Reply(401, b"{}"), "", r"access denied \(HTTP 401\): GITHUB_TOKEN is not set"),
        (Reply(404, b"{}"), "", r"not found \(HTTP 404\)"),
        (Reply(500, b"{}"), "", r"unexpected HTTP 500"),
        (Reply(200, b"<html>"), "", r"the API's answer is not JSON"),
        (Reply(200, b'{"a": 1}'), "", r"the API's answer is not a list"),
        (Reply(200, b"[1, 2]"), "", r"not a list of repositories"),
    ],
)
def test_refusals_and_garbage_are_one_line(http_server: ServerFactory, reply: Reply, token: str, message: str) -> None:
    api = http_server()
    api.route("GET", "/orgs/acme/repos", reply)
    platform = Platform(api.url("").rstrip("/"), token, "GITHUB_TOKEN")
    with HttpClient() as client, pytest.raises(InputError, match=message):
        github_repos(client, platform, "acme", False, Filters(), _no_sleep)


def test_an_api_that_pages_forever_is_stopped(http_server: ServerFactory) -> None:
    api = http_server()
    api.route("GET", "/orgs/acme/repos", lambda r: page([gh_repo("a")], api.url("/orgs/acme/repos") + "?again=1"))
    with HttpClient() as client, pytest.raises(InputError, match="repeats a page"):
        github_repos(client, github_platform({"GITHUB_API_URL": api.url("")}), "acme", False, Filters(), _no_sleep)


def test_an_api_that_pages_forever_with_new_urls_is_stopped(http_server: ServerFactory) -> None:
    api = http_server()
    served: list[int] = []

    def endless(request: Request) -> Reply:
        served.append(1)
        return page([gh_repo(f"r{len(served)}")], api.url(f"/orgs/acme/repos?page={len(served) + 1}"))

    api.route("GET", "/orgs/acme/repos", endless)
    with HttpClient() as client, pytest.raises(InputError, match=f"has more than {MAX_PAGES} pages: stopped"):
        github_repos(client, github_platform({"GITHUB_API_URL": api.url("")}), "acme", False, Filters(), _no_sleep)
    assert len(served) == MAX_PAGES


def test_an_unreachable_api_is_one_line() -> None:
    from org_world import free_port

    platform = Platform(f"http://127.0.0.1:{free_port()}", "", "GITHUB_TOKEN")
    with HttpClient() as client, pytest.raises(InputError, match="cannot list through"):
        github_repos(client, platform, "acme", False, Filters(), _no_sleep)


def test_gitlab_group_includes_subgroups_and_leaves_out_forks(http_server: ServerFactory, tokens: TokenFactory) -> None:
    api = http_server()
    token = tokens.gitlab_pat()
    projects = [
        {"path_with_namespace": "grp/app", "http_url_to_repo": "http://127.0.0.1:1/grp/app.git"},
        {"path_with_namespace": "grp/sub/lib", "http_url_to_repo": "http://127.0.0.1:1/grp/sub/lib.git"},
        {"path_with_namespace": "grp/fork", "http_url_to_repo": "x", "forked_from_project": {"id": 1}},
        {"path_with_namespace": "grp/old", "http_url_to_repo": "y", "archived": True},
    ]
    api.route("GET", "/api/v4/groups/grp%2Fsub0/projects", page(projects))
    platform = gitlab_platform({"CI_API_V4_URL": api.url("/api/v4"), "GITLAB_TOKEN": token})
    with HttpClient() as client:
        repos = gitlab_repos(client, platform, "grp/sub0", Filters(), _no_sleep)
        with pytest.raises(InputError, match="not a list of projects"):
            api.route("GET", "/api/v4/groups/bad/projects", page([{"name": "x"}]))
            gitlab_repos(client, platform, "bad", Filters(True, True), _no_sleep)
    assert [r.name for r in repos] == ["grp/app", "grp/sub/lib"]
    first = api.requests[0]
    assert "include_subgroups=true" in first.query and "archived=false" in first.query
    assert first.headers["private-token"] == token


def test_the_repository_list_file(tmp_path: Path) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text("# ours\nhttps://git.example/team/app.git\n\ngit@host:team/tool.git\nlocal-repo/\n")
    repos = repos_file(str(listing))
    assert [r.name for r in repos] == ["team/app", "team/tool", "local-repo"]
    assert repos[2].url == str((Path.cwd() / "local-repo").resolve())
    listing.write_text("a b\n")
    with pytest.raises(InputError, match=r"repos.txt:1: one clone URL or path a line"):
        repos_file(str(listing))
    with pytest.raises(InputError, match="cannot read the repository list"):
        repos_file(str(tmp_path / "missing.txt"))
    assert repo_name("https://host/") == "host"
    assert unique([Repo("a", "u1"), Repo("a", "u1"), Repo("a", "u2")]) == [Repo("a", "u1"), Repo("a~2", "u2")]


def result(repo: str, findings: list[dict[str, Any]], tips: list[str], **extra: Any) -> dict[str, Any]:
    base = {"repo": repo, "url": f"/r/{repo}", "error": "", "tips": tips, "commits": tips, "findings": findings}
    return {**base, "reachable": [], "mode": "full", **extra}


def finding(fid: str, commit: str = "c1") -> dict[str, Any]:
    return {
        "rule": "github-pat",
        "finding_id": fid,
        "secret_id": "s" + fid,
        "path": "a.py",
        "commit": commit,
        "redacted": "ghp_…(40)",
        "verdict": "block",
        "line": 1,
    }


def test_the_store_applies_a_result_once_and_tracks_new_present_gone(tmp_path: Path) -> None:
    store = Store(tmp_path / "org.sqlite")
    first = store.apply(result("r", [finding("f1"), finding("f2")], ["c1"]), full=False)
    again = store.apply(result("r", [finding("f1"), finding("f2")], ["c1"]), full=False)  # a retried task
    assert (len(first.new), len(again.new), len(again.present)) == (2, 0, 2)
    assert store.commit_count("r") == 1 and len(store.findings("r")) == 2
    assert store.known("r") == (("c1",), ("c1",), "")
    # Only new commits scanned: f1's commit still reachable, f2's not (a force-push); f3 new.
    f2_gone = finding("f2", "c0")
    store.db.execute("UPDATE findings SET commit_id = 'c0', data = ? WHERE finding_id = 'f2'", (json.dumps(f2_gone),))
    delta = store.apply(result("r", [finding("f3", "c2")], ["c2"], reachable=["c1"]), full=False)
    assert [[f["finding_id"] for f in part] for part in (delta.new, delta.present, delta.gone)] == [
        ["f3"],
        ["f1"],
        ["f2"],
    ]
    failed = store.apply(result("r", [], [], error="clone refused"), full=False)
    assert len(failed.present) == 2 and not failed.new and not failed.gone
    full = store.apply(result("r", [finding("f3", "c2")], ["c2"]), full=True)
    assert [f["finding_id"] for f in full.gone] == ["f1"]
    store.close()


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "org.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    db.close()
    with pytest.raises(StoreError, match=rf"version {SCHEMA_VERSION + 1}, newer than this leakstop's"):
        Store(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = 'x' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(StoreError, match="no valid schema version"):
        Store(path)


def test_a_corrupt_or_foreign_store_is_refused_and_kept(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    with pytest.raises(StoreError, match=r"corrupt.sqlite: not a usable org store .*refused, not reset"):
        Store(corrupt)
    assert corrupt.read_bytes().startswith(b"SQLite format 3\x00\xff")
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE things (x)")
    db.close()
    with pytest.raises(StoreError, match="not a leakstop org store"):
        Store(foreign)
    with pytest.raises(StoreError, match="cannot open the org store"):
        Store(tmp_path)  # a directory


def test_the_merged_result_prefixes_paths_and_holds_only_redacted_text(tmp_path: Path) -> None:
    run = OrgRun()
    row = finding("f1")
    run.add(result("team/app", [row], ["c1"], seconds=0.5, items=3, bytes=10), [row], [], [finding("f9")])
    merged = merged_result(run, "org x", [])
    assert [f.path for f in merged.findings] == ["team/app/a.py", "team/app/a.py"]
    assert [(f.change, f.verdict, f.reason) for f in merged.findings] == [
        ("new", "block", ""),
        ("gone", "allow", "gone"),
    ]
    assert merged.findings[0].match.secret.reveal() == "ghp_…(40)"
    assert run.summary() == "org scan: 1 repositories (0 failed), findings: 1 new, 0 still present, 1 gone"
    assert merged.stats.items_scanned == 3 and merged.target_detail == "1 repositories, 1 commits scanned"


def test_every_format_says_new_still_present_and_gone_and_only_current_ones_block() -> None:
    import io

    from scanner.report import REPORTERS, ReportOptions

    run = OrgRun()
    live = {**finding("f2"), "validation": "live", "validation_identity": "user o***", "validator": "github"}
    run.add(result("r", [], ["c1"]), [finding("f1")], [live], [finding("f3")])
    merged = merged_result(run, "org x", [])
    assert [f.change for f in merged.findings] == ["new", "still-present", "gone"]
    validation = merged.findings[1].validation
    assert validation is not None and (validation.state, validation.identity) == ("live", "user o***")
    assert merged.blocked

    def report(fmt: str, result: Any = merged) -> str:
        out = io.StringIO()
        REPORTERS[fmt](result, out, ReportOptions(verbose=True))
        return out.getvalue()

    data = json.loads(report("json"))
    assert [f["change"] for f in data["findings"]] == ["new", "still-present", "gone"]
    assert data["summary"]["changes"] == {"new": 1, "still-present": 1, "gone": 1}
    assert data["findings"][1]["validation"]["state"] == "live"
    sarif = json.loads(report("sarif"))["runs"][0]["results"]
    assert [r["baselineState"] for r in sarif] == ["new", "unchanged", "absent"]
    gitlab = json.loads(report("gitlab"))["vulnerabilities"]
    assert [v["details"]["change"]["value"] for v in gitlab] == ["new", "still-present"]  # gone: allowed, not listed
    text = report("text")
    for words in ("since the last org scan: new", "since the last org scan: still present", "(gone)"):
        assert words in text
    # Only gone findings left: nothing blocks.
    only_gone = OrgRun()
    only_gone.add(result("r", [], ["c1"]), [], [], [finding("f3")])
    gone = merged_result(only_gone, "org x", [])
    assert not gone.blocked and json.loads(report("json", gone))["summary"]["changes"]["gone"] == 1
    assert "changes" not in json.loads(report("json", merged_result(OrgRun(), "org x", [])))["summary"]


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"should not wait ({seconds} s)")


def test_without_dask_an_org_scan_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from scanner.org import engine

    monkeypatch.setitem(sys.modules, "distributed", None)  # an import of it raises ImportError
    with pytest.raises(InputError, match=r"leakstop\[org\]"):
        engine._distributed()


SCHEMA_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE repos (name TEXT PRIMARY KEY, url TEXT NOT NULL, tips TEXT NOT NULL, scanned_at TEXT NOT NULL);
CREATE TABLE commits (repo TEXT NOT NULL, oid TEXT NOT NULL, PRIMARY KEY (repo, oid)) WITHOUT ROWID;
CREATE TABLE findings (
    repo TEXT NOT NULL, finding_id TEXT NOT NULL, secret_id TEXT NOT NULL, rule TEXT NOT NULL,
    commit_id TEXT NOT NULL, data TEXT NOT NULL, first_seen TEXT NOT NULL, PRIMARY KEY (repo, finding_id)
);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO repos VALUES ('r', '/r/r', '["c1"]', '2026-01-01T00:00:00+00:00');
INSERT INTO commits VALUES ('r', 'c1');
"""


def test_a_version_1_store_is_migrated_keeping_what_it_knew(tmp_path: Path) -> None:
    path = tmp_path / "org.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)
        f1 = finding("f1")
        db.execute("INSERT INTO findings VALUES ('r', 'f1', 'sf1', 'github-pat', 'c1', ?, 'x')", (json.dumps(f1),))
    db.close()
    store = Store(path)
    assert store.known("r") == (("c1",), ("c1",), "")  # no refs digest yet: the next run fetches
    assert store.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    # An unchanged repository's result now records its refs digest, so the run after skips it.
    delta = store.apply(result("r", [], ["c1"], mode="unchanged", reachable=["c1"], refs="d1"), full=False)
    assert [f["finding_id"] for f in delta.present] == ["f1"] and not delta.new and not delta.gone
    assert store.known("r") == (("c1",), ("c1",), "d1")
    store.close()
    Store(path).close()  # reopened as the current version as it is


def test_batches_are_small_enough_to_spread_and_keep_every_task_once() -> None:
    from scanner.org.engine import BATCHES_PER_SLOT, MAX_BATCH, batches
    from scanner.org.tasks import Task

    tasks = [Task(Repo(f"r{i}", f"/r/{i}"), "/c") for i in range(200)]
    for slots in (1, 2, 7, 64):
        groups = batches(tasks, slots)
        assert [t for g in groups for t in g] == tasks
        assert max(len(g) for g in groups) <= MAX_BATCH
        assert len(groups) >= min(len(tasks), slots * BATCHES_PER_SLOT)
    assert batches(tasks[:3], 2) == [[t] for t in tasks[:3]]
    assert batches([], 2) == []


def test_the_refs_digest_is_the_same_on_the_remote_and_its_mirror(tmp_path: Path, work: GitRepo) -> None:
    from scanner.org.mirror import MirrorError, mirror_refs, remote_refs, update

    mirror, fetched = update(tmp_path / "cache", str(work.path))
    assert not fetched
    digest = remote_refs(str(work.path))
    assert digest == mirror_refs(mirror)
    work.commit("two", {"a.txt": "b\n"})
    moved = remote_refs(str(work.path))
    assert moved != digest and mirror_refs(mirror) == digest
    assert update(tmp_path / "cache", str(work.path)) == (mirror, True)
    assert mirror_refs(mirror) == moved
    with pytest.raises(MirrorError):
        remote_refs(str(tmp_path / "missing"))


def test_validate_reaches_each_task_only_when_asked(tmp_path: Path) -> None:
    from scanner.cli import build_parser
    from scanner.cli.org import org_request
    from scanner.org.orgscan import _task

    listing = tmp_path / "repos.txt"
    base = ["org", "scan", "--repos", str(listing), "--cache", str(tmp_path / "c")]
    asked = org_request(build_parser().parse_args([*base, "--validate", "--validate-deadline", "7"]), {})
    assert asked.validation is not None and asked.validation.deadline == 7
    store = Store(tmp_path / "s.sqlite")
    assert _task(asked, store, Repo("r", "/r"), "s1").validation == asked.validation
    store.close()
    assert org_request(build_parser().parse_args(base), {}).validation is None


def test_a_local_remotes_refs_read_here_give_what_ls_remote_gives(tmp_path: Path, work: GitRepo) -> None:
    import subprocess

    from scanner.org.mirror import local_refs, refs_digest, remote_refs

    work.git("tag", "light")
    work.git("update-ref", "refs/remotes/origin/main", "HEAD")
    work.git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    work.write({"a.txt": "stashed\n"})
    work.git("stash", "-q")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--mirror", str(work.path), str(bare)], check=True)
    for path in (work.path, bare):
        listed = subprocess.run(["git", "ls-remote", "--", str(path)], capture_output=True, check=True).stdout
        assert local_refs(str(path)) == refs_digest(listed.decode()) == remote_refs(str(path))
    # Not a repository of its own (a folder inside one, a missing path, a URL): left to ls-remote.
    assert local_refs(str(work.path / ".git" / "refs")) is None
    assert local_refs(str(tmp_path / "missing")) is None
    assert local_refs("https://example.invalid/r.git") is None


def test_a_git_daemons_refs_read_over_a_socket_give_what_ls_remote_gives(tmp_path: Path, work: GitRepo) -> None:
    import socket
    import subprocess
    import threading

    from org_world import free_port, git_daemon

    from scanner.org.mirror import MirrorError, daemon_refs, mirror_refs, refs_digest, update

    served = tmp_path / "served"
    subprocess.run(["git", "clone", "-q", "--mirror", str(work.path), str(served / "r.git")], check=True)
    subprocess.run(["git", "init", "-q", "--bare", str(served / "empty.git")], check=True)
    with git_daemon(served) as base:
        for name in ("r.git", "empty.git"):
            url = f"{base}/{name}"
            listed = subprocess.run(["git", "ls-remote", "--", url], capture_output=True, check=True).stdout
            assert daemon_refs(url) == refs_digest(listed.decode())
        assert daemon_refs(f"{base}/r.git") == mirror_refs(update(tmp_path / "cache", f"{base}/r.git")[0])
        with pytest.raises(MirrorError, match="repository not exported"):
            daemon_refs(f"{base}/missing.git")
    assert daemon_refs("https://example.invalid/r.git") is None
    with pytest.raises(MirrorError, match="cannot read its refs"):
        daemon_refs(f"git://127.0.0.1:{free_port()}/r.git")
    # A server that answers garbage is one line, not a hang.
    server = socket.create_server(("127.0.0.1", 0))

    def answer() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"zzzzgarbage")

    thread = threading.Thread(target=answer)
    thread.start()
    with pytest.raises(MirrorError, match="did not speak git's protocol"):
        daemon_refs(f"git://127.0.0.1:{server.getsockname()[1]}/r.git")
    thread.join()
    server.close()
