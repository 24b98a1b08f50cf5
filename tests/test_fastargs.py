"""The commit hook's argument parser (``scanner.cli.fastargs``) against the full argparse parser: wherever the
fast one answers, it answers what argparse does; where it cannot be sure it steps aside, and the run (exit code,
output, messages) is the same either way."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tokens import TokenFactory

from scanner.cli import build_parser, main
from scanner.cli.fastargs import CHOICES, DEFAULTS, FLAGS, FORMATS, VALUES, parse_hook_form
from scanner.cli.parser import parse
from scanner.report import REPORTERS
from tests.test_git import Repo, isolate_git


def full(argv: list[str]) -> dict[str, object] | int:
    """argparse's namespace for ``argv`` as a dict, or its exit code when it refuses them."""
    try:
        return vars(parse(build_parser("scan"), argv))
    except SystemExit as stop:
        return int(stop.code or 0)


def test_the_defaults_are_the_full_parsers() -> None:
    assert vars(parse(build_parser("scan"), ["scan"])) == DEFAULTS


def test_the_formats_are_the_reporters() -> None:
    assert list(FORMATS) == list(REPORTERS)


def test_every_option_it_reads_is_one_the_full_parser_has_with_that_destination() -> None:
    parser = build_parser("scan")
    scan = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["scan"]
    dests = {name: action.dest for action in scan._actions for name in action.option_strings}
    known = {**FLAGS, **VALUES, **{name: dest for name, (dest, _) in CHOICES.items()}}
    assert {name: dests.get(name) for name in known} == known


@pytest.mark.parametrize(
    "argv",
    [
        ["scan", "--staged"],
        ["scan", "--staged", "--no-progress"],
        ["scan", "--staged", "--no-progress", "--format", "json", "--output", "r.json"],
        ["scan", "small.py"],
        ["scan", "a.py", "b.py", "-v"],
        ["scan", "-f", "sarif", "-o", "out", "x.py"],
        ["scan", "--format=gitlab", "--exclude", "a/*", "--exclude=b", "x"],
        ["scan", "--staged", "-c", "policy.yaml", "--baseline", "b.json", "--branch", "main", "--color", "never"],
        ["scan", "--staged", "--staged", "--format", "json", "--format", "text"],
        ["scan", "--show-secrets", "--scan-binary", "--no-gitignore", "--no-config", "--no-baseline", "dir"],
        ["scan", "--no-progress", "--", "a.py", "src/b.py"],  # pre-commit's files hook (.pre-commit-hooks.yaml)
        ["scan", "--", "x=y"],
        ["scan", "--history"],  # a history scan's plain form: the benchmark's and CI's
        ["scan", "--history", "repo", "-f", "json", "-o", "r.json", "--history"],
    ],
)
def test_the_hook_forms_parse_as_argparse_parses_them(argv: list[str]) -> None:
    fast = parse_hook_form(argv)
    assert fast is not None
    assert vars(fast) == full(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["scan"],  # no arguments: the full parser (cheap enough, and its own defaults)
        ["scan", "--stag"],  # an abbreviation
        ["scan", "--stagd"],  # a mistake: argparse's suggestion
        ["scan", "-vf", "json"],  # clustered short options
        ["scan", "-fjson"],
        ["scan", "--format", "jsn"],  # a bad choice: argparse names the closest
        ["scan", "--format"],  # a missing value
        ["scan", "--output", "-"],  # a value that looks like an option
        ["scan", "--output="],
        ["scan", "--staged=yes"],
        ["scan", "a", "--staged", "b"],  # two blocks of paths
        ["scan", "a", "--", "b"],
        ["scan", "--"],
        ["scan", "--", "a", "--", "b"],
        ["scan", "--", "-b"],
        ["scan", "-"],
        ["scan", "--history", "--staged"],  # two modes: argparse's message
        ["scan", "--staged", "x", "--history"],
        ["scan", "--history", "--workers", "2"],  # an option the fast path does not take
        ["scan", "--max-file-size", "1M", "x"],
        ["--version"],
        ["rules", "list"],
    ],
)
def test_anything_else_goes_to_the_full_parser(argv: list[str]) -> None:
    assert parse_hook_form(argv) is None


_WORDS = [
    *FLAGS,
    *VALUES,
    *CHOICES,
    *FORMATS,
    "auto",
    "never",
    "--format=json",
    "--exclude=x",
    "--output=",
    "--stag",
    "--history",
    "-vf",
    "--",
    "-",
    "-1",
    "a.py",
    "dir/b.py",
    "",
    "x=y",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=8))
@example(["a", "--staged", "b"])
@example(["-o", "out", "a", "b", "--no-progress"])
@example(["--no-progress", "--", "a.py", "dir/b.py"])
def test_where_it_answers_argparse_answers_the_same(words: list[str]) -> None:
    argv = ["scan", *words]
    fast = parse_hook_form(argv)
    if fast is not None:
        assert vars(fast) == full(argv)


_TIMES = re.compile(r'"duration_s": [0-9.e-]+| in [0-9.]+s ')  # the one thing that differs: the time taken


@pytest.mark.parametrize(
    "argv",
    [
        ["scan", "--staged", "--no-progress"],
        ["scan", "--staged", "--no-progress", "--format", "json"],
        ["scan", "app.py", "--no-progress"],
        ["scan", "app.py", "-f", "json", "--no-baseline"],
        ["scan", "missing.py"],
    ],
)
def test_a_run_is_the_same_through_either_parser(
    argv: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tokens: TokenFactory,
) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    repo.commit("initial", {"README.md": "# app\n"})
    (repo.path / "app.py").write_text(f'TOKEN = "{tokens.github_clean()}"\n')
    repo.git("add", "app.py")
    monkeypatch.chdir(repo.path)

    def run() -> tuple[int, str, str]:
        code = main(argv)
        out, err = capsys.readouterr()
        return code, _TIMES.sub("", out), err

    fast = run()
    monkeypatch.setattr("scanner.cli.fastargs.parse_hook_form", lambda _argv: None)
    slow = run()
    assert fast == slow
    assert fast[0] in (1, 2) and (fast[0] == 2) == (argv[1] == "missing.py")
