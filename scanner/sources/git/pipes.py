"""A short command's output, errors and exit code, as ``subprocess.run(argv, input=…, capture_output=True)``
answers them, for the commit hook's three ``git`` calls (``staged``).

Importing ``subprocess`` (with ``selectors``, ``locale`` and the rest) is about 11 M instructions, and
``shutil`` (for ``which``, with ``bz2`` and ``lzma``) 6 M more: together about 4 ms of a hook run whose three
``git`` processes take less. Here the command starts through ``os.posix_spawnp`` with SIGPIPE and SIGXFSZ back
at their defaults and only the three standard streams and the process's environment inherited, as
``subprocess`` starts it (glibc's ``posix_spawn`` also leaves its two internal signals ignored in the child,
which glibc's start in the child undoes where it uses them), and its input is written and both pipes read in one
``poll`` loop, as ``communicate`` does, so no pipe can fill and stall the other.
"""

from __future__ import annotations

import os
import select
import signal

from scanner.lifeline import program_path

_CHUNK = 65536


def on_path(name: str) -> bool:
    """Whether ``name`` is an executable file in a ``PATH`` directory (``shutil.which(name) is not None``)."""
    return program_path(name) is not None


def run(argv: list[str], stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """(exit code, standard output, standard error) of ``argv``; ``stdin``: its input (None: it inherits ours).
    An ``OSError`` when it cannot be started, as ``subprocess`` raises."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    in_read, in_write = os.pipe() if stdin is not None else (-1, -1)
    actions = [(os.POSIX_SPAWN_DUP2, out_write, 1), (os.POSIX_SPAWN_DUP2, err_write, 2)]
    if stdin is not None:
        actions.append((os.POSIX_SPAWN_DUP2, in_read, 0))
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions, setsigdef=_DEFAULT_SIGNALS)
    except BaseException:
        for fd in (out_read, err_read, in_write):
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in (out_write, err_write, in_read):
            if fd >= 0:
                os.close(fd)
    try:
        out, err = _communicate(out_read, err_read, in_write, stdin or b"")
    except BaseException:  # a signal's exception: no child outlives it (subprocess.run kills it too)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out, err


def _communicate(out_read: int, err_read: int, in_write: int, data: bytes) -> tuple[bytes, bytes]:
    """Write ``data`` to ``in_write`` (then close it) while reading both outputs to their end; closes every fd."""
    poller = select.poll()
    chunks: dict[int, list[bytes]] = {out_read: [], err_read: []}
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    if in_write >= 0:
        poller.register(in_write, select.POLLOUT)
    open_fds = {*chunks, *([in_write] if in_write >= 0 else [])}
    try:
        _pump(poller, open_fds, chunks, in_write, data)
    finally:
        for fd in open_fds:
            os.close(fd)
    return b"".join(chunks[out_read]), b"".join(chunks[err_read])


def _pump(poller: select.poll, open_fds: set[int], chunks: dict[int, list[bytes]], in_write: int, data: bytes) -> None:
    sent = 0
    while open_fds:
        for fd, _event in poller.poll():
            if fd == in_write:
                try:  # a pipe with room for PIPE_BUF bytes takes them without blocking
                    sent += os.write(fd, data[sent : sent + select.PIPE_BUF])
                except BrokenPipeError:
                    sent = len(data)  # it stopped reading: what it wrote is its answer
                if sent < len(data):
                    continue
                finished = True
            else:
                piece = os.read(fd, _CHUNK)
                finished = not piece
                if piece:
                    chunks[fd].append(piece)
            if finished:
                poller.unregister(fd)
                os.close(fd)
                open_fds.discard(fd)


_DEFAULT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name))
