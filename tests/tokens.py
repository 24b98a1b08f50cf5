"""Secrets for tests, generated at run time: nothing realistic is ever committed as a literal.

``TokenFactory(seed)`` is deterministic for golden files; the default seed comes from the OS.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from scanner.ruleset.checksums import BASE62, crc32_base62

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
        """Re-rolled until its entropy clears the rule's floor (3.0) with a margin: about one draw in 15,000 does
        not (``AKIAQIUQQ7ACCIA3UIC2``: 2.95), and the scan then finds nothing."""
        alphabet = UPPER_DIGITS.replace("0", "").replace("O", "")
        return self._above_entropy(lambda: "AKIA" + self.chars(alphabet, 16), 3.1)

    def aws_secret(self) -> str:
        return self.chars(ALNUM + "/+", 40)

    def slack_bot(self) -> str:
        return f"xoxb-{self.chars(string.digits, 12)}-{self.chars(string.digits, 13)}-{self.chars(ALNUM, 24)}"

    def slack_user(self) -> str:
        digits = string.digits
        return f"xoxp-{self.chars(digits, 12)}-{self.chars(digits, 12)}-{self.chars(digits, 13)}-{self.hex(32)}"

    def gitlab_pat(self) -> str:
        """A classic glpat- token: 20 characters of [0-9A-Za-z_-] (GitLab puts no checksum in these)."""
        return "glpat-" + self.clean_chars(ALNUM + "_-", 20)

    def gitlab_pat_routable(self) -> str:
        """The routable shape: base64url(random + routing payload) . 01 . payload length (2 base36) and a CRC32
        (7 base36) over what precedes it. No rule checks the CRC; the shape is what matters."""
        import base64
        import zlib

        payload = self.rng.randbytes(16) + f"c:1\no:{self.rng.randrange(1, 10**6):x}\nu:{self.chars(HEX, 6)}".encode()
        body = "glpat-" + base64.urlsafe_b64encode(payload).decode().rstrip("=") + ".01."
        return body + _base36(len(payload), 2) + _base36(zlib.crc32(body.encode()), 7)

    def stripe_live(self) -> str:
        return "sk_live_" + self.chars(ALNUM, 99)

    def hex(self, n: int) -> str:
        return self.chars(HEX, n)

    def password(self) -> str:
        return self.chars(ALNUM, 10) + "!" + self.chars(string.digits, 3) + self.chars(ALNUM, 6)

    # Helpers added for the CLI, report and canary tests. Everything stays random: only the shape is real.

    def clean_chars(self, alphabet: str, n: int) -> str:
        """Random text that the placeholder heuristics do not mistake for a dummy value.

        About one random base62 string in 10^4 contains 'todo', 'xxxx' or 'dummy' by chance and is then
        dropped as a placeholder (see test_heuristics.py); re-rolling keeps tests that expect a finding
        from flaking.
        """
        from scanner.detect.heuristics import placeholder_reason

        text = self.chars(alphabet, n)
        for _ in range(1000):
            if placeholder_reason(text) is None:
                break
            text = self.chars(alphabet, n)
        return text

    def github_clean(self, prefix: str = "ghp_") -> str:
        """A valid GitHub token whose random part no heuristic rejects."""
        from scanner.detect.heuristics import placeholder_reason

        token = self.github(prefix)
        for _ in range(1000):
            if placeholder_reason(token) is None:
                break
            token = self.github(prefix)
        return token

    def github_fine_grained(self) -> str:
        return "github_pat_" + self.clean_chars(ALNUM, 22) + "_" + self.clean_chars(ALNUM, 59)

    def gcp_api_key(self) -> str:
        return "AIza" + self.clean_chars(ALNUM + "_-", 35)

    def anthropic(self) -> str:
        return "sk-ant-api03-" + self.clean_chars(ALNUM + "_-", 93) + "AA"

    def huggingface(self) -> str:
        """Re-rolled until its entropy clears the rule's floor (4.2) with a margin: about one draw in 1000 does not."""
        return self._above_entropy(lambda: "hf_" + self.clean_chars(string.ascii_letters, 34), 4.3)

    @staticmethod
    def _above_entropy(draw: Callable[[], str], floor: float) -> str:
        """The first of ``draw``'s tokens whose Shannon entropy is at least ``floor`` (1000 draws at most)."""
        from scanner.detect.entropy import shannon_entropy

        token = draw()
        for _ in range(1000):
            if shannon_entropy(token) >= floor:
                break
            token = draw()
        return token

    def age_secret_key(self) -> str:
        return "AGE-SECRET-KEY-1" + self.clean_chars("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)

    def private_key_pem(self, label: str = "PRIVATE KEY", size: int = 480) -> str:
        """A PEM block of random bytes: the shape of a private key, none of its structure."""
        import base64

        body = base64.b64encode(self.rng.randbytes(size)).decode()
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"

    # Leak response (tests/test_provider_*.py).

    def anthropic_hint(self, key: str) -> str:
        """The Admin API's ``partial_key_hint`` of ``key``: ``sk-ant-api03-`` and 3 characters, ``...``, the last 4."""
        return f"{key[:16]}...{key[-4:]}"

    def npm_redacted(self, token: str) -> str:
        """The registry's redacted form of an ``npm_`` token in its token list: the first 8 and last 4 characters."""
        return f"{token[:8]}...{token[-4:]}"

    @staticmethod
    def rsa_key_and_certificate() -> tuple[str, bytes]:
        """A fresh RSA private key (PKCS#8 PEM, as in a Google service-account key file) and a self-signed X.509
        certificate of its public key (PEM, as the IAM API serves it with publicKeyType=TYPE_X509_PEM_FILE)."""
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leakstop test service account")])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return pem, certificate.public_bytes(serialization.Encoding.PEM)


def _base36(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = (string.digits + string.ascii_lowercase)[rest] + digits
    return digits.rjust(width, "0")[-width:]
