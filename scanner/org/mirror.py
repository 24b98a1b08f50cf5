"""A bare mirror per repository in the cache folder: ``git clone --mirror`` the first time, ``git fetch`` after.

The folder's name is a hash of the clone URL (plus a readable tail), so two repositories never share one. A new
mirror is cloned beside its place and renamed into it, so a clone cut short leaves nothing half-made behind.
Git's own error is cut to one line with any URL credentials hidden.

``remote_refs`` and ``mirror_refs`` digest the same thing (every ``refs/`` name and the object it points at, peeled
tags and ``HEAD`` left out) on both sides: when the remote's digest equals the one the mirror had after the last
run's fetch, nothing moved and the repository needs neither a fetch nor a walk.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from scanner.httpsettings import shown_url
from scanner.sources.git.repo import pygit2_module
from scanner.transport import HttpClient, HttpError

TIMEOUT = 3600.0  # seconds one clone or fetch may take
ADVERT_TIMEOUT = 60.0  # seconds a git:// remote may leave its ref advertisement waiting, between two reads
MAX_ADVERT = 1 << 28  # bytes of ref advertisement at most (a remote that never ends it is refused)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Never ask for a password on a terminal: a private repository the environment cannot read is an issue.
GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": "", "GIT_SSH_COMMAND": "ssh -oBatchMode=yes"}


class MirrorError(Exception):
    """A clone or fetch that failed: its message is one line, safe to show."""


def mirror_path(cache: Path, url: str) -> Path:
    digest = hashlib.sha256(url.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    tail = _UNSAFE.sub("_", url.rstrip("/").rsplit("/", 1)[-1])[:40]
    return cache / "mirrors" / f"{digest}-{tail}"


def update(cache: Path, url: str, auth: str = "") -> tuple[Path, bool]:
    """The repository's mirror, cloned or fetched now; True when it already existed (fetched). ``auth`` names the
    environment variable whose token goes with HTTPS requests to the URL's own origin."""
    path = mirror_path(cache, url)
    extra = auth_env(url, auth, os.environ)
    if (path / "HEAD").is_file():
        _git(["git", "--git-dir", str(path), "fetch", "--prune", "--quiet", "origin"], url, extra)
        return path, True
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _git(["git", "clone", "--mirror", "--quiet", "--", url, str(partial)], url, extra)
        os.replace(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return path, False


def remote_refs(url: str, auth: str = "", http: HttpClient | None = None) -> str:
    """The digest of the refs the remote advertises now (no objects fetched): a local path's, a ``git://``
    remote's and (given ``http``) a smart HTTP(S) remote's read in this process; any other's, and an HTTP remote
    that did not answer as git's smart protocol does, by one ``git ls-remote`` (git's own transports, proxies,
    credential helpers and error messages)."""
    read_here = local_refs(url) or daemon_refs(url) or (http_refs(url, auth, http) if http is not None else None)
    if read_here:
        return read_here
    return refs_digest(_git(["git", "ls-remote", "--", url], url, auth_env(url, auth, os.environ)))


def local_refs(url: str) -> str | None:
    """The refs digest of a remote that is a repository on this machine (``--repos`` lists paths), read here with
    libgit2: ``git ls-remote`` costs two processes (it starts ``git upload-pack``), 5 ms of CPU, and a second run
    over 200 such repositories spent most of its CPU there. None: not a repository here (``ls-remote`` decides,
    and says what is wrong). A repository hiding refs from upload-pack (``uploadpack.hideRefs``) gives another
    digest than its mirror: it is fetched each run, as if it had moved."""
    if "://" in url or not os.path.isdir(url):
        return None
    pygit2 = pygit2_module()
    try:
        repo = pygit2.Repository(url, pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
        listing = "".join(f"{repo.references[name].resolve().target}\t{name}\n" for name in repo.references)
    except (pygit2.GitError, KeyError, ValueError):
        return None
    return refs_digest(listing)


def mirror_refs(path: Path) -> str:
    """The digest of the mirror's refs, in the form ``remote_refs`` gives."""
    return refs_digest(
        _git(["git", "--git-dir", str(path), "for-each-ref", "--format=%(objectname)%09%(refname)"], str(path))
    )


def refs_digest(listing: str) -> str:
    """The digest of ``OID<TAB>NAME`` lines (what both commands print): ``refs/`` names only, peeled tags left out."""
    pairs = (line.split("\t", 1) for line in listing.splitlines() if "\t" in line)
    lines = sorted(f"{oid} {name}" for oid, name in pairs if name.startswith("refs/") and not name.endswith("^{}"))
    return hashlib.sha256("\n".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


def daemon_refs(url: str) -> str | None:
    """The refs digest of a ``git://`` remote, read here over one socket: the advertisement ``git upload-pack``
    sends first (protocol v0, what ``git ls-remote`` prints), then a flush (nothing wanted). No process: a second
    run asks every remote, and 200 ``git ls-remote`` processes were most of its own CPU. None: not ``git://``."""
    parts = urlsplit(url)
    if parts.scheme != "git" or not parts.hostname:
        return None
    request = f"git-upload-pack {parts.path or '/'}\0host={parts.netloc}\0".encode("utf-8", "surrogateescape")
    try:
        with socket.create_connection((parts.hostname, parts.port or 9418), timeout=ADVERT_TIMEOUT) as sock:
            sock.sendall(b"%04x" % (len(request) + 4) + request)
            with sock.makefile("rb") as stream:
                listing = "".join(_advertised(stream, url))
            sock.sendall(b"0000")
    except OSError as exc:
        raise MirrorError(f"{_shown(url)}: cannot read its refs: {exc.strerror or exc}") from None
    return refs_digest(listing)


def http_refs(url: str, auth: str, http: HttpClient) -> str | None:
    """The refs digest of a smart HTTP(S) remote (GitHub, GitLab): ``GET info/refs?service=git-upload-pack``, the
    same advertisement as over ``git://`` after a ``# service=`` line and a flush (git's http-protocol
    documentation), through the shared transport: one kept-alive connection per origin instead of a ``git
    ls-remote`` process and a TLS handshake per repository. The token ``auth`` names goes to the URL's own origin
    only. None: not HTTP(S), or an answer that is not the smart advertisement (a refusal, a dumb server, an error):
    ``git ls-remote`` then asks, with the user's credential helpers, and says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    advertised = url.rstrip("/") + "/info/refs?service=git-upload-pack"
    try:
        with http.get(advertised, auth=_basic(url, auth, os.environ), max_size=MAX_ADVERT) as response:
            kind = response.header("Content-Type").split(";")[0].strip()
            body = response.read() if response.status == 200 else b""
    except HttpError:
        return None
    service = b"001e# service=git-upload-pack\n0000"
    if kind != "application/x-git-upload-pack-advertisement" or not body.startswith(service):
        return None
    try:
        return refs_digest("".join(_advertised(io.BytesIO(body[len(service) :]), url)))
    except MirrorError:
        return None


def _advertised(stream: BinaryIO, url: str) -> Iterator[str]:
    """``OID<TAB>NAME`` lines from the pkt-lines up to the flush (capabilities after a NUL left out)."""
    total = 0
    while True:
        head = stream.read(4)
        try:
            size = int(head, 16) if len(head) == 4 else -1
        except ValueError:
            size = -1
        if size < 0 or 0 < size < 4:
            raise MirrorError(f"{_shown(url)}: the remote hung up or did not speak git's protocol")
        if size == 0:
            return
        total += size
        data = stream.read(size - 4)
        if data.startswith(b"ERR ") or total > MAX_ADVERT:
            why = data[4:].decode("utf-8", "replace").strip() if total <= MAX_ADVERT else "too many refs"
            raise MirrorError(f"{_shown(url)}: {_hide_credentials(why)}")
        oid, _, name = data.split(b"\0", 1)[0].rstrip(b"\n").partition(b" ")
        yield f"{oid.decode('ascii', 'replace')}\t{name.decode('utf-8', 'surrogateescape')}\n"


def clean_partials(cache: Path) -> int:
    """Remove the half-made clones a killed run left in the cache (the caller holds the cache's lock)."""
    removed = 0
    for partial in (cache / "mirrors").glob("*.partial-*"):
        shutil.rmtree(partial, ignore_errors=True)
        removed += 1
    return removed


def auth_env(url: str, variable: str, environ: Mapping[str, str]) -> dict[str, str]:
    """Git's config through the environment (never argv, which other users can read): an Authorization header
    for HTTPS requests under the URL's origin only, with the token ``variable`` holds in this process."""
    basic = _basic(url, variable, environ)
    if not basic:
        return {}
    origin = f"https://{urlsplit(url).netloc.rsplit('@', 1)[-1]}/"
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{origin}.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: {basic}",
    }


def _basic(url: str, variable: str, environ: Mapping[str, str]) -> str:
    """The Authorization value for the token ``variable`` holds, for an HTTPS URL only (never over plain HTTP)."""
    token = environ.get(variable, "") if variable else ""
    parts = urlsplit(url)
    if not token or parts.scheme != "https" or not parts.hostname:
        return ""
    user = "oauth2" if variable == "GITLAB_TOKEN" else "x-access-token"
    return "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()


def _git(argv: list[str], url: str, extra: Mapping[str, str] | None = None) -> str:
    env = {**os.environ, **GIT_ENV, **(extra or {})}
    try:
        done = subprocess.run(
            argv, capture_output=True, env=env, timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        raise MirrorError(f"{_shown(url)}: git {argv[1 if argv[1] != '--git-dir' else 3]} timed out") from None
    except OSError as exc:
        raise MirrorError(f"cannot run git: {exc.strerror}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        last = next((line for line in lines if line.startswith("fatal:")), lines[-1] if lines else "failed")
        raise MirrorError(f"{_shown(url)}: {_hide_credentials(last.strip())}")
    return done.stdout.decode("utf-8", "surrogateescape")


def _hide_credentials(text: str) -> str:
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)


def _shown(url: str) -> str:
    return shown_url(url) if "://" in url else url
