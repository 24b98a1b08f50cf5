"""The one way to run a scan: ``run(ScanRequest) -> ScanResult``.

request     ScanRequest, SourceOptions, RunContext: what to scan and how, built at the edge
runner      picks the source, runs detection, policy and collection; owns the worker pool
collect     matches → findings: fingerprints, allowlists, baseline, bypass, verdict
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.models import ScanResult
    from scanner.pipeline.request import ScanRequest


def run(request: ScanRequest) -> ScanResult:
    """Scan what ``request`` names; imports only what that kind of scan needs (the hook path stays fast)."""
    from scanner.pipeline.runner import run_request

    return run_request(request)
