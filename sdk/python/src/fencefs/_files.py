"""read_file / write_file / list_files: small sh scripts run inside the
sandbox, so that the policy applies, and their errors as Python's."""

from __future__ import annotations

import os
from typing import List, Optional, Union

from ._core import Op, State, decode, op_run
from ._errors import PermissionDeniedError
from ._types import ExecResult


# One small sh script per operation; it says which check failed with its
# exit status, so that errors map to errnos without parsing messages
# (messages are parsed only for what the tools themselves report).
_FILE_SCRIPT = r'''
op=$1; p=$2
case $op in
read)
    [ -e "$p" ] || [ -L "$p" ] || exit 71
    [ -d "$p" ] && exit 72
    [ -r "$p" ] || exit 73
    exec cat -- "$p" ;;
write)
    d=$(dirname -- "$p")
    if [ "$3" = 1 ] && [ ! -d "$d" ]; then mkdir -p -- "$d" || exit 75; fi
    [ -d "$d" ] || exit 71
    [ -d "$p" ] && exit 72
    cat > "$p" || exit 75
    exit 0 ;;
list)
    [ -e "$p" ] || exit 71
    [ -d "$p" ] || exit 74
    [ -r "$p" ] && [ -x "$p" ] || exit 73
    if [ "$3" = 1 ]; then exec find "$p" -mindepth 1 -printf '%P\0'
    else exec find "$p" -mindepth 1 -maxdepth 1 -printf '%P\0'; fi ;;
*)  exit 76 ;;
esac
'''

_ERRNO_BY_TEXT = [
    ("No such file or directory", 2), ("Permission denied", 13),
    ("Operation not permitted", 1), ("Read-only file system", 30),
    ("Not a directory", 20), ("Is a directory", 21),
    ("No space left on device", 28), ("Directory nonexistent", 2),
    ("File exists", 17), ("Disk quota exceeded", 122),
]


def file_error(path: str, rc: int, err: bytes) -> OSError:
    """The Python exception for a failed file operation."""
    import errno as E
    text = decode(err)
    code = {71: E.ENOENT, 72: E.EISDIR, 73: E.EACCES, 74: E.ENOTDIR}.get(rc)
    if code is None:
        for needle, num in _ERRNO_BY_TEXT:
            if needle in text:
                code = num
                break
    if code in (E.EACCES, E.EPERM, E.EROFS):
        return PermissionDeniedError(path, code)
    if code == E.ENOENT:
        return FileNotFoundError(E.ENOENT, os.strerror(E.ENOENT), path)
    if code == E.EISDIR:
        return IsADirectoryError(E.EISDIR, os.strerror(E.EISDIR), path)
    if code == E.ENOTDIR:
        return NotADirectoryError(E.ENOTDIR, os.strerror(E.ENOTDIR), path)
    if code is not None:
        return OSError(code, os.strerror(code), path)
    return OSError(E.EIO, (text.strip() or f"exit {rc}"), path)


def _file_op(state: State, op: str, path: str, flag: str = "0",
             data: Optional[bytes] = None) -> Op[ExecResult]:
    if not isinstance(path, str) or not path or "\0" in path:
        raise ValueError(f"bad path {path!r}")
    return (yield from op_run(state, ["sh", "-c", _FILE_SCRIPT, "sh", op, path, flag],
                              stdin=data if data is not None else None))


def op_read_file(state: State, path: str) -> Op[bytes]:
    """The bytes of PATH (relative to /workspace, or absolute inside the sandbox)."""
    r = yield from _file_op(state, "read", path)
    if r.exit_code != 0:
        raise file_error(path, r.exit_code, r.stderr_bytes)
    return r.stdout_bytes


def op_write_file(state: State, path: str, data: Union[bytes, str], parents: bool) -> Op[None]:
    """Writes DATA to PATH inside the sandbox (into the delta)."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    r = yield from _file_op(state, "write", path, "1" if parents else "0", raw)
    if r.exit_code != 0:
        raise file_error(path, r.exit_code, r.stderr_bytes)


def op_list_files(state: State, path: str, recursive: bool) -> Op[List[str]]:
    """The names in directory PATH (paths relative to it with recursive)."""
    r = yield from _file_op(state, "list", path, "1" if recursive else "0")
    if r.exit_code != 0:
        raise file_error(path, r.exit_code, r.stderr_bytes)
    return sorted(n.decode("utf-8", "surrogateescape") for n in r.stdout_bytes.split(b"\0") if n)
