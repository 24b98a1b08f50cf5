"""A wall-clock bound on detection in one chunk (issue #18 item 11).

User rules run in Python's backtracking ``re``. The static check (``ruleset/redos.py``) refuses the shapes that
backtrack catastrophically, but no static check is complete, so detection in one chunk also runs under a timer:
``re`` checks for signals while it backtracks, so a ``SIGALRM`` handler that raises ends a runaway match. The
timer is used only where it can be: in the main thread, with no other interval timer running (a caller's timer
is left alone, and then there is no bound).

This runs once per chunk (a history scan has hundreds of thousands), so it is a plain class rather than a
generator context manager, and it swaps the handler with ``_signal.signal``, the C function behind
``signal.signal``: the public wrapper converts handlers to and from enums by raising and catching an exception
for every function handler, most of the cost (8.0 → 3.0 µs a chunk with the rest of this class, see
docs/performance.md). A lazy bound (``lazy=True``) is armed by ``arm()``, called where ``re`` is about to run a
rule's regex: most chunks of a history scan have no candidate rule (Hyperscan, which never backtracks, said so),
and those never touch the timer.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stub; the same functions as signal's, without the enums
import signal
import threading
from types import FrameType, TracebackType
from typing import Any

_set_handler: Any = _signal.signal
_SIGALRM = int(signal.SIGALRM)
_REAL = signal.ITIMER_REAL


class RegexTimeout(Exception):
    """Detection in a chunk ran past its budget (not a ``LeakstopError``: the pipeline turns it into an issue)."""


def _expire(signum: int, frame: FrameType | None) -> None:
    raise RegexTimeout


class bounded:  # lower case: used as a context manager, like the function it replaced
    """Raise ``RegexTimeout`` in the block after ``seconds`` (0: no bound), counted from the block's start or, when
    ``lazy``, from the first ``arm()`` in it."""

    __slots__ = ("_armed", "_lazy", "_previous", "_seconds")

    def __init__(self, seconds: float, lazy: bool = False) -> None:
        self._seconds = seconds
        self._lazy = lazy
        self._armed = False
        self._previous: object = None  # the handler to put back (None: one not installed from Python)

    def __enter__(self) -> None:
        if not self._lazy:
            self.arm()

    def arm(self) -> None:
        """Start the timer (once; later calls do nothing)."""
        if (
            self._armed
            or self._seconds <= 0
            or threading.current_thread() is not threading.main_thread()
            or signal.getitimer(_REAL)[0] > 0
        ):
            return
        self._previous = _set_handler(_SIGALRM, _expire)
        self._armed = True
        signal.setitimer(_REAL, self._seconds)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if not self._armed:
            return
        self._armed = False
        signal.setitimer(_REAL, 0)
        _set_handler(_SIGALRM, signal.SIG_DFL if self._previous is None else self._previous)
