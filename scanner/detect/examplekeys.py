"""Published example credentials (the AWS documentation keys, Google's sample Firebase web API keys, Stripe's
documentation test keys, ...) and public constants shaped like keys (Pulumi's secret sigil), recognised by the
SHA-256 of their text.

They are public, print in providers' docs and are copied into READMEs and tests everywhere, so a finding on one
is noise. The list holds digests only (``example_keys.txt``), never the values: leakstop's scan of its own
repository stays clean, and the list says nothing a reader could use.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from scanner import digests

DATA_FILE = Path(__file__).with_name("example_keys.txt")


@cache
def example_digests() -> frozenset[str]:
    """The listed digests: the first word of each line that is neither blank nor a comment."""
    lines = DATA_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.split()[0].lower() for line in lines if line.strip() and not line.startswith("#"))


def is_published_example(secret: str) -> bool:
    return digests.sha256(secret.encode("utf-8")).hexdigest() in example_digests()
