"""leakstop: a git-aware secret scanner and policy gate."""

__version__ = "0.1.0"

# First: the installed ``leakstop scan`` runs its start-up, this import included, without the cyclic collector, and
# takes the modules it imports from one table of their compiled code (moduletable.py).
from scanner import startup as _startup

if _startup.is_the_command():  # (``console`` settles the pause)
    _startup.pause()
    from scanner import moduletable as _moduletable

    _moduletable.install()

# Before anything imports dataclasses: it gets inspect only when it needs it (deferinspect.py).
from scanner import deferinspect as _deferinspect

_deferinspect.import_dataclasses()

# Before any of our dataclasses is created: their generated methods' compiled code is reused (classcode.py).
from scanner import classcode as _classcode  # noqa: E402

_classcode.install()
