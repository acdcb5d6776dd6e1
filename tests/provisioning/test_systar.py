"""The system-tar unpacker's own guarantees: tar reads only canonical headers written by
pybuildpack, never a symlink; which tar is used."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from pybuildpack.errors import PyBuildpackError
from pybuildpack.provision.systar import system_tar, unpack

from .archives import compress, dir_entry, file_entry, link_entry, tar_bytes


def _recording_tar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 'GNU tar' that saves what it reads on stdin, then extracts it with the real tar."""
    real = system_tar("tar")
    assert real is not None
    record = tmp_path / "tar-input"
    bindir = tmp_path / "recording-bin"
    bindir.mkdir()
    script = bindir / "tar"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "tar (GNU tar) 1.34"; exit 0; fi\n'
        f'tee "{record}" | "{real}" "$@"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    from pybuildpack.provision import systar

    systar._tar_flavour.cache_clear()
    return record


@pytest.mark.skipif(system_tar("auto") is None, reason="no GNU tar or bsdtar on PATH")
def test_tar_reads_only_canonical_headers_and_no_symlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = _recording_tar(tmp_path, monkeypatch)
    tool, data = file_entry("python/bin/tool", b"#!/bin/sh\n", 0o6777)
    tool.uid, tool.uname, tool.gname = 4242, "EVILUSER", "EVILGROUP"
    tool.pax_headers = {"comment": "EVILCOMMENT", "SCHILY.xattr.user.x": "EVILXATTR"}
    entries = [
        dir_entry("python"),
        dir_entry("python/bin"),
        (tool, data),
        link_entry("python/bin/python3", "tool"),
        link_entry("python/bin/hard", "python/bin/tool", hard=True),
    ]
    staging = tmp_path / "staging"
    staging.mkdir(mode=0o700)
    root = unpack(
        io.BytesIO(compress(tar_bytes(entries), "gz")),
        "gz",
        staging,
        strip="python",
        url="u",
        tar=system_tar("tar"),
    )
    seen = record.read_bytes()
    for word in (b"EVILUSER", b"EVILGROUP", b"EVILCOMMENT", b"EVILXATTR", b"python/bin"):
        assert word not in seen  # none of the archive's header bytes reached tar
    with tarfile.open(fileobj=io.BytesIO(seen)) as fed:
        members = {m.name: m for m in fed.getmembers()}
    assert set(members) == {"bin", "bin/tool", "bin/hard"}  # no symlink was given to tar
    assert members["bin/tool"].mode == 0o755 and members["bin/tool"].uid == 0
    assert (root / "bin" / "python3").is_symlink()  # created by pybuildpack afterwards
    assert os.readlink(root / "bin" / "python3") == "tool"
    assert (root / "bin" / "tool").stat().st_mode & 0o7777 == 0o755
    assert (root / "bin" / "hard").stat().st_ino == (root / "bin" / "tool").stat().st_ino


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
