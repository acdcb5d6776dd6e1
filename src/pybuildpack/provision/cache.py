"""The shared download cache: archives kept by sha256, guarded by a cross-process lock.

Layout: ``<root>/<sha256>-<file name>``; ``<root>/locks/<key>.lock``. A file is only ever
published by an atomic rename after its sha256 was verified, so a reader never sees a
partial or unverified archive; concurrent installs of one archive wait on the lock and then
find it in the cache (one download).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import filelock

CACHE_ENV = "PYBUILDPACK_CACHE_DIR"


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("pybuildpack")) / "downloads"


class DownloadCache:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache_dir()

    def path_for(self, sha256: str, filename: str) -> Path:
        return self.root / f"{sha256}-{filename}"

    def get(self, sha256: str | None, filename: str) -> Path | None:
        if sha256 is None:
            return None
        path = self.path_for(sha256, filename)
        return path if path.is_file() else None

    def lock(self, key: str) -> filelock.FileLock:
        import filelock  # here: a no-op install never takes the lock, nor pays the import

        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        return filelock.FileLock(str(locks / f"{key}.lock"))

    def new_temp(self, filename: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=self.root)
        os.close(fd)
        return Path(name)

    def publish(self, temp: Path, sha256: str, filename: str) -> Path:
        final = self.path_for(sha256, filename)
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
