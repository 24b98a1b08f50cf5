"""``leakstop redact``: the streaming filter over the real rules (``pipeline.logredact``) and the command through a
real pipe (partial lines after a timeout, the summary, exit codes, files)."""

from __future__ import annotations

import os
import random
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import RunCli
from tokens import TokenFactory

from scanner.models import Secret
from scanner.pipeline.logredact import LogRedactor
from scanner.pipeline.setup import build_detector, build_ruleset
from scanner.policy.config import Config


@pytest.fixture(scope="module")
def detector():  # type: ignore[no-untyped-def]
    config = Config()
    return build_detector(build_ruleset(config), config)


def shown(token: str) -> bytes:
    return Secret(token).redacted().encode()


def run_through(redactor: LogRedactor, pieces: list[bytes]) -> bytes:
    out = b"".join(redactor.feed(piece) for piece in pieces)
    return out + redactor.finish()


def test_each_secret_replaced_and_every_other_byte_kept(detector, tokens: TokenFactory) -> None:  # type: ignore[no-untyped-def]
    github, aws = tokens.github(), tokens.aws_key_id()
    lines = [
        b"2026-12-06T02:00:00Z Step 3/9 : RUN make \xff\xfe not utf-8\r\n",
        f"export GITHUB_TOKEN={github}\n".encode(),
        f"aws configure set aws_access_key_id {aws} # done\n".encode(),
        b"\tplain line with trailing spaces   \n",
    ]
    redactor = LogRedactor(detector)

    out = run_through(redactor, lines)

    expected = b"".join(lines).replace(github.encode(), shown(github)).replace(aws.encode(), shown(aws))
    assert out == expected
    assert dict(redactor.counts) == {"github-pat": 1, "aws-access-key-id": 1}


def test_ansi_codes_kept_and_secrets_beside_them_found(detector, tokens: TokenFactory) -> None:  # type: ignore[no-untyped-def]
    beside, inside = tokens.github(), tokens.github()
    split = inside[:12] + "\x1b[1m" + inside[12:]
    text = f"\x1b[32m{beside}\x1b[0m ok\n\x1b]0;title\x07token: {split}\x1b[0m\n".encode()
    redactor = LogRedactor(detector)

    out = run_through(redactor, [text])

    assert out == (
        b"\x1b[32m" + shown(beside) + b"\x1b[0m ok\n\x1b]0;title\x07token: " + shown(inside) + b"\x1b[1m\x1b[0m\n"
    )
    assert sum(redactor.counts.values()) == 2


def test_pem_block_held_until_its_end_line(detector, tokens: TokenFactory) -> None:  # type: ignore[no-untyped-def]
    pem = tokens.private_key_pem()
    lines = [(line + "\n").encode() for line in ["before", *pem.splitlines(), "after"]]
    redactor = LogRedactor(detector)

    written = [redactor.feed(line) for line in lines]

    assert written[0] == b"before\n"
    assert all(part == b"" for part in written[1:-2])  # the block waits for its END line
    assert written[-2] == shown(pem) + b"\n"
    assert written[-1] == b"after\n"
    assert redactor.finish() == b""


def test_open_pem_block_released_at_its_cap_and_by_flush(detector) -> None:  # type: ignore[no-untyped-def]
    redactor = LogRedactor(detector, max_pem=200)
    assert redactor.feed(b"-----BEGIN CERTIFICATE-----\n") == b""
    assert redactor.flush() == b""  # held while quiet for a short while
    assert redactor.flush(hold_pem=False) == b"-----BEGIN CERTIFICATE-----\n"
    assert redactor.feed(b"-----BEGIN CERTIFICATE-----\n") == b""
    body = b"A" * 64 + b"\n"
    out = b"".join(redactor.feed(body) for _ in range(4))
    assert out == b"-----BEGIN CERTIFICATE-----\n" + body * 4  # over max_pem: not a key, written on
    assert redactor.pending == 0


def test_partial_line_written_on_flush(detector, tokens: TokenFactory) -> None:  # type: ignore[no-untyped-def]
    token = tokens.github()
    redactor = LogRedactor(detector)
    assert redactor.feed(b"Password for deploy: ") == b""
    assert redactor.pending == len(b"Password for deploy: ")
    assert redactor.flush() == b"Password for deploy: "
    assert redactor.feed(f"x {token}".encode()) == b""
    assert redactor.flush() == b"x " + shown(token)
    assert redactor.flush() == b""


