"""``leakstop redact`` figures (issue #16): throughput on generated CI log lines with a few secrets, added latency
per line through a pipe (a writer that timestamps each line, a reader that notes when it comes out), and RSS at the
start and end of a long stream.

    python bench/redact.py throughput [MB]     # default 200 MB, in process, one core
    python bench/redact.py latency [LINES]     # default 200 lines through the real command
    python bench/redact.py memory [GB]         # default 1 GB piped through the real command
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from tokens import TokenFactory

_TEMPLATES = [
    "2026-12-06T02:{m:02d}:{s:02d}.{ms:03d}Z \x1b[36m[build]\x1b[0m Step {n}/42 : RUN pip install -r requirements.txt",
    "2026-12-06T02:{m:02d}:{s:02d}.{ms:03d}Z Collecting urllib3>=2.0 (from -r requirements.txt (line {n}))",
    "2026-12-06T02:{m:02d}:{s:02d}.{ms:03d}Z   Downloading urllib3-2.2.{n}-py3-none-any.whl (121 kB)",
    "2026-12-06T02:{m:02d}:{s:02d}.{ms:03d}Z tests/test_module_{n}.py::test_case PASSED                [ {n}%]",
    "2026-12-06T02:{m:02d}:{s:02d}.{ms:03d}Z ##[group]Run actions/checkout@v4 with: fetch-depth: {n}",
    "2026-12-06T02:{m:02d}:{s:02d}.{ms:03d}Z npm WARN deprecated inflight@1.0.{n}: This module is not supported",
    "2026-12-06T02:{m:02d}:{s:02d}.{ms:03d}Z \x1b[32m✓\x1b[0m compiled {n} modules in 1.{n}s (sha256 e3b0c44298fc1c14)",
    "2026-12-06T02:{m:02d}:{s:02d}.{ms:03d}Z Sending build context to Docker daemon  {n}.5MB",
]


def log_block(size: int, secrets_per_mb: int = 3, seed: int = 7) -> bytes:
    """About ``size`` bytes of CI log lines with a few generated secrets among them."""
    rng = random.Random(seed)
    tokens = TokenFactory(seed)
    lines: list[str] = []
    total = 0
    every = max(1, (1 << 20) // 90 // max(secrets_per_mb, 1))
    while total < size:
        n = len(lines)
        if n % every == every - 1:
            line = f"2026-12-06T02:00:00.000Z export GITHUB_TOKEN={tokens.github()} AWS_KEY={tokens.aws_key_id()}"
        else:
            t = rng.choice(_TEMPLATES)
            line = t.format(m=n % 60, s=(n // 60) % 60, ms=n % 1000, n=n % 97)
        lines.append(line)
        total += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def throughput(megabytes: int) -> None:
    from scanner.pipeline.logredact import LogRedactor
    from scanner.pipeline.setup import build_detector, build_ruleset
    from scanner.policy.config import Config

    config = Config()
    redactor = LogRedactor(build_detector(build_ruleset(config), config))
    block = log_block(8 << 20)
    reads = [block[i : i + (1 << 20)] for i in range(0, len(block), 1 << 20)]
    rounds = max(1, (megabytes << 20) // len(block))
    redactor.feed(reads[0])  # warm up: the Hyperscan database is loaded
    start = time.process_time()
    out = 0
    for _ in range(rounds):
        for data in reads:
            out += len(redactor.feed(data))
    out += len(redactor.finish())
    took = time.process_time() - start
    mb = rounds * len(block) / 1e6
    print(
        f"throughput ({redactor.detector.engine}): {mb:.0f} MB in {took:.2f} s CPU = {mb / took:.1f} MB/s;"
        f" redacted {dict(redactor.counts)}"
    )


def latency(lines: int) -> None:
    """The same timed lines through ``leakstop redact`` and through ``cat`` (the pipe alone, under the same load)."""
    for name, command in (
        ("leakstop redact", [sys.executable, "-m", "scanner", "redact", "--no-summary"]),
        ("cat", ["cat"]),
    ):
        ms = sorted(d * 1000 for d in _delays(command, lines))
        print(
            f"latency through {name} over {len(ms)} lines: median {statistics.median(ms):.2f} ms,"
            f" p90 {ms[int(len(ms) * 0.9) - 1]:.2f} ms, p99 {ms[int(len(ms) * 0.99) - 1]:.2f} ms, max {ms[-1]:.2f} ms"
        )


def _delays(command: list[str], lines: int) -> list[float]:
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    assert proc.stdin is not None and proc.stdout is not None
    sent: dict[int, float] = {}
    delays: list[float] = []

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            seq = int(raw.split(b" ", 1)[0])
            delays.append(time.perf_counter() - sent[seq])

    reader = threading.Thread(target=read)
    reader.start()
    block = log_block(1 << 16).splitlines()
    time.sleep(1.0)  # the command has started and loaded its rules
    for i in range(lines):
        sent[i] = time.perf_counter()
        proc.stdin.write(b"%d " % i + block[i % len(block)] + b"\n")
        time.sleep(0.01)
    proc.stdin.close()
    reader.join()
    proc.wait()
    return delays


def memory(gigabytes: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "scanner", "redact"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    block = log_block(8 << 20)
    total = int(gigabytes * (1 << 30))
    written = 0
    samples: list[tuple[int, int]] = []
    start = time.monotonic()
    while written < total:
        proc.stdin.write(block)
        written += len(block)
        if written // len(block) % 16 == 1:
            samples.append((written, _rss(proc.pid)))
    samples.append((written, _rss(proc.pid)))
    proc.stdin.close()
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.wait()
    took = time.monotonic() - start
    first, last = samples[0], samples[-1]
    peak = max(rss for _, rss in samples)
    print(
        f"memory over {written / 1e9:.2f} GB in {took:.0f} s: RSS {first[1] / 1024:.0f} MiB at"
        f" {first[0] >> 20} MiB, {last[1] / 1024:.0f} MiB at the end, peak sampled {peak / 1024:.0f} MiB"
    )
    print(err.decode().strip())


def _rss(pid: int) -> int:
    """Resident set size in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "throughput"
    amount = sys.argv[2] if len(sys.argv) > 2 else ""
    if what == "throughput":
        throughput(int(amount or 200))
    elif what == "latency":
        latency(int(amount or 200))
    else:
        memory(float(amount or 1))
    os._exit(0)
