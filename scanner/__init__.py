"""leakstop: a git-aware secret scanner and policy gate."""

__version__ = "0.1.0"

# Before any of our dataclasses is created: their generated methods' compiled code is reused (classcode.py).
from scanner import classcode as _classcode

_classcode.install()
