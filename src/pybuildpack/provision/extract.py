"""Streaming, safe extraction of a runtime archive (.tar.gz / .tar.zst) into a directory.

One pass over the stream: each member is checked (no absolute paths, no ``..``, links that
stay inside the destination, regular files/dirs/links only), renamed (an optional top-level
folder is stripped) and extracted at once. This costs far less than tarfile's generic
``data`` filter, which re-resolves every path against the file system.
"""

from __future__ import annotations

import errno
import posixpath
import queue
import tarfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any, cast

from pybuildpack.errors import ArchiveCorrupt, DiskFull, PyBuildpackError, UnsafeArchive
from pybuildpack.provision.download import Readable
from pybuildpack.provision.sources import Compression

ZSTD_MAX_WINDOW = 1 << 31  # archives made with --long need windows beyond the 8 MiB default

_FULLY_TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def gzip_decompressor() -> Any:
    """A gzip stream decompressor: ISA-L's (``isal``, about 2.5x faster) where installed,
    else the standard library's zlib. Both release the GIL while they work."""
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib.decompressobj(wbits=31)
    return isal_zlib.decompressobj(wbits=31)


def _codec_errors() -> tuple[type[BaseException], ...]:
    """What the decompressors raise for a damaged stream."""
    errors: list[type[BaseException]] = [zlib.error, EOFError, tarfile.TarError]
    with suppress(ImportError):
        import zstandard

        errors.append(zstandard.ZstdError)
    with suppress(ImportError):
        from isal import isal_zlib

        errors.append(isal_zlib.error)
    return tuple(errors)


_EOF = object()
_PUMP_CHUNK = 1 << 20


class ThreadedDecompressor:
    """A ``read(n)`` stream of the decompressed bytes of ``source``.

    A background thread reads ``source`` in large chunks (so downloading, hashing and
    decompressing - which all release the GIL - overlap with extraction on the main thread)
    and reads it to the end, so a hashing source sees every byte. Multi-member gzip and
    multi-frame zstd streams are handled; a stream that ends early is an error.
    """

    def __init__(self, source: Readable, compression: Compression) -> None:
        self._source = source
        self._compression = compression
        self._queue: queue.Queue[object] = queue.Queue(maxsize=64)
        self._buffer = b""
        self._offset = 0
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="pybuildpack-unpack", daemon=True)
        self._thread.start()

    def _new(self) -> Any:
        if self._compression == "zst":
            import zstandard

            return zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).decompressobj()
        return gzip_decompressor()

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _pump(self) -> None:
        try:
            d = self._new()
            started = False
            while not self._stop.is_set():
                chunk = self._source.read(_PUMP_CHUNK)
                if not chunk:
                    break
                while chunk:
                    started = True
                    out = d.decompress(chunk)
                    if out:
                        self._put(out)
                    if d.eof:
                        chunk = d.unused_data
                        d = self._new()
                        started = False
                    else:
                        chunk = b""
            if self._compression == "gz":
                tail = d.flush()
                if tail:
                    self._put(tail)
            if started and not d.eof:
                raise EOFError("the compressed stream ended before its end marker")
            self._put(_EOF)
        except BaseException as exc:  # handed to the reading thread
            self._put(exc)

    def _refill(self) -> bool:
        """The next decompressed chunk into the buffer; False at the end of the stream."""
        item = self._queue.get()
        if item is _EOF:
            self._done = True
            return False
        if isinstance(item, BaseException):
            self._done = True
            raise item
        self._buffer, self._offset = item, 0  # type: ignore[assignment]
        return True

    def read(self, n: int = -1, /) -> bytes:
        parts: list[bytes] = []
        size = 0
        while (n < 0 or size < n) and not self._done:
            if self._offset >= len(self._buffer) and not self._refill():
                break
            take = (
                len(self._buffer) - self._offset
                if n < 0
                else min(n - size, len(self._buffer) - self._offset)
            )
            parts.append(self._buffer[self._offset : self._offset + take])
            self._offset += take
            size += take
        return b"".join(parts)

    def copy_to(self, sink: IO[bytes], n: int) -> int:
        """Write the next ``n`` bytes to ``sink`` without copying them in Python; returns
        how many there were (fewer at the end of the stream)."""
        done = 0
        while done < n and not self._done:
            if self._offset >= len(self._buffer) and not self._refill():
                break
            take = min(n - done, len(self._buffer) - self._offset)
            sink.write(memoryview(self._buffer)[self._offset : self._offset + take])
            self._offset += take
            done += take
        return done

    def close(self) -> None:
        """Stop the thread (early, on errors) and wait for it."""
        self._stop.set()
        self._thread.join(timeout=10)


