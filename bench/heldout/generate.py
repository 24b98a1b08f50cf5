#!/usr/bin/env python3
"""Write a second, held-out-style corpus: every rule's documented format in other projects' sample contexts,
and the negatives scanners' suites use (issue #13).

Usage::

    python bench/heldout/generate.py OUTDIR [--names FILE] [--seed N] [--rules GLOB]

Nothing realistic is stored in the repository: the values come from the rules' own generated ``examples`` (the
secret group of each example) and from a seeded random generator, written to OUTDIR at run time.

Positives (``p/``): each rule's example secrets in a bare line, env, Python, JS, Go, YAML, JSON, XML, TOML, a curl
header and a URL query string; the variable is named after the provider (a value without a prefix is only
matched next to the provider's name). With ``--names FILE`` (one provider name a line, e.g. the detector
directory names of another scanner) each name also gets a random key in a ``NAME_API_KEY = "…"`` assignment:
the long tail that only the generic keyword-and-entropy family can find.

Negatives (``n/``): the same token one character short, one long and with a character outside its alphabet
(fixed-length formats only); placeholders; hashes, UUIDs and base64 of ordinary text in secret-named variables;
code reading a secret from the environment or a vault; test-fixture words; lockfile integrity hashes.

Writes OUTDIR/labels.jsonl: one object a line, ``{"path", "label": "pos"|"neg", "kind", "provider", "rule",
"secret", "random"}``; ``bench/heldout/score.py`` scores a scan against it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import random
import re
import string
import sys
import uuid
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scanner.ruleset import CompiledRule, load_ruleset

# context name -> (file name, template); {name} is the variable, {value} the secret.
CONTEXTS: dict[str, tuple[str, str]] = {
    "bare": ("notes.txt", "{value}\n"),
    "env": (".env", "{NAME}={value}\n"),
    "python": ("settings.py", 'import os\n\n{NAME} = "{value}"\n'),
    "js": ("config.js", "const {name} = '{value}';\nmodule.exports = {{ {name} }};\n"),
    "go": ("main.go", 'package main\n\nconst {camel} = "{value}"\n'),
    "yaml": ("config.yaml", "service:\n  {name}: {value}\n"),
    "json": ("config.json", '{{"{camel}": "{value}", "timeout": 30}}\n'),
    "xml": ("web.config", '<appSettings>\n  <add key="{NAME}" value="{value}" />\n</appSettings>\n'),
    "toml": ("config.toml", '[service]\n{name} = "{value}"\n'),
    "curl": ("call.sh", "curl -s https://api.{host}.com/v1/me \\\n  -H 'Authorization: Bearer {value}'\n"),
    "url": ("links.md", "See https://api.{host}.com/v1/data?api_key={value}&format=json\n"),
}

PLACEHOLDERS = (
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "<your-api-key>",
    "${{{NAME}}}",
    "changeme",
    "your_api_key_here",
    "{{{{ secrets.{NAME} }}}}",
    "REPLACE_WITH_YOUR_KEY",
    "<%= ENV['{NAME}'] %>",
    "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX",
    "********",
    "sk_test_placeholder_value",
    "%({name})s",
)

ENV_READS = (
    ("app.py", '{NAME} = os.environ["{NAME}"]\n'),
    ("app2.py", '{name} = os.getenv("{NAME}", "")\n'),
    ("app.js", "const {name} = process.env.{NAME};\n"),
    ("App.java", 'String {camel} = System.getenv("{NAME}");\n'),
    ("main.go", '{camel} := os.Getenv("{NAME}")\n'),
    ("app.rb", "{name} = ENV['{NAME}']\n"),
    ("ci.yml", "env:\n  {NAME}: ${{{{ secrets.{NAME} }}}}\n"),
    ("vault.py", '{name} = client.secrets.kv.v2.read_secret_version(path="apps/{name}")["data"]["data"]["key"]\n'),
    ("run.sh", "export {NAME}=$(cat /run/secrets/{name})\n"),
    ("vault.hcl", 'password = data.vault_generic_secret.db.data["{name}"]\n'),
    (
        "k8s.yaml",
        "env:\n  - name: {NAME}\n    valueFrom:\n      secretKeyRef:\n        name: app\n        key: {name}\n",
    ),
    ("settings.py", '{NAME} = config("{NAME}", default=None)\n'),
)

FIXTURE_WORDS = (
    "test_password",
    "dummy-api-key-for-tests",
    "fake_token_123",
    "example",
    "not-a-real-secret",
    "mock_secret_value",
    "testtesttest",
    "secret",
    "password123",
    "your-token",
    "sample_access_token",
    "foobar",
)

TEXTS = (
    "hello world",
    "the quick brown fox jumps over the lazy dog",
    "release notes for version 2.4.1",
    "user@example.com",
    "configuration",
    "lorem ipsum dolor sit amet",
    "admin",
    "production database",
)

SECRET_NAMES = ("API_KEY", "SECRET_KEY", "ACCESS_TOKEN", "AUTH_TOKEN", "CLIENT_SECRET", "PASSWORD", "api_secret")


def entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(c / len(value) * math.log2(c / len(value)) for c in counts.values())


def random_looking(value: str) -> bool:
    """A value a reader would call random: long, high entropy, no separators of structured forms."""
    return len(value) >= 16 and entropy(value) >= 3.5 and not re.search(r"[\s:@/]", value)


def secret_of(rule: CompiledRule, example: str) -> str | None:
    match = rule.pattern.search(example.encode())
    if not match:
        return None
    group = match.group(rule.secret_group) if rule.secret_group else match.group(0)
    return group.decode() if group else None


def fixed_length(rule: CompiledRule) -> bool:
    """A format of one length: no open or ranged quantifier in the regex (then a one-char change breaks it)."""
    return not re.search(r"\{\d+,\d*\}|[+*](?!\?)|\?(?![:=!<P])", rule.spec.regex.replace("(?i)", ""))


def stem(rule: CompiledRule) -> str:
    """The provider's name as a variable stem (rules without a prefix match only next to that name)."""
    for raw in (rule.spec.provider, *rule.spec.keywords):
        word = re.sub(r"[^a-z0-9]", "", raw.lower())
        if len(word) >= 3 and any(word in k.replace("-", "").replace("_", "") for k in rule.spec.keywords):
            return word
    word = re.sub(r"[^a-z0-9]", "", (rule.spec.keywords or ("app",))[0].lower())
    return word or "app"


