"""Sandbox: the blocking client (subprocess)."""

from __future__ import annotations

import atexit
import codecs
import os
import selectors
import signal as _signal
import subprocess
import tempfile
import threading
import time
import weakref
from typing import (IO, Any, Dict, Iterable, Iterator, List, Mapping, Optional,
                    Sequence, Set, Union)

from . import _audit, _core, _files
from ._core import Call, Command, Done, Op, Sleep, State, T
from ._errors import CommandTimeoutError, FenceError, SandboxNotRunningError
from ._types import (Change, CommitResult, Decision, ExecResult, Limits, Preset, Rule,
                     SandboxInfo, StreamEvent)

__all__ = ["Sandbox", "Session", "Process", "drive", "presets"]


def _killer(p: "subprocess.Popen[bytes]", after: Optional[float]) -> Optional[threading.Timer]:
    """A timer that SIGKILLs P after AFTER seconds (None: no timer).  A timer
    instead of Popen.wait(timeout), which polls with sleeps of up to 50 ms."""
    if after is None:
        return None
    def kill() -> None:
        if p.poll() is None:
            p.kill()

    t = threading.Timer(after, kill)
    t.daemon = True
    t.start()
    return t


def _wait_uninterrupted(p: "subprocess.Popen[bytes]", timeout: Optional[float] = None) -> int:
    """p.wait(), finishing the wait even through KeyboardInterrupt (which is
    raised again afterwards): a stop must not be left half-done.  After
    TIMEOUT seconds P is killed."""
    interrupted: Optional[BaseException] = None
    timer = _killer(p, timeout)
    try:
        while True:
            try:
                rc = p.wait()
                break
            except KeyboardInterrupt as e:
                interrupted = e
    finally:
        if timer is not None:
            timer.cancel()
    if interrupted is not None:
        raise interrupted
    return rc