def _plain(name: str) -> str:
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _clean_name(name: str, strip: str | None) -> str | None:
    """The member's path inside the runtime, or None for the stripped top folder itself."""
    name = _plain(name)
    if strip is not None:
        if name.rstrip("/") == strip:
            return None
        if name.startswith(strip + "/"):
            name = name[len(strip) + 1 :]
        # else: checked for safety like any other, then refused as outside the top folder
    return name.rstrip("/") or None


def _check_inside(name: str, url: str, shown: str) -> str:
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchive(url=url, member=shown, reason="is an absolute path")
    normal = posixpath.normpath(name)
    if normal == ".." or normal.startswith("../") or "/../" in f"/{name}/":
        raise UnsafeArchive(url=url, member=shown, reason="points outside the archive with '..'")
    return normal


def symlink_escapes(name: str, target: str) -> bool:
    """Whether a symlink at ``name`` (relative to the runtime root) to ``target`` leaves it."""
    if target.startswith("/"):
        return True
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    return resolved == ".." or resolved.startswith("../")


def vet_member(member: tarfile.TarInfo, strip: str | None, url: str) -> str | None:
    """Check one archive member before anything of it is written.

    Returns its path inside the runtime (``strip``, the archive's top folder, removed), or
    None for that top folder itself. Raises ``UnsafeArchive`` for absolute paths, ``..``,
    links leaving the runtime, hard links to folders and special files, and
    ``ArchiveCorrupt`` for a member outside the top folder the archive layout promises.
    """
    shown = member.name
    name = _clean_name(member.name, strip)
    if name is None:
        return None
    name = _check_inside(name, url, shown)
    if member.issym():
        if symlink_escapes(name, member.linkname):
            raise UnsafeArchive(
                url=url, member=shown, reason=f"links outside the runtime ({member.linkname})"
            )
    elif member.islnk():
        link = _clean_name(member.linkname, strip)
        if link is None:
            raise UnsafeArchive(url=url, member=shown, reason="is a hard link to a folder")
        _check_inside(link, url, shown)
    elif not (member.isfile() or member.isdir()):
        raise UnsafeArchive(url=url, member=shown, reason="is a device, FIFO or other special file")
    paths = (shown, member.linkname) if member.islnk() else (shown,)
    for path in paths if strip is not None else ():
        if not _plain(path).startswith(f"{strip}/"):
            raise ArchiveCorrupt(
                url=url, detail=f"'{path}' is outside the archive's top folder '{strip}/'"
            )
    return name


@contextmanager
def unpack_errors(url: str, dest: str) -> Iterator[None]:
    """Map what unpacking can raise to the typed errors (one place for both unpackers)."""
    try:
        yield
    except PyBuildpackError:
        raise
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(path=dest) from None
        if exc.errno is None:
            raise ArchiveCorrupt(url=url, detail=str(exc)) from None
        raise
    except Exception as exc:
        # zstandard's ZstdError and isal's IsalError are not OSErrors.
        if isinstance(exc, _codec_errors()):
            raise ArchiveCorrupt(url=url, detail=str(exc) or type(exc).__name__) from None
        raise


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
    reader: ThreadedDecompressor | None = None
    try:
        with unpack_errors(url, dest):
            reader = ThreadedDecompressor(stream, compression)
            with tarfile.open(fileobj=cast(IO[bytes], reader), mode="r|", bufsize=1 << 16) as tar:
                for member in tar:
                    name = vet_member(member, strip, url)
                    if name is None:
                        continue
                    if member.islnk():
                        member.linkname = posixpath.normpath(
                            _clean_name(member.linkname, strip) or ""
                        )
                    member.name = name
                    member.mode &= 0o777  # no setuid/setgid/sticky bits from an archive
                    member.uid = member.gid = 0
                    member.uname = member.gname = ""
                    tar.extract(member, dest, set_attrs=True, numeric_owner=True, **_FULLY_TRUSTED)
                    count += 1
            reader.read()  # the rest (tar's end padding), so the source is read to its end
    finally:
        if reader is not None:
            reader.close()
    if count == 0:
        raise ArchiveCorrupt(url=url, detail="the archive is empty")
    return count
