"""The built-in declarative validators: one read-only identity call per provider, as its API documents it.

Each entry: validator name → (provider, check). The endpoints (and why they are read-only):

- GitHub ``GET /user``; GitLab ``GET /api/v4/personal_access_tokens/self``; Hugging Face ``GET /api/whoami-v2``;
  npm ``GET /-/whoami``; Heroku ``GET /account``; DigitalOcean ``GET /v2/account``; Postman ``GET /me``;
  Discord ``GET /users/@me``; Telegram ``getMe``: who the token belongs to.
- Slack ``auth.test`` (POST, changes nothing; answers 200 with ``ok``); OpenAI and Anthropic ``GET /v1/models``;
  Stripe ``GET /v1/account``; SendGrid ``GET /v3/scopes``; Mailgun ``GET /v3/domains``; Mailchimp ``GET /3.0/``
  (the data centre is the key's suffix); Twilio ``GET /Accounts.json`` (an API
  key's SID beside its secret); Shopify ``GET /admin/oauth/access_scopes.json`` (the shop named beside the token);
  Atlassian ``GET /rest/api/3/myself`` (the site and the account email beside the token); a Discord webhook's own
  URL (``GET`` returns the webhook, and the token is in the URL by Discord's design). Datadog, asked at each of its
  sites, is ``validate.datadog``.
- PyPI has no identity call: an upload without a file is refused with 403 for a bad token and 400 (a metadata
  error, nothing stored) for a good one. Docker Hub ``POST /v2/users/login`` with the user named beside the token
  (returns a session token, which is discarded).
"""

from __future__ import annotations

from scanner.ruleset.validator import Condition, HttpCheck

BEARER = (("Authorization", "Bearer {secret}"),)
OK = Condition((200,))
EMAIL = r"([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})"

