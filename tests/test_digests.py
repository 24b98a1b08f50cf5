"""``scanner.digests``: the digests hashlib gives, from CPython's own SHA code for a process's first bytes and from
OpenSSL after them; a commit hook's scan never loads OpenSSL, a scan with a finding still does (the HMAC)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tokens import TokenFactory

from scanner import digests


@pytest.mark.parametrize("size", [0, 1, 55, 56, 64, 1000, 100_000])
def test_the_digests_are_hashlibs(size: int) -> None:
    data = os.urandom(size)
    assert digests.sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()
    assert digests.sha1(data).hexdigest() == hashlib.sha1(data).hexdigest()
    incremental = digests.sha256(data)
    incremental.update(data)
    assert incremental.digest() == hashlib.sha256(data + data).digest()


def _run(program: str, *args: str, cwd: Path | None = None) -> str:
    """``program`` in a fresh interpreter without coverage (under ``--cov`` its start-up imports ``hashlib``, and so
    OpenSSL, before ours)."""
    root = Path(__file__).resolve().parent.parent
    env = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program), *args],
        cwd=cwd or root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**env, "PYTHONPATH": str(root)},
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_openssl_is_loaded_only_past_the_budget() -> None:
    program = """
        import sys
        from scanner import digests
        small, big = b"x" * 1000, b"y" * (digests.BUILTIN_BUDGET + 1)
        first = digests.sha256(small).hexdigest()
        loaded = "_hashlib" in sys.modules
        second = digests.sha256(big).hexdigest()
        import hashlib
        print(loaded, "_hashlib" in sys.modules, first == hashlib.sha256(small).hexdigest(),
              second == hashlib.sha256(big).hexdigest())
    """
    assert _run(program) == "False True True True"


def test_a_scan_without_findings_does_not_load_openssl(tmp_path: Path, tokens: TokenFactory) -> None:
    """With the built-in rules' table in place (``ruleset.builtintable``; without it their 1.4 MB are hashed for
    the cache key, past the budget): the first run writes it, the second is the hook's start."""
    clean, leaky = tmp_path / "clean.py", tmp_path / "leaky.py"
    clean.write_text("print('hello')\n")
    leaky.write_text(f"GITHUB_TOKEN = '{tokens.github()}'\n")
    program = f"""
        import sys
        from scanner.ruleset import builtintable
        builtintable.table_path = lambda: {str(tmp_path / "builtin-rules.marshal")!r}
        sys.dont_write_bytecode = False
        from scanner.cli import main
        code = main(["scan", "--no-progress", "-f", "json", "-o", "/dev/null", sys.argv[1]])
        print(code, "_hashlib" in sys.modules)
    """
    _run(program, str(clean))
    assert (tmp_path / "builtin-rules.marshal").is_file()
    assert _run(program, str(clean)) == "0 False"
    assert _run(program, str(leaky)) == "1 True"  # the finding's keyed fingerprint (HMAC-SHA256)
