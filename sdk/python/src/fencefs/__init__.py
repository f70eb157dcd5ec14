"""fencefs: a Python SDK for fencefs / fence-run sandboxes.

A thin client over the ``fence-run`` and ``fencefs`` command lines (their
exit statuses, ``--result`` JSON, audit JSON Lines and ``--list --json``):
no server and no dependency beyond the standard library.  One live
sandbox per :class:`Sandbox` (``fence-run --name NAME --detach``); every
command is an exec into it (``fence-run --in NAME``).

The binaries are found in ``$FENCE_BIN_DIR`` when it is set, else on PATH.

    from fencefs import Sandbox, Rule
    with Sandbox.from_local("./proj", rules=[Rule("write", "src/**")]) as sb:
        r = sb.run("make test", timeout=300)
        print(r.exit_code, r.stdout, r.denied)
        for change in sb.diff():
            print(change.status, change.path)
        sb.commit()
"""

from ._async import AsyncProcess, AsyncSandbox, AsyncSession
from ._errors import (CommandExecutionError, CommandTimeoutError, FenceError,
                      PermissionDeniedError, SandboxNotRunningError, SetupError)
from ._sync import Process, Sandbox, Session, presets
from ._types import (LEVELS, Change, CommitResult, Decision, Denial, ExecResult,
                     Limits, Preset, Rule, SandboxInfo, StreamEvent)

__version__ = "0.1.0"

__all__ = [
    "Sandbox", "AsyncSandbox", "Session", "AsyncSession", "Process", "AsyncProcess",
    "Rule", "Limits", "ExecResult", "StreamEvent", "Change", "Denial", "CommitResult",
    "Decision", "SandboxInfo", "Preset", "LEVELS", "presets",
    "FenceError", "CommandTimeoutError", "CommandExecutionError", "PermissionDeniedError",
    "SandboxNotRunningError", "SetupError", "__version__",
]
