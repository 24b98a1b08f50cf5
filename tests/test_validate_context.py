"""Validators that need a second value find it in the text around the finding, read again after detection
(``pipeline/findcontext.py``, ``sources/reread.py``): a GCP key file written pretty-printed as gcloud writes it
(``private_key`` and ``client_email`` on different lines), a Shopify token with its shop a few lines away, in a
directory scan and in a git history scan; a read that fails leaves the answer ``unknown``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from gitrepo import Repo, isolate_git
from helpers import config_text
from httpserver import Reply, Request, ServerFactory
from tokens import HEX, TokenFactory
from validate_fakes import FAKES, STS_INVALID, STS_LIVE, aws_accepts, gcp_accepts, js

from scanner.httpsettings import HttpSettings
from scanner.models import FileOrigin, GitOrigin, ImageOrigin, ScanResult
from scanner.pipeline import run
from scanner.pipeline.findcontext import LINES, MAX_BYTES, FindingContext, for_request, window
from scanner.pipeline.request import ScanRequest
from scanner.policy.config import load_config
from scanner.sources.reread import Rereader
from scanner.validate.base import Candidate
from scanner.validate.options import ValidationOptions
from scanner.validate.run import Job, jobs_for, validate
from scanner.validate.table import VALIDATORS

FAST = HttpSettings(connect_timeout=2.0, read_timeout=5.0)
GCP, SHOPIFY = "https://oauth2.googleapis.com", "https://{shop}.myshopify.com"
EMAIL = "deployer@acme-prod.iam.gserviceaccount.com"
RULES = ("gcp-service-account-private-key", "shopify-access-token")


def key_file(tokens: TokenFactory, pem: str) -> str:
    """A service-account key file as ``gcloud iam service-accounts keys create`` writes it: indented JSON."""
    doc = {
        "type": "service_account",
        "project_id": "acme-prod",
        "private_key_id": tokens.chars(HEX, 40),
        "private_key": pem,
        "client_email": EMAIL,
        "client_id": tokens.chars("0123456789", 21),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "universe_domain": "googleapis.com",
    }
    return json.dumps(doc, indent=2) + "\n"


def shop_config(token: str) -> str:
    return f"shopify:\n  shop: acme-store.myshopify.com\n  api_version: 2024-10\n  # the admin app\n  token: {token}\n"


def fakes(http_server: ServerFactory, live_pem: str, live_shop_token: str) -> dict[str, str]:
    """Google's token endpoint knowing one key (the JWT must verify with it and name the account), Shopify's
    access scopes knowing one token; the routes that send the validators there."""
    google, shop = http_server(), http_server()
    known = Candidate(live_pem.replace("\n", "\\n"))

    def token(request: Request) -> Reply:
        if gcp_accepts(request, known):
            return js({"access_token": "ya29.test", "expires_in": 3599, "token_type": "Bearer"})
        return js({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)

    def scopes(request: Request) -> Reply:
        if request.headers.get("x-shopify-access-token") == live_shop_token:
            return js({"access_scopes": [{"handle": "read_products"}]})
        return js({"errors": "[API] Invalid API key or access token"}, 401)

    google.route("POST", "/token", token)
    shop.route("GET", "/admin/oauth/access_scopes.json", scopes)
    return {GCP: google.base, SHOPIFY: shop.base}


def scan(tmp_path: Path, kind: str, target: Path, routes: dict[str, str]) -> ScanResult:
    config_path = tmp_path / "config" / "leakstop.yaml"
    config_path.parent.mkdir(exist_ok=True)
    config_path.write_text(config_text(RULES), encoding="utf-8")
    options = ValidationOptions(http=FAST, routes=routes)
    request = ScanRequest(kind=kind, paths=(str(target),), config=load_config(config_path), validation=options)  # type: ignore[arg-type]
    return run(request)


def states(result: ScanResult) -> dict[str, tuple[str, str]]:
    found = {}
    for f in result.findings:
        assert f.validation is not None
        found[f.path.rsplit("/", 1)[-1]] = (f.validation.state, f.validation.identity)
    return found


@pytest.fixture
def keys(tokens: TokenFactory) -> dict[str, Any]:
    live_pem, _ = TokenFactory.rsa_key_and_certificate()
    dead_pem, _ = TokenFactory.rsa_key_and_certificate()
    return {
        "live_pem": live_pem,
        "dead_pem": dead_pem,
        "live_shop": "shpat_" + tokens.clean_chars(HEX, 32),
        "dead_shop": "shpat_" + tokens.clean_chars(HEX, 32),
    }


def write_files(root: Path, tokens: TokenFactory, keys: dict[str, Any]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "live-sa.json").write_text(key_file(tokens, keys["live_pem"]), encoding="utf-8")
    (root / "dead-sa.json").write_text(key_file(tokens, keys["dead_pem"]), encoding="utf-8")
    (root / "live-shop.yaml").write_text(shop_config(keys["live_shop"]), encoding="utf-8")
    (root / "dead-shop.yaml").write_text(shop_config(keys["dead_shop"]), encoding="utf-8")


EXPECTED = {
    "live-sa.json": ("live", "d…@acme-prod.iam.gserviceaccount.com"),
    "dead-sa.json": ("invalid", ""),
    "live-shop.yaml": ("live", "read_products"),
    "dead-shop.yaml": ("invalid", ""),
}


def test_directory_scan_reads_the_key_file_again(
    tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory, keys: dict[str, Any]
) -> None:
    write_files(tmp_path / "repo", tokens, keys)
    routes = fakes(http_server, keys["live_pem"], keys["live_shop"])
    result = scan(tmp_path, "paths", tmp_path / "repo", routes)
    assert states(result) == EXPECTED
    # The snippets alone do not hold the second values: without the context the answers were unknown.
    by_name = {f.path.rsplit("/", 1)[-1]: f for f in result.findings}
    assert "client_email" not in by_name["live-sa.json"].match.snippet
    assert "myshopify" not in by_name["live-shop.yaml"].match.snippet


def test_history_scan_reads_the_blob_at_its_commit(
    tmp_path: Path,
    http_server: ServerFactory,
    tokens: TokenFactory,
    keys: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    write_files(repo.path, tokens, keys)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "add the keys")
    repo.git("rm", "-q", "live-sa.json", "dead-sa.json", "live-shop.yaml", "dead-shop.yaml")
    repo.git("commit", "-q", "-m", "remove them")  # gone from the working tree: only the blobs have them
    routes = fakes(http_server, keys["live_pem"], keys["live_shop"])
    result = scan(tmp_path, "history", repo.path, routes)
    assert states(result) == EXPECTED
    assert all(isinstance(f.origin, GitOrigin) for f in result.findings)


def test_a_context_read_that_fails_is_unknown(
    tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory, keys: dict[str, Any]
) -> None:
    """Findings of a real scan; the key file vanishes, the shop file changes before validation: unknown, no crash."""
    root = tmp_path / "repo"
    write_files(root, tokens, keys)
    config_path = tmp_path / "leakstop.yaml"
    config_path.write_text(config_text(RULES), encoding="utf-8")
    request = ScanRequest(kind="paths", paths=(str(root),), config=load_config(config_path))
    findings = [f for f in run(request).findings if f.path.rsplit("/", 1)[-1] in ("live-sa.json", "live-shop.yaml")]
    (root / "live-sa.json").unlink()
    (root / "live-shop.yaml").write_text("shopify:\n  shop: acme-store.myshopify.com\n", encoding="utf-8")
    validators = {"gcp-service-account-private-key": VALIDATORS["gcp-service-account"]}
    validators["shopify-access-token"] = VALIDATORS["shopify"]
    context_of = for_request(request)
    assert context_of is not None
    jobs, job_of = jobs_for(findings, validators, b"k" * 32, context_of)
    assert all(job.candidate.context == "" for job in jobs)
    routes = fakes(http_server, keys["live_pem"], keys["live_shop"])
    answers = validate(jobs, ValidationOptions(http=FAST, routes=routes))
    reasons = sorted(answers[job_of[f.secret_id]].reason for f in findings)
    assert [a.state for a in answers.values()] == ["unknown", "unknown"]
    assert reasons == [
        "oauth2.googleapis.com: the client_email not found beside the key",
        "{shop}.myshopify.com: shop not found beside the secret",
    ]


def test_context_is_read_only_for_validators_that_need_it(tmp_path: Path, tokens: TokenFactory) -> None:
    assert VALIDATORS["gcp-service-account"].needs_context and VALIDATORS["atlassian"].needs_context
    assert VALIDATORS["twilio"].needs_context and VALIDATORS["aws-sts"].needs_context
    assert not VALIDATORS["github"].needs_context and not VALIDATORS["mailchimp"].needs_context  # in the secret
    root = tmp_path / "r"
    root.mkdir()
    (root / "a.env").write_text(f"T={tokens.github()}\n", encoding="utf-8")
    config_path = tmp_path / "leakstop.yaml"
    config_path.write_text(config_text(("github-pat",)), encoding="utf-8")
    request = ScanRequest(kind="paths", paths=(str(root),), config=load_config(config_path))
    findings = run(request).findings
    asked: list[str] = []
    jobs, _ = jobs_for(findings, {"github-pat": VALIDATORS["github"]}, b"k" * 32, lambda f: asked.append(f.path) or "")
    assert len(jobs) == 1 and asked == []


def test_window_bounds() -> None:
    lines = [f"line {n}" for n in range(1, 201)]
    lines[99] = "the value SECRETVALUE here"
    text = window("\n".join(lines).encode(), 100, 100, "SECRETVALUE")
    got = text.split("\n")
    assert got[0] == f"line {100 - LINES}" and got[-1] == f"line {100 + LINES}" and len(got) == 2 * LINES + 1
    assert window("\n".join(lines).encode(), 100, 100, "NOT-THERE") == ""  # the content changed
    long = ("x" * 40_000 + " SECRETVALUE " + "y" * 40_000).encode()
    cut = window(long, 1, 1, "SECRETVALUE")
    assert len(cut.encode()) == MAX_BYTES and "SECRETVALUE" in cut
    assert window(long, 1, 1, "x" * (MAX_BYTES + 1)) == ""  # a secret longer than the bound: no context
    edge = ("SECRETVALUE " + "z" * 40_000).encode()
    assert (
        window(edge, 1, 1, "SECRETVALUE").startswith("SECRETVALUE")
        and len(window(edge, 1, 1, "SECRETVALUE")) == MAX_BYTES
    )


def test_rereader_reads_files_and_blobs_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_git(monkeypatch, tmp_path / "home")
    repo = Repo.init(tmp_path / "repo")
    repo.commit("one", {"a.txt": "hello\n", "dir/b.txt": "inner\n"})
    head = repo.head()
    reader = Rereader(str(repo.path), max_size=100)
    assert reader.content(GitOrigin("a.txt", head)) == b"hello\n"
    assert reader.content(GitOrigin("dir", head)) is None  # a tree, not a blob
    assert reader.content(GitOrigin("gone.txt", head)) is None
    assert reader.content(GitOrigin("a.txt", "f" * 40)) is None  # no such commit
    assert reader.content(GitOrigin("a.txt", head, where="commit-message")) is None
    assert Rereader().content(GitOrigin("a.txt", head)) is None  # no repository given
    assert Rereader(str(tmp_path / "nowhere")).content(GitOrigin("a.txt", head)) is None
    assert reader.content(FileOrigin(str(repo.path / "a.txt"))) == b"hello\n"
    (repo.path / "big.txt").write_text("x" * 101, encoding="utf-8")
    assert reader.content(FileOrigin(str(repo.path / "big.txt"))) is None
    (repo.path / "bin.dat").write_bytes(b"\x00\x01\x02" * 10)
    assert reader.content(FileOrigin(str(repo.path / "bin.dat"))) is None
    os.mkfifo(tmp_path / "fifo")
    assert reader.content(FileOrigin(str(tmp_path / "fifo"))) is None  # never opened: it would block
    assert reader.content(FileOrigin(str(tmp_path / "missing"))) is None
    assert reader.content(FileOrigin("-")) is None  # stdin is not read twice
    assert reader.content(ImageOrigin("img", "a.txt")) is None
    big = Rereader(str(repo.path), max_size=3)
    assert big.content(GitOrigin("a.txt", head)) is None
    unreadable = tmp_path / "locked.txt"
    unreadable.write_text("x", encoding="utf-8")
    unreadable.chmod(0)
    if not os.access(unreadable, os.R_OK):  # root reads anything
        assert reader.content(FileOrigin(str(unreadable))) is None
    if os.path.isfile("/proc/self/mem"):  # a regular file whose read fails (EIO at offset 0), even for root
        assert reader.content(FileOrigin("/proc/self/mem")) is None


def test_only_readable_scan_kinds_get_a_context_reader(tmp_path: Path) -> None:
    config_path = tmp_path / "leakstop.yaml"
    config_path.write_text(config_text(RULES), encoding="utf-8")
    config = load_config(config_path)
    assert isinstance(for_request(ScanRequest(kind="paths", paths=(".",), config=config)), FindingContext)
    assert isinstance(for_request(ScanRequest(kind="history", paths=(".",), config=config)), FindingContext)
    assert for_request(ScanRequest(kind="image", image="x", config=config)) is None
    assert for_request(ScanRequest(kind="staged", paths=(".",), config=config)) is None


def test_aws_other_half_added_in_a_later_commit(
    tmp_path: Path, http_server: ServerFactory, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key id and the secret key are first found in different commits (no companion at one place): the secret's
    blob still holds the key id a line above, so the secret validates ``live``; the key id's own blob has no secret."""
    isolate_git(monkeypatch, tmp_path / "home")
    key_id, secret_key = tokens.aws_key_id(), tokens.aws_secret()
    repo = Repo.init(tmp_path / "repo")
    repo.commit("key id", {"creds.ini": f"[default]\naws_access_key_id = {key_id}\n"})
    repo.commit(
        "secret", {"creds.ini": f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret_key}\n"}
    )
    sts = http_server()
    pair = Candidate(key_id, "", {"aws-secret-access-key": (secret_key,)})
    sts.route(
        "POST",
        "/",
        lambda r: Reply(
            200 if aws_accepts(r, pair) else 403, (STS_LIVE if aws_accepts(r, pair) else STS_INVALID).encode()
        ),
    )
    config_path = tmp_path / "leakstop.yaml"
    config_path.write_text(config_text(("aws-access-key-id", "aws-secret-access-key")), encoding="utf-8")
    options = ValidationOptions(http=FAST, routes={"https://sts.amazonaws.com": sts.base})
    request = ScanRequest(kind="history", paths=(str(repo.path),), config=load_config(config_path), validation=options)
    findings = run(request).findings
    assert len({getattr(f.origin, "commit", "") for f in findings}) == 2  # two places: no companions
    found = {f.rule.id: f.validation for f in findings}
    assert found["aws-secret-access-key"] is not None and found["aws-secret-access-key"].state == "live"
    assert found["aws-secret-access-key"].identity == "arn:aws:iam::123456789012:user/deploy"
    assert found["aws-access-key-id"] is not None and found["aws-access-key-id"].state == "unknown"


