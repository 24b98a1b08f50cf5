"""Hyperscan and the pure-Python fallback must give identical findings: the dev corpus and generated content."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from scanner.detect.engine import Detector
from scanner.ruleset import load_ruleset

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "dev-corpus.tar.gz"


def _detector(engine: str) -> Detector:
    detector = Detector(load_ruleset(), engine=engine)
    assert detector.engine == engine
    return detector


def _signature(detector: Detector, content: bytes) -> list[tuple[str, int, int, str, tuple[str, ...]]]:
    return [(m.rule_id, m.start, m.end, m.secret.reveal(), m.decoded) for m in detector.detect(content)]


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    if not CORPUS.is_file():
        pytest.skip(f"dev corpus not found at {CORPUS}")
    root = tmp_path_factory.mktemp("corpus")
    with tarfile.open(CORPUS) as tar:
        tar.extractall(root, filter="data")
    files = []
    for dirpath, dirnames, filenames in os.walk(root / "devcorpus"):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath, name)
            files.append((str(path.relative_to(root)), path.read_bytes()))
    return sorted(files)


def test_engines_agree_on_dev_corpus(corpus_files: list[tuple[str, bytes]]) -> None:
    fast = _detector("hyperscan")
    slow = _detector("python")
    total = 0
    for name, content in corpus_files:
        expected = _signature(slow, content)
        assert _signature(fast, content) == expected, name
        total += len(expected)
    assert total > 100  # the corpus is full of secrets: an engine that finds nothing agrees trivially


def test_engines_agree_on_generated_content() -> None:
    from tests.tokens import TokenFactory

    tokens = TokenFactory(seed=7)
    lines = []
    for i in range(200):
        lines.append(f"value_{i} = '{tokens.chars('abcdefXYZ0123456789+/', 30 + i % 40)}'")
        if i % 17 == 0:
            lines.append(f"GITHUB_TOKEN={tokens.github()}")
        if i % 23 == 0:
            lines.append(f"password = '{tokens.password()}'")
    content = "\n".join(lines).encode()
    fast = _detector("hyperscan")
    slow = _detector("python")
    found = _signature(fast, content)
    assert found == _signature(slow, content)
    assert sum(1 for f in found if f[0] == "github-pat") == 12
