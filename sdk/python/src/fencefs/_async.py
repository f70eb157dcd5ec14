"""AsyncSandbox: the asyncio client (asyncio subprocesses, no threads)."""

from __future__ import annotations

import asyncio
import codecs
import os
import signal as _signal
import tempfile
import time
from typing import (IO, Any, AsyncIterator, Dict, Iterable, List, Mapping, Optional,
                    Sequence, Set, Union)

from . import _audit, _core, _files
from ._core import Call, Command, Done, Op, Sleep, State, T
from ._errors import CommandTimeoutError, FenceError, SandboxNotRunningError
from ._types import (Change, CommitResult, Decision, Denial, ExecResult, Limits, Preset, Rule,
                     SandboxInfo, StreamEvent)

__all__ = ["AsyncSandbox", "AsyncSession", "AsyncProcess", "adrive", "apresets"]

Proc = asyncio.subprocess.Process
PIPE = asyncio.subprocess.PIPE
DEVNULL = asyncio.subprocess.DEVNULL


async def _end(p: Proc, grace: float = 2.0) -> None:
    """SIGTERM (forwarded by fence-run --in to the command), then SIGKILL."""
    if p.returncode is not None:
        return
    try:
        p.terminate()
    except ProcessLookupError:
        return
    try:
        await asyncio.wait_for(p.wait(), grace)
    except asyncio.TimeoutError:
        try:
            p.kill()
        except ProcessLookupError:
            pass
        await p.wait()


async def _finish(p: Proc) -> None:
    """Ends P even when the waiting task is being cancelled."""
    await asyncio.shield(_end(p))


async def exec_call(call: Call) -> Done:
    """Runs one Call to completion with an asyncio subprocess."""
    if call.to_files:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = await asyncio.create_subprocess_exec(*call.argv, stdin=DEVNULL,
                                                     stdout=out, stderr=err)
            try:
                await asyncio.wait_for(asyncio.shield(p.wait()), call.kill_after)
            except asyncio.TimeoutError:
                p.kill()
            except asyncio.CancelledError:
                # a --detach must finish, or the sandbox would be left half-known
                await p.wait()
                raise
            await p.wait()
            out.seek(0)
            err.seek(0)
            return Done(p.returncode or 0, out.read(), err.read())
    p = await asyncio.create_subprocess_exec(
        *call.argv, stdin=PIPE if call.input is not None else DEVNULL, stdout=PIPE, stderr=PIPE)
    try:
        o, e = await asyncio.wait_for(p.communicate(call.input), call.kill_after)
    except asyncio.TimeoutError:
        p.kill()
        o, e = await p.communicate()
    except BaseException:
        await _finish(p)
        raise
    return Done(p.returncode if p.returncode is not None else -1, o, e)


async def adrive(op: Op[T]) -> T:
    """Runs an operation of _core to its end on the event loop."""
    try:
        req = next(op)
        while True:
            if isinstance(req, Sleep):
                await asyncio.sleep(req.seconds)
                req = op.send(None)
            else:
                req = op.send(await exec_call(req))
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


