"""The C span search (``scanner/detect/_spans.c``) gives exactly what its pure-Python twin gives, and the twin,
used where the extension is not built, finds encoded tokens on its own.

CI builds the extension (``.ci/run`` installs gcc and the Python headers), so its import here is not optional.
"""

from __future__ import annotations

import base64
import binascii
import sys

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from tokens import TokenFactory

from scanner.detect import _spans, decode
from scanner.detect.decode import MIN_RUN, encoded_spans, py_candidates, py_escapes


@given(st.binary(max_size=3000))
@example(b"A" * MIN_RUN)
@example(b"A" * (MIN_RUN - 1))
@example(b"ab" * 12)
def test_c_and_python_agree_on_arbitrary_bytes(content: bytes) -> None:
    assert _spans.candidates(content) == py_candidates(content)


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
runs = st.one_of(
    # lengths around the thresholds: MIN_RUN for a run, 24 and even for hex
    st.text(alphabet=_B64_ALPHABET, min_size=MIN_RUN - 2, max_size=MIN_RUN + 8),
    st.text(alphabet="0123456789abcdef", min_size=MIN_RUN - 2, max_size=30),
    st.text(alphabet="0123456789ABCDEF", min_size=MIN_RUN - 2, max_size=30),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=MIN_RUN - 2, max_size=30),
    st.text(alphabet="ABCDEF0123456789abcdef+/", min_size=MIN_RUN - 2, max_size=30),
    st.text(alphabet="0123456789", min_size=MIN_RUN - 2, max_size=30),
    st.binary(min_size=8, max_size=40).map(lambda b: base64.b64encode(b).decode()),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=12, max_size=40).map(
        lambda t: base64.b64encode(t.encode()).decode()  # text: passes the lead test, padded or not
    ),
    st.binary(min_size=8, max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    st.binary(min_size=8, max_size=20).map(lambda b: binascii.hexlify(b).decode()),
).map(str.encode)
separators = st.sampled_from([b"", b" ", b"\n", b"=", b"==", b"===", b'"', b"\x00", b"\xff", b".", b":"])


@given(st.lists(st.one_of(runs, separators), max_size=30))
@example([base64.b64encode(b"plain text, then more padding").rstrip(b"="), b"==="])  # two "=" taken, not three
def test_c_and_python_agree_on_text_with_encoded_runs(parts: list[bytes]) -> None:
    """Runs at the edges of the content, next to each other, at the length thresholds, with padding."""
    content = b"".join(parts)
    assert _spans.candidates(content) == py_candidates(content)


def test_c_accepts_any_buffer_and_refuses_text() -> None:
    content = b"x = " + base64.b64encode(b"a line of plain text to find") + b"\n"
    assert _spans.candidates(bytearray(content)) == _spans.candidates(memoryview(content)) == py_candidates(content)
    with pytest.raises(TypeError):
        _spans.candidates("not bytes")  # type: ignore[arg-type]


escape_parts = st.sampled_from(
    [b"%", b"%2", b"%2F", b"%zz", b"\\", b"\\/", b"\\u", b"\\u12", b"\\u00e9", b"\\uABCG", b"u", b"/"]
)


@given(st.lists(escape_parts | st.binary(max_size=6), max_size=12))
@example([b"%4"])
@example([b"\\u123"])
@example([b"\\\\u1234"])
def test_c_and_python_agree_on_which_escapes_content_holds(parts: list[bytes]) -> None:
    """Escapes cut short at the end, next to each other, behind a backslash, with a non-hex digit."""
    content = b"".join(parts)
    assert _spans.escapes(content) == py_escapes(content)


@given(st.binary(max_size=200))
def test_c_and_python_agree_on_escapes_in_arbitrary_bytes(content: bytes) -> None:
    assert _spans.escapes(content) == py_escapes(content)


def test_escapes_say_which_decoders_can_find_something() -> None:
    assert py_escapes(b"printf('%s %d', a, b) and a regex \\d+") == 0
    assert py_escapes(b"https://h/p?q=a%2Fb") == decode.PERCENT
    assert py_escapes(b'{"u": "https:\\/\\/h"}') == decode.JSON_ESCAPE
    assert py_escapes(b'"caf\\u00e9" 100%25') == decode.PERCENT | decode.JSON_ESCAPE


def test_decode_uses_the_extension_when_built() -> None:
    assert decode.candidates is _spans.candidates
    assert decode.escapes is _spans.escapes


def test_the_extension_missing_leaves_the_python_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "scanner.detect._spans", None)  # import of it raises ImportError
    assert decode._native() is None


def test_python_path_finds_percent_and_json_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "escapes", py_escapes)
    content = b'url = "https://h/p?k=a%2Fb%3D"\njson = {"k": "caf\\u00e9 \\/ x"}\n'
    spans = list(encoded_spans(content))
    assert [s.encoding for s in spans] == ["percent", "json-escape"]
    assert spans[0].content.endswith(b"k=a/b=")
    assert spans[1].content == "café / x".encode()


def test_python_path_finds_base64_and_hex_tokens(monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory) -> None:
    monkeypatch.setattr(decode, "candidates", py_candidates)
    token = tokens.github_clean()
    b64 = base64.b64encode(f"GITHUB_TOKEN={token}".encode())
    hexed = binascii.hexlify(f"token: {token}".encode())
    content = b"data:\n  secret: " + b64 + b"\n  dump " + hexed + b"\n" + b"not_base64_just_a_long_identifier\n"
    spans = list(encoded_spans(content))
    assert [(s.encoding, content[s.start : s.end]) for s in spans] == [("base64", b64), ("hex", hexed)]
    assert token.encode() in spans[0].content
    assert token.encode() in spans[1].content
