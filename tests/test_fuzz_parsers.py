"""Property tests for every parser leakstop owns (issue #18): arbitrary input gives a result or a ``LeakstopError``
(a one-line error for the user), never another exception.

Targets: Terraform state (``detect.structured.analyse``), image manifests, indexes and configs (the layout reader
over a real ``docker save`` tarball or OCI layout, ``config_text``, ``assign_history``), tar member names, the
policy file, baselines (ours, gitleaks reports and ignore files, detect-secrets), gitleaks TOML configs, the hook
input lines and the CI event payloads (GitHub's file, GitLab's variables).

CI runs them briefly (``FUZZ_EXAMPLES``, 25 each); ``bench/fuzz.py`` runs them at length through the
``LEAKSTOP_FUZZ_EXAMPLES`` variable and counts the inputs (``LEAKSTOP_FUZZ_COUNTS``: a file the counts go to).
"""

from __future__ import annotations

import atexit
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helpers import tar_bytes
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scanner.detect.structured import analyse, sensitive_rule
from scanner.errors import LeakstopError
from scanner.integrations.ci import github, gitlab
from scanner.policy import baseline
from scanner.policy.config import load_config_data
from scanner.policy.migrate import detect_secrets, gitleaks, gitleaks_config
from scanner.ruleset import load_ruleset
from scanner.sources.base import Skips
from scanner.sources.git.pushed import parse_lines
from scanner.sources.image.config import assign_history, config_text
from scanner.sources.image.layout import Image, Layer, manifest_image
from scanner.sources.nested import member_path

FUZZ_EXAMPLES = int(os.environ.get("LEAKSTOP_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None)
CALLS: Counter[str] = Counter()


def _write_counts() -> None:
    target = os.environ.get("LEAKSTOP_FUZZ_COUNTS")
    if target:
        Path(target).write_text(json.dumps(dict(CALLS)), encoding="utf-8")


atexit.register(_write_counts)


def survives(target: str, call: Callable[[], object]) -> None:
    """The contract: a result or a ``LeakstopError``; any other exception fails the property."""
    CALLS[target] += 1
    try:
        call()
    except LeakstopError as exc:
        assert str(exc), f"{target}: an error without a message"
        assert "\n" not in str(exc).strip(), f"{target}: a multi-line error: {exc}"


# --- values shaped like what the parsers read ---

SCALARS = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
KEYS = st.sampled_from(
    [
        "version", "resources", "instances", "attributes", "outputs", "value", "sensitive", "sensitive_attributes",
        "sensitive_values", "values", "root_module", "child_modules", "prior_state", "planned_values",
        "format_version", "type", "name", "mode", "module", "index_key", "deposed", "address", "config", "Env",
        "Labels", "history", "created_by", "empty_layer", "rootfs", "diff_ids", "layers", "digest", "mediaType",
        "manifests", "annotations", "Config", "Layers", "RepoTags", "schemaVersion", "Cmd", "Healthcheck", "Test",
        "fingerprints", "salt", "results", "audit", "RuleID", "File", "Secret", "Fingerprint", "StartLine",
        "filename", "hashed_secret", "line_number", "is_secret", "rules", "id", "regex", "allowlist", "paths",
        "policy", "exceptions", "pull_request", "head", "base", "sha", "ref", "before", "after", "commits",
        "repository", "default_branch", "forced", "deleted", "merge_group", "head_sha", "base_sha",
    ]
) | st.text(max_size=8)  # fmt: skip
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=6), max_leaves=30
)
DOCS = st.dictionaries(KEYS, JSON, max_size=8)
DIGESTS = st.sampled_from(["sha256:" + "a" * 64, "sha256:" + "0" * 64, "sha256:zz", "md5:1", "", "sha256:"])


# --- Terraform state ---

_RULESET = load_ruleset()
_SENSITIVE = sensitive_rule(_RULESET.rules)


@FUZZ
@given(DOCS)
@example({"format_version": float("inf")})  # found: Infinity passed json.loads and broke the offset walker
@example({"version": 4, "outputs": [1, 2]})  # found: outputs as a list (issue #18 item 5's crash)
@example({"version": 4, "resources": [{"instances": 3}]})
def test_state_documents(doc: dict[str, Any]) -> None:
    data = json.dumps(doc).encode()
    survives("tfstate", lambda: analyse(data, "fuzz.tfstate", [], _SENSITIVE))


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_state_bytes(data: bytes) -> None:
    survives("tfstate", lambda: analyse(data, "fuzz.tfstate", [], _SENSITIVE))


# --- images ---


@FUZZ
@given(DOCS, DOCS)
@example({}, {"history": True})  # found: a history that is no list
@example(
    {"config": {"digest": "sha256:" + "a" * 64}, "layers": 1}, {"config": {"Labels": []}, "rootfs": {"diff_ids": 1}}
)
def test_image_manifest_and_config(manifest: dict[str, Any], config: dict[str, Any]) -> None:
    def run() -> None:
        image = manifest_image(manifest, "tag", "fuzz-image", Skips()) or Image(
            "c", "sha256:c", [Layer("l", "", "", 0)]
        )
        config_text(config)
        assign_history(image, config)

    survives("image-manifest", run)


