"""leakstop: a git-aware secret scanner and policy gate."""

__version__ = "0.1.0"
