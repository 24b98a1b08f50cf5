"""Secrets for tests, generated at run time: nothing realistic is ever committed as a literal.

``TokenFactory(seed)`` is deterministic for golden files; the default seed comes from the OS.
"""

from __future__ import annotations

import random
import string

from scanner.detect.checksums import BASE62, crc32_base62

ALNUM = string.ascii_letters + string.digits
UPPER_DIGITS = string.ascii_uppercase + string.digits
HEX = "0123456789abcdef"


class TokenFactory:
    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def github(self, prefix: str = "ghp_", valid: bool = True) -> str:
        body = self.chars(BASE62, 30)
        checksum = crc32_base62(body)
        if not valid:
            checksum = checksum[:-1] + ("A" if checksum[-1] != "A" else "B")
        return prefix + body + checksum

    def npm(self, valid: bool = True) -> str:
        return "npm_" + self.github("", valid)

    def aws_key_id(self) -> str:
        return "AKIA" + self.chars(UPPER_DIGITS.replace("0", "").replace("O", ""), 16)

    def aws_secret(self) -> str:
        return self.chars(ALNUM + "/+", 40)

    def slack_bot(self) -> str:
        return f"xoxb-{self.chars(string.digits, 12)}-{self.chars(string.digits, 13)}-{self.chars(ALNUM, 24)}"

    def stripe_live(self) -> str:
        return "sk_live_" + self.chars(ALNUM, 99)

    def hex(self, n: int) -> str:
        return self.chars(HEX, n)

    def password(self) -> str:
        return self.chars(ALNUM, 10) + "!" + self.chars(string.digits, 3) + self.chars(ALNUM, 6)
