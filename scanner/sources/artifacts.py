"""``scan --image`` and ``scan --tfstate``: one artifact instead of a tree, wired from the CLI in one call."""

from __future__ import annotations

import argparse
import time

from scanner.detect.engine import Detector
from scanner.errors import UsageError
from scanner.models import ScanResult
from scanner.ruleset import Ruleset
from scanner.scan import Scan, ScanSettings
from scanner.sources.files import FileSourceOptions


def artifact_mode(args: argparse.Namespace) -> str | None:
    if getattr(args, "image", None):
        return "image"
    if getattr(args, "tfstate", None):
        return "tfstate"
    return None


def scan_artifact(
    args: argparse.Namespace, ruleset: Ruleset, detector: Detector, settings: ScanSettings, options: FileSourceOptions
) -> ScanResult:
    mode = artifact_mode(args)
    if args.image and args.tfstate:
        raise UsageError("give one of --image and --tfstate")
    if args.paths:
        raise UsageError(f"--{mode} scans its own argument: give no PATH")
    if any(getattr(args, flag, None) for flag in ("staged", "history", "range", "since", "pre_push")):
        raise UsageError(f"--{mode} cannot be combined with a git mode")
    image_only = ("platform", "insecure_registry", "max_archive_depth")
    if mode != "image" and any(getattr(args, flag, None) not in (None, []) for flag in image_only):
        raise UsageError("--platform, --insecure-registry and --max-archive-depth go with --image")
    result = ScanResult(target="image" if mode == "image" else "tfstate")
    scan = Scan(ruleset, detector, settings, result)
    started = time.perf_counter()
    if mode == "image":
        from scanner.sources.image import ImageOptions, scan_image
        from scanner.sources.registry import parse_platform

        image_options = ImageOptions(
            max_member_size=options.max_file_size,
            scan_binary=options.scan_binary,
            platform=parse_platform(args.platform or "linux/amd64"),
            insecure_registries=tuple(args.insecure_registry or ()),
            max_archive_depth=2 if args.max_archive_depth is None else max(args.max_archive_depth, 0),
        )
        scan_image(scan, args.image, image_options)
        result.target_detail = f"image {args.image}"
    else:
        from scanner.sources.tfstate import scan_tfstate

        result.target_detail = scan_tfstate(scan, args.tfstate, all_versions=getattr(args, "all_versions", False))
    result.stats.duration_s = time.perf_counter() - started
    return result
