"""What Sandbox and AsyncSandbox share: finding the binaries, building
fence-run / fencefs command lines, parsing what they print, and every
operation written once as a generator of subprocess calls ("sans I/O"):
the sync driver runs each call with subprocess, the async one with
asyncio, so that both classes behave exactly alike.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import (Any, Dict, Generator, Iterable, List, Mapping, Optional,
                    Sequence, Tuple, TypeVar, Union)

from ._audit import FLUSH_SECONDS, audit_offset, denied_loader, read_events
from ._errors import (CommandExecutionError, CommandTimeoutError, FenceError,
                      SandboxNotRunningError, SetupError)
from ._types import (Change, CommitResult, Decision, ExecResult, Limits, Preset, Rule,
                     SandboxInfo)

T = TypeVar("T")
Command = Union[str, Sequence[str]]

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


# --------------------------------------------------------------------------
# Binaries and small formatters


def find_binary(name: str) -> str:
    """The path of ``fence-run`` or ``fencefs``: ``$FENCE_BIN_DIR/NAME`` when
    that variable is set, else the first on ``PATH``.  SetupError if absent."""
    bindir = os.environ.get("FENCE_BIN_DIR")
    if bindir:
        path = os.path.join(bindir, name)
        if os.access(path, os.X_OK):
            return path
        raise SetupError(f"{name} not found in FENCE_BIN_DIR={bindir}", exit_code=127)
    found = shutil.which(name)
    if not found:
        raise SetupError(f"{name} not found on PATH (set FENCE_BIN_DIR)", exit_code=127)
    return found


def fmt_duration(seconds: float) -> str:
    """fence-run's DURATION syntax for SECONDS (whole seconds, else ms)."""
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, not {seconds}")
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{max(1, int(round(seconds * 1000)))}ms"


def fmt_size(value: Union[str, int]) -> str:
    """fence-run's BYTES syntax: an int, or a string like ``2G``."""
    if isinstance(value, bool):
        raise ValueError("a size must be an int or a string like '2G'")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"a size must be positive, not {value}")
        return str(value)
    if not re.match(r"^[0-9]+(\.[0-9]+)?[KMGTkmgt]?$", value.strip()):
        raise ValueError(f"bad size {value!r} (a number with an optional K, M, G or T)")
    return value.strip()


# Shell builtins and words that have no program of the same name (or
# whose program would act otherwise): a command starting with one of
# them always goes through sh.
_SH_ONLY = frozenset(
    "alias bg break cd command continue eval exec exit export fc fg getopts hash jobs "
    "kill local read readonly return set shift times trap type ulimit umask unalias "
    "unset wait . : [ [[ ! { } case do done elif else esac fi for function if in "
    "select then until while time".split())
_PLAIN_WORDS = re.compile(r"^[A-Za-z0-9_./:,+@%-]+(?:[ \t]+[A-Za-z0-9_./:=,+@%-]+)*$")


def command_argv(command: Command) -> List[str]:
    """A str runs with ``sh -c``; a list is the argv itself.  A str of
    plain words only (letters, digits and ``_./:=,+@%-``; no quote,
    variable, glob, redirection, operator or builtin) means what sh would
    make of it, so it is executed directly, saving a shell per command."""
    if isinstance(command, str):
        text = command.strip()
        if _PLAIN_WORDS.match(text):
            words = text.split()
            if words[0] not in _SH_ONLY:
                return words
        return ["sh", "-c", command]
    argv = [str(a) for a in command]
    if not argv:
        raise ValueError("empty command")
    return argv


def env_args(*envs: Optional[Mapping[str, str]]) -> List[str]:
    """``--env KEY=VALUE`` for each variable, later mappings winning."""
    merged: Dict[str, str] = {}
    for env in envs:
        if env:
            for k, v in env.items():
                if not k or "=" in k or "\0" in k or "\0" in str(v):
                    raise ValueError(f"bad environment variable name {k!r}")
                merged[k] = str(v)
    out: List[str] = []
    for k, v in merged.items():
        out += ["--env", f"{k}={v}"]
    return out


