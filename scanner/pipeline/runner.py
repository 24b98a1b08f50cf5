"""``run_request``: source → detection → policy → result."""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

from scanner.errors import UsageError
from scanner.models import ScanResult
from scanner.pipeline.request import ScanRequest
from scanner.scan import Scan, ScanSettings, build_detector, build_ruleset
from scanner.sources.files import FileSource, FileSourceOptions, Skips


def run_request(request: ScanRequest) -> ScanResult:
    config = request.config
    ruleset = build_ruleset(config)
    detector = build_detector(ruleset, config)
    context = request.context
    settings = ScanSettings(
        config=config,
        fingerprint_key=context.fingerprint_key,
        path_base=request.path_base or os.getcwd(),
        baseline=request.baseline,
        today=context.today,
        now=context.now,
        branch=context.branch,
        bypasses=context.bypasses,
    )
    options = request.options
    file_options = FileSourceOptions(
        max_file_size=options.max_file_size,
        scan_binary=options.scan_binary,
        excludes=options.excludes,
        respect_gitignore=options.respect_gitignore,
    )
    started = time.perf_counter()
    if request.kind in ("image", "tfstate"):
        result = _artifact(request, Scan(ruleset, detector, settings, ScanResult(target=request.kind)))
    elif request.kind == "paths":
        skips = Skips()
        result = ScanResult(target="files", issues=skips.issues, stats=skips.stats)
        Scan(ruleset, detector, settings, result).run(FileSource(list(request.paths), file_options, skips))
    else:
        result = _scan_git(request, ruleset, detector, file_options, settings)
    result.stats.duration_s = time.perf_counter() - started
    if request.baseline is not None:
        result.baseline = request.baseline.path
    return result


def _artifact(request: ScanRequest, scan: Scan) -> ScanResult:
    result = scan.result
    options = request.options
    if request.kind == "image":
        from scanner.sources.image import ImageOptions, scan_image

        image_options = ImageOptions(
            max_member_size=options.max_file_size,
            scan_binary=options.scan_binary,
            platform=options.platform,
            insecure_registries=options.insecure_registries,
            max_archive_depth=options.max_archive_depth,
        )
        scan_image(scan, request.image, image_options)
        result.target_detail = f"image {request.image}"
    else:
        from scanner.sources.tfstate import scan_tfstate

        result.target_detail = scan_tfstate(scan, request.tfstate, all_versions=options.all_versions)
    return result


def _scan_git(
    request: ScanRequest, ruleset: Any, detector: Any, options: FileSourceOptions, settings: ScanSettings
) -> ScanResult:
    result = ScanResult(target="git")
    path = request.paths[0]
    if request.kind == "staged":
        # The hook path: git's command line, not pygit2, whose import alone costs most of the time budget.
        from scanner.sources import staged

        if staged.git_available():
            root = staged.repository_root(path)
            # No commit message exists yet: a trailer cannot apply; LEAKSTOP_BYPASS can (README, "Bypass").
            scan = Scan(ruleset, detector, dataclasses.replace(settings, path_base=root), result)
            skips = Skips(result.issues, result.stats)
            for chunk in staged.staged_chunks_cli(root, options.max_file_size, options.scan_binary, skips):
                scan.add(chunk.chunk, only_lines=chunk.added_lines)
            return result
    from scanner.gitscan import BlobOptions, GitScanRequest, run_commits, run_staged
    from scanner.policy.context import trailer_bypass
    from scanner.sources.git import open_repository

    repo = open_repository(path)
    root = repo.workdir or repo.path
    # Looked up even when the policy refuses trailers, so that the report can say it did.
    settings = dataclasses.replace(settings, path_base=root, commit_bypass=lambda commit: trailer_bypass(repo[commit]))
    scan = Scan(ruleset, detector, settings, result)
    blob_options = BlobOptions(max_size=options.max_file_size, scan_binary=options.scan_binary, workers=request.workers)
    if request.kind == "staged":
        run_staged(scan, repo, blob_options)
        return result
    git_request = GitScanRequest(repo=repo, mode=request.kind, range_spec=request.range_spec)
    if request.kind == "push":
        git_request.push_lines = request.push_lines
        if request.range_spec:
            git_request.mode = "range"
    elif request.kind == "range" and not request.range_spec:
        raise UsageError("a range scan needs a range (A..B or a commit)")
    run_commits(scan, git_request, blob_options, request.progress)
    return result
