#!/usr/bin/env python3
"""Live validation figure (issue #14): a scan of 1,000 findings over 200 distinct secrets, validated against
loopback fakes that answer after 50 ms, in ≤ 5 s total.

Usage::

    .venv/bin/python bench/validate.py [--runs 3] [--latency 0.05] [--json OUT]

The target is written to a temporary directory: 200 distinct tokens (40 each of GitHub, GitLab, npm, Slack and
Stripe, generated at run time) each in 5 files, so 1,000 findings. One threaded loopback server per provider
answers its identity endpoint after ``--latency`` seconds (a live answer for half the tokens, 401 for the rest).
The scan runs in process through ``scanner.pipeline.run`` with the default validation settings (16 requests in
flight, 4 and at most 20 a second per provider) and the providers' origins routed to the fakes. ``total`` is the
whole scan (reading, detection, validation, verdicts); ``validation`` the part after detection.
"""

from __future__ import annotations

import argparse
import http.server
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from tokens import TokenFactory  # noqa: E402

from scanner.models import ScanResult  # noqa: E402
from scanner.pipeline import run  # noqa: E402
from scanner.pipeline.request import ScanRequest  # noqa: E402
from scanner.policy.config import load_config  # noqa: E402
from scanner.validate.options import ValidationOptions  # noqa: E402

INVALID: dict[str, Any] = {"https://slack.com": {"ok": False, "error": "invalid_auth"}}  # Slack: 200, ok false
PROVIDERS = {  # validator origin → (rule, token maker, identity path, live body)
    "https://api.github.com": ("github-pat", TokenFactory.github, "/user", {"login": "octo"}),
    "https://gitlab.com": (
        "gitlab-pat",
        TokenFactory.gitlab_pat,
        "/api/v4/personal_access_tokens/self",
        {"name": "ci"},
    ),
    "https://registry.npmjs.org": ("npm-access-token", TokenFactory.npm, "/-/whoami", {"username": "dev"}),
    "https://slack.com": ("slack-bot-token", TokenFactory.slack_bot, "/api/auth.test", {"ok": True, "team": "Acme"}),
    "https://api.stripe.com": ("stripe-secret-key", TokenFactory.stripe_live, "/v1/account", {"id": "acct_1"}),
}
DISTINCT, COPIES = 200, 5


class Fake:
    """A threaded loopback API: after ``latency``, the live body for a token in ``live``, else 401."""

    def __init__(self, path: str, body: dict[str, Any], live: set[str], latency: float, refusal: Any = None) -> None:
        self.requests = 0
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                fake.requests += 1
                time.sleep(latency)
                auth = self.headers.get("Authorization", "").removeprefix("Bearer ")
                token = self.headers.get("PRIVATE-TOKEN") or auth
                ok = self.path == path and token in live
                data = json.dumps(body if ok else refusal or {"message": "Bad credentials"}).encode()
                self.send_response(200 if ok or refusal else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_target(root: Path, tokens: TokenFactory) -> tuple[dict[str, set[str]], list[str]]:
    """200 distinct tokens, each in 5 files; half of each provider's tokens are live."""
    live: dict[str, set[str]] = {origin: set() for origin in PROVIDERS}
    per = DISTINCT // len(PROVIDERS)
    lines: list[str] = []
    for origin, (_, make, _, _) in PROVIDERS.items():
        for index in range(per):
            token = make(tokens)
            lines.append(f"TOKEN={token}\n")
            if index % 2 == 0:
                live[origin].add(token)
    for copy in range(COPIES):
        for start in range(0, len(lines), 20):
            (root / f"c{copy}-{start // 20}.env").write_text("".join(lines[start : start + 20]), encoding="utf-8")
    return live, [rule for rule, _, _, _ in PROVIDERS.values()]


def once(latency: float, seed: int) -> dict[str, Any]:
    from helpers import config_text

    tokens = TokenFactory(seed)
    with tempfile.TemporaryDirectory(prefix="leakstop-validate-bench-") as tmp:
        root = Path(tmp) / "target"
        root.mkdir()
        live, rules = make_target(root, tokens)
        fakes = {o: Fake(PROVIDERS[o][2], PROVIDERS[o][3], live[o], latency, INVALID.get(o)) for o in PROVIDERS}
        config = Path(tmp) / "leakstop.yaml"
        config.write_text(config_text(rules), encoding="utf-8")
        options = ValidationOptions(routes={origin: fake.base for origin, fake in fakes.items()})
        request = ScanRequest(kind="paths", paths=(str(root),), config=load_config(config), validation=options)
        plain = ScanRequest(kind="paths", paths=(str(root),), config=load_config(config))
        detect_only = timed(plain)[1]
        result, total = timed(request)
        for fake in fakes.values():
            fake.stop()
    states = [f.validation.state if f.validation else "none" for f in result.findings]
    return {
        "findings": len(result.findings),
        "distinct": len({f.match.secret.reveal() for f in result.findings}),
        "requests": sum(fake.requests for fake in fakes.values()),
        "live": states.count("live"),
        "invalid": states.count("invalid"),
        "unknown": states.count("unknown"),
        "total_s": round(total, 3),
        "validation_s": round(total - detect_only, 3),
    }


def timed(request: ScanRequest) -> tuple[ScanResult, float]:
    started = time.perf_counter()
    result = run(request)
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args()
    runs = [once(args.latency, seed) for seed in range(1, args.runs + 1)]
    for number, figures in enumerate(runs, 1):
        print(f"run {number}: " + " ".join(f"{k}={v}" for k, v in figures.items()))
    median = statistics.median(r["total_s"] for r in runs)
    print(
        f"median total: {median:.2f} s for {runs[0]['findings']} findings over {runs[0]['distinct']} secrets "
        f"(target ≤ 5 s: {'met' if median <= 5 else 'NOT met'})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "median_total_s": median}, indent=2), encoding="utf-8")
    return 0 if median <= 5 else 1


if __name__ == "__main__":
    sys.exit(main())
