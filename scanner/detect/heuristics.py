"""False-positive heuristics: reasons a regex match is not a live secret.

Each check returns a short reason string (kept for debugging and the rules check) or ``None``. They run after
the entropy and checksum checks, on the secret text and, for generic rules, on the whole match, whose left side
names what is being assigned.
"""

from __future__ import annotations

import binascii
from itertools import pairwise

from scanner.lazyre import LazyPattern

_PLACEHOLDER = LazyPattern(
    r"(?i)(xxxx|\*\*\*\*|•••|your[_-]?(?:api[_-]?|access[_-]?|secret[_-]?)?(?:key|token|secret|password|pass)"
    r"|changeme|change[_-]me|replace[_-]?me|placeholder|redacted|dummy|example|sample|insert[_-]|"
    r"<[a-z0-9_ .-]+>|todo|fixme|not[_-]a[_-]real|fake[_-]|foobar)"
)
_TEMPLATE = LazyPattern(
    r"(\$\{|\{\{|\$\(|%\(|\{%|#\{|\bos\.environ|\bgetenv|process\.env|\bsecrets\.|\bvars?\.|\benv\.|"
    r"^\$[A-Za-z_]|^%[A-Za-z_]+%$|^\{[A-Za-z_][\w.]*\}$|ENC\[|\$ANSIBLE_VAULT|^vault:|^ref\+|^arn:aws:secretsmanager)"
)
LONG_SECRET = 100
_LONG_PLACEHOLDER = LazyPattern(
    r"(?i)(xxxxx|\.\.\.|…|<[a-z0-9_ .-]+>|\*\*\*\*|your[_ -](?:private[_ -])?key|redacted|placeholder|\$\{|\{\{)"
)
_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiop", "asdfghjkl", "zyxwvutsrqponmlkjihgfedcba")
_REPEAT = LazyPattern(r"(.)\1{5,}")

