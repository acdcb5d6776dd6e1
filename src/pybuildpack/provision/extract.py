"""Decompressing a runtime archive as a stream, with bounded memory, and unpacking it in
Python (the fallback when no GNU tar or bsdtar is usable).

Two background threads form a pipeline with the unpacking on the main thread: one reads
the source (downloading, hashing and writing the download cache, in ``_Tee``), the other
inflates. Reading, hashing and inflating release the GIL, so the three overlap: inflating
(the longest step) never waits for the network or the hash. Each inflate step produces at
most ``_OUT_CHUNK`` bytes and at most ``_QUEUE`` chunks wait (``_RAW_QUEUE`` compressed
chunks before it), so memory stays bounded whatever the input (a small archive that
inflates to gigabytes, a zstd frame asking for a huge window). The total decompressed size
is capped too.

Codecs: gzip with ISA-L (``isal``) where installed, else zlib; zstd with the
``zstandard`` package, else Python 3.14's ``compression.zstd``, else the ``zstd`` program
(through pipes), else ``DecompressorUnavailable``.

The archive format itself is parsed and checked by ``tarsafe``; see there for the rules.
"""

from __future__ import annotations

import errno
import os
import queue
import shutil
import subprocess
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from pybuildpack.errors import (
    ArchiveCorrupt,
    ArchiveTooLarge,
    DecompressorUnavailable,
    DestinationUnusable,
    DiskFull,
    PyBuildpackError,
)
from pybuildpack.provision import settings

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import IO, Any

    from pybuildpack.provision.download import Readable
    from pybuildpack.provision.sources import Compression

# zstd frames may ask for a window up to this size (what `zstd -d --long` accepts): archives
# made with --long need more than the 8 MiB default, and a frame may not make us allocate
# gigabytes.
ZSTD_WINDOW_LOG = 27
ZSTD_MAX_WINDOW = 1 << ZSTD_WINDOW_LOG

_EOF = object()
_PUMP_CHUNK = 1 << 20  # compressed bytes read at a time
_OUT_CHUNK = 1 << 20  # decompressed bytes produced at a time, at most
_QUEUE = 16  # chunks waiting for the unpacker, at most
_RAW_QUEUE = 16  # compressed chunks (at most _PUMP_CHUNK bytes each) waiting to be inflated


def gzip_decompressor() -> Any:
    """A gzip stream decompressor: ISA-L's (``isal``, about 2.5x faster) where installed,
    else the standard library's zlib. Both release the GIL while they work."""
    try:
        from isal import isal_zlib
    except ImportError:
        return zlib.decompressobj(wbits=31)
    return isal_zlib.decompressobj(wbits=31)


class CodecError(Exception):
    """A damaged compressed stream (for codecs whose own errors are not typed here)."""


def _codec_errors() -> tuple[type[BaseException], ...]:
    """What the decompressors raise for a damaged stream."""
    errors: list[type[BaseException]] = [zlib.error, EOFError, CodecError]
    with suppress(ImportError):
        import zstandard

        errors.append(zstandard.ZstdError)
    with suppress(ImportError):
        from isal import igzip_lib, isal_zlib

        errors += [isal_zlib.error, igzip_lib.IsalError]
    with suppress(ImportError):
        from compression import zstd  # type: ignore[import-not-found]

        errors.append(zstd.ZstdError)
    return tuple(errors)


Read = Callable[[int], bytes]


def _gzip_chunks(read: Read) -> Iterator[bytes]:
    try:
        from isal import igzip_lib
    except ImportError:
        return _zlib_gzip_chunks(read)
    return _igzip_chunks(read, igzip_lib)


def _igzip_chunks(read: Read, igzip_lib: Any) -> Iterator[bytes]:
    """ISA-L's own gzip decompressor (checks each member's CRC and length, like zlib's):
    about 5% faster than its zlib-compatible one, which copies the unconsumed input back
    out at every bounded step."""
    return _pump(read, lambda: igzip_lib.IgzipDecompressor(flag=igzip_lib.DECOMP_GZIP))


