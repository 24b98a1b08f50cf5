"""``dataclasses`` without ``inspect`` until it needs it.

``dataclasses`` (3.10 to 3.13) imports ``inspect`` for one thing: the text signature it writes into the ``__doc__``
of a class that has no docstring. Importing ``inspect`` (and ``ast``, ``dis``, ``tokenize``, ... with it) is 66 M
instructions, a fifth of the commit hook's whole run, and every class the hook creates has a docstring
(``tests/test_classcode.py``), so the hook never uses it.

``import_dataclasses`` imports ``dataclasses`` while ``sys.modules`` holds a stand-in for ``inspect`` that imports
the real module at its first attribute access, and takes the stand-in out again at once: ``dataclasses`` keeps
the stand-in, and every other importer of ``inspect`` gets the real module as usual. Where ``inspect`` or
``dataclasses`` is already imported (a program that imports us as a library), nothing changes.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _OnFirstUse(types.ModuleType):
    """A module whose attributes are those of the real module of its name, imported at the first lookup."""

    def __getattr__(self, name: str) -> Any:
        return getattr(__import__(self.__name__), name)


def import_dataclasses() -> None:
    if "dataclasses" in sys.modules or "inspect" in sys.modules:
        return
    sys.modules["inspect"] = _OnFirstUse("inspect")
    try:
        import dataclasses  # noqa: F401  (it keeps the stand-in as its ``inspect``)
    finally:
        del sys.modules["inspect"]
