"""argparse with suggestions: a mistyped option or choice names the closest one (``--stagd`` → ``--staged``).

Python 3.14's ``suggest_on_error`` covers choices only, and not before 3.14; this works on every version we
support, and steps aside where argparse already made a suggestion.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import NoReturn

_INVALID_CHOICE = re.compile(r"^argument (?P<name>.+?): invalid choice: (?P<value>'[^']*'|\"[^\"]*\")")


def closest(word: str, candidates: Sequence[str]) -> str:
    """The candidate nearest to ``word``, or "" when none is near enough to be what was meant."""
    import difflib  # only on an error: not on the commit hook's path

    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return found[0] if found else ""


def _action_name(action: argparse.Action) -> str:
    """How argparse names an action in its messages: ``--format/-f``, a metavar, or the dest."""
    if action.option_strings:
        return "/".join(action.option_strings)
    return str(action.metavar or action.dest)


class SuggestingParser(argparse.ArgumentParser):
    """Its subcommands' parsers are of this class too (argparse makes them of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        found = _INVALID_CHOICE.match(message)
        if found and "meant" not in message:  # 3.14+ may have added "maybe you meant"
            value = found["value"][1:-1]
            actions = [a for a in self._actions if a.choices and _action_name(a) == found["name"]]
            choices = [str(choice) for action in actions for choice in action.choices or ()]
            suggestion = closest(value, choices)
            if suggestion:
                message += f" (did you mean {suggestion!r}?)"
        # One line, as README's exit codes promise for every usage error (not argparse's usage block first):
        # the option and the problem; ``--help`` has the rest.
        self.exit(2, f"{self.prog}: error: {message}\n")

    def option_names(self) -> list[str]:
        return [name for action in self._actions for name in action.option_strings]


def innermost(parser: SuggestingParser, args: argparse.Namespace) -> SuggestingParser:
    """The (sub)command's parser the arguments reached: ``leakstop baseline create`` → the ``create`` parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if isinstance(chosen, SuggestingParser):
                return innermost(chosen, args)
    return parser


def parse(parser: SuggestingParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parse_args``, but an argument nobody knows is reported by the command it was given to, with the closest
    option that command has: ``leakstop scan: error: unknown option --stagd (did you mean --staged?)``, exit 2."""
    args, extras = parser.parse_known_args(argv)
    if not extras:
        return args
    command = innermost(parser, args)
    problems = []
    for extra in extras:
        if extra.startswith("-") and extra != "-":
            name = extra.split("=", 1)[0]
            suggestion = closest(name, command.option_names())
            problems.append(f"unknown option {name}" + (f" (did you mean {suggestion}?)" if suggestion else ""))
    positionals = [extra for extra in extras if not extra.startswith("-") or extra == "-"]
    if positionals:
        problems.append("unrecognized arguments: " + " ".join(positionals))
    command.error("; ".join(problems))
