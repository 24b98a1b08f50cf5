"""Rewrites that let a gitleaks rule load in leakstop with the same meaning.

* ``scope_flags``: Go RE2 lets ``(?i)`` appear anywhere; it applies from there to the end of the enclosing group
  (including later alternatives of that group). Python ``re`` only takes flags at the very start, so each
  mid-pattern flag group becomes a scoped one, ``(?i:…)``, closed at the next ``|`` of its group (and opened
  again after it) and at the group's end: ``a(?i)b|c`` becomes ``a(?i:b)|(?i:c)``.
* ``path_limit``: gitleaks' rule ``path`` (the rule only runs on paths it matches) as one of our allowlist path
  regexes: allowed (not reported) where the path does NOT match.
* ``collapse_nested``: ``(?:X+)+`` and its kin, over one character class, match exactly what ``X+`` matches;
  our ReDoS check refuses the former, so it is collapsed before the rule is given up.
"""

from __future__ import annotations

import re

_FLAG_GROUP = re.compile(r"\(\?([ims-]+)\)")
_ATOM = r"(?:\\[wdsWDS]|\\.|\[\^?\]?(?:\\.|[^\]\\])*\]|[^\\()\[\]|*+?{}])"
_NESTED = re.compile(r"\((\?:)?(" + _ATOM + r")([+*])\)([+*])")


def scope_flags(pattern: str, keep_leading: bool = True) -> str:
    """``pattern`` with every inline flag group after the start (or every one, ``keep_leading=False``) scoped."""
    out: list[str] = []
    frames: list[list[str]] = [[]]  # per open group: the flag scopes opened in it, innermost last
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern.startswith("[]", i) or pattern.startswith("[^]", i):
                out.append(pattern[i : i + (2 if pattern[i + 1] == "]" else 3)])
                i += len(out[-1])
                continue
        elif m := _FLAG_GROUP.match(pattern, i):
            if i == 0 and keep_leading:
                out.append(m.group(0))
            else:
                out.append(f"(?{m.group(1)}:")
                frames[-1].append(m.group(1))
            i = m.end()
            continue
        elif ch == "(":
            frames.append([])
        elif ch == "|":
            opened = frames[-1]
            out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
            i += 1
            continue
        elif ch == ")" and len(frames) > 1:
            out.append(")" * len(frames.pop()))
        out.append(ch)
        i += 1
    out.append(")" * len(frames[0]))
    return "".join(out)


def path_limit(path_regex: str) -> str:
    """An allowlist path regex that holds exactly where ``path_regex`` (searched, as gitleaks does) does not."""
    return rf"^(?![\s\S]*?(?:{scope_flags(path_regex, keep_leading=False)}))"


def collapse_nested(pattern: str) -> str:
    """``(?:X+)+`` → ``X+``, ``(X+)+`` → ``(X+)``, and the same with ``*``: one character class under two
    quantifiers matches the same runs under one."""

    def repl(m: re.Match[str]) -> str:
        inner, outer = m.group(3), m.group(4)
        quant = "+" if inner == outer == "+" else "*"
        return m.group(2) + quant if m.group(1) else f"({m.group(2)}{quant})"

    return _NESTED.sub(repl, pattern)
