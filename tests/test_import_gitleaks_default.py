"""``leakstop config import-gitleaks`` on gitleaks' own default config (vendored: tests/data/gitleaks/), and the
rewrites that keep its rules: mid-pattern flags scoped, rule paths kept, generic rules flagged, ReDoS shapes
collapsed or left out (issue #13, item 5). The written config must always load."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
from helpers import RunCli, write_files
from test_migrate import gitleaks
from tokens import ALNUM, TokenFactory

from scanner.cli import main
from scanner.pipeline.setup import build_ruleset
from scanner.policy.config import load_config
from scanner.policy.migrate.gitleaks_config import convert
from scanner.policy.migrate.gitleaks_rewrite import collapse_nested, path_limit, scope_flags
from scanner.policy.migrate.goregex import translate_regex

DEFAULT_TOML = Path(__file__).parent / "data" / "gitleaks" / "gitleaks.toml"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The default config converted once for the module: the output file and the command's stderr."""
    out = tmp_path_factory.mktemp("import") / "converted.yaml"
    err = io.StringIO()  # capsys is function-scoped; the conversion runs once per module
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["config", "import-gitleaks", str(DEFAULT_TOML), "--output", str(out)])
    assert code == 0
    return out, err.getvalue()


def test_the_default_config_converts_and_the_result_loads(imported: tuple[Path, str]) -> None:
    out, err = imported
    summary = err.splitlines()[0]
    found = re.search(r": (\d+) rules \((\d+) kept as they are, (\d+) rewritten\), (\d+) left out;", summary)
    assert found, summary
    rules, kept, rewritten, left_out = (int(n) for n in found.groups())
    source_rules = DEFAULT_TOML.read_text(encoding="utf-8").count("[[rules]]")
    assert rules + left_out == source_rules and kept + rewritten == rules
    assert rules >= 0.97 * source_rules  # nearly everything converts
    assert rewritten >= 20  # the (?i) mid-pattern rules, once dropped, and the path-limited rules
    lines = err.splitlines()
    assert "rewritten (same meaning in our syntax):" in lines and "not converted:" in lines
    # Every rule left out is named with its reason; nothing is dropped silently.
    assert sum("rule left out" in line for line in lines) == left_out
    config = load_config(out)
    ruleset = build_ruleset(config)
    ids = {rule.id for rule in ruleset.rules}
    assert {"sendgrid-api-token", "nuget-config-password", "generic-api-key"} <= ids
    assert ruleset.by_id["generic-api-key"].spec.generic
    assert not ruleset.by_id["sendgrid-api-token"].spec.generic
    header = out.read_text(encoding="utf-8")
    assert "# Rewritten (same meaning in our syntax):" in header and "# Not converted:" in header


def test_rewritten_rules_find_what_gitleaks_finds(
    imported: tuple[Path, str], tmp_path: Path, run_cli: RunCli, tokens: TokenFactory
) -> None:
    out, _ = imported
    alphabet = ALNUM + "_-"
    sendgrid = f"SG.{tokens.chars(alphabet, 22)}.{tokens.chars(alphabet, 43)}"  # mixed case: (?i) scoped
    password = tokens.chars(ALNUM, 14)
    line = f'  <add key="ClearTextPassword" value="{password}" />\n'
    tree = tmp_path / "repo"
    write_files(
        tree,
        {
            "app/settings.env": f"SENDGRID_API_KEY={sendgrid}\n",
            "pkg/NuGet.Config": f"<configuration>\n{line}</configuration>\n",
            "docs/example.xml": f"<configuration>\n{line}</configuration>\n",  # outside the rule's path
        },
    )
    proc = gitleaks(tree, "dir", ".", "--config", str(DEFAULT_TOML), "--report-format", "json", "--report-path", "-")
    theirs = {(r["RuleID"], r["File"]) for r in json.loads(proc.stdout)}
    code, stdout, stderr = run_cli("scan", "--format", "json", "--config", out, tree)
    assert code == 1, stderr
    ours = {(f["rule"]["id"], f["location"]["path"].split("repo/", 1)[-1]) for f in json.loads(stdout)["findings"]}
    nuget_rule = "nuget-config-" + "password"  # a rule id, not an assignment
    expected = {("sendgrid-api-token", "app/settings.env"), (nuget_rule, "pkg/NuGet.Config")}
    assert expected <= theirs and expected <= ours
    assert not any(path == "docs/example.xml" for _, path in ours | theirs)


