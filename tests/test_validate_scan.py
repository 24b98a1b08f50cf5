"""Validation inside a scan (issue #14): findings carry what the provider said, policy acts on it, every report
shows it; one request per distinct secret; the on-disk cache holds fingerprints only; deadline and rate limits."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import jsonschema
from helpers import config_text
from httpserver import LoopbackServer, Reply, Request, ServerFactory
from tokens import TokenFactory
from validate_fakes import js

from scanner.httpsettings import HttpSettings
from scanner.models import ScanResult, Validation
from scanner.pipeline import run
from scanner.pipeline.request import ScanRequest
from scanner.policy.config import load_config
from scanner.report import REPORTERS, ReportOptions
from scanner.validate.base import Candidate
from scanner.validate.options import ValidationOptions
from scanner.validate.run import Job, validate
from scanner.validate.store import ValidationCache
from scanner.validate.table import VALIDATORS

FAST = HttpSettings(connect_timeout=1.0, read_timeout=2.0)
GITHUB = "https://api.github.com"


def github_fake(server: LoopbackServer, live: set[str]) -> None:
    """GitHub's ``GET /user``: the login for a token in ``live``, 401 Bad credentials for any other."""

    def answer(request: Request) -> Reply:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        return js({"login": "octo-dev"}) if token in live else js({"message": "Bad credentials"}, 401)

    server.route("GET", "/user", answer)


