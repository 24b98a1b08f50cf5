"""The built-in rules' table beside the package's bytecode (``scanner.ruleset.builtintable``): a start with a
current table gives the rules the rule files give without reading them; a changed, added or removed rule file, a
rule file too young to trust (racy), a damaged table or another version is a miss; nothing is written where Python
writes no bytecode."""

from __future__ import annotations

import copy
import json
import pickle
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import BUILTIN_RULES, RunCli
from tokens import TokenFactory

from scanner.errors import ConfigError
from scanner.ruleset import builtintable, load, speccache, spectext
from scanner.ruleset.load import SPEC_FORMAT, load_rule_files, load_ruleset, rule_files
from scanner.ruleset.model import RuleSpec


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The table in ``tmp_path``, written as where Python writes bytecode; a fresh cache directory."""
    path = tmp_path / "pycache" / "builtin-rules.marshal"
    monkeypatch.setattr(builtintable, "table_path", lambda: str(path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(tmp_path / "cache"))
    return path


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two built-in rule files copied to a directory that stands for the package's built-in rules, settled at
    once (no file counts as too young) so a table can be written."""
    directory = tmp_path / "rules"
    directory.mkdir()
    for name in ("terraform.yaml", "databricks.yaml"):
        shutil.copy(BUILTIN_RULES / name, directory / name)
    monkeypatch.setattr(load, "builtin_rules_dir", lambda: directory)
    monkeypatch.setattr(builtintable, "SETTLE_NS", 0)
    time.sleep(0.02)  # the files' times are now in the past
    return directory


def _ids(directory: Path) -> list[tuple[str, str]]:
    return [(rule.id, rule.spec.name) for rule in load_ruleset().rules]


def test_the_table_gives_the_rules_the_files_give(table: Path, tmp_path: Path) -> None:
    """The real built-in rules (their files are old): the first load writes the table, the second takes the same
    specs and the same hash (it keys the Hyperscan cache) from it, even with the cache directory gone."""
    first = load_ruleset()
    assert table.is_file()
    shutil.rmtree(tmp_path / "cache")
    second = load_ruleset()
    assert not (tmp_path / "cache").exists()  # not read, not rewritten: the table answered
    assert second.hash == first.hash
    assert [rule.spec for rule in second.rules] == [rule.spec for rule in first.rules]
    assert [rule.spec for rule in second.rules] == [
        rule.spec for rule in load.compile_specs(load_rule_files(rule_files(load.builtin_rules_dir())))
    ]
    assert [(r.secret_group, r.keywords) for r in second.rules] == [(r.secret_group, r.keywords) for r in first.rules]
    assert [r.pattern.pattern for r in second.rules[:3]] == [r.spec.regex.encode() for r in first.rules[:3]]


def test_a_stored_spec_without_its_secret_group_is_a_miss() -> None:
    """Every spec the table stores passed ``compile``, which resolves the group; one that did not is no rule."""
    spec = RuleSpec("r", "R", "(a)", ("a",), "high", "high")
    assert speccache.stored_rules([spec]) is None
    resolved = replace(spec, secret_group=1)
    rules = speccache.stored_rules([resolved])
    assert rules is not None and [(r.spec, r.secret_group, r.keywords) for r in rules] == [(resolved, 1, (b"a",))]


def test_a_changed_rule_file_is_a_miss(table: Path, rules_dir: Path) -> None:
    before = _ids(rules_dir)
    assert table.is_file() and ("databricks-pat", "Databricks personal access token") in before
    path = rules_dir / "databricks.yaml"
    text = path.read_text()
    changed = text.replace(
        "name: Databricks personal access token", "name: Databricks personal access t0ken"
    )  # the same size
    assert changed != text and len(changed) == len(text)
    path.write_text(changed)
    assert ("databricks-pat", "Databricks personal access t0ken") in _ids(rules_dir)


def test_an_added_or_removed_rule_file_is_a_miss(table: Path, rules_dir: Path) -> None:
    both = _ids(rules_dir)
    (rules_dir / "terraform.yaml").rename(rules_dir / "terraform.txt")  # no longer a rule file
    without = _ids(rules_dir)
    assert without and set(without) < set(both)
    (rules_dir / "terraform.txt").rename(rules_dir / "terraform.yaml")
    assert _ids(rules_dir) == both


