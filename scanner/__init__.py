"""leakstop: a git-aware secret scanner and policy gate."""

__version__ = "0.1.0"

# Before anything imports dataclasses: it gets inspect only when it needs it (deferinspect.py).
from scanner import deferinspect as _deferinspect

_deferinspect.import_dataclasses()

# Before any of our dataclasses is created: their generated methods' compiled code is reused (classcode.py).
from scanner import classcode as _classcode  # noqa: E402

_classcode.install()