SECOND_VALUES: dict[str, Any] = {
    "gcp-service-account": lambda c: f'{{\n  "type": "service_account",\n  "client_email": "{EMAIL}",\n}}',
    "shopify": lambda c: "shop:\n  domain: acme-store.myshopify.com\n  version: 2024-10\n",
    "atlassian": lambda c: "jira:\n  url: https://acme.atlassian.net\n\n  user: jane@acme.example\n",
    "dockerhub": lambda c: "registry: docker.io\nDOCKERHUB_USERNAME=acmeci\n",
    "azure-storage": lambda c: "storage:\n  AccountName=acmestore;\n  AccountKey=[elsewhere]\n",
    "twilio": lambda c: f"TWILIO_API_KEY={c.companions['twilio-api-key-sid'][0]}\n# and below its secret\n",
    "aws-sts": lambda c: f"[default]\naws_secret_access_key = {c.companions['aws-secret-access-key'][0]}\n",
}


@pytest.mark.parametrize("name", sorted(SECOND_VALUES))
def test_second_value_found_in_the_context_alone(name: str, http_server: ServerFactory, tokens: TokenFactory) -> None:
    """Each validator with a second value: nothing in the snippet or companions, the value on another line of the
    context → the fake (which checks the request used it) answers live."""
    fake = FAKES[name]
    validator = VALIDATORS[name]
    assert validator.needs_context
    original = fake.make(tokens)
    server = http_server()
    fake.route(server, original, "live", tokens)
    moved = Candidate(original.secret, "", {}, SECOND_VALUES[name](original))
    options = ValidationOptions(http=FAST, routes={validator.origins[0]: server.base})
    answers = validate([Job("fp", validator, moved), Job("bare", validator, Candidate(original.secret))], options)
    assert answers["fp"].state == "live", answers["fp"]
    assert answers["fp"].identity == fake.identity
    assert answers["bare"].state == "unknown" and "not found beside" in answers["bare"].reason


