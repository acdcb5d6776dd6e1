"""The shortcuts that make unpacking fast keep the rules exact: the header parser's fast
paths agree with the field-by-field checks, and files get their final modes (read-only
for the runtime store) whatever the umask, with both unpackers."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybuildpack.provision import tarsafe
from pybuildpack.provision.systar import unpack

from . import test_install as _shared
from .archives import compress, dir_entry, file_entry, link_entry, tar_bytes
from .loopback import LoopbackServer
from .test_install import install, publish_pbs, run_python

server = _shared.server


def _reference_number(field: bytes, what: str) -> int:
    """The numeric-field rule spelled out byte by byte (the parser's slow, obvious form)."""
    if field[0] == 0x80:
        return int.from_bytes(field[1:], "big")
    if field[0] & 0x80:
        raise ValueError(what)
    body = field.lstrip(b" ")
    end = len(body)
    for i, byte in enumerate(body):
        if byte in (0, 0x20):
            end = i
            break
    digits, rest = body[:end], body[end:]
    if rest.strip(b"\0 ") or any(b not in b"01234567" for b in digits):
        raise ValueError(what)
    if not digits:
        if what in ("size", "checksum"):
            raise ValueError(what)
        return 0
    return int(digits, 8)


def _outcome(fn: object, *args: object) -> object:
    try:
        return fn(*args)  # type: ignore[operator]
    except ValueError:
        return ValueError


_FIELD_BYTES = st.sampled_from(b"0123456789 \0x\x80\xff")


_FIELDS = st.binary(min_size=8, max_size=12) | st.lists(_FIELD_BYTES, min_size=8, max_size=12).map(
    bytes
)


@given(_FIELDS, st.sampled_from(["mode", "size", "mtime", "checksum"]))
def test_field_parser_matches_the_rule(field: bytes, what: str) -> None:
    assert _outcome(tarsafe._field, field, 0, len(field), what) == _outcome(
        _reference_number, field, what
    )


@given(st.binary(min_size=512, max_size=512))
def test_byte_sum_is_exact(block: bytes) -> None:
    assert tarsafe._byte_sum(block) == sum(block)
    assert tarsafe._byte_sum(b"\xff" * 512) == 255 * 512


@given(st.lists(_FIELD_BYTES, min_size=56, max_size=56).map(bytes))
def test_the_common_header_layout_implies_valid_fields(middle: bytes) -> None:
    block = bytes(100) + middle + bytes(356)
    match = tarsafe._COMMON.match(block, 100)
    if match is None:
        return
    mode, size, mtime, checksum = (int(g, 8) for g in match.groups())
    assert mode == _reference_number(block[100:108], "mode")
    assert size == _reference_number(block[124:136], "size")
    assert mtime == _reference_number(block[136:148], "mtime")
    assert checksum == _reference_number(block[148:156], "checksum")


def test_headers_of_gnu_tar_and_tarfile_take_the_fast_path() -> None:
    for fmt in (tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT):
        info = tarfile.TarInfo("python/bin/python3")
        info.size, info.mode, info.mtime = 12345, 0o755, 1_700_000_000
        header = info.tobuf(fmt)[-512:]
        assert tarsafe._COMMON.match(header, 100) is not None, fmt


# --------------------------------------------------------------------------- modes


def _archive() -> bytes:
    tool = file_entry("python/bin/tool", b"#!/bin/sh\n", 0o4775)
    return compress(
        tar_bytes([
            dir_entry("python"),
            dir_entry("python/bin"),
            dir_entry("python/lib"),
            file_entry("python/lib/os.py", b"# os\n", 0o666),
            tool,
            link_entry("python/bin/hard", "python/bin/tool", hard=True),
            link_entry("python/bin/python3", "tool"),
        ]),
        "gz",
    )  # fmt: skip


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000])
@pytest.mark.parametrize("read_only", [False, True])
def test_files_get_their_final_modes_whatever_the_umask(
    tmp_path: Path, tar: str | None, umask: int, read_only: bool
) -> None:
    staging = tmp_path / "staging"
    staging.mkdir(mode=0o700)
    old = os.umask(umask)
    try:
        root = unpack(
            io.BytesIO(_archive()), "gz", staging, strip="python", url="u", tar=tar,
            read_only=read_only,
        )  # fmt: skip
    finally:
        os.umask(old)
    modes = {
        rel: stat.S_IMODE(os.lstat(root / rel).st_mode)
        for rel in ("bin", "lib", "lib/os.py", "bin/tool", "bin/hard")
    }
    script, module = (0o555, 0o444) if read_only else (0o755, 0o644)
    assert modes == {"bin": 0o755, "lib": 0o755, "lib/os.py": module, "bin/tool": script,
                     "bin/hard": script}  # fmt: skip
    assert (root / "bin" / "python3").read_bytes() == b"#!/bin/sh\n"
    assert os.lstat(root / "bin" / "tool").st_mtime == os.lstat(root / "lib" / "os.py").st_mtime


