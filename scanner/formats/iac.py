"""Infrastructure-as-code documents other than Terraform state: what kind a file is by its content (no flag
needed in a directory scan), and each value's place once parsed. Pure: no I/O, no detection.

| structure | what | judged by |
| --- | --- | --- |
| ``pulumi`` | ``pulumi stack export`` JSON | ``formats.pulumi`` |
| ``cloudformation`` | CloudFormation templates, YAML or JSON | ``formats.cloudformation`` |
| ``kubernetes`` | Kubernetes manifests (plain or Helm-rendered), YAML streams or JSON | ``formats.kubernetes`` |
| ``helm-values`` | Helm values files (``values.yaml``, ``values-*.yaml``) | ``formats.kubernetes.values_place`` |

Terraform plans and ``terraform show -json`` output are state-shaped and read as state (``formats.tfplan``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from scanner.formats import cloudformation, kubernetes, pulumi
from scanner.formats.iacmodel import Judged, Place
from scanner.formats.tfstate import Leaf, Walker
from scanner.formats.yamldoc import NotYaml, load_documents

Judge = Callable[[Any, Leaf], Place | None]
JUDGES: dict[str, tuple[Judge, Callable[[Any], bool]]] = {
    "pulumi": (pulumi.place, pulumi.is_export),
    "cloudformation": (cloudformation.place, cloudformation.is_template),
    "kubernetes": (kubernetes.place, kubernetes.is_manifest),
    "helm-values": (kubernetes.values_place, lambda doc: isinstance(doc, dict)),
}


def parse(text: str) -> tuple[list[Any], list[Leaf]]:
    """JSON (one document) or YAML (a stream); leaves' paths start with the document index. Raises ``ValueError``."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        except ValueError:
            doc = None
        else:
            try:
                leaves = Walker(text).run()
            except RecursionError:
                raise ValueError("JSON nested too deeply") from None
            return [doc], [Leaf((0, *leaf.path), leaf.start, leaf.end, leaf.value) for leaf in leaves]
    try:
        return load_documents(text)
    except NotYaml as exc:
        raise ValueError(str(exc)) from None


def judge(structure: str, text: str) -> Judged | None:
    """Each leaf's place, or None when the text is not a document of that kind (then it is plain text)."""
    entry = JUDGES.get(structure)
    if entry is None:
        return None
    place_of, accepts = entry
    try:
        docs, leaves = parse(text)
    except ValueError:
        return None
    if not any(accepts(doc) for doc in docs):
        return None
    places: dict[Any, Place] = {}
    for leaf in leaves:
        # Kubernetes reads a path from the stream's list of documents; the others from the leaf's own document
        found = place_of(docs if structure == "kubernetes" else docs[int(leaf.path[0])], leaf)
        if found is not None:
            places[leaf.path] = found
    return Judged(leaves, places)