@FUZZ
@given(JSON, JSON, st.booleans())
def test_image_layouts(top: Any, inner: Any, oci: bool) -> None:
    """A real tarball: ``manifest.json`` (docker save) or ``index.json`` plus one blob (OCI), made of fuzz."""
    from scanner.sources.image.source import ImageOptions, ImageSource

    blob = json.dumps(inner).encode()
    members = {"manifest.json": json.dumps(top).encode(), "config.json": blob}
    if oci:
        members = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": json.dumps(top).encode()}
        members["blobs/sha256/" + "a" * 64] = blob
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "image.tar")
        path.write_bytes(tar_bytes(list(members.items())))

        def run() -> None:
            for _chunk in ImageSource(str(path), ImageOptions()).items(Skips()):
                pass

        survives("image-layout", run)


@FUZZ
@given(st.text(max_size=60) | st.lists(st.sampled_from(["..", ".", "/", "a", "./", "//", "\0", "é"])).map("".join))
def test_tar_member_names(name: str) -> None:
    def run() -> None:
        path, safe = member_path(name)
        assert not safe or (not path.startswith(("/", "../")) and path != "..")

    survives("tar-member", run)


# --- policy, baselines, migrations ---


@FUZZ
@given(DOCS | JSON)
def test_policy_documents(doc: Any) -> None:
    data = json.dumps(doc).encode()  # JSON is YAML
    survives("policy", lambda: load_config_data(data, "fuzz.yaml", "/"))


@FUZZ
@given(st.text(max_size=200))
def test_policy_text(text: str) -> None:
    survives("policy", lambda: load_config_data(text.encode(), "fuzz.yaml", "/"))


@FUZZ
@given(DOCS | JSON)
@example({"results": {"a\nb": 1}})  # found (bench/fuzz.py): a file name broke the error's line
def test_baselines(doc: Any) -> None:
    text = json.dumps(doc)
    survives("baseline", lambda: baseline.parse(text, "fuzz.json"))
    survives("gitleaks-report", lambda: gitleaks.parse_report(text, "fuzz.json"))
    survives("detect-secrets", lambda: detect_secrets.parse(text, "fuzz.json"))


@FUZZ
@given(st.text(max_size=200))
def test_baseline_text(text: str) -> None:
    survives("baseline", lambda: baseline.parse(text, "fuzz.json"))
    survives("gitleaks-ignore", lambda: gitleaks.parse_ignore(text, ".gitleaksignore"))


_TOML_PIECES = [
    "[[rules]]\n", "id = 'x'\n", 'regex = "a+"\n', "regex = '(?i)(['\n", "keywords = ['a']\n", "[allowlist]\n",
    "paths = ['x']\n", "[extend]\nuseDefault = true\n", "entropy = 3.5\n", "secretGroup = 2\n", "tags = 1\n",
    "[[rules.allowlists]]\n", "regexTarget = 'line'\n", "stopwords = ['a']\n", "description = 'd'\n", "= \n",
]  # fmt: skip


@FUZZ
@given(st.lists(st.sampled_from(_TOML_PIECES), max_size=12).map("".join) | st.text(max_size=120))
def test_gitleaks_toml(text: str) -> None:
    survives("gitleaks-toml", lambda: gitleaks_config.convert(text, "gitleaks.toml", {"github-pat"}))


# --- hook lines and CI events ---

OIDS = st.sampled_from(["0" * 40, "a" * 40, "b" * 64, "xyz", "", "A" * 40])
LINES = st.lists(
    st.lists(OIDS | st.text(max_size=12), min_size=0, max_size=5).map(" ".join) | st.text(max_size=40), max_size=5
)


@FUZZ
@given(LINES)
def test_hook_input_lines(lines: list[str]) -> None:
    survives("hook-lines", lambda: parse_lines(lines))


EVENT_NAMES = st.sampled_from(["push", "pull_request", "pull_request_target", "merge_group", "schedule", "x"])


@FUZZ
@given(EVENT_NAMES, DOCS | JSON)
@example("pull_request", {"pull_request": []})  # found: a pull_request that is no object
@example("pull_request", {"pull_request": {"head": {"repo": []}}})
def test_github_event_payloads(name: str, payload: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "event.json")
        path.write_text(json.dumps(payload), encoding="utf-8")
        survives("github-event", lambda: github.event({"GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path)}))


GITLAB_KEYS = st.sampled_from(
    [
        "CI_PIPELINE_SOURCE", "CI_COMMIT_SHA", "CI_COMMIT_BEFORE_SHA", "CI_COMMIT_REF_NAME", "CI_COMMIT_BRANCH",
        "CI_COMMIT_TAG", "CI_DEFAULT_BRANCH", "CI_MERGE_REQUEST_DIFF_BASE_SHA", "CI_MERGE_REQUEST_TARGET_BRANCH_SHA",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "CI_COMMIT_REF_PROTECTED",
    ]
)  # fmt: skip


@FUZZ
@given(st.dictionaries(GITLAB_KEYS, OIDS | st.sampled_from(["push", "merge_request_event", "schedule"]) | st.text()))
def test_gitlab_variables(environ: dict[str, str]) -> None:
    survives("gitlab-event", lambda: gitlab.event(environ))
