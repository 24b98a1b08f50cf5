"""What changed between two versions of a file, on bytes: the changed region and the new lines.

Pure functions shared by the git source (a later version of a file is scanned where it changed) and the
structured detector (a Terraform state version that adds nothing is not analysed again).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from threading import Lock

CONTEXT_LINES = 3
CONTEXT_BYTES = 512
# A changed region this large is narrowed to its new lines (``_narrow`` in C, else ``_novel_blocks_py``). Scattered
# changes to a large file (pytest's generated plugin list, changelogs) otherwise hand the detector most of the file
# again at every version.
# In C the cut costs about 1.5 ns per byte of old and region, less than scanning what it drops: from 16 KB on, the
# detector saw 176 MB of pytest's history instead of 397 MB, for 0.7 s of cutting (docs/performance.md, "Fewer
# bytes to the detector"). In Python it costs about 11 ns per byte of region (line sets of both versions)
# against about 6 ns to scan it (pytest's history: narrowing every region over 32 KB took 2.9 s where scanning
# them whole took 1.9 s), so without the C module only a region of 1 MB or more is narrowed: that bounds the cost
# of content that is slow to scan.
NARROW_REGION_C = 16 * 1024
LARGE_REGION = 1 << 20

Blocks = list[tuple[int, int, int]]
Span = tuple[int, int, int]


def _novel_blocks_py(old: bytes, region: bytes | memoryview, context: int, context_bytes: int) -> Blocks:
    """The blocks of ``region``'s new lines: the specification of ``_textdiff.narrow``'s blocks, and the fallback
    where the C module did not build (a memoryview ``region`` is copied).

    Lines are what ``split(b"\\n")`` gives. A line of ``region`` is new when no line of ``old`` has the same bytes
    (a set of lines: how often a line occurs does not count, so a line moved or repeated brings nothing new).
    Each new line ``i`` brings the context ``changed_regions`` gives a change: ``context`` lines either side, and
    more lines until ``context_bytes`` bytes before its start and after its end are in (within the region).
    Ranges that overlap or touch make one block. A block of lines ``[lo, hi)`` is ``(start, end, lo)`` with
    ``region[start:end] == b"\\n".join(lines[lo:hi])``.
    """
    known = set(old.split(b"\n"))
    lines = bytes(region).split(b"\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    count = len(lines)
    blocks: Blocks = []
    block_lo = block_hi = -1
    for i, line in enumerate(lines):
        if line in known:
            continue
        lo = max(0, min(i - context, bisect_right(starts, starts[i] - context_bytes) - 1))
        hi = min(count, max(i + context + 1, bisect_left(starts, starts[i + 1] + context_bytes, 0, count)))
        if lo > block_hi:
            if block_hi > block_lo:
                blocks.append((starts[block_lo], starts[block_hi] - 1, block_lo))
            block_lo = lo
        block_hi = hi
    if block_hi > block_lo:
        blocks.append((starts[block_lo], starts[block_hi] - 1, block_lo))
    return blocks


def _common_prefix(a: bytes, b: bytes, limit: int) -> int:
    """Length of the common prefix (at most ``limit``): a binary search of C-speed ``startswith`` checks."""
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a.startswith(b[lo:mid], lo):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    """Length of the common suffix (at most ``limit``), like ``_common_prefix`` from the end."""
    la, lb = len(a), len(b)
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a.endswith(b[lb - mid : lb - lo], 0, la - lo):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _changed_span_py(old: bytes, new: bytes, context: int, context_bytes: int) -> Span:
    """The specification of ``_textdiff.changed_span``, and its fallback: ``(start, end, first line number)`` of
    the region of ``new`` that changed (``changed_regions``); ``(0, 0, 0)`` when nothing changed."""
    if old == new:
        return 0, 0, 0
    shorter = min(len(old), len(new))
    prefix = _common_prefix(old, new, shorter)
    suffix = _common_suffix(old, new, shorter - prefix)
    start = prefix
    end = len(new) - suffix
    for _ in range(context + 1):
        start = new.rfind(b"\n", 0, max(start - 1, 0)) + 1 if start > 0 else 0
    for _ in range(context + 1):
        found = new.find(b"\n", end)
        end = len(new) if found == -1 else found + 1
    # And at least context_bytes either side: a rule may reach a few hundred bytes back to its keyword
    # (a Terraform provider block above a rotated key).
    if prefix - start < context_bytes and start > 0:
        start = new.rfind(b"\n", 0, max(prefix - context_bytes, 0)) + 1
    if end - (len(new) - suffix) < context_bytes and end < len(new):
        found = new.find(b"\n", len(new) - suffix + context_bytes)
        end = len(new) if found == -1 else found + 1
    return start, end, new.count(b"\n", 0, start) + 1


_changed_span: Callable[[bytes, bytes, int, int], Span]
_narrow: Callable[[bytes, bytes, int, int, int, int, object, bool], tuple[Blocks | None, object, int]] | None
try:
    from scanner._textdiff import changed_span as _changed_span_c
    from scanner._textdiff import narrow as _narrow_c
except ImportError:  # built without a C compiler (the extension is optional): the Python specifications
    _changed_span, _narrow = _changed_span_py, None
    NARROW_REGION = LARGE_REGION
else:
    _changed_span, _narrow = _changed_span_c, _narrow_c
    NARROW_REGION = NARROW_REGION_C

# What memos may hold at most: 16 bytes a line, and their texts (the git reader holds a path's last version anyway
# while it scans, but a process that goes on to other work should not keep them).
MEMO_BYTES = 96 << 20


class _Memos:
    """The line hashes of the last version of each large file being followed, keyed by the identity of that
    version's text (held here, so the identity is not reused): the next version's ``changed_regions(old, new)``
    gets ``old``'s lines from here instead of hashing it whole again. Only the C path keeps them (``narrow``);
    which lines are new does not depend on them, only how fast it is found. The oldest go first past ``budget``
    bytes (the arrays and the texts)."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._bytes = 0
        self._held: dict[int, tuple[bytes, object, int]] = {}  # id(text) -> (text, memo, its line count)
        self._lock = Lock()  # a thread pool scans several repositories in one process

    def take(self, text: bytes) -> tuple[object, int] | None:
        """The memo of ``text`` and its line count, no longer held (the next version's takes its place)."""
        if id(text) not in self._held:  # most versions have none (a small file's): no lock taken (a look-up is atomic)
            return None
        with self._lock:
            held = self._held.pop(id(text), None)
            if held is None:
                return None
            self._bytes -= _cost(*held)
            return (held[1], held[2]) if held[0] is text else None

    def keep(self, text: bytes, memo: object, lines: int) -> None:
        with self._lock:
            if _cost(text, memo, lines) > self._budget:
                return
            held = self._held.pop(id(text), None)  # insertion order is the age: a file followed again moves to the end
            if held is not None:
                self._bytes -= _cost(*held)
            self._held[id(text)] = (text, memo, lines)
            self._bytes += _cost(text, memo, lines)
            while self._bytes > self._budget:
                self._bytes -= _cost(*self._held.pop(next(iter(self._held))))


