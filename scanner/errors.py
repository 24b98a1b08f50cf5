"""The one user-facing error type and the exit codes (design.md, "Exit codes").

    LeakstopError          a problem the user can fix; its message is one line naming the file and the problem
     ├── UsageError        bad command-line arguments                         -> exit 2
     ├── ConfigError       a rule file or .leakstop.yaml that is invalid       -> exit 2
     ├── InputError        a scan target that cannot be read at all            -> exit 2
     └── ScanAborted       the scan cannot go on (a worker process died)       -> exit 3

Anything else escaping to the CLI is a bug: exit 3 (internal error), never 1, so a crash never looks like a leak.
"""

from __future__ import annotations

EXIT_PASS = 0
EXIT_BLOCKED = 1
EXIT_ERROR = 2
EXIT_INTERNAL = 3
EXIT_BASELINE_REWRITTEN = 4
EXIT_PENDING = 5  # leakstop respond: response actions are still pending (retry later: --drain)
EXIT_INTERRUPTED = 130


class LeakstopError(Exception):
    exit_code = EXIT_ERROR


class UsageError(LeakstopError):
    pass


class ConfigError(LeakstopError):
    pass


class InputError(LeakstopError):
    pass


class ScanAborted(LeakstopError):
    """Not the user's to fix and not a leak: exit 3 with a message saying what stopped the scan."""

    exit_code = EXIT_INTERNAL
