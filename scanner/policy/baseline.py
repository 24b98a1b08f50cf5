"""``.leakstop-baseline.json``: the findings a team has accepted, as keyed fingerprints only.

Format, version 2::

    {"version": 2, "salt": "<random hex>", "fingerprints": ["<HMAC-SHA256(salt, rule, secret, path) hex>", ...],
     "labels": {"<fingerprint>": "true-positive" | "false-positive", ...}}

``labels`` holds what ``leakstop baseline audit`` recorded for a fingerprint (version 1 had none).

No secret, no line number (moving code does not resurface a finding), no timestamp, fingerprints sorted and a
trailing newline: the file is byte-stable when nothing changed, so it does not churn in merges. Paths are
relative to the baseline's directory (the repository root). Older versions are upgraded on load by the
functions in ``UPGRADES`` (detect-secrets' ``core/upgrades`` is the model); a newer version is an error.

A scan can also compare against another tool's file (``load_any`` sniffs the format): a detect-secrets
``.secrets.baseline``, a gitleaks JSON report or a ``.gitleaksignore`` (``scanner.policy.migrate``). Every kind answers
``contains`` (the ``Matcher`` protocol); only ours can be updated or pruned.

Every read-modify-write of the file (``update``, ``prune``, ``audit``, ``import``) reads and writes it inside
``updating``: two writers at once (two CI jobs, two developers' hooks) each keep the other's entries.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from scanner.atomicfile import locked, write_atomic
from scanner.errors import ConfigError
from scanner.lazyre import LazyPattern

if TYPE_CHECKING:
    from scanner.models import Match

VERSION = 2
LABELS = ("true-positive", "false-positive")
_HEX = LazyPattern(r"[0-9a-f]*")
_FINGERPRINT_LENGTH = 64


class BaselineError(ConfigError):
    """An edited, corrupted or too-new baseline: exit 2 with one line naming the file."""


class Matcher(Protocol):
    """What a scan asks a baseline: is this finding in it? Paths are relative to the baseline's directory."""

    @property
    def path(self) -> str: ...

    def relative(self, path: str, base: str) -> str: ...

    def contains(self, rule_id: str, secret: str, rel_path: str, match: Match, commit: str) -> bool: ...

    def label(self, rule_id: str, secret: str, rel_path: str) -> str:
        """What ``baseline audit`` recorded for a finding the baseline contains ("" if nothing)."""
        ...


def relative_to(root: str, path: str, base: str) -> str:
    """``path`` as reported (relative to ``base``, or absolute), relative to ``root``; '/'-separated."""
    rel = os.path.relpath(os.path.normpath(os.path.join(base, path)), root)
    if rel.startswith(".."):
        rel = path
    return rel.replace(os.sep, "/")


@dataclass(frozen=True)
class Baseline:
    """The accepted findings of a baseline file: salted fingerprints and their labels."""

    path: str
    salt: str
    fingerprints: frozenset[str]
    labels: dict[str, str] = field(default_factory=dict, compare=False)  # fingerprint -> one of LABELS

    @functools.cached_property
    def root(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))

    @functools.cached_property
    def _key(self) -> bytes:
        return bytes.fromhex(self.salt)

    def relative(self, path: str, base: str) -> str:
        """``path`` as reported (relative to ``base``, or absolute), relative to the baseline's root."""
        return relative_to(self.root, path, base)

    def contains(self, rule_id: str, secret: str, rel_path: str, match: Match, commit: str) -> bool:
        return bool(self.fingerprints) and self.keyed(rule_id, secret, rel_path) in self.fingerprints

    def label(self, rule_id: str, secret: str, rel_path: str) -> str:
        return self.labels.get(self.keyed(rule_id, secret, rel_path), "") if self.labels else ""

    def fingerprint(self, rule_id: str, secret: str, path: str, base: str) -> str:
        return self.keyed(rule_id, secret, self.relative(path, base))

    def keyed(self, rule_id: str, secret: str, rel_path: str) -> str:
        """The fingerprint of a finding whose path is already relative to the baseline's root."""
        import hmac  # loads OpenSSL: only where a finding meets a baseline (scanner/digests.py)

        message = b"\0".join(p.encode("utf-8", "surrogatepass") for p in (rule_id, secret, rel_path))
        return hmac.digest(self._key, message, "sha256").hex()


def new_baseline(path: str, fingerprints: Iterable[str] = ()) -> Baseline:
    import secrets  # only to create one: secrets brings base64 and random onto every scan's start-up

    return Baseline(path=path, salt=secrets.token_hex(16), fingerprints=frozenset(fingerprints))


