"""``leakstop org scan`` end to end: a loopback fake of the GitHub listing API whose clone URLs point at bare
repositories served by a real ``git daemon``; the tasks on a real Dask scheduler with two worker processes
started here on 127.0.0.1; a second run that scans only new commits; a scheduler that does not answer."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import RunCli
from gitrepo import Repo, isolate_git
from httpserver import Reply, Request, ServerFactory, TestCA
from org_world import dask_cluster, free_port, git_daemon, http_backend
from tokens import TokenFactory


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    isolate_git(monkeypatch, tmp_path / "home")
    return tmp_path


def bare_with(root: Path, name: str, files: dict[str, str]) -> Repo:
    """A working repository committed once and pushed to ``root/<name>.git`` (the served bare one)."""
    work = Repo.init(root / "work" / name)
    work.commit("first", files)
    bare = root / "served" / f"{name}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work.path), str(bare)], check=True)
    work.git("remote", "add", "origin", str(bare))
    return work


def test_org_scan_over_git_daemon_on_a_dask_cluster(
    world: Path, http_server: ServerFactory, tokens: TokenFactory, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_a, secret_b, later = tokens.github(), tokens.github(), tokens.github()
    app = bare_with(world, "app", {"config.py": f'TOKEN = "{secret_a}"\n', "README": "app\n"})
    bare_with(world, "tool", {"deploy.sh": f"export GH={secret_b}\n"})
    bare_with(world, "clean", {"main.py": "print('hi')\n"})
    api = http_server()
    with git_daemon(world / "served") as git_url, dask_cluster(world / "dask") as scheduler:
        listing = [
            {"full_name": f"acme/{n}", "clone_url": f"{git_url}/{n}.git"} for n in ("app", "tool", "clean", "gone")
        ]
        listing.append({"full_name": "acme/fork", "clone_url": f"{git_url}/app.git", "fork": True})
        api.route("GET", "/orgs/acme/repos", Reply(200, json.dumps(listing).encode()))
        monkeypatch.setenv("GITHUB_API_URL", api.url(""))
        store, report = world / "state" / "org.sqlite", world / "report.json"
        argv = ["org", "scan", "--github-org", "acme", "--scheduler", scheduler, "--cache", world / "cache"]
        argv += ["--store", store, "-f", "json", "-o", report]
        code, _out, err = run_cli(*argv)
        assert code == 1, err
        assert "4 repositories (1 failed), findings: 2 new, 0 still present, 0 gone" in err
        data = json.loads(report.read_text())
        assert sorted(f["location"]["path"] for f in data["findings"]) == ["acme/app/config.py", "acme/tool/deploy.sh"]
        assert any(i["path"] == "acme/gone" and i["reason"] == "repository-failed" for i in data["issues"])

        app.commit("more", {"settings.py": f"KEY = '{later}'\n"})
        app.git("push", "-q", "origin", "main")
        code, _out, err = run_cli(*argv)
        assert "findings: 1 new, 2 still present, 0 gone" in err, err
        data = json.loads(report.read_text())
        assert "acme/app/settings.py" in {f["location"]["path"] for f in data["findings"]}

        code, _out, err = run_cli(*argv, "--full")
        assert "findings: 0 new, 3 still present, 0 gone" in err, err
    stored = store.read_bytes()
    for secret in (secret_a, secret_b, later):
        assert secret.encode() not in stored
    assert (world / "cache" / "mirrors").is_dir()


def test_local_cluster_and_a_failing_repository(world: Path, tokens: TokenFactory, run_cli: RunCli) -> None:
    one = bare_with(world, "one", {"a.env": f"GITHUB_TOKEN={tokens.github()}\n"})
    listing = world / "repos.txt"
    listing.write_text(f"{one.path}\n{world / 'missing'}\n")
    code, out, err = run_cli(
        "org", "scan", "--repos", listing, "--workers", "1", "--cache", world / "cache", "-f", "sarif"
    )
    assert code == 1, err
    sarif = json.loads(out)
    locations = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]]
    assert locations == ["one/a.env"]
    assert "2 repositories (1 failed)" in err
    assert (world / "cache" / "org.sqlite").is_file()


def test_a_scheduler_that_does_not_answer_is_a_clear_error(world: Path, run_cli: RunCli) -> None:
    repo = bare_with(world, "r", {"a": "b\n"})
    listing = world / "repos.txt"
    listing.write_text(f"{repo.path}\n")
    started = time.monotonic()
    address = f"tcp://127.0.0.1:{free_port()}"
    code, _out, err = run_cli("org", "scan", "--repos", listing, "--scheduler", address, "--cache", world / "c")
    assert code == 2
    assert time.monotonic() - started < 10
    assert f"leakstop: error: dask scheduler {address} did not answer within 5 s" in err


def test_usage_errors(world: Path, run_cli: RunCli) -> None:
    assert run_cli("org", "scan", "--cache", world / "c")[0] == 2
    code, _out, err = run_cli("org", "scan", "--repos", world / "x", "--config", world / "nope.yaml")
    assert code == 2 and "config file not found" in err
    assert run_cli("org")[0] == 2


def test_the_html_report_in_headless_chromium(world: Path, tokens: TokenFactory, run_cli: RunCli) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs Debian's chromium)")
    secrets = [tokens.github(), tokens.slack_bot(), tokens.github()]
    one = bare_with(world, "one", {"a.env": f"GITHUB_TOKEN={secrets[0]}\nSLACK={secrets[1]}\n"})
    two = bare_with(world, "two", {"b.py": f"key = '{secrets[2]}'\n"})
    listing = world / "repos.txt"
    listing.write_text(f"{one.path}\n{two.path}\n")
    report = world / "org-report.html"
    code, _out, err = run_cli(
        "org", "scan", "--repos", listing, "--workers", "1", "--cache", world / "c", "-f", "html", "-o", report
    )
    assert code == 1, err
    html = report.read_text()
    assert all(secret not in html for secret in secrets)
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(report.as_uri())
        rows = page.locator("tr.finding")
        assert rows.count() == 3 and page.locator("#shown").inner_text() == "3"
        page.select_option("select[name=rule]", "github-pat")
        assert page.locator("#shown").inner_text() == "2"
        assert page.locator("tr.finding:visible").count() == 2
        options = page.locator("select[name=rule] option").all_inner_texts()
        slack = next(o for o in options if o not in ("all", "github-pat"))
        page.select_option("select[name=rule]", slack)  # only in repository "one": "two" is hidden whole
        assert page.locator("#shown").inner_text() == "1"
        assert page.locator("section.repo:visible").all_inner_texts()[0].startswith("one")
        assert page.locator("section.repo[data-repo=two]").is_hidden()
        page.select_option("select[name=severity]", "critical")
        page.select_option("select[name=rule]", "")
        assert page.locator("#shown").inner_text() == "2"  # the GitHub tokens are critical, the Slack one is not
        page.select_option("select[name=severity]", "")
        page.select_option("select[name=rule]", "")
        page.select_option("select[name=status]", "new")
        assert page.locator("#shown").inner_text() == "3"
        text = page.locator("body").inner_text()
        browser.close()
    assert all(secret not in text for secret in secrets)
    assert requests == [report.as_uri()]  # nothing fetched: one self-contained file


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def test_an_https_remotes_refs_are_read_over_the_shared_client_and_match_ls_remote(
    world: Path, http_server: ServerFactory, test_ca: TestCA, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second run's question to a GitHub-like remote, without a git process: the smart HTTP advertisement over
    one kept-alive connection, with the token for that origin only; anything else is git ls-remote's to answer."""
    from scanner.httpsettings import HttpSettings
    from scanner.org.mirror import MirrorError, http_refs, mirror_refs, refs_digest, remote_refs, update
    from scanner.transport import HttpClient

    token = tokens.github()
    work = bare_with(world, "app", {"a.py": "A = 1\n"})
    work.git("tag", "-a", "v1", "-m", "v1")
    work.git("push", "-q", "origin", "main", "v1")
    server, public = http_server(tls=test_ca), http_server()
    for method, path in (("GET", "/app.git/info/refs"), ("POST", "/app.git/git-upload-pack")):
        server.route(method, path, http_backend(world / "served", token))
        public.route(method, path, http_backend(world / "served", ""))
    server.route(
        "GET", "/dumb.git/info/refs", Reply(200, b"0" * 40 + b"\trefs/heads/main\n", {"Content-Type": "text/plain"})
    )
    url = server.url("/app.git")
    monkeypatch.setenv("GIT_SSL_CAINFO", str(test_ca.ca_file))
    monkeypatch.setenv("GITHUB_TOKEN", token)
    with HttpClient(HttpSettings(ca_bundle=test_ca.ca_file)) as client:
        read = [http_refs(url, "GITHUB_TOKEN", client) for _ in range(3)]
        assert read[0] == mirror_refs(update(world / "cache", url, "GITHUB_TOKEN")[0]) and len(set(read)) == 1
        assert server.connections == 2  # the three reads on one kept-alive connection, git's clone on its own
        listed = subprocess.run(["git", "ls-remote", "--", public.url("/app.git")], capture_output=True, check=True)
        assert http_refs(public.url("/app.git"), "GITHUB_TOKEN", client) == refs_digest(listed.stdout.decode())
        assert all("authorization" not in r.headers for r in public.requests)  # never a token over plain HTTP
        assert http_refs(server.url("/dumb.git"), "GITHUB_TOKEN", client) is None  # not the smart protocol
        assert http_refs(f"git://127.0.0.1:{free_port()}/app.git", "GITHUB_TOKEN", client) is None
        monkeypatch.setenv("GITHUB_TOKEN", "not-" + token)
        assert http_refs(url, "GITHUB_TOKEN", client) is None  # refused: git ls-remote says why
        with pytest.raises(MirrorError, match=r"app\.git"):
            remote_refs(url, "GITHUB_TOKEN", client)
        assert token not in "".join(str(r.headers) for r in public.requests)