def decode(data: bytes) -> str:
    """UTF-8 with invalid bytes replaced."""
    return data.decode("utf-8", errors="replace")


def one_line(stderr: bytes, default: str) -> str:
    """fence-run's message: the last line that names fence-run, else the last line."""
    lines = [ln.strip() for ln in decode(stderr).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("fence-run") or ln.startswith("fencefs"):
            return ln
    return lines[-1] if lines else default


# --------------------------------------------------------------------------
# The calls an operation asks its driver to make


@dataclass
class Call:
    """Run ARGV to completion; stdin INPUT (None: /dev/null).  With
    ``to_files`` stdout and stderr go to temporary files instead of pipes
    (for ``--detach``, whose supervisor must not hold our pipes open).
    ``kill_after``: the driver kills the process after that many seconds."""

    argv: List[str]
    input: Optional[bytes] = None
    to_files: bool = False
    kill_after: Optional[float] = None


@dataclass
class Done:
    """What a Call gave back."""

    rc: int
    out: bytes
    err: bytes


@dataclass
class Sleep:
    """Wait SECONDS (the async driver does not block the loop)."""

    seconds: float


Op = Generator[Union[Call, Sleep], Optional[Done], T]


# --------------------------------------------------------------------------
# The state of one sandbox (shared by Sandbox and AsyncSandbox)


@dataclass
class State:
    """Everything the SDK knows about one live sandbox."""

    name: str
    codebase: Optional[str]
    delta: Optional[str]
    audit: Optional[str]
    private_dir: Optional[str]       # ours: removed at stop
    private_delta: bool
    env: Dict[str, str]
    policy_args: List[str]           # --preset/--policy/--rule for explain
    detach_args: List[str]           # the whole --detach command line (for a restart)
    default_timeout: Optional[float]
    owned: bool                      # stop it when the with block ends
    stopped: bool = False
    final_events: Optional[List[Dict[str, Any]]] = None  # the log, read at stop

    def keep_events(self) -> None:
        """Before the private audit log goes: keep its events for the
        results whose ``denied`` was not read yet."""
        if self.audit and self.private_dir and self.final_events is None:
            self.final_events = [e for e in read_events(self, 0) if e.get("event") == "deny"
                                 or e.get("event") == "command"]

    def check(self) -> None:
        """SandboxNotRunningError once the sandbox was stopped."""
        if self.stopped:
            raise SandboxNotRunningError(self.name, "it was stopped")

    scratch_dir: Optional[str] = None    # ours, on tmpfs when there is one: --result files

    def tmpfile(self, suffix: str, scratch: bool = False) -> str:
        """A fresh name in our private directory (not created); with
        ``scratch``, in the scratch directory (tmpfs: removing a small file
        there costs microseconds, on ext4 up to a millisecond)."""
        base = (self.scratch_dir if scratch else None) or self.private_dir \
            or tempfile.gettempdir()
        return os.path.join(base, f"{secrets.token_hex(6)}{suffix}")


def _policy_args(preset: Optional[str], policy: Optional[str],
                 rules: Optional[Iterable[Union[Rule, str]]]) -> List[str]:
    args: List[str] = []
    if preset:
        args += ["--preset", preset]
    if policy:
        args += ["--policy", os.path.abspath(policy)]
    for r in rules or ():
        rule = Rule.parse(r) if isinstance(r, str) else r
        if not isinstance(rule, Rule):
            raise ValueError(f"rules must be Rule objects or 'level=pattern' strings, not {r!r}")
        args += ["--rule", str(rule)]
    return args


def new_state(path: str, *, preset: Optional[str], policy: Optional[str],
              rules: Optional[Iterable[Union[Rule, str]]], limits: Optional[Limits],
              network: str, env: Optional[Mapping[str, str]], name: Optional[str],
              delta: Optional[str], audit: Optional[str], ttl: Optional[float],
              idle_timeout: Optional[float], bind_ro: Optional[Iterable[str]],
              user: Optional[str], extra_args: Optional[Sequence[str]]) -> State:
    """Validates every argument (ValueError before anything starts), makes
    the private directory, and builds the --detach command line."""
    codebase = os.path.abspath(path)
    if not os.path.isdir(codebase):
        raise FileNotFoundError(f"codebase {path!r} is not a directory")
    if name is None:
        name = f"sdk-{os.getpid()}-{secrets.token_hex(4)}"
    if not NAME_RE.match(name) or name in (".", ".."):
        raise ValueError(f"sandbox name {name!r} must match [A-Za-z0-9_.-]{{1,64}}")
    if network not in ("none", "host"):
        raise ValueError(f"network must be 'none' or 'host', not {network!r}")
    if preset is None and policy is None:
        preset = "agent-safe"
    pol = _policy_args(preset, policy, rules)
    limits = limits or Limits()
    lim: List[str] = []
    if limits.memory is not None:
        lim += ["--memory", fmt_size(limits.memory)]
    if limits.pids is not None:
        lim += ["--pids", str(int(limits.pids))]
    if limits.cpus is not None:
        lim += ["--cpus", str(float(limits.cpus))]
    if limits.max_delta is not None:
        lim += ["--max-delta", fmt_size(limits.max_delta)]
    if limits.tmp_size is not None:
        lim += ["--tmp-size", fmt_size(limits.tmp_size)]
    if limits.timeout is not None:
        fmt_duration(limits.timeout)
    envd = {str(k): str(v) for k, v in (env or {}).items()}
    envargs = env_args(envd)
    private_dir = tempfile.mkdtemp(prefix="fencefs-sdk-")
    os.chmod(private_dir, 0o700)
    scratch_dir = None
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        try:
            scratch_dir = tempfile.mkdtemp(prefix="fencefs-sdk-", dir="/dev/shm")
        except OSError:
            scratch_dir = None
    private_delta = delta is None
    delta_path = os.path.abspath(delta) if delta else os.path.join(private_dir, "delta")
    audit_path = os.path.abspath(audit) if audit else os.path.join(private_dir, "audit.jsonl")
    argv = [find_binary("fence-run"), "--name", name, "--detach", "--quiet",
            "--codebase", codebase, *pol, "--delta", delta_path, "--audit", audit_path,
            "--net", network, *lim, *envargs]
    if ttl is not None:
        argv += ["--ttl", fmt_duration(ttl)]
    if idle_timeout is not None:
        argv += ["--idle-timeout", fmt_duration(idle_timeout)]
    for b in bind_ro or ():
        argv += ["--bind-ro", b]
    if user is not None:
        argv += ["--user", str(user)]
    argv += list(extra_args or ())
    return State(name=name, codebase=codebase, delta=delta_path, audit=audit_path,
                 private_dir=private_dir, private_delta=private_delta, env=envd,
                 policy_args=pol, detach_args=argv, default_timeout=limits.timeout,
                 owned=True, scratch_dir=scratch_dir)


def remove_private(state: State) -> None:
    """Removes our private directory (the private delta and audit log)."""
    state.keep_events()
    if state.scratch_dir:
        shutil.rmtree(state.scratch_dir, ignore_errors=True)
        state.scratch_dir = None
    if state.private_dir:
        shutil.rmtree(state.private_dir, ignore_errors=True)
        state.private_dir = None


# --------------------------------------------------------------------------
# Operations


def op_start(state: State) -> Op[None]:
    """``fence-run --name NAME --detach ...``: SetupError on 125."""
    done = yield Call(state.detach_args, to_files=True, kill_after=120)
    assert done is not None
    if done.rc != 0:
        remove_private(state)
        state.stopped = True
        raise SetupError(one_line(done.err, f"fence-run exited {done.rc}"),
                         exit_code=done.rc, stderr=decode(done.err))


def op_stop(state: State) -> Op[None]:
    """``fence-run --stop NAME``, then our private directory goes.  A
    sandbox that is already gone is not an error."""
    if state.stopped:
        return
    # to_files: the driver then waits through KeyboardInterrupt / cancellation
    done = yield Call([find_binary("fence-run"), "--stop", state.name], to_files=True,
                      kill_after=60)
    assert done is not None
    if done.rc != 0:
        infos = yield from op_list()
        if any(i.name == state.name for i in infos):
            # still running: its daemon still uses the private delta, keep it
            raise FenceError(one_line(done.err, f"fence-run --stop exited {done.rc}"))
    state.stopped = True
    remove_private(state)


def parse_list(out: bytes) -> List[SandboxInfo]:
    """``fence-run --list --json``: a JSON array, an object with a list, or
    one object per line."""
    text = decode(out).strip()
    if not text:
        return []
    items: List[Any]
    try:
        doc = json.loads(text)
        if isinstance(doc, list):
            items = doc
        elif isinstance(doc, dict) and isinstance(doc.get("sandboxes"), list):
            items = doc["sandboxes"]
        else:
            items = [doc]
    except ValueError:
        items = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
    infos = []
    for it in items:
        if not isinstance(it, dict) or "name" not in it:
            continue

        def num(key: str) -> Any:
            v = it.get(key)
            return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        mem = it.get("memory", it.get("memory_bytes"))
        infos.append(SandboxInfo(
            name=str(it["name"]), state=str(it.get("state", "")),
            codebase=it.get("codebase"), delta=it.get("delta"), created=it.get("created"),
            uptime=num("uptime") if num("uptime") is not None else num("uptime_seconds"),
            processes=num("processes"),
            memory=mem if isinstance(mem, int) and not isinstance(mem, bool) else None,
            pid=num("pid"), raw=dict(it)))
    return infos


def op_list() -> Op[List[SandboxInfo]]:
    """Every live sandbox of the calling user."""
    done = yield Call([find_binary("fence-run"), "--list", "--json"], kill_after=60)
    assert done is not None
    if done.rc != 0:
        raise FenceError(one_line(done.err, f"fence-run --list exited {done.rc}"))
    return parse_list(done.out)


def state_from_info(info: SandboxInfo, owned: bool) -> State:
    """A State for a sandbox someone else started (Sandbox.connect)."""
    audit = info.raw.get("audit")
    policy_args: List[str] = []
    if info.delta:
        try:
            with open(os.path.join(info.delta, "fencefs-delta.json"), encoding="utf-8") as f:
                meta = json.load(f)
            for level, pattern in meta.get("rules", []):
                policy_args += ["--rule", f"{level}={pattern}"]
        except (OSError, ValueError, TypeError):
            policy_args = []
    return State(name=info.name, codebase=info.codebase, delta=info.delta,
                 audit=audit if isinstance(audit, str) else None, private_dir=None,
                 private_delta=False, env={}, policy_args=policy_args, detach_args=[],
                 default_timeout=None, owned=owned)


# ---- commands


def _read_result(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def in_argv(state: State, argv: List[str], *, result: Optional[str] = None,
            cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
            timeout: Optional[float] = None, tty: bool = False) -> List[str]:
    """``fence-run --in NAME [...] -- ARGV``.  The sandbox's own env= is
    passed again with every command, so it holds whether or not fence-run
    keeps --detach's --env for --in."""
    out = [find_binary("fence-run"), "--in", state.name]
    if cwd is not None:
        out += ["--workdir", cwd]
    out += env_args(state.env, env)
    if timeout is not None:
        out += ["--timeout", fmt_duration(timeout)]
    if tty:
        out.append("--tty")
    if result:
        out += ["--result", result]
    return out + ["--", *argv]


def effective_timeout(state: State, timeout: Optional[float]) -> Optional[float]:
    """The timeout= of a call, else the sandbox's Limits.timeout."""
    return timeout if timeout is not None else state.default_timeout


def op_not_running_or(state: State, err: bytes, rc: int) -> Op[FenceError]:
    """For a failed --in: SandboxNotRunningError when the sandbox is gone
    (checked with --list), else SetupError with fence-run's message."""
    msg = one_line(err, f"fence-run --in exited {rc}")
    try:
        infos = yield from op_list()
    except FenceError:
        infos = []
    if not any(i.name == state.name for i in infos):
        state.stopped = True
        remove_private(state)
        return SandboxNotRunningError(state.name, msg)
    return SetupError(msg, exit_code=rc, stderr=decode(err))


def make_result(command: Command, rc: int, out: bytes, err: bytes, duration: float,
                result: Optional[Mapping[str, Any]], timeout: Optional[float]) -> ExecResult:
    """An ExecResult from the exit status and the --result object."""
    timed_out = bool(result.get("timed_out")) if result else (rc == 124 and timeout is not None)
    sig = result.get("signal") if result else None
    wall = result.get("wall_seconds") if result else None
    return ExecResult(
        exit_code=rc, stdout=decode(out), stderr=decode(err),
        duration=float(wall) if isinstance(wall, (int, float)) and wall > 0 else duration,
        command=command if isinstance(command, str) else list(command),
        timed_out=timed_out, oom_killed=bool(result.get("oom_killed")) if result else False,
        signal=sig if isinstance(sig, int) else None, stdout_bytes=out, stderr_bytes=err)


def is_setup_failure(rc: int, result: Optional[Mapping[str, Any]]) -> bool:
    """Exit 125 is fence-run's own failure when the --result object says
    so (or is missing); a command may exit 125 itself."""
    return rc == 125 and (result is None or bool(result.get("error")))


def op_run(state: State, command: Command, *, timeout: Optional[float] = None,
           cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
           stdin: Union[bytes, str, None] = None, raise_on_error: bool = False,
           raise_on_timeout: bool = True) -> Op[ExecResult]:
    """One command through ``fence-run --in``."""
    state.check()
    argv = command_argv(command)
    timeout = effective_timeout(state, timeout)
    res = state.tmpfile(".result.json", scratch=True)
    data = stdin.encode() if isinstance(stdin, str) else stdin
    offset = audit_offset(state)
    t0 = time.monotonic()
    wall0 = time.time()
    done = yield Call(in_argv(state, argv, result=res, cwd=cwd, env=env, timeout=timeout),
                      input=data if data is not None else None,
                      kill_after=(timeout + 30) if timeout else None)
    assert done is not None
    duration = time.monotonic() - t0
    result = _read_result(res)
    if is_setup_failure(done.rc, result):
        raise (yield from op_not_running_or(state, done.err, done.rc))
    r = make_result(command, done.rc, done.out, done.err, duration, result, timeout)
    r._loader = denied_loader(state, offset, argv, wall0, time.time(), result)
    r._ready_at = time.time() + FLUSH_SECONDS
    if r.timed_out and raise_on_timeout:
        raise CommandTimeoutError(command, timeout, r)
    if raise_on_error and r.exit_code != 0:
        raise CommandExecutionError(r.exit_code, r.stdout, r.stderr, command, r)
    return r


# ---- the delta


def _need_delta(state: State) -> str:
    if not state.delta:
        raise FenceError(f"sandbox '{state.name}': its delta directory is not known")
    return state.delta


def parse_changes(out: bytes) -> List[Change]:
    """``fencefs diff --json``: one object per line."""
    changes = []
    for ln in decode(out).splitlines():
        if ln.strip():
            d = json.loads(ln)
            changes.append(Change(status=d.get("status", ""), path=d.get("path", ""),
                                  old_path=d.get("old_path"), type=d.get("type")))
    return changes


def op_diff(state: State) -> Op[List[Change]]:
    """``fencefs diff --json DELTA``."""
    state.check()
    done = yield Call([find_binary("fencefs"), "diff", "--json", _need_delta(state)])
    assert done is not None
    if done.rc != 0:
        raise FenceError(one_line(done.err, f"fencefs diff exited {done.rc}"))
    return parse_changes(done.out)


def op_patch(state: State) -> Op[str]:
    """``fencefs diff --patch DELTA``, decoded with surrogateescape (so
    ``.encode('utf-8', 'surrogateescape')`` gives back the exact bytes)."""
    state.check()
    done = yield Call([find_binary("fencefs"), "diff", "--patch", _need_delta(state)])
    assert done is not None
    if done.rc != 0:
        raise FenceError(one_line(done.err, f"fencefs diff --patch exited {done.rc}"))
    return done.out.decode("utf-8", "surrogateescape")


def parse_commit(out: bytes, rc: int, err: bytes) -> CommitResult:
    """``fencefs commit --json``'s one object."""
    try:
        doc = json.loads(decode(out).strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise FenceError(one_line(err, f"fencefs commit exited {rc}"))
    if not isinstance(doc.get("paths"), list):
        raise FenceError(str(doc.get("error") or one_line(err, f"fencefs commit exited {rc}")))
    groups: Dict[str, List[Change]] = {"applied": [], "conflict": [], "refused": [],
                                       "unchanged": []}
    for p in doc["paths"]:
        c = Change(status=p.get("status", ""), path=p.get("path", ""),
                   old_path=p.get("old_path"), type=p.get("type"),
                   result=p.get("result"), reason=p.get("reason"))
        res = c.result or ""
        if res in ("applied", "would apply", "would"):
            groups["applied"].append(c)
        elif res == "conflict":
            groups["conflict"].append(c)
        elif res == "unchanged":
            groups["unchanged"].append(c)
        else:
            groups["refused"].append(c)
    return CommitResult(applied=groups["applied"], conflicts=groups["conflict"],
                        refused=groups["refused"], unchanged=groups["unchanged"],
                        dry_run=bool(doc.get("dry_run")), exit_code=rc)


def _in_use(done: Done) -> bool:
    text = decode(done.out + done.err)
    return done.rc == 2 and "in use" in text


def op_restart(state: State) -> Op[None]:
    """Starts the sandbox again, same name and options (its delta reused)."""
    if not state.detach_args:
        raise FenceError(f"sandbox '{state.name}' was not started by this SDK; "
                         "stop it before committing or discarding its delta")
    done = yield Call(state.detach_args, to_files=True, kill_after=120)
    assert done is not None
    if done.rc != 0:
        state.stopped = True
        remove_private(state)
        raise SetupError(one_line(done.err, f"fence-run exited {done.rc}"),
                         exit_code=done.rc, stderr=decode(done.err))
    state.stopped = False


def op_stop_keep(state: State) -> Op[None]:
    """``fence-run --stop NAME`` keeping our private directory (the delta)."""
    done = yield Call([find_binary("fence-run"), "--stop", state.name], kill_after=60)
    assert done is not None
    if done.rc != 0:
        raise FenceError(one_line(done.err, f"fence-run --stop exited {done.rc}"))
    state.stopped = True


def op_commit(state: State, dry_run: bool, force: bool) -> Op[CommitResult]:
    """``fencefs commit --json DELTA``.  A delta a live sandbox holds is
    refused by fencefs commit ("in use"); then the sandbox is stopped,
    the delta committed, and the sandbox started again on the same delta
    (same name and options; processes left running in it are gone)."""
    state.check()
    argv = [find_binary("fencefs"), "commit", "--json"]
    if dry_run:
        argv.append("--dry-run")
    if force:
        argv.append("--force")
    argv.append(_need_delta(state))
    done = yield Call(argv)
    assert done is not None
    if _in_use(done) and not dry_run:
        yield from op_stop_keep(state)
        try:
            done = yield Call(argv)
            assert done is not None
        finally:
            yield from op_restart(state)
    return parse_commit(done.out, done.rc, done.err)


def op_discard(state: State) -> Op[None]:
    """Throws away what the sandbox wrote: ``fencefs discard DELTA``.  A live
    sandbox holds its delta, so it is stopped, the delta discarded, and the
    sandbox started again on a fresh delta (processes in it are gone)."""
    state.check()
    delta = _need_delta(state)
    fencefs = find_binary("fencefs")
    done = yield Call([fencefs, "discard", delta])
    assert done is not None
    if _in_use(done):
        yield from op_stop_keep(state)
        try:
            done = yield Call([fencefs, "discard", delta])
            assert done is not None
        finally:
            yield from op_restart(state)
    if done.rc != 0:
        raise FenceError(one_line(done.err, f"fencefs discard exited {done.rc}"))


# ---- policy


def parse_decision(line: str) -> Decision:
    """One line of ``fencefs explain --json``."""
    d = json.loads(line)
    rule = d.get("rule")
    r: Optional[Rule] = None
    source: Optional[str] = None
    number: Optional[int] = None
    if isinstance(rule, dict):
        r = Rule(str(rule.get("level")), str(rule.get("pattern")))
        origin = rule.get("origin")
        source = (f"{origin}:{rule.get('line')}" if origin and rule.get("line")
                  else (str(origin) if origin else None))
        number = rule.get("number") if isinstance(rule.get("number"), int) else None
    hidden = d.get("hidden_by")
    return Decision(level=str(d.get("level")), rule=r, source=source, path=str(d.get("path", "")),
                    number=number, hidden_by=hidden if isinstance(hidden, str) else None)


def op_explain(state: State, path: str) -> Op[Decision]:
    """``fencefs explain --json`` with the sandbox's policy (for a sandbox
    this SDK did not start: the rules its delta recorded)."""
    state.check()
    if not state.policy_args:
        raise FenceError(f"sandbox '{state.name}': its policy is not known")
    argv = [find_binary("fencefs"), "explain", "--json", *state.policy_args]
    if state.codebase and os.path.isdir(state.codebase):
        argv += ["--source", state.codebase]
    done = yield Call(argv + [path])
    assert done is not None
    if done.rc != 0:
        raise FenceError(one_line(done.err, f"fencefs explain exited {done.rc}"))
    lines = [ln for ln in decode(done.out).splitlines() if ln.strip()]
    if not lines:
        raise FenceError("fencefs explain printed nothing")
    return parse_decision(lines[0])


def op_presets() -> Op[List[Preset]]:
    """``fencefs presets``: NAME, spaces, description."""
    done = yield Call([find_binary("fencefs"), "presets"])
    assert done is not None
    if done.rc != 0:
        raise FenceError(one_line(done.err, f"fencefs presets exited {done.rc}"))
    out = []
    for ln in decode(done.out).splitlines():
        parts = ln.strip().split(None, 1)
        if parts:
            out.append(Preset(parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return out


# ---- sessions: one shell, a marker after each command


def session_script(command: str, marker: str) -> bytes:
    """What a Session writes to its shell for COMMAND: ``command eval`` of
    the quoted text (``command`` strips eval of its special-builtin
    status, so a syntax error fails that command only instead of ending
    dash), stdin from /dev/null
    (the command cannot eat the next ones), then the status and a marker
    on stdout and a marker on stderr."""
    return (f"command eval {shlex.quote(command)} </dev/null\n"
            f"__fence_rc=$?\n"
            f"printf '\\n{marker}:%d\\n' \"$__fence_rc\"\n"
            f"printf '\\n{marker}\\n' >&2\n").encode()


def split_marker(buf: bytes, marker: bytes, with_rc: bool) -> Optional[Tuple[bytes, int]]:
    """(output before the marker, status) once BUF holds the marker line."""
    key = b"\n" + marker + (b":" if with_rc else b"\n")
    i = buf.find(key)
    if i < 0:
        return None
    if not with_rc:
        return buf[:i], 0
    j = buf.find(b"\n", i + len(key))
    if j < 0:
        return None
    return buf[:i], int(buf[i + len(key):j] or b"0")


def new_marker() -> str:
    """A marker no command prints by chance."""
    return f"__FENCE_{secrets.token_hex(12)}"
