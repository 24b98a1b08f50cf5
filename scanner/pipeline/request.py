"""What to scan and how: the frozen request every command, hook and integration builds at its edge.

Nothing below the CLI reads argparse values or the environment: what they say arrives here, as plain values.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from scanner.fingerprint import DEFAULT_KEY
from scanner.models import Bypass
from scanner.policy.config import Config
from scanner.sources.base import DEFAULT_MAX_FILE_SIZE

if TYPE_CHECKING:
    from scanner.httpsettings import HttpSettings
    from scanner.pipeline.policychange import PolicyChange
    from scanner.pipeline.setup import Prepared
    from scanner.policy.baseline import Matcher
    from scanner.validate.options import ValidationOptions

RequestKind = Literal["paths", "staged", "range", "history", "push", "image", "tfstate", "ci-logs"]
GIT_KINDS: frozenset[str] = frozenset({"staged", "range", "history", "push"})

# (blobs done, blobs found so far): called from the main process as a long scan goes on
Progress = Callable[[int, int], None]


class CleanBlobs(Protocol):
    """Blob ids known to hold no match under a ruleset (a pre-receive hook's cache): the walk skips them."""

    def known_clean(self, ruleset_hash: str, oid: str) -> bool: ...


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@dataclass(frozen=True)
class SourceOptions:
    """How sources read: size and binary limits, excludes, and the image and remote-state settings."""

    max_file_size: int = DEFAULT_MAX_FILE_SIZE  # 0 = no cap
    scan_binary: bool = False
    excludes: tuple[str, ...] = ()
    respect_gitignore: bool = True  # .gitignore files, and in a repository info/exclude and core.excludesFile
    default_excludes_file: str = ""  # core.excludesFile when the repository's config does not set it
    max_archive_depth: int = 2  # archives inside image layers
    platform: str = "linux/amd64"  # of a multi-platform image reference
    insecure_registries: tuple[str, ...] = ()
    all_versions: bool = False  # every object version of s3:// state
    ci_logs_runs: int = 10  # CI logs: the newest N runs or pipelines (0 = every one the listing gives)
    ci_logs_since: str = ""  # CI logs: runs created (GitLab: pipelines updated) on or after this date
    # Object directories read besides the repository's own: a pre-receive hook's quarantine, where the pushed
    # objects are until the push is accepted (the edge reads them from git's environment).
    object_dirs: tuple[str, ...] = ()
    # Proxies, CA bundle, timeouts for registries and state backends (None = no proxy, the system's CAs). Not
    # imported here: the commit hook never needs it.
    http: HttpSettings | None = None


@dataclass(frozen=True)
class RunContext:
    """The run's facts the policy needs: the branch, the bypasses requested for the whole run, the clock, and
    the key findings are fingerprinted with."""

    branch: str = ""  # what branch overrides match ("" = unknown: none matches)
    bypasses: tuple[Bypass, ...] = ()  # push option and environment requests (``policy.context.run_bypasses``)
    fingerprint_key: bytes = DEFAULT_KEY
    today: datetime.date = field(default_factory=datetime.date.today)  # when exceptions expire
    now: datetime.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class ScanRequest:
    """One scan. ``kind`` picks the source (``pipeline.table.SOURCES``):

    paths      files and directories in ``paths`` ("-" = stdin)
    staged     what the index adds against HEAD, in the repository at ``paths[0]``
    range      ``range_spec`` ("A..B", or "A" for A..HEAD, or a revision list "B ^A1 ^A2": the commits of B in
               none of the A's) in that repository
    history    every commit reachable from any ref, and stashes
    push       what a push sends: ``push_lines`` (git's "local-ref local-sha remote-ref remote-sha" lines, or a
               server hook's "old new ref"), else ``range_spec``, else HEAD minus the remote-tracking refs
    image      ``image``: a docker save tarball, an OCI layout or a registry reference
    tfstate    ``tfstate``: a state file, "-" or a remote state URL
    ci-logs    ``ci_logs``: CI job logs, ``github:OWNER/REPO`` or ``gitlab:GROUP/PROJECT``
    """

    kind: RequestKind
    paths: tuple[str, ...] = (".",)
    range_spec: str = ""
    push_lines: tuple[str, ...] = ()
    image: str = ""
    tfstate: str = ""
    ci_logs: str = ""
    options: SourceOptions = field(default_factory=SourceOptions)
    config: Config = field(default_factory=Config)
    baseline: Matcher | None = None
    context: RunContext = field(default_factory=RunContext)
    path_base: str = ""  # what relative finding paths are relative to ("" = the repository root, else the cwd)
    workers: int = 0  # worker processes for history (0 = one per core)
    engine: str = "auto"  # "auto", "hyperscan" or "python" (the pure-Python fallback; same findings)
    progress: Progress | None = None
    # ``time.monotonic()`` by which the scan stops, finished or not (0 = none): the source is read no further, the
    # workers stop between blobs, and the result says what was left (``ScanResult.incomplete``).
    deadline: float = 0.0
    # Seconds detection may take in one chunk before it is given up as an issue (``regex-timeout``); 0 = no bound.
    regex_budget: float = 60.0
    # Git walks: blobs to skip as known clean; the result then lists the blobs found clean (``clean_blobs``).
    known_clean: CleanBlobs | None = None
    # A range that changes the policy file (the config came from its base commit): reported as a finding.
    policy_change: PolicyChange | None = None
    # Live validation of the findings' secrets (``scan --validate``); None: none (the default, and every hook's).
    validation: ValidationOptions | None = None
    # The ruleset and detector already built from ``config`` and ``engine`` (``setup.prepare``): a long-lived
    # process scanning many repositories one after another (an org scan's Dask worker) builds them once, not per
    # scan. None: built here. Never shared between threads.
    prepared: Prepared | None = None

    @property
    def is_git(self) -> bool:
        return self.kind in GIT_KINDS
