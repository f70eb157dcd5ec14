"""Plain data types: what goes into a sandbox and what comes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Union

__all__ = [
    "LEVELS",
    "Rule",
    "Limits",
    "Denial",
    "ExecResult",
    "StreamEvent",
    "Change",
    "CommitResult",
    "Decision",
    "SandboxInfo",
    "Preset",
]

#: The four access levels, from least to most.
LEVELS = ("none", "view", "read", "write")


@dataclass(frozen=True)
class Rule:
    """One policy rule, ``level = pattern`` (fence-policy(5)): a
    gitignore-style glob and one of ``none``, ``view``, ``read``, ``write``.
    Rules apply after the preset's, in order; the last match wins.

    A bad level or an empty pattern raises ``ValueError`` at once, before
    anything starts; a pattern the policy engine rejects makes
    :meth:`Sandbox.from_local` raise :class:`SetupError`.
    """

    #: ``none``, ``view``, ``read`` or ``write``.
    level: str
    #: The glob, e.g. ``src/**`` or ``*.sqlite``.
    pattern: str

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"Rule level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        if not isinstance(self.pattern, str) or not self.pattern.strip():
            raise ValueError("Rule pattern must be a non-empty string")
        if any(c in self.pattern for c in "\n\r\0"):
            raise ValueError(f"Rule pattern may not hold a newline or NUL: {self.pattern!r}")

    @classmethod
    def parse(cls, text: str) -> "Rule":
        """A rule from fence-run's ``--rule`` syntax, ``"write=src/"``."""
        level, sep, pattern = text.partition("=")
        if not sep:
            raise ValueError(f"rule {text!r} is not LEVEL=PATTERN")
        return cls(level.strip(), pattern.strip())

    def __str__(self) -> str:
        return f"{self.level}={self.pattern}"


@dataclass(frozen=True)
class Limits:
    """Resource limits of a sandbox (fence-run's ``--memory``, ``--pids``,
    ``--cpus``, ``--max-delta``, ``--tmp-size``).  Sizes are bytes (int) or
    strings with a K, M, G or T suffix.  ``timeout`` (seconds) is the default
    timeout of every command that does not pass its own ``timeout=``.
    """

    #: Memory limit of the whole sandbox, e.g. ``"2G"``.
    memory: Union[str, int, None] = None
    #: Maximum number of tasks (fence-run's default: 4096).
    pids: Optional[int] = None
    #: CPU quota in CPUs, fractions allowed.
    cpus: Optional[float] = None
    #: How much the delta may grow; past it writes fail with ENOSPC.
    max_delta: Union[str, int, None] = None
    #: Size of the private /tmp and /dev/shm (fence-run's default: 256M).
    tmp_size: Union[str, int, None] = None
    #: Default per-command timeout in seconds (None: no timeout).
    timeout: Optional[float] = None


@dataclass(frozen=True)
class Denial:
    """One refusal the sandbox's filesystem logged (an audit ``deny`` event)."""

    #: The operation: ``lookup``, ``open``, ``create``, ``unlink``...
    op: str
    #: The path from the codebase's root, e.g. ``/.env``.
    path: str
    #: The path's level under the policy.
    level: str
    #: The errno name answered, e.g. ``ENOENT`` or ``EACCES``.
    errno: str
    #: Pid (inside the sandbox) of the caller, when logged.
    pid: Optional[int] = None
    #: Command name of the caller, when logged.
    comm: Optional[str] = None
    #: Timestamp (ISO 8601, UTC).
    ts: Optional[str] = None


@dataclass
class ExecResult:
    """What a command did.  ``exit_code`` follows fence-run's contract: the
    command's own status, 128+N for signal N (137 with ``oom_killed`` for
    the memory limit), 124 when its timeout fired, 126/127 when it could not
    be executed / was not found."""

    #: Exit status.
    exit_code: int
    #: Standard output, decoded as UTF-8 (invalid bytes replaced).
    stdout: str
    #: Standard error, decoded as UTF-8 (invalid bytes replaced).
    stderr: str
    #: Wall time in seconds.
    duration: float
    #: The command as given (a string for ``sh -c``, or an argv list).
    command: Union[str, List[str]]
    #: True when the command's timeout killed it.
    timed_out: bool = False
    #: True when the memory limit's OOM killer struck.
    oom_killed: bool = False
    #: The signal that killed the command, if one did.
    signal: Optional[int] = None
    #: Standard output as bytes.
    stdout_bytes: bytes = b""
    #: Standard error as bytes.
    stderr_bytes: bytes = b""
    _denied: Optional[List[Denial]] = field(default=None, repr=False, compare=False)
    _loader: Optional[Callable[[], List[Denial]]] = field(default=None, repr=False,
                                                           compare=False)
    _ready_at: float = field(default=0.0, repr=False, compare=False)

    @property
    def denied(self) -> List[Denial]:
        """The refusals the audit log holds for this command (see
        :meth:`Sandbox.run` for how they are picked).  Read from the log on
        first access: the fencefs daemon flushes its log at least once a
        second, so the first access may wait up to about 1.2 s after the
        command ended (and blocks; in asyncio code ``await
        sb.denials(r)`` waits without blocking the loop)."""
        if self._denied is None:
            self._denied = self._loader() if self._loader is not None else []
            self._loader = None
        return self._denied

    @denied.setter
    def denied(self, value: List[Denial]) -> None:
        self._denied = list(value)
        self._loader = None

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.exit_code == 0


