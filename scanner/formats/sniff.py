"""Which structure a file's content has, by its name and a few patterns (``formats.iac`` parses and judges it).

Apart from ``formats.iac`` so that every source can ask without importing the parsers (YAML among them): the
commit hook's path sniffs each file and parses none of a commit of source files.
"""

from __future__ import annotations

from scanner.lazyre import LazyPattern

_YAML = (".yaml", ".yml")
_JSON_PLAN = LazyPattern(rb'"format_version"\s*:')
_TF_VERSION = LazyPattern(rb'"terraform_version"\s*:')
_CFN = LazyPattern(
    rb'(?m)(?:^\s*|[{,]\s*)"?AWSTemplateFormatVersion"?\s*:|^\s+"?Type"?\s*:\s*["\']?AWS::[A-Za-z0-9]+::'
)
_K8S = LazyPattern(
    rb'(?m)^(?:kind|\s*"kind")\s*:\s*["\']?(?:Secret|ExternalSecret|ClusterExternalSecret|SealedSecret|SecretStore'
    rb"|ClusterSecretStore|Deployment|StatefulSet|DaemonSet|Pod|Job|CronJob|List)[\"']?\s*,?\s*$"
)
_K8S_API = LazyPattern(rb'(?m)^(?:apiVersion|\s*"apiVersion")\s*:')  # top level (YAML) or quoted (JSON)
_HELM_VALUES = LazyPattern(r"(?:^|/)(?:values(?:[-.][\w.-]+)?|[\w.-]+[-.]values)\.ya?ml$")


def sniff(path: str, data: bytes) -> str:
    """The structure a file's content has ("" for none): ``tfstate`` for plans and ``show -json`` output."""
    lower = path.lower()
    if lower.endswith(".json"):
        if _JSON_PLAN.search(data) and _TF_VERSION.search(data):
            return "tfstate"
        if b'"deployment"' in data and b"urn:pulumi:" in data:
            return "pulumi"
    elif not lower.endswith((*_YAML, ".template")):
        return ""
    # Each regex needs a literal that a memchr-speed ``in`` looks for first: the regexes have no literal prefix,
    # so ``re`` tries them at every offset (about 50 ns a byte: 0.18 CPU-s of YAML in pytest's history).
    if (b"AWSTemplateFormatVersion" in data or b"AWS::" in data) and _CFN.search(data):
        return "cloudformation"
    if b"kind" in data and b"apiVersion" in data and _K8S.search(data) and _K8S_API.search(data):
        return "kubernetes"
    return "helm-values" if _HELM_VALUES.search(lower) else ""