def names(base: str, suffix: str = "api_key") -> dict[str, str]:
    snake = f"{base}_{suffix}".lower()
    parts = snake.split("_")
    return {
        "name": snake,
        "NAME": snake.upper(),
        "camel": parts[0] + "".join(p.title() for p in parts[1:]),
        "host": base.lower(),
    }


class Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.labels: list[dict[str, object]] = []
        self.count = 0

    def add(self, label: str, kind: str, fname: str, text: str, **meta: object) -> None:
        self.count += 1
        rel = f"{label[0]}/{self.count:05d}/{fname}"
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.labels.append({"path": rel, "label": label, "kind": kind, **meta})


def mutations(value: str, rng: random.Random) -> dict[str, str]:
    alphabet = string.hexdigits[:16] if re.fullmatch(r"[0-9a-f]+", value) else string.ascii_letters + string.digits
    outside = "g" if alphabet.startswith("0123") else "~"
    mid = len(value) // 2 + 1
    return {
        "short": value[:-1],
        "long": value + rng.choice(alphabet),
        "alphabet": value[:mid] + outside + value[mid + 1 :],
    }


def rule_samples(out: Writer, rules: list[CompiledRule], rng: random.Random) -> None:
    for rule in rules:
        if rule.spec.generic:
            continue
        secrets = [s for s in (secret_of(rule, e) for e in rule.spec.examples) if s and "\n" not in s]
        for secret in secrets[:2]:
            meta = {"provider": rule.spec.provider, "rule": rule.id, "secret": secret}
            fields = names(stem(rule), rng.choice(("api_key", "token", "secret")))
            rand = random_looking(secret)
            for ctx, (fname, template) in CONTEXTS.items():
                if ctx in ("curl", "url") and re.search(r"[\s'\"&]", secret):
                    continue
                text = template.format(value=secret, **fields)
                out.add("pos", ctx, fname, text, random=rand, **meta)
            if fixed_length(rule) and rand:
                for kind, bad in mutations(secret, rng).items():
                    out.add("neg", f"off-by-one-{kind}", ".env", f"{fields['NAME']}={bad}\n", **meta | {"secret": bad})