@dataclass(frozen=True)
class StreamEvent:
    """One event of :meth:`Sandbox.run_stream`: ``kind`` is ``"stdout"`` or
    ``"stderr"`` with ``data`` a decoded chunk of output, or ``"exit"`` (the
    last event) with ``data`` the exit status."""

    #: ``"stdout"``, ``"stderr"`` or ``"exit"``.
    kind: str
    #: A chunk of text, or the exit status for ``"exit"``.
    data: Union[str, int]


@dataclass(frozen=True)
class Change:
    """One path the sandbox's delta changes (a line of ``fencefs diff``), or
    one line of a commit report."""

    #: ``A`` added, ``M`` modified, ``D`` deleted, ``R`` renamed, ``T`` type changed.
    status: str
    #: The path from the codebase's root, without a leading slash.
    path: str
    #: For ``R``: the old path.
    old_path: Optional[str] = None
    #: ``file``, ``dir``, ``symlink``... as fencefs reports it.
    type: Optional[str] = None
    #: In a commit report: ``applied``, ``unchanged``, ``conflict``, ``skipped`` or ``error``.
    result: Optional[str] = None
    #: In a commit report: why a change was not applied.
    reason: Optional[str] = None


@dataclass(frozen=True)
class CommitResult:
    """The report of :meth:`Sandbox.commit` (``fencefs commit --json``)."""

    #: Changes applied (with ``dry_run``: that would be applied).
    applied: List[Change]
    #: Changes not applied because the codebase changed since the sandbox read the file.
    conflicts: List[Change]
    #: Changes refused: not writable under the delta's recorded policy, or failed.
    refused: List[Change]
    #: Changes the codebase already held.
    unchanged: List[Change] = field(default_factory=list)
    #: True for a dry run (nothing was changed).
    dry_run: bool = False
    #: fencefs commit's exit status: 0 all applied, 1 conflicts or refusals, 2 error.
    exit_code: int = 0

    @property
    def ok(self) -> bool:
        """True when everything was applied (or was already there)."""
        return not self.conflicts and not self.refused and self.exit_code == 0


@dataclass(frozen=True)
class Decision:
    """What the policy decides for one path (``fencefs explain --json``)."""

    #: The level: ``none``, ``view``, ``read`` or ``write``.
    level: str
    #: The rule that decided, or None when no rule matched (level ``none``).
    rule: Optional[Rule]
    #: Where that rule comes from: ``FILE:LINE`` for a preset or policy file, ``--rule``.
    source: Optional[str]
    #: The path asked about, as fencefs normalised it (``/.env``).
    path: str = ""
    #: The rule's number in the combined list (1-based).
    number: Optional[int] = None
    #: The hidden ancestor that hides this path, if one does.
    hidden_by: Optional[str] = None


@dataclass(frozen=True)
class SandboxInfo:
    """A live sandbox as ``fence-run --list --json`` describes it."""

    #: Its name.
    name: str
    #: ``running`` or ``paused``.
    state: str
    #: The host directory mounted at /workspace.
    codebase: Optional[str] = None
    #: The delta directory.
    delta: Optional[str] = None
    #: When it was created, as fence-run reports it.
    created: Optional[Any] = None
    #: Seconds since it was created.
    uptime: Optional[float] = None
    #: Number of processes inside.
    processes: Optional[int] = None
    #: Memory in use, in bytes.
    memory: Optional[int] = None
    #: Host pid of its supervisor.
    pid: Optional[int] = None
    #: The whole JSON object, with any field not listed above.
    raw: Dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Preset:
    """A built-in policy (``fencefs presets``)."""

    #: Its name, for ``preset=``.
    name: str
    #: One line saying what it allows.
    description: str
