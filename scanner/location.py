"""How a finding's place is written: the one location string every report and the baseline labelling loop show."""

from __future__ import annotations

from scanner.models import ImageOrigin, Origin


def location_uri(origin: Origin) -> str:
    """The path a report shows. Image findings are ``<image>!<layer digest>!<path>`` (integrations.md 5)."""
    if isinstance(origin, ImageOrigin):
        if origin.path == "config" and not origin.layer_digest:
            return f"{origin.image}!config"
        return f"{origin.image}!{origin.layer_digest}!{origin.path}"
    return origin.path
