"""Keyed fingerprints: the finding id and the secret id.

Both are HMAC-SHA256, never plain hashes: a plain SHA-1 of a short password (what detect-secrets stores) can be
brute-forced from a report or baseline. Neither includes a line number, so moving code does not reopen a
finding. The default key only separates leakstop's hashes from others; a baseline brings its own random salt,
and ``LEAKSTOP_FINGERPRINT_KEY`` sets one for reports (read by the command line into ``RunContext.fingerprint_key``).
"""

from __future__ import annotations

DEFAULT_KEY = b"leakstop/fingerprint/v1"


def _keyed(key: bytes, *parts: str) -> str:
    import hashlib  # with hmac, loads OpenSSL: only once there is a finding (scanner/digests.py)
    import hmac

    message = b"\0".join(p.encode("utf-8", "surrogatepass") for p in parts)
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


def secret_id(key: bytes, rule_id: str, secret: str) -> str:
    """Names one credential wherever it appears: the responder's idempotency key."""
    return _keyed(key, "secret", rule_id, secret)


def finding_id(key: bytes, rule_id: str, secret: str, path: str, commit: str = "") -> str:
    """Names one occurrence: rule + secret + path (+ commit for history), no line numbers."""
    return _keyed(key, "finding", rule_id, secret, path, commit)
