"""Property tests: the infrastructure-as-code parsers and the structured detector never crash, whatever JSON,
YAML or bytes they get; they answer with places, None (not such a document) or a one-line InputError."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokens import ALNUM, TokenFactory

from scanner.detect.engine import Detector
from scanner.detect.iac import analyse_iac
from scanner.errors import InputError
from scanner.formats import sniff as sniff_module
from scanner.formats.iac import JUDGES, judge
from scanner.formats.iacmodel import literal_secret, secret_key
from scanner.formats.sniff import sniff
from scanner.formats.tfplan import plan_owners, saved_plan_json
from scanner.formats.tfstate import StateIndex, load_state
from scanner.ruleset import load_ruleset

RULESET = load_ruleset()
RULES = RULESET.by_id
DETECTOR = Detector(RULESET, engine="python")
STRUCTURES = sorted(JUDGES)
KEYS = st.sampled_from(
    [
        "kind",
        "data",
        "stringData",
        "metadata",
        "name",
        "namespace",
        "deployment",
        "resources",
        "inputs",
        "outputs",
        "plaintext",
        "ciphertext",
        "4dabf18193072939515e22adb298388d",
        "Parameters",
        "Resources",
        "Properties",
        "NoEcho",
        "Default",
        "Type",
        "password",
        "value",
        "Value",
        "Name",
        "env",
        "items",
        "format_version",
        "resource_changes",
        "change",
        "after",
        "after_sensitive",
        "output_changes",
        "variables",
        "configuration",
        "root_module",
        "module_calls",
        "module",
        "expressions",
        "sensitive",
        "encryptedData",
        "Ref",
        "!Ref",
    ]
) | st.text(max_size=8)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "Secret",
            "List",
            "SealedSecret",
            "ExternalSecret",
            "1b47061264138c4ac30d75fd1eb44270",
            "true",
            "1.2",
            "2.0",
            "cGFzc3dvcmQxMjM0NTY3OA==",
            "{{resolve:ssm-secure:/a:1}}",
            "urn:pulumi:a::b::c::d",
        ]
    )
)
DOCS = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5), max_leaves=30
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(doc=DOCS, structure=st.sampled_from(STRUCTURES), as_yaml=st.booleans())
def test_judges_and_the_detector_never_crash_on_documents(doc: Any, structure: str, as_yaml: bool) -> None:
    text = yaml.safe_dump(doc) if as_yaml else json.dumps(doc)
    judged = judge(structure, text)
    if judged is not None:
        assert set(judged.places) <= {leaf.path for leaf in judged.leaves}
    data = text.encode()
    groups = analyse_iac(data, structure, DETECTOR.detect(data), RULES)
    assert groups is None or all(g.matches for g in groups)


@FAST
@given(text=st.text(alphabet=string.printable + "é…", max_size=300), structure=st.sampled_from(STRUCTURES))
def test_any_text_is_a_document_or_not(text: str, structure: str) -> None:
    judge(structure, text)
    analyse_iac(text.encode("utf-8", "surrogatepass"), structure, [], RULES)
    sniff("x.yaml", text.encode("utf-8", "surrogatepass"))


SNIFF_PIECES = st.sampled_from(
    [
        b"AWSTemplateFormatVersion",
        b"AWS::",
        b"S3::",
        b"Type",
        b"kind",
        b"apiVersion",
        b"Secret",
        b"Pod",
        b":",
        b" ",
        b"\n",
        b'"',
        b"'",
        b"{",
        b",",
        b"x",
    ]
)


@FAST
@given(pieces=st.lists(SNIFF_PIECES, max_size=30), path=st.sampled_from(["a.yaml", "values.yml", "t.template"]))
def test_sniff_literal_checks_change_nothing(pieces: list[bytes], path: str) -> None:
    """The literal checks before the CloudFormation and Kubernetes regexes only skip texts they cannot match."""
    data = b"".join(pieces)
    if sniff_module._CFN.search(data):
        expected = "cloudformation"
    elif sniff_module._K8S.search(data) and sniff_module._K8S_API.search(data):
        expected = "kubernetes"
    else:
        expected = "helm-values" if path == "values.yml" else ""
    assert sniff(path, data) == expected


@FAST
@given(doc=DOCS)
def test_plan_owners_never_crash_and_state_reads_plans(doc: Any) -> None:
    if not isinstance(doc, dict):
        return
    plan_owners(doc)
    text = json.dumps(doc)
    try:
        loaded = load_state(text, "p")
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    index = StateIndex(loaded, [])
    for path in index.owners:  # every owner looks up without an error
        index.owner((*path, "password"))


@FAST
@given(data=st.binary(max_size=400))
def test_saved_plan_bytes_are_a_plan_or_a_one_line_error(data: bytes) -> None:
    try:
        saved_plan_json(b"PK\x03\x04" + data, "p.tfplan")
    except InputError as exc:
        assert str(exc).startswith("p.tfplan: ") and "\n" not in str(exc)


def test_a_yaml_bomb_is_not_expanded() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
    lines += ["kind: Secret", "apiVersion: v1"]
    assert judge("kubernetes", "\n".join(lines)) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("db_password", True),
        ("apiKey", True),
        ("tls.key", True),
        ("existingSecret", False),
        ("passwordKey", False),
        ("secretKeyRef", False),
        ("username", False),
    ],
)
def test_secret_key_names(name: str, expected: bool) -> None:
    assert secret_key(name) is expected


def test_literal_secret_shapes(tokens: TokenFactory) -> None:
    assert not literal_secret("{{resolve:secretsmanager:a:SecretString:b}}")
    assert not literal_secret("${DB_PASSWORD}")
    assert not literal_secret("changeme")
    assert not literal_secret("aaaaaaaaaa")
    assert literal_secret(tokens.clean_chars(ALNUM, 16))


def _places(structure: str, text: str) -> dict[str, tuple[str, str, str]]:
    judged = judge(structure, text)
    assert judged is not None
    return {
        str(leaf.value): (p.address, p.attribute, p.kind)
        for leaf in judged.leaves
        if (p := judged.places.get(leaf.path)) is not None
    }


def test_kubernetes_lists_bad_base64_and_named_env_values(tokens: TokenFactory) -> None:
    value = tokens.clean_chars(ALNUM, 14)
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"kind": "Secret", "metadata": {"name": "a"}, "data": {"password": "not base64!", "token": "//79"}},
            {
                "kind": "Pod",
                "metadata": {"name": "p"},
                "spec": {"env": [{"name": "API_KEY", "value": value}]},
            },
        ],
    }
    places = _places("kubernetes", json.dumps(doc))
    assert places["not base64!"] == ("Secret/a", "data.password", "value")
    assert places["//79"] == ("Secret/a", "data.token", "value")  # decodes to bytes that are not UTF-8 text
    assert places[value] == ("Pod/p", "spec.env.0.value", "secret")


def test_pulumi_plaintext_forms() -> None:
    secure = "4dabf18193072939515e22adb298388d"
    sig = "1b47061264138c4ac30d75fd1eb44270"
    resources = [
        {
            "urn": "urn:pulumi:s::p::t::r",
            "outputs": {
                "a": {secure: sig, "plaintext": "not json"},
                "b": {secure: sig, "plaintext": '""'},
                "c": [{secure: sig, "plaintext": '{"k": 1}'}],
            },
        }
    ]
    places = _places("pulumi", json.dumps({"deployment": {"resources": resources}}))
    assert places["not json"][2] == "secret"
    assert places['""'][2] == "value"
    assert places['{"k": 1}'] == ("urn:pulumi:s::p::t::r", "outputs.c.0", "secret")


def test_plan_output_mirrors_and_lists() -> None:
    doc = {
        "format_version": "1.2",
        "output_changes": {
            "o": {"after": {"user": "u", "keys": ["k1", "k2"]}, "after_sensitive": {"keys": [False, True]}}
        },
    }
    owners = plan_owners(doc)
    assert owners[("output_changes", "o", "after", "keys", 1)] == ("output.o", "", (), True)
    assert ("output_changes", "o", "after", "keys", 0) not in owners


def test_what_is_not_a_document() -> None:
    assert judge("nosuch", "{}") is None
    assert judge("pulumi", "[" * 100_000) is None  # nested too deeply
    assert judge("cloudformation", "a: [") is None
    assert analyse_iac(b"\xff\xfe", "kubernetes", [], RULES) is None
    assert sniff("a.json", b'{"kind": "Secret", "apiVersion": "v1"}') == ""  # JSON: a manifest needs line starts
    assert sniff("a.txt", b"kind: Secret\napiVersion: v1\n") == ""
    assert sniff("rules.yaml", b"rules:\n  - example: |\n      apiVersion: v1\n      kind: Secret\n") == ""
    assert sniff("t.json", b'{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {}}') == "cloudformation"
    assert sniff("c/values-prod.yaml", b"a: 1\n") == "helm-values"


def test_a_disabled_rule_reports_nothing_structured(tokens: TokenFactory) -> None:
    secret = tokens.clean_chars(ALNUM, 16)
    text = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\nstringData:\n  password: {secret}\n"
    assert analyse_iac(text.encode(), "kubernetes", [], {}) == []
    assert analyse_iac(text.encode(), "kubernetes", [], RULES) != []
