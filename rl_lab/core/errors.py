"""One exception hierarchy; the CLI catches ``RlLabError`` once and exits with its ``exit_code``.

- ``InputError`` (exit 2): the user gave something rl_lab cannot use — a config field, a
  checkpoint, a run directory, a file. The message names the thing and the fix, and it is
  raised before anything is written.
- ``RunFailure`` (exit 1): valid input, but the work itself failed.

They subclass ``ValueError`` / ``RuntimeError`` so library callers that catch those keep working.
"""

from __future__ import annotations


class RlLabError(Exception):
    """Base of every error rl_lab raises on purpose."""

    exit_code = 1


class InputError(RlLabError, ValueError):
    """Bad input of any kind: the message names the field or path, and the fix."""

    exit_code = 2


class ConfigError(InputError):
    """A configuration problem; ``str()`` names the field path and the fix."""


class CheckpointError(InputError):
    """A checkpoint that is missing, truncated, pickled, inconsistent or of an unusable architecture."""


class RunDirError(InputError):
    """A path that is neither a run dir nor a sweep dir, or lacks (or holds a damaged copy of) what a command needs."""


class RunFailure(RlLabError, RuntimeError):
    """The input was valid but the work failed (exit 1)."""


class RunInterrupted(RunFailure):
    """SIGINT or SIGTERM ended the run after a checkpoint; exit status 128 + the signal, as a shell reports it."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