def test_the_umask_is_read_without_changing_it() -> None:
    old = os.umask(0o027)
    try:
        assert tarsafe.current_umask() in (0o027, None)
        assert os.umask(0o027) == 0o027
    finally:
        os.umask(old)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, n: int = -1, /) -> bytes:
        out, self.data = self.data[:n], self.data[n:]
        return out

    def copy_to(self, sink: object, n: int) -> int:
        sink.write(self.read(n))  # type: ignore[attr-defined]
        return n


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o277])
def test_fdtree_creates_files_with_their_mode_before_any_audit(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        with tarsafe.FdTree(tmp_path, "u", read_only=True) as tree:
            tree.write(tarsafe.Member("a", tarsafe.FILE, 3, 0o755, 0), _Bytes(b"abc"))
        with tarsafe.FdTree(tmp_path, "u") as tree:
            tree.write(tarsafe.Member("b", tarsafe.FILE, 3, 0o644, 0), _Bytes(b"abc"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.lstat(tmp_path / "a").st_mode) == 0o555
    assert stat.S_IMODE(os.lstat(tmp_path / "b").st_mode) == 0o644
    assert (tmp_path / "a").read_bytes() == b"abc"


# --------------------------------------------------------------------------- the lock


_HOLD = """
import sys, time
from pathlib import Path
from pybuildpack.provision.cache import DownloadCache
with DownloadCache(Path(sys.argv[1])).lock("k", "a child"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_cache_lock_is_exclusive_and_dies_with_its_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys
    import time

    from pybuildpack.errors import PyBuildpackError
    from pybuildpack.provision.cache import DownloadCache

    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        monkeypatch.setenv("PYBUILDPACK_LOCK_TIMEOUT", "0.2")
        with pytest.raises(PyBuildpackError) as info, DownloadCache(tmp_path).lock("k"):
            pass
        assert info.value.id == "install-python::lock-timeout"
        assert "a child" in str(info.value)
        child.kill()  # SIGKILL: no clean-up runs; the kernel drops the lock
        child.wait()
        start = time.monotonic()
        with DownloadCache(tmp_path).lock("k"):
            assert time.monotonic() - start < 0.2
    finally:
        child.kill()
        child.wait()


# --------------------------------------------------------------------------- installs


def _failing_tar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A 'GNU tar' first on PATH that records that it ran, and fails."""
    bindir = tmp_path / "tar-bin"
    bindir.mkdir()
    ran = tmp_path / "tar-ran"
    (bindir / "tar").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "tar (GNU tar) 1.34"; exit 0; fi\n'
        f'touch "{ran}"; cat >/dev/null; exit 2\n'
    )
    (bindir / "tar").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    from pybuildpack.provision import systar

    systar._tar_flavour.cache_clear()
    return ran


@pytest.mark.parametrize("choice", [None, "auto", "python"])
def test_the_default_unpacker_is_pybuildpack_not_the_system_tar(
    server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, choice: str | None
) -> None:
    monkeypatch.delenv("PYBUILDPACK_UNPACKER", raising=False)
    ran = _failing_tar(tmp_path, monkeypatch)
    pub = publish_pbs(server, tmp_path)  # type: ignore[arg-type]
    result = install(pub, tmp_path / "py", tmp_path / "cache", unpacker=choice)
    assert result.dest == tmp_path / "py" and not ran.exists()
    assert run_python(tmp_path / "py", "--version").startswith("Python ")


def test_unpacker_tar_uses_the_system_tar(
    server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pybuildpack.errors import PyBuildpackError

    ran = _failing_tar(tmp_path, monkeypatch)
    pub = publish_pbs(server, tmp_path)  # type: ignore[arg-type]
    with pytest.raises(PyBuildpackError) as info:
        install(pub, tmp_path / "py", tmp_path / "cache", unpacker="tar")
    assert info.value.id == "install-python::unpack-failed" and ran.exists()


@pytest.mark.parametrize("codec", ["isal", "zlib"])
def test_a_gzip_member_with_a_wrong_crc_is_a_corrupt_archive(
    codec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gzip
    import sys

    from pybuildpack.errors import ArchiveCorrupt
    from pybuildpack.provision.extract import ThreadedDecompressor, unpack_errors

    if codec == "isal":
        pytest.importorskip("isal")
    else:
        monkeypatch.setitem(sys.modules, "isal", None)
    data = bytearray(gzip.compress(os.urandom(5000) + b"x" * 200_000) + gzip.compress(b"tail"))
    data[-(len(gzip.compress(b"tail")) + 8)] ^= 1  # the first member's CRC-32
    reader = ThreadedDecompressor(io.BytesIO(bytes(data)), "gz")  # type: ignore[arg-type]
    try:
        with pytest.raises(ArchiveCorrupt), unpack_errors("u", "/dest"):
            while reader.read(65536):
                pass
    finally:
        reader.close()


# --------------------------------------------------------------------------- the store


def test_a_store_manifest_is_checked_from_its_own_text(tmp_path: Path) -> None:
    from pybuildpack.provision.store import MANIFEST, Damaged, Store, _digest, _written_digest

    store = Store(tmp_path / "cache")
    staging = store.new_staging()
    (staging / "runtime" / "lib").mkdir(parents=True)
    (staging / "runtime" / "lib" / "os.py").write_text("x = 1\n")
    made = store.seal(staging, "a" * 64, {"version": "3.12.1", "url": "u"})
    path = store.entry("a" * 64) / MANIFEST
    text = path.read_text()
    assert _written_digest(text) == _digest(made["entries"]) == made["digest"]
    assert store.manifest("a" * 64) == made
    path.write_text(text.replace('"lib/os.py","f",292,6,', '"lib/os.py","f",292,7,'))
    with pytest.raises(Damaged):
        store.manifest("a" * 64)
    # Another layout (re-serialised by hand) is checked the slow way, not refused.
    path.write_text(json.dumps(made))
    assert store.manifest("a" * 64) == made


# --------------------------------------------------------------------------- downloads


def test_redirects_are_followed_and_each_target_is_checked(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pybuildpack.errors import PyBuildpackError
    from pybuildpack.provision import download

    srv = server  # plain http, allowed by the fixture
    srv.files["/real/archive.tar.gz"] = b"x" * 300_000
    srv.redirects["/a"] = "/b"
    srv.redirects["/b"] = f"{srv.url}/real/archive.tar.gz"
    with download.open_url(f"{srv.url}/a") as opened:
        assert opened.length == 300_000
        data = b""
        while chunk := opened.stream.read(65536):
            data += chunk
    assert data == b"x" * 300_000
    assert download.exists(f"{srv.url}/a") is True
    assert download.read_small(f"{srv.url}/a", limit=1000) == b"x" * 1000
    # Every target is checked before it is requested: refused at the last hop, the
    # archive is never asked for.
    from pybuildpack.errors import InsecureUrl

    checked: list[str] = []

    def check(url: str, allow_http: bool = False) -> None:
        checked.append(url.removeprefix(srv.url))
        if url.endswith("/real/archive.tar.gz"):
            raise InsecureUrl(url=url)

    hits = srv.hits["/real/archive.tar.gz"]
    original = download.check_transport
    monkeypatch.setattr(download, "check_transport", check)
    with pytest.raises(PyBuildpackError) as info, download.open_url(f"{srv.url}/a"):
        pass
    assert info.value.id == "install-python::insecure-url"
    assert checked == ["/a", "/b", "/real/archive.tar.gz"]
    monkeypatch.setattr(download, "check_transport", original)
    srv.redirects["/loop"] = "/loop"
    with pytest.raises(PyBuildpackError) as info, download.open_url(f"{srv.url}/loop"):
        pass
    assert info.value.id == "install-python::download-failed" and "redirects" in str(info.value)
    assert srv.hits["/real/archive.tar.gz"] == hits


def test_a_body_cut_short_is_transient_and_5xx_is_retried(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pybuildpack.provision import download

    monkeypatch.setenv("PYBUILDPACK_HTTP_RETRIES", "2")
    srv = server
    srv.files["/f"] = b"y" * 500_000
    srv.faults["/f"] = ["truncate", "500", "500", "500"]
    with pytest.raises(download.Transient), download.open_url(f"{srv.url}/f") as opened:
        while opened.stream.read(65536):
            pass
    with pytest.raises(Exception) as info, download.open_url(f"{srv.url}/f"):
        pass  # three 500s: the first answer and two retries, then the error
    assert "HTTP 500" in str(info.value)
    with download.open_url(f"{srv.url}/f") as opened:
        assert opened.stream.read(10) == b"y" * 10