class AsyncSandbox:
    """The asyncio twin of :class:`Sandbox`: the same methods, awaitable,
    on asyncio subprocesses (no threads).  ``async with
    AsyncSandbox.from_local(...) as sb`` (or ``sb = await
    AsyncSandbox.from_local(...)``); leaving the block stops the sandbox,
    also on an exception or cancellation."""

    def __init__(self, _state: State) -> None:
        """Internal: use :meth:`from_local` or :meth:`connect`."""
        self._s = _state
        self._procs: Set[Proc] = set()

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
                   extra_args: Optional[Sequence[str]] = None) -> "_Starting":
        """Starts a sandbox on PATH (see :meth:`Sandbox.from_local` for every
        argument).  Returns an awaitable that is also an async context
        manager: ``sb = await AsyncSandbox.from_local(p)`` or
        ``async with AsyncSandbox.from_local(p) as sb``.  ValueError for a
        bad argument at once; SetupError when fence-run refuses."""
        state = _core.new_state(os.fspath(path), preset=preset, policy=policy, rules=rules,
                                limits=limits, network=network, env=env, name=name,
                                delta=delta, audit=audit, ttl=ttl, idle_timeout=idle_timeout,
                                bind_ro=bind_ro, user=user, extra_args=extra_args)
        return _Starting(cls, state)

    @classmethod
    async def connect(cls, name: str, *, stop_on_exit: bool = False) -> "AsyncSandbox":
        """See :meth:`Sandbox.connect`."""
        for info in await cls.list():
            if info.name == name:
                return cls(_core.state_from_info(info, owned=stop_on_exit))
        raise SandboxNotRunningError(name, "no live sandbox has that name")

    @staticmethod
    async def list() -> List[SandboxInfo]:
        """The caller's live sandboxes (``fence-run --list --json``)."""
        return await adrive(_core.op_list())

    @property
    def name(self) -> str:
        """The sandbox's name."""
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
    def running(self) -> bool:
        """False once this object stopped the sandbox (or found it gone)."""
        return not self._s.stopped

    async def info(self) -> SandboxInfo:
        """See :meth:`Sandbox.info`."""
        self._s.check()
        for i in await self.list():
            if i.name == self._s.name:
                return i
        self._s.stopped = True
        raise SandboxNotRunningError(self._s.name, "not in fence-run --list")

    async def stop(self) -> None:
        """See :meth:`Sandbox.stop`.  Runs to its end even when cancelled."""
        procs = list(self._procs)
        self._procs.clear()
        try:
            await asyncio.shield(adrive(_core.op_stop(self._s)))
        finally:
            for p in procs:
                await _finish(p)

    async def pause(self) -> None:
        """Freezes the sandbox (``fence-run --pause``)."""
        await self._control("--pause")

    async def resume(self) -> None:
        """Thaws the sandbox (``fence-run --resume``)."""
        await self._control("--resume")

    async def _control(self, flag: str) -> None:
        self._s.check()
        done = await exec_call(Call([_core.find_binary("fence-run"), flag, self._s.name]))
        if done.rc != 0:
            raise FenceError(_core.one_line(done.err, f"fence-run {flag} exited {done.rc}"))

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._s.owned:
            await self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._s.stopped else "running"
        return f"<AsyncSandbox {self._s.name!r} {state} codebase={self._s.codebase!r}>"

    # ---- commands

    async def run(self, command: Command, *, timeout: Optional[float] = None,
                  cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                  stdin: Union[bytes, str, None] = None,
                  raise_on_error: bool = False) -> ExecResult:
        """See :meth:`Sandbox.run`."""
        return await adrive(_core.op_run(self._s, command, timeout=timeout, cwd=cwd, env=env,
                                         stdin=stdin, raise_on_error=raise_on_error))

    async def run_stream(self, command: Command, *, timeout: Optional[float] = None,
                         cwd: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                         stdin: Union[bytes, str, None] = None) -> AsyncIterator[StreamEvent]:
        """See :meth:`Sandbox.run_stream`: ``async for ev in sb.run_stream(c)``."""
        s = self._s
        s.check()
        argv = _core.command_argv(command)
        timeout = _core.effective_timeout(s, timeout)
        res = s.tmpfile(".result.json", scratch=True)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        p = await asyncio.create_subprocess_exec(
            *_core.in_argv(s, argv, result=res, cwd=cwd, env=env, timeout=timeout),
            stdin=PIPE if data is not None else DEVNULL, stdout=PIPE, stderr=PIPE)
        self._procs.add(p)
        acc: Dict[str, List[bytes]] = {"stdout": [], "stderr": []}
        queue: "asyncio.Queue[Optional[StreamEvent]]" = asyncio.Queue()
        t0 = time.monotonic()

        async def pump(kind: str, stream: asyncio.StreamReader) -> None:
            dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
            while True:
                chunk = await stream.read(65536)
                if not chunk:
                    tail = dec.decode(b"", final=True)
                    if tail:
                        await queue.put(StreamEvent(kind, tail))
                    await queue.put(None)
                    return
                acc[kind].append(chunk)
                text = dec.decode(chunk)
                if text:
                    await queue.put(StreamEvent(kind, text))

        async def feed() -> None:
            assert p.stdin is not None
            try:
                p.stdin.write(data or b"")
                await p.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                p.stdin.close()

        assert p.stdout is not None and p.stderr is not None
        tasks = [asyncio.ensure_future(pump("stdout", p.stdout)),
                 asyncio.ensure_future(pump("stderr", p.stderr))]
        if data is not None:
            tasks.append(asyncio.ensure_future(feed()))
        try:
            ended = 0
            while ended < 2:
                ev = await queue.get()
                if ev is None:
                    ended += 1
                else:
                    yield ev
            rc = await p.wait()
        finally:
            for t in tasks:
                t.cancel()
            if p.returncode is None:
                await _finish(p)
            self._procs.discard(p)
        result = _core._read_result(res)
        out, err = b"".join(acc["stdout"]), b"".join(acc["stderr"])
        if _core.is_setup_failure(rc, result):
            raise await adrive(_core.op_not_running_or(s, err, rc))
        r = _core.make_result(command, rc, out, err, time.monotonic() - t0, result, timeout)
        if r.timed_out:
            raise CommandTimeoutError(command, timeout, r)
        yield StreamEvent("exit", rc)

    async def background(self, command: Command, *, cwd: Optional[str] = None,
                         env: Optional[Mapping[str, str]] = None) -> "AsyncProcess":
        """See :meth:`Sandbox.background`."""
        s = self._s
        s.check()
        argv = _core.command_argv(command)
        res = s.tmpfile(".result.json")
        out = open(s.tmpfile(".out"), "w+b")
        err = open(s.tmpfile(".err"), "w+b")
        p = await asyncio.create_subprocess_exec(
            *_core.in_argv(s, argv, result=res, cwd=cwd, env=env), stdin=DEVNULL,
            stdout=out, stderr=err, start_new_session=True)
        self._procs.add(p)
        return AsyncProcess(self, p, command, out, err, res)

    async def session(self, *, cwd: Optional[str] = None,
                      env: Optional[Mapping[str, str]] = None) -> "AsyncSession":
        """See :meth:`Sandbox.session`: ``async with await sb.session() as sh``."""
        self._s.check()
        p = await asyncio.create_subprocess_exec(
            *_core.in_argv(self._s, ["sh"], cwd=cwd, env=env), stdin=PIPE, stdout=PIPE,
            stderr=PIPE, start_new_session=True)
        self._procs.add(p)
        return AsyncSession(self, p)

    async def denials(self, result: ExecResult) -> List[Denial]:
        """``result.denied`` without blocking the event loop: sleeps (asyncio)
        until the daemon must have flushed the command's refusals, then
        reads them."""
        if result._denied is None and result._loader is not None:
            wait = result._ready_at - time.time()
            if wait > 0 and self._s.final_events is None:
                await asyncio.sleep(wait)
        return result.denied

    # ---- files

    async def read_file(self, path: str) -> bytes:
        """See :meth:`Sandbox.read_file`."""
        return await adrive(_files.op_read_file(self._s, path))

    async def write_file(self, path: str, data: Union[bytes, str], *,
                         parents: bool = True) -> None:
        """See :meth:`Sandbox.write_file`."""
        await adrive(_files.op_write_file(self._s, path, data, parents))

    async def list_files(self, path: str = ".", *, recursive: bool = False) -> List[str]:
        """See :meth:`Sandbox.list_files`."""
        return await adrive(_files.op_list_files(self._s, path, recursive))

    # ---- the delta and the policy

    async def diff(self) -> List[Change]:
        """See :meth:`Sandbox.diff`."""
        return await adrive(_core.op_diff(self._s))

    async def patch(self) -> str:
        """See :meth:`Sandbox.patch`."""
        return await adrive(_core.op_patch(self._s))

    async def commit(self, dry_run: bool = False, *, force: bool = False) -> CommitResult:
        """See :meth:`Sandbox.commit`."""
        return await adrive(_core.op_commit(self._s, dry_run, force))

    async def discard(self) -> None:
        """See :meth:`Sandbox.discard`."""
        await adrive(_core.op_discard(self._s))

    async def explain(self, path: str) -> Decision:
        """See :meth:`Sandbox.explain`."""
        return await adrive(_core.op_explain(self._s, path))


