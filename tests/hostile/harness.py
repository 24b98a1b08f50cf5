"""The hostile-input harness: run the real ``leakstop`` command in a subprocess inside a sandbox and check what a
trusted gate must do with any input (issue #18).

A sandbox is a directory holding ``home`` (``$HOME``), ``cache`` (``$LEAKSTOP_CACHE_DIR``), ``tmp`` (``$TMPDIR``)
and ``work`` (what the case builds). ``run`` starts ``python -m scanner`` with that environment, a memory limit
(``RLIMIT_AS``) and a time limit, and returns an ``Outcome``; ``Outcome.check`` asserts the common contract:

- the exit code the case expects (one of the documented ones);
- no traceback on either stream, and when the command fails, one line on stderr naming the input;
- bounded time (the case's limit) and memory (peak RSS under ``MAX_RSS_MB``);
- no file written outside ``work/out`` (the case's output) and the cache: ``home`` is left as it was and nothing
  is left behind in ``tmp``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_RSS_MB = 1024
ADDRESS_SPACE = 6 * 1024**3  # bytes: RLIMIT_AS for the child (Hyperscan and the forked pool reserve a lot)
ROOT = Path(__file__).resolve().parents[2]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (relative path → size, mtime in ns), without following links."""
    found: dict[str, tuple[int, int]] = {}
    if not root.exists():
        return found
    for directory, dirs, files in os.walk(root):
        for name in [*files, *dirs]:
            path = Path(directory, name)
            try:
                info = path.lstat()
            except OSError:
                continue
            if not path.is_dir() or path.is_symlink():
                found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns)
    return found


@dataclass
class Outcome:
    code: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float
    written: list[str]  # files created or changed outside work/out and the cache
    left_in_tmp: list[str]

    def check(self, code: int | set[int], names: str = "", limit: float = 60.0) -> None:
        codes = {code} if isinstance(code, int) else code
        assert self.code is not None, f"still running after {limit}s (killed); stderr: {self.stderr[-500:]!r}"
        assert self.code in codes, f"exit {self.code}, expected {sorted(codes)}; stderr: {self.stderr[-800:]!r}"
        for stream in (self.stdout, self.stderr):
            assert "Traceback (most recent call last)" not in stream, stream[-2000:]
        assert "internal error" not in self.stderr, self.stderr
        if self.code in (2, 3):
            lines = [line for line in self.stderr.splitlines() if line.strip()]
            assert len(lines) == 1, f"expected one line on stderr, got {lines!r}"
            assert lines[0].startswith("leakstop"), lines
            if names:
                assert names in lines[0], f"{names!r} not named in {lines[0]!r}"
        elif names:
            assert names in self.stdout + self.stderr, f"{names!r} not named in the output"
        assert self.seconds < limit, f"took {self.seconds:.1f}s (limit {limit}s)"
        assert self.max_rss_mb < MAX_RSS_MB, f"peak RSS {self.max_rss_mb:.0f} MB"
        assert self.written == [], f"files written outside the output and the cache: {self.written}"
        assert self.left_in_tmp == [], f"left behind in the temp directory: {self.left_in_tmp}"


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("home", "cache", "tmp", "work", "work/out"):
            (root / name).mkdir(parents=True, exist_ok=True)

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def out(self) -> Path:
        return self.root / "work" / "out"

    def env(self, extra: Mapping[str, str | None] = ()) -> dict[str, str]:  # type: ignore[assignment]
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LEAKSTOP_", "GIT_", "GITHUB_", "GITLAB_", "CI", "XDG_"))
        }
        env.update(
            HOME=str(self.root / "home"),
            LEAKSTOP_CACHE_DIR=str(self.root / "cache"),
            TMPDIR=str(self.root / "tmp"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME="t",
            GIT_AUTHOR_EMAIL="t@example.com",
            GIT_COMMITTER_NAME="t",
            GIT_COMMITTER_EMAIL="t@example.com",
            PYTHONPATH=str(ROOT),
        )
        for key, value in dict(extra).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def run(
        self,
        args: Sequence[str | Path],
        *,
        env: Mapping[str, str | None] = (),  # type: ignore[assignment]
        stdin: bytes | None = None,
        limit: float = 60.0,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        cwd: Path | None = None,
    ) -> Outcome:
        watched = {"home": self.root / "home", "work": self.work}
        before = {name: snapshot(path) for name, path in watched.items()}

        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "scanner", *map(str, args)],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=self.env(env),
            cwd=cwd or self.work,
            start_new_session=True,
        )
        # Bounded memory: the child's address space, set as it starts (Linux; its workers inherit it).
        resource.prlimit(proc.pid, resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
        streams: dict[str, bytes] = {}

        def drain(name: str, stream: IO[bytes] | None) -> None:
            if stream is None:
                streams[name] = b""
                return
            with stream:
                streams[name] = stream.read()

        readers = [
            threading.Thread(target=drain, args=("stdout", proc.stdout if stdout == subprocess.PIPE else None)),
            threading.Thread(target=drain, args=("stderr", proc.stderr)),
        ]
        for reader in readers:
            reader.start()
        if stdin is not None and proc.stdin is not None:
            try:
                proc.stdin.write(stdin)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        code, rss = _wait(proc, limit)
        seconds = time.monotonic() - started
        for reader in readers:
            reader.join(timeout=10)
        proc.__exit__(None, None, None)  # closes what is left; the child is already reaped
        after = {name: snapshot(path) for name, path in watched.items()}
        written = [
            f"{name}/{path}"
            for name in watched
            for path, stamp in after[name].items()
            if before[name].get(path) != stamp and not (name == "work" and path.startswith("out"))
        ]
        return Outcome(
            code,
            streams.get("stdout", b"").decode("utf-8", "replace"),
            streams.get("stderr", b"").decode("utf-8", "replace"),
            seconds,
            rss / 1024,
            written,
            sorted(os.listdir(self.root / "tmp")),
        )


def _wait(proc: subprocess.Popen[bytes], limit: float) -> tuple[int | None, int]:
    """The exit code (None if killed at ``limit``) and the child's peak RSS in KB, from ``wait4``."""
    deadline = time.monotonic() + limit
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, int(usage.ru_maxrss)
        if time.monotonic() > deadline:
            os.killpg(proc.pid, 9)
            _pid, _status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return None, int(usage.ru_maxrss)
        time.sleep(0.02)
