"""What every part of the load benchmark shares: the setup error, exit codes and progress logging."""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_SETUP_FAILED = 2
EXIT_INTERRUPTED = 130


class SetupError(Exception):
    """The benchmark could not be set up (server did not start, key could not be created, ...)."""


def log(message: str) -> None:
    """Print a progress message on stderr (stdout is reserved for results)."""
    print(message, file=sys.stderr, flush=True)
