"""The shared download cache: archives kept by sha256, guarded by a cross-process lock.

Layout: ``<root>/<sha256>-<file name>``; ``<root>/locks/<key>.lock`` (and ``.owner``: who
holds it, for the message when a wait times out). A file is only ever published by an
atomic rename after its sha256 was verified, and it is verified again each time it is
used (``api``): a damaged or swapped entry is dropped and fetched again. Partial downloads
(``.<key>.<file name>.<random>.part``) are only written under the key's lock, so any found
while holding it were left by a killed run and are removed; any older than a day are
removed whatever their key.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pybuildpack.errors import DestinationUnusable, DiskFull, DownloadCacheUnusable, LockTimeout
from pybuildpack.provision import settings

CACHE_ENV = "PYBUILDPACK_CACHE_DIR"
_STALE_PART_SECONDS = 24 * 3600


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("pybuildpack")) / "downloads"


@contextlib.contextmanager
def os_errors(
    path: Path, unusable: type[DownloadCacheUnusable] | type[DestinationUnusable]
) -> Iterator[None]:
    """OSErrors while working on ``path`` as typed errors: a full disk, else ``unusable``."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFull(path=str(path)) from None
        raise unusable(path=str(path), detail=exc.strerror or str(exc)) from None


def cache_errors(path: Path) -> contextlib.AbstractContextManager[None]:
    """OSErrors in the cache as typed errors."""
    return os_errors(path, DownloadCacheUnusable)


class DownloadCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_dir()

    def path_for(self, sha256: str, filename: str) -> Path:
        return self.root / f"{sha256}-{filename}"

    def get(self, sha256: str | None, filename: str) -> Path | None:
        if sha256 is None:
            return None
        path = self.path_for(sha256, filename)
        return path if path.is_file() and not path.is_symlink() else None

    def drop(self, path: Path) -> None:
        with cache_errors(path):
            path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self, key: str, what: str = "") -> Iterator[None]:
        """Hold the key's lock (waiting at most ``PYBUILDPACK_LOCK_TIMEOUT`` seconds): an
        exclusive ``flock`` on ``locks/<key>.lock``, which the kernel releases when the
        holder's descriptor closes, or when the holder dies. ``flock`` locks belong to an
        open file, so two opens conflict even within one process."""
        locks = self.root / "locks"
        path = locks / f"{key}.lock"
        owner = locks / f"{key}.owner"
        timeout = settings.lock_timeout()
        with cache_errors(locks):
            locks.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            with cache_errors(locks):
                if not _acquire(fd, timeout):
                    raise LockTimeout(lock=str(path), seconds=timeout, holder=_holder(owner))
        except BaseException:
            os.close(fd)
            raise
        try:
            with contextlib.suppress(OSError):
                owner.write_text(
                    json.dumps(
                        {
                            "pid": os.getpid(),
                            "host": os.uname().nodename,  # gethostname(), without socket
                            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            "what": what,
                        }
                    )
                )
            with cache_errors(self.root):
                self._remove_partials(key)
            yield
        finally:
            with contextlib.suppress(OSError):
                owner.unlink()
            os.close(fd)  # releases the lock

    def _remove_partials(self, key: str) -> list[Path]:
        removed = []
        now = time.time()
        for p in self.root.glob(".*.part"):
            try:
                stale = p.name.startswith(f".{key}.") or now - p.stat().st_mtime > (
                    _STALE_PART_SECONDS
                )
            except FileNotFoundError:
                continue
            if stale:
                p.unlink(missing_ok=True)
                removed.append(p)
        return removed

    def new_temp(self, key: str, filename: str) -> Path:
        with cache_errors(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{key}.{filename}.", suffix=".part", dir=self.root)
            os.close(fd)
        return Path(name)

    def publish(self, temp: Path, sha256: str, filename: str) -> Path:
        final = self.path_for(sha256, filename)
        with cache_errors(self.root):
            os.chmod(temp, 0o644)
            os.replace(temp, final)
        return final

    def clear(self) -> int:
        """Remove every cached archive; returns how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for p in self.root.iterdir():
            if p.is_file():
                p.unlink(missing_ok=True)
                removed += 1
        return removed


def _acquire(fd: int, timeout: float) -> bool:
    """Take an exclusive ``flock`` on ``fd``, polling (5 ms, growing to 50 ms) for at most
    ``timeout`` seconds. False when it is still held by another at the deadline."""
    import fcntl

    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)


def _holder(owner: Path) -> str:
    try:
        info = json.loads(owner.read_text())
        return (
            f"process {info['pid']} on {info['host']} (since {info['since']}"
            + (f", installing {info['what']}" if info.get("what") else "")
            + ")"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (unknown)"