class _Starting:
    """What :meth:`AsyncSandbox.from_local` returns: await it for the
    sandbox, or use it as ``async with``."""

    def __init__(self, cls: type, state: State) -> None:
        self._cls = cls
        self._state = state
        self._sb: Optional[AsyncSandbox] = None

    async def _start(self) -> AsyncSandbox:
        await adrive(_core.op_start(self._state))
        sb = self._cls(self._state)
        assert isinstance(sb, AsyncSandbox)
        self._sb = sb
        return sb

    def __await__(self) -> Any:
        return self._start().__await__()

    async def __aenter__(self) -> AsyncSandbox:
        return await self._start()

    async def __aexit__(self, *exc: Any) -> None:
        if self._sb is not None:
            await self._sb.__aexit__(*exc)


class AsyncProcess:
    """See :class:`Process`; ``await p.wait()``, ``await p.kill()``."""

    def __init__(self, sandbox: AsyncSandbox, proc: Proc, command: Command,
                 out: IO[bytes], err: IO[bytes], result: str) -> None:
        """Internal: use :meth:`AsyncSandbox.background`."""
        self._sb = sandbox
        self._p = proc
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
        self.pid = proc.pid

    @property
    def running(self) -> bool:
        """True while the command runs (as last seen by the event loop)."""
        return self._p.returncode is None

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
        """Standard output and standard error so far."""
        return self.stdout + self.stderr

    async def wait(self, timeout: Optional[float] = None) -> ExecResult:
        """See :meth:`Process.wait`."""
        if self._result is not None:
            return self._result
        try:
            rc = await asyncio.wait_for(asyncio.shield(self._p.wait()), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"process {self.pid} still running after {timeout} s")
        out, err = self._read(self._out), self._read(self._err)
        self._out.close()
        self._err.close()
        self._sb._procs.discard(self._p)
        result = _core._read_result(self._res)
        self._result = _core.make_result(self.command, rc, out, err,
                                         time.monotonic() - self._t0, result, None)
        self._result._loader = _audit.denied_loader(
            self._sb._s, self._offset, _core.command_argv(self.command), self._wall0,
            time.time(), result)
        self._result._ready_at = time.time() + _audit.FLUSH_SECONDS
        return self._result

    async def kill(self, sig: int = _signal.SIGTERM, wait: bool = True) -> None:
        """See :meth:`Process.kill`."""
        if self._p.returncode is not None:
            return
        try:
            self._p.send_signal(sig)
        except ProcessLookupError:
            return
        if wait:
            try:
                await asyncio.wait_for(asyncio.shield(self._p.wait()), 5)
            except asyncio.TimeoutError:
                self._p.kill()
                await self._p.wait()


