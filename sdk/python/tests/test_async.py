"""AsyncSandbox: the same methods on asyncio subprocesses; 20 at once."""

import asyncio
import os

import pytest
from conftest import remember

from fencefs import (AsyncSandbox, CommandTimeoutError, PermissionDeniedError, Rule,
                     Sandbox, SandboxNotRunningError, StreamEvent)


def run(coro):
    return asyncio.run(coro)


def test_async_basics(proj):
    async def main():
        async with AsyncSandbox.from_local(proj, rules=[Rule("write", "src/")]) as sb:
            r = await sb.run("echo hi; cat .env")
            assert (r.exit_code, r.stdout) == (1, "hi\n")
            assert any(d.path == "/.env" for d in await sb.denials(r))
            evs = [ev async for ev in sb.run_stream("echo a; echo b >&2")]
            assert evs[-1] == StreamEvent("exit", 0)
            with pytest.raises(CommandTimeoutError):
                await sb.run("sleep 20", timeout=0.3)
            await sb.write_file("src/n.c", b"n")
            assert await sb.read_file("src/n.c") == b"n"
            with pytest.raises(PermissionDeniedError):
                await sb.write_file("README", b"n")
            with pytest.raises(FileNotFoundError):
                await sb.read_file(".env")
            assert "n.c" in await sb.list_files("src")
            assert [(c.status, c.path) for c in await sb.diff()] == [("A", "src/n.c")]
            assert "+n" in await sb.patch()
            assert (await sb.explain("/src/x")).level == "write"
            async with await sb.session() as sh:
                await sh.exec("cd src; export V=9")
                assert (await sh.exec("echo $V; pwd")).stdout == "9\n/workspace/src\n"
            p = await sb.background("echo bg; sleep 30")
            await asyncio.sleep(0.3)
            await p.kill()
            assert (await p.wait()).exit_code == 143
            res = await sb.commit()
            assert [c.path for c in res.applied] == ["src/n.c"]
            assert (await sb.run("echo after")).stdout == "after\n"
            name = sb.name
        assert name not in {i.name for i in await AsyncSandbox.list()}
        with pytest.raises(SandboxNotRunningError):
            await sb.run("true")
    run(main())
    assert open(os.path.join(proj, "src/n.c")).read() == "n"


def test_twenty_concurrent_sandboxes(proj):
    async def one(i):
        async with AsyncSandbox.from_local(proj, rules=[Rule("write", "src/")]) as sb:
            remember(await AsyncSandbox.list())
            r = await sb.run(f"echo {i} > src/f{i}; cat src/f{i}")
            assert r.stdout == f"{i}\n"
            changes = await sb.diff()
            assert [c.path for c in changes] == [f"src/f{i}"]   # no sandbox sees another's delta
            return sb.name

    async def main():
        return await asyncio.gather(*(one(i) for i in range(20)))

    got = run(main())
    assert len(set(got)) == 20
    assert not set(got) & {i.name for i in Sandbox.list()}
    assert sorted(os.listdir(os.path.join(proj, "src"))) == ["a.c", "calc.py"]


def test_async_await_form(proj):
    async def main():
        sb = await AsyncSandbox.from_local(proj)
        try:
            return (await sb.run(["echo", "x"])).stdout
        finally:
            await sb.stop()
    assert run(main()) == "x\n"


def test_twenty_concurrent_commands_and_cancel(proj):
    async def main():
        async with AsyncSandbox.from_local(proj) as sb:
            rs = await asyncio.gather(*(sb.run(["sh", "-c", f"echo {i}"]) for i in range(20)))
            assert [r.stdout for r in rs] == [f"{i}\n" for i in range(20)]
            task = asyncio.ensure_future(sb.run("sleep 30"))
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            left = "1"
            for _ in range(50):
                left = (await sb.run("cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^sleep$'")).stdout.strip()
                if left == "0":
                    break
                await asyncio.sleep(0.1)
            assert left == "0"                     # the cancelled command was killed
            return sb.name
    name = run(main())
    assert name not in {i.name for i in Sandbox.list()}
