"""A PEP 517 build backend for the fencefs SDK, standard library only.

With no build requirements, ``pip install ./sdk/python`` works offline,
build isolation included (setuptools would have to come from an index).
It builds a pure-Python wheel (py3-none-any) of ``src/fencefs`` and an
sdist; the metadata comes from ``pyproject.toml``'s ``[project]`` table.
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "fencefs"


def _project():
    """The [project] fields used here, read without a TOML library (3.9 has none)."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    table = text.split("[project]", 1)[1].split("\n[", 1)[0]
    fields = {}
    for key in ("name", "version", "description", "requires-python"):
        m = re.search(r'^%s\s*=\s*"([^"]*)"' % re.escape(key), table, re.M)
        if not m:
            raise RuntimeError("pyproject.toml: [project] lacks %s" % key)
        fields[key] = m.group(1)
    return fields


def _metadata(p):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n"
            "Requires-Python: %s\nLicense: Apache-2.0\n"
            "Classifier: Programming Language :: Python :: 3\n"
            "Classifier: Operating System :: POSIX :: Linux\n"
            "Classifier: Typing :: Typed\n"
            "Description-Content-Type: text/markdown\n\n%s"
            % (p["name"], p["version"], p["description"], p["requires-python"], readme))


def _package_files():
    base = os.path.join(ROOT, "src", PACKAGE)
    for name in sorted(os.listdir(base)):
        if name.endswith(".py") or name == "py.typed":
            yield os.path.join(base, name), "%s/%s" % (PACKAGE, name)


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (arcname, digest, len(data))


def get_requires_for_build_wheel(config_settings=None):
    """Nothing to install before building."""
    return []


def get_requires_for_build_sdist(config_settings=None):
    """Nothing to install before building."""
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    """Writes the wheel into WHEEL_DIRECTORY and returns its file name."""
    p = _project()
    dist = "%s-%s" % (p["name"], p["version"])
    wheel_name = "%s-py3-none-any.whl" % dist
    info = "%s.dist-info" % dist
    records = []
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel_name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        def add(arcname, data):
            z.writestr(zipfile.ZipInfo(arcname, date_time=(2026, 1, 1, 0, 0, 0)), data)
            records.append(_record_line(arcname, data))

        for path, arcname in _package_files():
            with open(path, "rb") as f:
                add(arcname, f.read())
        add(info + "/METADATA", _metadata(p).encode())
        add(info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: fencefs_build\n"
                             b"Root-Is-Purelib: true\nTag: py3-none-any\n")
        records.append(info + "/RECORD,,")
        z.writestr(zipfile.ZipInfo(info + "/RECORD", date_time=(2026, 1, 1, 0, 0, 0)),
                   "\n".join(records) + "\n")
    return wheel_name


def build_sdist(sdist_directory, config_settings=None):
    """Writes the sdist (sources, tests, this backend) and returns its file name."""
    p = _project()
    dist = "%s-%s" % (p["name"], p["version"])
    name = dist + ".tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as t:
        for sub in ("pyproject.toml", "README.md", "_build", "src", "tests"):
            path = os.path.join(ROOT, sub)
            if os.path.exists(path):
                t.add(path, arcname="%s/%s" % (dist, sub),
                      filter=lambda ti: None if "__pycache__" in ti.name else ti)
        data = _metadata(p).encode()
        ti = tarfile.TarInfo("%s/PKG-INFO" % dist)
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    return name
