"""The command line: exit codes, error messages, and what the files source scans, skips and reports.

Most tests run with a config holding only the built-in ``github-pat`` rule (``make_config``), so rule files
being edited elsewhere cannot change their outcome; one test runs the full built-in ruleset.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from helpers import MakeConfig, RunCli, builtin_rule, config_text, rule_file, write_files
from tokens import TokenFactory

import scanner
from scanner.cli import main
from scanner.sources.base import Skips
from scanner.sources.files import FileSource, FileSourceOptions


def scan_json(run_cli: RunCli, *argv: str | Path) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli("scan", "--format", "json", *argv)
    return code, json.loads(out), err


def found(report: dict[str, Any]) -> list[tuple[str, str, int]]:
    return sorted((f["rule"]["id"], f["location"]["path"], f["location"]["line"]) for f in report["findings"])


# --- exit codes and messages ---


def test_clean_directory_passes(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig) -> None:
    write_files(tmp_path / "tree", {"README.md": "# hello\n", "src/app.py": "print('hi')\n"})
    code, out, err = run_cli("scan", tmp_path / "tree", "--config", make_config())
    assert code == 0
    assert "PASSED" in out and "0 findings" in out
    assert err == ""


def test_generated_github_token_blocks_with_the_builtin_rules(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    write_files(tmp_path / "tree", {"README.md": "# hello\n", "deploy/.env": f"USER=ci\nGITHUB_TOKEN={token}\n"})
    code, out, err = run_cli("scan", tmp_path / "tree", "--no-config")
    assert code == 1
    assert "github-pat" in out
    assert "deploy/.env:2:14" in out
    assert "BLOCKED" in out
    assert token not in out + err


def test_missing_path_is_a_one_line_error(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig) -> None:
    missing = tmp_path / "no" / "such-dir"
    code, out, err = run_cli("scan", missing, "--config", make_config())
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert str(missing) in err
    assert "no such file or directory" in err


def test_missing_config_file(tmp_path: Path, run_cli: RunCli) -> None:
    code, _, err = run_cli("scan", tmp_path, "--config", tmp_path / "nope.yaml")
    assert code == 2
    assert "nope.yaml" in err and "not found" in err


def test_malformed_config_yaml_names_file_and_line(tmp_path: Path, run_cli: RunCli) -> None:
    config = tmp_path / "leakstop.yaml"
    config.write_text("version: 1\nexclude:\n\t- vendor/\n")
    code, out, err = run_cli("scan", tmp_path, "--config", config)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert f"{config}: line 3: invalid YAML" in err


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("allowlist:\n  paths: vendor/\n", "allowlist/paths", "is not of type 'array'"),
        ("allowlist:\n  paths: [ok, 3]\n", "allowlist/paths/1", "is not of type 'string'"),
        ("max_decode_depth: 9\n", "max_decode_depth", "greater than the maximum of 5"),
        ("extend: everything\n", "extend", "is not one of"),
        ("bogus: 1\n", "(top level)", "'bogus' was unexpected"),
        ("allowlist:\n  stopwords: [ab]\n", "allowlist/stopwords/0", "is too short"),
    ],
)
def test_config_schema_error_names_file_and_json_path(
    tmp_path: Path, run_cli: RunCli, text: str, where: str, problem: str
) -> None:
    config = tmp_path / "leakstop.yaml"
    config.write_text(text)
    code, _, err = run_cli("scan", tmp_path, "--config", config)
    assert code == 2
    assert err.startswith(f"leakstop: error: {config}: {where}: ")
    assert problem in err
    assert err.count("\n") == 1


def test_config_rule_error_names_the_rule(tmp_path: Path, run_cli: RunCli) -> None:
    config = tmp_path / "leakstop.yaml"
    config.write_text(
        "extend: none\nrules:\n  - id: my-token\n    name: Mine\n    regex: 'mt_([a-z]{10'\n"
        "    keywords: [mt_]\n    severity: high\n    confidence: high\n"
    )
    code, _, err = run_cli("scan", tmp_path, "--config", config)
    assert code == 2
    assert str(config) in err and "rule my-token" in err and "regex" in err


def test_rules_check_invalid_regex_names_file_rule_and_field(tmp_path: Path, run_cli: RunCli) -> None:
    path = rule_file(
        tmp_path / "bad.yaml",
        {"id": "test-bad-regex", "name": "Bad", "regex": "tok_([a-z]{10", "keywords": ["tok_"]},
    )
    code, out, err = run_cli("rules", "check", path)
    assert code == 2
    assert out == ""
    assert err.strip() == (
        f"leakstop: error: {path}: rule test-bad-regex: regex: invalid: missing ), unterminated subpattern"
        " at position 4"
    )


def test_rules_check_unportable_regex_is_refused(tmp_path: Path, run_cli: RunCli) -> None:
    path = rule_file(
        tmp_path / "look.yaml",
        {
            "id": "test-lookahead",
            "name": "Lookahead",
            "regex": "tok_(?=[a-z])([a-z]{10})",
            "keywords": ["tok_"],
        },
    )
    code, _, err = run_cli("rules", "check", path)
    assert code == 2
    assert f"{path}: rule test-lookahead: regex:" in err and "Hyperscan" in err


def test_rules_check_missing_field_names_rule_and_field(tmp_path: Path, run_cli: RunCli) -> None:
    path = tmp_path / "missing.yaml"
    path.write_text(
        "rules:\n  - id: test-missing\n    name: Missing keywords\n    regex: 'tok_([a-z]{10})'\n"
        "    severity: high\n    confidence: high\n    examples: [x]\n    negative_examples: [y]\n"
    )
    code, _, err = run_cli("rules", "check", path)
    assert code == 2
    assert f"{path}: rule test-missing:" in err
    assert "'keywords' is a required property" in err


def test_rules_check_wrong_field_type_names_the_field(tmp_path: Path, run_cli: RunCli) -> None:
    path = rule_file(
        tmp_path / "sev.yaml",
        {
            "id": "test-sev",
            "name": "Severity",
            "regex": "tok_([a-z]{10})",
            "keywords": ["tok_"],
            "severity": "huge",
        },
    )
    code, _, err = run_cli("rules", "check", path)
    assert code == 2
    assert f"{path}: rule test-sev: severity:" in err


def test_rules_check_runs_examples(tmp_path: Path, run_cli: RunCli) -> None:
    factory = TokenFactory()
    good = "tok_" + factory.clean_chars("abcdefghijklmnopqrstuvwxyz", 12)
    rule = {"id": "test-tok", "name": "Tok", "regex": "\\b(tok_[a-z]{12})\\b", "keywords": ["tok_"]}
    passing = rule_file(tmp_path / "ok.yaml", {**rule, "examples": [f"t = {good}"], "negative_examples": ["tok_ab"]})
    code, out, _ = run_cli("rules", "check", passing)
    assert code == 0
    assert "1 rules, 2 examples checked, 0 failures" in out

    failing = rule_file(tmp_path / "fail.yaml", {**rule, "examples": ["t = tok_short"], "negative_examples": [good]})
    code, out, _ = run_cli("rules", "check", failing)
    assert code == 2
    assert f"{failing}: rule test-tok: examples/0: does not produce a finding" in out
    assert f"{failing}: rule test-tok: negative_examples/0: produces a finding" in out
    assert "2 failures" in out


def test_rules_check_missing_file(tmp_path: Path, run_cli: RunCli) -> None:
    code, _, err = run_cli("rules", "check", tmp_path / "nope.yaml")
    assert code == 2
    assert "nope.yaml: rule file not found" in err


def test_rules_list_json_with_a_config(run_cli: RunCli, make_config: MakeConfig) -> None:
    code, out, _ = run_cli(
        "rules", "list", "--format", "json", "--config", make_config(["github-pat", "github-oauth-token"])
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == ["github-pat", "github-oauth-token"]
    assert rows[0]["severity"] == "critical" and rows[0]["keywords"] == ["ghp_"]


def test_no_command_prints_help_and_fails(run_cli: RunCli) -> None:
    code, out, err = run_cli()
    assert code == 2
    assert out == ""
    assert "usage: leakstop" in err


def test_rules_without_action_is_a_usage_error(run_cli: RunCli) -> None:
    code, _, err = run_cli("rules")
    assert code == 2
    assert "give an action" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"leakstop {scanner.__version__}"


def test_bad_size_argument_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scan", str(tmp_path), "--max-file-size", "12q"])
    assert exc.value.code == 2
    assert "not a size: '12q'" in capsys.readouterr().err


def test_internal_error_exits_3_without_the_secret(
    tmp_path: Path,
    run_cli: RunCli,
    make_config: MakeConfig,
    tokens: TokenFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = tokens.github_clean()
    (tmp_path / "a.env").write_text(f"T={token}\n")

    def boom(*args: object) -> None:
        raise RuntimeError(f"unexpected {token}")

    monkeypatch.setattr("scanner.pipeline.collect.Collector.add", boom)
    code, out, err = run_cli("scan", tmp_path, "--config", make_config())
    assert code == 3
    assert "internal error: RuntimeError at" in err
    assert token not in out + err


def test_interrupt_exits_130(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("scanner.pipeline.runner._Run.items", interrupt)
    code, _, err = run_cli("scan", tmp_path, "--config", make_config())
    assert code == 130
    assert "interrupted" in err


def test_unwritable_output_is_a_usage_error(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig) -> None:
    target = tmp_path / "missing-dir" / "report.json"
    code, _, err = run_cli("scan", tmp_path, "--config", make_config(), "-f", "json", "-o", target)
    assert code == 2
    assert f"{target}: cannot write report" in err


def test_output_file_gets_the_report_and_stderr_a_summary(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.env").write_text(f"T={tokens.github_clean()}\n")
    report = tmp_path / "report.json"
    code, out, err = run_cli("scan", tmp_path / "tree", "--config", make_config(), "-f", "json", "-o", report)
    assert code == 1
    assert out == ""
    assert err.strip() == f"leakstop: 1 findings (1 blocking) in 1 items; report written to {report}"
    assert json.loads(report.read_text())["summary"]["findings"] == 1


# --- inputs ---


def test_stdin(run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tokens.github_clean()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(f"first\nexport T={token}\n".encode())))
    code, report, _ = scan_json(run_cli, "-", "--config", make_config())
    assert code == 1
    assert found(report) == [("github-pat", "-", 2)]
    assert report["findings"][0]["location"]["column"] == 10


def test_exclude(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory) -> None:
    tree = write_files(
        tmp_path / "tree",
        {
            "src/app.env": f"T={tokens.github_clean()}\n",
            "fixtures/a.env": f"T={tokens.github_clean()}\n",
            "docs/b.md": f"T={tokens.github_clean()}\n",
        },
    )
    code, report, _ = scan_json(run_cli, tree, "--config", make_config(), "--exclude", "fixtures/", "--exclude", "*.md")
    assert code == 1
    assert [path for _, path, _ in found(report)] == [f"{tree}/src/app.env"]
    assert report["summary"]["skipped"]["ignored"] == 2
    assert report["summary"]["items_scanned"] == 1


def test_config_exclude(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory) -> None:
    tree = write_files(tmp_path / "tree", {"vendor/a.env": f"T={tokens.github_clean()}\n", "ok.txt": "hello\n"})
    code, report, _ = scan_json(run_cli, tree, "--config", make_config(exclude=["vendor/"]))
    assert code == 0
    assert report["findings"] == []


def test_gitignore_is_respected_by_default(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    tree = write_files(
        tmp_path / "tree",
        {
            ".gitignore": "*.local\n/build/\n",
            "settings.local": f"T={tokens.github_clean()}\n",
            "build/out.txt": f"T={tokens.github_clean()}\n",
            "sub/.gitignore": "secret.txt\n",
            "sub/secret.txt": f"T={tokens.github_clean()}\n",
            "sub/build/kept.txt": f"T={tokens.github_clean()}\n",
            "secret.txt": f"T={tokens.github_clean()}\n",
        },
    )
    config = make_config()
    code, report, _ = scan_json(run_cli, tree, "--config", config)
    assert code == 1
    assert [path for _, path, _ in found(report)] == [f"{tree}/secret.txt", f"{tree}/sub/build/kept.txt"]
    assert report["summary"]["skipped"]["ignored"] == 3

    code, report, _ = scan_json(run_cli, tree, "--config", config, "--no-gitignore")
    assert len(report["findings"]) == 5
    assert "ignored" not in report["summary"]["skipped"]


def test_config_can_turn_gitignore_off(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    tree = write_files(tmp_path / "tree", {".gitignore": "*.local\n", "a.local": f"T={tokens.github_clean()}\n"})
    code, _, _ = scan_json(run_cli, tree, "--config", make_config(respect_gitignore=False))
    assert code == 1


def test_git_directory_is_not_walked(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    tree = write_files(tmp_path / "tree", {".git/config": f"url = https://x:{tokens.github_clean()}@h/\n", "a": "b"})
    code, report, _ = scan_json(run_cli, tree, "--config", make_config())
    assert code == 0
    assert report["summary"]["items_scanned"] == 1


def test_binary_file_is_skipped_and_counted(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    tree = write_files(tmp_path / "tree", {"image.bin": b"\x89PNG\x00\x01 " + token.encode() + b"\n", "a.txt": "hi\n"})
    config = make_config()
    code, report, _ = scan_json(run_cli, tree, "--config", config)
    assert code == 0
    assert report["summary"]["skipped"] == {"binary": 1}
    assert report["summary"]["items_scanned"] == 1
    assert [(i["path"], i["reason"]) for i in report["issues"]] == [(f"{tree}/image.bin", "binary")]

    code, report, _ = scan_json(run_cli, tree, "--config", config, "--scan-binary")
    assert code == 1
    assert found(report) == [("github-pat", f"{tree}/image.bin", 1)]


def test_max_file_size_skip_is_counted_and_listed(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    tree = write_files(
        tmp_path / "tree",
        {"big.txt": "x" * 2000 + f"\nT={token}\n", "small.env": f"T={tokens.github_clean()}\n"},
    )
    config = make_config()
    code, report, _ = scan_json(run_cli, tree, "--config", config, "--max-file-size", "1k")
    assert code == 1
    assert found(report) == [("github-pat", f"{tree}/small.env", 1)]
    assert report["summary"]["skipped"] == {"too-large": 1}
    [issue] = report["issues"]
    assert issue["path"] == f"{tree}/big.txt" and issue["reason"] == "too-large"
    assert "1024-byte cap" in issue["message"]

    code, report, _ = scan_json(run_cli, tree, "--config", config, "--max-file-size", "0")  # 0: no cap
    assert len(report["findings"]) == 2 and report["issues"] == []


def test_invalid_utf8_file_is_still_scanned(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "latin1.cfg").write_bytes(b"caf\xe9=1\n\xff\xfe\xc3(token=" + token.encode() + b"\xff\n")
    code, report, _ = scan_json(run_cli, tmp_path / "tree", "--config", make_config())
    assert code == 1
    [finding] = report["findings"]
    assert (finding["location"]["line"], finding["location"]["column"]) == (2, 11)
    assert finding["secret_redacted"] == token[:4] + "…(40)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_in_a_tree_is_skipped(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    os.mkfifo(tree / "pipe")
    (tree / "a.txt").write_text("hello\n")
    code, report, _ = scan_json(run_cli, tree, "--config", make_config())
    assert code == 0
    assert report["summary"]["skipped"] == {"special-file": 1}
    assert [(i["path"], i["reason"]) for i in report["issues"]] == [(f"{tree}/pipe", "special-file")]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_given_as_a_path_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    skips = Skips()
    chunks: list[object] = []
    worker = threading.Thread(target=lambda: chunks.extend(FileSource([str(fifo)], FileSourceOptions()).items(skips)))
    worker.start()
    worker.join(timeout=1)
    blocked = worker.is_alive()
    if blocked:  # release the reader: a writer that opens and closes gives it end-of-file
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=5)
    assert not blocked
    assert chunks == [] and skips.stats.skipped["special-file"] == 1


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_symlinks_are_not_followed(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    outside = write_files(tmp_path / "outside", {"secret.env": f"T={tokens.github_clean()}\n"})
    tree = write_files(tmp_path / "tree", {"a.txt": "hello\n"})
    (tree / "link.env").symlink_to(outside / "secret.env")
    (tree / "linkdir").symlink_to(outside, target_is_directory=True)
    code, report, _ = scan_json(run_cli, tree, "--config", make_config())
    assert code == 0
    assert report["findings"] == []
    assert report["summary"]["skipped"] == {"symlink": 2}
    assert sorted(i["path"] for i in report["issues"]) == [f"{tree}/link.env", f"{tree}/linkdir"]


# --- policy from the config ---


def _repo_with_an_allowlisted_fixture(tmp_path: Path, tokens: TokenFactory) -> Path:
    """A repository whose .leakstop.yaml allowlists tests/fixtures/, which holds a token."""
    repo = write_files(
        tmp_path / "repo",
        {
            ".leakstop.yaml": config_text(allowlist={"paths": ["tests/fixtures/"]}),
            "tests/fixtures/token.env": f"T={tokens.github_clean()}\n",
        },
    )
    (repo / ".git").mkdir()
    return repo


def test_allowlist_paths_turn_a_finding_into_allow(
    tmp_path: Path,
    run_cli: RunCli,
    make_config: MakeConfig,
    tokens: TokenFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = _repo_with_an_allowlisted_fixture(tmp_path, tokens)
    monkeypatch.chdir(repo)
    code, report, _ = scan_json(run_cli, ".")  # the config is found at the repository root
    assert code == 0
    [finding] = report["findings"]
    assert (finding["verdict"], finding["reason"]) == ("allow", "allowlist:paths")
    assert finding["location"]["path"] == "tests/fixtures/token.env"
    assert (report["summary"]["allow"], report["summary"]["block"], report["summary"]["blocked"]) == (
        1,
        0,
        False,
    )

    code, _, _ = scan_json(run_cli, ".", "--config", make_config())
    assert code == 1  # without the allowlist it blocks


def test_allowlist_paths_are_relative_to_the_repository_root(
    tmp_path: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    repo = _repo_with_an_allowlisted_fixture(tmp_path, tokens)
    code, report, _ = scan_json(run_cli, repo)  # an absolute path, as CI passes it
    assert [f["verdict"] for f in report["findings"]] == ["allow"]
    assert code == 0


def test_allowlist_stopwords_and_regexes(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    tree = write_files(tmp_path / "tree", {"a.env": f"T={token}\n"})
    code, report, _ = scan_json(run_cli, tree, "--config", make_config(allowlist={"regexes": [f"^{token[:12]}"]}))
    assert code == 0
    assert [(f["verdict"], f["reason"]) for f in report["findings"]] == [("allow", "allowlist:secret")]
    code, _, _ = scan_json(run_cli, tree, "--config", make_config(allowlist={"stopwords": [token[4:10].upper()]}))
    assert code == 0


def test_disabled_rules(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory) -> None:
    tree = write_files(tmp_path / "tree", {"a.env": f"T={tokens.github_clean()}\nO={tokens.github_clean('gho_')}\n"})
    config = make_config(["github-pat", "github-oauth-token"], disabled_rules=["github-pat"])
    code, report, _ = scan_json(run_cli, tree, "--config", config)
    assert code == 1
    assert found(report) == [("github-oauth-token", f"{tree}/a.env", 2)]


def test_disabled_rules_unknown_id_suggests_a_close_match(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig
) -> None:
    config = make_config(disabled_rules=["github-pta"])
    code, out, err = run_cli("scan", tmp_path, "--config", config)
    assert code == 2
    assert out == ""
    assert err.strip() == (
        f"leakstop: error: {config}: disabled_rules: unknown rule id 'github-pta' (did you mean github-pat?)"
    )


def test_disabled_rules_unknown_id_without_a_close_match(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig
) -> None:
    code, _, err = run_cli("scan", tmp_path, "--config", make_config(disabled_rules=["zzz-nothing"]))
    assert code == 2
    assert "unknown rule id 'zzz-nothing'" in err and "did you mean" not in err


def test_rule_overrides_change_a_built_in_rule_in_place(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    token = tokens.github_clean()
    tree = write_files(tmp_path / "tree", {"a.env": f"T={token}\n"})
    lowered = make_config(rule_overrides=[{"id": "github-pat", "severity": "info", "tags": ["team-x"]}])
    code, report, _ = scan_json(run_cli, tree, "--config", lowered)
    [finding] = report["findings"]
    assert (code, finding["rule"]["id"], finding["rule"]["severity"], finding["verdict"]) == (
        0,
        "github-pat",
        "info",
        "warn",  # info is below the default block threshold
    )
    # A narrower regex (a team's own suffix): only the second token matches it.
    suffixed = tokens.github_clean()
    write_files(tree, {"a.env": f"T={token}\nU={suffixed}TEAM\n"})
    narrowed = make_config(rule_overrides=[{"id": "github-pat", "regex": r"\b(ghp_[A-Za-z0-9]{36})TEAM\b"}])
    code, report, _ = scan_json(run_cli, tree, "--config", narrowed)
    assert code == 1
    assert [(f["rule"]["id"], f["location"]["line"]) for f in report["findings"]] == [("github-pat", 2)]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"id": "github-pta", "severity": "low"}, "rule_overrides/0/id: unknown rule id 'github-pta' (did you mean"),
        ({"id": "github-pat", "regex": "ghp_("}, "rule_overrides/0: rule github-pat: regex: invalid"),
        ({"id": "github-pat", "regex": r"ghp_(\w+\s?)*x"}, "rule_overrides/0 (rule github-pat): regex: may backtrack"),
    ],
)
def test_rule_overrides_errors_name_the_override(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, override: dict[str, str], message: str
) -> None:
    config = make_config(rule_overrides=[override])
    code, out, err = run_cli("scan", tmp_path, "--config", config)
    assert (code, out) == (2, "")
    assert err.startswith(f"leakstop: error: {config}: {message}"), err


def test_info_rules_warn_but_pass(tmp_path: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    rule = {**builtin_rule("github-pat"), "id": "test-info-pat", "severity": "info"}
    config = write_files(tmp_path / "config", {"leakstop.yaml": config_text([], rules=[rule])}) / "leakstop.yaml"
    tree = write_files(tmp_path / "tree", {"a.env": f"T={tokens.github_clean()}\n"})
    code, report, _ = scan_json(run_cli, tree, "--config", config)
    assert code == 0
    assert [f["verdict"] for f in report["findings"]] == ["warn"]
