"""The parser itself: a mistyped option, command or choice gets the closest one suggested (exit 2), and every
option of every command has a help text."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from scanner.cli import build_parser, main
from scanner.report import REPORTERS


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one line argparse printed for ``argv``, which must be a usage error (exit 2)."""
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("leakstop") and len(err.strip().splitlines()) == 1, err
    return err.strip()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["scan", "--stagd"], "leakstop scan: error: unknown option --stagd (did you mean --staged?)"),
        (["scan", ".", "--formt=json"], "leakstop scan: error: unknown option --formt (did you mean --format?)"),
        (["baseline", "create", "--outptu", "x"], "unknown option --outptu (did you mean --output?)"),
        (["scan", "--zzzz"], "leakstop scan: error: unknown option --zzzz"),
        (["--verison"], "leakstop: error: unknown option --verison (did you mean --version?)"),
        (["rules", "list", "extra"], "leakstop rules list: error: unrecognized arguments: extra"),
        (
            ["scan", "--hstory", "--qqq", "x", "y"],
            "unknown option --hstory (did you mean --history?); unknown option --qqq",
        ),
    ],
)
def test_an_unknown_option_names_the_closest_one(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert usage_error(capsys, *argv).endswith(expected)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["scna"], "argument COMMAND: invalid choice: 'scna'"),
        (["scan", "-f", "jsn"], "argument --format/-f: invalid choice: 'jsn'"),
        (["baseline", "craete"], "argument ACTION: invalid choice: 'craete'"),
        (["install-hook", "pre-comit"], "invalid choice: 'pre-comit'"),
    ],
)
def test_a_mistyped_choice_names_the_closest_one(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    line = usage_error(capsys, *argv)
    assert expected in line
    suggestion = {"scna": "scan", "jsn": "json", "craete": "create", "pre-comit": "pre-commit"}[argv[-1]]
    assert line.endswith(f"(did you mean {suggestion!r}?)")


def test_a_choice_far_from_every_other_gets_no_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    line = usage_error(capsys, "scan", "--color", "purple")
    assert "invalid choice: 'purple'" in line and "did you mean" not in line


def test_the_installed_command_suggests_too() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "--stagd"], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.strip().endswith("unknown option --stagd (did you mean --staged?)")


def parsers(parser: argparse.ArgumentParser, name: str = "leakstop") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                found += parsers(child, f"{name} {sub}")
    return found


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{name}: {'/'.join(action.option_strings) or action.dest}"
        for name, parser in parsers(build_parser())
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]
    commands = [
        f"{name} {choice.dest}"
        for name, parser in parsers(build_parser())
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
        if not choice.help
    ]
    assert missing == commands == []
    assert len(parsers(build_parser())) >= 12  # every command and action was walked


def test_format_and_color_say_what_they_take() -> None:
    scan = dict(parsers(build_parser()))["leakstop scan"]
    options = {name: action for action in scan._actions for name in action.option_strings}
    assert list(options["--format"].choices or ()) == list(REPORTERS)
    for name in REPORTERS:
        assert name in (options["--format"].help or "")
    for name in ("auto", "always", "never"):
        assert name in (options["--color"].help or "")