def test_the_snippet_comes_before_the_context(http_server: ServerFactory, tokens: TokenFactory) -> None:
    """The snippet names another account than the context: the snippet's is the one sent (the fake refuses it),
    and the context is not tried after it."""
    fake, validator = FAKES["atlassian"], VALIDATORS["atlassian"]
    original = fake.make(tokens)
    server = http_server()
    fake.route(server, original, "live", tokens)
    snippet = "JIRA_URL=https://acme.atlassian.net JIRA_USER=ops@acme.example JIRA_TOKEN=ATAT…(186)"
    both = Candidate(original.secret, snippet, {}, "user: jane@acme.example\n")
    options = ValidationOptions(http=FAST, routes={validator.origins[0]: server.base})
    answers = validate([Job("fp", validator, both)], options)
    assert answers["fp"].state == "invalid" and len(server.requests) == 1


def test_a_few_contexts_per_secret_and_one_read_per_file(
    tmp_path: Path, tokens: TokenFactory, keys: dict[str, Any]
) -> None:
    root = tmp_path / "r"
    root.mkdir()
    text = key_file(tokens, keys["live_pem"])
    for n in range(5):  # one key in five files: its context is read from three of them at most
        (root / f"sa{n}.json").write_text(text, encoding="utf-8")
    (root / "two.yaml").write_text(shop_config(keys["live_shop"]) + shop_config(keys["dead_shop"]), encoding="utf-8")
    config_path = tmp_path / "leakstop.yaml"
    config_path.write_text(config_text(RULES), encoding="utf-8")
    request = ScanRequest(kind="paths", paths=(str(root),), config=load_config(config_path))
    findings = run(request).findings
    assert len(findings) == 7
    reads: list[str] = []
    reader = Rereader()
    counting = Rereader()
    counting.content = lambda origin: reads.append(origin.path) or reader.content(origin)  # type: ignore[method-assign]
    validators = {"gcp-service-account-private-key": VALIDATORS["gcp-service-account"]}
    validators["shopify-access-token"] = VALIDATORS["shopify"]
    jobs, _ = jobs_for(findings, validators, b"k" * 32, FindingContext(counting))
    assert len(jobs) == 3 and all(EMAIL in j.candidate.context or "acme-store" in j.candidate.context for j in jobs)
    assert sum(1 for p in reads if p.endswith(".json")) == 3  # MAX_CONTEXTS
    assert sum(1 for p in reads if p.endswith("two.yaml")) == 1  # two findings in one file: read once
