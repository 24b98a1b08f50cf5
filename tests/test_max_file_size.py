"""``--max-file-size``: a size or 0 (no cap); anything else is a usage error naming the option (issue #18 12b)."""

from __future__ import annotations

import argparse

import pytest

from scanner.cli import main
from scanner.cli.common import parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("0", 0), ("10", 10), ("512k", 512 * 1024), ("1.5k", 1536), ("10M", 10 * 1024**2), ("2gb", 2 * 1024**3)],
)
def test_sizes_that_are_read(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["-1", "-0.5k", "NaN", "nan", "inf", "1e400k", "garbage", "", "k", "1.5"])
def test_sizes_that_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)


def test_a_negative_size_is_one_line_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scan", "--no-config", "--max-file-size", "-1", "."])
    assert exc.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["leakstop scan: error: argument --max-file-size: a size cannot be negative: '-1' (0 = no cap)"]