def _cost(text: bytes, memo: object, lines: int) -> int:
    return len(text) + 16 * lines


_memos = _Memos(MEMO_BYTES)


def changed_regions(old: bytes, new: bytes) -> list[tuple[bytes, int]]:
    """The parts of ``new`` that differ from ``old``, each with the line number of its first line in ``new``.

    In a file's history most of each version is the previous one again: rescanning it finds nothing new for that
    path. The changed region is whole lines from the first to the last changed byte, with ``CONTEXT_LINES`` lines
    and at least ``CONTEXT_BYTES`` bytes around them (``_changed_span_py`` defines it; none if nothing changed);
    the common prefix and suffix are found with block compares, so the cost is that of the change (in C; the
    Python specification costs about 29 µs a call on pytest's history, mostly its binary search's slices).

    Where changes are scattered over a large file (a generated list, a changelog), the region is most of the file,
    so one of ``NARROW_REGION`` bytes or more is narrowed to its new lines (lines found nowhere in ``old``) with
    the same context, in blocks of consecutive lines (``_novel_blocks_py`` defines them). A line left out is one
    the path already had: it was scanned then. Only the blocks kept are sliced out of ``new``.

    In C (``_narrow``) the lines of ``old`` come from its memo (``_Memos``) when ``old`` is the text the previous
    call at this path got as ``new``: its lines are ``old``'s own up to the region, the region's (hashed for the
    narrowing anyway) and ``old``'s after it. Without that, narrowing hashed every version whole twice, once as
    the region and once as the next version's ``old``. Once a path has been narrowed, its smaller changes keep
    its memo up to date too (hashing their region only).

    A list, not a generator: it runs once per later version of a path (37,483 times in pytest's history).
    """
    start, end, first = _changed_span(old, new, CONTEXT_LINES, CONTEXT_BYTES)
    held = _memos.take(old) if _narrow is not None else None
    if end <= start:  # nothing changed, or nothing is left
        if held is not None and len(new) == len(old):  # the same text again: the same lines
            _memos.keep(new, *held)
        return []
    cut = end - start >= NARROW_REGION
    blocks: Blocks | None = None
    if _narrow is not None and (cut or held is not None):
        blocks, memo, lines = _narrow(old, new, start, end, CONTEXT_LINES, CONTEXT_BYTES, held and held[0], cut)
        _memos.keep(new, memo, lines)
    elif cut:
        # Without the region's last newline: split would make an empty "line" after it that is not one of the file's.
        stop = end - 1 if new[end - 1] == 0x0A else end
        blocks = _novel_blocks_py(old, memoryview(new)[start:stop], CONTEXT_LINES, CONTEXT_BYTES)
    if blocks is None:
        return [(new[start:end], first)]
    return [(new[start + block_start : start + block_end], first + lo) for block_start, block_end, lo in blocks]


def new_line_numbers(old: bytes, new: bytes) -> frozenset[int]:
    """Line numbers of ``new`` whose text is nowhere in ``old``: what a change brings in. A line moved within
    the file brings nothing new, so a secret already committed there does not block again."""
    known = set(old.split(b"\n"))
    return frozenset(i + 1 for i, line in enumerate(new.split(b"\n")) if line not in known)
