"""The one table from a request's kind to its source. Each opener imports its source on use, so a scan loads
only the source it runs (the commit hook's ``staged`` path never imports pygit2, registries or Terraform)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from scanner.pipeline.request import RequestKind, ScanRequest
from scanner.sources.base import Source


def _paths(request: ScanRequest) -> Source:
    from scanner.sources.files import FileSource, FileSourceOptions

    options = request.options
    files = FileSourceOptions(
        options.max_file_size,
        options.scan_binary,
        options.excludes,
        options.respect_gitignore,
        options.default_excludes_file,
    )
    return FileSource(request.paths, files)


def _staged(request: ScanRequest) -> Source:
    from scanner.sources.git.staged import StagedSource

    return StagedSource(request.paths[0], request.options.max_file_size, request.options.scan_binary)


def read_ahead(request: ScanRequest) -> AbstractContextManager[object]:
    """Inside it, the source opened for ``request`` may take what a thread read meanwhile: a staged scan's git
    calls (``staged.ReadAhead``), a history scan's plan (``planahead.PlanAhead``)."""
    if request.kind == "history" and not request.options.object_dirs:
        from scanner.sources.git.planahead import PlanAhead

        return PlanAhead(request.paths[0])
    if request.kind != "staged":
        return nullcontext()
    from scanner.sources.git.staged import ReadAhead

    return ReadAhead(request.paths[0])


def _commits(request: ScanRequest) -> Source:
    from scanner.sources.git.source import CommitSource

    options = request.options
    return CommitSource(
        request.paths[0],
        request.kind,
        request.range_spec,
        request.push_lines,
        options.max_file_size,
        options.scan_binary,
        options.object_dirs,
    )


def _image(request: ScanRequest) -> Source:
    from scanner.sources.image import ImageOptions, ImageSource

    options = request.options
    image_options = ImageOptions(
        max_member_size=options.max_file_size,
        scan_binary=options.scan_binary,
        platform=options.platform,
        insecure_registries=options.insecure_registries,
        max_archive_depth=options.max_archive_depth,
        http=options.http,
    )
    return ImageSource(request.image, image_options)


def _tfstate(request: ScanRequest) -> Source:
    from scanner.sources.tfstate import StateSource

    return StateSource(request.tfstate, request.options.all_versions, request.options.http)


def _ci_logs(request: ScanRequest) -> Source:
    from scanner.sources.cilogs import CiLogSource

    options = request.options
    return CiLogSource(request.ci_logs, options.ci_logs_runs, options.ci_logs_since, options.http)


SOURCES: dict[RequestKind, Callable[[ScanRequest], Source]] = {
    "paths": _paths,
    "staged": _staged,
    "range": _commits,
    "history": _commits,
    "push": _commits,
    "image": _image,
    "tfstate": _tfstate,
    "ci-logs": _ci_logs,
}
