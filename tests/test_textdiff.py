"""The changed region and large regions cut to their new lines: the C module (scanner/_textdiff.c) against its
Python specifications, what the blocks hold, and the fallback used where the C module did not build."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import textdiff

try:
    from scanner import _textdiff
except ImportError:  # pragma: no cover - CI builds it (.ci/run installs gcc and python3-dev)
    _textdiff = None  # type: ignore[assignment]

needs_c = pytest.mark.skipif(_textdiff is None, reason="scanner._textdiff did not build (no C compiler?)")

# Few distinct lines, so that old and new share many; a long one makes the byte context reach past line counts.
line = st.sampled_from([b"alpha", b"beta", b"", b"token = x", b"delta" * 30, b"\r", b"\xff\x00"]) | st.binary(
    max_size=12
).filter(lambda b: b"\n" not in b)
text = st.lists(line, max_size=60).map(b"\n".join)


@needs_c
@settings(max_examples=1000, deadline=None)
@given(text, text, st.integers(0, 5), st.sampled_from([0, 1, 7, 64, 512]))
def test_narrow_with_and_without_a_memo_gives_what_the_specification_gives(
    old: bytes, region: bytes, context: int, cb: int
) -> None:
    """A new version that is the region whole (and a newline, which the cut leaves out): every line of it is walked
    alongside old's, with old hashed here or taken from its memo (made as a version of an empty file)."""
    expected = textdiff._novel_blocks_py(old, region, context, cb)
    new = region + b"\n"
    _, memo, _ = _textdiff.narrow(b"", old, 0, len(old), context, cb, None, False) if old else (None, None, 0)
    for held in (None, memo):
        blocks, _, lines = _textdiff.narrow(old, new, 0, len(new), context, cb, held, True)
        assert blocks == expected
        assert lines == new.count(b"\n") + 1


