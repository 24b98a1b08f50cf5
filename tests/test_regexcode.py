"""``scanner.regexcode``: a pattern built from stored code is the pattern ``re.compile`` makes (for every built-in
rule's regex and allowlists), a warm table parses nothing, and damaged or foreign entries are compiled again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scanner import pycachefile, regexcode
from scanner.ruleset.load import load_ruleset
from tests.gitrepo import Repo, isolate_git
from tests.tokens import TokenFactory

pytestmark = pytest.mark.skipif(not regexcode._STORABLE, reason="no stored code on this Python (3.10): re.compile")

SAMPLES: list[tuple[str | bytes, int]] = [
    (r"(?P<name>\w+)=(?P<value>\d+)", 0),
    (r"(?i)^[0-9a-f]{8,}$", 0),
    (r"token\s*[:=]\s*(\S+)", re.IGNORECASE | re.MULTILINE),
    (r"(?<=[a-z0-9])(?=[A-Z])", 0),
    (rb"(?:ghp|gho)_[A-Za-z0-9]{36}", 0),
    (r"é+\b", re.ASCII),
    (r"(.)\1{5,}", 0),
]


def builtin_patterns() -> list[tuple[str | bytes, int]]:
    found: list[tuple[str | bytes, int]] = []
    for rule in load_ruleset().rules:
        found.append((rule.spec.regex.encode(), 0))
        found += [(rx, 0) for rx in (*rule.spec.allow_regexes, *rule.spec.allow_paths)]
    return found


def test_every_builtin_pattern_is_what_re_compiles() -> None:
    """Patterns compare equal only when flags, groups and the code ``_sre`` runs are equal."""
    patterns = builtin_patterns() + SAMPLES
    assert len(patterns) > 600
    table: dict[regexcode.Key, bytes] = {}
    cold = [regexcode.compile_with({}, table, p, f) for p, f in patterns]
    warm_added: dict[regexcode.Key, bytes] = {}
    warm = [regexcode.compile_with(table, warm_added, p, f) for p, f in patterns]
    assert warm_added == {}  # a warm table compiles nothing
    for (pattern, flags), first, second in zip(patterns, cold, warm, strict=True):
        real = re.compile(pattern, flags)
        assert first == real and second == real, pattern
        assert (second.groups, second.groupindex, second.flags) == (real.groups, real.groupindex, real.flags)


def test_a_warm_table_does_not_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    table: dict[regexcode.Key, bytes] = {}
    regexcode.compile_with({}, table, SAMPLES[0][0], 0)

    def refuse(*args: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(regexcode._parser, "parse", refuse)
    found = regexcode.compile_with(table, {}, SAMPLES[0][0], 0).search("x a=12")
    assert found is not None and found.group("value") == "12"


def test_a_damaged_entry_is_compiled_again() -> None:
    """Every single flipped bit of an entry is caught (its CRC-32) before ``_sre`` sees the code."""
    pattern = r"(?P<key>[A-Za-z]+)_[0-9]{3,}"
    entry = regexcode.generate(pattern, 0)
    for index in range(len(entry)):
        for bit in (0, 3, 7):
            damaged = bytearray(entry)
            damaged[index] ^= 1 << bit
            added: dict[regexcode.Key, bytes] = {}
            assert regexcode.compile_with({(pattern, 0): bytes(damaged)}, added, pattern, 0) == re.compile(pattern)
            assert added == {(pattern, 0): entry}  # recompiled and recorded, to be stored again


@pytest.mark.parametrize(
    "stored",
    [
        None,
        ["not", "a", "table"],
        ("another header", {}),
        (regexcode.HEADER, {("x", 0): "not bytes"}),
        (regexcode.HEADER, {"x": b"entry"}),
        (regexcode.HEADER, {(str(i), 0): b"" for i in range(regexcode.MAX_ENTRIES + 1)}),
    ],
)
def test_a_table_that_is_not_ours_is_ignored(tmp_path: Path, stored: object) -> None:
    path = str(tmp_path / "table.marshal")
    if stored is not None:
        pycachefile.write(path, stored)
    assert regexcode.read_table(path) == {}


def test_the_table_round_trips(tmp_path: Path) -> None:
    path = str(tmp_path / "table.marshal")
    table = {(p, int(f)): regexcode.generate(p, int(f)) for p, f in SAMPLES}
    pycachefile.write(path, (regexcode.HEADER, table))
    assert regexcode.read_table(path) == table


def test_a_fresh_process_stores_then_reuses(tmp_path: Path) -> None:
    """The installed path end to end, through its callers (a rule's regex and allowlist, a ``LazyPattern``): a
    first process compiles and stores at exit, a second builds them from the table and parses nothing (its
    ``_parser.parse`` is gone once the ruleset is loaded)."""
    path = tmp_path / "regex-code.marshal"
    program = textwrap.dedent(
        f"""
        import sys
        from scanner import pycachefile, regexcode
        from scanner.lazyre import LazyPattern
        from scanner.ruleset.load import load_ruleset
        pycachefile.table_path = lambda stem: {str(tmp_path)!r} + f'/{{stem}}.marshal'
        rule = next(r for r in load_ruleset().rules if r.spec.generic and r.spec.allow_regexes)
        if sys.argv[1] == "warm":
            regexcode._parser.parse = None  # a call would fail: the patterns must come from the table
        found = LazyPattern(rb"secret[=:](?P<v>[0-9a-f]{{8}})").search(b"x secret=deadbeef")
        print(found.group("v").decode(), rule.pattern.pattern == rule.spec.regex.encode(), len(rule.allow_regexes))
        """
    )
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # stored as bytecode is
    answers = []
    for phase in ("cold", "warm"):
        done = subprocess.run(
            [sys.executable, "-c", program, phase], capture_output=True, text=True, check=False, env=environ
        )
        assert done.returncode == 0, done.stderr
        answers.append(done.stdout.split())
        assert path.exists()
    assert answers[0] == answers[1] and answers[0][:2] == ["deadbeef", "True"] and int(answers[0][2]) > 0
    # The rule's regex, its allowlist's and the LazyPattern's (more when the rules were parsed: a cold cache).
    stored = regexcode.read_table(str(path))
    assert len(stored) >= 2 + int(answers[0][2]) and (rb"secret[=:](?P<v>[0-9a-f]{8})", 0) in stored


def test_history_workers_store_what_they_compiled(
    tmp_path: Path, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forked worker skips atexit: the patterns only a worker compiled (a rule that matched in a file, never in a
    commit message, which the parent scans) reach the table when the worker ends."""
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    repo.commit("settings", {"settings.py": f'GITHUB_TOKEN = "{tokens.github()}"\n'})
    path = tmp_path / "regex-code.marshal"
    argv = ["scan", "--history", "--workers", "2", "--no-progress", "-f", "json", "-o", os.devnull, str(repo.path)]
    program = textwrap.dedent(
        f"""
        import sys
        from scanner import pycachefile
        from scanner.cli import main
        pycachefile.table_path = lambda stem: {str(tmp_path)!r} + f'/{{stem}}.marshal'
        sys.exit(main({argv!r}))
        """
    )
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False, env=environ)
    assert done.returncode == 1, done.stderr  # the token blocks
    github = next(r for r in load_ruleset().rules if r.spec.id == "github-pat")
    assert (github.spec.regex.encode(), 0) in regexcode.read_table(str(path))
