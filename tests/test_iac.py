"""Infrastructure as code beyond state: Terraform plans, Pulumi exports, CloudFormation, Kubernetes manifests and
Helm values, scanned through the CLI with the built-in rules on generated samples (tests/iac_samples.py)."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from helpers import RunCli, write_files
from iac_samples import every_kind
from tokens import ALNUM, TokenFactory


def scan(run_cli: RunCli, *argv: str | Path) -> tuple[int, dict[str, Any]]:
    code, out, _ = run_cli("scan", *argv, "-f", "json", "--show-secrets", "--no-baseline")
    return code, json.loads(out)


def where(finding: dict[str, Any]) -> tuple[str, str, str]:
    location = finding["location"]
    return finding["secret"], location.get("resource", ""), location.get("attribute", "")


def test_every_planted_secret_is_found_and_every_encrypted_or_referenced_value_left_alone(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli
) -> None:
    sample = every_kind(tokens, n=6)
    write_files(tmp_path, sample.files)
    code, report = scan(run_cli, tmp_path)
    assert code == 1
    found = {where(f) for f in report["findings"]}
    secrets = {f["secret"] for f in report["findings"]}
    missed = [p for p in sample.planted if p not in found]
    assert not missed, missed
    assert secrets == {secret for secret, _, _ in sample.planted}  # nothing else: no encrypted or referenced value
    for value in sample.alone:
        assert not any(value in s or s in value for s in secrets), value
    assert report["issues"] == [] or all(i["reason"] != "invalid-state" for i in report["issues"])
    print(f"\nIaC recall: {len(sample.planted) - len(missed)}/{len(sample.planted)} planted secrets found, "
          f"{len(sample.alone)}/{len(sample.alone)} encrypted or referenced values left alone")
