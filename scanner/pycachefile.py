"""Tables this package keeps beside its own bytecode (``scanner/__pycache__``), written and trusted as Python's
``.pyc`` files are: only where Python may write bytecode (``sys.dont_write_bytecode`` off, a writable directory),
atomically, and read by whoever can change the package's code anyway. Never in the user's cache directory, where
entries are data to verify, never code (issue #18). Used by ``classcode`` (dataclass methods), ``regexcode``
(compiled regular expressions), ``ruleset.builtintable`` (rule specs) and ``moduletable`` (module code).
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # not ``typing``: moduletable imports this module before it serves any
if TYPE_CHECKING:
    from typing import Any


def table_path(stem: str) -> str:
    """``scanner/__pycache__/<stem>.<cache tag>.marshal``: one table per interpreter, as ``.pyc`` files are."""
    tag = sys.implementation.cache_tag or "none"
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__", f"{stem}.{tag}.marshal")


def read(path: str) -> object:
    """The stored object, or None when the file is absent or not marshal data. The caller checks its shape."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        return marshal.loads(data)  # not marshal.load(handle): it reads object by object, 15 times slower
    except (OSError, EOFError, ValueError, TypeError):
        return None


def write(path: str, value: Any) -> None:
    """``value`` marshalled, as ``write_bytes`` writes."""
    try:
        data = marshal.dumps(value)
    except ValueError:
        return
    write_bytes(path, data)


def write_bytes(path: str, data: bytes) -> None:
    """Atomically, as Python writes bytecode; any failure leaves things as they were (the next run compiles)."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError:
        try:  # noqa: SIM105  (not contextlib: moduletable imports this module before it serves any)
            os.unlink(temporary)
        except OSError:
            pass
