"""Core types: plain frozen dataclasses with no I/O.

A ``Source`` yields ``Chunk``s; the detector turns a chunk into ``Match``es; the scan wraps each match with its
rule and origin into a ``Finding``; everything ends up in a ``ScanResult``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from scanner.redact import mask

Severity = Literal["critical", "high", "medium", "low", "info"]
Confidence = Literal["high", "medium", "low"]
Verdict = Literal["block", "warn", "allow"]
Target = Literal["files", "git", "image", "tfstate"]
IncompletePolicy = Literal["pass", "warn", "block"]  # policy ``incomplete``: what a scan that did not read all is

SEVERITY_RANK: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
CONFIDENCE_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2}

# Inline allow comments: ours, and the ones gitleaks and detect-secrets users already have in their code.
# The detector records them on a match; whether one is honoured is the policy's call.
NEXT_LINE_MARKER = "leakstop:allow-next-line"
SAME_LINE_MARKERS = ("leakstop:allow", "gitleaks:allow", "pragma: allowlist secret")
INLINE_MARKERS = (*SAME_LINE_MARKERS, NEXT_LINE_MARKER)
# A finding's ``audit`` label (``baseline audit``: policy/labelling.py) as reports and the audit write it.
LABEL_WORDS = {"true-positive": "true positive", "false-positive": "false positive"}


class Secret:
    """A secret value that never shows itself.

    ``str``, ``repr`` and f-strings give the redacted form, and ``json`` cannot encode it, so no log line,
    traceback or report leaks it by accident. ``reveal()`` is the one explicit way to the value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redacted(self) -> str:
        """At most the first quarter (never more than 4 characters) and the length: ``ghp_…(40)``.

        A PEM block shows its BEGIN line instead, which names the key type and holds nothing secret.
        """
        value = self._value
        if value.startswith("-----BEGIN ") and (end := value.find("-----", 11)) != -1:
            return f"{value[: end + 5]}…({len(value)})"
        return mask(value)

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.redacted()!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Pickling is how worker processes hand matches back; it is not a way to print.
        return (Secret, (self._value,))


@dataclass(frozen=True, slots=True)
class FileOrigin:
    """Where a finding is in a file of the scanned tree (and, for an infrastructure document, which resource)."""

    path: str
    kind: Literal["file"] = "file"
    address: str = ""  # an infrastructure document's resource and attribute path (Pulumi, CloudFormation, ...)
    attribute: str = ""


@dataclass(frozen=True, slots=True)
class GitOrigin:
    """Where a finding is in git: the path, and the commit that brought it in."""

    path: str
    commit: str
    author: str = ""
    email: str = ""
    date: str = ""
    where: Literal["blob", "commit-message", "tag-message"] = "blob"
    kind: Literal["git"] = "git"
    address: str = ""  # a Terraform state file's resource address and attribute path, as in TfstateOrigin
    attribute: str = ""


@dataclass(frozen=True, slots=True)
class ImageOrigin:
    """Where a finding is in a container image: the file, the layer and the step that made it."""

    image: str
    path: str
    layer_digest: str = ""
    layer_index: int = -1
    created_by: str = ""
    status: str = "visible"
    kind: Literal["image"] = "image"


@dataclass(frozen=True, slots=True)
class TfstateOrigin:
    """Where a finding is in Terraform state: the resource address and attribute."""

    path: str
    address: str = ""
    attribute: str = ""
    kind: Literal["tfstate"] = "tfstate"
    # The state a version belongs to (an S3 key whose versions are read): a secret kept from version to version
    # is one finding, at the version that introduced it, as a git finding names the commit that introduced it.
    series: str = ""


Origin = FileOrigin | GitOrigin | ImageOrigin | TfstateOrigin


