"""Pulumi stack exports (``pulumi stack export``): which values are secrets kept in plaintext. Pure.

A value Pulumi treats as secret is an object ``{"4dabf18193072939515e22adb298388d":
"1b47061264138c4ac30d75fd1eb44270", "ciphertext": …}``: encrypted by the stack's secrets provider, not a leak.
Exported with ``--show-secrets`` it holds ``"plaintext"`` (the JSON text of the value) instead: a leak. Values
under a secret-naming key (``password``, ``apiKey``, …) that are not marked secret are plaintext too.
"""

from __future__ import annotations

import json
from typing import Any

from scanner.formats.iacmodel import Place, literal_secret, secret_key
from scanner.formats.tfstate import Leaf, Path

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
RULE = "pulumi-plaintext-secret"


def node_at(root: Any, path: Path) -> Any:
    node = root
    for step in path:
        if isinstance(node, dict) and isinstance(step, str):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            return None
    return node


def is_secure(node: Any) -> bool:
    return isinstance(node, dict) and node.get(SECRET_SIG_KEY) == SECRET_SIG


def is_export(doc: Any) -> bool:
    deployment = doc.get("deployment") if isinstance(doc, dict) else None
    return isinstance(deployment, dict) and isinstance(deployment.get("resources", []), list)


def place(doc: Any, leaf: Leaf) -> Place | None:
    path = leaf.path[1:]  # past the document index
    if path[:2] == ("deployment", "secrets_providers"):
        return Place("secrets_providers", "", "encrypted")  # the provider's salt and encrypted key
    if len(path) < 4 or path[:2] != ("deployment", "resources") or not isinstance(path[2], int):
        return None
    resource = node_at(doc, path[:3])
    address = str(resource.get("urn") or resource.get("id") or path[2]) if isinstance(resource, dict) else ""
    attribute = ".".join(str(step) for step in path[3:])
    parent = node_at(doc, path[:-1])
    if is_secure(parent):
        if path[-1] != "plaintext" or not isinstance(leaf.value, str):
            return Place(address, attribute, "encrypted")
        return _plaintext(address, attribute.removesuffix(".plaintext"), leaf.value)
    key = next((step for step in reversed(path) if isinstance(step, str)), "")
    if isinstance(leaf.value, str) and secret_key(key) and literal_secret(leaf.value):
        return Place(address, attribute, "secret", rule=RULE)
    return Place(address, attribute)


def _plaintext(address: str, attribute: str, text: str) -> Place:
    """A secret exported with ``--show-secrets``: ``plaintext`` is the JSON text of the value."""
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    secret = value if isinstance(value, str) else text
    if not secret.strip():
        return Place(address, attribute)
    return Place(address, attribute, "secret", secret=secret, rule=RULE)
