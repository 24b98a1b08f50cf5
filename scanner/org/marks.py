"""Blob marks: the blobs of a repository an earlier org scan read whole and found clean, so that a later run does
not read them again (the same content at a new path, a revert, a cherry-pick across runs).

A mark is ``HMAC-SHA256(store key, blob id)`` cut to ``MARK_BYTES``, never the blob id: a blob id is the SHA-1 of
the content, so anyone holding a list of them can confirm a guessed file (a short ``.env``); without the store's
key a mark confirms nothing. The marks of one repository travel and are stored as one packed, sorted ``bytes``
(``MARK_BYTES`` a blob), which is what makes 100,000 of them cheap to send to a Dask worker.

Only blobs read whole with no match are marked (``ScanResult.clean_blobs``, the pipeline's ``known_clean`` skip that
the pre-receive cache uses too). A blob with a finding is read again wherever it comes back: skipping it could hide
a live secret once the commit its stored finding names has been force-pushed away. A later version of a file,
read only where it differs from the one before (``sources.git.blobs``), is not marked either: the part it kept
may hold a finding of that earlier version. And marks count only under the settings they were made with (ruleset,
config, leakstop version): other rules may match what these did not.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from scanner import __version__
from scanner.policy.config import Config

# 96 bits: a new blob's mark equal to a known one (a blob wrongly skipped) is a 1-in-10^28 event per pair.
MARK_BYTES = 12


class BlobMarks:
    """``known_clean`` for the pipeline (``pipeline.request.CleanBlobs``) over one repository's stored marks."""

    def __init__(self, key: bytes, config: Config, known: bytes = b"", known_settings: str = "") -> None:
        self.key = key
        self.config_text = repr(config)  # frozen dataclasses all the way down: equal configs, equal text
        self.known = unpack(known)
        self.known_settings = known_settings
        self._settings: dict[str, str] = {}

    def settings(self, ruleset_hash: str) -> str:
        """What the marks are valid under: a scan with other settings reads every blob again."""
        if ruleset_hash not in self._settings:
            self._settings[ruleset_hash] = settings_digest(ruleset_hash, self.config_text)
        return self._settings[ruleset_hash]

    def mark(self, oid: str) -> bytes:
        return hmac.new(self.key, oid.encode("ascii"), hashlib.sha256).digest()[:MARK_BYTES]

    def known_clean(self, ruleset_hash: str, oid: str) -> bool:
        if not self.known or self.settings(ruleset_hash) != self.known_settings:
            return False
        return self.mark(oid) in self.known

    def pack(self, oids: Iterable[str]) -> bytes:
        """The marks of ``oids``, packed."""
        return pack(self.mark(oid) for oid in oids)


def settings_digest(ruleset_hash: str, config_text: str) -> str:
    """The digest of what a scan's answers depend on: the ruleset, the config (its ``repr``) and leakstop's version.
    Stored with a repository's marks; the org scan also rescans a repository's whole history when it changed."""
    text = f"{ruleset_hash}\0{config_text}\0{__version__}"
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def pack(marks: Iterable[bytes]) -> bytes:
    return b"".join(sorted(set(marks)))


def unpack(packed: bytes) -> frozenset[bytes]:
    return frozenset(packed[i : i + MARK_BYTES] for i in range(0, len(packed) - MARK_BYTES + 1, MARK_BYTES))


def union(*packed: bytes) -> bytes:
    return pack(mark for one in packed for mark in unpack(one))
