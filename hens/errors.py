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


class Interrupted(BaseException):
    """SIGTERM received (SIGINT raises KeyboardInterrupt); a BaseException so that nothing swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def os_error_line(err: OSError) -> str | None:
    """A one-line message with the fix for an OSError that the user's environment causes (full disk, read-only
    or unwritable path, a file where a folder is needed); None for any other OSError (a bug: keep the
    traceback)."""
    import errno

    where = err.filename or "the output"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"no space left on the device writing {where} ({err.strerror}); what was finished is kept — free space "
            "(or choose another output path) and re-run the same command to resume"
        )
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {where} ({err.strerror}); choose a writable output path"
    if err.errno in (errno.ENOTDIR, errno.EEXIST) or isinstance(err, (NotADirectoryError, FileExistsError)):
        return f"cannot create {where}: a part of its path is a file, not a folder; choose another output path"
    return None
