"""Shared fixtures: an isolated cache, generated tokens, an in-process CLI runner and small file-tree helpers.

Tests that need rules use either a small rule file written into ``tmp_path`` or rules copied by id from the
built-in rule files (``builtin_rule``), so a rule file being edited elsewhere cannot break unrelated tests.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# The helper modules next to this file (tokens.py, helpers.py) import as top-level modules in any import mode.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import BUILTIN_RULES, MakeConfig, RunCli, config_text, write_files
from httpserver import LoopbackProxy, ServerFactory, Servers, TestCA
from tokens import TokenFactory

from scanner.cli import main
from scanner.detect.engine import Detector
from scanner.ruleset import Ruleset, load_ruleset

# Detection work inside @given is fast but not instant (the first call may compile a Hyperscan database).
settings.register_profile("leakstop", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("leakstop")


pytest_plugins = ["canary_plugin", "pytester"]  # the secret canary (tests/canary_plugin.py); pytester checks it

_CACHE_ROOT = Path(tempfile.mkdtemp(prefix="leakstop-test-cache-"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than 20 seconds (deselect with -m 'not slow')")
    # Set before collection too: test modules that load rules at import time must not touch ~/.cache either.
    os.environ["LEAKSTOP_CACHE_DIR"] = str(_CACHE_ROOT)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_CACHE_ROOT, ignore_errors=True)


@pytest.fixture(scope="session")
def _cache_root() -> Path:
    return _CACHE_ROOT


# What a CI runner or a server hook sets that changes a report: the branch and bypass requests.
_RUN_CONTEXT = (
    "LEAKSTOP_BYPASS",
    "GIT_PUSH_OPTION_COUNT",
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME",
    "CI_COMMIT_REF_NAME",
)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, _cache_root: Path) -> None:
    """Never touch ~/.cache, and no developer setting changes what a test sees."""
    monkeypatch.setenv("LEAKSTOP_CACHE_DIR", str(_cache_root))
    for name in ("LEAKSTOP_FINGERPRINT_KEY", "LEAKSTOP_ENGINE", "LEAKSTOP_DEBUG", "NO_COLOR", *_RUN_CONTEXT):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tokens() -> TokenFactory:
    return TokenFactory()


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> RunCli:
    """``run_cli("scan", path, ...) -> (exit_code, stdout, stderr)``, in process."""

    def run(*argv: str | Path) -> tuple[int, str, str]:
        capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        from canary_plugin import record_output  # loaded by pytest_plugins; imported here, after it

        if "--show-secrets" not in map(str, argv):  # the secret canary checks what was not asked to reveal
            record_output("leakstop stdout", out)
            record_output("leakstop stderr", err)
        return code, out, err

    return run


@pytest.fixture(name="write_files")
def write_files_fixture() -> Callable[[Path, Mapping[str, str | bytes]], Path]:
    return write_files


@pytest.fixture
def make_config(tmp_path: Path) -> MakeConfig:
    """Write a config holding only the given built-in rules (default: github-pat) plus ``extra`` keys.

    The file goes to ``tmp_path/config/`` unless ``path`` is given, outside any tree a test scans.
    """

    def make(rule_ids: Iterable[str] = ("github-pat",), path: Path | None = None, **extra: Any) -> Path:
        target = path or tmp_path / "config" / "leakstop.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(config_text(rule_ids, **extra), encoding="utf-8")
        return target

    return make


@pytest.fixture(scope="session")
def github_ruleset(_cache_root: Path) -> Ruleset:
    """The built-in GitHub rules alone (rules/github.yaml): the one rule file these tests rely on."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEAKSTOP_CACHE_DIR", str(_cache_root))
        return load_ruleset([BUILTIN_RULES / "github.yaml"])


@pytest.fixture(scope="session")
def github_detector(github_ruleset: Ruleset, _cache_root: Path) -> Detector:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LEAKSTOP_CACHE_DIR", str(_cache_root))
        return Detector(github_ruleset)


@pytest.fixture
def _servers() -> Iterator[Servers]:
    servers = Servers()
    yield servers
    servers.stop_all()


@pytest.fixture
def http_server(_servers: Servers) -> ServerFactory:
    """``http_server(tls=None) -> LoopbackServer``: a real HTTP(S) server on 127.0.0.1 (tests/httpserver.py)."""
    return _servers.server


@pytest.fixture
def http_proxy(_servers: Servers) -> LoopbackProxy:
    """A forward and CONNECT proxy on 127.0.0.1 that reaches loopback hosts only."""
    return _servers.proxy()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A CA and a server certificate for 127.0.0.1 and localhost, made with openssl once per session."""
    return TestCA.make(tmp_path_factory.mktemp("test-ca"))
