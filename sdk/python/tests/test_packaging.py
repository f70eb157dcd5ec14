"""The package installs offline (plain pip, no index: the build backend is
in the tree and needs nothing) and carries py.typed; every public name has
a docstring."""

import inspect
import os
import subprocess
import sys

import pytest

import fencefs

HERE = os.path.dirname(os.path.abspath(__file__))


def test_pip_install_offline(tmp_path):
    try:
        import pip  # noqa: F401
    except ImportError:
        pytest.skip("this python has no pip")
    import shutil
    # from a copy, as a user's checkout would be given
    src = tmp_path / "pkg"
    root = os.path.join(HERE, "..")
    for d in ("src", "_build"):
        shutil.copytree(os.path.join(root, d), str(src / d),
                        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(root, f), str(src / f))
    target = tmp_path / "site"
    # With build isolation: nothing may be fetched, since there is no index.
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index",
                        "--no-cache-dir", "--target", str(target), str(src)],
                       capture_output=True, text=True,
                       cwd=str(tmp_path), env={**os.environ, "PIP_NO_INPUT": "1"})
    assert r.returncode == 0, r.stderr
    assert (target / "fencefs" / "py.typed").exists()
    r = subprocess.run([sys.executable, "-c", "import fencefs; print(fencefs.__version__)"],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(target)},
                       cwd=str(tmp_path))
    assert r.stdout.strip() == fencefs.__version__


def test_docstrings_everywhere():
    missing = []
    for name in fencefs.__all__:
        obj = getattr(fencefs, name)
        if name.startswith("__") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                fn = member.fget if isinstance(member, property) else member
                if isinstance(fn, (staticmethod, classmethod)):
                    fn = fn.__func__
                if callable(fn) and not inspect.getdoc(fn):
                    missing.append(f"{name}.{attr}")
    assert missing == []


def test_exception_hierarchy():
    for e in (fencefs.SetupError, fencefs.CommandTimeoutError, fencefs.CommandExecutionError,
              fencefs.PermissionDeniedError, fencefs.SandboxNotRunningError):
        assert issubclass(e, fencefs.FenceError)
    assert issubclass(fencefs.PermissionDeniedError, PermissionError)
