"""Live validation (issue #14): is a found credential still live? Opt-in (``scan --validate``), read-only.

Below the pipeline, beside ``respond``: it never scans. ``run.validate`` takes the distinct secrets of a run's
findings and returns what each provider said; ``table.VALIDATORS`` lists the validators.
"""
