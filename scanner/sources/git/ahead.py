"""Git work a scan's source will need, started in a thread as the pipeline starts the scan.

``staged.ReadAhead`` (a staged scan's three git calls) and ``planahead.PlanAhead`` (a history scan's plan) share
this shape. The thread starts with the ``with`` block, while the main thread loads the rules and the detector. A
source opened on the same path inside the block takes the read once (``taken``); a second source on the path reads
for itself. Leaving the block waits for the thread and forgets it, so no git outlives the scan and each scan reads
afresh. An exception in the thread is kept and raised where the source would have met it.
"""

from __future__ import annotations

import threading
from typing import ClassVar


class Ahead:
    """A read for one path in a daemon thread: subclasses give ``work`` (and ``wanted``) and keep what it reads."""

    running: ClassVar[dict[str, Ahead]]  # each subclass's own: path → its read running there, inside its block

    def __init_subclass__(cls) -> None:
        cls.running = {}

    def __init__(self, path: str, thread_name: str) -> None:
        self.path = path
        self.failure: Exception | None = None
        self.thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def work(self) -> None:
        raise NotImplementedError

    def wanted(self) -> bool:
        """Whether a read ahead can help at all (default: yes)."""
        return True

    def _run(self) -> None:
        try:
            self.work()
        except Exception as exc:  # given to the scan's thread, where it would have been raised
            self.failure = exc

    def __enter__(self) -> Ahead:
        if self.wanted() and self.path not in self.running:
            self.running[self.path] = self
            self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.running.get(self.path) is self:
            del self.running[self.path]
        if self.thread.is_alive():
            self.thread.join()

    @classmethod
    def taken(cls, path: str) -> Ahead | None:
        """The read running for ``path``, once its thread has ended (and forgotten: taken once), or None."""
        ahead = cls.running.pop(path, None)
        if ahead is not None:
            ahead.thread.join()
        return ahead
