"""The image config: the text of it that is scanned, and what it says about each layer (its build step, and its
diff_id where the layout names no blob digest)."""

from __future__ import annotations

from typing import Any

from scanner.formats.shapes import as_dict, as_list
from scanner.sources.image.layout import Image


def config_text(config: dict[str, Any]) -> str:
    """The parts of an image config that carry credentials, one per line (integrations.md 5.4)."""
    lines: list[str] = []
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    inner = inner or {}
    for env in as_list(inner.get("Env")):
        lines.append(f"ENV {env}")
    for key, value in as_dict(inner.get("Labels")).items():
        lines.append(f"LABEL {key}={value}")
    for key in ("Entrypoint", "Cmd", "OnBuild"):
        value = inner.get(key)
        if isinstance(value, list) and value:
            lines.append(f"{key.upper()} {' '.join(str(v) for v in value)}")
    health = inner.get("Healthcheck")
    if isinstance(health, dict) and isinstance(health.get("Test"), list):
        lines.append(f"HEALTHCHECK {' '.join(str(v) for v in health['Test'])}")
    for entry in as_list(config.get("history")):
        if isinstance(entry, dict) and entry.get("created_by"):
            lines.append(f"HISTORY {entry['created_by']}")
    return "\n".join(lines) + "\n" if lines else ""


def assign_history(image: Image, config: dict[str, Any]) -> None:
    """Give each layer its ``created_by`` and, where the layout names no blob digest, the config's diff_id.

    ``created_by`` stays as the config says: the pipeline redacts the secrets it found in the config out of it
    (``pipeline.collect``), since a source does not detect."""
    history = [h for h in as_list(config.get("history")) if isinstance(h, dict) and not h.get("empty_layer")]
    rootfs = config.get("rootfs") if isinstance(config.get("rootfs"), dict) else {}
    diff_ids = [d for d in as_list(as_dict(rootfs).get("diff_ids")) if isinstance(d, str)]
    for layer in image.layers:
        if layer.index < len(history):
            layer.created_by = str(history[layer.index].get("created_by") or "")
        if not layer.digest and layer.index < len(diff_ids):
            layer.digest = diff_ids[layer.index]
        if not layer.digest:
            layer.digest = layer.name  # a legacy layout without a config: the layer's path names it
