"""``compile_entries``: a signal during a long Hyperscan compile is handled at once (scanner/detect/hscompile.py)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import hyperscan
import pytest

from scanner.detect.hscompile import compile_entries


class Interrupted(Exception):
    pass


def slow_entries(count: int = 300) -> list[tuple[bytes, int, int]]:
    """Bounded repeats are what Hyperscan compiles slowly: 300 of these take about 1 s here."""
    return [(rb"[a-z]{%d}key[0-9a-f]{%d}" % (i % 7 + 3, i % 13 + 20), i, 0) for i in range(count)]


def matches(db: hyperscan.Database, content: bytes) -> list[tuple[int, int, int]]:
    found: list[tuple[int, int, int]] = []
    db.scan(content, match_event_handler=lambda i, start, end, _flags, _ctx: found.append((i, start, end)))
    return found


class Watched:
    """A database whose compile says when it has returned."""

    def __init__(self) -> None:
        self.db = hyperscan.Database()
        self.returned = threading.Event()

    def compile(self, **arguments: object) -> None:
        try:
            self.db.compile(**arguments)
        finally:
            self.returned.set()


def test_a_signal_is_handled_while_the_compile_still_runs() -> None:
    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise Interrupted

    watched = Watched()
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Interrupted):
            compile_entries(watched, slow_entries())
        # On the main thread the handler would have run only once the compile had returned (about 1 s here).
        assert not watched.returned.is_set()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert watched.returned.wait(60)  # the abandoned compile goes on to its end


def test_the_database_is_the_one_a_direct_compile_gives() -> None:
    entries = [(rb"tok_[0-9]{4}", 1, 0), (rb"(?i)secret", 2, hyperscan.HS_FLAG_SOM_LEFTMOST)]
    direct = hyperscan.Database()
    direct.compile(expressions=[e for e, _, _ in entries], ids=[1, 2], flags=[f for _, _, f in entries])
    threaded = hyperscan.Database()
    compile_entries(threaded, entries)
    content = b"a tok_1234 and a SECRET, tok_99 no"
    assert matches(threaded, content) == matches(direct, content) != []


def test_hyperscan_errors_reach_the_caller_on_and_off_the_main_thread() -> None:
    with pytest.raises(hyperscan.HyperscanError):
        compile_entries(hyperscan.Database(), [(rb"(unclosed", 0, 0)])
    raised: list[BaseException] = []

    def off_main() -> None:
        try:
            compile_entries(hyperscan.Database(), [(rb"(unclosed", 0, 0)])
        except hyperscan.HyperscanError as exc:
            raised.append(exc)

    thread = threading.Thread(target=off_main)
    thread.start()
    thread.join()
    assert len(raised) == 1
