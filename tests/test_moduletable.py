"""The table of module code the installed command's start imports from (``scanner.moduletable``), run for real: a
copy of the package beside a ``leakstop`` program, started as ``leakstop scan`` in a subprocess. A run writes the
table at exit, the next takes the modules from it; a touched source is read from the source; a damaged or foreign
table is a miss and is rewritten; a served module looks as an imported one does; the scan's output and exit code
are those of a start without the table; nothing changes for a program that imports ``scanner`` as a library, or
where Python writes no bytecode."""

from __future__ import annotations

import compileall
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gitrepo import Repo, isolate_git
from tokens import TokenFactory

import scanner
from scanner import moduletable
from scanner.ruleset import load

PACKAGE = Path(scanner.__file__).resolve().parent
PRE_INSTALL = {"scanner", "scanner.startup", "scanner.moduletable", "scanner.pycachefile"}  # loaded before it serves
COMMAND = "import sys\nfrom scanner.cli import console\nsys.exit(console())\n"
SETTLE_S = moduletable.SETTLE_NS / 1e9 + 0.1
# Imports modules as the command does and prints what an importer sees of them.
PROBE = """
import importlib, importlib.resources, inspect, json, sys
sys.path.insert(0, sys.argv[2])
import scanner
names = ("scanner.models", "scanner.ruleset", "scanner.cli.scan", "scanner.report", "dataclasses", "json")
result = {}
for name in names:
    module = importlib.import_module(name)
    spec, loader = module.__spec__, module.__loader__
    functions = [value for value in vars(module).values() if inspect.isfunction(value) and value.__module__ == name]
    result[name] = {
        "file": module.__file__, "cached": module.__cached__, "path": getattr(module, "__path__", None),
        "spec": [spec.name, spec.origin, spec.cached, spec.has_location, spec.parent, spec.submodule_search_locations],
        "loader": [type(loader).__name__, loader.name, loader.path, loader is spec.loader],
        "co_filename": functions[0].__code__.co_filename if functions else None,
        "source": inspect.getsource(module)[:200], "data": len(loader.get_data(module.__file__)),
        "resources": sorted(p.name for p in importlib.resources.files(name).iterdir())[:5] if spec.parent == name
        else None,
    }
finders = [f for f in sys.meta_path if type(f).__name__ == "TableFinder"]
print(json.dumps({"modules": result, "served": finders[0].served if finders else None}))
"""


