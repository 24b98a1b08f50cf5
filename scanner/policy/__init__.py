"""The policy gate: what blocks, what warns and what is let through, and why.

    config       ``.leakstop.yaml``: found and parsed into a frozen ``Config``
    validate     a config file's YAML and schema checks, cached by content hash
    gate         the policy settings and the verdict for one finding (``decide``)
    allowlists   gitleaks-style allowlists: paths, regexes (secret, match, line), stopwords, commits
    baseline     the keyed baseline file (fingerprints and labels, never a secret) and its upgrades
    labelling    ``baseline audit``: label baselined findings true or false positives
    context      the run's context read from the environment: branch, bypass requests
    migrate/     other scanners' baselines and configs (detect-secrets, gitleaks)

Depends on the core types, the ruleset (custom rules in the config) and path matching only.
"""