def scan(
    tmp_path: Path,
    files: dict[str, str],
    server: LoopbackServer,
    rules: tuple[str, ...] = ("github-pat",),
    **extra: Any,
) -> ScanResult:
    root = tmp_path / "repo"
    root.mkdir(exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    config_path = tmp_path / "config" / "leakstop.yaml"
    config_path.parent.mkdir(exist_ok=True)
    config_path.write_text(config_text(rules, **extra), encoding="utf-8")
    options = ValidationOptions(http=FAST, routes={GITHUB: server.base}, cache=str(tmp_path / "cache.sqlite3"))
    request = ScanRequest(kind="paths", paths=(str(root),), config=load_config(config_path), validation=options)
    return run(request)


def by_file(result: ScanResult) -> dict[str, Any]:
    return {Path(f.path).name: f for f in result.findings}


def test_policy_acts_on_the_answer(tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory) -> None:
    live, dead = tokens.github(), tokens.github()
    server = http_server()
    github_fake(server, {live})
    policy = {
        "block": {"severity": "critical", "confidence": "high", "validation": "live"},
        "warn": {"severity": "info", "confidence": "low"},
        "overrides": [{"validation": ["invalid"], "action": "warn"}, {"rules": ["github-pat"], "action": "warn"}],
    }
    result = scan(tmp_path, {"live.env": f"T={live}\n", "dead.env": f"T={dead}\n"}, server, policy=policy)
    found = by_file(result)
    assert (found["live.env"].verdict, found["live.env"].reason) == ("warn", "override:1")  # the first match wins
    assert found["live.env"].validation.state == "live" and found["live.env"].validation.identity == "octo-dev"
    assert (found["dead.env"].verdict, found["dead.env"].reason) == ("warn", "override:0")
    assert found["dead.env"].validation.state == "invalid"

    policy["overrides"] = [{"validation": "invalid", "action": "warn"}]
    result = scan(tmp_path, {}, server, policy=policy)
    found = by_file(result)
    assert (found["live.env"].verdict, found["live.env"].reason) == ("block", "validation:live")
    assert (found["dead.env"].verdict, found["dead.env"].reason) == ("warn", "override:0")


def test_one_request_per_distinct_secret(tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory) -> None:
    token = tokens.github()
    server = http_server()
    github_fake(server, {token})
    files = {f"f{i}.env": f"GITHUB_TOKEN={token}\nAGE_KEY={tokens.age_secret_key()}\n" for i in range(7)}
    result = scan(tmp_path, files, server, rules=("github-pat", "age-secret-key"))
    github = [f for f in result.findings if f.rule.id == "github-pat"]
    assert len(github) == 7 and all(f.validation.state == "live" for f in github)
    assert all(f.validation is None for f in result.findings if f.rule.id == "age-secret-key")  # no validator
    assert len(server.requests) == 1


def test_nothing_to_validate(tmp_path: Path, http_server: ServerFactory) -> None:
    server = http_server()
    result = scan(tmp_path, {"clean.txt": "nothing here\n"}, server)
    assert result.findings == [] and server.requests == []


def test_the_disk_cache_holds_fingerprints_only(
    tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory
) -> None:
    token = tokens.github()
    server = http_server()
    github_fake(server, {token})
    first = scan(tmp_path, {"a.env": f"T={token}\n"}, server)
    second = scan(tmp_path, {}, server)
    assert len(server.requests) == 1  # the second run was answered from the cache
    assert first.findings[0].validation.state == second.findings[0].validation.state == "live"
    assert second.findings[0].validation.reason.endswith("(cached)")
    data = (tmp_path / "cache.sqlite3").read_bytes()
    assert token.encode() not in data and token[4:20].encode() not in data


def test_cache_time_to_live_and_unknowns(tmp_path: Path) -> None:
    now = [1000.0]
    cache = ValidationCache(tmp_path / "c.db", ttl=60, clock=lambda: now[0])
    cache.put("fp1", Validation("live", "ok", "octo", "github"))
    cache.put("fp2", Validation("unknown", "timed out"))
    assert cache.get("fp1") == Validation("live", "ok (cached)", "octo", "github")
    assert cache.get("fp2") is None  # unknown is asked again
    now[0] += 61
    assert cache.get("fp1") is None
    cache.close()


def test_an_unusable_cache_file_is_one_line(tmp_path: Path) -> None:
    import pytest

    from scanner.errors import InputError

    bad = tmp_path / "cache.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError, match=r"cache\.db: unusable validation cache"):
        ValidationCache(bad, 60).get("x")


def test_reports_show_it(tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory) -> None:
    live, dead = tokens.github(), tokens.github()
    server = http_server()
    github_fake(server, {live})
    result = scan(tmp_path, {"live.env": f"T={live}\n", "dead.env": f"T={dead}\n"}, server)
    out: dict[str, str] = {}
    for name in ("text", "json", "sarif", "gitlab", "markdown"):
        buffer = io.StringIO()
        REPORTERS[name](result, buffer, ReportOptions())
        out[name] = buffer.getvalue()
    assert "validation: live as octo-dev (api.github.com accepted it (HTTP 200))" in out["text"]
    assert "validation: invalid (api.github.com refused it (HTTP 401))" in out["text"]
    assert " · validated: 1 live, 1 invalid, 0 unknown" in out["text"]
    findings = {Path(f["location"]["path"]).name: f for f in json.loads(out["json"])["findings"]}
    assert findings["live.env"]["validation"] == {
        "state": "live",
        "reason": "api.github.com accepted it (HTTP 200)",
        "identity": "octo-dev",
        "validator": "github",
    }
    results = json.loads(out["sarif"])["runs"][0]["results"]
    states = {r["properties"]["validation"]["state"]: r["level"] for r in results}
    assert states == {"live": "error", "invalid": "error"}  # critical rule: error either way; live always error
    data = Path(__file__).parent / "data"
    for name, schema in (
        ("sarif", "sarif-schema-2.1.0.json"),
        ("gitlab", "gitlab/15.0.7/secret-detection-report-format.json"),
    ):
        validator = jsonschema.Draft7Validator(json.loads((data / schema).read_text(encoding="utf-8")))
        assert list(validator.iter_errors(json.loads(out[name]))) == [], name
    gitlab = json.loads(out["gitlab"])["vulnerabilities"]
    assert {v["details"]["validation"]["value"].split(" ")[0] for v in gitlab} == {"live", "invalid"}
    assert "· live" in out["markdown"] and "· invalid" in out["markdown"]
    for text in out.values():
        assert live not in text and dead not in text


def test_live_raises_the_sarif_level(tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory) -> None:
    token = tokens.github()
    server = http_server()
    github_fake(server, {token})
    policy = {"overrides": [{"rules": ["github-pat"], "action": "warn"}]}
    result = scan(tmp_path, {"a.env": f"T={token}\n"}, server, policy=policy)
    buffer = io.StringIO()
    REPORTERS["sarif"](result, buffer, ReportOptions())
    assert json.loads(buffer.getvalue())["runs"][0]["results"][0]["level"] == "error"  # a warn would be "warning"


def test_a_hanging_provider_ends_at_the_deadline(http_server: ServerFactory, tokens: TokenFactory) -> None:
    server = http_server()
    server.route("GET", "/user", Reply(200, b"{}", delay=5))
    jobs = [Job(f"fp{i}", VALIDATORS["github"], Candidate(tokens.github())) for i in range(3)]
    options = ValidationOptions(http=HttpSettings(read_timeout=30), routes={GITHUB: server.base}, deadline=0.5)
    started = time.monotonic()
    answers = validate(jobs, options)
    assert time.monotonic() - started < 3.0  # the deadline, not the 5 s the provider takes
    assert all(a.state == "unknown" for a in answers.values())


def test_per_provider_rate(http_server: ServerFactory, tokens: TokenFactory) -> None:
    server = http_server()
    token = tokens.github()
    github_fake(server, {token})
    jobs = [Job(f"fp{i}", VALIDATORS["github"], Candidate(token)) for i in range(6)]
    options = ValidationOptions(http=FAST, routes={GITHUB: server.base}, rate=10)
    started = time.monotonic()
    answers = validate(jobs, options)
    assert time.monotonic() - started >= 0.45  # six starts at most ten a second: the sixth 0.5 s after the first
    assert all(a.state == "live" for a in answers.values())
    # One a second and 1.8 s in all: turns at about 0 and 1 s answered, the next would start after the deadline.
    late = ValidationOptions(http=FAST, routes={GITHUB: server.base}, rate=1, deadline=1.8)
    answers = validate(jobs, late)
    assert [a.state for a in answers.values()].count("live") == 2
    assert sum("before its turn" in a.reason for a in answers.values()) == 4


def test_a_validator_bug_is_unknown_not_a_crash() -> None:
    class Broken:
        name, provider, origins = "broken", "broken", ("https://example.invalid",)

        def check(self, candidate: Candidate, call: object) -> Validation:
            raise KeyError("bug")

    answers = validate([Job("fp", Broken(), Candidate("x"))], ValidationOptions())
    assert answers["fp"] == Validation("unknown", "the validator failed (KeyError)", "", "broken")
