"""``.gitignore``-style patterns (gitignore(5)): used for ``.gitignore`` files, ``--exclude`` and config excludes.

Semantics kept: comments, ``\\`` escapes, trailing-space trimming, ``!`` negation (last match wins), trailing
``/`` for directories only, patterns with an inner ``/`` anchored to their base directory, ``**`` in leading,
trailing and middle positions, ``*``/``?``/``[...]`` that never cross ``/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IgnorePattern:
    base: str  # directory the pattern is relative to ('' = root), with '/' separators
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool
    source: str


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
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if j == -1:
                out.append(re.escape(c))
                i += 1
                continue
            body = glob[i + 1 : j]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


def parse_pattern(line: str, base: str = "", source: str = "") -> IgnorePattern | None:
    """One line of a gitignore file, or None for blanks and comments."""
    if not line or line.startswith("#"):
        return None
    # Trailing spaces are trimmed unless escaped with a backslash.
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        stripped += " "
    line = stripped.rstrip("\n\r")
    if not line:
        return None
    negate = line.startswith("!")
    if negate or line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    body = _translate_glob(line)
    prefix = "" if anchored or line.startswith("**/") else "(?:.*/)?"
    # A pattern also matches everything inside a matched directory.
    regex = re.compile(f"^{prefix}{body}(?:/.*)?$", re.DOTALL)
    return IgnorePattern(base.strip("/"), regex, negate, dir_only, source)


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

    def _maybe(self, path: str) -> bool:
        for base, combined in self._any.items():
            if not base:
                rel = path
            elif path.startswith(base + "/"):
                rel = path[len(base) + 1 :]
            else:
                continue
            if combined.match(rel):
                return True
        return False

    def ignored(self, path: str, is_dir: bool) -> bool:
        """Is ``path`` (relative to the scan root, '/'-separated) ignored? The last matching pattern wins."""
        if not self._maybe(path):
            return False
        result = False
        for p in self.patterns:
            if p.base:
                if not path.startswith(p.base + "/"):
                    continue
                rel = path[len(p.base) + 1 :]
            else:
                rel = path
            m = p.regex.match(rel)
            if m is None:
                continue
            if p.dir_only and not is_dir:
                # 'build/' matches files inside build/, not a file named build.
                prefix_match = any(p.regex.fullmatch(rel[:i]) for i in range(len(rel)) if rel[i] == "/")
                if not prefix_match:
                    continue
            result = not p.negate
        return result
