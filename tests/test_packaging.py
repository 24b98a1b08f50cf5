"""The built wheel carries the built-in rules: install it into a fresh virtualenv and list them from there.

pre-commit installs leakstop into its own virtualenv; a wheel without its rules would pass every commit. The
build runs on a copy of the source tree, so no build/ or *.egg-info appears in the checkout.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
import yaml
from tokens import TokenFactory

ROOT = Path(__file__).resolve().parents[1]
COPY_IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
    "tests",
    "bench",
    "*.so",  # an editable install's in-place build: the wheel must compile its own
)


def _can_build_without_isolation() -> bool:
    """setuptools < 70.1 needs the separate ``wheel`` package for bdist_wheel."""
    import setuptools

    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def _run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300, cwd=cwd, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("packaging")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=COPY_IGNORE)
    dist = base / "dist"
    build = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--disable-pip-version-check",
        "-q",
        "-w",
        str(dist),
    ]
    if _can_build_without_isolation():
        build.append("--no-build-isolation")
    # else: the dev venv lacks what pyproject's build-system requires; let pip provide it in an isolated env.
    _run([*build, str(src)])
    [wheel] = dist.glob("leakstop-*.whl")

    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False, symlinks=os.name != "nt")
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "-q",
            str(wheel),
        ]
    )
    return {"src": src, "wheel": wheel, "venv": env_dir, "python": python, "base": base}


def _env(installed: dict[str, Path]) -> dict[str, str]:
    """The dev venv's site-packages on PYTHONPATH for the dependencies: .pth files there are not processed, so
    the editable install of the checkout is not picked up."""
    dev_paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LEAKSTOP_"))}
    env["PYTHONPATH"] = os.pathsep.join(dev_paths)
    env["LEAKSTOP_CACHE_DIR"] = str(installed["base"] / "cache")
    return env


def _python(installed: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    # cwd outside the checkout: `python -m` puts the current directory first on sys.path.
    return _run([str(installed["python"]), *args], cwd=installed["base"], env=_env(installed))


def test_wheel_contains_the_rules_and_schemas(installed: dict[str, Path]) -> None:
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    rule_files = sorted(p.name for p in (installed["src"] / "rules").glob("*.yaml"))
    assert rule_files
    assert {f"scanner/builtin_rules/{name}" for name in rule_files} <= names
    for required in ("scanner/policy/config.schema.json", "scanner/ruleset/rules.schema.json", "scanner/py.typed"):
        assert required in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "leakstop = scanner.cli:console" in zipfile.ZipFile(installed["wheel"]).read(entry_points).decode()


def test_wheel_carries_the_compiled_span_search(installed: dict[str, Path]) -> None:
    """The optional C extension is built into the wheel (CI has a compiler), and the installed copy uses it."""
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert f"scanner/detect/_spans{suffix}" in names
    assert "scanner/detect/_spans.pyi" in names
    proc = _python(
        installed,
        "-c",
        "from scanner.detect import _spans, decode; print(decode.candidates is _spans.candidates, _spans.__file__)",
    )
    uses_it, module_file = proc.stdout.split()
    assert uses_it == "True"
    assert Path(module_file).resolve().is_relative_to(installed["venv"].resolve())


def test_installed_copy_is_the_one_imported(installed: dict[str, Path]) -> None:
    proc = _python(
        installed,
        "-c",
        "import json, scanner; from scanner.ruleset import builtin_rules_dir;"
        "print(json.dumps([scanner.__file__, str(builtin_rules_dir())]))",
    )
    module_file, rules_dir = (Path(p) for p in json.loads(proc.stdout))
    venv_dir = installed["venv"].resolve()
    assert module_file.resolve().is_relative_to(venv_dir)
    assert Path(rules_dir).resolve().is_relative_to(venv_dir)
    assert Path(rules_dir).name == "builtin_rules"
    assert (Path(rules_dir) / "github.yaml").is_file()


def test_installed_copy_lists_the_builtin_rules(installed: dict[str, Path]) -> None:
    proc = _python(installed, "-m", "scanner", "rules", "list", "--format", "json")
    rows = json.loads(proc.stdout)
    expected = [
        rule["id"]
        for path in sorted((installed["src"] / "rules").glob("*.yaml"))
        for rule in yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
    ]
    assert [r["id"] for r in rows] == expected
    assert "github-pat" in expected
    installed_files = {p.name for p in installed["venv"].rglob("builtin_rules/*.yaml")}
    assert {r["source"] for r in rows} <= installed_files


def test_installed_console_script_detects_a_token(installed: dict[str, Path]) -> None:
    script = installed["venv"] / ("Scripts/leakstop.exe" if os.name == "nt" else "bin/leakstop")
    token = TokenFactory().github_clean()
    proc = subprocess.run(
        [str(script), "scan", "-", "--no-config", "--format", "json"],
        input=f"GITHUB_TOKEN={token}\n",
        capture_output=True,
        text=True,
        cwd=installed["base"],
        env=_env(installed),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert [f["rule"]["id"] for f in json.loads(proc.stdout)["findings"]] == ["github-pat"]
    assert token not in proc.stdout


def test_wheel_carries_the_compiled_speed_up(installed: dict[str, Path]) -> None:
    """The optional C module is built into the wheel (CI has a compiler), and the installed copy uses it."""
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    assert f"scanner/_textdiff{suffix}" in names
    assert "scanner/_textdiff.c" not in names  # built, not shipped (exclude-package-data)
    assert "scanner/_textdiff.pyi" in names
    proc = _python(
        installed,
        "-c",
        "import json, scanner._textdiff as c, scanner.textdiff as t;"
        "print(json.dumps([c.__file__, t._narrow is c.narrow]))",
    )
    module_file, used = json.loads(proc.stdout)
    assert Path(module_file).resolve().is_relative_to(installed["venv"].resolve())
    assert used is True
