"""``leakstop scan --ci-logs``: CI job logs through loopback fakes of the GitHub Actions and GitLab REST APIs
(their documented paths, headers and paging), scanned through the real command."""

from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path

import pytest
from helpers import MakeConfig, RunCli
from httpserver import Reply, Request, ServerFactory
from tokens import TokenFactory


def log_zip(members: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return out.getvalue()


CONFIG: list[Path] = []


@pytest.fixture(autouse=True)
def _config(make_config: MakeConfig) -> None:
    CONFIG[:] = [make_config(("github-pat",))]  # one rule: no full ruleset to compile for these tests


def scan(run_cli: RunCli, target: str, *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code, out, err = run_cli("scan", "-c", CONFIG[0], "--ci-logs", target, "--format", "json", *args)
    return code, json.loads(out) if out.strip() else {}, err


def paged(pages: list[list[dict[str, object]]], key: str, link: bool) -> object:
    """A listing answered page by page (``page=N``), with a Link header (GitHub) or X-Next-Page (GitLab)."""

    def answer(request: Request) -> Reply:
        query = dict(part.split("=", 1) for part in request.query.split("&") if "=" in part)
        page = int(query.get("page", "1"))
        items = pages[page - 1] if page <= len(pages) else []
        headers = {}
        if page < len(pages):
            if link:
                headers["Link"] = f"<{request.headers['host'] and ''}http://{request.headers['host']}"
                headers["Link"] += f'{request.path}?per_page=2&page={page + 1}>; rel="next"'
            else:
                headers["X-Next-Page"] = str(page + 1)
        body = {"total_count": 3, key: items} if key else items
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json", **headers})

    return answer


@pytest.fixture
def github_env(monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory, http_server: ServerFactory):  # type: ignore[no-untyped-def]
    api = http_server()
    monkeypatch.setenv("GITHUB_API_URL", api.url("/api/v3"))
    monkeypatch.setenv("GITHUB_TOKEN", tokens.github())
    return api


def test_github_runs_paged_zip_steps_named_and_token_kept_home(
    run_cli: RunCli,
    tokens: TokenFactory,
    http_server: ServerFactory,
    github_env,  # type: ignore[no-untyped-def]
) -> None:
    api, storage = github_env, http_server()
    secret = tokens.github()
    runs = [[{"id": 11, "name": "CI", "run_number": 7}, {"id": 12, "name": "Deploy", "run_number": 3}], [{"id": 13}]]
    api.route("GET", "/api/v3/repos/octo/app/actions/runs", paged(runs, "workflow_runs", link=True))
    step_log = f"2026-12-06T01:00:00Z Run make\n2026-12-06T01:00:01Z ok\n2026-12-06T01:00:02Z TOKEN={secret}\n"
    archive = log_zip({"0_build.txt": step_log, "build/1_Set up job.txt": "setup\n", "build/2_Run make.txt": step_log})
    api.route(
        "GET", "/api/v3/repos/octo/app/actions/runs/11/logs", Reply(302, headers={"Location": storage.url("/z/11")})
    )
    storage.route("GET", "/z/11", Reply(200, archive, {"Content-Type": "application/zip"}))
    api.route("GET", "/api/v3/repos/octo/app/actions/runs/12/logs", Reply(200, archive[: len(archive) // 2]))
    api.route("GET", "/api/v3/repos/octo/app/actions/runs/13/logs", Reply(410, b'{"message": "Gone"}'))

    code, report, err = scan(run_cli, "github:octo/app", "--ci-logs-runs", "3")

    assert code == 1, err
    found = [(f["location"]["path"], f["location"]["line"], f["rule"]["id"]) for f in report["findings"]]
    assert found == [("github:octo/app!run 11 (CI #7)!build/2_Run make.txt", 3, "github-pat")]
    issues = {(i["path"], i["reason"]) for i in report["issues"]}
    assert issues == {
        ("github:octo/app!run 12 (Deploy #3)", "bad-archive"),
        ("github:octo/app!run 13 (run #?)", "missing-logs"),
    }
    assert report["target_detail"] == "CI logs github:octo/app (3 runs)"
    listing = [r for r in api.requests if r.path.endswith("/actions/runs")]
    assert [r.query for r in listing] == ["per_page=3", "per_page=2&page=2"]
    assert all(r.headers["authorization"].startswith("Bearer ") for r in api.requests)
    assert all(r.headers.get("x-github-api-version") == "2022-11-28" for r in api.requests)
    assert [("authorization" in r.headers) for r in storage.requests] == [False]  # another origin: no token


def test_github_runs_limit_and_since(run_cli: RunCli, tokens: TokenFactory, github_env) -> None:  # type: ignore[no-untyped-def]
    api = github_env
    runs = [[{"id": 1}, {"id": 2}], [{"id": 3}]]
    api.route("GET", "/api/v3/repos/octo/app/actions/runs", paged(runs, "workflow_runs", link=True))
    # An archive whose job folder holds no step logs: the job's whole log at the top is what there is to scan.
    archive = log_zip({"0_build.txt": f"TOKEN={tokens.github()}\n", "build/system.txt": "runner\n"})
    for run in (1, 2, 3):
        api.route("GET", f"/api/v3/repos/octo/app/actions/runs/{run}/logs", Reply(200, archive))

    code, report, _ = scan(run_cli, "github:octo/app", "--ci-logs-runs", "1", "--ci-logs-since", "2026-12-01")

    assert code == 1
    assert [f["location"]["path"] for f in report["findings"]] == ["github:octo/app!run 1 (run #?)!0_build.txt"]
    assert report["target_detail"] == "CI logs github:octo/app (1 run)"
    assert [r.query for r in api.requests if r.path.endswith("/runs")] == ["per_page=1&created=%3E%3D2026-12-01"]


def test_listing_that_pages_forever_is_bounded_with_an_issue(
    run_cli: RunCli,
    github_env,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    api = github_env
    monkeypatch.setattr("scanner.sources.cilogs.common.MAX_PAGES", 5)  # 50 in use; 5 keeps the test quick

    def forever(request: Request) -> Reply:
        query = dict(part.split("=", 1) for part in request.query.split("&"))
        page = int(query.get("page", "1"))
        link = f'<{api.url("/api/v3/repos/octo/app/actions/runs")}?page={page + 1}>; rel="next"'
        return Reply(200, b'{"workflow_runs": [{"id": 5}]}', {"Link": link})

    api.route("GET", "/api/v3/repos/octo/app/actions/runs", forever)
    api.route("GET", "/api/v3/repos/octo/app/actions/runs/5/logs", Reply(200, log_zip({"j/1_s.txt": "x\n"})))

    code, report, err = scan(run_cli, "github:octo/app", "--ci-logs-since", "2026-01-01", "--ci-logs-runs", "100000")

    assert code == 0, err
    assert [i["reason"] for i in report["issues"]] == ["incomplete-listing"]
    assert "more than 5 pages" in report["issues"][0]["message"]
    assert len([r for r in api.requests if r.path.endswith("/runs")]) == 5


@pytest.mark.parametrize(
    ("status", "token", "expected"),
    [
        (401, True, "access denied (HTTP 401): GITHUB_TOKEN was not accepted or lacks access"),
        (401, False, "access denied (HTTP 401): GITHUB_TOKEN is not set"),
        (404, True, "workflow runs: not found (HTTP 404): gone, never there, or GITHUB_TOKEN cannot see it"),
    ],
)
def test_github_refusals_are_one_line_naming_the_variable(
    run_cli: RunCli,
    github_env,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    token: bool,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    if not token:
        monkeypatch.delenv("GITHUB_TOKEN")
    github_env.route("GET", "/api/v3/repos/octo/app/actions/runs", Reply(status, b'{"message": "Bad credentials"}'))

    code, _, err = scan(run_cli, "github:octo/app")

    assert code == 2
    assert err.strip().splitlines() == [f"leakstop: error: github:octo/app: {expected}"]


@pytest.mark.parametrize(
    ("target", "args", "expected"),
    [
        ("github:octo", (), "--ci-logs github:octo: expected github:OWNER/REPO or gitlab:GROUP/PROJECT"),
        ("github:a/b/c", (), "--ci-logs github:a/b/c: a GitHub repository is OWNER/REPO"),
        ("gitlab:g/p", ("--ci-logs-since", "yesterday"), "--ci-logs-since yesterday: expected a date, YYYY-MM-DD"),
        ("gitlab:g/p", ("--ci-logs-runs", "0"), "--ci-logs-runs 0: give 1 or more"),
    ],
)
def test_bad_arguments(run_cli: RunCli, target: str, args: tuple[str, ...], expected: str) -> None:
    code, _, err = scan(run_cli, target, *args)
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1


def test_ci_logs_options_need_ci_logs(run_cli: RunCli, tmp_path: Path) -> None:
    code, _, err = run_cli("scan", "--no-config", str(tmp_path), "--ci-logs-runs", "3")
    assert code == 2 and "--ci-logs-runs and --ci-logs-since go with --ci-logs" in err


# --- GitLab ---


@pytest.fixture
def gitlab_env(monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory, http_server: ServerFactory):  # type: ignore[no-untyped-def]
    api = http_server()
    monkeypatch.setenv("CI_API_V4_URL", api.url("/api/v4"))
    monkeypatch.setenv("GITLAB_TOKEN", tokens.gitlab_pat())
    return api


def test_gitlab_pipelines_jobs_traces(run_cli: RunCli, tokens: TokenFactory, gitlab_env) -> None:  # type: ignore[no-untyped-def]
    api = gitlab_env
    secret = tokens.github()
    project = "/api/v4/projects/group%2Fsub%2Fapp"
    api.route("GET", f"{project}/pipelines", paged([[{"id": 900}], [{"id": 901}]], "", link=False))
    api.route("GET", f"{project}/pipelines/900/jobs", paged([[{"id": 1, "name": "test", "stage": "test"}]], "", False))
    api.route(
        "GET",
        f"{project}/pipelines/901/jobs",
        paged([[{"id": 2, "name": "deploy", "stage": "deploy"}, {"id": 3}]], "", False),
    )
    api.route("GET", f"{project}/jobs/1/trace", Reply(200, b"\x1b[0KRunning tests\nok\n"))
    api.route("GET", f"{project}/jobs/2/trace", Reply(200, f"$ ./deploy\nexport TOKEN={secret}\n".encode()))
    api.route("GET", f"{project}/jobs/3/trace", Reply(404, b'{"message": "404 Not found"}'))

    code, report, err = scan(run_cli, "gitlab:group/sub/app", "--ci-logs-since", "2026-12-01")

    assert code == 1, err
    found = [(f["location"]["path"], f["location"]["line"]) for f in report["findings"]]
    assert found == [("gitlab:group/sub/app!pipeline 901!job 2 (deploy: deploy)", 2)]
    assert [(i["path"], i["reason"]) for i in report["issues"]] == [
        ("gitlab:group/sub/app!pipeline 901!job 3 (?: ?)", "missing-logs")
    ]
    assert report["target_detail"] == "CI logs gitlab:group/sub/app (2 pipelines)"
    pipelines = [r.query for r in api.requests if r.path.endswith("/pipelines")]
    assert pipelines == ["per_page=100&updated_after=2026-12-01", "per_page=100&updated_after=2026-12-01&page=2"]
    assert all(r.headers["private-token"] for r in api.requests)


def test_gitlab_refusal_names_the_variable_and_a_cut_trace_is_an_issue(run_cli: RunCli, gitlab_env) -> None:  # type: ignore[no-untyped-def]
    api = gitlab_env
    project = "/api/v4/projects/g%2Fp"
    api.route("GET", f"{project}/pipelines", Reply(403, b'{"message": "403 Forbidden"}'))
    code, _, err = scan(run_cli, "gitlab:g/p")
    assert code == 2
    assert (
        err.strip()
        == "leakstop: error: gitlab:g/p: access denied (HTTP 403): GITLAB_TOKEN was not accepted or lacks access"
    )

    api.route("GET", f"{project}/pipelines", Reply(200, b'[{"id": 1}]'))
    api.route("GET", f"{project}/pipelines/1/jobs", Reply(200, b'[{"id": 4, "name": "j", "stage": "s"}]'))
    api.route("GET", f"{project}/jobs/4/trace", Reply(200, b"line\n" * 1000, truncate=100))
    code, report, err = scan(run_cli, "gitlab:g/p")
    assert code == 0, err
    assert [i["reason"] for i in report["issues"]] == ["bad-archive"]


def test_log_cut_into_line_aligned_chunks_numbered(monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.sources.cilogs import common

    monkeypatch.setattr(common, "PIECE", 8)
    text = b"one\ntwo\nthree\n" + b"x" * 40 + b"\nlast"
    chunks = list(common.log_chunks(io.BytesIO(text), "p"))
    assert b"".join(c.content for c in chunks) == text
    for chunk in chunks:  # each chunk starts at a line start and knows that line's number
        start = sum(len(c.content) for c in chunks[: chunks.index(chunk)])
        assert chunk.first_line == text[:start].count(b"\n") + 1
    cut_mid_line = [c for c in chunks[:-1] if not c.content.endswith(b"\n")]
    assert [32 <= len(c.content) < 40 for c in cut_mid_line] == [True]  # a line over 4 pieces is cut, bounded


def test_a_listing_that_repeats_a_page_or_is_not_json(run_cli: RunCli, gitlab_env) -> None:  # type: ignore[no-untyped-def]
    api = gitlab_env
    project = "/api/v4/projects/g%2Fp"
    api.route("GET", f"{project}/pipelines", Reply(200, b"[]", {"X-Next-Page": "1"}), Reply(200, b"[]"))
    code, report, _ = scan(run_cli, "gitlab:g/p")
    assert (code, report["issues"]) == (0, [])  # an empty page ends the listing
    page = Reply(200, b'[{"id": 1}]', {"Link": f'<{api.url(project + "/pipelines")}?per_page=10>; rel="next"'})
    api.route("GET", f"{project}/pipelines", page)
    api.route("GET", f"{project}/pipelines/1/jobs", Reply(200, b"<html>"))
    code, _, err = scan(run_cli, "gitlab:g/p")
    assert code == 2
    assert err.strip() == "leakstop: error: gitlab:g/p: jobs of pipeline 1: the answer is not JSON"
    api.route("GET", f"{project}/pipelines/1/jobs", Reply(200, b"[]"))
    code, report, _ = scan(run_cli, "gitlab:g/p", "--ci-logs-runs", "5")
    assert [i["message"] for i in report["issues"]] == ["pipelines: the listing repeats a page; stopped there"]


def test_unexpected_status_unreachable_api_and_oversized_answers(
    run_cli: RunCli,
    github_env,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    api = github_env
    runs = "/api/v3/repos/octo/app/actions/runs"
    api.route("GET", runs, Reply(400, b"{}"))
    assert scan(run_cli, "github:octo/app")[2].strip() == (
        "leakstop: error: github:octo/app: workflow runs: unexpected HTTP 400"
    )
    api.route("GET", runs, Reply(200, b'{"workflow_runs": [{"id": 8}]}'))
    api.route("GET", f"{runs}/8/logs", Reply(200, log_zip({"j/1_s.txt": "x\n" * 5000})))
    monkeypatch.setattr("scanner.sources.cilogs.github.MAX_ARCHIVE", 100)
    code, report, _ = scan(run_cli, "github:octo/app")
    assert code == 0
    assert [(i["reason"], i["message"]) for i in report["issues"]] == [
        ("too-large", "logs archive over 100 bytes: not scanned")
    ]
    monkeypatch.setattr("scanner.sources.cilogs.common.MAX_LISTING", 10)
    code, _, err = scan(run_cli, "github:octo/app")
    assert code == 2 and "workflow runs: response of 30 bytes is over the 10-byte cap" in err
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9/api")  # discard port: nothing listens
    code, _, err = scan(run_cli, "github:octo/app")
    assert code == 2
    assert err.startswith("leakstop: error: github:octo/app: cannot reach http://127.0.0.1:9/api: ")


def test_a_damaged_member_and_a_download_cut_short_are_issues_the_rest_is_scanned(
    run_cli: RunCli,
    tokens: TokenFactory,
    github_env,  # type: ignore[no-untyped-def]
) -> None:
    api = github_env
    secret = tokens.github()
    runs = "/api/v3/repos/octo/app/actions/runs"
    api.route("GET", runs, Reply(200, json.dumps({"workflow_runs": ["junk", {"id": 1}, {"id": 2}]}).encode()))
    noise = random.Random(3).randbytes(4000).hex()  # does not compress: the bytes below are inside its data
    damaged = log_zip({"job/1_ok.txt": f"TOKEN={secret}\n", "job/2_bad.txt": noise})
    at = damaged.index(b"job/2_bad.txt") + len(b"job/2_bad.txt") + 10  # inside the second member's data
    damaged = damaged[:at] + bytes(b ^ 0xFF for b in damaged[at : at + 20]) + damaged[at + 20 :]
    api.route("GET", f"{runs}/1/logs", Reply(200, damaged))
    api.route("GET", f"{runs}/2/logs", Reply(200, log_zip({"j/1_s.txt": noise}), truncate=1000))

    code, report, err = scan(run_cli, "github:octo/app")

    assert code == 1, err
    assert [(f["location"]["path"], f["location"]["line"]) for f in report["findings"]] == [
        ("github:octo/app!run 1 (run #?)!job/1_ok.txt", 1)
    ]
    assert [(i["path"], i["reason"]) for i in report["issues"]] == [
        ("github:octo/app!run 1 (run #?)!job/2_bad.txt", "bad-archive"),
        ("github:octo/app!run 2 (run #?)", "bad-archive"),
    ]
    assert report["issues"][1]["message"].startswith("logs archive cut short: ")


def test_gitlab_limit_counts_pipelines_not_junk(run_cli: RunCli, gitlab_env) -> None:  # type: ignore[no-untyped-def]
    api = gitlab_env
    project = "/api/v4/projects/g%2Fp"
    api.route("GET", f"{project}/pipelines", Reply(200, b'[{"id": "x"}, {"id": 1}, {"id": 2}]'))
    api.route("GET", f"{project}/pipelines/1/jobs", Reply(200, b'[null, {"id": 4}]'))
    api.route("GET", f"{project}/jobs/4/trace", Reply(200, b"ok\n"))

    code, report, _ = scan(run_cli, "gitlab:g/p", "--ci-logs-runs", "1")

    assert (code, report["issues"]) == (0, [])
    assert report["target_detail"] == "CI logs gitlab:g/p (1 pipeline)"
    assert [r.path.rsplit("/", 2)[-2:] for r in api.requests][-1] == ["4", "trace"]


def test_text_report_says_how_to_fix_a_leak_in_logs(run_cli: RunCli, tokens: TokenFactory, gitlab_env) -> None:  # type: ignore[no-untyped-def]
    api = gitlab_env
    project = "/api/v4/projects/g%2Fp"
    api.route("GET", f"{project}/pipelines", Reply(200, b'[{"id": 1}]'))
    api.route("GET", f"{project}/pipelines/1/jobs", Reply(200, b'[{"id": 4, "name": "build", "stage": "build"}]'))
    api.route("GET", f"{project}/jobs/4/trace", Reply(200, f"\x1b[32m$ echo {tokens.github()}\x1b[0m\n".encode()))

    code, out, _ = run_cli("scan", "-c", CONFIG[0], "--ci-logs", "gitlab:g/p", "--color", "never")

    assert code == 1
    assert "gitlab:g/p!pipeline 1!job 4 (build: build):1" in out
    assert "a CI log printed the secret" in out