@pytest.mark.parametrize(
    ("go", "python"),
    [
        ("(?i)abc", "(?i)abc"),  # at the start Python takes it as it is
        ("x(?i)y", "x(?i:y)"),
        ("a(?i)b|c", "a(?i:b)|(?i:c)"),  # Go: the flag holds to the end of the group, later alternatives too
        ("(a|b(?i)c|d)e", "(a|b(?i:c)|(?i:d))e"),
        ("[(?i)]x(?s)y", "[(?i)]x(?s:y)"),  # inside a class it is text
        (r"\((?i)x", r"\((?i:x)"),
        ("a(?-i)b", "a(?-i:b)"),
        ("[](?i)]x(?i)y", "[](?i)]x(?i:y)"),  # ']' first in a class is a member, not its end
        ("[^]x]+(?m)$", "[^]x]+(?m:$)"),
    ],
)
def test_mid_pattern_flags_are_scoped(go: str, python: str) -> None:
    assert scope_flags(go) == python
    text, note = translate_regex(go)
    assert text == python and bool(note) == (go != python)


def test_scoped_flags_match_as_go_reads_them() -> None:
    text, _ = translate_regex(r"\b(SG\.(?i)[a-z0-9]{4})\b|key=(?i)abc")
    assert text is not None
    rx = re.compile(text)
    assert rx.search("SG.AbCd") and rx.search("key=ABC")
    assert not rx.search("sg.abcd")  # the part before the flag stays case-sensitive
    assert not re.compile(translate_regex("a(?i)b|c")[0] or "").fullmatch("A")


def test_a_rule_path_becomes_an_allowlist_that_holds_where_the_path_does_not_match() -> None:
    rx = re.compile(path_limit(r"(?i)nuget\.config$"))
    assert not rx.search("pkg/NuGet.Config") and not rx.search("nuget.config")
    assert rx.search("docs/example.xml") and rx.search("nuget.config.bak")
    anchored = re.compile(path_limit(r"^deploy/.*\.tf$"))
    assert not anchored.search("deploy/main.tf") and anchored.search("x/deploy/main.tf")


def test_nested_quantifiers_over_one_class_are_collapsed() -> None:
    assert collapse_nested("key=(?:[a-z0-9]+)+;") == "key=[a-z0-9]+;"
    assert collapse_nested(r"(\w+)*x") == r"(\w*)x"
    assert collapse_nested("(?:ab+)+") == "(?:ab+)+"  # more than one atom: left as it is


def test_a_rule_the_redos_check_refuses_is_rewritten_or_left_out() -> None:
    toml = """\
[[rules]]
id = "collapsible"
regex = '''acme_(?:[a-z0-9]+)+\\b'''
keywords = ["acme_"]

[[rules]]
id = "hopeless"
regex = '''zed_(?:a|aa)+c'''
keywords = ["zed_"]

[[rules]]
id = "generic-acme-key"
regex = '''acmekey=([a-z0-9]{20})'''
keywords = ["acmekey"]
"""
    conversion = convert(toml, "g.toml", set())
    rules = {rule["id"]: rule for rule in conversion.doc["rules"]}
    assert rules["collapsible"]["regex"] == r"acme_[a-z0-9]+\b"
    assert "hopeless" not in rules and conversion.left_out == ["hopeless"]
    assert rules["generic-acme-key"]["generic"] is True and "generic" not in rules["collapsible"]
    assert any(line.startswith("[[rules]] collapsible regex: ") for line in conversion.rewritten)
    assert any(line.startswith("[[rules]] hopeless: ") and "backtrack" in line for line in conversion.not_converted)


def test_a_toml_error_names_line_and_column(tmp_path: Path, run_cli: RunCli) -> None:
    source = tmp_path / "gitleaks.toml"
    source.write_text('title = "x"\n\n[[rules]]\nid = "a"\nregex = \n', encoding="utf-8")
    code, out, err = run_cli("config", "import-gitleaks", source)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and re.search(r"line 5, column \d+", err), err


def test_rules_that_cannot_keep_their_meaning_are_left_out_and_counted() -> None:
    toml = """\
[[rules]]
id = "greek-path"
regex = '''key=([a-z0-9]{20})'''
keywords = ["key="]
path = '''\\p{Greek}+\\.cfg$'''

[[rules]]
id = "no-literal"
regex = '''[a-z]{3}[0-9]{20}'''
"""
    conversion = convert(toml, "g.toml", set())
    assert "rules" not in conversion.doc and conversion.left_out == ["greek-path", "no-literal"]
    assert conversion.summary() == "0 rules (0 kept as they are, 0 rewritten), 2 left out; 0 allowlists"
    assert any("greek-path path: uses Unicode classes" in line for line in conversion.not_converted)
    assert any("no-literal: no keywords" in line for line in conversion.not_converted)
