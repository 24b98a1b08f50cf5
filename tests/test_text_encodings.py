"""UTF-16 and UTF-32 text is text (issue #18 item 3), and one stray NUL byte does not make a file binary (12a).

Property tests for the encoding detector (``sources.textcodec``), then every source that yields file content --
files, stdin, staged, history blobs, image layers -- scanned through the CLI with a token in a UTF-16/32 file: the
finding is there, on the line of the decoded text.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path
from typing import Any

import pytest
from gitrepo import EPOCH, Repo, isolate_git
from helpers import MakeConfig, RunCli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokens import TokenFactory

from scanner.sources.textcodec import SNIFF, as_text, detect_encoding, is_binary, readable
from tests.test_image import docker_save, image_config, layer

ENCODINGS = ["utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-32-le-bom", "utf-32-be-bom", "utf-16-le"]
_BOM_OF = {
    "utf-16-le-bom": (codecs.BOM_UTF16_LE, "utf-16-le"),
    "utf-16-be-bom": (codecs.BOM_UTF16_BE, "utf-16-be"),
    "utf-32-le-bom": (codecs.BOM_UTF32_LE, "utf-32-le"),
    "utf-32-be-bom": (codecs.BOM_UTF32_BE, "utf-32-be"),
}
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def encode(text: str, encoding: str) -> bytes:
    """``text`` as a file saved in ``encoding`` (``*-bom``: with the byte order mark; ``utf-16-le``: without)."""
    if encoding in _BOM_OF:
        bom, codec = _BOM_OF[encoding]
        return bom + text.encode(codec)
    return text.encode(encoding)


# --- the detector ---

printable = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FFF, exclude_categories=("Cs",)), max_size=200)
latin = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=2, max_size=300)


@PROPERTY
@given(text=printable, encoding=st.sampled_from([*sorted(_BOM_OF), "utf-8-sig", "utf-16"]))
def test_text_with_a_byte_order_mark_decodes_to_itself(text: str, encoding: str) -> None:
    data = encode(text, encoding)
    assert detect_encoding(data)[0] != ""
    assert as_text(data) == text.encode("utf-8")
    assert not is_binary(as_text(data))


@PROPERTY
@given(text=latin, big_endian=st.booleans())
def test_bom_less_utf16_of_latin_text_is_recognised_by_its_nuls(text: str, big_endian: bool) -> None:
    codec = "utf-16-be" if big_endian else "utf-16-le"
    data = text.encode(codec)
    assert detect_encoding(data) == (codec, 0)
    assert as_text(data) == text.encode()
    assert as_text(data + b"\x41") == text.encode()  # cut mid-unit: the stray byte is dropped


@PROPERTY
@given(text=st.text(st.characters(min_codepoint=1, exclude_categories=("Cs",)), max_size=300))
def test_utf8_without_a_mark_is_taken_as_it_is(text: str) -> None:
    data = text.encode()  # no NUL character, so no NUL byte: never mistaken for UTF-16
    if text.startswith("\ufeff"):  # U+FEFF first is the UTF-8 mark, dropped
        assert detect_encoding(data) == ("utf-8", 3) and as_text(data) == data[3:]
        return
    assert detect_encoding(data) == ("", 0)
    assert as_text(data) is data
    assert not is_binary(data)


@PROPERTY
@given(data=st.binary(max_size=3000))
def test_any_bytes_come_back_as_bytes_and_decoded_ones_as_utf8(data: bytes) -> None:
    text = as_text(data)
    if text is not data:
        text.decode("utf-8")  # whatever was decoded is valid UTF-8
    assert readable(data, scan_binary=True) == text
    assert readable(data, scan_binary=False) in (None, text)


_MARKS = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE]


@PROPERTY
@given(
    mark=st.sampled_from([b"", b"\0", *_MARKS, *(m[:-1] for m in _MARKS)]),
    body=st.binary(max_size=60) | st.text(max_size=60).map(str.encode),
    nul_at=st.none() | st.integers(SNIFF - 8, SNIFF + 8),
    scan_binary=st.booleans(),
)
def test_readable_is_as_text_then_is_binary(mark: bytes, body: bytes, nul_at: int | None, scan_binary: bool) -> None:
    """``readable`` hands most content back before either test (no mark, no NUL in the sniffed part): the same
    answer as the two tests, whatever mark or partial mark starts the content and wherever a NUL sits near the
    end of the sniffed part."""
    data = mark + body
    if nul_at is not None:
        data = data + b"a" * (nul_at - len(data)) + b"\0" + body
    text = as_text(data)
    assert readable(data, scan_binary) == (None if not scan_binary and is_binary(text) else text)


@PROPERTY
@given(head=st.text(max_size=40), tail=st.text(min_size=60, max_size=400), nuls=st.integers(1, 2))
def test_a_stray_nul_in_utf8_text_is_still_text(head: str, tail: str, nuls: int) -> None:
    # Control characters in the generated text are dropped: the point is the NUL bytes.
    keep = "".join(c for c in head + "x" * 60 + tail if c >= " " or c in "\t\n")
    data = b"\0" * nuls + keep.encode()
    assert not is_binary(data)


@pytest.mark.parametrize(
    "data",
    [
        b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x02\0>\0\x01\0\0\0",  # an executable's header
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)),  # bytes that are not UTF-8 beside a NUL
        b"SQLite format 3\0" + b"\0" * 100,  # NUL after NUL
        b"\xff\xfe\x00\xd8\x00\x00",  # a UTF-16 mark before a lone surrogate: not UTF-16 after all
    ],
)
def test_binary_stays_binary(data: bytes) -> None:
    assert is_binary(as_text(data))
    assert readable(data, scan_binary=False) is None
    assert readable(data, scan_binary=True) == as_text(data)


def test_a_character_cut_by_the_sniffs_end_is_not_binary() -> None:
    data = b"\0" + b"a" * (SNIFF - 2) + "é".encode() + b"rest"
    assert not is_binary(data)
    assert is_binary(b"\0" + b"a" * (SNIFF - 2) + b"\xff\xff")


# --- every source that yields file content ---


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


def content(token: str) -> str:
    return f"# deploy\r\n# é ünïcode 文字\r\n$token = '{token}'\r\n"


def scan_json(run_cli: RunCli, *argv: str | Path) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_cli("scan", *argv, "-f", "json")
    return code, json.loads(out)


def places(report: dict[str, Any]) -> list[tuple[str, int]]:
    return [(f["location"]["path"].rsplit("!", 1)[-1], f["location"]["line"]) for f in report["findings"]]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_files(tmp_path: Path, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli, encoding: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "deploy.ps1").write_bytes(encode(content(tokens.github_clean()), encoding))
    code, report = scan_json(run_cli, "-c", make_config(), work)
    assert code == 1
    assert [(path.rsplit("/", 1)[-1], line) for path, line in places(report)] == [("deploy.ps1", 3)]


def test_stdin(tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    read, write = os.pipe()
    os.write(write, encode(content(tokens.github_clean()), "utf-16"))
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        monkeypatch.setattr("sys.stdin", type("In", (), {"buffer": pipe})())
        code, report = scan_json(run_cli, "-c", make_config(), "-")
    assert code == 1 and places(report) == [("-", 3)]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32-be-bom", "utf-16-le"])
def test_staged(tmp_path: Path, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli, encoding: str) -> None:
    repo = Repo.init(tmp_path / "repo", clock=[EPOCH])
    repo.commit("start", {"a.txt": "a\n", "app.config": encode("<config>\r\n</config>\r\n", encoding)})
    token = tokens.github_clean()
    repo.write({"app.config": encode(f"<config>\r\n  <add key='gh' value='{token}'/>\r\n</config>\r\n", encoding)})
    repo.git("add", "app.config")
    code, report = scan_json(run_cli, "-c", make_config(), "--staged", repo.path)
    assert code == 1 and places(report) == [("app.config", 2)]


def test_one_nul_byte_does_not_hide_a_staged_file(
    tmp_path: Path, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli
) -> None:
    repo = Repo.init(tmp_path / "repo", clock=[EPOCH])
    repo.commit("start", {"a.txt": "a\n"})
    repo.write({"k.env": b"\0\nGITHUB_TOKEN=" + tokens.github_clean().encode() + b"\n"})
    repo.git("add", "k.env")
    code, report = scan_json(run_cli, "-c", make_config(), "--staged", repo.path)
    assert code == 1 and places(report) == [("k.env", 2)]


def test_history_blobs_and_their_later_versions(
    tmp_path: Path, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli
) -> None:
    repo = Repo.init(tmp_path / "repo", clock=[EPOCH])
    first, second = tokens.github_clean(), tokens.github_clean()
    repo.commit("one", {"deploy.ps1": encode(content(first), "utf-16")})
    later = content(first) + "# more\r\n" * 3 + f"$other = '{second}'\r\n"
    repo.commit("two", {"deploy.ps1": encode(later, "utf-16")})  # a later version: scanned where it changed
    code, report = scan_json(run_cli, "-c", make_config(), "--history", "--workers", "1", repo.path)
    assert code == 1 and places(report) == [("deploy.ps1", 3), ("deploy.ps1", 7)]
    code, report = scan_json(run_cli, "-c", make_config(), "--range", "HEAD~1..HEAD", repo.path)
    assert code == 1 and places(report) == [("deploy.ps1", 7)]  # the base's text decoded too: only what it adds


def test_image_layers(tmp_path: Path, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli) -> None:
    files = {"app/run.ps1": encode(content(tokens.github_clean()), "utf-16"), "bin/tool": b"\x7fELF\0\0\0\0\x01\0"}
    base = layer(files)
    image = docker_save(tmp_path / "img.tar", [base], image_config([base], [], ["ADD . /"]))
    code, report = scan_json(run_cli, "-c", make_config(), "--image", image)
    assert code == 1 and places(report) == [("app/run.ps1", 3)]
