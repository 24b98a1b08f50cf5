"""CloudFormation templates (YAML with short-form tags, or JSON): which values are literal secrets. Pure.

A ``NoEcho`` parameter hides its value from the console, but a ``Default`` written in the template is in the
template for anyone who reads it. In ``Resources``, a literal under a secret-naming property
(``MasterUserPassword``, ``SecretString``, an ``Environment`` pair named ``DB_PASSWORD``) is a leak, while an
intrinsic function (``Ref``, ``Fn::Sub``, ``!GetAtt``, …) and a dynamic reference (``{{resolve:secretsmanager:…}}``,
``{{resolve:ssm-secure:…}}``) point at a secret kept elsewhere and are left alone.
"""

from __future__ import annotations

from typing import Any

from scanner.formats.iacmodel import Place, last_key, literal_secret, named_value, secret_key
from scanner.formats.pulumi import node_at
from scanner.formats.tfstate import Leaf

NOECHO_RULE = "cloudformation-noecho-default"
LITERAL_RULE = "iac-literal-secret"


def is_template(doc: Any) -> bool:
    return isinstance(doc, dict) and ("AWSTemplateFormatVersion" in doc or isinstance(doc.get("Resources"), dict))


def _intrinsic(step: str | int) -> bool:
    return isinstance(step, str) and (step == "Ref" or step.startswith(("Fn::", "!")))


def place(doc: Any, leaf: Leaf) -> Place | None:
    path = leaf.path[1:]
    if len(path) < 3 or not isinstance(leaf.value, str) or path[0] not in ("Parameters", "Resources"):
        return None
    name = str(path[1])
    if path[0] == "Parameters":
        parameter = node_at(doc, path[:2])
        noecho = isinstance(parameter, dict) and str(parameter.get("NoEcho")).lower() == "true"
        if path[2:] == ("Default",) and noecho and leaf.value.strip():
            return Place(f"Parameters.{name}", "Default", "secret", rule=NOECHO_RULE)
        return Place(f"Parameters.{name}", ".".join(map(str, path[2:])))
    resource = node_at(doc, path[:2])
    rtype = resource.get("Type") if isinstance(resource, dict) else None
    address = f"{name} ({rtype})" if isinstance(rtype, str) else name
    attribute = ".".join(map(str, path[2:]))
    if any(_intrinsic(step) for step in path) or "{{resolve:" in leaf.value:
        return Place(address, attribute, "reference")
    if path[2] != "Properties":
        return Place(address, attribute)
    named = named_value(node_at(doc, path[:-1]), path[-1])
    if (named or secret_key(last_key(path))) and literal_secret(leaf.value):
        return Place(address, attribute, "secret", rule=LITERAL_RULE)
    return Place(address, attribute)
