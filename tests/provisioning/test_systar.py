"""The system-tar unpacker's own guarantees: the gate, the on-disk audit, which tar is used."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from pybuildpack.errors import PyBuildpackError, UnsafeArchive
from pybuildpack.provision.extract import ThreadedDecompressor, vet_member
from pybuildpack.provision.systar import _audit, _Gate, system_tar

from .archives import compress, dir_entry, file_entry, link_entry, tar_bytes


class Recorder(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: object) -> int:
        chunk = bytes(b)  # type: ignore[call-overload]
        self.data += chunk
        return len(chunk)


def _gate(raw: bytes, sink: Recorder) -> _Gate:
    reader = ThreadedDecompressor(io.BytesIO(compress(raw, "gz")), "gz")
    return _Gate(reader, sink)  # type: ignore[arg-type]


def test_tar_sees_a_header_only_after_its_member_was_checked() -> None:
    entries = [
        dir_entry("python"),
        file_entry("python/a.txt", b"a" * 5000),
        link_entry("python/ok", "a.txt"),
        file_entry("python/../evil.txt", b"x" * 700),
        file_entry("python/after.txt", b"z"),
    ]
    raw = tar_bytes(entries)
    sink = Recorder()
    gate = _gate(raw, sink)
    checked = []
    with (
        pytest.raises(UnsafeArchive) as exc,
        tarfile.open(fileobj=gate, mode="r:") as tar,  # type: ignore[call-overload]
    ):
        for member in tar:
            # Nothing of this member's headers has been passed on yet...
            assert len(sink.data) <= member.offset
            vet_member(member, "python", "u")
            gate.release(member.offset_data)
            # ...and now all of them have (its data follows when tarfile skips over it).
            assert bytes(sink.data) == raw[: member.offset_data]
            checked.append(member.name)
    assert "evil.txt" in exc.value.member
    assert checked == ["python", "python/a.txt", "python/ok"]
    assert b"evil.txt" not in sink.data and b"after.txt" not in sink.data


def test_gate_only_skips_forward_over_released_bytes() -> None:
    raw = tar_bytes([file_entry("a.txt", b"a" * 3000)])
    gate = _gate(raw, Recorder())
    gate.read(512)
    with pytest.raises(tarfile.ReadError):
        gate.seek(2048)  # the header read is not released yet
    gate.release(512)
    assert gate.seek(1024) == 1024
    with pytest.raises(tarfile.ReadError):
        gate.seek(10)  # backwards


def test_audit_refuses_a_symlink_leaving_the_runtime_and_drops_setuid(tmp_path: Path) -> None:
    root = tmp_path / "python"
    (root / "bin").mkdir(parents=True)
    tool = root / "bin" / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o4755)
    (root / "bin" / "python3").symlink_to("tool")
    _audit(root, ["bin/tool"], "u")
    assert tool.stat().st_mode & 0o7777 == 0o755
    (root / "lib").mkdir()
    (root / "lib" / "escape").symlink_to("../../../etc")
    with pytest.raises(UnsafeArchive) as exc:
        _audit(root, [], "u")
    assert exc.value.member == "lib/escape"


def _fake_tar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "tar").write_text(f"#!/bin/sh\necho '{version}'\n")
    (bindir / "tar").chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir))


@pytest.mark.parametrize(
    ("version", "usable"),
    [
        ("tar (GNU tar) 1.34", True),
        ("bsdtar 3.7.2 - libarchive 3.7.2 zlib/1.2.13", True),
        ("BusyBox v1.36.1 (2023-11-07) multi-call binary.", False),
    ],
)
def test_only_gnu_tar_and_bsdtar_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, usable: bool
) -> None:
    _fake_tar(tmp_path, monkeypatch, version)
    assert (system_tar("auto") is not None) is usable
    assert system_tar("python") is None
    if not usable:
        with pytest.raises(PyBuildpackError) as exc:
            system_tar("tar")
        assert exc.value.id == "cli::usage"


def test_environment_variable_chooses_the_unpacker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tar(tmp_path, monkeypatch, "tar (GNU tar) 1.34")
    monkeypatch.setenv("PYBUILDPACK_UNPACKER", "python")
    assert system_tar() is None
    monkeypatch.setenv("PYBUILDPACK_UNPACKER", "TAR ")
    assert system_tar() == os.path.join(str(tmp_path / "bin"), "tar")
