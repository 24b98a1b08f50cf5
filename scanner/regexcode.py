"""Regular expressions built from code stored once per install instead of parsed and compiled at every start.

``re.compile`` parses a pattern and generates the code ``_sre`` runs; for our larger patterns that is most of a
millisecond each (the generic keyword rule's regex 2.3 ms, its allowlist's prefix list 0.9 ms, the heuristics'
0.8 ms), about 6 ms of a commit hook's run whenever a staged file holds a word like "token". ``_sre.compile``
itself, given the generated code, takes microseconds.

``compile`` answers what ``re.compile(pattern, flags)`` answers: the same ``re.Pattern`` (patterns compare equal
only when their code is equal, which the tests check for every built-in rule). For a pattern it has not seen it
runs the steps of ``re._compiler.compile`` (3.11 to 3.13: ``_parser.parse``, ``_compiler._code``, the group maps)
and records their result with its CRC-32; a stored result whose CRC holds goes straight to ``_sre.compile`` (which
checks the code's structure too, but not completely: a flipped bit can crash a later match), any other entry is
compiled again. Where those steps are not there (3.10's
``sre_compile``, another implementation) it is ``re.compile``.

The table lives beside the package's bytecode and is written and trusted as ``.pyc`` files are (``pycachefile``),
at exit, when the run compiled something new; it is read at the first ``compile`` call (a scan that runs no rule
regex never reads it). Each entry stays marshalled bytes until its pattern is asked for, so a table holding every
rule costs a hook run one read and one small ``marshal.loads``.
"""

from __future__ import annotations

import marshal
import re
import sys
import zlib
from typing import Any, AnyStr

try:
    import _sre  # type: ignore[import-not-found]  # re.compile's last step, without stubs
    from re import _compiler, _parser  # type: ignore[attr-defined]  # 3.11+: re's own parser and code generator

    _STORABLE = _sre.CODESIZE == 4
except ImportError:  # 3.10 (sre_compile) or an implementation without them: re.compile
    _STORABLE = False

from scanner import pycachefile

MAX_ENTRIES = 4096  # patterns: the built-in rules and allowlists are about 700; a table past it starts over
# What the stored code depends on: this exact interpreter (its re module) and the machine's byte order.
HEADER = ("leakstop-regex-code 1", sys.version, getattr(_sre, "MAGIC", 0) if _STORABLE else 0, sys.byteorder)

Key = tuple[str | bytes, int]
_STATE: dict[str, Any] = {}


def compile(pattern: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """``re.compile(pattern, flags)``, from stored code where this install compiled the pattern before."""
    if not _STORABLE or flags & re.DEBUG:
        return re.compile(pattern, flags)
    if not _STATE:
        _load()
    return compile_with(_STATE["table"], _STATE["added"], pattern, flags)


def compile_with(table: dict[Key, bytes], added: dict[Key, bytes], pattern: AnyStr, flags: int) -> re.Pattern[AnyStr]:
    """The pattern from its entry in ``table`` or ``added``; compiled and recorded in ``added`` when it has none or
    its entry is not code ``_sre`` accepts."""
    key = (pattern, int(flags))  # a RegexFlag is no key marshal can store
    stored = table.get(key) or added.get(key)
    if stored is not None:
        built = _build(pattern, stored)
        if built is not None:
            return built
    added[key] = generate(pattern, key[1])
    return _build(pattern, added[key]) or re.compile(pattern, flags)


def generate(pattern: str | bytes, flags: int) -> bytes:
    """What ``re._compiler.compile`` hands ``_sre.compile`` besides the pattern, marshalled (the code as 32-bit
    words: ``_code`` makes it of int subclasses marshal refuses)."""
    from array import array

    parsed = _parser.parse(pattern, flags)
    code = _compiler._code(parsed, flags)
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, index in parsed.state.groupdict.items():
        indexgroup[index] = name
    words = array("I", code).tobytes()
    body = marshal.dumps(
        (
            int(flags | parsed.state.flags),
            words,
            parsed.state.groups - 1,
            dict(parsed.state.groupdict),
            tuple(indexgroup),
        )
    )
    return zlib.crc32(body).to_bytes(4, "little") + body


def _build(pattern: AnyStr, stored: bytes) -> re.Pattern[AnyStr] | None:
    body = stored[4:]
    if zlib.crc32(body).to_bytes(4, "little") != stored[:4]:
        return None  # damaged: _sre's check of the code is not complete (a flipped bit can crash a match)
    try:
        flags, words, groups, groupindex, indexgroup = marshal.loads(body)
        code = memoryview(words).cast("I").tolist()
        return _sre.compile(pattern, flags, code, groups, groupindex, indexgroup)  # type: ignore[no-any-return]
    except (ValueError, TypeError, EOFError, RuntimeError, OverflowError, IndexError):
        return None  # not an entry this interpreter made: compiled again


def read_table(path: str) -> dict[Key, bytes]:
    """The stored entries, or none when the file is absent, damaged, too large or from another interpreter."""
    stored = pycachefile.read(path)
    if type(stored) is not tuple or len(stored) != 2 or stored[0] != HEADER:
        return {}
    table = stored[1]
    if type(table) is not dict or len(table) > MAX_ENTRIES:
        return {}
    if not all(type(key) is tuple and type(entry) is bytes for key, entry in table.items()):
        return {}
    return table


def _load() -> None:
    path = pycachefile.table_path("regex-code")
    _STATE.update(path=path, table=read_table(path), added={})
    import atexit

    atexit.register(save)


def save() -> None:
    """Store what this run compiled that the table did not hold (at exit, where Python may write bytecode). The
    table is read again first: a history scan's workers store what they compiled as they end, before the parent
    does, and the parent's table from its start would drop theirs."""
    added = _STATE.get("added")
    if not added or sys.dont_write_bytecode:
        return
    table = {**_STATE["table"], **read_table(_STATE["path"]), **added}
    pycachefile.write(_STATE["path"], (HEADER, table if len(table) <= MAX_ENTRIES else dict(added)))
    added.clear()
