"""Last (file order): nothing this suite started is left behind."""

import os

from conftest import SEEN_PIDS, SHM_BEFORE, STATE_DIR
from fencefs import Sandbox


def test_no_sandbox_left():
    assert Sandbox.list() == []


def test_no_supervisor_left():
    assert SEEN_PIDS                     # supervisors, inits and daemons the suite saw
    alive = []
    for pid in SEEN_PIDS:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                alive.append(pid)
        except OSError:
            pass
    assert alive == []


def test_no_mount_left():
    with open("/proc/self/mountinfo") as f:
        info = f.read()
    assert "fencefs-sdk-" not in info and STATE_DIR not in info


def test_state_dir_empty():
    left = [n for n in os.listdir(STATE_DIR) if not n.startswith(".")]
    assert left == []


def test_no_scratch_dir_left():
    # Only those this suite made: another SDK user's may be there meanwhile.
    if os.path.isdir("/dev/shm"):
        left = [n for n in os.listdir("/dev/shm")
                if n.startswith("fencefs-sdk-") and n not in SHM_BEFORE]
        assert left == []
