"""examples/agent_loop.py runs to its end against the real fence-run."""

import os
import subprocess
import sys

from conftest import REPO


def test_agent_loop_example():
    r = subprocess.run([sys.executable, os.path.join(REPO, "examples", "agent_loop.py")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "applied M src/calc.py" in r.stdout
    assert "sk-canary" not in r.stdout + r.stderr