def with_fingerprints(baseline: Baseline, path: str, fingerprints: frozenset[str]) -> Baseline:
    """``baseline`` holding ``fingerprints``: labels of the fingerprints kept stay, the others go."""
    labels = {f: label for f, label in baseline.labels.items() if f in fingerprints}
    return Baseline(path=path, salt=baseline.salt, fingerprints=fingerprints, labels=labels)


def dumps(baseline: Baseline) -> str:
    labels = {f: baseline.labels[f] for f in sorted(baseline.labels) if f in baseline.fingerprints}
    doc = {"version": VERSION, "salt": baseline.salt, "fingerprints": sorted(baseline.fingerprints), "labels": labels}
    return json.dumps(doc, indent=2) + "\n"


def write(baseline: Baseline) -> bool:
    """Write the file if its bytes change; True if it did."""
    text = dumps(baseline)
    target = Path(baseline.path)
    try:
        if target.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    try:
        write_atomic(target, text.encode("utf-8"))  # never half a baseline, whatever happens mid-write
    except OSError as exc:
        raise BaselineError(f"{baseline.path}: cannot write baseline: {exc.strerror}") from None
    return True


@contextlib.contextmanager
def updating(path: str) -> Iterator[None]:
    """Hold the baseline's lock (``atomicfile.locked``) while it is read, changed and written."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locked(Path(path)))
        except OSError as exc:
            raise BaselineError(f"{path}: cannot lock baseline for writing: {exc.strerror or exc}") from None
        yield


def _upgrade_0_to_1(doc: dict[str, Any], source: str) -> dict[str, Any]:
    """Version 0 kept fingerprints as a dict {fingerprint: rule id}; version 1 keeps a sorted list."""
    fingerprints = doc.get("fingerprints")
    if not isinstance(fingerprints, dict):
        raise BaselineError(f"{source}: baseline version 0: fingerprints must be an object")
    return {"version": 1, "salt": doc.get("salt"), "fingerprints": sorted(fingerprints)}


def _upgrade_1_to_2(doc: dict[str, Any], source: str) -> dict[str, Any]:
    """Version 2 adds audit labels; a version 1 baseline has none yet."""
    return {**doc, "version": 2, "labels": {}}


# version -> function turning a document of that version into one of the next version.
UPGRADES: dict[int, Callable[[dict[str, Any], str], dict[str, Any]]] = {0: _upgrade_0_to_1, 1: _upgrade_1_to_2}


def upgrade(doc: dict[str, Any], source: str) -> dict[str, Any]:
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise BaselineError(f"{source}: baseline: version must be a non-negative integer")
    if version > VERSION:
        raise BaselineError(
            f"{source}: baseline version {version} is newer than this leakstop reads ({VERSION}); upgrade leakstop"
        )
    while version < VERSION:
        doc = UPGRADES[version](doc, source)
        version = doc["version"]
    return doc


def parse(text: str, source: str) -> Baseline:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{source}: baseline is not valid JSON: {exc}") from None
    except RecursionError:
        raise BaselineError(f"{source}: baseline: JSON nested too deeply") from None
    if not isinstance(doc, dict):
        raise BaselineError(f"{source}: baseline must be a JSON object")
    doc = upgrade(doc, source)
    salt = doc.get("salt")
    if not isinstance(salt, str) or not salt or len(salt) % 2 or not _HEX.fullmatch(salt):
        raise BaselineError(f"{source}: baseline: salt is missing or not lowercase hex")
    fingerprints = doc.get("fingerprints")
    if not isinstance(fingerprints, list) or not all(isinstance(f, str) for f in fingerprints):
        raise BaselineError(f"{source}: baseline: fingerprints must be a list of strings")
    # One regex call over the joined list checks every entry's alphabet; the lengths are checked alone.
    if any(len(f) != _FINGERPRINT_LENGTH for f in fingerprints) or not _HEX.fullmatch("".join(fingerprints)):
        raise BaselineError(f"{source}: baseline: every fingerprint must be 64 lowercase hex characters")
    labels = doc.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) and v in LABELS for v in labels.values()):
        raise BaselineError(f"{source}: baseline: labels must map fingerprints to {' or '.join(LABELS)}")
    extra = set(doc) - {"version", "salt", "fingerprints", "labels"}
    if extra:
        raise BaselineError(f"{source}: baseline: unknown field {sorted(extra)[0]!r}")
    return Baseline(path=source, salt=salt, fingerprints=frozenset(fingerprints), labels=dict(labels))


def read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BaselineError(f"{path}: baseline is not UTF-8 text") from None


def load(path: str | Path) -> Baseline:
    """Our own baseline. (``migrate.load_own`` also says how to import another tool's file.)"""
    return parse(read(path), str(path))


def repository_root(path: str) -> Path:
    """The directory holding ``.git`` above ``path``, else ``path``'s own directory."""
    start = Path(path).resolve()
    if not start.is_dir():
        start = start.parent
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return start
