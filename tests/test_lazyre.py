"""``LazyPattern``: compiled on the first call only, and every method answers as the compiled pattern does."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import regexcode
from scanner.lazyre import LazyPattern

PATTERNS = [r"(?i)^[0-9a-f]{4,}$", r"(\w+)=(\d+)", r"(?<=[a-z])(?=[A-Z])", r"a|", r"(.)\1{2,}"]


def test_nothing_is_compiled_before_the_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real = regexcode.compile  # what LazyPattern compiles with (re.compile, from stored code where it can)
    monkeypatch.setattr(regexcode, "compile", lambda p, f=0: compiled.append(p) or real(p, f))
    lazy = LazyPattern(r"x+y")
    assert compiled == []
    assert lazy.search("axxy") is not None and lazy.match("y") is None
    assert compiled == [r"x+y"]  # once, whatever the number of calls


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PATTERNS), st.text(alphabet="aAbB09=_x \n", max_size=20), st.integers(0, 5))
def test_every_method_answers_as_re_does(pattern: str, text: str, pos: int) -> None:
    lazy, real = LazyPattern(pattern), re.compile(pattern)

    def span(found: re.Match[str] | None) -> tuple[int, int, tuple[str | None, ...]] | None:
        return None if found is None else (*found.span(), found.groups())

    assert span(lazy.match(text, pos)) == span(real.match(text, pos))
    assert span(lazy.fullmatch(text)) == span(real.fullmatch(text))
    assert span(lazy.search(text, pos, pos + 10)) == span(real.search(text, pos, pos + 10))
    assert lazy.findall(text) == real.findall(text)
    assert [span(m) for m in lazy.finditer(text)] == [span(m) for m in real.finditer(text)]
    assert lazy.sub("-", text) == real.sub("-", text)
    assert lazy.sub(lambda m: m.group(0).upper(), text, 1) == real.sub(lambda m: m.group(0).upper(), text, 1)
    assert lazy.pattern == pattern and lazy.compiled.flags == real.flags


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(PATTERNS), st.binary(max_size=20), st.integers(0, 5))
def test_a_bytes_pattern_answers_as_re_does(pattern: str, data: bytes, pos: int) -> None:
    raw = pattern.encode()
    lazy, real = LazyPattern(raw), re.compile(raw)

    def span(found: re.Match[bytes] | None) -> tuple[int, int, tuple[bytes | None, ...]] | None:
        return None if found is None else (*found.span(), found.groups())

    assert span(lazy.match(data, pos)) == span(real.match(data, pos))
    assert span(lazy.fullmatch(data)) == span(real.fullmatch(data))
    assert span(lazy.search(data, pos, pos + 10)) == span(real.search(data, pos, pos + 10))
    assert [span(m) for m in lazy.finditer(data, pos)] == [span(m) for m in real.finditer(data, pos)]
    assert lazy.sub(b"-", data) == real.sub(b"-", data)
