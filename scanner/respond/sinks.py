"""Where a rotation's replacement credential goes (``respond.sink``): AWS Secrets Manager, or a team's webhook
(the one body that carries a secret: delivering it is what a sink is for). ``make_sink(settings, env, http)``
builds the one the policy names; ``deliver`` returns a non-secret reference or raises ``SinkError``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from scanner.errors import ConfigError
from scanner.models import Secret
from scanner.respond.awsclient import aws_errors, client, error_code, error_outcome, our_session
from scanner.respond.model import Credential, Outcome
from scanner.respond.providers.base import Sink, SinkError
from scanner.respond.webhooks import SECRET_ENV, WebhookSender, message_id, payload, signing_keys
from scanner.transport import HttpClient

DEFAULT_NAME = "leakstop/{rule}/{secret_id}"  # fields: rule, secret_id and the provider's metadata (user, …)
_TOKENS = uuid.UUID("5d2f6c1e-4a8b-4f0e-9c3d-7b1a2e6f8c90")  # namespace of our ClientRequestTokens


class SecretsManagerSink:
    """Stores the replacement as a JSON secret: a new version of the named secret (made if missing)."""

    def __init__(self, settings: Mapping[str, Any], env: Mapping[str, str], http: HttpClient) -> None:
        self.name = str(settings.get("secret_id", DEFAULT_NAME))
        self.kms_key_id = str(settings.get("kms_key_id", ""))
        session = our_session(env, "respond: sink 'secrets-manager'", str(settings.get("region", "")))
        self.client = client(session, "secretsmanager", str(settings.get("endpoint_url", "")), http.settings)
        self.errors = aws_errors()

    def deliver(self, credential: Credential, replacement: Mapping[str, Secret], metadata: Mapping[str, str]) -> str:
        fields = {**metadata, "rule": credential.rule_id, "secret_id": credential.secret_id}
        try:
            name = self.name.format_map(fields)
        except (KeyError, ValueError, IndexError) as exc:
            raise SinkError(f"sink: secret_id template {self.name!r}: no field {exc}", retryable=False) from None
        value = json.dumps({key: secret.reveal() for key, secret in replacement.items()})
        # The same replacement always gets the same token: a retried call makes no second version.
        token = str(uuid.uuid5(_TOKENS, json.dumps([credential.secret_id, sorted(metadata.items())])))
        try:
            try:
                made = self.client.put_secret_value(SecretId=name, SecretString=value, ClientRequestToken=token)
            except self.errors as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                extra = {"KmsKeyId": self.kms_key_id} if self.kms_key_id else {}
                description = f"leakstop: replacement for a leaked {credential.rule_id} ({credential.secret_id})"
                made = self.client.create_secret(
                    Name=name, SecretString=value, ClientRequestToken=token, Description=description, **extra
                )
        except self.errors as exc:
            result = error_outcome(exc, f"sink: secrets manager {name}")
            raise SinkError(result.detail, retryable=result.outcome is Outcome.RETRY) from None
        return f"{made['ARN']} version {made['VersionId']}"


class WebhookSink:
    """POSTs ``secret.replacement`` with the replacement in ``data.replacement``, signed as the provider's."""

    def __init__(
        self, settings: Mapping[str, Any], env: Mapping[str, str], http: HttpClient, clock: Callable[[], float]
    ) -> None:
        url = str(settings.get("url", ""))
        if not url:
            raise ConfigError("respond.sink.url: not set (the webhook sink's endpoint)")
        keys = signing_keys(env, str(settings.get("secret_env", SECRET_ENV)), "respond: sink 'webhook'")
        self.clock = clock
        self.sender = WebhookSender(http, url, keys, clock)

    def deliver(self, credential: Credential, replacement: Mapping[str, Secret], metadata: Mapping[str, str]) -> str:
        data = {
            "secret_id": credential.secret_id,
            "rule": credential.rule_id,
            "metadata": dict(metadata),
            "replacement": {key: secret.reveal() for key, secret in replacement.items()},
        }
        msg_id = message_id("sink", credential.secret_id, json.dumps(sorted(metadata.items())))
        result = self.sender.post(msg_id, payload("secret.replacement", self.clock(), data), "sink: webhook")
        if result.outcome is not Outcome.DONE:
            raise SinkError(result.detail, retryable=result.outcome is Outcome.RETRY)
        return f"webhook {msg_id}"


def make_sink(
    settings: Mapping[str, Any], env: Mapping[str, str], http: HttpClient, clock: Callable[[], float] = time.time
) -> Sink:
    """The sink ``respond.sink`` names (may raise ``MissingCredential`` or ``ConfigError``)."""
    kind = settings.get("type")
    if kind == "secrets-manager":
        return SecretsManagerSink(settings, env, http)
    if kind == "webhook":
        return WebhookSink(settings, env, http, clock)
    raise ConfigError(f"respond.sink.type: {kind!r} is not a sink (secrets-manager, webhook)")
