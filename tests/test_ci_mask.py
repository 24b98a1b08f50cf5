"""``leakstop ci --add-mask`` on GitHub Actions: every secret found is registered with ``::add-mask::`` before
the report or an annotation prints anything (the runner then masks it in every later line of the job)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ciworld import World
from helpers import MakeConfig, RunCli
from tokens import TokenFactory


@pytest.mark.shows_secrets  # ::add-mask:: takes the value itself: that is how the runner learns what to mask
def test_add_mask_comes_first_for_every_secret_and_each_pem_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tokens: TokenFactory, run_cli: RunCli, make_config: MakeConfig
) -> None:
    world = World(tmp_path, monkeypatch)
    world.commit("readme", {"README.md": "# demo\n"})
    world.push("main")
    token, pem = tokens.github(), tokens.private_key_pem()
    after = world.commit("settings", {"app.env": f"TOKEN={token}\n", "deploy.sh": f"cat > key <<EOF\n{pem}\nEOF\n"})
    world.push("main")
    runner = world.checkout(after)
    world.enter(runner, world.github(runner, "workflow_dispatch", world.payload("workflow_dispatch", {})))

    code, out, _ = run_cli("ci", "-c", make_config(("github-pat", "private-key-pkcs8")), "--no-summary", "--add-mask")

    assert code == 1
    lines = out.splitlines()
    masks = [line for line in lines if line.startswith("::add-mask::")]
    assert lines[: len(masks)] == masks  # before anything else on stdout
    escaped = pem.replace("\n", "%0A")
    assert set(masks) == {f"::add-mask::{token}", f"::add-mask::{escaped}"} | {
        f"::add-mask::{line}" for line in pem.splitlines()[1:-1]
    }
    code, out, _ = run_cli("ci", "-c", make_config(), "--no-summary")
    assert "::add-mask::" not in out  # only when asked
