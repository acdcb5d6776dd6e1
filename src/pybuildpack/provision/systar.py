"""Unpacking with the system's ``tar``, every member checked by us before tar sees it.

Creating thousands of files is where a runtime install spends its time, and a C ``tar``
does it at about half the cost of Python's ``tarfile``. So, when GNU tar or bsdtar is on
``PATH`` (and ``PYBUILDPACK_UNPACKER`` does not say ``python``):

* a background thread downloads, hashes and decompresses, as for the Python unpacker;
* the main thread walks the decompressed stream with ``tarfile`` (headers only) and runs
  every member through the same checks (``vet_member``);
* a gate passes bytes on to ``tar -x`` only up to the end of the headers already
  checked, so tar never reads a header we have not approved;
* after tar, special permission bits are dropped and every symlink is checked again on
  disk, so even a parser disagreement between ``tarfile`` and tar cannot publish a link
  that leaves the runtime.

The archive's top folder (``python/`` in python-build-standalone archives) is not
stripped by tar; the runtime is the folder of that name inside the unpack directory, and
``unpack`` returns where it is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections import deque
from functools import cache
from pathlib import Path
from typing import IO, cast

from pybuildpack.errors import ArchiveCorrupt, DiskFull, UnpackFailed, UnsafeArchive, UsageError
from pybuildpack.provision.download import Readable
from pybuildpack.provision.extract import (
    ThreadedDecompressor,
    extract_stream,
    symlink_escapes,
    unpack_errors,
    vet_member,
)
from pybuildpack.provision.sources import Compression

UNPACKER_ENV = "PYBUILDPACK_UNPACKER"
UNPACKERS = ("auto", "tar", "python")


@cache
def _tar_flavour(path: str) -> str | None:
    """ "gnu" or "bsd" for a tar whose extraction is safe by default, else None (busybox...)."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    if "GNU tar" in out:
        return "gnu"
    if "bsdtar" in out:
        return "bsd"
    return None


def system_tar(choice: str | None = None) -> str | None:
    """The tar to unpack with, or None to unpack in Python.

    ``choice`` (default: ``PYBUILDPACK_UNPACKER``): ``auto`` uses GNU tar or bsdtar when
    on PATH, ``python`` never does, ``tar`` insists (a usage error without one)."""
    choice = (choice or os.environ.get(UNPACKER_ENV) or "auto").strip().lower()
    if choice not in UNPACKERS:
        raise UsageError(detail=f"{UNPACKER_ENV}={choice!r} is not one of: {', '.join(UNPACKERS)}")
    if choice == "python":
        return None
    found = shutil.which("tar")
    if found and _tar_flavour(found):
        return found
    if choice == "tar":
        raise UsageError(
            detail=f"{UNPACKER_ENV}=tar, but no GNU tar or bsdtar is on PATH; install one or "
            f"set {UNPACKER_ENV}=python"
        )
    return None


class _Gate:
    """The decompressed archive as ``tarfile`` reads it (``r:`` mode: headers are read,
    member data is seeked over), passing bytes on to ``sink`` (tar's input):

    * header bytes that tarfile reads are held until ``release`` (after the member they
      describe has been checked);
    * member data that tarfile seeks over goes straight through, without being copied in
      Python: it belongs to a member already checked.
    """

    def __init__(self, source: ThreadedDecompressor, sink: IO[bytes]) -> None:
        self._source = source
        self._sink = sink
        self._held: deque[bytes] = deque()
        self._pos = 0  # bytes taken from the source
        self._sent = 0  # bytes passed on to the sink

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1, /) -> bytes:
        data = self._source.read(n)
        if data:
            self._held.append(data)
            self._pos += len(data)
        return data

    def seek(self, pos: int, whence: int = 0, /) -> int:
        if whence != 0 or pos < self._pos or self._sent != self._pos:
            # tarfile only skips forward, over the data of a member already released.
            raise tarfile.ReadError(f"unexpected seek to {pos} at {self._pos}")
        moved = self._source.copy_to(self._sink, pos - self._pos)
        self._pos += moved
        self._sent += moved
        return self._pos

    def release(self, upto: int | None) -> None:
        """Pass on the held bytes before stream offset ``upto`` (None: all of them)."""
        while self._held and (upto is None or self._sent < upto):
            chunk = self._held[0]
            take = len(chunk) if upto is None else min(len(chunk), upto - self._sent)
            self._sink.write(chunk[:take])
            self._sent += take
            if take == len(chunk):
                self._held.popleft()
            else:
                self._held[0] = chunk[take:]


