"""A secret canary over the whole suite (issue #18): every token a test generates is recorded, and a test fails if
one shows up whole where leakstop writes for people or stores state.

Checked after each test: the output of the in-process CLI (``run_cli``), what the test printed and did not read
(pytest's captured stdout and stderr), and the files leakstop writes under ``tmp_path`` and the test cache
directory: reports, baselines, cache entries, outboxes and audit logs (by name, see ``_OUTPUT_NAMES``), written
during the test. A test that asks for secrets (``--show-secrets``, a reveal on purpose) is marked
``@pytest.mark.shows_secrets`` and skipped by the canary; everything else the canary finds is a leak to fix.

Tokens come from ``tokens.TokenFactory``: its methods are wrapped once per session and their results of
``MIN_TOKEN`` characters or more are recorded for the running test.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tokens import TokenFactory

MIN_TOKEN = 16
MAX_FILE = 8 * 1024 * 1024  # bytes of one output file the canary reads
_OUTPUT_NAMES = re.compile(
    r"(?i)(report|\.sarif$|baseline|audit|outbox|^(?:rules|config)-.*\.json$|summary$|^output$|gl-.*\.json$)"
)


class Canary:
    def __init__(self) -> None:
        self.tokens: set[str] = set()
        self.outputs: list[tuple[str, str]] = []  # (where, text)
        self.started = 0.0
        self.roots: list[Path] = []

    def reset(self) -> None:
        self.tokens.clear()
        self.outputs.clear()
        self.roots.clear()
        self.started = time.time() - 1  # mtime granularity

    def leaks(self) -> list[str]:
        if not self.tokens:
            return []
        found: list[str] = []
        texts = [*self.outputs, *self._files()]
        for where, text in texts:
            for token in self.tokens:
                if token in text:
                    found.append(f"{where}: holds a generated token ({token[:4]}…({len(token)}))")
        return sorted(set(found))

    def _files(self) -> Iterator[tuple[str, str]]:
        for root in self.roots:
            if not root.is_dir():
                continue
            for path in root.rglob("*"):
                try:
                    if not path.is_file() or path.is_symlink() or not _OUTPUT_NAMES.search(path.name):
                        continue
                    info = path.stat()
                    if info.st_mtime < self.started or info.st_size > MAX_FILE:
                        continue
                    yield str(path), path.read_bytes().decode("utf-8", "replace")
                except OSError:
                    continue


CANARY = Canary()


def _recording(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value = method(*args, **kwargs)
        if isinstance(value, str) and len(value) >= MIN_TOKEN:
            CANARY.tokens.add(value)
            CANARY.tokens.update(line for line in value.splitlines() if len(line) >= MIN_TOKEN and "-----" not in line)
        return value

    return wrapper


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "shows_secrets: the test asks for secrets in output (--show-secrets); the canary skips it"
    )
    for name, member in list(vars(TokenFactory).items()):
        if callable(member) and not name.startswith("_") and name != "chars":
            setattr(TokenFactory, name, _recording(member))


@pytest.fixture(autouse=True)
def _secret_canary(request: pytest.FixtureRequest, _cache_root: Path) -> Iterator[None]:
    CANARY.reset()
    yield
    if request.node.get_closest_marker("shows_secrets") is not None:
        return
    tmp = request.node.funcargs.get("tmp_path")
    if isinstance(tmp, Path):
        CANARY.roots.append(tmp)
    CANARY.roots.append(_cache_root)
    leaks = CANARY.leaks()
    if leaks:
        pytest.fail("secret canary:\n  " + "\n  ".join(leaks), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and item.get_closest_marker("shows_secrets") is None and CANARY.tokens:
        for where, text in (("captured stdout", report.capstdout), ("captured stderr", report.capstderr)):
            hits = [t for t in CANARY.tokens if t in text]
            if hits and report.passed:
                report.outcome = "failed"
                report.longrepr = f"secret canary: {where} holds a generated token ({hits[0][:4]}…({len(hits[0])}))"


def record_output(where: str, text: str) -> None:
    """What the in-process CLI printed, for the canary to check after the test."""
    CANARY.outputs.append((where, text))