def tail_samples(out: Writer, provider_names: list[str], rng: random.Random) -> None:
    shapes = (
        lambda: "".join(rng.choice("0123456789abcdef") for _ in range(32)),
        lambda: "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40)),
        lambda: str(uuid.UUID(int=rng.getrandbits(128))),
        lambda: "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(24)),
    )
    contexts = ("env", "python", "yaml", "json", "js")
    for i, provider in enumerate(provider_names):
        secret = shapes[i % len(shapes)]()
        ctx = contexts[i % len(contexts)]
        fname, template = CONTEXTS[ctx]
        text = template.format(value=secret, **names(re.sub(r"[^a-z0-9]", "", provider.lower()) or "app"))
        out.add("pos", f"tail-{ctx}", fname, text, provider=provider, rule="", secret=secret, random=True)


def negative_samples(out: Writer, rng: random.Random) -> None:
    for placeholder in PLACEHOLDERS:
        for ctx in ("env", "python", "yaml", "json"):
            fields = names(rng.choice(("stripe", "twilio", "sendgrid", "acme")), rng.choice(("api_key", "token")))
            value = placeholder.format(**fields)
            fname, template = CONTEXTS[ctx]
            out.add("neg", "placeholder", fname, template.format(value=value, **fields), secret=value)
    for text in TEXTS:
        data = text.encode()
        forms = {
            "md5": hashlib.md5(data).hexdigest(),
            "sha1": hashlib.sha1(data).hexdigest(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "base64": base64.b64encode(data).decode(),
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_DNS, text)),
        }
        for kind, value in forms.items():
            fields = names("app", rng.choice(SECRET_NAMES).lower())
            ctx = rng.choice(("env", "python", "yaml", "json"))
            fname, template = CONTEXTS[ctx]
            out.add("neg", f"{kind}-of-text", fname, template.format(value=value, **fields), secret=value)
    for fname, template in ENV_READS:
        for suffix in ("api_key", "secret_key", "password"):
            fields = names(rng.choice(("stripe", "db", "github")), suffix)
            out.add("neg", "env-read", fname, template.format(**fields), secret="")
    for word in FIXTURE_WORDS:
        for ctx in ("env", "python", "yaml"):
            fields = names("app", rng.choice(SECRET_NAMES).lower())
            fname, template = CONTEXTS[ctx]
            out.add("neg", "fixture-word", fname, template.format(value=word, **fields), secret=word)
    lockfile_samples(out, rng)


def lockfile_samples(out: Writer, rng: random.Random) -> None:
    for n in range(8):
        digest = hashlib.sha512(f"package-{n}".encode()).digest()
        sri = "sha512-" + base64.b64encode(digest).decode()
        sha1 = hashlib.sha1(f"pkg{n}".encode()).hexdigest()
        sha256 = hashlib.sha256(f"pkg{n}".encode()).hexdigest()
        name = f"left-pad-{n}"
        out.add(
            "neg",
            "lockfile",
            "package-lock.json",
            json.dumps({"packages": {f"node_modules/{name}": {"version": "1.3.0", "integrity": sri}}}, indent=2),
            secret=sri,
        )
        out.add(
            "neg",
            "lockfile",
            "yarn.lock",
            f'{name}@^1.3.0:\n  version "1.3.0"\n  resolved "https://registry.yarnpkg.com/{name}/-/{name}-1.3.0.tgz#{sha1}"\n'
            f"  integrity {sri}\n",
            secret=sha1,
        )
        out.add(
            "neg",
            "lockfile",
            "poetry.lock",
            f'[[package]]\nname = "{name}"\nversion = "1.3.0"\n\n[package.files]\nhash = "sha256:{sha256}"\n',
            secret=sha256,
        )
        out.add(
            "neg",
            "lockfile",
            "go.sum",
            f"github.com/acme/{name} v1.3.0 h1:{base64.b64encode(digest[:32]).decode()}\n",
            secret="",
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--names", type=Path, help="provider names, one a line: random keys next to each name")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--rules", default="*", help="only rules whose id matches this glob (default: all)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = Writer(args.outdir)
    rules = sorted((r for r in load_ruleset().rules if fnmatch(r.id, args.rules)), key=lambda r: r.id)
    rule_samples(out, rules, rng)
    if args.names:
        lines = [n.strip() for n in args.names.read_text().splitlines()]
        tail_samples(out, [n for n in lines if n and not n.startswith("#")], rng)
    negative_samples(out, rng)
    with (args.outdir / "labels.jsonl").open("w") as fh:
        for label in out.labels:
            fh.write(json.dumps(label) + "\n")
    kinds = Counter(str(label["label"]) for label in out.labels)
    print(f"{args.outdir}: {kinds['pos']} positives, {kinds['neg']} negatives")
    return 0


if __name__ == "__main__":
    sys.exit(main())
