"""``scanner.detect.smallscan``: a small scan runs Hyperscan over the groups of rules whose keywords it holds; its
candidates are the whole database's, less rules without a keyword in the chunk (which the detector skips), and its
findings are the whole database's. Past a share of the groups, or of input, the whole database answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.detect import smallscan
from scanner.detect.engine import Detector
from scanner.detect.prefilter import HyperscanPrefilter
from scanner.ruleset import load_ruleset
from scanner.ruleset.model import Ruleset

pytest.importorskip("hyperscan")

FILLER = b"def handler(event):\n    return event.get('value')\n" * 6  # past SMALL_INPUT with any example


@pytest.fixture(scope="module")
def builtin(_cache_root: Path) -> Ruleset:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEAKSTOP_CACHE_DIR", str(_cache_root))
        return load_ruleset()


@pytest.fixture(scope="module")
def prefilters(builtin: Ruleset, _cache_root: Path) -> tuple[smallscan.GroupedPrefilter, HyperscanPrefilter]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEAKSTOP_CACHE_DIR", str(_cache_root))
        return smallscan.GroupedPrefilter(builtin.rules, builtin.hash), HyperscanPrefilter(builtin.rules, builtin.hash)


def _examples(ruleset: Ruleset, indices: list[int], upper: bool = False) -> bytes:
    text = "\n".join(ex for i in indices for ex in ruleset.rules[i].spec.examples[:1]).encode()
    return FILLER + (text.upper() if upper else text) + b"\n"


@given(st.lists(st.integers(0, 10_000), max_size=12), st.booleans())
def test_grouped_candidates_are_the_whole_database_s_that_have_a_keyword(
    builtin: Ruleset, prefilters: tuple[smallscan.GroupedPrefilter, HyperscanPrefilter], picks: list[int], upper: bool
) -> None:
    grouped, whole = prefilters
    content = _examples(builtin, [p % len(builtin.rules) for p in picks], upper)
    lowered = content.lower()
    every = set(whole.scan(content).candidates)
    with_keyword = {i for i in every if any(k in lowered for k in builtin.rules[i].keywords)}
    assert with_keyword <= set(grouped.scan(content).candidates) <= every


def test_a_hook_sized_scan_uses_the_groups_and_finds_what_the_whole_database_finds(builtin: Ruleset) -> None:
    small_first = Detector(builtin, small_first=True)
    whole = Detector(builtin, engine="hyperscan")
    assert isinstance(small_first.prefilter, smallscan.SmallFirstPrefilter)
    step = len(builtin.rules) // 6
    for start in range(0, len(builtin.rules), step):  # six chunks, each with the examples of three rules
        chunk = _examples(builtin, [start, start + 1, start + 2])
        found = small_first.detect(chunk)
        assert found == whole.detect(chunk) and found
        assert small_first.prefilter.stage == "grouped"


def test_a_chunk_that_needs_many_groups_or_a_larger_scan_goes_to_the_whole_database(builtin: Ruleset) -> None:
    every = _examples(builtin, list(range(len(builtin.rules))))
    whole = Detector(builtin, engine="hyperscan")
    small_first = Detector(builtin, small_first=True)
    assert small_first.detect(every) == whole.detect(every)
    assert isinstance(small_first.prefilter, smallscan.SmallFirstPrefilter)
    assert small_first.prefilter.stage == "whole"
    late = Detector(builtin, small_first=True)
    chunk = _examples(builtin, [0])
    assert isinstance(late.prefilter, smallscan.SmallFirstPrefilter)
    stages = []
    for _ in range(smallscan.GROUPED_INPUT // len(chunk) + 1):
        assert late.detect(chunk) == whole.detect(chunk)
        stages.append(late.prefilter.stage)
    assert stages[0] == "grouped" and stages[-1] == "whole"


def test_every_group_has_its_own_cache_entry_kind() -> None:
    kinds = [smallscan._letters(group) for group in range(30_000)]
    assert len(set(kinds)) == len(kinds)
    assert all(kind.isalpha() and kind.islower() and len(kind) >= 3 for kind in kinds)