def _app(root: Path) -> Path:
    """A copy of the package as installed (sources, rules, compiled extensions, bytecode) beside a ``leakstop`` program,
    which imports it from there as the installed command does from site-packages."""
    shutil.copytree(PACKAGE, root / "scanner", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(load.builtin_rules_dir(), root / "scanner" / "builtin_rules")  # as in the wheel
    compileall.compile_dir(root / "scanner", quiet=1)  # as pip does on install
    (root / "leakstop").write_text(COMMAND)
    return root


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _app(tmp_path_factory.mktemp("app"))
    (root / "probe").mkdir()  # named as the command, so that ``scan`` installs the table
    (root / "probe" / "leakstop").write_text(PROBE)
    time.sleep(SETTLE_S)  # the copy's files are no longer too young to record
    return root


def _table(root: Path) -> Path:
    return root / "scanner" / "__pycache__" / Path(moduletable.table_path()).name


def _run(root: Path, *argv: str | Path, cwd: Path, verbose: bool = False) -> subprocess.CompletedProcess[str]:
    # Without coverage: its start-up imports typing, dataclasses, ... before ours (in-process tests below cover it).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("COVERAGE_")}
    flags = ["-v"] if verbose else []
    command = [sys.executable, *flags, str(root / "leakstop"), *map(str, argv)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


def _from_bytecode(root: Path, stderr: str) -> set[str]:
    """Our modules that ``python -v`` says came through the path finder (a ``code object from`` line)."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("# code object from") and str(root / "scanner") in line:
            path = line.removeprefix("# code object from ").strip("'").replace(str(root) + os.sep, "")
            stem = path.replace(os.sep + "__pycache__", "").split(".cpython")[0].removesuffix(".py")
            names.add(stem.replace(os.sep, ".").removesuffix(".__init__"))
    return names


def _outcome(done: subprocess.CompletedProcess[str]) -> tuple[int, str]:
    """Exit code and output, but for the time the scan took."""
    return done.returncode, re.sub(r" in \d+\.\d+s", " in …s", done.stdout)


def _entries_of(path: Path) -> dict[str, moduletable.Entry]:
    table = moduletable.Table(str(path))
    table.close()
    return table.entries


def _entries(root: Path) -> dict[str, moduletable.Entry]:
    return _entries_of(_table(root))


@pytest.fixture
def target(tmp_path: Path) -> Path:
    (tmp_path / "settings.py").write_text("DEBUG = True\n")
    return tmp_path


def test_a_run_writes_the_table_and_the_next_start_takes_its_modules_from_it(app: Path, target: Path) -> None:
    first = _run(app, "scan", "settings.py", cwd=target)
    assert first.returncode == 0, first.stderr
    entries = _entries(app)
    assert {"scanner.cli", "scanner.models", "scanner.ruleset", "typing", "dataclasses"} <= set(entries)
    assert not PRE_INSTALL & set(entries)
    second = _run(app, "scan", "settings.py", cwd=target, verbose=True)
    assert _outcome(second) == _outcome(first)
    assert _from_bytecode(app, second.stderr) == PRE_INSTALL  # everything else of ours: from the table
    assert f"{os.sep}typing.cpython" not in second.stderr  # the standard library's too


def test_a_touched_source_is_read_from_the_source(tmp_path: Path, target: Path) -> None:
    root = _app(tmp_path / "app")
    time.sleep(SETTLE_S)
    assert _run(root, "scan", "settings.py", cwd=target).returncode == 0
    assert "scanner.models" in _entries(root)
    models = root / "scanner" / "models.py"
    stamp = models.stat().st_mtime_ns - 10**9
    os.utime(models, ns=(stamp, stamp))  # the same text and size, another mtime
    done = _run(root, "scan", "settings.py", cwd=target, verbose=True)
    assert done.returncode == 0 and "scanner.models" in _from_bytecode(root, done.stderr)
    with models.open("a") as handle:  # another size
        handle.write('\nprint("models.py read from its source", file=__import__("sys").stderr)\n')
    done = _run(root, "scan", "settings.py", cwd=target)
    assert done.returncode == 0 and "models.py read from its source" in done.stderr
    assert "scanner.models" not in _entries(root)  # too young to record: the next start reads the source again


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign"])
def test_a_damaged_or_foreign_table_is_a_miss_and_is_rewritten(app: Path, target: Path, damage: str) -> None:
    assert _run(app, "scan", "settings.py", cwd=target).returncode == 0
    table = _table(app)
    data = table.read_bytes()
    expected = _run(app, "scan", "settings.py", cwd=target)
    foreign = marshal.dumps((moduletable.TABLE_FORMAT, sys.hexversion + 1, _entries(app)))
    table.write_bytes(
        {
            "truncated": data[:100],  # in its index
            "garbage": os.urandom(len(data)),
            "foreign": len(foreign).to_bytes(4, "little") + foreign + data,
        }[damage]
    )
    done = _run(app, "scan", "settings.py", cwd=target, verbose=True)
    assert _outcome(done) == _outcome(expected)
    assert "scanner.models" in _from_bytecode(app, done.stderr)
    assert set(_entries(app)) >= {"scanner.cli", "scanner.models"}


def test_served_modules_look_as_imported_ones_do(app: Path, tmp_path: Path) -> None:
    def run(first: str) -> dict[str, object]:
        done = _run(app / "probe", first, app, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    plain = run("not-scan")  # an ordinary import of the same modules
    assert plain["served"] is None
    run("scan")  # records them
    served = run("scan")
    assert isinstance(served["served"], list)
    assert {"scanner.models", "scanner.ruleset", "scanner.cli.scan", "dataclasses"} <= set(served["served"])
    assert served["modules"] == plain["modules"]


def test_the_output_and_exit_code_of_a_staged_scan_stay_the_same(
    app: Path, tmp_path: Path, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    repo.commit("init", {"README.md": "hello\n"})
    repo.write({"deploy/ci.env": f"USER=ci\nGITHUB_TOKEN={tokens.github_clean()}\n", "notes.txt": "nothing\n"})
    repo.git("add", "-A")
    _table(app).unlink(missing_ok=True)
    runs = [_run(app, "scan", "--staged", cwd=repo.path, verbose=index == 2) for index in range(3)]
    assert {_outcome(run) for run in runs} == {_outcome(runs[0])}
    assert runs[0].returncode == 1 and "github-pat" in runs[0].stdout
    assert _from_bytecode(app, runs[2].stderr) == PRE_INSTALL


def test_a_library_import_and_no_bytecode_leave_imports_as_they_are(app: Path, target: Path) -> None:
    assert not any(isinstance(finder, moduletable.TableFinder) for finder in sys.meta_path)  # pytest imports us
    _table(app).unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, str(app / "leakstop"), "scan", "settings.py"],
        cwd=target,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not _table(app).exists()