def _edited(old: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """``old`` with each ``(at, cut, insert)`` applied in turn: a later version that shares most of its bytes."""
    new = old
    for offset, cut, insert in edits:
        at = offset % (len(new) + 1)
        new = new[:at] + insert + new[at + cut :]
    return new


edit = st.tuples(st.integers(0, 5000), st.integers(0, 40), st.binary(max_size=8) | line)


@needs_c
@settings(max_examples=1500, deadline=None)
@given(text, st.lists(edit, max_size=4), st.integers(0, 5), st.sampled_from([0, 1, 7, 64, 512]), st.integers(1, 40))
def test_c_changed_span_gives_what_the_python_specification_gives(
    old: bytes, edits: list[tuple[int, int, bytes]], context: int, cb: int, times: int
) -> None:
    """Versions made by edits of a text repeated up to 40 times (past the C compare's 512-byte blocks), either way
    round: the start, end and first line number are the same."""
    old *= times
    new = _edited(old, edits)
    assert _textdiff.changed_span(old, new, context, cb) == textdiff._changed_span_py(old, new, context, cb)
    assert _textdiff.changed_span(new, old, context, cb) == textdiff._changed_span_py(new, old, context, cb)


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=50), st.binary(max_size=50), st.integers(0, 3), st.integers(0, 20))
def test_c_changed_span_on_arbitrary_bytes(old: bytes, new: bytes, context: int, cb: int) -> None:
    assert _textdiff.changed_span(old, new, context, cb) == textdiff._changed_span_py(old, new, context, cb)


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(0, 9000), st.integers(0, 70), st.binary(max_size=3))
def test_c_changed_span_numbers_lines_after_a_long_prefix(piece: bytes, at: int, newlines: int, insert: bytes) -> None:
    """A common prefix of up to tens of KB, dense or sparse in newlines (the C count goes 16 bytes a step, its byte
    sums emptied every 4,080 bytes): the first line number is the specification's."""
    old = (piece + b"\n" * (newlines % 3)) * (1 + 12_000 // len(piece)) + b"\n" * newlines
    at %= len(old) + 1
    new = old[:at] + insert + b"\n" + old[at:]
    assert _textdiff.changed_span(old, new, 3, 512) == textdiff._changed_span_py(old, new, 3, 512)
    assert _textdiff.changed_span(old, new, 0, 0) == textdiff._changed_span_py(old, new, 0, 0)


def _reference_regions(old: bytes, new: bytes) -> list[tuple[bytes, int]]:
    """``changed_regions`` from the Python specifications alone, at the current ``NARROW_REGION``."""
    start, end, first = textdiff._changed_span_py(old, new, textdiff.CONTEXT_LINES, textdiff.CONTEXT_BYTES)
    if end - start < textdiff.NARROW_REGION:
        return [(new[start:end], first)] if end > start else []
    stop = end - 1 if new.endswith(b"\n", 0, end) else end
    blocks = textdiff._novel_blocks_py(old, new[start:stop], textdiff.CONTEXT_LINES, textdiff.CONTEXT_BYTES)
    return [(new[start + a : start + b], first + lo) for a, b, lo in blocks]


@needs_c
@settings(max_examples=600, deadline=None)
@given(text, st.lists(st.lists(edit, min_size=1, max_size=6), min_size=1, max_size=8), st.integers(1, 30))
def test_a_path_followed_through_its_versions_gets_the_regions_the_specification_gives(
    first: bytes, versions: list[list[tuple[int, int, bytes]]], times: int
) -> None:
    """Each version is diffed against the one before (the same object, as the git reader does), so the C path
    takes the previous version's lines from its memo; small and large regions, with a low narrowing threshold."""
    old = first * times
    with (
        mock.patch.object(textdiff, "NARROW_REGION", 64),
        mock.patch.object(textdiff, "_memos", textdiff._Memos(1 << 20)),
    ):
        for edits in versions:
            new = _edited(old, edits)
            assert list(textdiff.changed_regions(old, new)) == _reference_regions(old, new)
            old = new


@needs_c
def test_the_memo_follows_only_the_same_text_object_and_is_bounded() -> None:
    """A memo costs its text's bytes and 16 bytes a line; past the budget the oldest go."""
    memos = textdiff._Memos(100)
    text = b"a\nb\n" * 3  # 12 bytes
    memos.keep(text, "memo of text", 4)  # 12 + 64 bytes
    assert memos.take(bytes(bytearray(text))) is None  # equal bytes, another object: not this memo
    assert memos.take(text) == ("memo of text", 4)
    assert memos.take(text) is None  # taken: the next version's memo takes its place
    older, newer = b"older", b"newer"
    memos.keep(older, 1, 2)  # 5 + 32
    memos.keep(newer, 2, 2)
    memos.keep(text, 3, 1)  # 12 + 16: 102 bytes held, over 100: the oldest goes
    assert memos.take(older) is None
    assert memos.take(newer) == (2, 2)
    assert memos.take(text) == (3, 1)
    memos.keep(text, 4, 6)  # 12 + 96: more than the whole budget, not kept
    assert memos.take(text) is None


@needs_c
def test_narrow_refuses_what_is_not_a_changed_region_of_whole_lines() -> None:
    old, new = b"a\nb\nc\n", b"a\nB\nc\n"
    _, memo, lines = _textdiff.narrow(old, new, 2, 4, 3, 0, None, False)
    assert lines == 4  # "a", "B", "c" and the empty line after the last newline
    for start, end in ((3, 4), (2, 3), (4, 4), (2, 9)):
        with pytest.raises(ValueError, match="region"):
            _textdiff.narrow(old, new, start, end, 3, 0, None, True)
    with pytest.raises(ValueError, match="memo"):
        _textdiff.narrow(old + b"x", new + b"x", 2, 4, 3, 0, memo, True)  # a memo of another text
    with pytest.raises(ValueError, match="PyCapsule"):
        _textdiff.narrow(old, new, 2, 4, 3, 0, "not a memo", True)


@needs_c
def test_c_module_rejects_a_negative_context() -> None:
    with pytest.raises(ValueError, match="negative"):
        _textdiff.changed_span(b"a", b"b", -1, 0)
    with pytest.raises(ValueError, match="negative"):
        _textdiff.changed_span(b"a", b"b", 0, -1)
    with pytest.raises(TypeError):
        _textdiff.changed_span("a", b"b", 0, 0)  # type: ignore[arg-type]


@settings(max_examples=500, deadline=None)
@given(text, text, st.integers(0, 4), st.sampled_from([0, 5, 100]))
def test_blocks_hold_every_new_line_with_its_context(old: bytes, region: bytes, context: int, cb: int) -> None:
    lines = region.split(b"\n")
    known = set(old.split(b"\n"))
    starts = [sum(len(x) + 1 for x in lines[:k]) for k in range(len(lines))]
    covered: dict[int, bytes] = {}
    blocks = textdiff._novel_blocks_py(old, region, context, cb)
    previous_end = -2
    for start, end, lo in blocks:
        assert start > previous_end + 1  # blocks are in order and do not touch: touching ones are one block
        previous_end = end
        assert start == starts[lo]
        for offset, text_line in enumerate(region[start:end].split(b"\n")):
            covered[lo + offset] = text_line
    for number, text_line in enumerate(lines):
        if text_line in known:
            continue
        for near in range(max(0, number - context), min(len(lines), number + context + 1)):
            assert covered[near] == lines[near]
        # and whole lines up to cb bytes either side
        line_end = starts[number] + len(text_line)
        for near, near_start in enumerate(starts):
            if near_start + len(lines[near]) >= starts[number] - cb and near_start <= line_end + cb:
                assert near in covered, (number, near)
    assert set(covered) <= set(range(len(lines)))


def test_a_large_region_is_narrowed_with_the_right_line_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every 50th line of a 200 KB file changes: the regions are about the changed lines, not the whole file, and
    each starts at its line number in the new version."""
    monkeypatch.setattr(textdiff, "NARROW_REGION", textdiff.NARROW_REGION_C)  # the C threshold, either way
    old_lines = [f"entry {i:05d}: {'x' * 60}" for i in range(3000)]
    new_lines = [f"entry {i:05d}: changed" if i % 500 == 250 else text_line for i, text_line in enumerate(old_lines)]
    old, new = "\n".join(old_lines).encode(), "\n".join(new_lines).encode()
    regions = list(textdiff.changed_regions(old, new))
    assert len(regions) == 6
    assert sum(len(r) for r, _ in regions) < len(new) // 20
    by_number = new.split(b"\n")
    for region, first in regions:
        for offset, text_line in enumerate(region.split(b"\n")):
            assert by_number[first - 1 + offset] == text_line
    changed = {first + k for region, first in regions for k, t in enumerate(region.split(b"\n")) if b"changed" in t}
    assert changed == {i + 1 for i in range(3000) if i % 500 == 250}


def test_a_small_region_is_not_narrowed() -> None:
    old = b"a\nb\nc\n"
    new = b"a\nB\nc\n"
    assert list(textdiff.changed_regions(old, new)) == [(new, 1)]
    assert list(textdiff.changed_regions(old, old)) == []


@pytest.fixture
def without_c(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``scanner.textdiff`` imported as where the C module did not build; imported again as it was after."""
    monkeypatch.setitem(sys.modules, "scanner._textdiff", None)  # None in sys.modules: the import fails
    importlib.reload(textdiff)
    yield
    monkeypatch.undo()
    importlib.reload(textdiff)


@pytest.mark.usefixtures("without_c")
def test_without_the_c_module_python_narrows_only_the_largest_regions() -> None:
    assert textdiff._changed_span is textdiff._changed_span_py
    assert textdiff._narrow is None  # no memos either: each region is narrowed against its old version whole
    assert textdiff.NARROW_REGION == textdiff.LARGE_REGION
    old = b"".join(b"line %d\n" % i for i in range(200_000))  # about 2 MB
    new = old.replace(b"line 1000\n", b"line one thousand\n").replace(b"line 150000\n", b"line new\n")
    regions = list(textdiff.changed_regions(old, new))
    assert len(regions) == 2
    assert sum(len(r) for r, _ in regions) < 4 * (textdiff.CONTEXT_BYTES + 20)
    by_number = new.split(b"\n")
    for (region, first), changed in zip(regions, (b"line one thousand", b"line new"), strict=True):
        assert changed in region.split(b"\n")
        assert region.split(b"\n") == by_number[first - 1 : first - 1 + region.count(b"\n") + 1]


def test_with_the_c_module_where_it_built() -> None:
    if _textdiff is None:  # pragma: no cover
        assert textdiff._narrow is None
    else:
        assert textdiff._changed_span is _textdiff.changed_span
        assert textdiff._narrow is _textdiff.narrow
        assert textdiff.NARROW_REGION == textdiff.NARROW_REGION_C
