"""Encoded secrets (scanner/detect/decode.py and the decoding pass of the detector).

A generated GitHub token hidden by base64, hex, percent-encoding or JSON escapes must be found, attributed to
the line of the encoded text, and say which encodings were peeled off.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tokens import TokenFactory

from scanner.detect.decode import MIN_RUN, _mostly_printable, _runs, encoded_spans
from scanner.detect.engine import Detector
from scanner.models import Match
from scanner.ruleset.model import Ruleset

ENCODINGS = {"base64", "hex", "percent", "json-escape"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def percent_all(text: str) -> str:
    return "".join(f"%{b:02X}" for b in text.encode())


def locate(content: str, needle: str) -> tuple[int, int]:
    """1-based line and column (in bytes) of ``needle``."""
    raw = content.encode()
    offset = raw.index(needle.encode())
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return line, column


def only_match(detector: Detector, content: str) -> Match:
    matches = detector.detect(content.encode())
    assert len(matches) == 1, [(m.rule_id, m.decoded, m.line) for m in matches]
    return matches[0]


@pytest.fixture
def token(tokens: TokenFactory) -> str:
    return tokens.github_clean()


def test_base64_encoded_token_is_found_on_its_line(github_detector: Detector, token: str) -> None:
    encoded = b64(f"GITHUB_TOKEN={token}\n")
    content = f"apiVersion: v1\nkind: Secret\ndata:\n  token: {encoded}\n  other: aGVsbG8=\n"
    assert token not in content
    m = only_match(github_detector, content)
    assert m.rule_id == "github-pat"
    assert m.secret.reveal() == token
    assert m.decoded == ("base64",)
    assert (m.line, m.column) == locate(content, encoded)
    assert (m.end_line, m.end_column) == (m.line, m.column + len(encoded))
    assert content.encode()[m.start : m.end] == encoded.encode()
    assert "base64-encoded secret" in m.snippet and encoded not in m.snippet


def test_hex_encoded_token_is_found_on_its_line(github_detector: Detector, token: str) -> None:
    encoded = binascii.hexlify(f"token {token}".encode()).decode()
    content = f"# dump\nlength=46\npayload={encoded}\ntrailer\n"
    m = only_match(github_detector, content)
    assert (m.rule_id, m.secret.reveal(), m.decoded) == ("github-pat", token, ("hex",))
    assert (m.line, m.column) == locate(content, encoded)


def test_percent_encoded_token_in_a_url_is_found(github_detector: Detector, token: str) -> None:
    url = f"https://api.example.com/v1/repos?access_token={percent_all(token)}&page=2"
    content = f"#!/bin/sh\nset -eu\ncurl -fsS '{url}'\necho done\n"
    m = only_match(github_detector, content)
    assert (m.rule_id, m.secret.reveal(), m.decoded) == ("github-pat", token, ("percent",))
    assert (m.line, m.column) == locate(content, url)
    assert content.encode()[m.start : m.end] == url.encode()


def test_json_escaped_token_is_found(github_detector: Detector, token: str) -> None:
    # '\/' escapes around the URL and a '\u0067' for the token's first letter: the raw text holds no token.
    escaped = f"https:\\/\\/x-access-token:\\u0067{token[1:]}@github.com\\/acme\\/app.git"
    content = f'{{\n  "name": "app",\n  "remote": "{escaped}",\n  "private": true\n}}\n'
    assert token not in content
    m = only_match(github_detector, content)
    assert (m.rule_id, m.secret.reveal(), m.decoded) == ("github-pat", token, ("json-escape",))
    assert (m.line, m.column) == locate(content, escaped)


def test_raw_token_inside_an_escaped_json_string_is_reported_once_as_raw(github_detector: Detector, token: str) -> None:
    content = f'{{"remote": "https:\\/\\/x:{token}@github.com\\/a"}}\n'
    m = only_match(github_detector, content)
    assert m.decoded == ()
    assert (m.line, m.column) == locate(content, token)


def test_nested_encoding_is_peeled_to_the_depth_bound(github_ruleset: Ruleset, token: str) -> None:
    twice = b64(b64(f"token={token}"))
    content = f"first line\nsecond: {twice}\n"
    found = {
        depth: [m.decoded for m in Detector(github_ruleset, max_decode_depth=depth).detect(content.encode())]
        for depth in (0, 1, 2, 3)
    }
    assert found[0] == []
    assert found[1] == []
    assert found[2] == [("base64", "base64")]
    assert found[3] == [("base64", "base64")]


def test_depth_zero_finds_only_raw_tokens(github_ruleset: Ruleset, tokens: TokenFactory) -> None:
    raw, hidden = tokens.github_clean(), tokens.github_clean()
    content = f"RAW={raw}\nHIDDEN={b64(hidden)}\nHEX={binascii.hexlify(hidden.encode()).decode()}\n"
    detector = Detector(github_ruleset, max_decode_depth=0)
    matches = detector.detect(content.encode())
    assert [(m.secret.reveal(), m.decoded, m.line) for m in matches] == [(raw, (), 1)]
    deeper = Detector(github_ruleset, max_decode_depth=1).detect(content.encode())
    assert sorted((m.decoded, m.line) for m in deeper) == [((), 1), (("base64",), 2), (("hex",), 3)]


def test_encoded_token_with_a_bad_checksum_is_not_found(github_detector: Detector, tokens: TokenFactory) -> None:
    bad = tokens.github(valid=False)
    assert github_detector.detect(f"x: {b64('token=' + bad)}\n".encode()) == []


def test_python_and_hyperscan_prefilters_agree_on_encoded_content(
    github_ruleset: Ruleset,
    tokens: TokenFactory,
) -> None:
    t1, t2, t3 = (tokens.github_clean(p) for p in ("ghp_", "gho_", "ghs_"))
    content = f"a={b64(t1)}\nb={binascii.hexlify(t2.encode()).decode()}\nc=https://h/?t={percent_all(t3)}\n"

    def run(engine: str) -> list[tuple[str, str, tuple[str, ...], int, int]]:
        detector = Detector(github_ruleset, engine=engine)
        return [(m.rule_id, m.secret.reveal(), m.decoded, m.line, m.column) for m in detector.detect(content.encode())]

    python = run("python")
    assert len(python) == 3
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        pytest.skip("hyperscan is not installed")
    assert run("hyperscan") == python


@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=16, max_value=600))
def test_base64_of_binary_data_yields_no_span(seed: int, size: int) -> None:
    data = random.Random(seed).randbytes(size)
    text = base64.b64encode(data)
    assert list(encoded_spans(b"key: " + text + b"\n")) == []
    assert list(encoded_spans(base64.urlsafe_b64encode(data))) == []


def test_binary_base64_in_a_file_produces_no_finding(github_detector: Detector) -> None:
    blob = base64.b64encode(random.Random(5).randbytes(3000)).decode()
    content = "\n".join(blob[i : i + 76] for i in range(0, len(blob), 76))
    assert github_detector.detect(content.encode()) == []


def test_decoded_budget_bounds_the_output() -> None:
    spans = " ".join(b64(f"line number {i:04d} of the text") for i in range(20))
    everything = list(encoded_spans(spans.encode()))
    assert len(everything) == 20
    assert all(s.encoding == "base64" for s in everything)
    bounded = list(encoded_spans(spans.encode(), limit=100))
    assert 0 < len(bounded) < 20
    assert sum(len(s.content) for s in bounded) <= 100


@given(st.binary(max_size=2000))
def test_encoded_spans_never_raises_on_arbitrary_bytes(content: bytes) -> None:
    for span in encoded_spans(content):
        assert 0 <= span.start < span.end <= len(content)
        assert span.encoding in ENCODINGS
        assert span.content


fragments = st.sampled_from(
    [
        b'"',
        b"\\",
        b"\\/",
        b"\\u00",
        b"\\u0067",
        b"%",
        b"%2",
        b"%41",
        b"=",
        b"==",
        b"\n",
        b"\r",
        b"\x00",
        b"\xff",
        b"QUJD",
        b"ghp_",
        b"0a1b2c3d4e5f",
        b"-_",
        b"+/",
        b"{",
        b"}",
        b"\\ud800",
        b'\\"',
    ]
)


@given(st.lists(st.one_of(fragments, st.binary(max_size=8)), max_size=60))
def test_encoded_spans_never_raises_on_encoding_like_noise(parts: list[bytes]) -> None:
    content = b"".join(parts)
    for span in encoded_spans(content):
        assert 0 <= span.start < span.end <= len(content)
        assert span.encoding in ENCODINGS


@given(st.lists(st.one_of(fragments, st.binary(max_size=8)), max_size=40))
def test_detector_never_raises_and_positions_are_in_range(github_detector: Detector, parts: list[bytes]) -> None:
    content = b"".join(parts)
    for m in github_detector.detect(content):
        assert 0 <= m.start < m.end <= len(content)
        assert 1 <= m.line <= m.end_line <= content.count(b"\n") + 1


@given(st.text(alphabet="A ", max_size=300))
def test_runs_are_exactly_the_runs_of_at_least_min_run_base64_characters(translated: str) -> None:
    expected = [m.span() for m in re.finditer(f"A{{{MIN_RUN},}}", translated)]
    assert list(_runs(translated.encode())) == expected


@st.composite
def text_with_some_binary(draw: st.DrawFn) -> bytes:
    """Printable ASCII with up to 5% of its bytes non-ASCII: still text by ``_mostly_printable``."""
    text = bytearray(
        draw(st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=20, max_size=200)), "ascii"
    )
    for _ in range(draw(st.integers(0, len(text) // 20))):
        text[draw(st.integers(0, len(text) - 1))] = draw(st.integers(0x80, 0xFF))
    return bytes(text)


@given(text_with_some_binary(), st.sampled_from([base64.b64encode, base64.urlsafe_b64encode]))
def test_base64_of_mostly_printable_text_is_always_decoded(data: bytes, encode: Any) -> None:
    """The cheap test on the encoded form (``_TEXT_LEADS``) never drops what decoding would keep."""
    token = encode(data).rstrip(b"=")
    if token.islower() or token.isupper() or token.isdigit() or not _mostly_printable(data):
        return  # not a base64 candidate, or not text: nothing to find
    spans = list(encoded_spans(b"x = " + token + b"\n"))
    assert any(s.encoding == "base64" and s.content == data for s in spans), (data, token)
