"""The outbox chaos driver: drains an outbox of N revocations against a loopback GitHub API in forked children,
SIGKILLing each at a random moment, ``kills`` times, then lets one finish. Run by tests/test_respond_chaos.py
as a subprocess (imports once, forks per run: a hundred kills fit in seconds)::

    python tests/respond_chaos.py OUTBOX API_URL SEED WAVE KILLS
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tokens import TokenFactory

from scanner.fingerprint import DEFAULT_KEY, secret_id
from scanner.models import Secret
from scanner.policy.respond import RetrySettings
from scanner.respond.executor import Executor
from scanner.respond.model import ActionKind, Credential
from scanner.respond.outbox import Outbox
from scanner.respond.plan import Place, PlannedAction, action_id
from scanner.respond.providers import make_provider
from scanner.respond.providers.base import ProviderContext
from scanner.transport import HttpClient, HttpSettings


def tokens(seed: int, count: int) -> list[str]:
    factory = TokenFactory(seed)
    return [factory.github() for _ in range(count)]


def planned(token: str) -> tuple[PlannedAction, Credential]:
    sid = secret_id(DEFAULT_KEY, "github-pat", token)
    place = Place("file", f"/nowhere/{sid[:8]}.env", line=1)
    aid = action_id(sid, ActionKind.REVOKE, "github")
    action = PlannedAction(aid, sid, "github-pat", ActionKind.REVOKE, "github", Secret(token).redacted(), (place,))
    return action, Credential("github-pat", sid, Secret(token))


def drain(outbox: Path, api_url: str, credentials: dict[str, Credential]) -> None:
    """One child's run; it may be killed anywhere in it."""
    http = HttpClient(HttpSettings(max_redirects=0, read_timeout=5))
    context = ProviderContext("github", http, {}, {"api_url": api_url, "batch_size": 1})
    retry = RetrySettings(max_attempts=10_000, base_delay=0.005, max_delay=0.02)
    Executor(Outbox(outbox), lambda _: make_provider(context), retry, say=lambda _: None).run(credentials, wait=30)


def main(argv: list[str]) -> int:
    """Kills until ``kills`` children died by SIGKILL; whenever the outbox is drained before that, the next wave
    of ``wave`` actions is enqueued. Prints how many actions there were in the end."""
    outbox, api_url, seed, wave, kills = Path(argv[0]), argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    rng = random.Random(seed)
    credentials: dict[str, Credential] = {}
    killed = runs = 0
    while True:
        if all(s.final for s in Outbox(outbox).states().values()):
            if killed >= kills:
                break
            pairs = [planned(t) for t in tokens(seed, len(credentials) + wave)[len(credentials) :]]
            Outbox(outbox).enqueue([a for a, _ in pairs])
            credentials.update({c.secret_id: c for _, c in pairs})
        runs += 1
        pid = os.fork()
        if pid == 0:
            try:
                drain(outbox, api_url, credentials)
            finally:
                os._exit(0)
        if killed < kills:
            time.sleep(rng.uniform(0, 0.04))
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        killed += os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    print(json.dumps({"runs": runs, "killed": killed, "actions": len(credentials)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
