"""Streaming, safe extraction of a runtime archive (.tar.gz / .tar.zst) into a directory.

One pass over the stream: each member is checked (no absolute paths, no ``..``, links that
stay inside the destination, regular files/dirs/links only), renamed (an optional top-level
folder is stripped) and extracted at once. This costs far less than tarfile's generic
``data`` filter, which re-resolves every path against the file system.
"""

from __future__ import annotations

import errno
import gzip
import posixpath
import tarfile
from typing import IO, cast

from pybuildpack.errors import ArchiveCorrupt, DiskFull, UnsafeArchive
from pybuildpack.provision.download import Readable
from pybuildpack.provision.sources import Compression

ZSTD_MAX_WINDOW = 1 << 31  # archives made with --long need windows beyond the 8 MiB default

_FULLY_TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def decompressed(stream: Readable, compression: Compression) -> IO[bytes]:
    if compression == "zst":
        import zstandard

        dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        return cast(
            IO[bytes], dctx.stream_reader(stream, read_size=1 << 20, read_across_frames=True)
        )
    return cast(IO[bytes], gzip.GzipFile(fileobj=cast(IO[bytes], stream), mode="rb"))


def _clean_name(name: str, strip: str | None) -> str | None:
    """The member's path inside the destination, or None to skip it (the stripped folder)."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    if strip is not None:
        if name.rstrip("/") == strip:
            return None
        if not name.startswith(strip + "/"):
            return name  # validated (and rejected if unsafe) like any other
        name = name[len(strip) + 1 :]
    return name.rstrip("/") or None


def _check_inside(name: str, url: str, shown: str) -> str:
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(url=url, member=shown, reason="is an absolute path")
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../") or "/../" in f"/{name}/":
        raise UnsafeArchive(url=url, member=shown, reason="points outside the archive with '..'")
    return normal


def extract_stream(
    stream: Readable,
    compression: Compression,
    dest: str,
    *,
    strip: str | None,
    url: str,
) -> int:
    """Extract every member into ``dest`` (an existing empty directory). Returns the count."""
    count = 0
    try:
        with tarfile.open(fileobj=decompressed(stream, compression), mode="r|") as tar:
            for member in tar:
                shown = member.name
                name = _clean_name(member.name, strip)
                if name is None:
                    continue
                name = _check_inside(name, url, shown)
                if member.issym():
                    target = posixpath.normpath(
                        posixpath.join(posixpath.dirname(name), member.linkname)
                    )
                    if (
                        member.linkname.startswith("/")
                        or target == ".."
                        or target.startswith("../")
                    ):
                        raise UnsafeArchive(
                            url=url,
                            member=shown,
                            reason=f"links outside the runtime ({member.linkname})",
                        )
                elif member.islnk():
                    link = _clean_name(member.linkname, strip)
                    if link is None:
                        raise UnsafeArchive(
                            url=url, member=shown, reason="is a hard link to a folder"
                        )
                    member.linkname = _check_inside(link, url, shown)
                elif not (member.isfile() or member.isdir()):
                    raise UnsafeArchive(
                        url=url, member=shown, reason="is a device, FIFO or other special file"
                    )
                member.name = name
                member.mode &= 0o777  # no setuid/setgid/sticky bits from an archive
                member.uid = member.gid = 0
                member.uname = member.gname = ""
                tar.extract(member, dest, set_attrs=True, numeric_owner=True, **_FULLY_TRUSTED)
                count += 1
    except (UnsafeArchive, DiskFull):
        raise
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(path=dest) from None
        if exc.errno is None or isinstance(exc, (EOFError, gzip.BadGzipFile)):
            raise ArchiveCorrupt(url=url, detail=str(exc)) from None
        raise
    except (tarfile.TarError, EOFError) as exc:
        raise ArchiveCorrupt(url=url, detail=str(exc) or type(exc).__name__) from None
    except Exception as exc:
        # zstandard raises ZstdError (not an OSError) for a damaged stream.
        if type(exc).__name__ == "ZstdError":
            raise ArchiveCorrupt(url=url, detail=str(exc)) from None
        raise
    if count == 0:
        raise ArchiveCorrupt(url=url, detail="the archive is empty")
    return count
