"""``leakstop baseline audit`` driven on a real pseudo-terminal: the CLI runs as a subprocess whose stdin, stdout and
stderr are the slave side of ``os.openpty()``; the test answers through the master side like a person would."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import MakeConfig, RunCli, write_files
from tokens import TokenFactory

from scanner.policy import baseline
from scanner.policy.config import BASELINE_NAME


class Terminal:
    """The real CLI on a pty. Output arrives with ``\\r\\n`` line ends and echoed input, as on a terminal."""

    def __init__(self, *argv: str | Path, cwd: Path) -> None:
        master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scanner", *(str(a) for a in argv)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            close_fds=True,
            start_new_session=True,  # the pty becomes its controlling terminal: Ctrl-C sends SIGINT
        )
        os.close(slave)
        self.master = master
        self.seen = ""

    def _read(self, deadline: float) -> bool:
        """Read what is there (waiting until ``deadline``); False at the end of output."""
        ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.seen += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        return bool(chunk)

    def expect(self, needle: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            if time.monotonic() >= deadline or not self._read(deadline):
                raise AssertionError(f"{needle!r} not seen; output so far:\n{self.seen}")
        return self.seen

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 60) -> int:
        """Read to the end of output; the exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline):
            pass
        code = self.proc.wait(timeout)
        os.close(self.master)
        return code


@pytest.fixture
def tree(tmp_path: Path, tokens: TokenFactory, make_config: MakeConfig, run_cli: RunCli) -> dict[str, Any]:
    """A repository with three baselined tokens, one per file."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    secrets = {name: tokens.github_clean() for name in ("a.py", "b.py", "c.py")}
    write_files(repo, {name: f"token = '{secret}'\n" for name, secret in secrets.items()})
    config = make_config()
    code, _, err = run_cli("baseline", "create", repo, "--config", config)
    assert (code, err) == (0, "")
    return {"repo": repo, "config": config, "secrets": secrets}


def findings(run_cli: RunCli, tree: dict[str, Any], fmt: str = "json") -> Any:
    code, out, _ = run_cli("scan", tree["repo"], "--config", tree["config"], "--format", fmt)
    assert code == 0
    return json.loads(out)


def test_audit_labels_findings_on_a_terminal(tree: dict[str, Any], run_cli: RunCli) -> None:
    repo, config = tree["repo"], tree["config"]
    term = Terminal("baseline", "audit", repo, "--config", config, cwd=repo.parent)
    term.expect("3 baselined findings in")
    term.expect("[1/3] github-pat")
    term.expect("[t/f/s/q] ")
    term.send("f\n")
    term.expect("[2/3] github-pat")
    term.send("maybe\n")
    term.expect("answer t, f, s or q")
    term.send("t\n")
    term.expect("[3/3] github-pat")
    term.send("s\n")
    out = term.expect("baseline audit: 2 labelled (1 true positive, 1 false positive), 1 not")
    assert term.finish() == 0
    for name, secret in tree["secrets"].items():
        assert f"{name}:1:" in out
        assert secret not in out and secret[4:20] not in out  # only the redacted form and snippet are shown
    assert "secret ghp_…(40)" in out and "│ token = 'ghp_…(40)'" in out

    labels = {f["location"]["path"].rsplit("/", 1)[-1]: f.get("audit") for f in findings(run_cli, tree)["findings"]}
    assert labels == {"a.py": "false-positive", "b.py": "true-positive", "c.py": None}
    sarif = findings(run_cli, tree, "sarif")["runs"][0]["results"]
    assert [r["suppressions"][0]["justification"] for r in sarif] == [
        "in baseline (audited: false positive)",
        "in baseline (audited: true positive)",
        "in baseline (not audited)",
    ]
    _, out, _ = run_cli("scan", repo, "--config", config, "--verbose", "--color", "never")
    assert "audited: false positive" in out

    text = (repo / BASELINE_NAME).read_text(encoding="utf-8")
    stored = json.loads(text)
    assert stored["version"] == 2 and sorted(stored["labels"].values()) == ["false-positive", "true-positive"]
    assert set(stored["labels"]) <= set(stored["fingerprints"])
    assert all(secret not in text for secret in tree["secrets"].values())
    # Byte-stable: an update with nothing new rewrites nothing and keeps the labels.
    assert "baseline unchanged" in run_cli("baseline", "update", repo, "--config", config)[1]
    assert (repo / BASELINE_NAME).read_text(encoding="utf-8") == text

    # Next time only the unlabelled finding is asked about; quitting labels nothing.
    term = Terminal("baseline", "audit", repo, "--config", config, cwd=repo.parent)
    term.expect("3 baselined findings in")
    term.expect("1 to audit")
    term.expect("[1/1] github-pat")
    assert "c.py:1:" in term.expect("[t/f/s/q] ")
    term.send("q\n")
    term.expect("0 labelled")
    assert term.finish() == 0
    assert (repo / BASELINE_NAME).read_text(encoding="utf-8") == text

    # --all asks about every one and shows the label it has; pruning a fixed finding drops its label.
    term = Terminal("baseline", "audit", repo, "--config", config, "--all", cwd=repo.parent)
    assert "labelled false positive" in term.expect("[1/3] github-pat", 60) + term.expect("[t/f/s/q] ")
    term.send("q\n")
    assert term.finish() == 0
    (repo / "a.py").write_text("token = None\n", encoding="utf-8")
    run_cli("baseline", "prune", repo, "--config", config)
    assert list(baseline.load(repo / BASELINE_NAME).labels.values()) == ["true-positive"]


def test_an_interrupt_keeps_the_answers_given(tree: dict[str, Any]) -> None:
    repo, config = tree["repo"], tree["config"]
    term = Terminal("baseline", "audit", repo, "--config", config, cwd=repo.parent)
    term.expect("[1/3] github-pat")
    term.expect("[t/f/s/q] ")
    term.send("t\n")
    term.expect("[2/3] github-pat")
    term.expect("[t/f/s/q] ")
    os.killpg(term.proc.pid, signal.SIGINT)
    term.expect("leakstop: interrupted")
    assert term.finish() == 130
    assert list(baseline.load(repo / BASELINE_NAME).labels.values()) == ["true-positive"]


def test_audit_needs_a_terminal(tree: dict[str, Any], run_cli: RunCli) -> None:
    before = (tree["repo"] / BASELINE_NAME).read_bytes()
    code, out, err = run_cli("baseline", "audit", tree["repo"], "--config", tree["config"])
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "leakstop: error: baseline audit: needs a terminal to ask on (stdin and stdout must be a TTY)"
    ]
    assert (tree["repo"] / BASELINE_NAME).read_bytes() == before


def test_audit_without_a_baseline(tmp_path: Path, make_config: MakeConfig) -> None:
    (tmp_path / ".git").mkdir()
    term = Terminal("baseline", "audit", tmp_path, "--config", make_config(), cwd=tmp_path)
    out = term.expect("no baseline to audit")
    assert term.finish() == 2
    assert f"leakstop: error: {tmp_path / BASELINE_NAME}: no baseline to audit" in out
