"""Start-up (issue #17 item 3): the commit hook's path imports only what it uses, and asks git once for the root.

Each test runs the real ``python -m scanner`` in a fresh process (imports are per process) against a real
repository, and reads which modules that process loaded from a ``sitecustomize``-free wrapper that prints
``sys.modules`` at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokens import TokenFactory

from tests.test_git import Repo, isolate_git

# Runs the CLI as the hook does, then prints the names of the modules it loaded as JSON on the last line of stderr:
# those loaded after the interpreter's own start (under ``--cov`` that start includes coverage's, and its imports).
_WRAPPER = (
    "import sys\n"
    "before = set(sys.modules)\n"
    "from scanner.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "loaded = sorted(set(sys.modules) - before)\n"
    "import json\n"
    "print(json.dumps(loaded), file=sys.stderr)\n"
    "raise SystemExit(code)\n"
)

# Loaded only by other commands, structured content or a configured file: never by a scan of source files.
_NOT_ON_HOOK_PATH = (
    "yaml",
    "inspect",  # dataclasses' import of it is deferred (scanner/deferinspect.py), and no class of ours needs it
    # ipaddress itself cannot be checked by name: on 3.11 pathlib's urllib.parse loads it before the wrapper's list
    "scanner.sources.registry",
    "scanner.sources.tfremote.tfe",
    "ctypes.util",
    "scanner.cli.ci",
    "scanner.cli.baseline",
    "scanner.cli.respond",
    "scanner.cli.serverhook",
    "scanner.formats.iac",
    "scanner.formats.yamldoc",
    "scanner.detect.iac",
    "scanner.detect.structured",
    "scanner.respond.plan",
    # the full argument parser, the commit walk, other tools' baselines, and what only errors or writes use
    "argparse",
    "gettext",
    "scanner.sources.git.walk",
    "scanner.sources.git.ranges",
    "scanner.policy.migrate",
    "difflib",
    "tempfile",
    # the hook's git calls run through os.posix_spawnp (sources/git/pipes.py): 17 M instructions of imports less
    "subprocess",
    "shutil",
    "lzma",
    "scanner.ruleset.validator",  # a rule's declared check: read where a rule file is parsed
    # read only when there is something to read: JSON, a config file, a baseline file, a policy change, an
    # ignore file of a directory scan; pygit2's fallback (each a module and its dataclasses); findings
    "json",
    "scanner.policy.validate",
    "scanner.policy.baseline",
    "scanner.policy.labelling",
    "scanner.pipeline.policychange",
    "scanner.sources.gitignores",
    "scanner.sources.git.repo",
    "scanner.report.advice",  # what a blocked run prints, and where a finding is: only with findings
    "scanner.location",
)


@pytest.fixture(autouse=True)
def _git_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path / "home")


def run_scanner(cwd: Path, *argv: str) -> tuple[int, str, set[str]]:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    *lines, modules = done.stderr.splitlines()
    return done.returncode, "\n".join(lines), set(json.loads(modules))


def test_a_staged_commit_of_source_files_loads_no_parser_and_no_other_command(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    repo = Repo.init(tmp_path / "repo")
    repo.commit("initial", {"README.md": "# app\n"})
    files = {f"src/m{i}.py": f"VALUE_{i} = {i}\n" for i in range(10)}
    for name, text in files.items():
        (repo.path / name).parent.mkdir(parents=True, exist_ok=True)
        (repo.path / name).write_text(text)
    repo.git("add", "-A")
    run_scanner(repo.path, "scan", "--staged", "--no-progress")  # a cold cache parses the rules' YAML once
    code, _, modules = run_scanner(repo.path, "scan", "--staged", "--no-progress")
    assert code == 0
    assert "scanner.cli.scan" in modules and "scanner.sources.git.staged" in modules  # it did scan
    assert [name for name in _NOT_ON_HOOK_PATH if name in modules] == []


def test_a_staged_secret_in_a_source_file_is_still_found(tmp_path: Path, tokens: TokenFactory) -> None:
    repo = Repo.init(tmp_path / "repo")
    repo.commit("initial", {"README.md": "# app\n"})
    (repo.path / "app.py").write_text(f'TOKEN = "{tokens.github_clean()}"\n')
    repo.git("add", "app.py")
    run_scanner(repo.path, "scan", "--staged", "--no-progress", "--format", "json")
    code, _, modules = run_scanner(repo.path, "scan", "--staged", "--no-progress", "--format", "json")
    assert code == 1
    assert "scanner.formats.iac" not in modules


def test_a_staged_kubernetes_manifest_loads_the_structured_detector(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    repo.commit("initial", {"README.md": "# app\n"})
    (repo.path / "deploy.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n")
    repo.git("add", "deploy.yaml")
    code, _, modules = run_scanner(repo.path, "scan", "--staged", "--no-progress")
    assert code == 0
    assert {"scanner.detect.iac", "scanner.formats.iac"} <= modules


def test_named_files_in_a_repository_load_no_process_machinery(tmp_path: Path) -> None:
    """pre-commit's files hook (``scan -- FILE…``): ignore files apply to directory scans only, so no ``git`` runs
    and neither ``subprocess`` (with ``selectors`` and ``locale``) nor ``ctypes`` (``lifeline``'s ``prctl``, for
    children) is imported; a directory scan still runs git."""
    repo = Repo.init(tmp_path / "repo")
    repo.commit("initial", {"README.md": "# app\n", "a.py": "A = 1\n", "b.py": "B = 2\n"})
    code, _, modules = run_scanner(repo.path, "scan", "--no-progress", "--", "a.py", "b.py")
    assert code == 0
    assert "scanner.sources.files" in modules  # it did scan
    assert [name for name in ("subprocess", "selectors", "locale", "ctypes") if name in modules] == []
    assert "hyperscan" not in modules  # two small files: the keyword prefilter (prefilter.SmallFirstPrefilter)
    code, _, modules = run_scanner(repo.path, "scan", "--no-progress", ".")
    assert code == 0 and "subprocess" in modules


def test_help_still_lists_every_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scanner", "--help"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    for command in ("scan", "respond", "ci", "install-hook", "baseline", "rules", "redact"):
        assert command in done.stdout


def test_staged_inside_the_git_directory_is_a_one_line_error(tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "repo")
    repo.commit("initial", {"README.md": "# app\n"})
    code, err, _ = run_scanner(repo.path / ".git", "scan", "--staged", "--no-progress")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "work tree" in err and "Traceback" not in err


def test_a_history_scan_imports_traceback_only_to_describe_an_error(tmp_path: Path) -> None:
    """``refscan.describe`` names a failed blob's exception and place; ``traceback`` (with ``linecache`` and
    ``tokenize``) is imported there, not at the start of every history scan."""
    repo = Repo.init(tmp_path / "repo")
    repo.commit("initial", {"README.md": "# app\n", "a.py": "A = 1\n"})
    repo.commit("second", {"a.py": "A = 2\n"})
    code, _, modules = run_scanner(repo.path, "scan", "--history", "--no-progress", ".")
    assert code == 0
    assert "scanner.pipeline.refscan" in modules  # the blobs went through the workers' code
    assert [name for name in ("traceback", "linecache", "tokenize") if name in modules] == []
