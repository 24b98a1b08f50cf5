"""The secret canary itself (tests/canary_plugin.py): it fails a test whose output or stored files hold a token
the test generated, and lets a test marked ``shows_secrets`` through."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

INNER = """
import sys
from pathlib import Path

import pytest
from tokens import TokenFactory


def test_prints_a_token() -> None:
    print("found", TokenFactory().github_clean())


def test_writes_a_report(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(TokenFactory().aws_secret())


def test_writes_an_input_file(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text(TokenFactory().aws_secret())  # what a test scans: not an output


def test_redacts(tmp_path: Path) -> None:
    token = TokenFactory().github_clean()
    print("found", token[:4] + "...")
    (tmp_path / "report.json").write_text("{}")


@pytest.mark.shows_secrets
def test_asked_for_it() -> None:
    print("found", TokenFactory().github_clean())
"""


def test_the_canary_fails_leaks_and_only_leaks(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        f"import sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        "import pytest\n"
        'pytest_plugins = ["canary_plugin"]\n'
        "@pytest.fixture\n"
        "def _cache_root(tmp_path_factory):\n"
        '    return tmp_path_factory.mktemp("cache")\n'
    )
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1, errors=1)  # a teardown error counts its test as passed too
    result.stdout.fnmatch_lines(
        ["*_ test_prints_a_token _*", "secret canary: captured stdout holds a generated token*"]
    )
    result.stdout.fnmatch_lines(["*report.json: holds a generated token*"])
