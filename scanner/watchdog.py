"""A deadline on a blocking read that cannot take one itself (a pipe from a ``git`` process).

One daemon thread per watchdog: ``arm(seconds, action)`` before the read, ``disarm()`` after it; when the read is
still not done at the deadline the thread runs ``action`` (kill the process: the read then ends with end of
file) and remembers that it did (``fired``). Arming and disarming are plain attribute writes, cheap enough for
every blob of a history.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

POLL = 0.1  # seconds between two looks when no deadline is near


class Watchdog:
    def __init__(self, name: str) -> None:
        self.name = name
        self.fired = False
        self._expires = 0.0
        self._action: Callable[[], None] = lambda: None
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float, action: Callable[[], None]) -> None:
        self._action = action
        self._expires = time.monotonic() + seconds
        if self._thread is None or not self._thread.is_alive():  # a fork leaves the parent's thread behind
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def rearm(self, seconds: float) -> None:
        """``arm`` again with the same action, between two reads of one batch: a plain write (the thread was
        checked by the batch's ``arm``)."""
        self._expires = time.monotonic() + seconds

    def disarm(self) -> None:
        self._expires = 0.0

    def _run(self) -> None:
        while True:
            expires = self._expires
            now = time.monotonic()
            if expires and now >= expires and self._expires == expires:  # not disarmed meanwhile
                self._expires = 0.0
                self.fired = True
                self._action()
                continue
            time.sleep(min(POLL, expires - now) if expires else POLL)
