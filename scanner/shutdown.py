"""The end of a ``leakstop scan`` process: what the interpreter's exit does that anyone can see, then ``os._exit``.

After the program's last line the interpreter waits for non-daemon threads, runs the ``atexit`` handlers (here:
the stored dataclass and regex code tables, ``classcode``/``regexcode``; the worker pool's ``multiprocessing``
clean-up; ``weakref.finalize`` objects such as a history scan's ``git cat-file``), flushes ``sys.stdout`` and
``sys.stderr``, and then tears the interpreter down: every module, every object freed, a last full collection.
Only the teardown is invisible, and it was 9.2 M of the 347 M instructions of ``scan --staged`` (callgrind), about
2 ms; the kernel frees the process's memory at ``_exit`` in one go either way.

``end`` does the visible steps in the interpreter's order and ends the process with the code. Where it cannot do
them exactly as the interpreter would, it returns and the interpreter exits as before: a thread still running
(the interpreter would join a non-daemon one; a daemon one may still be writing), or a flush that fails (the
interpreter reports it as "Exception ignored" and exits 120).
"""

from __future__ import annotations

import atexit
import os
import sys


def end(code: int) -> None:
    """End the process with ``code`` after the ``atexit`` handlers and the flush of the standard streams; return
    (doing nothing) while another thread runs, and after the handlers when a stream cannot be flushed."""
    threading = sys.modules.get("threading")  # not imported: no thread was ever started from Python
    if threading is not None and any(t is not threading.main_thread() and t.is_alive() for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()  # what the interpreter runs at exit; the handlers are cleared: they never run twice
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return  # the interpreter's own flush fails the same way and reports it
    os._exit(code)
