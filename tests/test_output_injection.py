"""Issue #18 item 10: names, refs and content from the scanned world cannot write to the terminal or fake a line.

A file name that forges a ``PASSED`` line, one that clears the screen, content holding escape sequences, a bidi
override: each reaches every human-facing output escaped (the text and markdown reports, the pre-receive
messages, GitHub annotations, the error line), through the real command in a subprocess.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import config_text
from tokens import TokenFactory

from scanner.integrations.ci.github import escape_data
from scanner.integrations.prereceive import messages
from scanner.safetext import printable, printable_lines

FORGED_NAMES = {
    "newline": "app\nPASSED\n.env",
    "carriage-return": "app\rPASSED.env",
    "clear-screen": "app\x1b[2J\x1b[H.env",
    "bidi": "app\u202evne.txt",
    "c1": "app\x9b2J.env",
}
RAW = ("\x1b", "\r", "\u202e", "\x9b")


def _leakstop(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _project(tmp_path: Path, name: str, content: str) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / name).write_text(content, encoding="utf-8")
    (tmp_path / "leakstop.yaml").write_text(config_text(), encoding="utf-8")
    return root


def _assert_clean(output: str) -> None:
    for raw in RAW:
        assert raw not in output, repr(output)
    assert "PASSED" not in output.splitlines()


@pytest.mark.parametrize("fmt", ["text", "markdown"])
@pytest.mark.parametrize("case", sorted(FORGED_NAMES))
def test_a_file_name_cannot_fake_a_line_or_drive_the_terminal(
    tmp_path: Path, tokens: TokenFactory, case: str, fmt: str
) -> None:
    name = FORGED_NAMES[case]
    root = _project(tmp_path, name, f"GITHUB_TOKEN={tokens.github_clean()}\n")
    proc = _leakstop("scan", "--no-progress", "--config", str(tmp_path / "leakstop.yaml"), "--format", fmt, str(root))
    assert proc.returncode == 1, proc.stderr
    _assert_clean(proc.stdout)
    if fmt == "text":  # markdown escapes punctuation and folds line breaks in a cell its own way
        assert printable(name) in proc.stdout


def test_content_with_escape_sequences_is_shown_escaped(tmp_path: Path, tokens: TokenFactory) -> None:
    root = _project(tmp_path, "a.env", f"\x1b[2J\x1b]0;owned\x07GITHUB_TOKEN={tokens.github_clean()}\r\n")
    proc = _leakstop("scan", "--no-progress", "--config", str(tmp_path / "leakstop.yaml"), str(root))
    assert proc.returncode == 1, proc.stderr
    _assert_clean(proc.stdout)
    assert "\x07" not in proc.stdout
    assert "\\x1b[2J" in proc.stdout


def test_an_error_naming_a_hostile_path_is_escaped(tmp_path: Path) -> None:
    proc = _leakstop("scan", "--no-progress", str(tmp_path / "missing\x1b[2J\nPASSED"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    _assert_clean(proc.stderr)
    assert "missing\\x1b[2J\\nPASSED" in proc.stderr


def test_pre_receive_lines_are_escaped_whatever_a_caller_passes() -> None:
    out = io.StringIO()
    messages.write(out, ["ref refs/heads/x\x1b[2J", "a\nPASSED", "b\u202ec"], gitlab=True, error=True)
    text = out.getvalue()
    assert text.splitlines() == [
        "GL-HOOK-ERR: ref refs/heads/x\\x1b[2J",
        "GL-HOOK-ERR: a\\nPASSED",
        "GL-HOOK-ERR: b\\u202ec",
    ]


def test_annotation_data_keeps_github_escapes_and_escapes_controls() -> None:
    assert escape_data("50%\r\nx\x1b[31m") == "50%25\\r%0Ax\\x1b[31m"


def test_printable_is_idempotent_and_keeps_ordinary_text() -> None:
    ordinary = "path/ünïcode/中文\tcol: \\x1b stays as typed"
    assert printable(ordinary) == ordinary
    hostile = "a\x00b\x1b[2Jc\x7fd\x85e\u2028f\u200fg\u2066h"
    once = printable(hostile)
    assert once == printable(once)
    assert once.isprintable()
    assert printable_lines("one\x1b\ntwo\r") == "one\\x1b\ntwo\\r"
