"""What the org-scan tests share: bare repositories served on loopback by a real ``git daemon`` or by ``git
http-backend`` behind a loopback HTTP(S) server, and a real Dask scheduler with two worker processes (``dask
scheduler`` / ``dask worker`` subprocesses) on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from httpserver import LoopbackServer, Reply, Request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early ({proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answered on port {port}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """``git://127.0.0.1:PORT/`` serving every bare repository under ``base``."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--export-all",
            f"--base-path={base}",
            "--listen=127.0.0.1",
            f"--port={port}",
            "--reuseaddr",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc)
        yield f"git://127.0.0.1:{port}"
    finally:
        _stop(proc)


@contextmanager
def dask_cluster(root: Path, workers: int = 2) -> Iterator[str]:
    """A scheduler and ``workers`` worker processes (one thread each), all on 127.0.0.1; yields its address."""
    root.mkdir(parents=True, exist_ok=True)
    scheduler_file = root / "scheduler.json"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": root}
    scheduler = subprocess.Popen(
        [
            str(bin_dir / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(scheduler_file),
        ],
        **quiet,  # type: ignore[call-overload]
    )
    procs = [scheduler]
    try:
        address = _scheduler_address(scheduler_file)
        procs.append(
            subprocess.Popen(
                [
                    str(bin_dir / "dask"),
                    "worker",
                    address,
                    "--nworkers",
                    str(workers),
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--local-directory",
                    str(root / "work"),
                ],
                **quiet,  # type: ignore[call-overload]
            )
        )
        _wait_workers(address, workers)
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


def _scheduler_address(scheduler_file: Path) -> str:
    """The address the scheduler wrote, once the file is whole."""
    end = time.monotonic() + 20
    while time.monotonic() < end:
        try:
            return str(json.loads(scheduler_file.read_text())["address"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    raise AssertionError("the scheduler wrote no address")


def _wait_workers(address: str, workers: int) -> None:
    from distributed import Client

    with Client(address, timeout=20, set_as_default=False) as client:
        client.wait_for_workers(workers, timeout=30)


def http_backend(root: Path, token: str) -> Callable[[Request], Reply]:
    """``git http-backend`` (smart HTTP) behind the loopback server; with a token, answering only with its header."""
    expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()

    def answer(request: Request) -> Reply:
        if token and request.headers.get("authorization") != expected:
            return Reply(401, b"", {"WWW-Authenticate": 'Basic realm="git"'})
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": request.method,
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(request.body)),
            "HTTP_CONTENT_ENCODING": request.headers.get("content-encoding", ""),
            "GIT_PROTOCOL": request.headers.get("git-protocol", ""),
        }
        done = subprocess.run(["git", "http-backend"], input=request.body, env=env, capture_output=True, check=True)
        head, _, body = done.stdout.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
        status = int(headers.pop("Status", "200 OK").split()[0])
        return Reply(status, body, headers)

    return answer


@contextmanager
def git_http(base: Path) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` serving every repository under ``base`` with ``git http-backend`` (smart HTTP)."""
    server = LoopbackServer()
    backend = http_backend(base, "")
    for repo in base.iterdir():
        for method, path in (("GET", f"/{repo.name}/info/refs"), ("POST", f"/{repo.name}/git-upload-pack")):
            server.route(method, path, backend)
    try:
        yield server.base
    finally:
        server.stop()