Structure = Literal["", "tfstate", "pulumi", "cloudformation", "kubernetes", "helm-values"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """Content to scan and where it came from: what every source yields.

    ``content_id`` is the git blob id of the whole content (identical content is detected once); "" when the
    chunk is a part of a blob. ``first_line`` is the line of the chunk's first byte in its blob (a changed region
    of a file's later version). With ``only_lines``, only matches touching those lines count (what a diff adds).
    ``structure`` asks for a structured analysis besides the rules (``detect.structured``): a Terraform state's
    findings are tied to resource attributes, and its plaintext sensitive values are findings too. Where the same
    secret is found again at the same place (a later version of a file), the finding of the lowest ``order`` is
    kept.
    """

    content: bytes
    origin: Origin
    content_id: str = ""
    first_line: int = 1
    only_lines: frozenset[int] | None = None
    structure: Structure = ""
    base: bytes | None = None  # a structured chunk's previous version at the same path (git history)
    order: int = 0  # its place in the source's order (git: its commit's position in the walk, oldest = 0)


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a report needs to know about the rule behind a finding."""

    id: str
    name: str
    description: str
    severity: Severity
    confidence: Confidence
    provider: str = ""
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """One secret found in one chunk. Offsets are bytes into the chunk; lines and columns are 1-based.

    For a secret found inside an encoded span (base64, hex, percent, JSON escapes), ``start``/``end`` and the
    positions cover that span in the original content and ``decoded`` names the encodings peeled off.
    """

    rule_id: str
    secret: Secret
    start: int
    end: int
    line: int
    column: int
    end_line: int
    end_column: int
    snippet: str
    entropy: float
    decoded: tuple[str, ...] = ()
    # Inline allow markers (``INLINE_MARKERS``) on the match's line, or ``leakstop:allow-next-line`` on
    # the line before; whether one is honoured is the policy's call.
    inline_markers: tuple[str, ...] = ()
    # Indexes of the config's allowlists whose regexes hold on the rule's whole match or its line
    # (``scanner.policy.allowlists``); the other criteria are checked per finding.
    allow_hits: tuple[int, ...] = ()


@dataclass(frozen=True)
class PolicyException:
    """An accepted finding (its finding id) or credential (its secret id), with who accepted it, why and until when.

    ``id`` may be a prefix of at least 12 characters, as the text report shows ids.
    """

    id: str
    owner: str
    reason: str
    expires: date  # the last day it applies

    def covers(self, finding: Finding) -> bool:
        return finding.finding_id.startswith(self.id) or finding.secret_id.startswith(self.id)


BypassChannel = Literal["trailer", "env", "push-option"]
MAX_REASON = 200


def clean_reason(text: str) -> str:
    """A bypass reason as reports show it: one line, at most ``MAX_REASON`` characters, no terminal escapes."""
    line = "".join(ch for ch in " ".join(text.split()) if ch.isprintable())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


@dataclass(frozen=True, slots=True)
class Bypass:
    """A request to let findings through (a commit trailer, ``LEAKSTOP_BYPASS`` or a push option), and whether
    the policy accepted it: ``refused`` says why not, "" when it applied. Holds no secret: a reason that looks
    like one is withheld (``scan.Scan``)."""

    channel: BypassChannel
    reason: str
    who: str = ""  # commit author email (trailer), CI user (env), pushing user (push option)
    when: str = ""  # ISO 8601: the commit's date (trailer), the run's time otherwise
    commit: str = ""  # the commit carrying the trailer
    refused: str = ""


ValidationState = Literal["live", "invalid", "unknown"]
VALIDATION_STATES: tuple[ValidationState, ...] = ("live", "invalid", "unknown")


@dataclass(frozen=True, slots=True)
class Validation:
    """What the provider said of a credential (``scan --validate``): ``live`` (with the account or scope it named,
    masked where that is itself sensitive), ``invalid`` (it said so), ``unknown`` (no clear answer: ``reason``)."""

    state: ValidationState
    reason: str = ""
    identity: str = ""
    validator: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One secret found: the rule, the match, where it is, its ids and the policy's verdict on it."""

    rule: RuleInfo
    match: Match
    origin: Origin
    finding_id: str
    secret_id: str
    verdict: Verdict = "block"
    reason: str = ""
    bypass: Bypass | None = None  # the bypass that allowed it, or one that was refused
    audit: str = ""  # a baselined finding's label from ``baseline audit``: true-positive | false-positive
    validation: Validation | None = None  # live validation (``scan --validate``), None when not validated
    # An org scan's view against its store: "new", "still-present" or "gone" (no longer reachable from any ref: its
    # verdict is then "allow", reason "gone"). "" for every other scan.
    change: str = ""

    @property
    def path(self) -> str:
        return self.origin.path


@dataclass(frozen=True, slots=True)
class ScanIssue:
    """A non-fatal input problem: something not scanned, or scanned only in part, and why."""

    path: str
    reason: str
    message: str


@dataclass
class ScanStats:
    """What a scan read and skipped, and how long it took."""

    items_scanned: int = 0
    bytes_scanned: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    duration_s: float = 0.0


@dataclass
class ScanResult:
    """Everything a scan found and noticed: what the reporters write and the exit code is decided from."""

    target: str
    findings: list[Finding] = field(default_factory=list)
    issues: list[ScanIssue] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    ruleset_hash: str = ""
    rule_infos: dict[str, RuleInfo] = field(default_factory=dict)
    target_detail: str = ""  # e.g. "6729 commits, 8238 unique blobs"
    baseline: str = ""  # the baseline file the scan compared against, if any
    branch: str = ""  # the branch branch overrides were matched against ("" = unknown)
    bypasses: list[Bypass] = field(default_factory=list)  # each bypass requested, applied or refused
    exceptions: dict[str, PolicyException] = field(default_factory=dict)  # by id: the exceptions that applied
    # What the scan was, for reports that say when it ran (GitLab's) and how to fix or allow a finding (text):
    kind: str = ""  # the request's kind (``pipeline.request.RequestKind``), "" when not made by the pipeline
    started: datetime | None = None  # the run's clock (UTC) when it started
    inline_markers: tuple[str, ...] = ()  # the inline allow markers the policy honours (none: disabled)
    bypass_channels: tuple[str, ...] = ()  # the bypass channels the policy accepts (none: bypass disabled)
    incomplete: str = ""  # why the scan stopped before the end ("" = it did not): its deadline passed
    # What the policy makes of a scan that did not read everything (``scanner.completeness``).
    incomplete_policy: IncompletePolicy = "warn"
    clean_blobs: list[str] = field(default_factory=list)  # blob ids read whole with no match (when asked for)

    @property
    def blocked(self) -> bool:
        return any(f.verdict == "block" for f in self.findings)
