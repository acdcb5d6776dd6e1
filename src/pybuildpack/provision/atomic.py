"""Atomic renames Linux offers beyond ``rename(2)``: ``renameat2`` with ``RENAME_NOREPLACE``
(never replace what is there) and ``RENAME_EXCHANGE`` (swap two paths in one step).

Called through ``ctypes``: glibc's ``renameat2`` when it has one, else the raw system call.
Each function returns False when the kernel, the C library or the file system does not
support the operation (the caller then falls back), and raises ``OSError`` for real errors.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_SYSCALLS = {"x86_64": 316, "amd64": 316, "aarch64": 276, "arm64": 276}
_UNSUPPORTED = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}


@cache
def _renameat2() -> Callable[[bytes, bytes, int], int] | None:
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    fn = getattr(libc, "renameat2", None)
    if fn is not None:
        fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        fn.restype = ctypes.c_int
        return lambda a, b, flags: int(fn(_AT_FDCWD, a, _AT_FDCWD, b, flags))
    number = _SYSCALLS.get(os.uname().machine.lower())
    syscall = getattr(libc, "syscall", None)
    if number is None or syscall is None:
        return None
    syscall.restype = ctypes.c_long
    return lambda a, b, flags: int(
        syscall(
            ctypes.c_long(number),
            ctypes.c_int(_AT_FDCWD),
            ctypes.c_char_p(a),
            ctypes.c_int(_AT_FDCWD),
            ctypes.c_char_p(b),
            ctypes.c_uint(flags),
        )
    )


def _call(src: Path, dst: Path, flags: int) -> bool:
    fn = _renameat2()
    if fn is None:
        return False
    if fn(os.fsencode(src), os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in _UNSUPPORTED:
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def rename_noreplace(src: Path, dst: Path) -> bool:
    """Rename ``src`` to ``dst`` unless ``dst`` exists (``FileExistsError``)."""
    return _call(src, dst, RENAME_NOREPLACE)


def exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` (both must exist) in one atomic step."""
    return _call(a, b, RENAME_EXCHANGE)
