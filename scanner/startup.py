"""The cyclic garbage collector over a ``leakstop scan`` process's start-up: paused while modules, rules and the
detector load, then what they made is frozen out of its sight and it runs as usual.

Start-up creates objects that live as long as the process (modules, classes, functions, 600 rules, the detector's
tables: 26,600 that the collector tracks at the end of ``scan FILE``) and almost no garbage. Every 700 new container
objects the collector looks at the young ones, every tenth time at the middle generation, and now and then traverses
everything; at exit it traverses everything once more. On the commit hook's run that was about a tenth of all
instructions (callgrind, ``scan FILE``: 396 M without the SHA-256 valgrind inflates, 40 M of them the collector's),
spent finding nothing.

``pause`` stops the collector (only if it ran: an embedding program's choice is left alone); ``settle``, called
once the scan's ruleset and detector are built, moves every object alive then to the permanent generation
(``gc.freeze``: later collections, the one at exit included, skip them) and starts the collector again. This is the
sequence the ``gc`` documentation gives for a process that forks workers (disable early, freeze before the fork),
so a history scan's forked workers also leave the parent's pages shared. ``settle`` without a ``pause`` before it
does nothing: a library caller or a test calling ``scanner.cli.main`` keeps its collector as it was.

The package's ``__init__`` pauses first thing when ``is_the_command``: the installed ``leakstop scan`` imports
``scanner`` (``dataclasses``, the stored class code) before ``console`` runs, and the collector ran 10 times over
that import (about 5 M instructions, finding almost nothing). Only a process started as ``leakstop scan`` (its
program's name and first argument) is paused, and it calls ``console`` and so ``settle``: a program that imports
``scanner`` keeps its collector. The same test decides whether the start takes its modules from ``moduletable``.
"""

from __future__ import annotations

import gc
import os
import sys

_PAUSED: list[bool] = []  # [True] between a pause that stopped the collector and the settle that restarts it


def pause() -> None:
    """Stop the cyclic collector for the start-up, if it is running."""
    if gc.isenabled() and not _PAUSED:
        gc.disable()
        _PAUSED.append(True)


def is_the_command() -> bool:
    """Whether this process was started as the installed command's ``scan`` (its program's name, first argument)."""
    argv = getattr(sys, "argv", None) or [""]  # an embedding program may set none
    return os.path.splitext(os.path.basename(argv[0]))[0] == "leakstop" and argv[1:2] == ["scan"]


def settle() -> None:
    """Start-up is over: freeze what it made and run the collector again (nothing, unless ``pause`` stopped it)."""
    if _PAUSED:
        _PAUSED.clear()
        gc.freeze()
        gc.enable()
