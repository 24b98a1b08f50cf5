"""The policy gate: thresholds, overrides, inline allow comments; ``decide`` alone and through the CLI."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import RunCli, config_doc, write_files
from tokens import TokenFactory

from scanner.detect.engine import Detector
from scanner.errors import ConfigError
from scanner.models import Confidence, FileOrigin, Finding, GitOrigin, Match, Origin, RuleInfo, Secret, Severity
from scanner.policy.allowlists import Allowlist
from scanner.policy.config import load_config
from scanner.policy.gate import Facts, InlineAllow, Override, Policy, PolicyException, Threshold, decide
from scanner.ruleset import Ruleset

ROOT = Path(__file__).resolve().parents[1]


def finding(
    severity: Severity = "high",
    confidence: Confidence = "high",
    rule_id: str = "r",
    tags: tuple[str, ...] = (),
    origin: Origin | None = None,
    markers: tuple[str, ...] = (),
) -> Finding:
    rule = RuleInfo(rule_id, "name", "description", severity, confidence, tags=tags)
    match = Match(rule_id, Secret("s3cr3t-value"), 0, 12, 1, 1, 1, 13, "snippet", 3.0, inline_markers=markers)
    return Finding(rule, match, origin or FileOrigin("app/x.py"), "fid", "sid")


# --- decide ---


@pytest.mark.parametrize(
    ("severity", "confidence", "expected"),
    [("critical", "high", "block"), ("low", "low", "block"), ("info", "high", "warn")],
)
def test_the_default_policy_blocks_everything_but_info(
    severity: Severity, confidence: Confidence, expected: str
) -> None:
    assert decide(finding(severity, confidence), Policy(), Facts("app/x.py")) == (expected, "")


@pytest.mark.parametrize(
    ("severity", "confidence", "expected"),
    [
        ("critical", "high", ("block", "")),
        ("high", "medium", ("block", "")),
        ("high", "low", ("warn", "")),  # confidence below block's
        ("medium", "high", ("warn", "")),  # severity below block's
        ("low", "high", ("allow", "below-threshold")),
        ("info", "high", ("allow", "below-threshold")),
    ],
)
def test_thresholds(severity: Severity, confidence: Confidence, expected: tuple[str, str]) -> None:
    policy = Policy(block=Threshold("high", "medium"), warn=Threshold("medium", "low"))
    assert decide(finding(severity, confidence), policy, Facts("app/x.py")) == expected


def test_the_first_matching_override_wins() -> None:
    policy = Policy(
        overrides=(
            Override.build("allow", 0, rules=("other",)),
            Override.build("warn", 1, tags=("test", "fixture")),
            Override.build("allow", 2, tags=("test",)),
        )
    )
    assert decide(finding(tags=("test",)), policy, Facts("a")) == ("warn", "override:1")
    assert decide(finding(rule_id="other", tags=("test",)), policy, Facts("a")) == ("allow", "override:0")
    assert decide(finding(), policy, Facts("a")) == ("block", "")


def test_an_override_needs_every_criterion_it_names() -> None:
    override = Override.build("allow", 0, rules=("r",), paths=("tests/**",), targets=("git",))
    policy = Policy(overrides=(override,))
    git = GitOrigin("tests/a.py", "c" * 40)
    assert decide(finding(origin=git), policy, Facts("tests/a.py")) == ("allow", "override:0")
    assert decide(finding(origin=git), policy, Facts("src/a.py")) == ("block", "")  # path
    assert decide(finding(), policy, Facts("tests/a.py")) == ("block", "")  # target: files
    assert decide(finding(rule_id="q", origin=git), policy, Facts("tests/a.py")) == ("block", "")  # rule


def test_override_paths_are_gitignore_style() -> None:
    policy = Policy(overrides=(Override.build("warn", 0, paths=("fixtures/", "*.env")),))
    assert decide(finding(), policy, Facts("a/fixtures/b.txt"))[0] == "warn"
    assert decide(finding(), policy, Facts("deploy/prod.env"))[0] == "warn"
    assert decide(finding(), policy, Facts("deploy/prod.yaml"))[0] == "block"


def test_allowlist_inline_and_baseline_come_before_overrides() -> None:
    policy = Policy(overrides=(Override.build("block", 0, rules=("r",)),))
    assert decide(finding(), policy, Facts("a", allowlist="paths")) == ("allow", "allowlist:paths")
    assert decide(finding(markers=("gitleaks:allow",)), policy, Facts("a")) == ("allow", "inline")
    assert decide(finding(), policy, Facts("a", baselined=True)) == ("allow", "baseline")


def test_inline_markers_are_honoured_only_when_the_policy_says_so() -> None:
    marked = finding(markers=("gitleaks:allow",))
    assert decide(marked, Policy(inline_allow=InlineAllow(enabled=False)), Facts("a")) == ("block", "")
    only_ours = Policy(inline_allow=InlineAllow(markers=("leakstop:allow",)))
    assert decide(marked, only_ours, Facts("a")) == ("block", "")
    assert decide(finding(markers=("leakstop:allow",)), only_ours, Facts("a")) == ("allow", "inline")


# --- the detector records inline markers ---


def markers_of(detector: Detector, text: str) -> list[tuple[int, tuple[str, ...]]]:
    return [(m.line, m.inline_markers) for m in detector.detect(text.encode())]


def test_the_detector_records_markers_on_the_line_and_the_line_before(
    github_detector: Detector, tokens: TokenFactory
) -> None:
    t = [tokens.github_clean() for _ in range(6)]
    text = (
        f"a = '{t[0]}'\n"
        f"b = '{t[1]}'  # LeakStop:Allow\n"
        "# leakstop:allow-next-line\n"
        f"c = '{t[2]}'\n"
        f"d = '{t[3]}'  # gitleaks:allow\n"
        f"e = '{t[4]}'  # pragma: allowlist secret\n"
        f"f = '{t[5]}'  # leakstop:allow-next-line\n"
    )
    assert markers_of(github_detector, text) == [
        (1, ()),
        (2, ("leakstop:allow",)),
        (4, ("leakstop:allow-next-line",)),
        (5, ("gitleaks:allow",)),
        (6, ("pragma: allowlist secret",)),
        (7, ()),  # a next-line marker does not allow its own line
    ]


# --- configuration ---


def write_config(root: Path, doc: dict[str, Any]) -> Path:
    path = root / ".leakstop.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def test_config_loads_the_policy(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        {
            "policy": {
                "block": {"severity": "high", "confidence": "medium"},
                "warn": {"severity": "low"},
                "overrides": [{"paths": ["tests/**"], "targets": ["files"], "action": "warn"}],
                "baseline": "ci/baseline.json",
            },
            "inline_allow": {"enabled": False, "markers": ["leakstop:allow"]},
        },
    )
    config = load_config(path)
    policy = config.policy
    assert (policy.block, policy.warn) == (Threshold("high", "medium"), Threshold("low", "low"))
    assert [(o.action, o.paths, o.targets) for o in policy.overrides] == [("warn", ("tests/**",), {"files"})]
    assert policy.inline_allow == InlineAllow(enabled=False, markers=("leakstop:allow",))
    assert config.baseline_path == str(tmp_path / "ci/baseline.json")


@pytest.mark.parametrize(
    ("policy", "where", "words"),
    [
        ({"block": {"severity": "severe"}}, "policy/block/severity", "'severe' is not one of"),
        ({"overrides": [{"rules": ["x"], "action": "ignore"}]}, "policy/overrides/0/action", "'ignore' is not one of"),
        ({"overrides": [{"action": "allow"}]}, "policy/overrides/0", "does not have enough properties"),
        ({"overrides": [{"targets": ["s3"], "action": "allow"}]}, "policy/overrides/0/targets/0", "'s3'"),
        ({"thresholds": {}}, "policy", "Additional properties"),
    ],
)
def test_a_policy_that_fails_its_schema_names_file_path_and_problem(
    tmp_path: Path, policy: dict[str, Any], where: str, words: str
) -> None:
    path = write_config(tmp_path, {"policy": policy})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: {where}: ")
    assert words in str(info.value)


def test_an_unknown_inline_marker_is_a_schema_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"inline_allow": {"markers": ["nosec"]}})
    with pytest.raises(ConfigError, match="inline_allow/markers/0"):
        load_config(path)


def test_an_unknown_rule_id_in_an_override_names_the_closest_ids(tmp_path: Path, run_cli: RunCli) -> None:
    doc = config_doc(
        ("github-pat", "github-oauth-token"), policy={"overrides": [{"rules": ["github-pta"], "action": "warn"}]}
    )
    config = write_config(tmp_path / "repo", doc)
    code, out, err = run_cli("scan", tmp_path / "repo")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"leakstop: error: {config}: policy/overrides/0/rules: unknown rule id 'github-pta' (did you mean github-pat?)"
    ]


def test_the_published_schema_is_the_shipped_one() -> None:
    assert (ROOT / "docs" / "config.schema.json").read_bytes() == (
        ROOT / "scanner" / "policy" / "config.schema.json"
    ).read_bytes()


# --- through the CLI ---


def scan_json(run_cli: RunCli, *argv: str | Path) -> tuple[int, list[dict[str, Any]]]:
    code, out, err = run_cli("scan", *argv, "--format", "json")
    assert err == "" or code in (0, 1), err
    return code, json.loads(out)["findings"]


def test_thresholds_and_overrides_through_the_cli(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    repo = tmp_path / "repo"
    doc = config_doc(("github-pat",))
    doc["rules"][0]["severity"] = "medium"  # a medium rule under a block threshold of high
    doc["policy"] = {
        "block": {"severity": "high", "confidence": "medium"},
        "warn": {"severity": "medium"},
        "overrides": [
            {"paths": ["tests/"], "action": "allow"},
            {"rules": ["github-pat"], "paths": ["deploy/**"], "action": "block"},
        ],
    }
    write_config(repo, doc)
    write_files(
        repo,
        {
            "src/app.py": f"token = '{tokens.github_clean()}'\n",
            "tests/fixture.py": f"token = '{tokens.github_clean()}'\n",
        },
    )
    code, findings = scan_json(run_cli, repo)
    assert code == 0
    assert sorted((f["location"]["path"].split("/")[-2], f["verdict"], f["reason"]) for f in findings) == [
        ("src", "warn", ""),
        ("tests", "allow", "override:0"),
    ]
    write_files(repo, {"deploy/prod.env": f"T={tokens.github_clean()}\n"})
    code, findings = scan_json(run_cli, repo)
    assert code == 1
    assert [f["reason"] for f in findings if f["verdict"] == "block"] == ["override:1"]


def test_below_threshold_findings_are_allowed(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    repo = tmp_path / "repo"
    doc = config_doc()
    doc["rules"][0]["severity"] = "low"
    doc["policy"] = {"warn": {"severity": "medium"}, "block": {"severity": "high"}}
    write_config(repo, doc)
    write_files(repo, {"a.py": f"t = '{tokens.github_clean()}'\n"})
    code, findings = scan_json(run_cli, repo)
    assert code == 0
    assert [(f["verdict"], f["reason"]) for f in findings] == [("allow", "below-threshold")]


def test_inline_allow_through_the_cli_and_ci_refusing_it(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    repo = tmp_path / "repo"
    write_files(
        repo,
        {
            "a.py": (
                f"a = '{tokens.github_clean()}'  # leakstop:allow\n"
                "# leakstop:allow-next-line\n"
                f"b = '{tokens.github_clean()}'\n"
                f"c = '{tokens.github_clean()}'  # gitleaks:allow\n"
                f"d = '{tokens.github_clean()}'  # pragma: allowlist secret\n"
            )
        },
    )
    write_config(repo, config_doc())
    code, findings = scan_json(run_cli, repo)
    assert code == 0
    assert [(f["verdict"], f["reason"]) for f in findings] == [("allow", "inline")] * 4
    code, out, _ = run_cli("scan", repo, "--verbose", "--color", "never")
    assert "ALLOW  github-pat" in out and "(inline)" in out and "4 allowed (4 inline)" in out

    write_config(repo, config_doc(inline_allow={"markers": ["leakstop:allow", "leakstop:allow-next-line"]}))
    code, findings = scan_json(run_cli, repo)
    assert code == 1
    assert [f["verdict"] for f in findings] == ["allow", "allow", "block", "block"]

    write_config(repo, config_doc(inline_allow={"enabled": False}))
    code, findings = scan_json(run_cli, repo)
    assert code == 1
    assert [f["verdict"] for f in findings] == ["block"] * 4


# --- exceptions ---


def test_an_exception_allows_until_it_expires_then_the_reason_says_so() -> None:
    f = finding()
    exception = PolicyException("fid", "alice", "rotating next sprint", date(2030, 1, 31))
    policy = Policy(exceptions=(exception,))
    assert decide(f, policy, Facts("a", today=date(2030, 1, 31))) == ("allow", "exception:fid")
    assert decide(f, policy, Facts("a", today=date(2030, 2, 1))) == ("block", "exception-expired:fid")
    # An expired exception on a finding the policy allows anyway changes nothing.
    assert decide(f, policy, Facts("a", baselined=True, today=date(2031, 1, 1))) == ("allow", "baseline")
    by_secret = Policy(exceptions=(PolicyException("sid", "bob", "test key", date(2030, 1, 1)),))
    assert decide(f, by_secret, Facts("a", today=date(2029, 1, 1))) == ("allow", "exception:sid")


def test_exceptions_through_the_cli(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    repo = tmp_path / "repo"
    write_files(repo, {"a.py": f"t = '{tokens.github_clean()}'\n", "b.py": f"t = '{tokens.github_clean()}'\n"})
    write_config(repo, config_doc())
    _, findings = scan_json(run_cli, repo)
    ids = {f["location"]["path"][-4:]: f for f in findings}
    exceptions = [
        {"id": ids["a.py"]["id"][:12], "owner": "alice", "reason": "fixture", "expires": "2999-12-31"},
        {"id": ids["b.py"]["secret_id"], "owner": "bob", "reason": "rotating", "expires": "2000-01-01"},
    ]
    write_config(repo, config_doc(exceptions=exceptions))
    code, findings = scan_json(run_cli, repo)
    assert code == 1
    assert sorted((f["location"]["path"][-4:], f["verdict"], f["reason"]) for f in findings) == [
        ("a.py", "allow", f"exception:{ids['a.py']['id'][:12]}"),
        ("b.py", "block", f"exception-expired:{ids['b.py']['secret_id']}"),
    ]
    code, out, _ = run_cli("scan", repo, "--color", "never")
    assert f"(exception-expired:{ids['b.py']['secret_id']})" in out


@pytest.mark.parametrize(
    ("expires", "words"),
    [
        ("2026-02-30", "exceptions/0/expires: '2026-02-30' is not a date (YYYY-MM-DD)"),
        ("31/12/2026", "exceptions/0/expires: '31/12/2026' does not match"),
        ("tomorrow", "exceptions/0/expires: 'tomorrow' does not match"),
    ],
)
def test_a_malformed_expiry_date_is_a_config_error(tmp_path: Path, expires: str, words: str) -> None:
    exception = {"id": "a" * 40, "owner": "o", "reason": "r", "expires": expires}
    path = write_config(tmp_path, {"exceptions": [exception]})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ") and words in str(info.value)


def test_an_unquoted_yaml_date_is_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / ".leakstop.yaml"
    path.write_text(f"exceptions:\n  - {{id: {'a' * 40}, owner: o, reason: r, expires: 2030-06-01}}\n")
    assert load_config(path).policy.exceptions[0].expires == date(2030, 6, 1)
    path.write_text(f"exceptions:\n  - {{id: {'a' * 40}, owner: o, reason: r, expires: 2030-06-31}}\n")
    with pytest.raises(ConfigError, match="exceptions/0/expires: '2030-06-31' is not a date"):
        load_config(path)


def test_an_exception_needs_an_owner_and_a_reason(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"exceptions": [{"id": "a" * 40, "reason": "r", "expires": "2030-01-01"}]})
    with pytest.raises(ConfigError, match="exceptions/0: 'owner' is a required property"):
        load_config(path)


def test_sarif_marks_inline_allows_as_in_source_suppressions(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    repo = tmp_path / "repo"
    write_files(repo, {"a.py": f"a = '{tokens.github_clean()}'  # leakstop:allow\nb = '{tokens.github_clean()}'\n"})
    write_config(repo, config_doc())
    code, out, _ = run_cli("scan", repo, "--format", "sarif")
    assert code == 1
    results = json.loads(out)["runs"][0]["results"]
    assert [r.get("suppressions") for r in results] == [
        [{"kind": "inSource", "justification": "inline: an allow comment on the line"}],
        None,
    ]
    assert all("baselineState" not in r for r in results)


def test_sarif_justifies_an_exception_with_its_id_owner_reason_and_expiry(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    repo = tmp_path / "repo"
    write_files(repo, {"a.py": f"t = '{tokens.github_clean()}'\n"})
    write_config(repo, config_doc())
    _, findings = scan_json(run_cli, repo)
    accepted = findings[0]["secret_id"][:16]
    exception = {"id": accepted, "owner": "alice", "reason": "test vector, revoked", "expires": "2999-12-31"}
    write_config(repo, config_doc(exceptions=[exception]))
    code, out, _ = run_cli("scan", repo, "--format", "sarif")
    assert code == 0
    [result] = json.loads(out)["runs"][0]["results"]
    assert result["suppressions"] == [
        {
            "kind": "external",
            "justification": f"exception {accepted}: owner alice, reason: test vector, revoked, expires 2999-12-31",
        }
    ]
    assert result["properties"]["reason"] == f"exception:{accepted}"


# --- allowlists (issue #5): global and per rule, gitleaks-style criteria, any/all ---


def allowlist(**criteria: Any) -> Allowlist:
    regexes = tuple(re.compile(rx) for rx in criteria.pop("regexes", ()))
    path_regexes = tuple(re.compile(rx) for rx in criteria.pop("path_regexes", ()))
    label = criteria.pop("label", "")
    return Allowlist.build(0, label, regexes=regexes, path_regexes=path_regexes, **criteria)


@pytest.mark.parametrize(
    ("criteria", "secret", "path", "commit", "expected"),
    [
        # condition any: the first criterion that holds names the reason (the legacy single object's labels)
        ({"paths": ("tests/",)}, "s3cr3t", "tests/a.py", "", "paths"),
        ({"paths": ("tests/",)}, "s3cr3t", "src/a.py", "", ""),
        ({"path_regexes": (r"^vendor/.*\.js$",)}, "s3cr3t", "vendor/lib.js", "", "paths"),
        ({"regexes": ("^s3",)}, "s3cr3t", "a", "", "secret"),
        ({"stopwords": ("CR3",)}, "s3cr3t", "a", "", "secret"),
        ({"commits": ("ABCDEF1",)}, "s3cr3t", "a", "abcdef1234", "commits"),
        ({"commits": ("abcdef1",)}, "s3cr3t", "a", "", ""),  # a file finding has no commit
        ({"paths": ("x/",), "stopwords": ("cr3",)}, "s3cr3t", "a", "", "secret"),
        # condition all: every criterion given must hold
        ({"paths": ("tests/",), "stopwords": ("cr3",), "condition": "all"}, "s3cr3t", "tests/a", "", "paths+secret"),
        ({"paths": ("tests/",), "stopwords": ("cr3",), "condition": "all"}, "s3cr3t", "src/a", "", ""),
        ({"paths": ("tests/",), "stopwords": ("zzz",), "condition": "all"}, "s3cr3t", "tests/a", "", ""),
        ({"commits": ("abcd",), "regexes": ("t$",), "condition": "all"}, "s3cr3t", "a", "", ""),
        # a named allowlist says its name, whatever held
        ({"paths": ("tests/",), "label": "fixtures"}, "s3cr3t", "tests/a.py", "", "fixtures"),
    ],
)
def test_allowlist_criteria_any_and_all(
    criteria: dict[str, Any], secret: str, path: str, commit: str, expected: str
) -> None:
    assert allowlist(**criteria).check(secret, path, commit, ()) == expected


def test_match_and_line_targets_are_decided_by_the_detector(github_ruleset: Ruleset, tokens: TokenFactory) -> None:
    on_match = allowlist(regexes=("^ghp_",), regex_target="match")
    on_line = Allowlist.build(1, "", regexes=(re.compile(r"^\s*example_token\s*="),), regex_target="line")
    detector = Detector(github_ruleset, allow_probes={"github-pat": (on_match, on_line)})
    text = f"example_token = '{tokens.github_clean()}'\nother = '{tokens.github_clean()}'\n"
    assert [m.allow_hits for m in detector.detect(text.encode())] == [(0, 1), (0,)]
    assert on_line.check("x", "a", "", (0, 1)) == "line" and on_line.check("x", "a", "", (0,)) == ""
    assert on_match.check("x", "a", "", (0,)) == "match"


def test_allowlists_through_the_cli(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    repo = tmp_path / "repo"
    custom = {
        "id": "acme-key",
        "name": "ACME key",
        "regex": r"acme_[a-z0-9]{24}",
        "keywords": ["acme_"],
        "severity": "high",
        "confidence": "high",
        "allowlists": [{"regexes": ["^ACME_TEST"], "regex_target": "line"}],
    }
    doc = config_doc(("github-pat",))
    doc["rules"].append(custom)
    doc["allowlist"] = [
        {"name": "fixtures", "paths": ["fixtures/"], "rules": ["github-pat"]},
        {"regexes": [r"#\s*rotated"], "regex_target": "line", "stopwords": ["zzzzzz"]},
        {"paths": ["docs/"], "stopwords": ["sample"], "condition": "all"},
    ]
    write_config(repo, doc)
    acme = "acme_" + tokens.clean_chars("abcdefghijklmnopqrstuvwxyz0123456789", 24)
    write_files(
        repo,
        {
            "fixtures/gh.py": f"t = '{tokens.github_clean()}'\n",
            "fixtures/acme.py": f"k = '{acme}'\n",  # the fixtures allowlist is for github-pat only
            "src/old.py": f"t = '{tokens.github_clean()}'  # rotated 2026-01\n",
            "src/acme.py": f"ACME_TEST_KEY = '{acme}'\n",
            "docs/a.md": f"key: {acme}\n",  # docs/ alone is not enough: condition all
        },
    )
    code, findings = scan_json(run_cli, repo)
    assert code == 1
    assert sorted((f["location"]["path"].split("repo/")[-1], f["verdict"], f["reason"]) for f in findings) == [
        ("docs/a.md", "block", ""),
        ("fixtures/acme.py", "block", ""),
        ("fixtures/gh.py", "allow", "allowlist:fixtures"),
        ("src/acme.py", "allow", "allowlist:acme-key/0"),
        ("src/old.py", "allow", "allowlist:1"),
    ]


def test_commit_allowlists_apply_to_history_findings(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    from tests.test_git import Repo, isolate_git

    with pytest.MonkeyPatch.context() as mp:
        isolate_git(mp, tmp_path / "home")
        repo = Repo.init(tmp_path / "repo")
        first = repo.commit("one", {"a.py": f"t = '{tokens.github_clean()}'\n"})
        repo.commit("two", {"b.py": f"t = '{tokens.github_clean()}'\n"})
        config = write_config(tmp_path / "config", config_doc(allowlist=[{"commits": [first[:10]]}]))
        code, findings = scan_json(run_cli, repo.path, "--history", "--config", config)
        assert code == 1
        assert sorted((f["location"]["path"], f["verdict"], f["reason"]) for f in findings) == [
            ("a.py", "allow", "allowlist:0"),
            ("b.py", "block", ""),
        ]
        # A file scan of the same tree has no commits: the allowlist does not apply.
        code, findings = scan_json(run_cli, repo.path, "--config", config)
        assert [f["verdict"] for f in findings] == ["block", "block"]


@pytest.mark.parametrize(
    ("allow", "message"),
    [
        ([{"regexes": ["(unclosed"]}], "allowlist/0/regexes/0: invalid regex '(unclosed'"),
        ({"rules": ["github-pat"]}, "allowlist: allows nothing: give paths, path_regexes, regexes"),
        ([{"paths": ["a"], "regex_target": "lines"}], "allowlist/0/regex_target: 'lines' is not one of"),
        ([{"paths": ["a"], "rules": ["github-pta"]}], "allowlist/0/rules: unknown rule id 'github-pta' (did you mean"),
    ],
)
def test_a_bad_allowlist_is_one_line_naming_file_and_json_path(
    tmp_path: Path, run_cli: RunCli, allow: Any, message: str
) -> None:
    config = write_config(tmp_path / "repo", config_doc(allowlist=allow))
    code, out, err = run_cli("scan", tmp_path / "repo")
    assert (code, out) == (2, "")
    assert err.startswith(f"leakstop: error: {config}: {message}") and err.count("\n") == 1, err
