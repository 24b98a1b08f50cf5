"""Migration from other secret scanners (issue #5): their baselines used as ours, imported, and their config.

    sniff(path, text)   which kind of baseline file this is
    load_own, load_any  a baseline file: ours only (another kind is an error saying how to import it), or any kind
    READERS             kind -> parser returning a ``scanner.policy.baseline.Matcher`` (``common.ForeignBaseline``)
    importer            ``leakstop baseline import KIND FILE``: what to scan, then key what the scan matched
    gitleaks_config     ``leakstop config import-gitleaks``: a gitleaks TOML config as a ``.leakstop.yaml``

Paths in another tool's file are relative to that file's directory, as in ours.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from scanner.policy import baseline
from scanner.policy.migrate import detect_secrets, gitleaks
from scanner.policy.migrate.common import ForeignBaseline

READERS: dict[str, Callable[[str, str], ForeignBaseline]] = {
    "detect-secrets": detect_secrets.parse,
    "gitleaks-report": gitleaks.parse_report,
    "gitleaksignore": gitleaks.parse_ignore,
}


def sniff(path: str, text: str) -> str:
    """ "leakstop", or a key of ``READERS``. Anything unrecognised is "leakstop", whose parser says what is wrong."""
    name = os.path.basename(path)
    if name == ".leakstop-baseline.json":
        return "leakstop"
    if name.endswith(".gitleaksignore"):
        return "gitleaksignore"
    if name.endswith(".secrets.baseline"):
        return "detect-secrets"
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return "gitleaksignore" if gitleaks.looks_like_ignore(text) else "leakstop"
    except RecursionError:
        return "leakstop"  # whose parser says it is nested too deeply
    if isinstance(doc, list) and (not doc or (isinstance(doc[0], dict) and "RuleID" in doc[0])):
        return "gitleaks-report"
    if isinstance(doc, dict) and "results" in doc and ("plugins_used" in doc or "generated_at" in doc):
        return "detect-secrets"
    return "leakstop"


def load_own(path: str) -> baseline.Baseline:
    """Our own baseline; another tool's file is an error that says how to import it."""
    text = baseline.read(path)
    kind = sniff(path, text)
    if kind != "leakstop":
        raise baseline.BaselineError(
            f"{path}: is a {kind} file, not a leakstop baseline; convert it with `leakstop baseline import {kind}`"
        )
    return baseline.parse(text, path)


def load_any(path: str) -> baseline.Matcher:
    """A baseline of any kind a scan can compare against: ours, or a file another tool wrote (``READERS``)."""
    text = baseline.read(path)
    kind = sniff(path, text)
    if kind == "leakstop":
        return baseline.parse(text, path)
    return READERS[kind](text, path)
