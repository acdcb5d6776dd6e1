"""filecopy.Copier: every way down (reflink, copy_file_range, read/write) copies the same
bytes, remembers what the file system refused, and raises what is not a refusal."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pybuildpack.provision import filecopy

DATA = os.urandom(3 << 20) + b"tail"  # more than one read/write chunk


def copy(tmp_path: Path, copier: filecopy.Copier, data: bytes = DATA) -> bytes:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(data)
    dst.unlink(missing_ok=True)
    sfd = os.open(src, os.O_RDONLY)
    dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        copier.data(sfd, dfd, len(data))
    finally:
        os.close(sfd)
        os.close(dfd)
    return dst.read_bytes()


def refuse(code: int):  # type: ignore[no-untyped-def]
    def call(*args: object) -> int:
        raise OSError(code, os.strerror(code))

    return call


def test_the_first_way_the_file_system_takes(tmp_path: Path) -> None:
    copier = filecopy.Copier()
    assert copy(tmp_path, copier) == DATA
    assert copy(tmp_path, copier, b"") == b""


def test_no_reflink_means_copy_file_range_and_is_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr(filecopy.fcntl, "ioctl", lambda *a: calls.append(a) or refuse(95)())
    copier = filecopy.Copier()
    assert copy(tmp_path, copier) == DATA
    assert copy(tmp_path, copier) == DATA
    assert len(calls) == 1 and not copier.reflink


@pytest.mark.parametrize("code", [errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP])
def test_read_write_when_copy_file_range_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    monkeypatch.setattr(filecopy.fcntl, "ioctl", refuse(errno.EOPNOTSUPP))
    monkeypatch.setattr(filecopy.os, "copy_file_range", refuse(code), raising=False)
    copier = filecopy.Copier()
    assert copy(tmp_path, copier) == DATA
    assert not copier.copy_range


def test_read_write_resumes_after_a_partial_copy_file_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel copied part of the file, then refused: the rest is read and written."""
    real = os.copy_file_range
    state = {"calls": 0}

    def once(sfd: int, dfd: int, count: int) -> int:
        state["calls"] += 1
        if state["calls"] == 1:
            return real(sfd, dfd, 1000)
        raise OSError(errno.EXDEV, "cross-device")

    monkeypatch.setattr(filecopy.fcntl, "ioctl", refuse(errno.EOPNOTSUPP))
    monkeypatch.setattr(filecopy.os, "copy_file_range", once)
    assert copy(tmp_path, filecopy.Copier()) == DATA


def test_other_errors_are_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filecopy.fcntl, "ioctl", refuse(errno.EOPNOTSUPP))
    monkeypatch.setattr(filecopy.os, "copy_file_range", refuse(errno.ENOSPC))
    with pytest.raises(OSError) as info:
        copy(tmp_path, filecopy.Copier())
    assert info.value.errno == errno.ENOSPC
