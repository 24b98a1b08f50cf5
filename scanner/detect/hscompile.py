"""Compiling a Hyperscan database without holding off signals.

A cold cache compiles the whole rule database in one C call that lasts seconds (5.7 s for the built-in rules).
Python runs a signal's handler on the main thread, between bytecodes, so a SIGTERM from a CI runner or a Ctrl-C
waited for that call to return: ``bench/signals.py`` with an empty cache measured 4.2-4.4 s from SIGTERM to
exit 143. Hyperscan releases the GIL while it compiles, so on the main thread the compile runs on a daemon thread
and the main thread waits for it; that wait is interrupted by signals (``Lock.acquire`` on POSIX), so the
handler runs at once and the scan ends. The abandoned compile ends with the process; nothing is cached from it.
"""

from __future__ import annotations

import threading
from typing import Any


def compile_entries(db: Any, entries: list[tuple[bytes, int, int]]) -> None:
    """Compile ``entries`` (expression, id, flags) into ``db``, raising what Hyperscan raises."""
    expressions = [e for e, _, _ in entries]
    ids = [i for _, i, _ in entries]
    flags = [f for _, _, f in entries]
    if threading.current_thread() is not threading.main_thread():
        db.compile(expressions=expressions, ids=ids, flags=flags)
        return
    failure: list[BaseException] = []

    def compile_() -> None:
        try:
            db.compile(expressions=expressions, ids=ids, flags=flags)
        except BaseException as exc:  # handed to the waiting main thread
            failure.append(exc)

    compiling = threading.Thread(target=compile_, name="hyperscan-compile", daemon=True)
    compiling.start()
    compiling.join()
    if failure:
        raise failure[0]
