"""Content as text, before the binary test: the one rule every source that yields file content follows.

A PowerShell script or a .NET config saved as UTF-16 is text, but NUL bytes sit between its characters and a
NUL test calls it binary, so a token in it passed clean. ``as_text`` decodes what says or shows its encoding --
a byte order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE), or BOM-less UTF-16 recognised by its NUL pattern (every
other byte NUL, on the same side) -- and hands back UTF-8, so rules, snippets and line numbers work on the
decoded characters. Anything else is returned as it is.

``is_binary`` is then asked of that text: a file with no NUL byte in its first 8000 bytes is text (git's own
test); one with NUL bytes is still text when they are few and the rest decodes as UTF-8 (a single stray NUL
must not hide a staged file from the scan). ``--scan-binary`` scans the rest anyway.
"""

from __future__ import annotations

import codecs

SNIFF = 8000  # git looks this far for a NUL byte
BINARY_MESSAGE = "binary file (NUL or control bytes in the first 8000 bytes, not UTF-8 text)"

# UTF-32 LE first: its mark begins with UTF-16 LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_MARKS = tuple(bom for bom, _ in _BOMS)
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")
_CONTROLS = bytes(b for b in range(32) if b not in _TEXT_CONTROLS)
_MIN_UNITS = 2  # BOM-less UTF-16 needs this many code units to show its pattern
_NUL_SIDE = 0.7  # share of code units whose high byte is NUL (Latin text: nearly all)
_OTHER_SIDE = 0.1  # share of code units whose low byte is NUL (text: nearly none)
_MAX_CONTROLS = 0.05  # share of control bytes (NUL included) text may carry in the sniffed part


def detect_encoding(data: bytes) -> tuple[str, int]:
    """The encoding ``data`` declares or shows and the length of its byte order mark: ``("utf-16-le", 2)``, or
    ``("", 0)`` for content taken as it is (UTF-8 without a mark, another 8-bit encoding, or binary)."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return _utf16_by_nuls(data[:SNIFF]), 0


def _utf16_by_nuls(sample: bytes) -> str:
    units = len(sample) // 2
    # Most content has no NUL byte at all (a memchr); the counts below cost far more.
    if units < _MIN_UNITS or b"\0" not in sample or sample.count(b"\0") < _NUL_SIDE * units:
        return ""
    even_nuls = sample[0 : units * 2 : 2].count(0)
    odd_nuls = sample[1 : units * 2 : 2].count(0)
    if odd_nuls >= _NUL_SIDE * units and even_nuls <= _OTHER_SIDE * units:
        return "utf-16-le"
    if even_nuls >= _NUL_SIDE * units and odd_nuls <= _OTHER_SIDE * units:
        return "utf-16-be"
    return ""


def as_text(data: bytes) -> bytes:
    """``data`` decoded from the encoding it declares or shows, as UTF-8; ``data`` itself when it shows none or
    does not decode as what it claims (a binary that happens to start with a mark stays binary)."""
    encoding, skip = detect_encoding(data)
    if not encoding:
        return data
    body = data[skip:]
    if encoding.startswith("utf-16") and not skip and len(body) % 2:
        body = body[:-1]  # BOM-less and cut mid-unit: the stray byte is not a character
    try:
        return body.decode(encoding).encode("utf-8")
    except UnicodeDecodeError:
        return data


def is_binary(data: bytes) -> bool:
    """Binary by the first 8000 bytes: NUL bytes, and with them too many control bytes or bytes that are not
    UTF-8. Ask it of ``as_text(data)``, so UTF-16 and UTF-32 text counts as text."""
    sample = data[:SNIFF]
    if b"\0" not in sample:
        return False
    if len(sample) - len(sample.translate(None, _CONTROLS)) > _MAX_CONTROLS * len(sample):
        return True
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A character cut by the sniff's end is not a sign of binary content; anything else is.
        return not (len(sample) == SNIFF and exc.reason == "unexpected end of data")
    return False


def readable(data: bytes, scan_binary: bool) -> bytes | None:
    """What to scan of a file's content: its text (``as_text``), or None for binary content unless
    ``--scan-binary`` asked for it anyway."""
    if data.find(b"\0", 0, SNIFF) < 0 and not data.startswith(_MARKS):
        # Most content: no mark and no NUL where both tests look (``as_text`` returns it as it is and
        # ``is_binary`` says text). Two C calls instead of both tests' slices and Python calls, once per blob.
        return data
    text = as_text(data)
    if not scan_binary and is_binary(text):
        return None
    return text
