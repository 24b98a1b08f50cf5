"""Hostile input to ``leakstop redact`` through the real command in the sandbox: binary garbage with no line end for
megabytes, and a token buried in it."""

from __future__ import annotations

import random
from pathlib import Path

from tokens import TokenFactory

from scanner.models import Secret

from .harness import Sandbox


def test_binary_garbage_piped_through_redact(sandbox: Sandbox, config: Path, tokens: TokenFactory) -> None:
    token = tokens.github()
    garbage = random.Random(4).randbytes(6 << 20).replace(b"\n", b"\0")  # 6 MiB, not one line end
    data = garbage[: 3 << 20] + b" " + token.encode() + b" " + garbage[3 << 20 :]
    sandbox.out.mkdir(exist_ok=True)
    with open(sandbox.out / "redacted", "wb") as sink:
        outcome = sandbox.run(["redact", "--config", config], stdin=data, stdout=sink, limit=120)
    outcome.check(0)
    assert (sandbox.out / "redacted").read_bytes() == data.replace(token.encode(), Secret(token).redacted().encode())
    assert outcome.stderr == f"leakstop redact: 1 secret redacted in {len(data)} bytes: github-pat 1\n"
