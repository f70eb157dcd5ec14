"""diff / patch / commit / discard on the sandbox's delta, and explain."""

import os
import subprocess

from fencefs import Change, CommitResult, Decision, Rule


def test_diff_and_patch(sb):
    assert sb.diff() == []
    sb.run("echo 'def add(a, b):\n    return a + b' > src/calc.py; echo n > src/new.c; rm src/a.c")
    changes = {(c.status, c.path) for c in sb.diff()}
    assert changes == {("M", "src/calc.py"), ("A", "src/new.c"), ("D", "src/a.c")}
    assert all(isinstance(c, Change) for c in sb.diff())
    p = sb.patch()
    assert "diff --git a/src/calc.py b/src/calc.py" in p and "+    return a + b" in p


def test_patch_applies_with_git(sb, proj, tmp_path):
    sb.write_file("src/calc.py", "def add(a, b):\n    return a + b\n")
    other = tmp_path / "other"
    subprocess.run(["cp", "-a", proj, str(other)], check=True)
    (tmp_path / "p.patch").write_text(sb.patch())
    subprocess.run(["patch", "-s", "-p1", "-d", str(other), "-i", str(tmp_path / "p.patch")],
                   check=True)
    assert "a + b" in (other / "src" / "calc.py").read_text()


def test_commit_applies_and_sandbox_lives_on(sb, proj):
    sb.write_file("src/calc.py", "def add(a, b):\n    return a + b\n")
    sb.write_file("output/report.txt", "ok\n")
    dry = sb.commit(dry_run=True)
    assert isinstance(dry, CommitResult) and dry.dry_run
    assert {c.path for c in dry.applied} == {"src/calc.py", "output/report.txt"}
    assert "a - b" in open(os.path.join(proj, "src/calc.py")).read()   # nothing changed yet
    res = sb.commit()
    assert res.ok and {c.path for c in res.applied} == {"src/calc.py", "output/report.txt"}
    assert "a + b" in open(os.path.join(proj, "src/calc.py")).read()
    assert open(os.path.join(proj, "output/report.txt")).read() == "ok\n"
    assert sb.run("cat src/calc.py").stdout.endswith("a + b\n")
    assert sb.diff() == []


def test_commit_conflict(sb, proj):
    sb.run("echo sandbox >> src/a.c")
    with open(os.path.join(proj, "src/a.c"), "a") as f:
        f.write("/* changed on the host meanwhile */\n")
    res = sb.commit()
    assert [c.path for c in res.conflicts] == ["src/a.c"] and not res.ok
    assert "sandbox" not in open(os.path.join(proj, "src/a.c")).read()


def test_discard(sb, proj):
    sb.write_file("src/new.c", b"x")
    assert sb.diff() != []
    sb.discard()
    assert sb.diff() == []
    assert sb.run("ls src").stdout.split() == ["a.c", "calc.py"]
    assert not os.path.exists(os.path.join(proj, "src/new.c"))


def test_explain(sb):
    d = sb.explain("/.env")
    assert isinstance(d, Decision)
    assert d.level == "none" and d.rule == Rule("none", ".env")
    assert d.source is not None and "agent-safe.ini:" in d.source
    d = sb.explain("src/calc.py")
    assert (d.level, d.rule, d.source) == ("write", Rule("write", "/src/"), "--rule")
    assert sb.explain("/secrets/db.txt").level == "none"
    assert sb.explain("/README").level == "view"
