"""How to fix what blocks, and how to allow it: the closing lines of the text report, which is what a commit or
push hook shows. What to do depends on what was scanned (``ScanResult.kind``): a staged secret is fixed in the
file, a committed one by rewriting the commit, an image by rebuilding it. The allow options listed are the ones
the policy honours (``ScanResult.inline_markers``, ``ScanResult.bypass_channels``)."""

from __future__ import annotations

from scanner.models import Finding, GitOrigin, ScanResult
from scanner.policy.context import ENV_BYPASS, PUSH_OPTION

TRAILER = "Leakstop-Bypass"  # sources.git.trailers.TRAILER (a layer above reports; a test keeps them equal)
CONFIG_NAME = ".leakstop.yaml"  # policy.config.CONFIG_NAME, not imported: it loads the config validator
COMMIT_KINDS = ("push", "range", "history")

_FIX_FILE = [
    "How to fix: remove the secret from the file (read it from the environment or a secret store instead);",
    "{staged}. If the credential was ever committed, shared or used, revoke and rotate it.",
]
_FIX_IMAGE = [
    "How to fix: rebuild the image without the secret. A file a later layer deletes is still in the image: remove",
    "it in the step that adds it, and pass build secrets with `RUN --mount=type=secret`, not ARG or ENV.",
    "Then revoke and rotate the credential: an image that was pushed has been pulled and cached.",
]
_FIX_STATE = [
    "How to fix: Terraform state keeps values in plaintext. Restrict who can read the state and encrypt its",
    "backend; if anyone else could read it, revoke and rotate the credential.",
]
_FIX_CI_LOGS = [
    "How to fix: a CI log printed the secret; whoever can read the logs has it. Revoke and rotate the credential,",
    "delete the run's logs (GitHub) or erase the job (GitLab), and mask it at the source (`leakstop redact`).",
]
# What a bypass request looks like through each channel, by scan kind (the channels that reach that kind's scan).
_BYPASS = {
    "env": '`{env}="why" {command}`',
    "trailer": 'a `{trailer}: why` trailer on the commit adding it (`git commit --amend --trailer "{trailer}: why"`)',
    "push-option": '`git push -o {option}="why"` (read by a server\'s pre-receive hook)',
}
_CHANNELS_BY_KIND = {
    "staged": ("env",),
    "push": ("trailer", "env", "push-option"),
    "range": ("trailer", "env"),
    "history": ("trailer", "env"),
}
_ENV_COMMAND = {"staged": "git commit …", "push": "git push …"}


def _fix_commits(result: ScanResult, blocking: list[Finding]) -> list[str]:
    oldest = next((f.origin for f in blocking if isinstance(f.origin, GitOrigin) and f.origin.commit), None)
    commit = oldest.commit[:12] if oldest is not None else "COMMIT"
    lines = [
        "How to fix: the secret is in commits, and a new commit that deletes it leaves it in history. Rewrite them:",
        "  in the last commit: remove it, `git add` the file, `git commit --amend`",
        f"  in an older commit: `git rebase -i {commit}~1` (`--root` for the first commit), mark the commit `edit`,",
        "    remove it, `git add` the file, `git commit --amend`, `git rebase --continue`",
    ]
    if any(isinstance(f.origin, GitOrigin) and f.origin.where == "commit-message" for f in blocking):
        lines.append("  in a commit message: `git commit --amend` (the last commit), `reword` in `git rebase -i`")
    if result.kind == "push":
        lines.append("Then push again. If the commits were pushed or shared anywhere else, revoke and rotate the")
        lines.append("credential.")
    else:
        lines.append("  commits already pushed: `git push --force-with-lease` after rewriting; clones, forks and")
        lines.append("    caches keep the old commits, so revoke and rotate the credential: it has leaked.")
    return lines


def _allow(result: ScanResult) -> list[str]:
    lines = ["A false positive or a test value? Allow it:"]
    markers = result.inline_markers
    if markers:
        same_line = next((m for m in markers if not m.endswith("-next-line")), "")
        next_line = next((m for m in markers if m.endswith("-next-line")), "")
        where = [f"`{same_line}` in a comment on the line"] if same_line else []
        where += [f"`{next_line}` on the line before"] if next_line else []
        lines.append(f"  inline: {' or '.join(where)}")
    lines.append(f"  in {CONFIG_NAME}: an allowlist (paths, regexes, stopwords) or an exception (owner, expiry)")
    lines.append("  `leakstop baseline update`: accept every current finding (commit .leakstop-baseline.json)")
    channels = [c for c in _CHANNELS_BY_KIND.get(result.kind, ("env",)) if c in result.bypass_channels]
    if channels:
        lines.append("Or bypass the policy once, with a reason (it allows " + ", ".join(channels) + "):")
        command = _ENV_COMMAND.get(result.kind, "leakstop scan …")
        for channel in channels:
            text = _BYPASS[channel].format(env=ENV_BYPASS, command=command, trailer=TRAILER, option=PUSH_OPTION)
            lines.append(f"  {text}")
    return lines


def headline(result: ScanResult, blocking: int) -> str:
    """``BLOCKED: 2 findings block this push``."""
    what = {"staged": "commit", "push": "push"}.get(result.kind, "scan")
    return f"BLOCKED: {blocking} finding{'s' * (blocking != 1)} block{'s' * (blocking == 1)} this {what}"


def fix_advice(result: ScanResult) -> list[str]:
    """The lines after ``BLOCKED`` (a result that blocks): how to fix what blocks, then how to allow a finding."""
    if result.kind in COMMIT_KINDS:
        fix = _fix_commits(result, [f for f in result.findings if f.verdict == "block"])
    elif result.kind == "image":
        fix = _FIX_IMAGE
    elif result.kind == "tfstate":
        fix = _FIX_STATE
    elif result.kind == "ci-logs":
        fix = _FIX_CI_LOGS
    else:
        staged = "`git add` it again" if result.kind == "staged" else "if it is staged, `git add` it again"
        fix = [line.format(staged=staged) for line in _FIX_FILE]
    return [*fix, *_allow(result)]