def test_a_young_rule_file_is_not_recorded(table: Path, rules_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file changed within ``SETTLE_NS`` of being read could change again without changing its stat (a coarse
    clock): the rules are loaded, the table is not written."""
    monkeypatch.setattr(builtintable, "SETTLE_NS", 60 * 10**9)  # the files are a few ms old
    assert _ids(rules_dir)
    assert not table.exists()


def test_a_damaged_table_is_a_miss(table: Path, rules_dir: Path) -> None:
    expected = _ids(rules_dir)
    data = table.read_bytes()
    cuts = [data.index(text) for text in (b"databricks-pat", b"dapi")]  # an id, a regex
    for damaged in (data[: len(data) // 2], *(data[:at] + b"X" + data[at + 1 :] for at in cuts), b"", b"garbage"):
        table.write_bytes(damaged)
        assert _ids(rules_dir) == expected
        assert table.read_bytes() == data  # written again


def test_a_damaged_or_missing_text_part_is_a_miss(table: Path, rules_dir: Path) -> None:
    """The rules load from the table; their text, asked for, comes from the rule files, and both are written
    again."""
    expected = _ids(rules_dir)
    text = Path(builtintable.text_path())
    data, stored = text.read_bytes(), table.read_bytes()
    at = data.index(b"Databricks personal access token")
    for damaged in (data[:at] + b"X" + data[at + 1 :], data[: len(data) // 2], b"garbage", None):
        if damaged is None:
            text.unlink()
        else:
            text.write_bytes(damaged)
        specs = [rule.spec for rule in load_ruleset().rules]
        assert all(spectext.UNREAD in spec.__dict__ for spec in specs)  # from the table
        assert [(spec.id, spec.name) for spec in specs] == expected
        assert text.read_bytes() == data and table.read_bytes() == stored


def test_text_fields_are_read_when_first_asked_for(table: Path, rules_dir: Path) -> None:
    """A load from the table holds no rule's name, description, tags, examples or references until one is asked
    for; then every field, the rule's report (``info``), equality, a copy and a pickle are what the files give."""
    load_ruleset()
    stored = [rule.spec for rule in load_ruleset().rules]
    assert stored and all(spectext.UNREAD in spec.__dict__ and "examples" not in spec.__dict__ for spec in stored)
    from_files = [rule.spec for rule in load.compile_specs(load_rule_files(rule_files(rules_dir)))]
    assert stored[0].info() == from_files[0].info()
    assert spectext.UNREAD not in stored[0].__dict__ and spectext.UNREAD in stored[1].__dict__  # one rule read
    assert pickle.loads(pickle.dumps(stored[1])) == from_files[1]
    assert [copy.copy(spec) for spec in stored] == stored == from_files
    assert [spec.examples for spec in stored] == [spec.examples for spec in from_files]
    with pytest.raises(AttributeError):
        _ = stored[0].exmaples


def test_a_rule_gone_when_its_text_is_read_is_an_error(table: Path, rules_dir: Path) -> None:
    """A damaged text part read after a rule file lost a rule: the rule's text is nowhere, and that is said."""
    load_ruleset()
    Path(builtintable.text_path()).write_bytes(b"garbage")
    stored = {rule.id: rule.spec for rule in load_ruleset().rules}
    (rules_dir / "databricks.yaml").unlink()
    assert stored["terraform-sensitive-in-state"].name
    with pytest.raises(ConfigError, match="databricks-pat: gone from the rule files"):
        _ = stored["databricks-pat"].description


def test_another_version_or_format_is_a_miss(table: Path, rules_dir: Path) -> None:
    assert _ids(rules_dir)
    files = rule_files(rules_dir)
    assert builtintable.read(builtintable.signature(files, SPEC_FORMAT), list) is not None
    assert builtintable.read(builtintable.signature(files, SPEC_FORMAT + 1), list) is None
    assert builtintable.read(builtintable.signature(files[:1], SPEC_FORMAT), list) is None


def test_nothing_is_written_where_python_writes_no_bytecode(
    table: Path, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert _ids(rules_dir)
    assert not table.exists()


def test_rule_files_are_the_yaml_files_by_name(tmp_path: Path) -> None:
    for name in ("b.yml", "a.yaml", ".yaml", "c.txt", "yaml"):
        (tmp_path / name).write_text("")
    (tmp_path / "d.yaml").mkdir()
    (tmp_path / "e.yaml").symlink_to(tmp_path / "a.yaml")
    assert [p.name for p in rule_files(tmp_path)] == ["a.yaml", "b.yml", "e.yaml"]
    assert rule_files(tmp_path)[0] == tmp_path / "a.yaml"


def test_a_scan_reads_the_text_only_to_report_a_finding(
    table: Path, tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scan without findings never reads the text file; one with a finding reads it and reports the rule's name
    and tags as the rule files give them."""
    load_ruleset()  # writes the table
    read: list[str] = []
    real = spectext.pycachefile.read
    monkeypatch.setattr(spectext.pycachefile, "read", lambda path: read.append(path) or real(path))
    text = builtintable.text_path()
    clean, leaky = tmp_path / "clean.txt", tmp_path / "leaky.env"
    clean.write_text("nothing to see\n")
    leaky.write_text(f"GITHUB_TOKEN={TokenFactory(3).github()}\n")
    assert run_cli("scan", clean, "--format", "json")[0] == 0
    assert text not in read
    code, out, _ = run_cli("scan", leaky, "--format", "json")
    rule = next(r for r in load_rule_files(rule_files(load.builtin_rules_dir())) if r.id == "github-pat")
    assert code == 1 and read.count(text) == 1
    assert [(f["rule"]["name"], f["rule"]["tags"]) for f in json.loads(out)["findings"]] == [
        (rule.name, list(rule.tags))
    ]
