"""Shared fixtures: the real fence-run and fencefs (FENCE_BIN_DIR, default
the repository's build/), presets from the repository, and a private
fence-run state directory so that --list shows only this suite's
sandboxes.  Runs as root (as CI does)."""

import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

os.environ.setdefault("FENCE_BIN_DIR", os.environ.get("FENCE_BUILD", os.path.join(REPO, "build")))
os.environ.setdefault("FENCE_PRESET_DIR", os.path.join(REPO, "presets"))
STATE_DIR = tempfile.mkdtemp(prefix="fencefs-sdk-state-")
os.chmod(STATE_DIR, 0o700)
os.environ["FENCE_RUN_STATE_DIR"] = STATE_DIR
#: host pids of every supervisor seen, checked dead at the end
SEEN_PIDS = set()

# Scratch dirs other SDK users on this machine already have: not this suite's.
SHM_BEFORE = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def fence_run():
    return os.path.join(os.environ["FENCE_BIN_DIR"], "fence-run")


def make_project(root):
    """A small codebase: code, a test, secrets, an output/ directory."""
    os.makedirs(os.path.join(root, "src"))
    os.makedirs(os.path.join(root, "tests"))
    os.makedirs(os.path.join(root, "secrets"))
    os.makedirs(os.path.join(root, "output"))
    files = {
        "src/calc.py": "def add(a, b):\n    return a - b\n",
        "src/a.c": "int main(void) { return 0; }\n",
        "tests/test_calc.sh": "#!/bin/sh\ngrep -q 'return a + b' src/calc.py\n",
        "README": "a project\n",
        ".env": "API_KEY=canary-env\n",
        "secrets/db.txt": "canary-db\n",
        "output/.keep": "",
    }
    for name, text in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    return root


@pytest.fixture
def proj(tmp_path):
    """A fresh codebase per test."""
    return make_project(str(tmp_path / "proj"))


@pytest.fixture
def sb(proj):
    """A live sandbox on proj: agent-safe plus write on src/ and a view-only docs/."""
    from fencefs import Rule, Sandbox
    with Sandbox.from_local(proj, rules=[Rule("write", "/src/"), Rule("view", "/README")],
                            env={"CI": "1"}) as box:
        remember(Sandbox.list())
        yield box


def remember(infos):
    """Keeps the host pids of each sandbox's supervisor, init and daemon."""
    for info in infos:
        for key in ("pid", "init_pid", "daemon_pid"):
            pid = info.raw.get(key)
            if isinstance(pid, int) and pid > 0:
                SEEN_PIDS.add(pid)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(STATE_DIR, ignore_errors=True)
