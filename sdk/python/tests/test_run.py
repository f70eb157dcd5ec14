"""Sandbox.run against the real fence-run --in: exit codes, output, stdin,
env, cwd, timeouts and refusals."""

import time

import pytest

from fencefs import CommandExecutionError, CommandTimeoutError, ExecResult


def test_run_shell_string(sb):
    r = sb.run("echo hello; echo oops >&2")
    assert isinstance(r, ExecResult)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "hello\n", "oops\n")
    assert r.ok and r.command == "echo hello; echo oops >&2"
    assert 0 < r.duration < 10 and not r.timed_out and not r.oom_killed


def test_run_argv_list(sb):
    r = sb.run(["printf", "%s|", "a b", "$HOME"])
    assert r.stdout == "a b|$HOME|"


def test_exit_codes(sb):
    assert sb.run("exit 3").exit_code == 3
    assert sb.run(["no-such-program-here"]).exit_code == 127
    r = sb.run("kill -TERM $$")
    assert r.exit_code == 128 + 15
    assert sb.run("exit 125").exit_code == 125     # the command's own 125 is no SetupError


def test_raise_on_error(sb):
    with pytest.raises(CommandExecutionError) as ei:
        sb.run("echo out; echo bad >&2; exit 4", raise_on_error=True)
    e = ei.value
    assert (e.exit_code, e.stdout, e.stderr, e.command) == (4, "out\n", "bad\n",
                                                            "echo out; echo bad >&2; exit 4")
    sb.run("true", raise_on_error=True)


def test_timeout_kills_the_command_only(sb):
    t0 = time.monotonic()
    with pytest.raises(CommandTimeoutError) as ei:
        sb.run("echo started; sleep 30", timeout=0.5)
    assert time.monotonic() - t0 < 10
    assert ei.value.result is not None and ei.value.result.timed_out
    assert ei.value.result.exit_code == 124
    assert isinstance(ei.value, TimeoutError)
    assert sb.run("echo still alive").stdout == "still alive\n"


def test_stdin_env_cwd(sb):
    assert sb.run("tr a-z A-Z", stdin="shout\n").stdout == "SHOUT\n"
    assert sb.run(["cat"], stdin=b"\x00\x01bin").stdout_bytes == b"\x00\x01bin"
    assert sb.run("echo $CI-$EXTRA", env={"EXTRA": "x"}).stdout == "1-x\n"
    assert sb.run("pwd").stdout == "/workspace\n"
    assert sb.run("pwd", cwd="src").stdout == "/workspace/src\n"
    assert sb.run("cat", stdin=None).stdout == ""     # stdin is /dev/null by default


def test_state_persists_between_runs(sb):
    sb.run("echo kept > /tmp/state; echo w > src/new.c")
    assert sb.run("cat /tmp/state src/new.c").stdout == "kept\nw\n"


def test_denied_from_audit_log(sb):
    # A create in a read directory reaches the daemon (directories keep their
    # w bits under an audit log); a write-open of a read file is refused by
    # the kernel from the mode bits and is not logged (fencefs(1) AUDIT).
    r = sb.run("cat .env; cat secrets/db.txt; echo x > tests/new.sh; true")
    assert r.exit_code == 0
    got = {(d.op, d.path, d.errno) for d in r.denied}
    assert ("lookup", "/.env", "ENOENT") in got
    assert any(d.path == "/tests/new.sh" and d.errno == "EACCES" for d in r.denied)
    assert all(d.level for d in r.denied)
    clean = sb.run("cat src/a.c")
    assert clean.denied == []


def test_memory_limit_kills_the_command(proj):
    from fencefs import Limits, Sandbox
    with Sandbox.from_local(proj, limits=Limits(memory="64M", pids=64)) as box:
        r = box.run(["python3", "-c", "x = bytearray(400 << 20); x[::4096] = b'x' * len(x[::4096])"])
        assert (r.exit_code, r.signal) == (137, 9)
        assert r.oom_killed                     # the cgroup's oom_kill count rose
        assert not box.run("true").oom_killed
        assert box.run("echo alive").stdout == "alive\n"