def _pump(read: Read, new: Callable[[], Any]) -> Iterator[bytes]:
    """Inflate a stream of one or more members with decompressors made by ``new`` (the
    interface of ``bz2``/``lzma``: ``eof``, ``needs_input``, ``unused_data`` and
    ``decompress(data, max_length)``), in bounded steps; a stream cut before a member's end
    marker is an ``EOFError``."""
    d = new()
    data = b""
    started = False
    while True:
        if d.eof:
            data, d, started = d.unused_data, new(), False
        if d.needs_input and not data:
            data = read(_PUMP_CHUNK)
            if not data:
                break
        started = True
        out = d.decompress(data, _OUT_CHUNK)
        data = b""
        if out:
            yield out
    if started and not d.eof:
        raise EOFError("the compressed stream ended before its end marker")


def _zlib_gzip_chunks(read: Read) -> Iterator[bytes]:
    d = gzip_decompressor()
    started = False
    while data := read(_PUMP_CHUNK):
        while data:
            started = True
            out = d.decompress(data, _OUT_CHUNK)
            if out:
                yield out
            if d.eof:
                data = d.unused_data
                d = gzip_decompressor()
                started = False
            else:
                data = d.unconsumed_tail
    if started:
        tail = d.flush()
        if tail:
            yield tail
        if not d.eof:
            raise EOFError("the compressed stream ended before its end marker")