CHECKS: dict[str, tuple[str, HttpCheck]] = {
    "github": (
        "github",
        HttpCheck(
            "https://api.github.com/user",
            headers=(*BEARER, ("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")),
            invalid=Condition((401,)),
            identity=("login",),
        ),
    ),
    "gitlab": (
        "gitlab",
        HttpCheck(
            "https://gitlab.com/api/v4/personal_access_tokens/self",
            headers=(("PRIVATE-TOKEN", "{secret}"),),
            invalid=Condition((401,)),
            identity=("name", "scopes"),
        ),
    ),
    "slack": (
        "slack",
        HttpCheck(
            "https://slack.com/api/auth.test",
            method="POST",
            headers=BEARER,
            live=Condition((200,), (("ok", True),)),
            invalid=Condition(
                (200, 401),
                (
                    ("ok", False),
                    ("error", ["invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"]),
                ),
            ),
            identity=("team", "user"),
        ),
    ),
    "stripe": (
        "stripe",
        HttpCheck("https://api.stripe.com/v1/account", headers=BEARER, invalid=Condition((401,)), identity=("id",)),
    ),
    "openai": ("openai", HttpCheck("https://api.openai.com/v1/models", headers=BEARER, invalid=Condition((401,)))),
    "anthropic": (
        "anthropic",
        HttpCheck(
            "https://api.anthropic.com/v1/models",
            headers=(("x-api-key", "{secret}"), ("anthropic-version", "2023-06-01")),
            invalid=Condition((401,)),
        ),
    ),
    "huggingface": (
        "huggingface",
        HttpCheck(
            "https://huggingface.co/api/whoami-v2", headers=BEARER, invalid=Condition((401,)), identity=("name",)
        ),
    ),
    "npm": (
        "npm",
        HttpCheck(
            "https://registry.npmjs.org/-/whoami", headers=BEARER, invalid=Condition((401,)), identity=("username",)
        ),
    ),
    "pypi": (
        "pypi",
        HttpCheck(
            "https://upload.pypi.org/legacy/",
            method="POST",
            basic="__token__:{secret}",
            body=":action=file_upload&protocol_version=1",
            content_type="application/x-www-form-urlencoded",
            live=Condition((400,)),
            invalid=Condition((403,), text=("Invalid or non-existent authentication", "Invalid API Token")),
            reply="text",
        ),
    ),
    "sendgrid": (
        "sendgrid",
        HttpCheck("https://api.sendgrid.com/v3/scopes", headers=BEARER, invalid=Condition((401, 403))),
    ),
    "twilio": (
        "twilio",
        HttpCheck(
            "https://api.twilio.com/2010-04-01/Accounts.json",
            basic="{sid}:{secret}",
            invalid=Condition((401,)),
            identity=("accounts.0.friendly_name",),
            context=(("sid", "rule:twilio-api-key-sid", r"\b(SK[0-9a-fA-F]{32})\b"),),
        ),
    ),
    "mailgun": (
        "mailgun",
        HttpCheck("https://api.mailgun.net/v3/domains", basic="api:{secret}", invalid=Condition((401, 403))),
    ),
    "mailchimp": (
        "mailchimp",
        HttpCheck(
            "https://{dc}.api.mailchimp.com/3.0/",
            basic="leakstop:{secret}",
            invalid=Condition((401,)),
            identity=("account_name",),
            context=(("dc", "secret", r"-(us[0-9]{1,2})$"),),
        ),
    ),
    "heroku": (
        "heroku",
        HttpCheck(
            "https://api.heroku.com/account",
            headers=(*BEARER, ("Accept", "application/vnd.heroku+json; version=3")),
            invalid=Condition((401,)),
            identity=("email",),
        ),
    ),
    "digitalocean": (
        "digitalocean",
        HttpCheck(
            "https://api.digitalocean.com/v2/account",
            headers=BEARER,
            invalid=Condition((401,)),
            identity=("account.email",),
        ),
    ),
    "shopify": (
        "shopify",
        HttpCheck(
            "https://{shop}.myshopify.com/admin/oauth/access_scopes.json",
            headers=(("X-Shopify-Access-Token", "{secret}"),),
            invalid=Condition((401,)),
            identity=("access_scopes.0.handle",),
            context=(("shop", "snippet", r"\b([a-z0-9][a-z0-9-]{0,60})\.myshopify\.com"),),
        ),
    ),
    "discord-bot": (
        "discord",
        HttpCheck(
            "https://discord.com/api/v10/users/@me",
            headers=(("Authorization", "Bot {secret}"),),
            invalid=Condition((401,)),
            identity=("username",),
        ),
    ),
    "discord-webhook": (
        "discord",
        HttpCheck(
            "https://discord.com/api/v10/webhooks/{wid}/{wtoken}",
            invalid=Condition((401, 404)),
            identity=("name",),
            context=(
                ("wid", "secret", r"/webhooks/([0-9]{17,20})/"),
                ("wtoken", "secret", r"/webhooks/[0-9]+/([A-Za-z0-9_-]+)$"),
            ),
            secret_in_path=True,
        ),
    ),
    "telegram": (
        "telegram",
        HttpCheck(
            "https://api.telegram.org/bot{secret}/getMe",
            live=Condition((200,), (("ok", True),)),
            invalid=Condition((401, 404)),
            identity=("result.username",),
            secret_in_path=True,
        ),
    ),
    "atlassian": (
        "atlassian",
        HttpCheck(
            "https://{site}.atlassian.net/rest/api/3/myself",
            basic="{email}:{secret}",
            invalid=Condition((401,)),
            identity=("displayName",),
            context=(("site", "snippet", r"\b([a-z0-9][a-z0-9-]{0,60})\.atlassian\.net"), ("email", "snippet", EMAIL)),
        ),
    ),
    "postman": (
        "postman",
        HttpCheck(
            "https://api.getpostman.com/me",
            headers=(("X-Api-Key", "{secret}"),),
            invalid=Condition((401,)),
            identity=("user.username",),
        ),
    ),
    "dockerhub": (
        "dockerhub",
        HttpCheck(
            "https://hub.docker.com/v2/users/login",
            method="POST",
            body='{"username": "{user}", "password": "{secret}"}',
            content_type="application/json",
            invalid=Condition((401,)),
            context=(
                (
                    "user",
                    "snippet",
                    r"(?i)\b(?:docker_?hub_?)?user(?:name)?[\"']?\s*[:=]\s*[\"']?([a-z0-9][a-z0-9_.-]{1,29})",
                ),
            ),
        ),
    ),
}