def _end(p: "subprocess.Popen[bytes]", grace: float = 2.0) -> None:
    """SIGTERM (fence-run --in forwards it to the command), then SIGKILL."""
    if p.poll() is not None:
        return
    try:
        p.terminate()
        p.wait(grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    except KeyboardInterrupt:
        p.kill()
        p.wait()
        raise


def exec_call(call: Call) -> Done:
    """Runs one Call to completion with subprocess."""
    if call.to_files:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.Popen(call.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            rc = _wait_uninterrupted(p, call.kill_after)
            out.seek(0)
            err.seek(0)
            return Done(rc, out.read(), err.read())
    p = subprocess.Popen(call.argv,
                         stdin=subprocess.PIPE if call.input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    timer = _killer(p, call.kill_after)
    try:
        o, e = p.communicate(call.input)
    except BaseException:
        _end(p)
        raise
    finally:
        if timer is not None:
            timer.cancel()
    return Done(p.returncode, o, e)


def drive(op: Op[T]) -> T:
    """Runs an operation of _core to its end, blocking."""
    try:
        req = next(op)
        while True:
            if isinstance(req, Sleep):
                time.sleep(req.seconds)
                req = op.send(None)
            else:
                req = op.send(exec_call(req))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


# Sandboxes this process started and has not stopped: stopped at exit.
_live: "weakref.WeakSet[Sandbox]" = weakref.WeakSet()
_live_lock = threading.Lock()


def _stop_all_at_exit() -> None:
    with _live_lock:
        boxes = list(_live)
    for sb in boxes:
        try:
            sb.stop()
        except Exception:
            pass


atexit.register(_stop_all_at_exit)


class Sandbox:
    """One live fence-run sandbox: an init, a fencefs daemon, a cgroup and a
    mount of the codebase at /workspace, started once; every command is a
    ``fence-run --in`` into it.

    Use :meth:`from_local` (or :meth:`connect` for a named sandbox started
    elsewhere) and a ``with`` block: leaving it stops the sandbox (also on
    an exception or KeyboardInterrupt) and removes its private delta and
    audit log.  Every method raises :class:`SandboxNotRunningError` once the
    sandbox was stopped.  A Sandbox may be used from several threads.
    """

    def __init__(self, _state: State) -> None:
        """Internal: use :meth:`from_local` or :meth:`connect`."""
        self._s = _state
        self._procs: Set["subprocess.Popen[bytes]"] = set()
        self._lock = threading.Lock()
        if _state.owned:
            with _live_lock:
                _live.add(self)

    # ---- life cycle

    @classmethod
    def from_local(cls, path: Union[str, "os.PathLike[str]"], *, preset: Optional[str] = None,
                   rules: Optional[Iterable[Union[Rule, str]]] = None,
                   limits: Optional[Limits] = None, network: str = "none",
                   env: Optional[Mapping[str, str]] = None, name: Optional[str] = None,
                   delta: Optional[str] = None, audit: Optional[str] = None,
                   policy: Optional[str] = None, ttl: Optional[float] = None,
                   idle_timeout: Optional[float] = None,
                   bind_ro: Optional[Iterable[str]] = None, user: Optional[str] = None,
                   extra_args: Optional[Sequence[str]] = None) -> "Sandbox":
        """Starts a sandbox on the local directory PATH and returns once
        /workspace is ready (``fence-run --name NAME --detach``).

        ``preset`` defaults to ``agent-safe`` (unless ``policy``, a policy
        file, is given); ``rules`` (Rule or ``"level=pattern"``) come after
        it, the last match winning.  ``limits``: memory, pids, cpus,
        max_delta, tmp_size, and a default per-command timeout.
        ``network``: ``"none"`` (loopback only) or ``"host"``.  ``env``: set
        in every command.  ``name``: default ``sdk-PID-RANDOM``.  ``delta``:
        keep the writes in that directory (else a private one, removed at
        stop).  ``audit``: the JSON Lines audit log (else a private one).
        ``ttl`` / ``idle_timeout`` (seconds): fence-run stops the sandbox
        then.  ``bind_ro``, ``user``: fence-run's ``--bind-ro`` and
        ``--user``; ``extra_args``: more fence-run options, as they are.

        Raises ValueError for a bad argument before anything starts, and
        :class:`SetupError` (fence-run's one-line message) when fence-run
        refuses (a bad pattern or policy, a taken name) or setup fails.
        """
        state = _core.new_state(os.fspath(path), preset=preset, policy=policy, rules=rules,
                                limits=limits, network=network, env=env, name=name,
                                delta=delta, audit=audit, ttl=ttl, idle_timeout=idle_timeout,
                                bind_ro=bind_ro, user=user, extra_args=extra_args)
        drive(_core.op_start(state))
        return cls(state)

    @classmethod
    def connect(cls, name: str, *, stop_on_exit: bool = False) -> "Sandbox":
        """A Sandbox for the live sandbox NAME (started by another Sandbox,
        process or ``fence-run --name NAME --detach``).  Leaving a ``with``
        block does not stop it unless ``stop_on_exit``; :meth:`stop` does.
        Its policy for :meth:`explain` is the rule list its delta
        recorded; ``r.denied`` needs the audit log, which only the SDK
        that started a sandbox knows (empty otherwise).
        SandboxNotRunningError if there is no such sandbox."""
        for info in cls.list():
            if info.name == name:
                return cls(_core.state_from_info(info, owned=stop_on_exit))
        raise SandboxNotRunningError(name, "no live sandbox has that name")

    @staticmethod
    def list() -> List[SandboxInfo]:
        """The caller's live sandboxes (``fence-run --list --json``)."""
        return drive(_core.op_list())

    @property
    def name(self) -> str:
        """The sandbox's name (for ``fence-run --in NAME``)."""
        return self._s.name

    @property
    def codebase(self) -> Optional[str]:
        """The host directory at /workspace."""
        return self._s.codebase

    @property
    def delta(self) -> Optional[str]:
        """The host directory holding the sandbox's writes."""
        return self._s.delta

    @property
    def audit_path(self) -> Optional[str]:
        """The JSON Lines audit log (None when unknown, after connect)."""
        return self._s.audit

    @property
    def running(self) -> bool:
        """False once this object stopped the sandbox (or found it gone)."""
        return not self._s.stopped

    def info(self) -> SandboxInfo:
        """The sandbox as ``--list --json`` shows it now."""
        self._s.check()
        for i in self.list():
            if i.name == self._s.name:
                return i
        self._s.stopped = True
        raise SandboxNotRunningError(self._s.name, "not in fence-run --list")

    def stop(self) -> None:
        """Stops the sandbox (``fence-run --stop``): every process in it is
        killed, the mount goes; then the private delta and audit log are
        removed (a delta= directory stays).  Safe to call twice."""
        with self._lock:
            procs = list(self._procs)
            self._procs.clear()
        try:
            drive(_core.op_stop(self._s))
        finally:
            for p in procs:
                _end(p)
            with _live_lock:
                _live.discard(self)

    def pause(self) -> None:
        """Freezes every process of the sandbox (``fence-run --pause``)."""
        self._control("--pause")

    def resume(self) -> None:
        """Thaws a paused sandbox (``fence-run --resume``)."""
        self._control("--resume")

    def _control(self, flag: str) -> None:
        self._s.check()
        done = exec_call(Call([_core.find_binary("fence-run"), flag, self._s.name]))
        if done.rc != 0:
            raise FenceError(_core.one_line(done.err, f"fence-run {flag} exited {done.rc}"))

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._s.owned:
            self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._s.stopped else "running"
        return f"<Sandbox {self._s.name!r} {state} codebase={self._s.codebase!r}>"

    # ---- commands

    def run(self, command: Command, *, timeout: Optional[float] = None,
            cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
            stdin: Union[bytes, str, None] = None, raise_on_error: bool = False) -> ExecResult:
        """Runs COMMAND in the sandbox and waits for it (``fence-run --in``).

        A str runs with ``sh -c``; a list is the argv.  ``cwd``: relative
        to /workspace (or absolute below it); ``env``: added to the
        sandbox's; ``stdin``: bytes or str fed to the command (else
        /dev/null); ``timeout`` (seconds, default the sandbox's
        Limits.timeout): fence-run kills that command's processes and
        :class:`CommandTimeoutError` is raised; the sandbox lives on.
        ``raise_on_error``: :class:`CommandExecutionError` on a non-zero
        exit.  :class:`SetupError` if fence-run could not run it at all
        (also while the sandbox is paused: fence-run refuses),
        :class:`SandboxNotRunningError` once the sandbox is gone.

        ``r.denied`` lists the refusals the audit log holds for this
        command: the events that name its command id when fence-run
        records one (in --result and the events), else every refusal
        logged while it ran (a time window: commands running at the same
        time in the same sandbox then share their refusals).
        """
        return drive(_core.op_run(self._s, command, timeout=timeout, cwd=cwd, env=env,
                                  stdin=stdin, raise_on_error=raise_on_error))

    def _popen(self, argv: List[str], *, stdin: Union[int, IO[bytes]],
               stdout: Union[int, IO[bytes]], stderr: Union[int, IO[bytes]],
               start_new_session: bool = False) -> "subprocess.Popen[bytes]":
        p = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr,
                             start_new_session=start_new_session)
        with self._lock:
            self._procs.add(p)
        return p

    def _forget(self, p: "subprocess.Popen[bytes]") -> None:
        with self._lock:
            self._procs.discard(p)

    def run_stream(self, command: Command, *, timeout: Optional[float] = None,
                   cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                   stdin: Union[bytes, str, None] = None) -> Iterator[StreamEvent]:
        """Runs COMMAND and yields its output as it comes:
        ``StreamEvent("stdout" | "stderr", text)`` chunks, then
        ``StreamEvent("exit", status)``.  Closing the iterator early (a
        ``break``) kills the command.  When ``timeout`` fires,
        CommandTimeoutError is raised after the output events."""
        s = self._s
        s.check()
        argv = _core.command_argv(command)
        timeout = _core.effective_timeout(s, timeout)
        res = s.tmpfile(".result.json", scratch=True)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        p = self._popen(_core.in_argv(s, argv, result=res, cwd=cwd, env=env, timeout=timeout),
                        stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out_all: List[bytes] = []
        err_all: List[bytes] = []
        t0 = time.monotonic()
        try:
            if data is not None and p.stdin is not None:
                threading.Thread(target=_feed, args=(p.stdin, data), daemon=True).start()
            sel = selectors.DefaultSelector()
            decs = {}
            assert p.stdout is not None and p.stderr is not None
            for kind, f, acc in (("stdout", p.stdout, out_all), ("stderr", p.stderr, err_all)):
                sel.register(f, selectors.EVENT_READ, (kind, acc))
                decs[kind] = codecs.getincrementaldecoder("utf-8")(errors="replace")
            open_streams = 2
            while open_streams:
                for key, _ in sel.select():
                    kind, acc = key.data
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        tail = decs[kind].decode(b"", final=True)
                        if tail:
                            yield StreamEvent(kind, tail)
                        continue
                    acc.append(chunk)
                    text = decs[kind].decode(chunk)
                    if text:
                        yield StreamEvent(kind, text)
            sel.close()
            rc = p.wait()
        finally:
            if p.poll() is None:
                _end(p)
            self._forget(p)
        result = _core._read_result(res)
        if _core.is_setup_failure(rc, result):
            raise drive(_core.op_not_running_or(s, b"".join(err_all), rc))
        r = _core.make_result(command, rc, b"".join(out_all), b"".join(err_all),
                              time.monotonic() - t0, result, timeout)
        if r.timed_out:
            raise CommandTimeoutError(command, timeout, r)
        yield StreamEvent("exit", rc)

    def background(self, command: Command, *, cwd: Optional[str] = None,
                   env: Optional[Mapping[str, str]] = None) -> "Process":
        """Starts COMMAND and returns at once with a :class:`Process` (its
        output goes to files in the sandbox's private directory and is
        readable so far at any time).  It runs until it exits, is killed,
        or the sandbox stops."""
        s = self._s
        s.check()
        argv = _core.command_argv(command)
        res = s.tmpfile(".result.json")
        out = open(s.tmpfile(".out"), "w+b")
        err = open(s.tmpfile(".err"), "w+b")
        p = self._popen(_core.in_argv(s, argv, result=res, cwd=cwd, env=env),
                        stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                        start_new_session=True)
        return Process(self, p, command, out, err, res)

    def session(self, *, cwd: Optional[str] = None,
                env: Optional[Mapping[str, str]] = None) -> "Session":
        """One shell process (``sh``) in the sandbox: its working directory,
        exported variables and shell variables persist from one
        :meth:`Session.exec` to the next.  Use it as a context manager."""
        self._s.check()
        return Session(self, cwd=cwd, env=env)

    # ---- files

    def read_file(self, path: str) -> bytes:
        """The bytes of PATH, read inside the sandbox (relative to
        /workspace, or an absolute sandbox path such as /tmp/x), so the
        policy applies: FileNotFoundError for a hidden (``none``) or
        missing path, :class:`PermissionDeniedError` for a ``view`` file,
        IsADirectoryError for a directory."""
        return drive(_files.op_read_file(self._s, path))

    def write_file(self, path: str, data: Union[bytes, str], *, parents: bool = True) -> None:
        """Writes DATA to PATH inside the sandbox (the write lands in the
        delta, never in the codebase); missing parent directories are made
        unless ``parents=False``.  :class:`PermissionDeniedError` when the
        policy refuses the write (a ``read``/``view`` path, a hidden
        name, the read-only root), FileNotFoundError for a missing parent
        with ``parents=False``, OSError(ENOSPC) past ``max_delta``."""
        drive(_files.op_write_file(self._s, path, data, parents))

    def list_files(self, path: str = ".", *, recursive: bool = False) -> List[str]:
        """The sorted names in directory PATH as the sandbox lists them
        (hidden names are absent); with ``recursive`` every path beneath
        it, relative to PATH.  FileNotFoundError, NotADirectoryError, or
        :class:`PermissionDeniedError` for a directory that cannot be read."""
        return drive(_files.op_list_files(self._s, path, recursive))

    # ---- the delta and the policy

    def diff(self) -> List[Change]:
        """What the sandbox changed so far (``fencefs diff --json`` on its
        delta; safe while it runs)."""
        return drive(_core.op_diff(self._s))

    def patch(self) -> str:
        """The changes as a unified diff in git's format (``fencefs diff
        --patch``); ``git apply`` and ``patch -p1`` take it."""
        return drive(_core.op_patch(self._s))

    def commit(self, dry_run: bool = False, *, force: bool = False) -> CommitResult:
        """Applies the delta to the codebase (``fencefs commit --json``):
        per file atomically, never through a symbolic link, only where the
        policy allowed writes; a file changed in the codebase meanwhile is
        a conflict (``force`` applies it anyway).  fencefs refuses to commit
        a delta a live sandbox holds, so the sandbox is stopped for the
        commit and started again on the same delta, same name and options:
        processes left running in it (background()) are gone afterwards.
        ``dry_run`` only reports, and runs while the sandbox lives."""
        return drive(_core.op_commit(self._s, dry_run, force))

    def discard(self) -> None:
        """Throws away everything the sandbox wrote (``fencefs discard``);
        as for :meth:`commit`, the sandbox is restarted on a fresh delta."""
        drive(_core.op_discard(self._s))

    def explain(self, path: str) -> Decision:
        """Which level the sandbox's policy gives PATH (relative to the
        codebase's root, ``/.env``) and which rule decided
        (``fencefs explain --json``)."""
        return drive(_core.op_explain(self._s, path))


def _feed(f: IO[bytes], data: bytes) -> None:
    try:
        f.write(data)
    except (BrokenPipeError, OSError):
        pass
    finally:
        try:
            f.close()
        except OSError:
            pass


class Process:
    """A command started with :meth:`Sandbox.background`.  ``pid`` is the
    host pid of its ``fence-run --in`` client (signals sent to it reach
    the command)."""

    def __init__(self, sandbox: Sandbox, popen: "subprocess.Popen[bytes]", command: Command,
                 out: IO[bytes], err: IO[bytes], result: str) -> None:
        """Internal: use :meth:`Sandbox.background`."""
        self._sb = sandbox
        self._p = popen
        self._out = out
        self._err = err
        self._res = result
        self._t0 = time.monotonic()
        self._wall0 = time.time()
        self._offset = _audit.audit_offset(sandbox._s)
        self._result: Optional[ExecResult] = None
        #: The command as given.
        self.command = command
        #: Host pid of the fence-run --in client.
        self.pid = popen.pid

    @property
    def running(self) -> bool:
        """True while the command runs."""
        return self._p.poll() is None

    def poll(self) -> Optional[int]:
        """The exit status, or None while it runs."""
        return self._p.poll()

    def _read(self, f: IO[bytes]) -> bytes:
        try:
            with open(f.name, "rb") as g:
                return g.read()
        except (OSError, TypeError):
            return b""

    @property
    def stdout(self) -> str:
        """Standard output so far."""
        return _core.decode(self._read(self._out))

    @property
    def stderr(self) -> str:
        """Standard error so far."""
        return _core.decode(self._read(self._err))

    def output(self) -> str:
        """Standard output and standard error so far, one after the other."""
        return self.stdout + self.stderr

    def wait(self, timeout: Optional[float] = None) -> ExecResult:
        """Waits for the command to exit (TimeoutError after ``timeout``
        seconds, the command still running) and returns its ExecResult."""
        if self._result is not None:
            return self._result
        try:
            rc = self._p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"process {self.pid} still running after {timeout} s")
        out, err = self._read(self._out), self._read(self._err)
        self._out.close()
        self._err.close()
        result = _core._read_result(self._res)
        self._sb._forget(self._p)
        self._result = _core.make_result(self.command, rc, out, err,
                                         time.monotonic() - self._t0, result, None)
        self._result._loader = _audit.denied_loader(
            self._sb._s, self._offset, _core.command_argv(self.command), self._wall0,
            time.time(), result)
        self._result._ready_at = time.time() + _audit.FLUSH_SECONDS
        return self._result

    def kill(self, sig: int = _signal.SIGTERM, wait: bool = True) -> None:
        """Sends SIG (default SIGTERM) to the command (fence-run forwards it
        to the command's process group); with ``wait``, waits up to 5 s
        and then sends SIGKILL to the client."""
        if self._p.poll() is not None:
            return
        self._p.send_signal(sig)
        if wait:
            try:
                self._p.wait(5)
            except subprocess.TimeoutExpired:
                self._p.kill()
                self._p.wait()


class Session:
    """One shell in the sandbox (:meth:`Sandbox.session`).  Each
    :meth:`exec` runs in that shell with its stdin from /dev/null, so
    ``cd``, ``export`` and variables persist; ``exit`` ends the session."""

    def __init__(self, sandbox: Sandbox, *, cwd: Optional[str],
                 env: Optional[Mapping[str, str]]) -> None:
        """Internal: use :meth:`Sandbox.session`."""
        self._sb = sandbox
        s = sandbox._s
        self._p = sandbox._popen(_core.in_argv(s, ["sh"], cwd=cwd, env=env),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, start_new_session=True)
        self._lock = threading.Lock()

    def exec(self, command: str, *, timeout: Optional[float] = None) -> ExecResult:
        """Runs COMMAND (shell text) in the session's shell; the ExecResult's
        exit code is that command's only.  ``timeout``: the whole session
        is killed when it fires (CommandTimeoutError), since one command of
        a shell cannot be killed alone; the sandbox lives on.
        ``denied``: refusals logged while it ran (time window)."""
        sb = self._sb._s
        sb.check()
        with self._lock:
            if self._p.poll() is not None:
                raise FenceError("the session's shell has exited")
            marker = _core.new_marker()
            offset = _audit.audit_offset(sb)
            wall0 = time.time()
            t0 = time.monotonic()
            assert self._p.stdin is not None and self._p.stdout is not None
            assert self._p.stderr is not None
            try:
                self._p.stdin.write(_core.session_script(command, marker))
                self._p.stdin.flush()
            except BrokenPipeError:
                raise FenceError("the session's shell has exited")
            bufs = {"out": b"", "err": b""}
            got: Dict[str, Any] = {}
            mk = marker.encode()
            sel = selectors.DefaultSelector()
            sel.register(self._p.stdout, selectors.EVENT_READ, "out")
            sel.register(self._p.stderr, selectors.EVENT_READ, "err")
            deadline = None if timeout is None else t0 + timeout
            try:
                while len(got) < 2:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        self.close()
                        raise CommandTimeoutError(command, timeout, _core.make_result(
                            command, 124, bufs["out"], bufs["err"], time.monotonic() - t0,
                            {"timed_out": True}, timeout))
                    for key, _ in sel.select(left):
                        which = key.data
                        if which in got:
                            continue
                        chunk = os.read(key.fd, 65536)
                        if not chunk:
                            self._p.wait()
                            if not self._sb.running or self._p.returncode == 125:
                                raise SandboxNotRunningError(sb.name, "the session ended")
                            raise FenceError("the session's shell has exited "
                                             f"(status {self._p.returncode})")
                        bufs[which] += chunk
                        hit = _core.split_marker(bufs[which], mk, which == "out")
                        if hit is not None:
                            got[which] = hit
            finally:
                sel.close()
            out, rc = got["out"]
            err, _ = got["err"]
            r = _core.make_result(command, rc, out, err, time.monotonic() - t0, None, None)
            r._loader = _audit.denied_loader(sb, offset, None, wall0, time.time(), None)
            r._ready_at = time.time() + _audit.FLUSH_SECONDS
            return r

    def close(self) -> None:
        """Ends the shell (and whatever it still runs)."""
        p = self._p
        if p.poll() is None:
            try:
                assert p.stdin is not None
                p.stdin.close()
            except OSError:
                pass
            try:
                p.wait(2)
            except subprocess.TimeoutExpired:
                _end(p)
        for f in (p.stdout, p.stderr, p.stdin):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass
        self._sb._forget(p)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def presets() -> List[Preset]:
    """The built-in policies (``fencefs presets``)."""
    return drive(_core.op_presets())
