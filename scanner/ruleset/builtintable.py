"""The built-in rules' parsed specs, kept beside this package's bytecode and found by the rule files' ``stat``.

Every start (the commit hook's too) loads the built-in rules. From the user's cache directory that meant reading
and hashing all the rule files (1.4 MB) to form the entry's content key, hashing the 633 KB entry again to check
its frame, and checking the type of every field of 600-odd rules, since anyone who can write to the cache
directory could have planted the entry (issue #18). The built-in rules are part of the package, so their parsed
form is kept where the package's bytecode is and trusted as it is (``pycachefile``: written only where Python
writes bytecode, by whoever can change the package's code anyway), and it is found as a ``.pyc`` is found by its
source's mtime and size: by every rule file's name, size, inode, mtime and ctime (nanoseconds), the leakstop
version and the spec format. A changed, added, removed or replaced rule file changes that signature: a miss, and
the rules are loaded through the cache directory as before.

Racy files (git's term): a file written within the filesystem clock's granularity of being read could change
again without changing its stat. The signature is taken before the files are read, and the table is written only
when every file is older than that by ``SETTLE_NS``: a later change then has a later mtime or ctime.

The rows carry a CRC-32: a damaged table is a miss, never other rules (a crafted one needs write access to the
package, as crafted bytecode does). The content key of the rules (what keys the Hyperscan cache) is stored with
them, so a hit gives the same ``Ruleset.hash`` as the cache directory's path.

The rules' names, descriptions, tags, examples and references are kept in a second file (``text_path``), whose
CRC-32 the table holds, read only when a spec's text field is first asked for (``spectext``): a scan without
findings never reads it (it was 440 of the table's 631 KB: reading and copying it alone, about 0.5 ms a start).
It is written before the table: a reader that finds a table finds its text, or a text the CRC-32 tells apart.
"""

from __future__ import annotations

import os
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import scanner
from scanner import pycachefile
from scanner.ruleset import spectext
from scanner.ruleset.model import RuleSpec
from scanner.ruleset.speccache import stored_rows, stored_specs

TABLE_FORMAT = 2
SETTLE_NS = 2_000_000_000  # a rule file younger than this when the signature was taken is not recorded

Signature = tuple[object, ...]


def table_path() -> str:
    return pycachefile.table_path("builtin-rules")


def text_path() -> str:
    """Where the table's text part is: beside the table, wherever that is."""
    return f"{table_path()}-text"


def signature(files: Sequence[Path], spec_format: int) -> Signature | None:
    """What the table is keyed by; None when a file cannot be stat'ed (the caller's read names the error)."""
    try:
        stats = [(path.name, os.stat(path)) for path in files]
    except OSError:
        return None
    rows = tuple((name, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns) for name, st in stats)
    return (TABLE_FORMAT, scanner.__version__, spec_format, str(files[0].parent) if files else "", rows)


def read(key_of: Signature | None, reread: Callable[[], Sequence[RuleSpec]]) -> tuple[str, list[RuleSpec]] | None:
    """(the rules' content key, their specs) stored under exactly this signature, or None (a miss). The specs'
    text fields are read when first asked for; ``reread`` gives the specs from the rule files if that part is
    damaged."""
    if key_of is None:
        return None
    value = pycachefile.read(table_path())
    if type(value) is not tuple or len(value) != 5 or value[0] != key_of:
        return None
    _, key, crc, rows, text_crc = value
    if type(key) is not str or type(rows) is not bytes or zlib.crc32(rows) != crc:
        return None
    specs = stored_specs(rows, spectext.Text(text_path(), text_crc, lambda: spectext.by_id(reread())))
    return None if specs is None else (key, specs)


def write(key_of: Signature | None, taken_ns: int, key: str, specs: Sequence[RuleSpec]) -> None:
    """Store the specs under the signature taken at ``taken_ns``, unless a file was too young then (racy) or
    Python writes no bytecode here."""
    if key_of is None or sys.dont_write_bytecode or not _settled(key_of, taken_ns):
        return
    text = spectext.to_bytes(specs)
    pycachefile.write(text_path(), text)
    rows = stored_rows(specs)
    pycachefile.write(table_path(), (key_of, key, zlib.crc32(rows), rows, zlib.crc32(text)))


def _settled(key_of: Signature, taken_ns: int) -> bool:
    files = key_of[-1]
    assert isinstance(files, tuple)
    return all(max(mtime, ctime) < taken_ns - SETTLE_NS for _name, _size, _ino, mtime, ctime in files)
