"""A wall-clock bound on detection in one chunk (issue #18 item 11).

User rules run in Python's backtracking ``re``. The static check (``ruleset/redos.py``) refuses the shapes that
backtrack catastrophically, but no static check is complete, so detection in one chunk also runs under a timer:
``re`` checks for signals while it backtracks, so a ``SIGALRM`` handler that raises ends a runaway match. The
timer is used only where it can be: in the main thread, with no other interval timer running (a caller's timer
is left alone, and then there is no bound).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class RegexTimeout(Exception):
    """Detection in a chunk ran past its budget (not a ``LeakstopError``: the pipeline turns it into an issue)."""


def _expire(signum: int, frame: FrameType | None) -> None:
    raise RegexTimeout


@contextmanager
def bounded(seconds: float) -> Iterator[None]:
    """Raise ``RegexTimeout`` in the block after ``seconds`` (0: no bound)."""
    if (
        seconds <= 0
        or threading.current_thread() is not threading.main_thread()
        or signal.getitimer(signal.ITIMER_REAL)[0] > 0
    ):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
