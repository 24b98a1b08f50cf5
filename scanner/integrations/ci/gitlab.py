"""GitLab CI: the event from the job's predefined variables (integrations.md 3.3).

``CI_COMMIT_BEFORE_SHA`` is all zeros for a new branch or tag (and for merge request, scheduled and manual
pipelines); a merge request's range is ``CI_MERGE_REQUEST_DIFF_BASE_SHA`` up to the source branch's tip
(``CI_MERGE_REQUEST_SOURCE_BRANCH_SHA`` in merged-results pipelines, where ``CI_COMMIT_SHA`` is the temporary
merge commit; ``CI_COMMIT_SHA`` otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping

from scanner.integrations.ci.environment import commit_id, env_commit, require
from scanner.integrations.ci.model import CiEvent, EventKind, is_zero

KINDS: dict[str, EventKind] = {
    "schedule": "scheduled",
    "web": "manual",
    "api": "manual",
    "trigger": "manual",
    "chat": "manual",
    "webide": "manual",
}


def event(environ: Mapping[str, str]) -> CiEvent:
    source = require(environ, "CI_PIPELINE_SOURCE")
    default_branch = environ.get("CI_DEFAULT_BRANCH", "")
    if source == "push":
        return _push(environ, default_branch)
    if source == "merge_request_event":
        return _merge_request(environ, default_branch)
    if source == "external_pull_request_event":  # a GitHub pull request built by GitLab CI/CD for external repos
        return CiEvent(
            "gitlab",
            source,
            "change-request",
            head=env_commit(environ, "CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_SHA"),
            base=env_commit(environ, "CI_EXTERNAL_PULL_REQUEST_TARGET_BRANCH_SHA"),
            default_branch=default_branch,
        )
    head = environ.get("CI_COMMIT_SHA", "")
    return CiEvent("gitlab", source, KINDS.get(source, "unknown"), head=head, default_branch=default_branch)


def _push(environ: Mapping[str, str], default_branch: str) -> CiEvent:
    head = env_commit(environ, "CI_COMMIT_SHA")
    before = env_commit(environ, "CI_COMMIT_BEFORE_SHA", "the previous tip of the pushed ref")
    tag = environ.get("CI_COMMIT_TAG", "")
    branch = "" if tag else environ.get("CI_COMMIT_BRANCH") or environ.get("CI_COMMIT_REF_NAME", "")
    return CiEvent(
        "gitlab",
        "push",
        "tag" if tag else "push",
        head=head,
        base="" if is_zero(before) else before,
        ref=f"refs/tags/{tag}" if tag else f"refs/heads/{branch}",
        branch=branch,
        default_branch=default_branch,
    )


def _merge_request(environ: Mapping[str, str], default_branch: str) -> CiEvent:
    base = env_commit(environ, "CI_MERGE_REQUEST_DIFF_BASE_SHA", "the merge request's diff base")
    head_variable = "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA"
    if not environ.get(head_variable):  # only merged-results pipelines set it
        head_variable = "CI_COMMIT_SHA"
    same_project = environ.get("CI_MERGE_REQUEST_SOURCE_PROJECT_ID") == environ.get("CI_MERGE_REQUEST_PROJECT_ID")
    return CiEvent(
        "gitlab",
        "merge_request_event",
        "change-request",
        head=commit_id(require(environ, head_variable), head_variable),
        base=base,
        ref=f"refs/merge-requests/{environ.get('CI_MERGE_REQUEST_IID', '')}/head",
        branch=environ.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "") if same_project else "",
        default_branch=default_branch,
    )
