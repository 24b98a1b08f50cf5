"""A team's own endpoint, told of a leak (``notify``, any rule) or asked to revoke or rotate it, where the
policy routes those to it; signed per Standard Webhooks v1 (``scanner.respond.webhooks``).

The body carries the secret's fingerprint and metadata (rule, the provider that would act on it, where it was
found, the findings' ids, its redacted form); the secret itself only with ``send_secret: true``. A 410 answer
is ``FAILED`` with ``progress == webhooks.DISABLED``: the executor records the endpoint as disabled and sends
it nothing more until the policy names another URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scanner.errors import ConfigError
from scanner.respond.model import ActionKind, Credential, ProviderResult
from scanner.respond.providers import provider_for_rule
from scanner.respond.providers.base import ProviderContext
from scanner.respond.webhooks import SECRET_ENV, WebhookSender, message_id, payload, signing_keys

GUIDE = "https://www.standardwebhooks.com/"
EVENTS = {
    ActionKind.NOTIFY: "secret.leaked",
    ActionKind.REVOKE: "secret.revoke-requested",
    ActionKind.ROTATE: "secret.rotate-requested",
}


class WebhookProvider:
    name = "webhook"
    guide = GUIDE
    batch_size = 50

    def __init__(self, context: ProviderContext) -> None:
        settings = context.settings
        url = str(settings.get("url", ""))
        if not url:
            raise ConfigError("respond.providers.webhook.url: not set (the endpoint to POST to)")
        variable = str(settings.get("secret_env", SECRET_ENV))
        keys = signing_keys(context.env, variable, "respond: provider 'webhook'")
        self.send_secret = bool(settings.get("send_secret", False))
        self.clock = context.clock
        self.sender = WebhookSender(context.http, url, keys, context.clock)

    def supports(self, kind: ActionKind, rule_id: str) -> bool:
        return kind in EVENTS  # any rule: what it does with it is the receiver's business

    def act(self, kind: ActionKind, credentials: Sequence[Credential]) -> list[ProviderResult]:
        return [self._one(kind, credential) for credential in credentials]

    def _one(self, kind: ActionKind, credential: Credential) -> ProviderResult:
        data: dict[str, Any] = {
            "secret_id": credential.secret_id,
            "rule": credential.rule_id,
            "provider": provider_for_rule(credential.rule_id) or None,
            "action": kind.value,
            "locations": [credential.location] if credential.location else [],
            "findings": list(credential.findings),
            "redacted": credential.secret.redacted(),
        }
        if self.send_secret:
            data["secret"] = credential.secret.reveal()
        msg_id = message_id("provider", kind.value, credential.secret_id)
        return self.sender.post(msg_id, payload(EVENTS[kind], self.clock(), data), f"webhook: {EVENTS[kind]}")


def make(context: ProviderContext) -> WebhookProvider:
    return WebhookProvider(context)
