"""Unpacking with the system's ``tar``, every member checked by us before tar sees it.

Creating thousands of files is where a runtime install spends its time, and a C ``tar``
does it at about half the cost of Python's ``tarfile``. So, when GNU tar or bsdtar is on
``PATH`` (and ``PYBUILDPACK_UNPACKER`` does not say ``python``):

* a background thread downloads, hashes and decompresses, as for the Python unpacker;
* the main thread parses the decompressed stream with ``tarsafe``'s strict parser and
  vets every member against the plan of the final tree (``tarsafe.Plan``);
* tar reads a *canonical* stream written by pybuildpack: for each vetted folder, file or
  hard link a fresh header built from the vetted values (name with the top folder
  stripped, mode 0644/0755, no owner), then the file's data. Not one byte of the
  archive's own headers reaches tar, so a parser difference between pybuildpack and tar
  cannot matter; symlinks are never given to tar at all: no path tar writes can pass
  through one;
* after tar, pybuildpack creates the symlinks (each already resolved against the final
  tree), then ``tarsafe.audit_tree`` drops special bits and refuses special files.

The runtime is unpacked into ``DEST/runtime`` (``DEST``: the private staging folder).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from pybuildpack.errors import ArchiveCorrupt, DiskFull, UnpackFailed, UsageError
from pybuildpack.provision.settings import UNPACKER_ENV, UNPACKERS, unpacker_choice

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:  # imported when unpacking: a no-op install needs none of it
    from typing import IO

    from pybuildpack.provision.download import Readable
    from pybuildpack.provision.sources import Compression

__all__ = ["UNPACKERS", "UNPACKER_ENV", "system_tar", "unpacker_choice"]


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
    choice = unpacker_choice(choice)
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


def _unpack_with_tar(
    tar_path: str,
    stream: Readable,
    compression: Compression,
    dest: Path,
    strip: str | None,
    url: str,
    read_only: bool = False,
) -> Path:
    from pybuildpack.provision import tarsafe
    from pybuildpack.provision.extract import ThreadedDecompressor

    limits = tarsafe.Limits.from_env()
    root = dest / "runtime"
    root.mkdir(mode=0o755)
    plan = tarsafe.Plan(strip=strip, url=url, limits=limits)
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(
            [tar_path, "-x", "-p", "-f", "-", "-C", str(root), "--no-same-owner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env={**os.environ, "LC_ALL": "C"},  # messages we can recognise (a full disk)
        )
        assert proc.stdin is not None
        pipe = proc.stdin
        _widen_pipe(pipe)
        reader = ThreadedDecompressor(stream, compression, url=url, limit=limits.stream_bytes)
        try:
            for member in tarsafe.read_members(reader, plan):
                # tar reads only headers written here, from the vetted member: never a byte
                # of the archive's own headers. Member data is copied as it is.
                pipe.write(tarsafe.header_for(member, read_only))
                if member.kind == tarsafe.FILE:
                    if reader.copy_to(pipe, member.size) != member.size:
                        raise ArchiveCorrupt(
                            url=url, detail="the archive is truncated (it ends inside a member)"
                        )
                    pipe.write(bytes(-member.size % tarsafe.BLOCK))
            plan.finish()  # every symlink resolved against the final tree, before publishing
            pipe.write(tarsafe.END_OF_ARCHIVE)
            pipe.close()
            returncode = proc.wait()
        except BrokenPipeError:
            returncode = proc.wait()
            if returncode == 0:  # tar stopped reading early yet succeeded
                raise UnpackFailed(url=url, detail="tar stopped reading before the end") from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            reader.close()
            if not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
        if returncode != 0:
            errors.seek(0)
            message = errors.read(1 << 16).decode("utf-8", "replace")
            raise _tar_failure(returncode, message, url, str(dest))
    with tarsafe.FdTree(root, url) as tree:
        for link in plan.symlinks:
            tree.symlink(link)
    tarsafe.audit_tree(root, url, read_only=read_only)
    os.chmod(root, 0o755)
    return root


def unpack(
    stream: Readable,
    compression: Compression,
    dest: Path,
    *,
    strip: str | None,
    url: str,
    tar: str | None = None,
    read_only: bool = False,
) -> Path:
    """Unpack a runtime archive below ``dest`` (an existing, empty, private directory) with
    ``tar`` (a path from ``system_tar``) or, when None, in Python. Returns the runtime's
    root, ``dest/runtime`` (the archive's top folder, if any, stripped). ``read_only``:
    files 0444/0555 instead of 0644/0755 (the runtime store's)."""
    from pybuildpack.provision.extract import extract_stream, unpack_errors

    if tar is None:
        return extract_stream(stream, compression, dest, strip=strip, url=url, read_only=read_only)
    with unpack_errors(url, str(dest)):
        return _unpack_with_tar(tar, stream, compression, dest, strip, url, read_only)
