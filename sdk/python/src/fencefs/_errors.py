"""The exceptions of the SDK; every one derives from :class:`FenceError`."""

from __future__ import annotations

import errno as _errno
from typing import TYPE_CHECKING, Optional, Sequence, Union

if TYPE_CHECKING:  # pragma: no cover
    from ._types import ExecResult

__all__ = [
    "FenceError",
    "SetupError",
    "CommandTimeoutError",
    "CommandExecutionError",
    "PermissionDeniedError",
    "SandboxNotRunningError",
]


class FenceError(Exception):
    """Base class of every error this SDK raises on its own.

    Errors of the file helpers that have a standard Python equivalent are
    raised as that (``FileNotFoundError``, ``IsADirectoryError``...), except
    refusals by the policy, which are :class:`PermissionDeniedError` (both a
    ``FenceError`` and a ``PermissionError``).
    """


class SetupError(FenceError):
    """``fence-run`` itself failed (its exit status 125).

    Raised by :meth:`Sandbox.from_local` when the sandbox cannot be started
    (a bad rule, policy or option, a taken name, a missing kernel feature),
    and by a command when ``fence-run --in`` could not run it at all.
    ``message`` is fence-run's own one-line message (``fence-run: ...``),
    ``stderr`` all that it printed.
    """

    def __init__(self, message: str, exit_code: int = 125, stderr: str = "") -> None:
        super().__init__(message)
        #: fence-run's one-line message.
        self.message = message
        #: fence-run's exit status (125, or another value for an unexpected failure).
        self.exit_code = exit_code
        #: Everything fence-run wrote to standard error.
        self.stderr = stderr


class SandboxNotRunningError(FenceError):
    """The sandbox was stopped (by :meth:`Sandbox.stop`, the ``with`` block,
    ``fence-run --stop``, ``--ttl`` or ``--idle-timeout``) or never existed."""

    def __init__(self, name: str, detail: str = "") -> None:
        msg = f"sandbox '{name}' is not running"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)
        #: The sandbox's name.
        self.name = name


class CommandTimeoutError(FenceError, TimeoutError):
    """The ``timeout=`` of a command fired and fence-run killed that
    command's processes.  The sandbox itself stays usable (except for a
    :class:`Session`, whose shell is killed with the command).
    ``result`` holds what the command printed before it was killed."""

    def __init__(self, command: Union[str, Sequence[str]], timeout: Optional[float],
                 result: Optional["ExecResult"] = None) -> None:
        super().__init__(f"command timed out after {timeout} s: {command!r}")
        #: The command as given.
        self.command = command
        #: The timeout in seconds.
        self.timeout = timeout
        #: The partial result (``timed_out`` is True), when there is one.
        self.result = result
        #: Standard output so far.
        self.stdout = result.stdout if result is not None else ""
        #: Standard error so far.
        self.stderr = result.stderr if result is not None else ""


class CommandExecutionError(FenceError):
    """A command run with ``raise_on_error=True`` exited non-zero."""

    def __init__(self, exit_code: int, stdout: str, stderr: str,
                 command: Union[str, Sequence[str]],
                 result: Optional["ExecResult"] = None) -> None:
        first = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        msg = f"command exited {exit_code}: {command!r}"
        if first:
            msg += f": {first}"
        super().__init__(msg)
        #: The exit status (fence-run's contract: 128+N for signal N, 124 timeout...).
        self.exit_code = exit_code
        #: Standard output, decoded.
        self.stdout = stdout
        #: Standard error, decoded.
        self.stderr = stderr
        #: The command as given.
        self.command = command
        #: The whole :class:`ExecResult`.
        self.result = result


class PermissionDeniedError(FenceError, PermissionError):
    """The sandbox's policy (or its read-only root) refused an operation of
    :meth:`Sandbox.read_file`, :meth:`Sandbox.write_file` or
    :meth:`Sandbox.list_files`: EACCES or EPERM (a ``view`` file read, a
    write to a ``read`` path or a path outside ``/workspace``' writable
    parts), or EROFS (the sandbox's read-only root).  A path the policy
    hides (``none``) is not refused but absent: ``FileNotFoundError``.
    Being a ``PermissionError`` too, ``except PermissionError`` catches it.
    """

    def __init__(self, path: str, err: int = _errno.EACCES, detail: str = "") -> None:
        import os
        PermissionError.__init__(self, err, detail or os.strerror(err), path)
