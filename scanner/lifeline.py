"""Child processes that cannot outlive the scan, and the signals that end one in order.

A CI runner cancels a job with SIGTERM (a terminal with SIGINT, a closed session with SIGHUP). The CLI turns
each into an exception (``Terminated``, or ``KeyboardInterrupt`` for SIGINT) so that ``finally`` blocks stop the
worker pool and the ``git`` processes; and every child asks the kernel to kill it when its parent dies
(``PR_SET_PDEATHSIG``, Linux), so that even a parent killed with SIGKILL leaves nothing behind.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: a ``BaseException`` like ``KeyboardInterrupt``, so no ``except Exception``
    takes it for an error to recover from."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once, by ``child_setup`` in the parent before any fork (a forked child must not
    load libraries). From the process's own symbols (libc is loaded): ``ctypes.util.find_library`` runs
    ``ldconfig``, a cost at every start."""
    if not sys.platform.startswith("linux"):
        return None  # pragma: no cover - Linux CI
    import ctypes  # here, not at import: a scan of named files starts no child and never needs it (1.7 ms)

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - every Linux has a libc
        return None
    function: Callable[..., int] = libc.prctl
    return function


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when ``parent`` ends; if it already has, end now."""
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def child_setup() -> Callable[[], None]:
    """What a child runs first (a ``preexec_fn`` for ``subprocess``, a forked worker's first step): it dies with
    the process that calls this. Called in that process, before the fork: ``prctl`` is looked up here, so that no
    child loads a library."""
    parent = os.getpid()
    _prctl()
    return lambda: die_with_parent(parent)


def guarded(argv: list[str]) -> tuple[list[str], Callable[[], None] | None]:
    """The command line and ``preexec_fn`` for a long-lived ``git`` child that must die with this process.

    A ``preexec_fn`` makes ``subprocess`` fork this process where it otherwise uses ``vfork``: starting ``git
    cat-file`` took 16-25 ms from a history worker (which maps the loaded rules database) at load 4, and 28-36 ms
    from a 200 MB process against 0.3-2.8 ms without a ``preexec_fn``. Where util-linux's ``setpriv`` can set the
    death signal, the child is started through it instead (``setpriv --pdeathsig KILL -- git ...``): the same
    signal, asked for by the child before it runs git, and no ``preexec_fn``. One difference: ``die_with_parent``
    also ends a child whose parent died before it asked; a child of ``setpriv`` started in that window (about a
    millisecond) runs on until its pipes close, which ends ``git log`` and ``cat-file`` at their next write or at
    the end of their input."""
    setpriv = setpriv_path()
    if setpriv is None:
        return argv, child_setup()
    return [setpriv, "--pdeathsig", "KILL", "--", *argv], None


def program_path(name: str) -> str | None:
    """The first executable file ``name`` in a ``PATH`` directory, as ``shutil.which`` finds it (not imported for
    this: ``shutil`` brings ``bz2`` and ``lzma``, and the commit hook asks whether ``git`` is there)."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or os.curdir, name)
        if os.access(candidate, os.F_OK | os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


@functools.cache
def setpriv_path() -> str | None:
    """``setpriv``'s path, once it has set a death signal here (util-linux before 2.33 has no ``--pdeathsig``);
    None off Linux or without it. Asked once per process (a history scan's plan thread asks it beside its git
    processes: the probe is 2-4 ms of waiting), before the workers fork, which inherit the answer."""
    if not sys.platform.startswith("linux"):
        return None  # pragma: no cover - Linux CI
    path = program_path("setpriv")
    if path is None:
        return None
    quiet = [(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_WRONLY, 0) for fd in (1, 2)]
    try:
        probe = [path, "--pdeathsig", "KILL", "--", path, "--version"]
        pid = os.posix_spawn(path, probe, os.environ, file_actions=quiet)
        _, status = os.waitpid(pid, 0)
    except OSError:
        return None
    return os.path.abspath(path) if os.waitstatus_to_exitcode(status) == 0 else None


def worker_signals() -> None:
    """In a forked worker: the parent handles SIGINT (a terminal sends it to the whole group) and stops its
    workers itself; SIGTERM and SIGHUP raise ``Terminated`` as in the parent, so that the worker ends its own
    ``git`` processes and waits for them (killed ones would stay zombies under init until it reaps them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in ENDING_SIGNALS:
        signal.signal(signum, _raise)


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


Handlers = dict[int, Any]


def install_handlers() -> Handlers:
    """In the main process: SIGTERM and SIGHUP raise ``Terminated`` (SIGINT already raises
    ``KeyboardInterrupt``); the handlers they replace, for ``restore_handlers``. Only the main thread may set
    them (a test may run the CLI in another): elsewhere nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    saved: Handlers = {signum: signal.getsignal(signum) for signum in ENDING_SIGNALS}
    for signum in ENDING_SIGNALS:
        signal.signal(signum, _raise)
    return saved


def restore_handlers(saved: Handlers) -> None:
    """Put back what ``install_handlers`` replaced: once the command is done (its report written), a late signal
    acts as it would have, and an in-process caller gets its own handlers back."""
    for signum, handler in saved.items():
        signal.signal(signum, handler)