def test_private_clone_over_https_sends_the_token_from_the_workers_environment(
    world: Path,
    http_server: ServerFactory,
    test_ca: TestCA,
    tokens: TokenFactory,
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token, planted = tokens.github(), tokens.github()
    bare_with(world, "app", {"k.py": f"K = '{planted}'\n"})
    server = http_server(tls=test_ca)
    backend = http_backend(world / "served", token)
    for method, path in (("GET", "/app.git/info/refs"), ("POST", "/app.git/git-upload-pack")):
        server.route(method, path, backend)
    listing = [{"full_name": "acme/app", "clone_url": server.url("/app.git")}]
    server.route("GET", "/api/orgs/acme/repos", Reply(200, json.dumps(listing).encode()))
    monkeypatch.setenv("GITHUB_API_URL", server.url("/api"))
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.ca_file))  # the listing, through the transport
    monkeypatch.setenv("GIT_SSL_CAINFO", str(test_ca.ca_file))  # the clone, through git
    argv = ["org", "scan", "--github-org", "acme", "--workers", "1", "-f", "json"]
    monkeypatch.setenv("GITHUB_TOKEN", "not-" + token)
    code, out, err = run_cli(*argv, "--cache", world / "refused")
    assert code == 0 and "1 repositories (1 failed)" in err
    assert token not in out + err
    monkeypatch.setenv("GITHUB_TOKEN", token)
    code, out, err = run_cli(*argv, "--cache", world / "accepted")
    assert code == 1, err
    assert [f["location"]["path"] for f in json.loads(out)["findings"]] == ["acme/app/k.py"]
    assert any(r.path == "/app.git/git-upload-pack" for r in server.requests)