class ZstdFrames:
    """Follows the frame and block headers of a zstd stream (skipping block contents), to
    tell whether the stream ended at the end of a frame: ``zstandard``'s bounded reader
    does not report a stream cut short."""

    _MAGIC = 0xFD2FB528

    def __init__(self) -> None:
        self._buf = b""
        self._skip = 0
        self._state = "frame"
        self._checksum = False

    def feed(self, data: bytes) -> None:
        if self._state == "unknown":
            return
        buf, pos = self._buf + data, 0
        while True:
            if self._skip:
                take = min(self._skip, len(buf) - pos)
                pos += take
                self._skip -= take
                if self._skip:
                    break
            used = self._step(buf, pos)
            if used == 0:
                break
            pos += used
        self._buf = buf[pos:]

    def _step(self, buf: bytes, pos: int) -> int:
        """Consume one header at ``pos``; 0 when more bytes are needed."""
        have = len(buf) - pos
        if self._state == "frame":
            if have < 4:
                return 0
            magic = int.from_bytes(buf[pos : pos + 4], "little")
            if magic & 0xFFFFFFF0 == 0x184D2A50:  # a skippable frame
                if have < 8:
                    return 0
                self._skip = int.from_bytes(buf[pos + 4 : pos + 8], "little")
                return 8
            if magic != self._MAGIC:
                self._state = "unknown"  # the decoder reports it
                return 0
            if have < 5:
                return 0
            fhd = buf[pos + 4]
            single = (fhd >> 5) & 1
            fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
            size = 5 + (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + fcs
            if have < size:
                return 0
            self._checksum = bool(fhd & 4)
            self._state = "block"
            return size
        if self._state == "block":
            if have < 3:
                return 0
            header = int.from_bytes(buf[pos : pos + 3], "little")
            kind = (header >> 1) & 3
            if kind == 3:
                self._state = "unknown"
                return 0
            self._skip = 1 if kind == 1 else header >> 3
            if header & 1:  # the last block, then the frame's checksum if it has one
                self._skip += 4 if self._checksum else 0
                self._state = "frame"
            return 3
        return 0

    def complete(self) -> bool:
        return self._state in ("frame", "unknown") and self._skip == 0 and not self._buf


def _zstandard_chunks(read: Read) -> Iterator[bytes]:
    import zstandard

    frames = ZstdFrames()

    class _Source:
        def read(self, n: int = -1) -> bytes:
            data = read(_PUMP_CHUNK if n < 0 else n)
            frames.feed(data)
            return data

    dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    reader = dctx.stream_reader(_Source(), read_size=_PUMP_CHUNK, read_across_frames=True)
    while out := reader.read(_OUT_CHUNK):
        yield out
    if not frames.complete():
        raise EOFError("the compressed stream ended before its end marker")


def _stdlib_zstd_chunks(read: Read) -> Iterator[bytes]:
    from compression import zstd  # Python 3.14+

    return _pump(
        read,
        lambda: zstd.ZstdDecompressor(
            options={zstd.DecompressionParameter.window_log_max: ZSTD_WINDOW_LOG}
        ),
    )


def _program_zstd_chunks(read: Read, program: str) -> Iterator[bytes]:
    proc = subprocess.Popen(
        [program, "-d", "-c", "-q", f"--long={ZSTD_WINDOW_LOG}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    failure: list[BaseException] = []

    def feed() -> None:
        assert proc.stdin is not None
        try:
            while data := read(_PUMP_CHUNK):
                proc.stdin.write(data)
        except BrokenPipeError:
            pass
        except BaseException as exc:  # e.g. a download error: handed to the reader
            failure.append(exc)
            proc.kill()
        finally:
            with suppress(BrokenPipeError):
                proc.stdin.close()

    feeder = threading.Thread(target=feed, name="pybuildpack-zstd-feed", daemon=True)
    feeder.start()
    try:
        while out := proc.stdout.read(_OUT_CHUNK):
            yield out
        feeder.join()
        code = proc.wait()
        if failure:
            raise failure[0]
        if code != 0:
            message = proc.stderr.read(4096).decode("utf-8", "replace").strip()
            raise CodecError(f"zstd exited with status {code}: {message or 'no message'}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def zstd_codec() -> str | None:
    """Which zstd decoder is available: ``zstandard``, ``stdlib``, a program path, None."""
    try:
        import zstandard  # noqa: F401
    except ImportError:
        pass
    else:
        return "zstandard"
    try:
        from compression import zstd  # noqa: F401
    except ImportError:
        pass
    else:
        return "stdlib"
    return shutil.which("zstd")


def _chunks(read: Read, compression: Compression, url: str) -> Iterator[bytes]:
    if compression == "gz":
        return _gzip_chunks(read)
    codec = zstd_codec()
    if codec == "zstandard":
        return _zstandard_chunks(read)
    if codec == "stdlib":
        return _stdlib_zstd_chunks(read)
    if codec is not None:
        return _program_zstd_chunks(read, codec)
    raise DecompressorUnavailable(url=url)


class ThreadedDecompressor:
    """A ``read(n)`` stream of the decompressed bytes of ``source``.

    A background thread reads ``source`` in large chunks and reads it to the end, so a
    hashing source sees every byte; a second one decompresses what the first read.
    Multi-member gzip and multi-frame zstd streams are handled. More than ``limit``
    decompressed bytes raise ``ArchiveTooLarge``.
    """

    def __init__(
        self,
        source: Readable,
        compression: Compression,
        *,
        url: str = "",
        limit: int | None = None,
    ) -> None:
        self._source = source
        self._compression = compression
        self._url = url
        self._limit = limit
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_QUEUE)
        self._raw: queue.Queue[object] = queue.Queue(maxsize=_RAW_QUEUE)
        self._raw_done = False
        self._buffer = b""
        self._offset = 0
        self._done = False
        self._stop = threading.Event()
        self.position = 0  # decompressed bytes handed out so far
        self._reader = threading.Thread(target=self._fetch, name="pybuildpack-read", daemon=True)
        self._thread = threading.Thread(target=self._pump, name="pybuildpack-unpack", daemon=True)
        self._reader.start()
        self._thread.start()

    def _put(self, item: object, into: queue.Queue[object] | None = None) -> None:
        target = self._queue if into is None else into
        while not self._stop.is_set():
            try:
                target.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _fetch(self) -> None:
        """The reading thread: the source, to its end, in large chunks."""
        try:
            while not self._stop.is_set():
                data = self._source.read(_PUMP_CHUNK)
                if not data:
                    break
                self._put(data, self._raw)
            self._put(_EOF, self._raw)
        except BaseException as exc:  # handed to the inflating thread, then the reader
            self._put(exc, self._raw)

    def _read_source(self, n: int) -> bytes:
        """What the reading thread read next (up to ``_PUMP_CHUNK`` bytes, whatever
        ``n``); b"" at the end of the source or once stopped."""
        while not self._stop.is_set() and not self._raw_done:
            try:
                item = self._raw.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _EOF:
                self._raw_done = True
                return b""
            if isinstance(item, BaseException):
                self._raw_done = True
                raise item
            return item  # type: ignore[return-value]
        return b""

    def _pump(self) -> None:
        try:
            total = 0
            for out in _chunks(self._read_source, self._compression, self._url):
                total += len(out)
                if self._limit is not None and total > self._limit:
                    raise ArchiveTooLarge(
                        url=self._url,
                        what="decompressed bytes",
                        limit=self._limit,
                        setting=settings.MAX_BYTES_ENV,
                    )
                self._put(out)
                if self._stop.is_set():
                    return
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
        if 0 <= n <= len(self._buffer) - self._offset:  # the common case: one slice
            data = self._buffer[self._offset : self._offset + n]
            self._offset += n
            self.position += n
            return data
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
        self.position += size
        return b"".join(parts)

    def copy_to(self, sink: IO[bytes] | None, n: int) -> int:
        """Write the next ``n`` bytes to ``sink`` (None: drop them) without copying them in
        Python; returns how many there were (fewer at the end of the stream)."""
        done = 0
        while done < n and not self._done:
            if self._offset >= len(self._buffer) and not self._refill():
                break
            take = min(n - done, len(self._buffer) - self._offset)
            if sink is not None:
                sink.write(memoryview(self._buffer)[self._offset : self._offset + take])
            self._offset += take
            done += take
        self.position += done
        return done

    def close(self) -> None:
        """Stop the threads (early, on errors) and wait for them."""
        self._stop.set()
        for waiting in (self._queue, self._raw):
            with suppress(queue.Empty):
                while True:
                    waiting.get_nowait()
        self._thread.join(timeout=10)
        self._reader.join(timeout=10)


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
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EDQUOT):
            raise DestinationUnusable(path=dest, detail=exc.strerror or str(exc)) from None
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EEXIST):
            # The checks make these impossible for a vetted member; refuse rather than guess.
            raise ArchiveCorrupt(url=url, detail=f"unexpected file system state: {exc}") from None
        if exc.errno is None:
            raise ArchiveCorrupt(url=url, detail=str(exc)) from None
        raise DestinationUnusable(path=dest, detail=exc.strerror or str(exc)) from None
    except Exception as exc:
        # zstandard's ZstdError and isal's IsalError are not OSErrors.
        if isinstance(exc, _codec_errors()):
            raise ArchiveCorrupt(url=url, detail=str(exc) or type(exc).__name__) from None
        raise


def extract_stream(
    stream: Readable,
    compression: Compression,
    dest: Path,
    *,
    strip: str | None,
    url: str,
    read_only: bool = False,
) -> Path:
    """Unpack a runtime archive in Python into ``dest/runtime`` (``dest``: an existing,
    empty, private directory). Returns the runtime's root. See ``tarsafe``. With
    ``read_only``, files are made without write bits (for the runtime store)."""
    from pybuildpack.provision import tarsafe

    limits = tarsafe.Limits.from_env()
    root = dest / "runtime"
    reader: ThreadedDecompressor | None = None
    try:
        with unpack_errors(url, str(dest)):
            root.mkdir(mode=0o755)
            reader = ThreadedDecompressor(stream, compression, url=url, limit=limits.stream_bytes)
            plan = tarsafe.Plan(strip=strip, url=url, limits=limits)
            with tarsafe.FdTree(root, url, read_only=read_only) as tree:
                for member in tarsafe.read_members(reader, plan):
                    tree.write(member, reader)
                plan.finish()
                for link in plan.symlinks:
                    tree.symlink(link)
            tarsafe.audit_tree(root, url, read_only=read_only)
    finally:
        if reader is not None:
            reader.close()
    os.chmod(root, 0o755)
    return root
