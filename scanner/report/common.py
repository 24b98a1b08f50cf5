"""What every reporter shows the same way: locations of findings and their one-line description."""

from __future__ import annotations

from typing import Any

from scanner.models import Finding, GitOrigin, ImageOrigin, Origin, TfstateOrigin


def location_uri(origin: Origin) -> str:
    """The path a report shows. Image findings are ``<image>!<layer digest>!<path>`` (integrations.md 5)."""
    if isinstance(origin, ImageOrigin):
        if origin.path == "config" and not origin.layer_digest:
            return f"{origin.image}!config"
        return f"{origin.image}!{origin.layer_digest}!{origin.path}"
    return origin.path


def origin_fields(origin: Origin) -> dict[str, Any]:
    """Provenance beyond the path, for JSON and SARIF properties."""
    if isinstance(origin, GitOrigin):
        fields = {
            "commit": origin.commit,
            "author": origin.author,
            "email": origin.email,
            "date": origin.date,
            "where": origin.where,
        }
        if origin.address or origin.attribute:  # a Terraform state file in the repository
            fields.update(resource=origin.address, attribute=origin.attribute)
        return fields
    if isinstance(origin, ImageOrigin):
        return {
            "image": origin.image,
            "layer_digest": origin.layer_digest,
            "layer_index": origin.layer_index,
            "created_by": origin.created_by,
            "path_in_layer": origin.path,
            "status": origin.status,
        }
    if isinstance(origin, TfstateOrigin):
        return {"resource": origin.address, "attribute": origin.attribute}
    return {}


def describe(finding: Finding) -> str:
    encoded = f" ({'+'.join(finding.match.decoded)}-encoded)" if finding.match.decoded else ""
    return f"{finding.rule.name}{encoded}: {finding.match.secret.redacted()}"
