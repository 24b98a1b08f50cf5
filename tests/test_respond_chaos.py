"""The outbox under random SIGKILLs: 100 kills while draining N revocations, then a run to the end. Nothing is
lost (every action reaches a final state) and nothing completed is repeated (no call for an action after its
``done`` was recorded; no action called more often than its attempts were recorded)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from httpserver import Reply, Request, ServerFactory

from scanner.respond.outbox import Outbox

DRIVER = Path(__file__).resolve().with_name("respond_chaos.py")
WAVE = 20  # actions enqueued whenever the outbox is drained before the kills are done
KILLS = 100


def test_killed_at_random_points_loses_nothing_and_repeats_nothing(tmp_path: Path, http_server: ServerFactory) -> None:
    api = http_server()
    calls: list[tuple[float, str]] = []  # (when received, token)
    lock = threading.Lock()
    rng = random.Random(12)

    def revoke(request: Request) -> Reply:
        (token,) = json.loads(request.body)["credentials"]
        with lock:
            calls.append((time.time(), token))
            fail = rng.random() < 0.2
            delay = rng.uniform(0, 0.02)
        return Reply(503 if fail else 202, delay=delay)

    api.route("POST", "/credentials/revoke", revoke)
    outbox = tmp_path / "outbox.jsonl"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(DRIVER), str(outbox), api.base, "7", str(WAVE), str(KILLS)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["killed"] == KILLS
    elapsed = time.monotonic() - started

    states = Outbox(outbox).states()
    assert len(states) == report["actions"] >= WAVE
    assert all(s.status == "done" for s in states.values()), {s.status for s in states.values()}  # 0 lost
    text = outbox.read_text()
    records = [json.loads(line) for line in text.splitlines()]
    interrupted = 0
    for aid, token in _tokens_by_action(report["actions"]).items():
        mine = [r for r in records if r["id"] == aid]
        done_at = next(r["time"] for r in mine if r.get("outcome") == "done")
        attempts = [r for r in mine if r["type"] == "attempt"]
        outcomes = [r for r in mine if r["type"] == "outcome"]
        interrupted += len(attempts) - len(outcomes)
        assert all(r["time"] <= done_at for r in attempts)  # never attempted after done
        called = [when for when, tok in calls if tok == token]
        assert 1 <= len(called) <= len(attempts)  # every call was recorded as an attempt before it was made
        assert all(when <= done_at + 0.002 for when in called)  # 0 repeated: no call after done was recorded
        assert token not in text
    assert interrupted > 0  # some kills did land between an attempt and its outcome
    assert elapsed < 60


def _tokens_by_action(count: int) -> dict[str, str]:
    sys.path.insert(0, str(DRIVER.parent))
    from respond_chaos import planned, tokens

    return {planned(t)[0].id: t for t in tokens(7, count)}
