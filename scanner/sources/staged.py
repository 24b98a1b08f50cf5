"""Staged changes through the ``git`` command line: the pre-commit hook's fast path.

Importing pygit2 costs about 90 ms, most of a hook's budget; three short ``git`` calls cost about 15 ms. Git
also honours everything a hook's environment says (GIT_INDEX_FILE during ``git commit -a``, GIT_DIR, worktrees)
without our help. Without a usable ``git``, ``sources.git.staged_chunks`` does the same through pygit2.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

from scanner.errors import InputError
from scanner.sources.files import Skips, printable_path
from scanner.sources.git import SUBMODULE_MODE, StagedChunk, staged_chunk

ZERO = "0" * 40


def git_available() -> bool:
    return shutil.which("git") is not None


def _git(root: str, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "-C", root, *args], input=stdin, capture_output=True, check=False)
    except OSError as exc:
        raise InputError(f"{root}: cannot run git: {exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"{root}: git {args[0]} failed: {message[-1] if message else 'no message'}")
    return done.stdout


def repository_root(path: str) -> str:
    """The working tree's top directory; a bare repository or no repository is an input error."""
    try:
        bare = _git(path, "rev-parse", "--is-bare-repository").strip() == b"true"
    except InputError:
        raise InputError(f"{path}: not a git repository (no .git found here or above)") from None
    if bare:
        raise InputError(f"{path}: a bare repository has no index to scan (--staged)")
    return _git(path, "rev-parse", "--show-toplevel").decode("utf-8", "surrogateescape").strip()


def staged_chunks_cli(root: str, max_size: int, scan_binary: bool, skips: Skips) -> Iterator[StagedChunk]:
    """What the index adds against HEAD (or against nothing before the first commit)."""
    raw = _git(root, "diff", "--cached", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-ext-diff").split(b"\0")
    entries = []
    for meta, name in zip(raw[0::2], raw[1::2], strict=False):
        if not meta.startswith(b":"):
            continue
        _old_mode, new_mode, old_id, new_id, status = meta[1:].decode("ascii").split(" ", 4)
        path = printable_path(name.decode("utf-8", "surrogateescape"))
        if status.startswith("D"):
            continue
        if int(new_mode, 8) == SUBMODULE_MODE:
            skips.skip(path, "submodule", "submodule change not followed")
            continue
        entries.append((path, old_id, new_id))
    wanted = sorted({oid for _, old, new in entries for oid in (old, new) if oid != ZERO})
    blobs = _read_blobs(root, wanted)
    for path, old_id, new_id in entries:
        data = blobs.get(new_id)
        if data is None or (old_id != ZERO and old_id not in blobs):
            skips.skip(path, "missing-object", "staged content is missing from the object store")
            continue
        staged = staged_chunk(path, new_id, blobs.get(old_id, b""), data, max_size, scan_binary, skips)
        if staged is not None:
            yield staged


def _read_blobs(root: str, oids: list[str]) -> dict[str, bytes]:
    """``git cat-file --batch``: ``<oid> <type> <size>\\n<content>\\n`` per object, ``<oid> missing`` if absent."""
    if not oids:
        return {}
    out = _git(root, "cat-file", "--batch", stdin="".join(f"{oid}\n" for oid in oids).encode())
    blobs: dict[str, bytes] = {}
    pos = 0
    while pos < len(out):
        header_end = out.index(b"\n", pos)
        header = out[pos:header_end].split()
        pos = header_end + 1
        if len(header) != 3:
            continue  # "<oid> missing"
        size = int(header[2])
        blobs[header[0].decode("ascii")] = out[pos : pos + size]
        pos += size + 1
    return blobs