class AsyncSession:
    """See :class:`Session`; ``await sh.exec(...)``."""

    def __init__(self, sandbox: AsyncSandbox, proc: Proc) -> None:
        """Internal: use :meth:`AsyncSandbox.session`."""
        self._sb = sandbox
        self._p = proc
        self._lock = asyncio.Lock()

    async def exec(self, command: str, *, timeout: Optional[float] = None) -> ExecResult:
        """See :meth:`Session.exec`."""
        sb = self._sb._s
        sb.check()
        async with self._lock:
            p = self._p
            if p.returncode is not None:
                raise FenceError("the session's shell has exited")
            assert p.stdin is not None and p.stdout is not None and p.stderr is not None
            marker = _core.new_marker()
            mk = marker.encode()
            offset = _audit.audit_offset(sb)
            wall0 = time.time()
            t0 = time.monotonic()
            try:
                p.stdin.write(_core.session_script(command, marker))
                await p.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                raise FenceError("the session's shell has exited")
            bufs = {"out": b"", "err": b""}

            async def until(which: str, stream: asyncio.StreamReader) -> Any:
                while True:
                    chunk = await stream.read(65536)
                    if not chunk:
                        return None
                    bufs[which] += chunk
                    hit = _core.split_marker(bufs[which], mk, which == "out")
                    if hit is not None:
                        return hit

            try:
                hits = await asyncio.wait_for(
                    asyncio.gather(until("out", p.stdout), until("err", p.stderr)), timeout)
            except asyncio.TimeoutError:
                await self.close()
                raise CommandTimeoutError(command, timeout, _core.make_result(
                    command, 124, bufs["out"], bufs["err"], time.monotonic() - t0,
                    {"timed_out": True}, timeout))
            if hits[0] is None or hits[1] is None:
                await p.wait()
                if not self._sb.running or p.returncode == 125:
                    raise SandboxNotRunningError(sb.name, "the session ended")
                raise FenceError(f"the session's shell has exited (status {p.returncode})")
            (out, rc), (err, _) = hits
            r = _core.make_result(command, rc, out, err, time.monotonic() - t0, None, None)
            r._loader = _audit.denied_loader(sb, offset, None, wall0, time.time(), None)
            r._ready_at = time.time() + _audit.FLUSH_SECONDS
            return r

    async def close(self) -> None:
        """Ends the shell."""
        p = self._p
        if p.returncode is None:
            try:
                assert p.stdin is not None
                p.stdin.close()
            except OSError:
                pass
            try:
                await asyncio.wait_for(asyncio.shield(p.wait()), 2)
            except asyncio.TimeoutError:
                await _finish(p)
        self._sb._procs.discard(p)

    async def __aenter__(self) -> "AsyncSession":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def apresets() -> List[Preset]:
    """The built-in policies, awaitable."""
    return await adrive(_core.op_presets())
