"""Shannon entropy of a secret candidate (scanner/detect/entropy.py), in bits per character."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.detect.entropy import shannon_entropy

EPSILON = 1e-9


@given(st.text(max_size=200))
def test_entropy_is_between_zero_and_log2_of_distinct_characters(text: str) -> None:
    entropy = shannon_entropy(text)
    assert entropy >= 0.0
    distinct = len(set(text))
    bound = math.log2(distinct) if distinct else 0.0
    assert entropy <= bound + EPSILON


@given(st.characters(), st.integers(min_value=1, max_value=500))
def test_repeated_character_has_zero_entropy(char: str, count: int) -> None:
    assert shannon_entropy(char * count) == pytest.approx(0.0, abs=EPSILON)


def test_empty_string_has_zero_entropy() -> None:
    assert shannon_entropy("") == 0.0


@given(st.text(min_size=1, max_size=100), st.randoms(use_true_random=False))
def test_entropy_is_permutation_invariant(text: str, rng: random.Random) -> None:
    chars = list(text)
    rng.shuffle(chars)
    assert shannon_entropy("".join(chars)) == pytest.approx(shannon_entropy(text), abs=EPSILON)


@given(st.lists(st.characters(), min_size=1, max_size=64, unique=True))
def test_distinct_characters_reach_the_bound(chars: list[str]) -> None:
    """Every character once: the uniform distribution, exactly log2(n) bits."""
    assert shannon_entropy("".join(chars)) == pytest.approx(math.log2(len(chars)), abs=EPSILON)


@given(st.text(min_size=1, max_size=50), st.integers(min_value=2, max_value=5))
def test_repeating_the_whole_string_keeps_the_entropy(text: str, times: int) -> None:
    assert shannon_entropy(text * times) == pytest.approx(shannon_entropy(text), abs=EPSILON)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ab", 1.0), ("aab", 0.9182958340544896), ("abcd", 2.0), ("aabb", 1.0), ("0123456789abcdef", 4.0)],
)
def test_known_values(text: str, expected: float) -> None:
    assert shannon_entropy(text) == pytest.approx(expected)