def _widen_pipe(pipe: IO[bytes]) -> None:
    """A 1 MiB pipe to tar (Linux; 64 KiB by default), so that checking the next headers
    overlaps with tar writing files instead of waiting for it."""
    with contextlib.suppress(OSError, AttributeError):
        import fcntl

        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)


def _tar_failure(returncode: int, stderr: str, url: str, dest: str) -> Exception:
    if "No space left" in stderr:
        return DiskFull(path=dest)
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    detail = lines[-1] if lines else "no message"
    return UnpackFailed(url=url, detail=f"tar exited with status {returncode}: {detail}")


def _audit(root: Path, specials: list[str], url: str) -> None:
    """Drop setuid/setgid/sticky bits; refuse any symlink on disk that leaves ``root``."""
    for name in specials:
        path = root / name
        if path.exists() and not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o777)
    base = str(root)
    for folder, dirs, files in os.walk(base):
        for entry in (*dirs, *files):
            path = os.path.join(folder, entry)
            if os.path.islink(path):
                rel = os.path.relpath(path, base).replace(os.sep, "/")
                if symlink_escapes(rel, os.readlink(path)):
                    raise UnsafeArchive(
                        url=url,
                        member=rel,
                        reason=f"links outside the runtime ({os.readlink(path)})",
                    )


def _unpack_with_tar(
    tar_path: str,
    stream: Readable,
    compression: Compression,
    dest: Path,
    strip: str | None,
    url: str,
) -> Path:
    root = dest / strip if strip else dest
    specials: list[str] = []
    count = 0
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [tar_path, "-x", "-f", "-", "-C", str(dest), "--no-same-owner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, "LC_ALL": "C"},  # messages we can recognise (a full disk)
        )
        assert proc.stdin is not None
        _widen_pipe(proc.stdin)
        reader = ThreadedDecompressor(stream, compression)
        gate = _Gate(reader, proc.stdin)
        try:
            with tarfile.open(fileobj=cast(IO[bytes], gate), mode="r:") as tar:
                for member in tar:
                    name = vet_member(member, strip, url)
                    gate.release(member.offset_data)  # this member's headers: approved
                    if name is None:
                        continue
                    count += 1
                    if member.mode & 0o7000 and not member.issym():
                        specials.append(name)
            gate.read()  # the rest of the stream (end padding), so all of it is hashed
            gate.release(None)
            proc.stdin.close()
            returncode = proc.wait()
        except BrokenPipeError:
            returncode = proc.wait()
            if returncode == 0:  # tar stopped reading early yet succeeded: not a tar stream
                raise ArchiveCorrupt(url=url, detail="tar stopped before the end") from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            reader.close()
            if not proc.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.close()
        if returncode != 0:
            errors.seek(0)
            message = errors.read().decode("utf-8", "replace")
            raise _tar_failure(returncode, message, url, str(dest))
    if count == 0:
        raise ArchiveCorrupt(url=url, detail="the archive is empty")
    _audit(root, specials, url)
    return root


def unpack(
    stream: Readable,
    compression: Compression,
    dest: Path,
    *,
    strip: str | None,
    url: str,
    tar: str | None = None,
) -> Path:
    """Unpack a runtime archive into ``dest`` (an existing empty directory) with ``tar``
    (a path from ``system_tar``) or, when None, in Python. Returns the runtime's root:
    ``dest`` itself, or the archive's top folder inside it."""
    if tar is None:
        extract_stream(stream, compression, str(dest), strip=strip, url=url)
        return dest
    with unpack_errors(url, str(dest)):
        return _unpack_with_tar(tar, stream, compression, dest, strip, url)
