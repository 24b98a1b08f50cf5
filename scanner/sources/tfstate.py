"""The Terraform state source: ``--tfstate FILE|-|URL``, a state file, stdin or a remote backend
(``sources.tfremote``), yielded whole as structured content (``detect.structured`` ties findings to resources).

A single state that cannot be read or is not a state is an ``InputError``; in a listing (an S3 prefix, object
versions) such a state is an issue, scanned as plain text if it was read, and the scan goes on. State files met in
directory, staged and history scans are marked structured by those sources.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from scanner.errors import InputError, UsageError
from scanner.formats.tfplan import saved_plan_json
from scanner.formats.tfstate import decode_state
from scanner.httpsettings import HttpSettings
from scanner.models import Chunk, Target, TfstateOrigin
from scanner.sources.base import PlainSource, Skips, blob_id


def _read(path: str) -> tuple[bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "-"
    try:
        with open(path, "rb") as fh:
            return fh.read(), path.replace("\\", "/")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


class StateSource(PlainSource):
    target: Target = "tfstate"

    def __init__(self, location: str, all_versions: bool = False, http: HttpSettings | None = None) -> None:
        self.location = location
        self.all_versions = all_versions
        self.http = http or HttpSettings()
        self._detail = ""

    def detail(self) -> str:
        return self._detail

    def items(self, skips: Skips) -> Iterator[Chunk]:
        from scanner.sources import tfremote

        if not tfremote.is_remote(self.location):
            if self.all_versions:
                raise UsageError("--all-versions reads the versions of s3:// state; it does not apply to a file")
            data, shown = _read(self.location)
            if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):  # a saved plan (a zip)
                data = saved_plan_json(data, shown)
            decode_state(data, shown)  # not a state: say so (exit 2)
            self._detail = f"state {shown}"
            yield Chunk(data, TfstateOrigin(shown), blob_id(data), structure="tfstate")
            return
        remote = tfremote.open_remote(
            self.location, tfremote.RemoteOptions(all_versions=self.all_versions, http=self.http)
        )
        count = 0
        for document in remote.documents():
            count += 1
            if document.error:
                skips.skip(document.shown, document.reason, document.error)
                continue
            try:
                decode_state(document.data, document.shown)
            except InputError as exc:
                if not remote.listing:
                    raise
                message = str(exc).removeprefix(f"{document.shown}: ")
                skips.skip(document.shown, "invalid-state", f"scanned as plain text, not as state: {message}")
                yield Chunk(document.data, TfstateOrigin(document.shown), blob_id(document.data))
                continue
            origin = TfstateOrigin(document.shown, series=document.key if remote.listing else "")
            yield Chunk(document.data, origin, blob_id(document.data), structure="tfstate")
        self._detail = f"state {remote.shown} ({count} {'state' if count == 1 else 'states'} read)"
