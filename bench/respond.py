#!/usr/bin/env python3
"""Leak response figures (issue #12): time from ``leakstop scan --respond --execute`` starting on a small repository
with a leaked GitHub token to the revoke call on a loopback GitHub API (target ≤ 2 s), and the outbox chaos run
(100 SIGKILLs while draining: actions lost, actions repeated), and ``leakstop audit verify`` on a 100,000-record
log (target ≤ 2 s).

Usage::

    .venv/bin/python bench/respond.py [--runs 5] [--kills 100] [--json OUT]

Times: ``received`` is when the loopback API received the revoke request, ``answered`` when the command printed
the outcome line (the revoke call returned and was recorded), ``exited`` when the process ended; all from the
process's start. The chaos run uses ``tests/respond_chaos.py`` (forked drains of waves of 20 revocations, each
child SIGKILLed at a random moment, ``--kills`` times, then one run to the end). Standard library only; leakstop is
the one installed in this checkout's ``.venv``.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
LEAKSTOP = Path(sys.executable).with_name("leakstop")
CHAOS = REPO_ROOT / "tests" / "respond_chaos.py"
TIMES = ("received", "answered", "exited")
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def github_token(rng: random.Random) -> str:
    """A classic token with a valid checksum (CRC32 of the 30 random characters, base62, 6 digits)."""
    import zlib

    body = "".join(rng.choice(BASE62) for _ in range(30))
    crc, digits = zlib.crc32(body.encode()), ""
    while crc:
        crc, rest = divmod(crc, 62)
        digits = BASE62[rest] + digits
    return "ghp_" + body + digits.rjust(6, "0")


class Api:
    """A loopback /credentials/revoke: 202 (or 503 at ``fail_rate``), recording (time, tokens) of each call."""

    def __init__(self, fail_rate: float = 0.0, seed: int = 1) -> None:
        self.calls: list[tuple[float, list[str]]] = []
        rng, lock, calls = random.Random(seed), threading.Lock(), self.calls

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    sent = json.loads(body)["credentials"]
                except ValueError:  # the client was killed while sending
                    return
                with lock:
                    calls.append((time.time(), sent))
                    fail, delay = rng.random() < fail_rate, rng.uniform(0, 0.02) if fail_rate else 0.0
                time.sleep(delay)
                self.send_response(503 if fail else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a drain killed mid-request hangs up: expected here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def git(cwd: Path, *args: str) -> None:
    who = {f"GIT_{role}_{part}": value for role in ("AUTHOR", "COMMITTER")
           for part, value in (("NAME", "bench"), ("EMAIL", "bench@example.invalid"))}  # fmt: skip
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, **who}
    subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True, env=env)


def one_run(where: Path, api: Api, rng: random.Random) -> dict[str, float]:
    repo = where / f"repo-{rng.randrange(10**9)}"
    repo.mkdir()
    git(repo, "init", "-q")
    for n in range(20):
        (repo / f"src/m{n}.py").parent.mkdir(exist_ok=True)
        (repo / f"src/m{n}.py").write_text(f"def f{n}():\n    return {n}\n" * 20)
    token = github_token(rng)
    (repo / "deploy.env").write_text(f"USER=ci\nGITHUB_TOKEN={token}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "settings")
    config = where / f"leakstop-{repo.name}.yaml"
    config.write_text(json.dumps({"respond": {"providers": {"github": {"api_url": api.url}}}}))
    before = len(api.calls)
    start = time.time()
    proc = subprocess.Popen(
        [str(LEAKSTOP), "scan", "--respond", "--execute", "--no-progress", "-c", str(config), str(repo)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    answered = 0.0
    assert proc.stderr is not None
    for line in proc.stderr:
        if "via github" in line and ": done" in line:
            answered = time.time()
    proc.wait()
    exited = time.time()
    received = next(when for when, tokens in api.calls[before:] if token in tokens)
    return {"received": received - start, "answered": answered - start, "exited": exited - start}


def chaos(where: Path, kills: int) -> dict[str, Any]:
    api = Api(fail_rate=0.2)
    outbox = where / "chaos-outbox.jsonl"
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(CHAOS), str(outbox), api.url, "7", "20", str(kills)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    elapsed = time.monotonic() - started
    api.close()
    report = json.loads(proc.stdout)
    records = [json.loads(line) for line in outbox.read_text().splitlines()]
    sys.path.insert(0, str(CHAOS.parent))
    from respond_chaos import planned, tokens  # type: ignore[import-not-found]

    lost = repeated = interrupted = 0
    for token in tokens(7, report["actions"]):
        aid = planned(token)[0].id
        mine = [r for r in records if r["id"] == aid]
        done = [r["time"] for r in mine if r.get("outcome") == "done"]
        attempts = sum(r["type"] == "attempt" for r in mine)
        interrupted += attempts - sum(r["type"] == "outcome" for r in mine)
        if not done:
            lost += 1
            continue
        repeated += sum(1 for when, sent in api.calls if token in sent and when > done[0] + 0.002)
    return {**report, "lost": lost, "repeated": repeated, "interrupted_attempts": interrupted,
            "calls": len(api.calls), "seconds": round(elapsed, 2)}  # fmt: skip


def audit_verify(where: Path, lines: int = 100_000) -> float:
    """Seconds ``leakstop audit verify`` takes on a log of ``lines`` records (written here, as ``append`` would)."""
    sys.path.insert(0, str(REPO_ROOT))
    from scanner.respond.audit_log import GENESIS, canonical, head_path, record_hash

    log, prev, out = where / "audit.jsonl", GENESIS, []
    for seq in range(1, lines + 1):
        doc: dict[str, Any] = {
            "version": 1, "seq": seq, "time": "2026-12-05T19:00:00+00:00", "actor": "ci", "action": "respond",
            "repository": "/srv/app", "refs": [], "commits": ["c" * 40], "reason": "revoke github-pat credential",
            "findings": [{"rule": "github-pat", "fingerprint": f"{seq:040x}"}], "prev": prev, "subject": f"{seq:024x}",
            "provider": "github", "outcome": "done", "secrets": [f"{seq:040x}"],
        }  # fmt: skip
        doc["hash"] = prev = record_hash(doc)
        out.append(canonical(doc))
    log.write_bytes(b"\n".join(out) + b"\n")
    head_path(log).write_bytes(canonical({"seq": lines, "hash": prev}) + b"\n")
    start = time.monotonic()
    subprocess.run([str(LEAKSTOP), "audit", "verify", str(log)], check=True, capture_output=True)
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    rng = random.Random(12)
    with tempfile.TemporaryDirectory(prefix="leakstop-bench-respond-") as tmp:
        api = Api()
        runs = [one_run(Path(tmp), api, rng) for _ in range(args.runs)]
        api.close()
        result: dict[str, Any] = {
            key: {
                "median": round(statistics.median(r[key] for r in runs), 3),
                "max": round(max(r[key] for r in runs), 3),
            }
            for key in ("received", "answered", "exited")
        }
        result["chaos"] = chaos(Path(tmp), args.kills)
        result["audit_verify_100k"] = round(audit_verify(Path(tmp)), 3)
    for key in TIMES:
        median, most = result[key]["median"], result[key]["max"]
        print(f"scan --respond --execute → revoke {key:<9} median {median:.3f} s, max {most:.3f} s")
    c = result["chaos"]
    print(f"chaos: {c['killed']} kills over {c['runs']} runs, {c['actions']} actions, {c['calls']} calls,")
    print(f"       {c['interrupted_attempts']} attempts cut off: {c['lost']} lost, {c['repeated']} repeated"
          f" ({c['seconds']} s)")  # fmt: skip
    print(f"audit verify, 100,000 records: {result['audit_verify_100k']:.2f} s (the whole command)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
