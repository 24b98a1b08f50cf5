"""``.gitignore``-style patterns (gitignore(5)): used for ``.gitignore`` files, ``--exclude`` and config paths.

Semantics kept: comments, ``\\`` escapes, trailing-space trimming, ``!`` negation (last match wins), trailing
``/`` for directories only, patterns with an inner ``/`` anchored to their base directory, ``**`` in leading,
trailing and middle positions, ``*``/``?``/``[...]`` that never match ``/``, POSIX classes (``[[:digit:]]``),
an unclosed ``[`` matching nothing (git's wildmatch), and git's rule that a file inside an ignored directory
stays ignored whatever later patterns say about the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

POSIX_CLASSES = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "\\x21-\\x7e",
    "lower": "a-z",
    "print": "\\x20-\\x7e",
    "punct": re.escape("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~").replace("/", ""),
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "xdigit": "0-9A-Fa-f",
}
_NEVER = "(?!)"


class _Unmatchable(Exception):
    """The glob can match nothing (an unclosed bracket)."""


@dataclass(frozen=True, slots=True)
class IgnorePattern:
    """One gitignore-style pattern, compiled, with the directory it is relative to."""

    base: str  # directory the pattern is relative to ('' = root), with '/' separators
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    source: str


def _class_member(c: str) -> str:
    return "\\" + c if c in "\\]^-[" else c


def _translate_bracket(glob: str, i: int) -> tuple[str, int]:
    """``glob[i]`` is '['; returns the regex class and the index after the closing ']'."""
    j = i + 1
    negate = j < len(glob) and glob[j] in "!^"
    if negate:
        j += 1
    members: list[str] = []
    first = True
    while j < len(glob):
        c = glob[j]
        if c == "]" and not first:
            body = "".join(members)
            return (f"[^/{body}]" if negate else f"(?!/)[{body}]"), j + 1
        first = False
        if c == "[" and glob.startswith("[:", j):
            end = glob.find(":]", j + 2)
            if end != -1 and glob[j + 2 : end] in POSIX_CLASSES:
                members.append(POSIX_CLASSES[glob[j + 2 : end]])
                j = end + 2
                continue
        if c == "\\" and j + 1 < len(glob):
            c = glob[j + 1]
            j += 1
        if j + 2 < len(glob) and glob[j + 1] == "-" and glob[j + 2] != "]":
            high = glob[j + 2]
            if high == "\\" and j + 3 < len(glob):
                high = glob[j + 3]
                j += 1
            if ord(high) >= ord(c):
                members.append(f"{_class_member(c)}-{_class_member(high)}")
            j += 3
            continue
        members.append(_class_member(c))
        j += 1
    raise _Unmatchable


def _translate_glob(glob: str) -> str:
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        if c == "*":
            if glob[i : i + 2] == "**":
                at_start = i == 0 or glob[i - 1] == "/"
                at_end = i + 2 == n or glob[i + 2] == "/"
                if at_start and at_end:
                    if i + 2 == n:  # trailing '/**': everything inside
                        out.append(".*")
                        i += 2
                    else:  # '**/' : zero or more directories
                        out.append("(?:.*/)?")
                        i += 3
                    continue
                while i < n and glob[i] == "*":
                    i += 1
                out.append("[^/]*")
                continue
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            piece, i = _translate_bracket(glob, i)
            out.append(piece)
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def parse_pattern(line: str, base: str = "", source: str = "") -> IgnorePattern | None:
    """One line of a gitignore file, or None for blanks and comments."""
    line = line.rstrip("\n\r")
    if not line or line.startswith("#"):
        return None
    # Trailing spaces are trimmed unless escaped with a backslash.
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        stripped += " "
    line = stripped
    if not line:
        return None
    negate = line.startswith("!")
    if negate or line.startswith(("\\!", "\\#")):
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    try:
        body = _translate_glob(line)
    except _Unmatchable:
        body = _NEVER
    prefix = "" if anchored or line.startswith("**/") else "(?:.*/)?"
    return IgnorePattern(base.strip("/"), re.compile(f"^{prefix}{body}$", re.DOTALL), negate, dir_only, source)


class IgnoreRules:
    def __init__(self) -> None:
        self.patterns: list[IgnorePattern] = []
        # One alternation per base directory: most paths match no pattern, and one regex call says so.
        self._any: dict[str, re.Pattern[str]] = {}

    def add_lines(self, lines: list[str], base: str = "", source: str = "") -> None:
        added = False
        for line in lines:
            pattern = parse_pattern(line, base, source)
            if pattern is not None:
                self.patterns.append(pattern)
                added = True
        if added:
            bases = {p.base for p in self.patterns}
            self._any = {
                b: re.compile("|".join(f"(?:{p.regex.pattern})" for p in self.patterns if p.base == b), re.DOTALL)
                for b in bases
            }

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def _relative(self, base: str, path: str) -> str | None:
        if not base:
            return path
        return path[len(base) + 1 :] if path.startswith(base + "/") else None

    def _maybe(self, path: str) -> bool:
        for base, combined in self._any.items():
            rel = self._relative(base, path)
            if rel is not None and combined.match(rel):
                return True
        return False

    def _ignored_here(self, path: str, is_dir: bool) -> bool:
        """The verdict of the last pattern matching ``path`` itself (not its parents)."""
        if not self._maybe(path):
            return False
        result = False
        for p in self.patterns:
            if p.dir_only and not is_dir:
                continue
            rel = self._relative(p.base, path)
            if rel is not None and p.regex.match(rel):
                result = not p.negate
        return result

    def ignored(self, path: str, is_dir: bool, check_parents: bool = True) -> bool:
        """Is ``path`` (relative to the root, '/'-separated) ignored? A file inside an ignored directory is.

        A directory walk that prunes ignored directories passes ``check_parents=False``: it never gets there.
        """
        if check_parents:
            parts = path.split("/")
            for i in range(1, len(parts)):
                if self._ignored_here("/".join(parts[:i]), True):
                    return True
        return self._ignored_here(path, is_dir)


class PathMatcher:
    """gitignore-style globs (and optional regexes searched in the path) asked about the paths of many findings:
    the answer for a path never changes, so each path is matched once."""

    def __init__(self, globs: Sequence[str] = (), regexes: Sequence[re.Pattern[str]] = (), source: str = "") -> None:
        self._globs = IgnoreRules()
        self._globs.add_lines(list(globs), source=source)
        self._regexes = tuple(regexes)
        self._known: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._globs) or bool(self._regexes)

    def matches(self, path: str) -> bool:
        known = self._known.get(path)
        if known is None:
            known = bool(self._globs) and self._globs.ignored(path, False)
            known = self._known[path] = known or any(rx.search(path) for rx in self._regexes)
        return known
