"""The structured detector for infrastructure-as-code documents (Pulumi exports, CloudFormation, Kubernetes
manifests, Helm values; ``formats.iac``), beside the rules as ``detect.structured`` is for Terraform state.

Each rule match is tied to the resource and attribute of the value it falls in; a match inside an encrypted value
(a Pulumi ``secure`` ciphertext, a ``SealedSecret``) or a reference (``{{resolve:…}}``, ``!Ref``, an
``ExternalSecret``) is dropped, since the secret is not there; a value the format says is a plaintext secret is a
finding of the format's rule even when no pattern matches.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence

from scanner.detect.engine import RawMatch, to_matches
from scanner.detect.entropy import shannon_entropy
from scanner.detect.examplekeys import is_published_example
from scanner.detect.structured import StateGroup
from scanner.formats.iac import judge
from scanner.formats.tfstate import Leaf, byte_offsets
from scanner.models import Match
from scanner.ruleset import CompiledRule


def analyse_iac(
    data: bytes, structure: str, matches: Sequence[Match], rules: Mapping[str, CompiledRule]
) -> list[StateGroup] | None:
    """The chunk's findings by resource attribute; None when it is not a document of that ``structure``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    judged = judge(structure, text)
    if judged is None:
        return None
    leaves = judged.leaves
    spans = [(start, end, leaf) for leaf, (start, end) in zip(leaves, byte_offsets(text, leaves), strict=True)]
    starts = [s for s, _, _ in spans]

    def leaf_at(offset: int) -> Leaf | None:
        i = bisect_right(starts, offset) - 1  # scalars do not overlap: the last one starting at or before
        return spans[i][2] if i >= 0 and spans[i][0] <= offset <= spans[i][1] else None

    groups: dict[tuple[str, str], list[Match]] = {}
    covered: set[object] = set()
    for match in matches:
        leaf = leaf_at(match.start)
        place = judged.places.get(leaf.path) if leaf is not None else None
        if place is not None and place.kind in ("encrypted", "reference"):
            continue
        if place is not None and place.decoded and not match.decoded:
            continue  # a pattern that took the base64 text itself: the decoded value is reported instead
        key = (place.address, place.attribute) if place is not None else ("", "")
        groups.setdefault(key, []).append(match)
        if leaf is not None:
            covered.add(leaf.path)
    for start, end, leaf in spans:
        place = judged.places.get(leaf.path)
        if place is None or place.kind != "secret" or leaf.path in covered:
            continue
        rule = rules.get(place.rule)
        if rule is None:
            continue
        secret = place.secret if place.secret is not None else str(leaf.value)
        if is_published_example(secret):
            continue  # a documentation key (AWS's EXAMPLEKEY) under a secret-named key: no rule reports it either
        raw = RawMatch(rule, start, end, secret, shannon_entropy(secret), place.decoded)
        groups.setdefault((place.address, place.attribute), []).extend(to_matches(data, [raw]))
    return [StateGroup(address, attribute, tuple(found)) for (address, attribute), found in groups.items()]
