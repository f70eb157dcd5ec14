"""run_stream, sessions and background processes."""

import time

import pytest

from fencefs import CommandTimeoutError, FenceError, StreamEvent


def test_run_stream_events(sb):
    evs = list(sb.run_stream("echo one; echo two >&2; echo three; exit 5"))
    assert evs[-1] == StreamEvent("exit", 5)
    out = "".join(e.data for e in evs if e.kind == "stdout")
    err = "".join(e.data for e in evs if e.kind == "stderr")
    assert (out, err) == ("one\nthree\n", "two\n")


def test_run_stream_is_incremental(sb):
    t0 = time.monotonic()
    it = sb.run_stream("echo first; sleep 2; echo second")
    first = next(it)
    assert first == StreamEvent("stdout", "first\n")
    assert time.monotonic() - t0 < 1.8
    rest = list(it)
    assert rest[-1] == StreamEvent("exit", 0)


def test_run_stream_break_kills(sb):
    for ev in sb.run_stream("echo go; exec sleep 60"):
        break
    # the command is gone: no sleep is left in the sandbox
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = sb.run("cat /proc/[0-9]*/comm 2>/dev/null | grep -c '^sleep$'").stdout.strip()
        if left == "0":
            break
        time.sleep(0.1)
    assert left == "0"


def test_run_stream_timeout(sb):
    with pytest.raises(CommandTimeoutError):
        for _ in sb.run_stream("echo x; sleep 30", timeout=0.5):
            pass


def test_session_persists_cwd_env_vars(sb):
    with sb.session() as sh:
        r = sh.exec("cd src && export DEBUG=1; LOCAL=2")
        assert r.exit_code == 0
        r = sh.exec("echo $DEBUG $LOCAL; pwd")
        assert r.stdout == "1 2\n/workspace/src\n"
        assert sh.exec("false").exit_code == 1
        assert sh.exec("exit_code_is_only_this_one; true").exit_code == 0
        r = sh.exec("printf 'no newline'; printf err >&2; (exit 7)")
        assert (r.stdout, r.stderr, r.exit_code) == ("no newline", "err", 7)
        assert sh.exec("if then fi").exit_code != 0          # a syntax error...
        assert sh.exec("echo $DEBUG").stdout == "1\n"       # ...leaves the shell alive
        assert sh.exec("cat").stdout == ""                  # stdin is not the session's


def test_session_exit_ends_it(sb):
    with sb.session() as sh:
        with pytest.raises(FenceError):
            sh.exec("exit 0")
    assert sb.run("echo ok").stdout == "ok\n"


def test_background_process(sb):
    p = sb.background("echo started; sleep 30; echo never")
    deadline = time.monotonic() + 10
    while "started" not in p.stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert p.running and p.stdout == "started\n" and p.pid > 0
    assert sb.run("echo meanwhile").stdout == "meanwhile\n"
    p.kill()
    r = p.wait(10)
    assert not p.running and r.exit_code == 128 + 15 and "never" not in r.stdout


def test_background_server_reachable(sb):
    p = sb.background("python3 -m http.server 8765 --bind 127.0.0.1", cwd="src")
    try:
        r = None
        for _ in range(100):
            r = sb.run("python3 -c \"import urllib.request as u;"
                       "print(u.urlopen('http://127.0.0.1:8765/a.c').read().decode())\"")
            if r.exit_code == 0:
                break
            time.sleep(0.1)
        assert r is not None and "int main" in r.stdout
    finally:
        p.kill()
    p.wait(10)


def test_background_finishes(sb):
    p = sb.background(["sh", "-c", "echo done; exit 3"])
    r = p.wait(10)
    assert (r.exit_code, r.stdout) == (3, "done\n")
