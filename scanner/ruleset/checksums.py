"""Offline checksum validators for token formats that carry one.

A validator takes the secret (as found) and returns True when its checksum is correct. Tokens with a wrong
checksum are not credentials the provider ever issued, so the rule drops them (no finding).
Registry: ``CHECKSUMS`` maps the name a rule's ``checksum`` field uses to its validator. It lives with the rules
(loading a rule checks the name) and detection calls it: the ruleset sits below detection.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62_encode(number: int, width: int) -> str:
    """Encode a non-negative integer in base62 (alphabet 0-9A-Za-z), left-padded with '0' to ``width``."""
    digits = []
    while number:
        number, rem = divmod(number, 62)
        digits.append(BASE62[rem])
    return "".join(reversed(digits)).rjust(width, "0")


def crc32_base62(payload: str) -> str:
    """The 6-character checksum GitHub and npm append to their tokens: CRC32 of the payload, base62."""
    return base62_encode(zlib.crc32(payload.encode("ascii")), 6)


def _prefixed_crc32(secret: str, prefix_len: int) -> bool:
    body = secret[prefix_len:]
    if len(body) != 36 or not body.isascii() or not body.isalnum():
        return False
    return crc32_base62(body[:30]) == body[30:]


def github_crc32(secret: str) -> bool:
    """``gh[pousr]_`` + 30 random base62 + CRC32 checksum (integrations.md 7.1)."""
    return secret[:3] in {"ghp", "gho", "ghu", "ghs", "ghr"} and secret[3:4] == "_" and _prefixed_crc32(secret, 4)


def npm_crc32(secret: str) -> bool:
    """``npm_`` + 30 random base62 + CRC32 checksum, the same scheme as GitHub's."""
    return secret.startswith("npm_") and _prefixed_crc32(secret, 4)


# Passwords that stand in for one in docs and examples: base64 of "user:password" is no credential.
_STAND_IN_PASSWORDS = frozenset(
    {"password", "passwd", "pass", "secret", "changeme", "pwd", "pw", "xxx", "xxxx", "***", "test", "example"}
)


def basic_auth_pair(secret: str) -> bool:
    """An HTTP Basic credential (RFC 7617): base64 of ``user-id:password``, printable UTF-8, a non-empty user id
    and a password that is not a stand-in. Not a checksum, but the same kind of check: text that does not decode
    to a credential pair is no credential."""
    import base64
    import binascii

    try:
        text = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    user, sep, password = text.partition(":")
    if not (sep and user and text.isprintable() and len(password) >= 3):
        return False
    return password.lower() not in _STAND_IN_PASSWORDS and password.lower() != user.lower()


CHECKSUMS: dict[str, Callable[[str], bool]] = {
    "github-crc32": github_crc32,
    "npm-crc32": npm_crc32,
    "basic-auth": basic_auth_pair,
}
