#!/usr/bin/env python3
"""An "agent" loop on the fencefs Python SDK.

It makes a small project with a bug and a secret, then, inside one live
sandbox: reads the code, fails the tests, edits the code through
write_file, runs the tests again, shows diff() and the patch, and commits
the change into the project.  The secret stays invisible throughout.

    make && FENCE_BIN_DIR=build python3 examples/agent_loop.py

FENCE_BIN_DIR defaults to the repository's build/ directory when it holds
fence-run; otherwise fence-run and fencefs are taken from PATH.
"""

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "sdk", "python", "src"))
if "FENCE_BIN_DIR" not in os.environ and os.path.exists(os.path.join(REPO, "build", "fence-run")):
    os.environ["FENCE_BIN_DIR"] = os.path.join(REPO, "build")

from fencefs import Limits, PermissionDeniedError, Rule, Sandbox  # noqa: E402

PROJECT = {
    "src/calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "tests/test_calc.py": (
        "import sys, unittest\nsys.path.insert(0, 'src')\nimport calc\n\n\n"
        "class T(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(calc.add(2, 3), 5)\n\n"
        "    def test_mul(self):\n        self.assertEqual(calc.mul(2, 3), 6)\n"),
    ".env": "OPENAI_API_KEY=sk-canary-do-not-leak\n",
    "README": "A calculator.\n",
}


def make_project(root: str) -> None:
    for name, text in PROJECT.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


def say(msg: str) -> None:
    print(f"\n== {msg}")


def agent(sb: Sandbox) -> None:
    say("the agent looks around")
    print("files:", sb.list_files(".", recursive=True))
    try:
        sb.read_file(".env")
    except FileNotFoundError:
        print(".env: not there (the policy hides it)")

    say("it runs the tests")
    r = sb.run("python3 -m unittest -q tests/test_calc.py 2>&1", timeout=60)
    print(r.stdout.strip().splitlines()[-1], f"(exit {r.exit_code})")

    say("it reads the code and fixes it")
    code = sb.read_file("src/calc.py").decode()
    fixed = code.replace("return a - b", "return a + b")
    sb.write_file("src/calc.py", fixed)
    try:
        sb.write_file("tests/test_calc.py", "# the agent may not touch the tests\n")
    except PermissionDeniedError as e:
        print(f"writing tests/ refused: {e.strerror}")

    say("it runs the tests again")
    r = sb.run("python3 -m unittest -q tests/test_calc.py 2>&1", timeout=60)
    print(r.stdout.strip().splitlines()[-1], f"(exit {r.exit_code})")
    if r.exit_code != 0:
        raise SystemExit("the fix did not work")

    r = sb.run("cat .env; echo leak > .env", timeout=60)
    print("refusals the audit log recorded for one command:")
    for d in r.denied:
        print(f"  {d.op:8} {d.path:12} {d.level:6} {d.errno}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="agent-demo-") as tmp:
        proj = os.path.join(tmp, "proj")
        make_project(proj)
        with Sandbox.from_local(proj, preset="agent-safe",
                                rules=[Rule("write", "/src/")],
                                limits=Limits(memory="512M", pids=128),
                                env={"PYTHONDONTWRITEBYTECODE": "1"}) as sb:
            print(f"sandbox {sb.name} on {proj}")
            agent(sb)

            say("review: diff()")
            for c in sb.diff():
                print(f"  {c.status} {c.path}")
            print(sb.patch(), end="")

            say("commit")
            res = sb.commit()
            for c in res.applied:
                print(f"  applied {c.status} {c.path}")
            if not res.ok:
                print("  conflicts:", res.conflicts, "refused:", res.refused)
                return 1
        with open(os.path.join(proj, "src", "calc.py")) as f:
            assert "a + b" in f.read()
        print("\nthe project now holds the fix; the sandbox is gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
