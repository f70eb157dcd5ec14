"""read_file / write_file / list_files through the sandbox, policy errors."""

import os

import pytest

from fencefs import PermissionDeniedError


def test_read_file(sb):
    assert sb.read_file("src/a.c") == b"int main(void) { return 0; }\n"
    assert sb.read_file("/workspace/README".replace("README", "src/calc.py")).startswith(b"def add")


def test_read_hidden_and_missing(sb):
    for path in (".env", "secrets/db.txt", "no/such/file"):
        with pytest.raises(FileNotFoundError):
            sb.read_file(path)
    with pytest.raises(IsADirectoryError):
        sb.read_file("src")


def test_read_view_file_is_refused(sb):
    with pytest.raises(PermissionDeniedError) as ei:
        sb.read_file("README")
    assert isinstance(ei.value, PermissionError)


def test_write_file_lands_in_delta(sb, proj):
    sb.write_file("src/new.c", b"int x;\n")
    sb.write_file("output/deep/report.txt", "text")
    assert sb.read_file("src/new.c") == b"int x;\n"
    assert sb.read_file("output/deep/report.txt") == b"text"
    assert not os.path.exists(os.path.join(proj, "src/new.c"))


def test_write_refused(sb):
    for path in ("README", "tests/x.sh", ".env", "newdir/x", "/etc/x"):
        with pytest.raises(PermissionError):
            sb.write_file(path, b"x")
    with pytest.raises(FileNotFoundError):
        sb.write_file("output/missing/x", b"x", parents=False)


def test_list_files(sb):
    names = sb.list_files()
    assert "src" in names and "README" in names
    assert ".env" not in names and "secrets" not in names
    assert sb.list_files("src") == ["a.c", "calc.py"]
    assert "tests/test_calc.sh" in sb.list_files(".", recursive=True)
    with pytest.raises(FileNotFoundError):
        sb.list_files("secrets")
    with pytest.raises(NotADirectoryError):
        sb.list_files("src/a.c")
