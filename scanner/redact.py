"""Credential-shaped text masked wherever we show text from the scanned world (issue #18 item 8).

A rule finds one secret; the line it is on may hold more: an AWS secret key beside its detected key id, a
password in the same connection string. A snippet, and a bypass reason someone typed, go through ``redact``:
every span that looks like a credential is masked like a found secret (``wJal…(40)``), not only the matched one.

Two shapes count, chosen to over-mask rather than leak (a snippet is context, not evidence):
- the value of an assignment whose name says secret (``password=``, ``api_key:``, ``"token": "…"``,
  ``--password …``), and the password of a URL's userinfo (``scheme://user:pass@host``);
- a token of 16 or more key characters that mixes letters and digits with enough entropy (keys, hashes, random
  strings), or 24 or more of mixed case with high entropy (a random key without digits).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from scanner.lazyre import LazyPattern

_NAME = (
    r"(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth"
    r"|credentials?|client[_-]?secret|session[_-]?key|signing[_-]?key)"
)
# name (any prefix or suffix in the same word), an optional closing quote, an operator, an optional opening
# quote, the value; or a command-line option (``--password VALUE``).
_ASSIGNMENT = LazyPattern(
    rf"(?i)((?:[\w.-]*{_NAME}[\w.-]*[\"']?\s*(?:=>|:=|=|:)|(?<![\w-])--?[\w-]*{_NAME}[\w-]*\s)\s*[\"']?)"
    r"([^\s\"',;&)}\]]{3,})"
)
_USERINFO = LazyPattern(r"(?i)([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s/]{3,})(@)")
_TOKEN = LazyPattern(r"[A-Za-z0-9+/_\-!#$%*^~]{16,}={0,2}")
_WORDS = LazyPattern(r"^(?:[A-Za-z]+|\d+)(?:[-_/.](?:[A-Za-z]+|\d+))*$")  # eu-west-1, release_2024_final
# Not a credential: a template or variable, a placeholder, a word YAML reads as a constant, an already masked one.
_NOT_A_VALUE = LazyPattern(r"(?i)^(?:\$\{|\{\{|\$[a-z_(]|%\(|<|\*+$|(?:true|false|null|none|yes|no)$)|…")


def mask(value: str) -> str:
    """At most the first quarter (never more than 4 characters) and the length: ``ghp_…(40)``."""
    return f"{value[: min(4, len(value) // 4)]}…({len(value)})"


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _token_looks_secret(token: str) -> bool:
    letters = any(c.isalpha() for c in token)
    digits = any(c.isdigit() for c in token)
    if letters and digits:
        return not _WORDS.match(token) and _entropy(token) >= 3.0
    mixed_case = any(c.isupper() for c in token) and any(c.islower() for c in token)
    return mixed_case and len(token) >= 24 and _entropy(token) >= 4.2


def _assigned(found: re.Match[str]) -> str:
    """An assignment's (or a URL's userinfo's) value masked, what is around it kept."""
    value = found.group(2)
    if _NOT_A_VALUE.search(value):
        return found.group(0)  # a template, a placeholder or an already masked secret
    return found.group(1) + mask(value) + "".join(found.groups()[2:])


def redact(text: str) -> str:
    """``text`` with every credential-shaped span masked (idempotent: a mask is not masked again)."""
    text = _USERINFO.sub(_assigned, text)
    text = _ASSIGNMENT.sub(_assigned, text)
    return _TOKEN.sub(lambda m: mask(m.group(0)) if _token_looks_secret(m.group(0)) else m.group(0), text)