@pytest.mark.parametrize("offset", [0, 1, 20, 39, 40, 41, 255, 256, 300, 700])
def test_line_without_newline_bounded_and_secret_on_the_cut_found(detector, tokens: TokenFactory, offset: int) -> None:  # type: ignore[no-untyped-def]
    """Windows of 4 KiB with 256 bytes of overlap, read 4097 bytes at a time: the first window is cut at 3841,
    and a token anywhere around that cut (``offset`` bytes before it) is found whole."""
    token = tokens.github()
    filler = b"x. " * 4000
    cut = 4097 - 256
    data = filler[: cut - offset - 1] + b" " + token.encode() + b" " + filler
    redactor = LogRedactor(detector, max_line=4096, overlap=256)
    out = bytearray()
    for i in range(0, len(data), 4097):
        out += redactor.feed(data[i : i + 4097])
        assert redactor.pending <= 4096 + 4097
    out += redactor.finish()
    assert bytes(out) == data.replace(token.encode(), shown(token))
    assert redactor.counts["github-pat"] == 1


def test_a_match_as_wide_as_the_window_is_written_redacted(detector, tokens: TokenFactory) -> None:  # type: ignore[no-untyped-def]
    token = tokens.github()
    redactor = LogRedactor(detector, max_line=64, overlap=60)
    assert redactor.feed(token.encode() + b" " + b"y" * 30) == shown(token) + b" " + b"y" * 30
    assert redactor.pending == 0


def test_overlapping_spans_replaced_once(detector) -> None:  # type: ignore[no-untyped-def]
    redactor = LogRedactor(detector)
    assert redactor._redacted(b"abcdefgh", [(0, 4, "r1", "X"), (2, 6, "r2", "Y")]) == b"Xefgh"
    assert dict(redactor.counts) == {"r1": 1}


def test_binary_garbage_passes_through_untouched(detector, tokens: TokenFactory) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(16)
    garbage = rng.randbytes(300_000)
    token = tokens.github()
    redactor = LogRedactor(detector, max_line=64 << 10, overlap=1024)
    pieces = [garbage[i : i + 7777] for i in range(0, len(garbage), 7777)]

    out = run_through(redactor, pieces)

    assert out == garbage
    mixed = garbage[:1000] + b" " + token.encode() + b"\n" + garbage[1000:5000]
    assert run_through(LogRedactor(detector), [mixed]) == mixed.replace(token.encode(), shown(token))


# --- the command ---


def _command(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "scanner", "redact", "--no-config", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )


def _read_within(proc: subprocess.Popen[bytes], seconds: float) -> bytes:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    got = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            got += os.read(fd, 65536)
            if got.endswith((b"\n", b": ")):
                return got
    return got


def test_pipe_line_at_once_partial_line_after_quiet_and_summary(tokens: TokenFactory) -> None:
    token = tokens.github()
    with _command("--flush-after", "0.05", "--fail-on-redact") as proc:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(f"login {token}\n".encode())
        assert _read_within(proc, 15) == b"login " + shown(token) + b"\n"  # 15 s: the rules load first
        proc.stdin.write(b"Continue? [y/N]: ")
        assert _read_within(proc, 2) == b"Continue? [y/N]: "
        proc.stdin.close()
        assert proc.wait(10) == 1  # --fail-on-redact
        err = proc.stderr.read().decode()
    assert err == f"leakstop redact: 1 secret redacted in {len('login .') + len(token) + 17} bytes: github-pat 1\n"
    assert token not in err


def test_files_in_and_out(run_cli: RunCli, tokens: TokenFactory, tmp_path: Path) -> None:
    token = tokens.github()
    log = tmp_path / "deploy.log"
    log.write_bytes(f"a\nb {token}\nc".encode())
    out = tmp_path / "clean.log"

    code, stdout, err = run_cli("redact", "--no-config", "--input", log, "--output", out)

    assert (code, stdout) == (0, "")
    assert out.read_bytes() == b"a\nb " + shown(token) + b"\nc"
    assert err == f"leakstop redact: 1 secret redacted in {log.stat().st_size} bytes: github-pat 1\n"
    code, _, err = run_cli("redact", "--no-config", "--input", out, "--output", tmp_path / "again", "--no-summary")
    assert (code, err) == (0, "")
    assert (tmp_path / "again").read_bytes() == out.read_bytes()  # a redacted form is not redacted again


def test_unreadable_input_and_unwritable_output(run_cli: RunCli, tmp_path: Path) -> None:
    code, _, err = run_cli("redact", "--no-config", "--input", tmp_path / "nope.log")
    assert code == 2
    assert err.strip().splitlines() == [
        f"leakstop: error: {tmp_path / 'nope.log'}: cannot read: No such file or directory"
    ]
    (tmp_path / "in.log").write_text("x\n")
    code, _, err = run_cli("redact", "--no-config", "-i", tmp_path / "in.log", "-o", tmp_path / "no" / "out")
    assert code == 2
    assert "cannot write" in err and len(err.strip().splitlines()) == 1


def test_nothing_to_redact_summary(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "in.log").write_bytes(b"just a log\n")
    code, out, err = run_cli("redact", "--no-config", "-i", tmp_path / "in.log", "--fail-on-redact")
    assert (code, out) == (0, "just a log\n")
    assert err == "leakstop redact: nothing redacted (11 bytes)\n"
