"""Kubernetes manifests (plain, or rendered by Helm) and Helm values files: which values are secrets. Pure.

A ``Secret``'s ``data`` values are base64: decoded and judged with their key names (``password``, ``tls.key``,
``.dockerconfigjson`` …); ``stringData`` values are plain text. ``env`` pairs named like a secret with a literal
``value`` are leaks in any workload. ``ExternalSecret``, ``SecretStore`` and ``SealedSecret`` (whose
``encryptedData`` only the cluster's controller can open) name or seal secrets kept elsewhere: left alone.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from scanner.formats.iacmodel import Place, last_key, literal_secret, named_value, secret_key
from scanner.formats.pulumi import node_at
from scanner.formats.tfstate import Leaf, Path

RULE = "kubernetes-secret-data"
VALUES_RULE = "iac-literal-secret"
REFERENCES = frozenset(
    {"ExternalSecret", "ClusterExternalSecret", "SecretStore", "ClusterSecretStore", "PushSecret", "SealedSecret"}
)


def is_manifest(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("kind"), str) and "apiVersion" in doc


def _manifest(doc: Any, path: Path) -> tuple[Any, Path]:
    """The object a path is in (an item of a ``kind: List``) and the path inside it."""
    root = node_at(doc, path[:1])
    if isinstance(root, dict) and root.get("kind") == "List" and len(path) > 3 and path[1] == "items":
        return node_at(root, path[1:3]), path[3:]
    return root, path[1:]


def _address(manifest: dict[str, Any]) -> str:
    meta = manifest.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    namespace = meta.get("namespace")
    kind = manifest.get("kind")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return str(kind)
    return f"{kind}/{namespace}/{name}" if isinstance(namespace, str) else f"{kind}/{name}"


def place(doc: Any, leaf: Leaf) -> Place | None:
    manifest, rest = _manifest(doc, leaf.path)
    kinded = isinstance(manifest, dict) and isinstance(manifest.get("kind"), str)  # a List's items need no more
    if not kinded or not rest or not isinstance(leaf.value, str):
        return None  # not in a manifest (a document of another kind in the same stream)
    kind = manifest["kind"]
    address, attribute = _address(manifest), ".".join(map(str, rest))
    if kind in REFERENCES:
        return Place(address, attribute, "encrypted" if rest[0] == "encryptedData" else "reference")
    if kind == "Secret" and len(rest) == 2 and rest[0] in ("data", "stringData"):
        return _secret_value(address, attribute, str(rest[1]), leaf.value, rest[0] == "data")
    parent = node_at(manifest, rest[:-1])
    if named_value(parent, rest[-1]) and literal_secret(leaf.value):
        return Place(address, attribute, "secret", rule=RULE)
    return Place(address, attribute)


def _secret_value(address: str, attribute: str, key: str, value: str, encoded: bool) -> Place:
    secret = value
    if encoded:
        try:
            secret = base64.b64decode("".join(value.split()), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return Place(address, attribute)
    if secret_key(key) and literal_secret(secret):
        return Place(
            address,
            attribute,
            "secret",
            secret=secret if encoded else None,
            decoded=("base64",) if encoded else (),
            rule=RULE,
        )
    return Place(address, attribute)


def values_place(doc: Any, leaf: Leaf) -> Place | None:
    """A Helm values file: a literal under a secret-naming key (``auth.password: s3cr3t…``)."""
    path = leaf.path[1:]
    if not path or not isinstance(leaf.value, str):
        return None
    attribute = ".".join(map(str, path))
    named = named_value(node_at(doc, path[:-1]), path[-1])
    if (named or secret_key(last_key(path))) and literal_secret(leaf.value):
        return Place("values", attribute, "secret", rule=VALUES_RULE)
    return Place("values", attribute)
