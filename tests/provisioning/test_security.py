"""Hostile archives against both unpackers (docs/provisioning.md, "Security model").

Every test unpacks into a private staging folder inside a sandbox that also holds a victim
file and folder, and checks that nothing outside the staging folder was created, changed
or followed (names, types, contents, modes, times, link counts), and that the outcome is
either a vetted tree or a typed refusal.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybuildpack.errors import PyBuildpackError
from pybuildpack.provision.systar import unpack

from .archives import compress, dir_entry, file_entry, link_entry, tar_bytes

Entry = tuple[tarfile.TarInfo, "bytes | None"]


def make_sandbox(base: Path) -> tuple[Path, Path]:
    box = base / "box"
    (box / "outside").mkdir(parents=True)
    (box / "victim").write_text("precious")
    (box / "outside" / "file").write_text("also precious")
    staging = box / "staging"
    staging.mkdir(mode=0o700)
    return box, staging


def snapshot(box: Path) -> dict[str, tuple[object, ...]]:
    """Everything observable about the sandbox outside its staging folder."""
    seen: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(box):
        if Path(folder) == box:
            dirs[:] = [d for d in dirs if d != "staging"]
        for name in [".", *dirs, *files]:
            path = os.path.join(folder, name)
            st_ = os.lstat(path)
            content: object = None
            if stat.S_ISREG(st_.st_mode):
                content = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            elif stat.S_ISLNK(st_.st_mode):
                content = os.readlink(path)
            seen[os.path.relpath(path, box)] = (
                st_.st_mode, st_.st_size, st_.st_mtime_ns, st_.st_ctime_ns, st_.st_nlink,
                st_.st_ino, content,
            )  # fmt: skip
    return seen


def attempt(
    raw: bytes, staging: Path, tar: str | None, strip: str | None = "python"
) -> Path | PyBuildpackError:
    try:
        return unpack(io.BytesIO(compress(raw, "gz")), "gz", staging, strip=strip, url="u", tar=tar)
    except PyBuildpackError as exc:
        return exc


def assert_vetted(root: Path) -> None:
    """A tree pybuildpack may publish: files, folders and inside symlinks only."""
    real_root = os.path.realpath(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st_ = os.lstat(path)
            kind = stat.S_IFMT(st_.st_mode)
            assert kind in (stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK), path
            assert st_.st_mode & 0o7000 == 0, path
            if kind != stat.S_IFLNK:
                assert st_.st_mode & 0o444 == 0o444, path  # readable by all
                assert st_.st_mode & 0o022 == 0, path  # writable by nobody else
            else:
                resolved = os.path.realpath(path)
                assert resolved == real_root or resolved.startswith(real_root + os.sep), path


def run(
    tmp_path: Path, tar: str | None, entries: list[Entry], strip: str | None = "python"
) -> Path | PyBuildpackError:
    box, staging = make_sandbox(tmp_path)
    before = snapshot(box)
    outcome = attempt(tar_bytes(entries), staging, tar, strip)
    assert snapshot(box) == before
    if isinstance(outcome, Path):
        assert_vetted(outcome)
    return outcome


def refused(outcome: Path | PyBuildpackError, error_id: str, words: str = "") -> None:
    assert isinstance(outcome, PyBuildpackError), f"not refused: {outcome}"
    assert outcome.id == error_id
    assert words in " ".join(str(outcome).split())


TOP = [dir_entry("python"), dir_entry("python/a"), dir_entry("python/a/b")]
UNSAFE = "install-python::unsafe-archive"
CORRUPT = "install-python::corrupt-archive"


# --------------------------------------------------------------------------- rule 1


def test_symlink_chain_that_is_inside_as_text_is_refused(tmp_path: Path, tar: str | None) -> None:
    # a/b/up -> ../.. is the runtime itself; a/b/esc -> up/../../victim reads as a/victim
    # lexically, but the kernel goes runtime/../../victim: the sandbox's victim.
    entries = [
        *TOP,
        link_entry("python/a/b/up", "../.."),
        link_entry("python/a/b/esc", "up/../../victim"),
    ]
    refused(run(tmp_path, tar, entries), UNSAFE, "links outside the runtime")


def test_member_written_through_a_symlink_is_refused(tmp_path: Path, tar: str | None) -> None:
    entries = [
        *TOP,
        link_entry("python/a/b/up", "../.."),
        link_entry("python/a/b/esc", "up/../../outside"),
        file_entry("python/a/b/esc/pwned", b"x"),
    ]
    refused(run(tmp_path, tar, entries), UNSAFE, "through the symlink 'a/b/esc'")


def test_member_below_an_inside_symlink_is_refused_too(tmp_path: Path, tar: str | None) -> None:
    entries = [*TOP, link_entry("python/lib", "a"), file_entry("python/lib/x", b"x")]
    refused(run(tmp_path, tar, entries), UNSAFE, "through the symlink 'lib'")


def test_hard_link_through_a_symlink_chain_is_refused(tmp_path: Path, tar: str | None) -> None:
    entries = [
        *TOP,
        link_entry("python/a/b/up", "../.."),
        link_entry("python/a/b/esc", "up/../../victim"),
        link_entry("python/a/h", "python/a/b/esc", hard=True),
    ]
    refused(run(tmp_path, tar, entries), UNSAFE, "not an earlier regular file")


@pytest.mark.parametrize(
    "entry",
    [
        link_entry("python/h", "python/later", hard=True),
        link_entry("python/h", "python/a", hard=True),
        link_entry("python/h", "python", hard=True),
    ],
    ids=["later-member", "folder", "top-folder"],
)
def test_hard_link_only_to_an_earlier_regular_file(
    tmp_path: Path, tar: str | None, entry: Entry
) -> None:
    entries = [*TOP, entry, file_entry("python/later", b"x")]
    refused(run(tmp_path, tar, entries), UNSAFE)


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        (file_entry("python/../victim", b"x"), "outside the archive with '..'"),
        (file_entry("/abs/victim", b"x"), "absolute path"),
        (link_entry("python/l", "/etc/passwd"), "links outside"),
        (link_entry("python/l", "../../../victim"), "links outside"),
        (link_entry("python/a/loop", "loop/x"), "loop"),
    ],
    ids=["dotdot", "absolute", "symlink-absolute", "symlink-dotdot", "symlink-loop"],
)
def test_plain_escapes_are_refused(
    tmp_path: Path, tar: str | None, entry: Entry, words: str
) -> None:
    refused(run(tmp_path, tar, [*TOP, entry]), UNSAFE, words)


def test_a_path_appearing_twice_is_refused(tmp_path: Path, tar: str | None) -> None:
    entries = [*TOP, file_entry("python/a/x", b"1"), link_entry("python/a/x", "../../victim")]
    refused(run(tmp_path, tar, entries), UNSAFE, "appears twice")


def test_safe_links_are_kept(tmp_path: Path, tar: str | None) -> None:
    entries = [
        *TOP,
        file_entry("python/a/b/f", b"data", 0o755),
        link_entry("python/a/up", ".."),
        link_entry("python/a/b/g", "../up/a/b/f"),
        link_entry("python/dangling", "a/nothing/.."),
        link_entry("python/a/b/hard", "python/a/b/f", hard=True),
    ]
    root = run(tmp_path, tar, entries)
    assert isinstance(root, Path)
    assert (root / "a" / "b" / "g").read_bytes() == b"data"
    assert (root / "a" / "b" / "hard").stat().st_nlink == 2


# --------------------------------------------------------------------------- rule 2


def _special(kind: bytes, name: str = "python/a/dev") -> Entry:
    info = tarfile.TarInfo(name)
    info.type, info.mode = kind, 0o666
    return info, None


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_devices_and_fifos_are_refused(tmp_path: Path, tar: str | None, kind: bytes) -> None:
    refused(run(tmp_path, tar, [*TOP, _special(kind)]), UNSAFE, "special file")


def test_setuid_bits_are_dropped(tmp_path: Path, tar: str | None) -> None:
    root = run(tmp_path, tar, [*TOP, file_entry("python/a/tool", b"#!/bin/sh\n", 0o7777)])
    assert isinstance(root, Path)
    assert (root / "a" / "tool").stat().st_mode & 0o7777 == 0o755


def _with_checksum(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def test_an_unparsable_header_refuses_the_archive(tmp_path: Path, tar: str | None) -> None:
    """tarfile took a header it cannot parse for the end of the archive, and the rest went
    to tar unchecked: a device node, published."""
    good = tar_bytes([*TOP, file_entry("python/a/ok", b"ok")])[: -2 * 512 - 0]
    good = good.rstrip(b"\0")
    good += bytes(-len(good) % 512)
    garbage = bytearray(tar_bytes([file_entry("python/a/x", b"")])[:512])
    garbage[100:108] = b"zz\0\0\0\0\0\0"  # garbage GNU tar ignores, with a valid checksum
    rest = tar_bytes([_special(tarfile.CHRTYPE)])
    box, staging = make_sandbox(tmp_path)
    before = snapshot(box)
    outcome = attempt(good + _with_checksum(garbage) + rest, staging, tar)
    assert snapshot(box) == before
    refused(outcome, CORRUPT, "unreadable header")
    assert not list(staging.rglob("dev"))


def test_a_bad_checksum_is_not_the_end_of_the_archive(tmp_path: Path, tar: str | None) -> None:
    raw = bytearray(tar_bytes([*TOP, file_entry("python/a/x", b"x"), _special(tarfile.FIFOTYPE)]))
    offset = raw.index(b"python/a/dev")
    raw[offset + 148] ^= 1  # the FIFO's header checksum
    _box, staging = make_sandbox(tmp_path)
    refused(attempt(bytes(raw), staging, tar), CORRUPT, "checksum")


def test_a_mode_field_starting_with_nul_is_refused(tmp_path: Path, tar: str | None) -> None:
    raw = bytearray(tar_bytes([*TOP, file_entry("python/a/tool", b"x", 0o755)]))
    offset = raw.index(b"python/a/tool")
    block = bytearray(raw[offset : offset + 512])
    block[100:108] = b"\x004755\x00\x00\x00"  # setuid, hidden from a reader that stops at NUL
    raw[offset : offset + 512] = _with_checksum(block)
    _box, staging = make_sandbox(tmp_path)
    refused(attempt(bytes(raw), staging, tar), CORRUPT, "malformed mode")


# --------------------------------------------------------------------------- rule 4


def test_an_archive_cut_at_a_member_boundary_is_refused(tmp_path: Path, tar: str | None) -> None:
    raw = tar_bytes([*TOP, file_entry("python/a/x", b"x" * 600)])
    end = raw.index(b"python/a/x") + 512 + 1024  # header and data of the last member
    _box, staging = make_sandbox(tmp_path)
    refused(attempt(raw[:end], staging, tar), CORRUPT, "end-of-archive marker")


def test_data_after_the_end_marker_is_refused(tmp_path: Path, tar: str | None) -> None:
    raw = tar_bytes([*TOP, file_entry("python/a/x", b"x")]) + tar_bytes([_special(b"3")])
    _box, staging = make_sandbox(tmp_path)
    refused(attempt(raw, staging, tar), CORRUPT, "after the end-of-archive marker")


# --------------------------------------------------------------------------- rule 3


def test_member_count_is_capped(
    tmp_path: Path, tar: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYBUILDPACK_MAX_MEMBERS", "10")
    entries = [*TOP, *(file_entry(f"python/f{i}", b"") for i in range(20))]
    outcome = run(tmp_path, tar, entries)
    refused(outcome, "install-python::archive-too-large", "PYBUILDPACK_MAX_MEMBERS")


def test_unpacked_bytes_are_capped_before_writing(
    tmp_path: Path, tar: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYBUILDPACK_MAX_UNPACKED_BYTES", "100000")
    info = tarfile.TarInfo("python/huge")
    info.size = 10**12  # a header claiming a terabyte; the data never comes
    header = info.tobuf(tarfile.PAX_FORMAT)
    raw = tar_bytes(TOP)[:-1024].rstrip(b"\0")
    raw += bytes(-len(raw) % 512) + header
    _box, staging = make_sandbox(tmp_path)
    outcome = attempt(raw, staging, tar)
    refused(outcome, "install-python::archive-too-large", "PYBUILDPACK_MAX_UNPACKED_BYTES")
    assert not list(staging.rglob("huge"))


_BOMB = textwrap.dedent(
    """
    import io, resource, sys, tarfile, zlib
    from pathlib import Path
    import zstandard
    from pybuildpack.errors import PyBuildpackError
    from pybuildpack.provision.systar import unpack
    compression, staging = sys.argv[1], Path(sys.argv[2])
    zeros = bytes(1 << 20)
    if compression == "gz":
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        data = b"".join(c.compress(zeros) for _ in range(2048)) + c.flush()
    else:
        c = zstandard.ZstdCompressor(level=1).compressobj()
        data = b"".join(c.compress(zeros) for _ in range(2048)) + c.flush()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        unpack(io.BytesIO(data), compression, staging, strip=None, url="u", tar=None)
    except PyBuildpackError as exc:
        print(exc.id)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(len(data), grown // 1024)
    """
)


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_memory_stays_bounded_on_a_decompression_bomb(tmp_path: Path, compression: str) -> None:
    """2 GiB of zeros in a few MB (gzip) or KB (zstd): refused by the cap on decompressed
    bytes, and memory never holds more than a few chunks of it."""
    staging = tmp_path / "s"
    staging.mkdir()
    env = {**os.environ, "PYBUILDPACK_MAX_UNPACKED_BYTES": str(256 << 20)}
    proc = subprocess.run(
        [sys.executable, "-c", _BOMB, compression, str(staging)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    error_id, sizes = proc.stdout.splitlines()
    compressed, grown_mb = map(int, sizes.split())
    assert error_id == "install-python::archive-too-large"
    assert compressed < 4 << 20
    assert grown_mb < 150, f"memory grew by {grown_mb} MB"


# --------------------------------------------------------------------------- property


_NAMES = st.sampled_from(["a", "b", "c", "..", "."])
_PATHS = st.lists(_NAMES, min_size=1, max_size=3).map("/".join)
_TARGETS = st.one_of(
    _PATHS,
    _PATHS.map(lambda p: "../" + p),
    _PATHS.map(lambda p: "../../" + p),
    st.sampled_from(["/", "/etc", "..", "../..", "../../victim", "../../../victim"]),
)


@st.composite
def archives(draw: st.DrawFn) -> list[Entry]:
    entries: list[Entry] = [dir_entry("python")]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["file", "dir", "symlink", "hardlink"]))
        name = "python/" + draw(_PATHS)
        if kind == "file":
            entries.append(file_entry(name, draw(st.binary(max_size=40)), 0o644))
        elif kind == "dir":
            entries.append(dir_entry(name))
        elif kind == "symlink":
            entries.append(link_entry(name, draw(_TARGETS)))
        else:
            entries.append(link_entry(name, "python/" + draw(_PATHS), hard=True))
    return entries


_ALLOWED = {UNSAFE, CORRUPT}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entries=archives())
def test_property_nothing_escapes_staging(
    tmp_path_factory: pytest.TempPathFactory, tar: str | None, entries: list[Entry]
) -> None:
    base = tmp_path_factory.mktemp("prop")
    box, staging = make_sandbox(base)
    before = snapshot(box)
    outcome = attempt(tar_bytes(entries), staging, tar)
    assert snapshot(box) == before  # nothing outside created, changed or linked to
    if isinstance(outcome, PyBuildpackError):
        assert outcome.id in _ALLOWED, outcome
    else:
        assert outcome == staging / "runtime"
        assert_vetted(outcome)
        # Every file of the tree is ours: no hard link shares an inode with the outside.
        outside = {v[5] for v in before.values()}
        for path in outcome.rglob("*"):
            if not path.is_symlink():
                assert path.stat().st_ino not in outside
