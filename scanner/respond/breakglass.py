"""Break-glass for push protection: time-boxed, dual-controlled, audited.

A requester files a request (a one-line reason, a repository, optionally a ref, a TTL no longer than the
policy's ``max_ttl``); a different person approves it (an approver from the policy's list, when it has one), and
approval issues a one-time token, shown once::

    lsbg_<id>_<secret>      id: 12 hex digits, public (it indexes the store); secret: 32 random bytes, base64url

The store keeps ``token_digest(id, secret)`` only: SHA-256 over a domain tag, the id and the secret. A slow or
keyed hash defends guessable secrets (passwords) against offline guessing; this secret is 256 random bits, which
no guessing reaches, so one SHA-256 is enough, and binding the id means a digest copied to another row matches
nothing. A dump of the store yields no usable token. A token is checked by hashing what was presented and
``hmac.compare_digest`` with the stored digest.

``git push -o leakstop.breakglass=TOKEN`` lets one push through before the token expires, in its repository
(and ref, if the request named one): the hook ``check``s it before the scan and ``use``s it (consumed atomically)
only when the push would otherwise be rejected. Every step is an audit record whose subject is the request id:
``breakglass-request``, ``-approve``, ``-approve-refused`` (self-approval, not an approver), ``-use``,
``-refused`` (a token refused at a push: written by the hook), ``-revoke``, ``-expired`` (a request not approved
within ``approval_window``, a token not used within its TTL: recorded by whichever command or push finds it
first). A step whose record cannot be written does not happen (the store change is rolled back).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from scanner.errors import EXIT_BLOCKED, LeakstopError
from scanner.policy.pushprotection import BreakGlassSettings
from scanner.respond.audit_log import AuditFinding, AuditRecord, append
from scanner.respond.breakglass_store import Request, Store

TOKEN_PREFIX = "lsbg"
PUSH_OPTION = "leakstop.breakglass"
_TOKEN = re.compile(r"lsbg_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})")
_DOMAIN = b"leakstop-breakglass-v1\0"


class Refused(LeakstopError):
    """A step the rules do not allow (self-approval, an expired request, a bad token): exit 1, one line."""

    exit_code = EXIT_BLOCKED

    def __init__(self, message: str, subject: str = "") -> None:
        super().__init__(message)
        self.subject = subject


def token_digest(request_id: str, secret: str) -> str:
    return hashlib.sha256(_DOMAIN + request_id.encode("ascii") + b"\0" + secret.encode("ascii")).hexdigest()


def new_token(request_id: str) -> tuple[str, str]:
    """A fresh token for ``request_id`` and the digest the store keeps of it."""
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return f"{TOKEN_PREFIX}_{request_id}_{secret}", token_digest(request_id, secret)


def token_id(token: str) -> str:
    """The public id of a well-formed token, "" for anything else."""
    found = _TOKEN.fullmatch(token)
    return found["id"] if found else ""


def full_ref(ref: str) -> str:
    return ref if not ref or ref.startswith("refs/") else f"refs/heads/{ref}"


def when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Push:
    """What the hook knows of the push a token is presented with."""

    repository: str
    refs: tuple[str, ...]
    actor: str
    commits: tuple[str, ...] = ()
    findings: tuple[AuditFinding, ...] = ()
    why: str = ""  # what the token lets through: "2 blocking findings", "the time budget ran out"


class BreakGlass:
    """The requests in ``store``, under ``settings``; records go to ``audit_log``; ``clock`` is ``time.time``."""

    def __init__(
        self, store: Store, audit_log: Path, settings: BreakGlassSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self.store, self.audit_log, self.settings, self.clock = store, audit_log, settings, clock

    def record(self, action: str, actor: str, request: Request, detail: str = "", push: Push | None = None) -> None:
        """Append one record (an ``InputError`` if it cannot be written: the caller's transaction rolls back)."""
        refs = push.refs if push else ((request.ref,) if request.ref else ())
        entry = AuditRecord(
            action=action,
            actor=actor,
            repository=request.repository,
            reason=request.reason,
            refs=refs,
            commits=push.commits if push else (),
            findings=push.findings if push else (),
            subject=request.id,
            detail=detail,
        )
        append(self.audit_log, entry)

    def expire(self) -> list[Request]:
        """Requests not approved within the window and tokens not used within their TTL: expired, recorded."""
        now = self.clock()
        with self.store.transaction():
            found = self.store.overdue(now)
            for request in found:
                self.store.end(request.id, "expired", now, "", ("pending", "approved"))
                what = "token not used" if request.state == "approved" else "not approved"
                self.record("breakglass-expired", "leakstop", request, f"{what} by {when(request.expires)}")
        return found

    def request(self, who: str, reason: str, repository: str, ref: str, ttl: float) -> Request:
        if ttl > self.settings.max_ttl.total_seconds():
            raise Refused(f"--ttl is longer than the policy allows (max_ttl {self.settings.max_ttl})")
        now = self.clock()
        request = Request(
            id=secrets.token_hex(6),
            requester=who,
            reason=reason,
            repository=repository,
            ref=full_ref(ref),
            ttl=ttl,
            created=now,
            state="pending",
            expires=now + self.settings.approval_window.total_seconds(),
        )
        with self.store.transaction():
            self.store.add(request)
            self.record("breakglass-request", who, request, f"ttl {ttl:g} s; approve by {when(request.expires)}")
        return request

    def _pending(self, request_id: str) -> Request:
        self.expire()
        request = self.store.get(request_id)
        if request is None:
            raise Refused(f"break-glass request {request_id} not found", request_id)
        if request.state != "pending":
            raise Refused(f"break-glass request {request_id} is {request.state}, not waiting for approval", request_id)
        return request

    def approve(self, who: str, request_id: str) -> tuple[Request, str]:
        """Approve as ``who`` (not the requester; one of ``approvers`` if the policy lists them): the token, once."""
        request = self._pending(request_id)
        refusal = ""
        if who == request.requester:
            refusal = f"{who} requested {request_id}: a different person must approve it (self-approval refused)"
        elif self.settings.approvers and who not in self.settings.approvers:
            refusal = f"{who} is not one of the policy's break-glass approvers"
        if refusal:
            self.record("breakglass-approve-refused", who, request, refusal)
            raise Refused(refusal, request_id)
        token, digest = new_token(request_id)
        expires = self.clock() + request.ttl
        with self.store.transaction():
            if not self.store.approve(request_id, who, expires, digest):
                raise Refused(f"break-glass request {request_id} changed while approving it", request_id)
            self.record(
                "breakglass-approve", who, request, f"requested by {request.requester}; expires {when(expires)}"
            )
        approved = self.store.get(request_id)
        assert approved is not None
        return approved, token

    def revoke(self, who: str, request_id: str) -> Request:
        """Withdraw a pending request or an unused token (its requester or anyone who may approve)."""
        self.expire()
        request = self.store.get(request_id)
        if request is None:
            raise Refused(f"break-glass request {request_id} not found", request_id)
        if who != request.requester and self.settings.approvers and who not in self.settings.approvers:
            raise Refused(f"{who} may not revoke {request_id}: only its requester or an approver", request_id)
        with self.store.transaction():
            if not self.store.end(request_id, "revoked", self.clock(), who, ("pending", "approved")):
                raise Refused(f"break-glass request {request_id} is {request.state}: nothing to revoke", request_id)
            self.record("breakglass-revoke", who, request, f"was {request.state}")
        return request

    def listed(self) -> list[Request]:
        self.expire()
        return self.store.listed()

    def check(self, token: str, push: Push) -> Request:
        """The request ``token`` was issued for, if it may let ``push`` through now; else ``Refused`` saying why
        (never with the token in it). Reads only: ``use`` consumes."""
        found = _TOKEN.fullmatch(token)
        if found is None:
            raise Refused(f"{PUSH_OPTION}: not a break-glass token (expected {TOKEN_PREFIX}_<id>_<secret>)")
        self.expire()
        request_id = found["id"]
        request = self.store.get(request_id)
        if request is None:
            raise Refused(f"break-glass token {request_id}: no such request", request_id)
        if not hmac.compare_digest(request.digest, token_digest(request_id, found["secret"])):
            raise Refused(f"break-glass token {request_id}: not valid (forged, mistyped or never approved)", request_id)
        if request.state != "approved":
            states = {"used": "already used", "revoked": "revoked", "expired": "expired"}
            raise Refused(f"break-glass token {request_id}: {states.get(request.state, request.state)}", request_id)
        if request.repository != push.repository:
            raise Refused(f"break-glass token {request_id}: issued for another repository", request_id)
        outside = [ref for ref in push.refs if request.ref and ref != request.ref]
        if outside:
            raise Refused(f"break-glass token {request_id}: issued for {request.ref} only", request_id)
        return request

    def use(self, token: str, push: Push) -> Request:
        """Consume the token for ``push``, once, and record it; ``Refused`` when it may not (any more)."""
        request = self.check(token, push)
        with self.store.transaction():
            if not self.store.consume(request.id, self.clock(), push.actor):
                raise Refused(f"break-glass token {request.id}: already used or expired", request.id)
            detail = f"{push.why}; requested by {request.requester}, approved by {request.approver}"
            self.record("breakglass-use", push.actor, request, detail, push)
        return request