def test_progress_lines_and_bad_worker_counts(world: Path, run_cli: RunCli, capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.cli.org import _progress

    _progress(1, 2, {"repo": "a/b", "commits": ["c"] * 3}, "full")
    _progress(2, 2, {"repo": "a/c", "error": "x: fatal: gone"}, "failed")
    assert capsys.readouterr().err.splitlines() == ["[1/2] a/b: full, 3 commits", "[2/2] a/c: x: fatal: gone"]
    for bad in ("0", "many"):
        with pytest.raises(SystemExit) as exit_:
            run_cli("org", "scan", "--repos", world / "r", "--workers", bad)
        assert exit_.value.code == 2 and "argument --workers" in capsys.readouterr().err


def test_a_worker_killed_mid_task_is_retried_elsewhere_and_nothing_doubles(
    world: Path, http_server: ServerFactory, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from scanner.cli import main
    from scanner.org.store import Store

    token = tokens.github()
    bare_with(world, "app", {"k.py": f"K = '{token}'\n"})
    server = http_server()
    backend = http_backend(world / "served", "")
    cloning, release = threading.Event(), threading.Event()

    def held(request: Request) -> Reply:
        cloning.set()
        release.wait(30)  # the first attempt's worker is killed while it waits here
        return backend(request)

    server.route("GET", "/app.git/info/refs", held)
    server.route("POST", "/app.git/git-upload-pack", backend)
    listing = world / "repos.txt"
    listing.write_text(server.url("/app.git") + "\n")
    report, store = world / "report.json", world / "org.sqlite"
    codes: list[int] = []
    with dask_cluster(world / "dask") as scheduler:
        argv = ["org", "scan", "--repos", str(listing), "--scheduler", scheduler, "--store", str(store)]
        argv += ["--cache", str(world / "cache"), "-f", "json", "-o", str(report), "--no-progress"]
        runner = threading.Thread(target=lambda: codes.append(main(argv)))
        runner.start()
        assert cloning.wait(30)
        victim = _worker_running_git()
        victim.kill()
        victim.wait(10)
        release.set()
        runner.join(60)
    assert codes == [1]
    assert [f["location"]["path"] for f in json.loads(report.read_text())["findings"]] == ["app/k.py"]
    db = Store(store)
    assert len(db.findings("app")) == 1 and db.commit_count("app") == 1
    db.close()
    assert sum(r.path == "/app.git/info/refs" for r in server.requests) >= 2  # the task ran again


def _worker_running_git() -> Any:
    """The Dask worker process whose task is running ``git`` now (the nearest Python ancestor of a git process)."""
    import psutil

    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] and proc.info["name"].startswith("git-remote-http"):
            for parent in proc.parents():
                if "python" in (parent.name() or ""):
                    return parent
    raise AssertionError("no git process under a worker")


def test_a_task_that_raises_is_that_repositorys_error(world: Path, run_cli: RunCli) -> None:
    repo = bare_with(world, "r", {"a": "b\n"})
    listing = world / "repos.txt"
    listing.write_text(f"{repo.path}\n")
    cache = world / "cache"
    cache.mkdir()
    (cache / "mirrors").write_text("")  # the mirrors cannot go under a file: the task itself fails
    argv = ["org", "scan", "--repos", listing, "--workers", "1", "--cache", cache, "--store", world / "s.sqlite"]
    code, out, err = run_cli(*argv)
    assert code == 0 and "1 repositories (1 failed)" in err
    assert "r: repository-failed: the task failed: FileExistsError" in out


def test_unchanged_refs_skip_the_fetch_and_a_killed_runs_leftovers_are_cleaned(
    world: Path, tokens: TokenFactory, run_cli: RunCli
) -> None:
    import fcntl

    from scanner.org.mirror import mirror_path

    work = bare_with(world, "one", {"a.env": f"GITHUB_TOKEN={tokens.github()}\n"})
    url = str(world / "served" / "one.git")
    listing = world / "repos.txt"
    listing.write_text(f"{url}\n")
    cache = world / "cache"
    argv = ["org", "scan", "--repos", listing, "--workers", "1", "--cache", cache, "-f", "json"]
    code, _out, err = run_cli(*argv)
    assert code == 1 and "findings: 1 new, 0 still present, 0 gone" in err, err
    mirror = mirror_path(cache, url)
    assert (mirror / "HEAD").is_file()
    # The mirror gone and a half-made clone left by a killed run: the refs did not move, so nothing is fetched.
    subprocess.run(["rm", "-rf", str(mirror)], check=True)
    leftover = mirror.with_name(mirror.name + ".partial-999999")
    (leftover / "objects").mkdir(parents=True)
    code, out, err = run_cli(*argv)
    assert code == 1 and "findings: 0 new, 1 still present, 0 gone" in err, err
    assert [f["location"]["path"] for f in json.loads(out)["findings"]] == ["one/a.env"]
    assert not mirror.exists() and not leftover.exists()
    # Nothing moved: settled in the parent, so not even a scheduler is needed (this one would not answer).
    dead = ["--scheduler", f"tcp://127.0.0.1:{free_port()}"]
    code, out, err = run_cli(*argv[:4], *dead, *argv[6:])
    assert code == 1 and "findings: 0 new, 1 still present, 0 gone" in err, err
    # A new commit moves the refs: fetched (cloned again here) and only the new commit scanned.
    work.commit("two", {"b.env": f"GITHUB_TOKEN={tokens.github()}\n"})
    work.git("push", "-q", "origin", "main")
    code, _out, err = run_cli(*argv)
    assert code == 1 and "findings: 1 new, 1 still present, 0 gone" in err, err
    assert (mirror / "HEAD").is_file()
    # Another run holding the cache: refused at once, the store untouched.
    with open(cache / "org.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, _out, err = run_cli(*argv)
    assert code == 2 and "another org scan is using this cache: refused" in err


@pytest.mark.parametrize("threads_up_to", [0, 16])
def test_the_local_cluster_is_processes_unless_few_repositories_are_left(
    world: Path, tokens: TokenFactory, threads_up_to: int
) -> None:
    from scanner.org.engine import Cluster
    from scanner.org.listing import Platform
    from scanner.org.listing import Repo as OrgRepo
    from scanner.org.orgscan import OrgRequest, Targets, scan_org

    bare_with(world, "one", {"a.env": f"GITHUB_TOKEN={tokens.github()}\n"})
    bare_with(world, "two", {"b.txt": "nothing\n"})
    repos = [OrgRepo(name, str(world / "served" / f"{name}.git")) for name in ("one", "two")]
    platform = Platform("", "", "GITHUB_TOKEN")
    request = OrgRequest(
        Targets(), world / "cache", world / "s.sqlite", platform, platform, Cluster(2, "", threads_up_to)
    )
    run, issues = scan_org(request, repos)
    assert not issues and run.counts["new"] == 1
    pids = {repo["worker_pid"] for repo in run.repos}
    assert (pids == {os.getpid()}) == bool(threads_up_to), pids  # threads here, or worker processes
