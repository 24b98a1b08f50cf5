"""A break-glass token presented with a push (``git push -o leakstop.breakglass=TOKEN``), as the hook sees it.

``Glass.presented`` reads the push option and checks the token before the scan (``refusal`` says why it cannot
be used: the push is then rejected); ``use`` consumes it when the push would be rejected without it. What the
pusher reads never holds the token, only its public id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import InputError
from scanner.policy.context import push_option
from scanner.policy.pushprotection import BreakGlassSettings
from scanner.respond.breakglass import PUSH_OPTION, BreakGlass, Push, Refused, token_id, when
from scanner.respond.breakglass_store import Request, Store
from scanner.safetext import printable


@dataclass(frozen=True)
class GlassSettings:
    """The config's ``push_protection.breakglass`` and where its store and the audit log are (the edge's)."""

    settings: BreakGlassSettings
    store: Path
    audit_log: Path


class Glass:
    def __init__(self, token: str) -> None:
        self.token = token
        self.subject = token_id(token)  # the public id ("" for a malformed token)
        self.refusal = ""
        self.desk: BreakGlass | None = None
        self.request: Request | None = None

    @classmethod
    def presented(cls, environ: Mapping[str, str], settings: GlassSettings | None, push: Push) -> Glass | None:
        """None without the push option; else the token checked (``refusal`` set when it may not be used)."""
        token = push_option(environ, PUSH_OPTION)
        if token is None:
            return None
        glass = cls(token)
        if settings is None or not settings.settings.enabled:
            glass.refusal = f"{PUSH_OPTION}: break-glass is not enabled on this server (push_protection.breakglass)"
            return glass
        try:
            glass.desk = BreakGlass(Store(settings.store), settings.audit_log, settings.settings)
            glass.request = glass.desk.check(token, push)
        except Refused as exc:
            glass.refusal = str(exc)
        except InputError as exc:
            glass.refusal = f"break-glass cannot be checked: {exc}"
        return glass

    def use(self, push: Push) -> str:
        """Consume the token for ``push`` (recorded); "" when it did, else why not."""
        assert self.desk is not None
        try:
            self.request = self.desk.use(self.token, push)
        except Refused as exc:
            return str(exc)
        except InputError as exc:
            return f"break-glass must be recorded and cannot be: {exc}"
        return ""

    def accepted(self, why: str) -> list[str]:
        request = self.request
        assert request is not None
        by = f"requested by {printable(request.requester)}, approved by {printable(request.approver)}"
        return [
            f"leakstop: push accepted through break-glass {request.id} ({by}): {why}; recorded in the audit log",
            "The token is used up. Rotate any leaked credential (revoke it and issue a new one).",
        ]

    def unused(self) -> list[str]:
        request = self.request
        assert request is not None
        return [
            f"leakstop: break-glass {request.id} not used: nothing to let through"
            f" (the token stays valid until {when(request.expires)})"
        ]

    def close(self) -> None:
        if self.desk is not None:
            self.desk.store.close()
