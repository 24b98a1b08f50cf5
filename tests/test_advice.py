"""The text report's closing advice: how to fix what blocks (by what was scanned) and the allow options the
policy honours. The hooks' own runs are in test_hooks.py; here, the other scan kinds through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitrepo import EPOCH, Repo, isolate_git
from helpers import MakeConfig, RunCli, password_state, write_files
from tokens import TokenFactory

from scanner.policy.config import CONFIG_NAME
from scanner.report import advice
from scanner.sources.git.trailers import TRAILER
from tests.test_git import env_line
from tests.test_image import docker_save, image_config, layer


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


def text(run_cli: RunCli, config: Path, *argv: str | Path) -> str:
    code, out, _ = run_cli("scan", "--color", "never", "--config", config, *argv)
    assert code == 1
    return out


def test_names_it_copies_are_the_ones_of_the_layers_above() -> None:
    assert advice.TRAILER == TRAILER
    assert advice.CONFIG_NAME == CONFIG_NAME


@pytest.fixture
def repo(tmp_path: Path, tokens: TokenFactory) -> tuple[Repo, str, str]:
    repo = Repo.init(tmp_path / "repo", clock=[EPOCH])
    base = repo.commit("clean", {"README.md": "# app\n"})
    added = repo.commit(
        f"add settings\n\n{env_line(tokens.github_clean())}", {"app.env": env_line(tokens.github_clean())}
    )
    return repo, base, added


@pytest.mark.parametrize("mode", ["range", "history"])
def test_commits_already_pushed_need_a_force_push_and_a_rotation(
    repo: tuple[Repo, str, str], run_cli: RunCli, make_config: MakeConfig, mode: str
) -> None:
    path, base, added = repo
    flags = ["--range", f"{base}..HEAD"] if mode == "range" else ["--history"]

    out = text(run_cli, make_config(), *flags, path.path)

    assert "BLOCKED: 2 findings block this scan" in out
    assert f"`git rebase -i {added[:12]}~1`" in out
    assert "in a commit message: `git commit --amend` (the last commit), `reword` in `git rebase -i`" in out
    assert "`git push --force-with-lease` after rewriting" in out
    assert "revoke and rotate the credential: it has leaked" in out


def test_an_image_is_rebuilt(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory) -> None:
    base = layer({"app/.env": env_line(tokens.github_clean()).encode()})
    image = docker_save(tmp_path / "img.tar", [base], image_config([base], [], ["ADD . /app"]))

    out = text(run_cli, make_config(), "--image", image)

    assert "How to fix: rebuild the image without the secret" in out
    assert "`RUN --mount=type=secret`" in out


def test_a_state_is_locked_down(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory) -> None:
    state = tmp_path / "terraform.tfstate"
    state.write_text(json.dumps(password_state(tokens.clean_chars("abcdefghijk0123456789", 24))), encoding="utf-8")

    out = text(run_cli, make_config(("terraform-sensitive-in-state",)), "--tfstate", state)

    assert "How to fix: Terraform state keeps values in plaintext" in out


def test_only_the_allow_options_the_policy_honours_are_offered(
    tmp_path: Path, run_cli: RunCli, make_config: MakeConfig, tokens: TokenFactory
) -> None:
    write_files(tmp_path / "tree", {"a.env": env_line(tokens.github_clean())})
    next_line_only = make_config(path=tmp_path / "a.yaml", inline_allow={"markers": ["leakstop:allow-next-line"]})
    no_inline = make_config(
        path=tmp_path / "b.yaml",
        inline_allow={"enabled": False},
        policy={"bypass": {"enabled": True, "channels": ["env", "trailer"]}},
    )

    out = text(run_cli, next_line_only, tmp_path / "tree")
    assert "  inline: `leakstop:allow-next-line` on the line before\n" in out

    out = text(run_cli, no_inline, tmp_path / "tree")
    assert "inline:" not in out
    assert "Or bypass the policy once, with a reason (it allows env):" in out  # a file scan has no commit
    assert '`LEAKSTOP_BYPASS="why" leakstop scan …`' in out


def test_a_passing_scan_gives_no_advice(tmp_path: Path, run_cli: RunCli, make_config: MakeConfig) -> None:
    write_files(tmp_path / "tree", {"a.txt": "nothing here\n"})
    code, out, _ = run_cli("scan", "--color", "never", "--config", make_config(), tmp_path / "tree")
    assert code == 0
    assert out.splitlines()[-1] == "PASSED"
    assert "How to fix" not in out
