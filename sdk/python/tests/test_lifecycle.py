"""Starting, listing, connecting, stopping; errors; presets; cleanup after
KeyboardInterrupt."""

import os
import signal
import subprocess
import sys
import time

import pytest

import fencefs
from conftest import HERE, fence_run, remember
from fencefs import (FenceError, Limits, Preset, Rule, Sandbox, SandboxInfo,
                     SandboxNotRunningError, SetupError)


def names():
    return {i.name for i in Sandbox.list()}


def test_from_local_list_connect_stop(proj):
    with Sandbox.from_local(proj, name="sdk-test-named", limits=Limits(memory="256M", pids=64)) as sb:
        assert sb.name == "sdk-test-named" and sb.running
        infos = [i for i in Sandbox.list() if i.name == "sdk-test-named"]
        assert len(infos) == 1 and isinstance(infos[0], SandboxInfo)
        info = infos[0]
        remember(infos)
        assert info.state == "running" and info.codebase == proj and info.pid
        assert info.delta == sb.delta
        other = Sandbox.connect("sdk-test-named")
        assert other.run("echo via connect").stdout == "via connect\n"
        assert other.explain("/.env").level == "none"
        with other:
            pass                                   # a connected sandbox is not stopped
        assert "sdk-test-named" in names()
        delta = sb.delta
    assert "sdk-test-named" not in names()
    assert not os.path.exists(delta)              # the private delta is gone
    with pytest.raises(SandboxNotRunningError):
        Sandbox.connect("sdk-test-named")


def test_calls_after_stop_raise(proj):
    sb = Sandbox.from_local(proj)
    sb.stop()
    sb.stop()                                     # twice is fine
    for call in (lambda: sb.run("true"), sb.diff, lambda: sb.read_file("README"),
                 lambda: sb.explain("/x"), sb.session, lambda: sb.background("true")):
        with pytest.raises(SandboxNotRunningError):
            call()
    assert issubclass(SandboxNotRunningError, FenceError)


def test_stopped_from_outside(proj):
    with Sandbox.from_local(proj) as sb:
        subprocess.run([fence_run(), "--stop", sb.name], check=True, capture_output=True)
        with pytest.raises(SandboxNotRunningError):
            sb.run("true")
    assert sb.name not in names()


def test_bad_rule_is_refused_before_start(proj):
    with pytest.raises(ValueError):
        Rule("wirte", "src/")
    with pytest.raises(ValueError):
        Sandbox.from_local(proj, rules=["nolevel"])
    with pytest.raises(ValueError):
        Sandbox.from_local(proj, name="bad name!")
    before = names()
    with pytest.raises(SetupError) as ei:
        Sandbox.from_local(proj, rules=[Rule("write", "[abc")])
    msg = str(ei.value)
    assert msg.startswith("fence-run") and "[abc" in msg and "\n" not in msg
    assert ei.value.exit_code == 125
    assert names() == before


def test_name_taken(proj):
    with Sandbox.from_local(proj, name="sdk-test-taken"):
        with pytest.raises(SetupError) as ei:
            Sandbox.from_local(proj, name="sdk-test-taken")
        assert "sdk-test-taken" in str(ei.value)
    assert "sdk-test-taken" not in names()


def test_kept_delta_stays(proj, tmp_path):
    delta = str(tmp_path / "kept")
    with Sandbox.from_local(proj, delta=delta, rules=["write=src/"]) as sb:
        sb.write_file("src/x.c", b"x")
    assert os.path.isfile(os.path.join(delta, "upper", "src", "x.c"))


def test_exception_in_block_stops(proj):
    with pytest.raises(RuntimeError):
        with Sandbox.from_local(proj) as sb:
            name = sb.name
            raise RuntimeError("boom")
    assert name not in names()


def test_presets():
    ps = fencefs.presets()
    assert all(isinstance(p, Preset) for p in ps)
    by = {p.name: p.description for p in ps}
    assert "agent-safe" in by and by["agent-safe"]


CHILD = r"""
import sys, os
sys.path.insert(0, sys.argv[1])
from fencefs import Sandbox
with Sandbox.from_local(sys.argv[2]) as sb:
    print(sb.name, sb.delta, flush=True)
    sb.run("sleep 60")
"""


def test_keyboard_interrupt_cleans_up(proj):
    src = os.path.join(HERE, "..", "src")
    p = subprocess.Popen([sys.executable, "-c", CHILD, src, proj], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline().split()
    assert len(line) == 2, p.stderr.read() if p.stderr else ""
    name, delta = line
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode != 0 and "KeyboardInterrupt" in err
    assert name not in names()
    assert not os.path.exists(delta)


def test_pause_resume(sb):
    sb.pause()
    try:
        assert sb.info().state == "paused"
        with pytest.raises(SetupError) as ei:       # fence-run --in refuses a paused sandbox
            sb.run("true")
        assert "paused" in str(ei.value)
    finally:
        sb.resume()
    assert sb.info().state == "running"
    assert sb.run("echo thawed").stdout == "thawed\n"


ACHILD = r"""
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from fencefs import AsyncSandbox
async def main():
    async with AsyncSandbox.from_local(sys.argv[2]) as sb:
        print(sb.name, sb.delta, flush=True)
        await sb.run("sleep 60")
asyncio.run(main())
"""


def test_keyboard_interrupt_cleans_up_async(proj):
    src = os.path.join(HERE, "..", "src")
    p = subprocess.Popen([sys.executable, "-c", ACHILD, src, proj], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None
    line = p.stdout.readline().split()
    assert len(line) == 2, p.stderr.read() if p.stderr else ""
    name, delta = line
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode != 0 and "KeyboardInterrupt" in err
    assert name not in names()
    assert not os.path.exists(delta)
