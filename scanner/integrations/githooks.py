"""Plain git hooks for teams without the pre-commit framework: ``leakstop install-hook pre-commit|pre-push``.

A hook is a short ``sh`` script that runs this interpreter's leakstop in the repository: ``--staged`` before a
commit, ``--pre-push`` before a push (git's ref lines reach it on stdin). It carries a marker line, so installing
again updates a hook we wrote, while a hook someone else wrote is only replaced with ``--force``. The hooks folder
is git's own answer (``git rev-parse --git-path hooks``), which honours ``core.hooksPath`` and linked worktrees.

The hook runs the ``leakstop`` command that installed it (``<python> <script> scan …``), as pre-commit's entry
does; installed by ``python -m scanner install-hook``, it runs ``<python> -c`` with a launcher instead. Never
``<python> -m scanner``: git runs a hook at the top of the working tree, and ``-m`` (like ``-c``) puts that folder
first on ``sys.path``, so a ``scanner/`` package or a ``typing.py`` in the repository ran instead of leakstop and
could pass every commit. The launcher takes the folder off the path before it imports anything.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import InputError, UsageError

MARKER = "# leakstop-hook:"


@dataclass(frozen=True)
class HookKind:
    scan_flag: str
    action: str  # what the hook blocks, for its messages


# How to fix or allow a finding depends on the scan and the policy: the text report ends with it
# (``report.advice``), and the hook's own last line points there.
HOOKS: dict[str, HookKind] = {
    "pre-commit": HookKind(scan_flag="--staged", action="commit"),
    "pre-push": HookKind(scan_flag="--pre-push", action="push"),
}


# ``-c`` prepends "" (the current folder) to sys.path unless Python runs with -P / PYTHONSAFEPATH (3.11+).
LAUNCHER = (
    'import sys; sys.path[:1] == [""] and sys.path.pop(0); sys.argv[0] = "leakstop"; '
    "from scanner.cli import console; sys.exit(console())"
)


def leakstop_command(script: str | None) -> str:
    """The script, or the ``-c`` launcher, its arguments to follow."""
    if script:
        return '"$LEAKSTOP_PYTHON" "$LEAKSTOP_SCRIPT"'
    return f'"$LEAKSTOP_PYTHON" -c {shlex.quote(LAUNCHER)}'


def hook_script(kind: str, python: str, script: str | None = None) -> str:
    """The hook's text. The report goes to stderr, where git shows a hook's output."""
    hook = HOOKS[kind]
    return f"""#!/bin/sh
{MARKER} {kind} (written by `leakstop install-hook {kind}`; run it again to update, delete this file to remove)
# Blocks a {hook.action} that adds a secret. A run that cannot scan (exit 2 or 3) blocks too: it fails closed.
LEAKSTOP_PYTHON={shlex.quote(python)}
LEAKSTOP_SCRIPT={shlex.quote(script or "")}
if [ ! -x "$LEAKSTOP_PYTHON" ] || {{ [ -n "$LEAKSTOP_SCRIPT" ] && [ ! -f "$LEAKSTOP_SCRIPT" ]; }}; then
    echo "leakstop: $LEAKSTOP_PYTHON $LEAKSTOP_SCRIPT is gone; reinstall: leakstop install-hook --force {kind}" >&2
    exit 1
fi
# git's stdin lines (pre-push) name the refs being pushed; a range left in the environment must not override them.
unset PRE_COMMIT_FROM_REF PRE_COMMIT_TO_REF PRE_COMMIT_ORIGIN PRE_COMMIT_SOURCE
{leakstop_command(script)} scan {hook.scan_flag} --no-progress >&2
status=$?
if [ "$status" -eq 1 ]; then
    echo "leakstop: {hook.action} blocked: it adds a secret; the report above says how to fix or allow it." >&2
elif [ "$status" -ne 0 ]; then
    echo "leakstop: {hook.action} blocked: the scan failed (exit $status, see above)." >&2
fi
exit "$status"
"""


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError:
        raise InputError("git: command not found (install-hook asks git where the hooks live)") from None
    return proc.stdout.strip() if proc.returncode == 0 else None


def hooks_dir(path: str) -> Path:
    """The folder git runs ``path``'s hooks from: ``core.hooksPath`` if set, else ``$GIT_COMMON_DIR/hooks``."""
    start = Path(path)
    if not start.is_dir():
        raise InputError(f"{path}: no such directory")
    # Hooks run from the top of the working tree (or from the git dir of a bare repository); a relative
    # core.hooksPath is relative to that directory, so ask git from there.
    top = _git(["rev-parse", "--show-toplevel"], start) or _git(["rev-parse", "--absolute-git-dir"], start)
    if not top:
        raise InputError(f"{path}: not a git repository")
    base = Path(top)
    found = _git(["rev-parse", "--git-path", "hooks"], base)
    if not found:
        raise InputError(f"{path}: git cannot tell where the hooks live")
    return base / Path(found).expanduser()


def running_script() -> str | None:
    """The ``leakstop`` script this process was started as, if it was (not ``python -m scanner``)."""
    started = os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    name = os.path.splitext(os.path.basename(started))[0]
    return started if name == "leakstop" and os.path.isfile(started) else None


def is_ours(hook: Path) -> bool:
    try:
        with hook.open(encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(5)]
    except OSError:
        return False
    return any(line.startswith(MARKER) for line in head)


def install_hook(
    kind: str, path: str = ".", force: bool = False, python: str = sys.executable, script: str | None = None
) -> Path:
    """Write the hook (running ``script`` with ``python``, or the launcher without one) and make it executable;
    returns its path. Refuses to replace someone else's hook."""
    if kind not in HOOKS:
        raise UsageError(f"{kind}: not a hook leakstop installs (choose from {', '.join(HOOKS)})")
    folder = hooks_dir(path)
    target = folder / kind
    if os.path.lexists(target) and not force and (target.is_symlink() or not is_ours(target)):
        raise UsageError(f"{target}: a {kind} hook that leakstop did not write is already there (--force replaces it)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Write next to the target and rename over it: never half a hook, and never through a symlink.
        fd, temp = tempfile.mkstemp(prefix=f".{kind}-", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(hook_script(kind, python, script))
            os.chmod(temp, 0o755)
            os.replace(temp, target)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as exc:
        raise InputError(f"{target}: cannot write the hook: {exc.strerror}") from None
    return target
