"""The response's vocabulary: what may be done to a leaked credential, what a provider answered, and the
credential as a provider is handed it (in memory only: it is the one place a secret travels in the response)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from scanner.models import Secret


class ActionKind(str, Enum):
    REVOKE = "revoke"  # make the credential unusable
    ROTATE = "rotate"  # make a replacement, hand it over, then retire the leaked one
    NOTIFY = "notify"  # tell someone (a webhook, a team's own rotation service); nothing is changed


class Outcome(str, Enum):
    """Every provider answer is one of these, never a bare boolean."""

    DONE = "done"
    ALREADY_DONE = "already-done"  # revoked before we asked, or unknown to the provider after a revoke
    RETRY = "retry"  # not done yet, may succeed later (down, rate limited, timed out): the outbox retries it
    FAILED = "failed"  # will not succeed by retrying (rejected credentials of ours, a garbage answer, 4xx)


@dataclass(frozen=True)
class Credential:
    """A leaked credential, as a provider receives it. Never stored, never logged: ``Secret`` hides its value.

    ``related`` holds values found in the same place that the provider may need, by rule id (the AWS secret
    access key next to its key id). ``location`` is where it was found, for messages (no secret in it);
    ``findings`` the ids of the findings that found it (the webhook sends them).
    """

    rule_id: str
    secret_id: str  # the keyed fingerprint of rule and secret: the response's idempotency key
    secret: Secret
    related: Mapping[str, Secret] = field(default_factory=dict)
    location: str = ""
    progress: str = ""  # the ``progress`` the provider's last attempt at this action recorded ("" = none yet)
    findings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderResult:
    """A provider's answer for one credential. ``detail`` is one line for people and logs: never the secret,
    never a request body. ``retry_after`` is the wait the provider asked for (seconds), if it said one.
    ``reference`` names what was acted on or made that is not secret (a token id, a new access key id).

    A multi-step action (AWS rotation: create, hand over, deactivate, delete after an overlap window) answers
    ``RETRY`` with ``progress`` (a short, non-secret state such as ``deactivated:<new key id>``) and
    ``retry_after`` (the window): the outbox stores it and the next attempt receives it in
    ``Credential.progress``, so the provider resumes where it was instead of starting over."""

    outcome: Outcome
    detail: str = ""
    retry_after: float | None = None
    reference: str = ""
    progress: str = ""
