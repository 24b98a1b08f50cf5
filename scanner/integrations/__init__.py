"""Integrations: where leakstop meets the tools around a repository, at the edge like the command line.

ci/         ``leakstop ci``: what a GitHub Actions or GitLab CI run scans, and its job summary and annotations
githooks    plain git hooks (``leakstop install-hook pre-commit|pre-push``): the script and its install
prereceive  server push protection (``leakstop hook pre-receive``, ``hooks/pre-receive``)

Each integration reads what its host gives (a CI's environment, a hook's stdin), builds a ``ScanRequest`` and
renders the ``ScanResult``; the CI integrations will live here too.
"""
