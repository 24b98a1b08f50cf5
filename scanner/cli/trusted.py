"""The policy a range is scanned under comes from the trusted side (issue #18 item 6).

A pull request must not set its own policy: in ``scan --range``/``--since`` and ``leakstop ci`` the config is the
one named with ``--config`` (the CI's or the server's file), else the base commit's ``.leakstop.yaml`` (``git show
BASE:.leakstop.yaml``; the built-in policy when the base has none), never the one in the checkout being scanned.
When the range's tip has a different ``.leakstop.yaml`` (added, edited or removed), the scan reports it as a
finding of rule ``leakstop-policy-change`` (``scanner/pipeline/policychange.py``).

A range with no base (``..B``) has no trusted side: the checkout's config applies, as for a tree scan.
"""

from __future__ import annotations

from scanner.integrations.ci.gitrepo import GitRepo
from scanner.pipeline.policychange import PolicyChange
from scanner.policy.config import CONFIG_NAME, Config, load_config_data


def range_ends(range_spec: str) -> tuple[list[str], str] | None:
    """The base revisions and the tip of a range as ``sources.git.ranges.plan`` reads it: ``A..B``, ``A``
    (``A..HEAD``), a revision list ``B ^A1 ^A2``; None when the range has no base. The policy comes from the first
    base."""
    words = range_spec.split()
    if len(words) > 1:
        bases = [w[1:] for w in words if w.startswith("^")]
        tips = [w for w in words if not w.startswith("^")]
        return (bases, tips[0] if tips else "HEAD") if bases else None
    if ".." in range_spec:
        base, _, tip = range_spec.partition("..")
        return ([base], tip.lstrip(".") or "HEAD") if base else None
    return ([range_spec], "HEAD") if range_spec else None


def trusted_config(repo_path: str, range_spec: str) -> tuple[Config, PolicyChange | None] | None:
    """The base commit's config and the change the range makes to it; None when the range has no base."""
    ends = range_ends(range_spec)
    if ends is None:
        return None
    git = GitRepo(repo_path)
    bases, tip = [git.commit(b) for b in ends[0]], git.commit(ends[1])
    base = bases[0]
    at_base = git.file_at(base, CONFIG_NAME)
    config = Config() if at_base is None else load_config_data(at_base[1], f"{base[:12]}:{CONFIG_NAME}", git.root)
    changed_in = git.last_change(tip, bases, CONFIG_NAME)
    if not changed_in:
        return config, None
    at_tip = git.file_at(tip, CONFIG_NAME)
    return config, PolicyChange(CONFIG_NAME, base, changed_in, at_tip[0] if at_tip else "")
