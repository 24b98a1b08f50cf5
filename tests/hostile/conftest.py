"""Fixtures of the hostile-input suite: a sandbox per case (see ``harness.py``) and a small config whose one rule
(github-pat) every case's token is made for."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import config_text

from .harness import Sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    box = Sandbox(tmp_path / "box")
    (box.root / "leakstop.yaml").write_text(config_text(), encoding="utf-8")
    return box


@pytest.fixture
def config(sandbox: Sandbox) -> Path:
    return sandbox.root / "leakstop.yaml"
