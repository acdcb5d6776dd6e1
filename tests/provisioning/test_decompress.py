"""The streaming decompressor under both unpackers: formats, multi-member streams, damage."""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib

import pytest
import zstandard

from pybuildpack.errors import ArchiveCorrupt
from pybuildpack.provision.extract import ThreadedDecompressor, gzip_decompressor, unpack_errors

from .archives import compress

RAW = os.urandom(300_000) + b"runtime" * 200_000  # incompressible and compressible parts


@pytest.fixture(params=["isal", "zlib"])
def gzip_codec(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run with ISA-L (when installed) and with the standard library's zlib fallback."""
    if request.param == "isal":
        pytest.importorskip("isal", reason="isal is not installed (the zlib fallback is used)")
    else:
        monkeypatch.setitem(sys.modules, "isal", None)  # import isal -> ImportError
    return str(request.param)


def _read_all(data: bytes, compression: str, n: int = 65536) -> bytes:
    reader = ThreadedDecompressor(io.BytesIO(data), compression)  # type: ignore[arg-type]
    try:
        out = bytearray()
        while chunk := reader.read(n):
            out += chunk
        return bytes(out)
    finally:
        reader.close()


def test_the_chosen_gzip_codec_is_used(gzip_codec: str) -> None:
    module = type(gzip_decompressor()).__module__
    assert module == ("isal_zlib" if gzip_codec == "isal" else "zlib")


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("gzip", lambda raw: gzip.compress(raw, mtime=0)),
        ("gzip, two members", lambda raw: gzip.compress(raw[:1000]) + gzip.compress(raw[1000:])),
        ("gzip, empty member first", lambda raw: gzip.compress(b"") + gzip.compress(raw)),
    ],
)
def test_gzip_streams(gzip_codec: str, name: str, make: object) -> None:
    assert _read_all(make(RAW), "gz") == RAW  # type: ignore[operator]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("zstd", compress(RAW, "zst")),
        ("zstd --long window", compress(RAW, "zst", level=19, long_window=True)),
        ("zstd, two frames", compress(RAW[:1000], "zst") + compress(RAW[1000:], "zst")),
    ],
)
def test_zstd_streams(name: str, data: bytes) -> None:
    assert _read_all(data, "zst") == RAW


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_a_stream_cut_short_is_an_error(gzip_codec: str, compression: str) -> None:
    data = compress(RAW, compression)
    with pytest.raises(EOFError):
        _read_all(data[: len(data) // 2], compression)


@pytest.mark.parametrize(
    ("compression", "data"),
    [
        ("gz", b"\x1f\x8b\x08\x00" + b"\xff" * 2000),  # a gzip header, then garbage
        ("zst", b"\x28\xb5\x2f\xfd" + b"\xff" * 2000),  # a zstd magic, then garbage
    ],
)
def test_damaged_streams_are_corrupt_archives(
    gzip_codec: str, compression: str, data: bytes
) -> None:
    with pytest.raises(ArchiveCorrupt), unpack_errors("u", "/dest"):
        _read_all(data, compression)


def test_codec_error_types_are_known() -> None:
    from pybuildpack.provision.extract import _codec_errors

    known = _codec_errors()
    assert zlib.error in known and zstandard.ZstdError in known
