"""``leakstop ci``: what a GitHub Actions or GitLab CI run scans, and what the job gets back.

    model        CiEvent (what the run says happened), CiPlan (what to scan), PlanSettings: frozen, no I/O
    environment  which platform runs us; its variables and event payload as checked values (errors name them)
    github       the event from GITHUB_EVENT_NAME / GITHUB_EVENT_PATH; annotations, outputs, the job summary
    gitlab       the event from CI_PIPELINE_SOURCE and the CI_* commit variables
    gitrepo      the checked-out repository through the git command line (commits present, shallow, fetch)
    plan         event → plan: ranges, new branches, force pushes, shallow clones, scheduled and manual runs

The command line (``scanner.cli.ci``) builds a ``ScanRequest`` from the plan and renders the result; the scan is
the pipeline's, as for ``leakstop scan --range``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scanner.integrations.ci import github, gitlab
from scanner.integrations.ci.model import CiEvent, Platform

EVENTS: dict[Platform, Callable[[Mapping[str, str]], CiEvent]] = {"github": github.event, "gitlab": gitlab.event}