# Generic rules only: shapes that are identifiers, digests or references rather than credentials.
_UUID = LazyPattern(r"(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HEX = LazyPattern(r"(?i)^(?:sha\d*[:-])?[0-9a-f]+$")
_DIGEST_PREFIX = LazyPattern(r"(?i)^(?:sha(?:1|224|256|384|512)|md5|blake2b?|h1)[:-]")
_IDENTIFIER = LazyPattern(r"^[A-Za-z_][A-Za-z_.\-]*[A-Za-z]$|^[a-z]+(?:[A-Z][a-z]*)+$")
# Code, not a literal: a call (get_token(cfg), rsa.generate(...)), indexing (env["X"]), an attribute of a usual
# object, -> or ::.
_CODE = LazyPattern(
    r"^[A-Za-z_$][\w$]{2,}\(|\.[A-Za-z_$][\w$]*\(|^[\w.$]+\[.+\]$|"
    r"^(?:self|this|cls|ctx|config|settings|props|args|params|req|request)\.|->|::"
)
_NAME_TOKEN = LazyPattern(r"[A-Za-z_$][\w.$:-]*")
_ARN_TAIL = LazyPattern(r"\barn:[^\s\"']*$")
_DOTTED = LazyPattern(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$")
_PATH = LazyPattern(r"^(?:\.{0,2}/|~/|[A-Za-z]:\\)[^\s]*$|^[\w.-]+(?:/[\w.-]+)*/[\w-]+\.[A-Za-z]{1,5}$")
_NUMBER = LazyPattern(r"^[0-9.,_:+-]+$")
_MIME = LazyPattern(r"^(?:application|text|image|audio|video|multipart|font|model|message)/[\w.+-]+$")
_URL_NO_CREDS = LazyPattern(r"(?i)^[a-z][a-z0-9+.-]*://[^@\s]*$")
_HASHY_NAME = LazyPattern(
    r"(?i)((?<![a-z])sha\d*(?![a-z])|md5|hash|checksum|digest|integrity|revision|commit|fingerprint|etag|public[_-]?(?:key|cert)|pub_?key|"
    r"(?:client|app|tenant|workspace|subscription|object|account|project|user|key)[_-]?id\b|uuid|guid|nonce|salt|"
    r"cache[_-]?key|lookup|primary[_-]?key|foreign[_-]?key|sort[_-]?key|partition[_-]?key|id[_-]?token[_-]?hint|"
    r"idempotency[_-]?key|publishable[_-]?key|site[_-]?key|translation[_-]?key|i18n[_-]?key|"
    r"csrf|xsrf|next[_-]?(?:page[_-]?)?token|page[_-]?token|continuation|cursor|pagination|starting[_-]?token|"
    r"\w::\w)"
)
_LOCKFILE = LazyPattern(
    r"(?:^|/)(?:package-lock\.json|npm-shrinkwrap\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|Pipfile\.lock|"
    r"Cargo\.lock|go\.sum|Gemfile\.lock|composer\.lock|uv\.lock|pdm\.lock|packages\.lock\.json|"
    r"[^/]*SUMS|[^/]*\.sha(?:1|256|512)|mix\.lock|pubspec\.lock|Podfile\.lock|flake\.lock)$"
)


_CAMEL_BREAK = LazyPattern(r"(?<=[a-z0-9])(?=[A-Z])")  # commitSha -> commit_Sha: words for _HASHY_NAME
_HEX_ONLY = LazyPattern(r"[0-9a-f]+|[0-9A-F]+")
HEX_MIN_ENTROPY = 3.0  # 32+ random hex characters: about 3.7 bits a character, often under 3.5


def entropy_floor(min_entropy: float, secret: str, generic: bool) -> float:
    """The entropy a secret must reach: the rule's ``min_entropy``, lowered for long hex values of generic rules.
    Hex has 16 symbols, so its entropy tops out at 4 and a random 32-character hex key often scores under 3.5;
    judged on the same scale as base62 it would be missed (a SaaS key as 32 hex next to its name)."""
    if generic and len(secret) >= 32 and _HEX_ONLY.fullmatch(secret):
        return min(min_entropy, HEX_MIN_ENTROPY)
    return min_entropy


def _base64_like(secret: str) -> bool:
    """A value that starts with '/' but is base64 (padding, or a long random segment), not a path."""
    return secret.endswith("=") or any(len(part) >= 16 and looks_random(part) for part in secret.split("/"))


_B64 = LazyPattern(r"^[A-Za-z0-9+/]{12,}={0,2}$")
_PROSE = LazyPattern(r"^[A-Za-z][A-Za-z0-9 ,.'@!?-]*$")


def base64_of_text(secret: str) -> bool:
    """Base64 of ordinary text ('aGVsbG8gd29ybGQ=': "hello world"): decodes to printable words with spaces, an
    address or one word of letters cased as words are (lower, upper or title case: a random letters-only key, about
    1 in 200 random alphanumeric ones of 30 characters, has mixed case), not to key material. A user:password pair
    has a colon, so Basic credentials stay findings."""
    if len(secret) % 4 or not _B64.match(secret):
        return False
    try:
        # _B64 has checked the alphabet and padding: binascii alone decodes (no base64 module on the hook's path)
        text = binascii.a2b_base64(secret.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return False
    word = text.isalpha() and (text.islower() or text.isupper() or text.istitle())
    return bool(_PROSE.match(text)) and (" " in text or "@" in text or word) and ":" not in text


def _counting_up(secret: str) -> bool:
    """Hand-made fillers count up: 'abcd1234defg5678', 'a1b2c3d4567890ab'. Random text almost never holds three
    characters in a row that each follow the last (a random hex string: about one per 250 positions), so five such
    runs, or three in a short string, are a filler."""
    codes = [ord(c) for c in secret.lower()]
    runs = sum(1 for a, b, c in zip(codes, codes[1:], codes[2:], strict=False) if b == a + 1 and c == b + 1)
    return runs >= 5 or (runs >= 3 and runs * 10 >= len(secret))


def placeholder_reason(secret: str) -> str | None:
    if len(secret) >= LONG_SECRET:
        # Key material (PEM bodies, service-account JSON) legitimately holds runs like AAAAAA, and a 1,600-char
        # base64 body holds short words like 'todo' by chance; only unmistakable stand-ins count there.
        if _LONG_PLACEHOLDER.search(secret):
            return "placeholder"
        return None
    if _PLACEHOLDER.search(secret):
        return "placeholder"
    if _TEMPLATE.search(secret):
        return "template-or-reference"
    if _REPEAT.search(secret):
        return "repeated-characters"
    lowered = secret.lower()
    for run in _SEQUENCES:
        for i in range(len(run) - 7):
            if run[i : i + 8] in lowered:
                return "sequential-characters"
    if _counting_up(secret):
        return "counting-sequence"
    return None


def is_lockfile(path: str) -> bool:
    return _LOCKFILE.search(path) is not None


def looks_random(text: str) -> bool:
    """Character-class switches (upper/lower/digit) between neighbours: about 0.6 of pairs in random base62, about
    0.2-0.45 in identifiers, whose words are runs of lowercase letters (``X25519PrivateKey``, ``settings``)."""
    if len(text) < 10:
        return False
    classes = ["u" if c.isupper() else "l" if c.islower() else "d" if c.isdigit() else "o" for c in text]
    switches = sum(1 for a, b in pairwise(classes) if a != b)
    return switches / (len(text) - 1) >= 0.5


def assigned_name(context: str) -> str:
    """The key or variable a value is assigned to: the last name-like token before it on its line."""
    tokens = _NAME_TOKEN.findall(context)
    return tokens[-1].rstrip(":.-") if tokens else ""


def generic_reason(secret: str, context: str) -> str | None:
    """Extra checks for rules with no fixed token format (``generic: true``).

    ``context`` is the text before the secret on its line (bounded), which names what it is assigned to.
    """
    if _HASHY_NAME.search(_CAMEL_BREAK.sub("_", assigned_name(context))):
        return "non-secret-name"
    if _ARN_TAIL.search(context):
        return "arn"
    secret = secret.rstrip(")]},;")  # an unquoted value runs into the closing bracket of the call around it
    if _UUID.match(secret):
        return "uuid"
    if _DIGEST_PREFIX.match(secret):
        return "digest"
    if _HEX.match(secret) and len(secret) in (7, 8, 12):
        return "short-hex"
    if _NUMBER.match(secret):
        return "number"
    if _IDENTIFIER.match(secret) and not looks_random(secret):
        # Letters-only values are names (tokenizer, myCamelCaseName) unless their case flips like random text:
        # 'mxgJTe-dNnFRIBX' is a password.
        return "identifier"
    if _CODE.search(secret):
        return "code"
    if _DOTTED.match(secret) and not any(looks_random(part) for part in secret.split(".")):
        return "attribute-path"
    if _PATH.match(secret) and not _base64_like(secret):
        return "path"
    if _URL_NO_CREDS.match(secret):
        return "url"
    if _MIME.match(secret):
        return "media-type"
    if base64_of_text(secret):
        return "base64-text"
    return None
