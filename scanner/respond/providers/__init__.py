"""Provider adapters by name: one module each, one line in ``PROVIDERS``, one test against a loopback server
speaking the provider's documented API. Adding a provider: a module with ``make(context) -> Provider``
(``base.Provider``), an entry here, its settings in ``config.schema.json`` (``respond/providers``)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from scanner.respond.model import ActionKind
from scanner.respond.providers.base import Provider, ProviderContext, ProviderFactory

__all__ = ["PROVIDERS", "ProviderEntry", "make_provider", "provider_for_rule"]


@dataclass(frozen=True)
class ProviderEntry:
    module: str  # under scanner.respond.providers; imported on first use (boto3 is not cheap)
    rules: tuple[str, ...]  # the rules it acts on when the policy names no provider for them
    action: ActionKind  # what it does for them by default


PROVIDERS: dict[str, ProviderEntry] = {
    "github": ProviderEntry(
        "github",
        (
            "github-pat",
            "github-fine-grained-pat",
            "github-oauth-token",
            "github-user-to-server-token",
            "github-refresh-token",
        ),
        ActionKind.REVOKE,
    ),
    # The token kinds after the first two are revoked only with ``admin: true``: what DELETE /api/v4/admin/token
    # revokes or resets (docs/api/admin/token.md; not runner registration, CI job or SCIM tokens).
    "gitlab": ProviderEntry(
        "gitlab",
        (
            "gitlab-pat",
            "gitlab-pat-routable",
            "gitlab-deploy-token",
            "gitlab-agent-token",
            "gitlab-pipeline-trigger-token",
            "gitlab-feed-token",
            "gitlab-runner-auth-token",
            "gitlab-runner-auth-token-routable",
            "gitlab-oauth-app-secret",
            "gitlab-incoming-mail-token",
            "gitlab-feature-flags-client-token",
        ),
        ActionKind.REVOKE,
    ),
    # Revoke by default: deactivating is reversible; rotating needs a sink (respond.sink) the policy names.
    "aws-iam": ProviderEntry("aws_iam", ("aws-access-key-id",), ActionKind.REVOKE),
    # No API revokes xapp- app-level tokens or webhook URLs: they have no provider (removed in the app's settings).
    "slack": ProviderEntry(
        "slack", ("slack-bot-token", "slack-user-token", "slack-config-access-token"), ActionKind.REVOKE
    ),
    "webhook": ProviderEntry("webhook", (), ActionKind.NOTIFY),
    "npm": ProviderEntry("npm", ("npm-access-token",), ActionKind.REVOKE),
    "gcp-service-account": ProviderEntry(
        "gcp_service_account", ("gcp-service-account-private-key",), ActionKind.REVOKE
    ),
    "anthropic": ProviderEntry("anthropic", ("anthropic-api-key",), ActionKind.REVOKE),
}


def make_provider(context: ProviderContext) -> Provider:
    """The provider ``context.name`` names, made from the context (may raise ``MissingCredential``)."""
    entry = PROVIDERS[context.name]
    factory: ProviderFactory = importlib.import_module(f"scanner.respond.providers.{entry.module}").make
    return factory(context)


def provider_for_rule(rule_id: str) -> str:
    """The provider that acts on ``rule_id`` by default, "" when none does."""
    return next((name for name, entry in PROVIDERS.items() if rule_id in entry.rules), "")
