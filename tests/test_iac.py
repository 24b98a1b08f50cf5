"""Infrastructure as code beyond state: Terraform plans, Pulumi exports, CloudFormation, Kubernetes manifests and
Helm values, scanned through the CLI with the built-in rules on generated samples (tests/iac_samples.py)."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from helpers import RunCli, write_files
from iac_samples import Sample, every_kind, terraform_plan
from tokens import TokenFactory


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
    print(
        f"\nIaC recall: {len(sample.planted) - len(missed)}/{len(sample.planted)} planted secrets found, "
        f"{len(sample.alone)}/{len(sample.alone)} encrypted or referenced values left alone"
    )


def _check(report: dict[str, Any], sample: Sample) -> None:
    found = {where(f) for f in report["findings"]}
    missed = [p for p in sample.planted if p not in found]
    assert not missed, missed
    secrets = {f["secret"] for f in report["findings"]}
    assert not any(value in secrets for value in sample.alone)


def test_a_plan_as_json_in_a_directory_and_with_plan(tmp_path: Path, tokens: TokenFactory, run_cli: RunCli) -> None:
    sample = Sample()
    plan = tmp_path / "plan" / "tfplan.json"
    plan.parent.mkdir()
    plan.write_text(json.dumps(terraform_plan(tokens, sample), indent=1), encoding="utf-8")
    code, by_dir = scan(run_cli, tmp_path)
    assert code == 1
    _check(by_dir, sample)
    assert {f["location"]["kind"] for f in by_dir["findings"]} == {"tfstate"}
    code, by_flag = scan(run_cli, "--plan", plan)
    assert code == 1
    _check(by_flag, sample)
    lines = {f["secret"]: f["location"]["line"] for f in by_flag["findings"]}
    text = plan.read_text(encoding="utf-8").splitlines()
    assert all(secret in text[line - 1] for secret, line in lines.items())


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_saved_plan_holding_its_json_is_read(tmp_path: Path, tokens: TokenFactory, run_cli: RunCli) -> None:
    sample = Sample()
    doc = json.dumps(terraform_plan(tokens, sample)).encode()
    saved = _zip(tmp_path / "saved.tfplan", {"tfplan": b"\x0a\x02pb", "tfplan.json": doc, "tfstate": b"{}"})
    code, report = scan(run_cli, "--plan", saved)
    assert code == 1
    _check(report, sample)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("binary", "a saved Terraform plan (binary tfplan); leakstop reads plans as JSON: run `terraform show -json"),
        ("no-plan", "a zip without a Terraform plan"),
        ("truncated", "not a readable saved Terraform plan: damaged or truncated zip"),
        ("version", "unknown Terraform JSON format_version '2.0' (leakstop reads format versions 0.x and 1.x)"),
        ("no-version", "unknown Terraform JSON format_version None"),
    ],
)
def test_bad_plans_are_one_line_errors(
    tmp_path: Path, tokens: TokenFactory, run_cli: RunCli, kind: str, message: str
) -> None:
    sample = Sample()
    path = tmp_path / "plan.bin"
    if kind == "binary":
        _zip(path, {"tfplan": b"\x0a\x02pb", "tfstate": b"{}", "tfconfig/m-/main.tf": b""})
    elif kind == "no-plan":
        _zip(path, {"notes.json": b'{"a": 1}', "broken.json": b"{"})
    elif kind == "truncated":
        whole = _zip(tmp_path / "whole.zip", {"tfplan.json": json.dumps(terraform_plan(tokens, sample)).encode()})
        path.write_bytes(whole.read_bytes()[:100])
    else:
        doc = terraform_plan(tokens, sample, format_version="2.0")
        if kind == "no-version":
            doc["format_version"] = None
        path.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run_cli("scan", "--plan", path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"leakstop: error: {path}: {message}")


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@example.test",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@example.test",
        "HOME": str(cwd),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_history_range_and_staged_scans_judge_iac_files(tmp_path: Path, tokens: TokenFactory, run_cli: RunCli) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    first = every_kind(tokens, n=1)
    write_files(repo, first.files)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    base = _git(repo, "rev-parse", "HEAD")
    second = every_kind(tokens, n=2)  # new values everywhere: a later version of each file
    write_files(repo, second.files)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "two")
    code, history = scan(run_cli, repo, "--history")
    assert code == 1
    _check(history, first)
    _check(history, second)
    assert all(f["location"]["kind"] == "git" for f in history["findings"])
    code, ranged = scan(run_cli, repo, "--range", f"{base}..HEAD")
    _check(ranged, second)
    assert not {f["secret"] for f in ranged["findings"]} & {p[0] for p in first.planted if p not in second.planted}
    third = every_kind(tokens, n=1)
    write_files(repo, third.files)
    _git(repo, "add", "-A")
    code, staged = scan(run_cli, repo, "--staged")
    assert code == 1
    _check(staged, third)


def test_a_helm_template_and_broken_yaml_are_plain_text(tmp_path: Path, tokens: TokenFactory, run_cli: RunCli) -> None:
    token = tokens.github_clean()
    write_files(
        tmp_path,
        {
            "chart/templates/secret.yaml": "apiVersion: v1\nkind: Secret\ndata:\n"
            f"  password: {{{{ .Values.pw | b64enc }}}}\n  token: {{{{ '{token}' }}}}\n",
            "k8s/bad.yaml": "apiVersion: v1\nkind: Secret\ndata: [unclosed\n",
            "values.yaml": "a: !!binary |\n  AAAA\nb: [1, *nope]\n",
        },
    )
    code, report = scan(run_cli, tmp_path)
    assert code == 1
    assert [(f["secret"], f["location"].get("resource", "")) for f in report["findings"]] == [(token, "")]
    assert report["issues"] == []


def test_text_report_names_the_resource(tmp_path: Path, tokens: TokenFactory, run_cli: RunCli) -> None:
    sample = Sample()
    from iac_samples import kubernetes

    kubernetes(tokens, 1, sample)
    write_files(tmp_path, {"k8s/rendered.yaml": sample.files["k8s/rendered.yaml"]})
    code, out, _ = run_cli("scan", tmp_path, "--no-baseline")
    assert code == 1
    assert "in resource: Secret/prod/db0 data.password" in out
    assert "decoded from base64" in out
    assert not any(secret in out for secret, _, _ in sample.planted)


def test_a_published_example_key_under_a_secret_name_is_not_a_finding(tmp_path: Path, run_cli: RunCli) -> None:
    """The published-example list (AWS's and Google's documentation keys) holds for values judged by key name."""
    from test_example_keys import published_google_keys

    example = published_google_keys()[0]
    write_files(tmp_path, {"chart/values.yaml": f"firebase:\n  apiKey: {example}\n  password: {example}\n"})
    code, report = scan(run_cli, tmp_path)
    assert (code, report["findings"]) == (0, [])
