"""User-facing errors.

Every problem caused by the user's input (a config key, a missing file, a store written by another
configuration) raises :class:`HensError` with a one-line message that names the problem and the fix.
The CLI prints that line and exits with status 2, without a traceback.
"""

from __future__ import annotations


class HensError(Exception):
    """A problem with the user's input; the message is one line naming the problem and the fix."""


class ConfigError(HensError):
    """A configuration key is missing or has an invalid value."""


class CheckpointError(HensError):
    """A checkpoint package is missing files or does not match the run (channels, grid)."""


class StoreError(HensError):
    """An output store cannot be created, resumed or read."""
