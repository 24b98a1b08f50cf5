"""What changed between two versions of a file, on bytes: the changed region and the new lines.

Pure functions shared by the git source (a later version of a file is scanned where it changed) and the
structured detector (a Terraform state version that adds nothing is not analysed again).
"""

from __future__ import annotations

from collections.abc import Iterator

CONTEXT_LINES = 3
CONTEXT_BYTES = 512
# Narrowing a region to its new lines costs about 11 ns per byte of region (line sets of both versions);
# scanning it costs about 6 ns (pytest's history: narrowing every region over 32 KB took 2.9 s where
# scanning them whole took 1.9 s). Only a region this large is narrowed: it bounds the cost of content that
# is slow to scan.
LARGE_REGION = 1 << 20


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


def changed_region(old: bytes, new: bytes) -> tuple[bytes, int]:
    """The part of ``new`` that differs from ``old``: whole lines from the first to the last changed byte, with
    ``CONTEXT_LINES`` lines and at least ``CONTEXT_BYTES`` bytes around them, and the region's first line number.
    The region is empty if nothing changed.

    In a file's history most of each version is the previous one again: rescanning it finds nothing new for that
    path. The common prefix and suffix are found with block compares, so the cost is that of the change.
    """
    if old == new:
        return b"", 0
    shorter = min(len(old), len(new))
    prefix = _common_prefix(old, new, shorter)
    suffix = _common_suffix(old, new, shorter - prefix)
    start = prefix
    end = len(new) - suffix
    for _ in range(CONTEXT_LINES + 1):
        start = new.rfind(b"\n", 0, max(start - 1, 0)) + 1 if start > 0 else 0
    for _ in range(CONTEXT_LINES + 1):
        found = new.find(b"\n", end)
        end = len(new) if found == -1 else found + 1
    # And at least CONTEXT_BYTES either side: a rule may reach a few hundred bytes back to its keyword
    # (a Terraform provider block above a rotated key).
    if prefix - start < CONTEXT_BYTES and start > 0:
        start = new.rfind(b"\n", 0, max(prefix - CONTEXT_BYTES, 0)) + 1
    if end - (len(new) - suffix) < CONTEXT_BYTES and end < len(new):
        found = new.find(b"\n", len(new) - suffix + CONTEXT_BYTES)
        end = len(new) if found == -1 else found + 1
    return new[start:end], new.count(b"\n", 0, start) + 1


def changed_regions(old: bytes, new: bytes) -> Iterator[tuple[bytes, int]]:
    """``changed_region``; where changes are scattered over a large file (a generated list, a changelog), the
    region is most of the file, so it is narrowed to its new lines (lines found nowhere in ``old``) with context,
    in blocks of consecutive lines."""
    region, first = changed_region(old, new)
    if len(region) < LARGE_REGION:
        if region:
            yield region, first
        return
    known = set(old.split(b"\n"))
    lines = region.split(b"\n")
    novel = [i for i, line in enumerate(lines) if line not in known]
    block_start = block_end = -1
    for i in novel:
        lo, hi = max(0, i - CONTEXT_LINES), min(len(lines), i + CONTEXT_LINES + 1)
        if lo > block_end:
            if block_end > block_start:
                yield b"\n".join(lines[block_start:block_end]), first + block_start
            block_start = lo
        block_end = hi
    if block_end > block_start:
        yield b"\n".join(lines[block_start:block_end]), first + block_start


def new_line_numbers(old: bytes, new: bytes) -> frozenset[int]:
    """Line numbers of ``new`` whose text is nowhere in ``old``: what a change brings in. A line moved within
    the file brings nothing new, so a secret already committed there does not block again."""
    known = set(old.split(b"\n"))
    return frozenset(i + 1 for i, line in enumerate(new.split(b"\n")) if line not in known)
