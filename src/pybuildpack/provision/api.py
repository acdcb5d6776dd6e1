"""Install an exact CPython into a directory: resolve the archive, fetch, verify, extract,
relocate, verify again, and publish with an atomic rename.

Guarantees:

* ``dest`` either keeps what it had or holds the complete, verified new runtime: the work
  happens in a temporary directory beside it, renamed into place at the end. A killed
  install leaves only that temporary directory, which the next install removes.
* Nothing unverified is installed: the sha256 comes from the download metadata or a
  ``SHA256SUMS`` next to the archive (``allow_unverified`` skips this, loudly).
* Concurrent installs of one archive share one download (a lock in the download cache).
* Installing a runtime that ``dest`` already holds (same version and archive) does nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pybuildpack.catalog import Catalog, load_catalog
from pybuildpack.errors import (
    ChecksumMismatch,
    ChecksumUnavailable,
    DownloadFailed,
    InstallUnverified,
    PythonVersionUnknownPatch,
    UsageError,
)
from pybuildpack.host import host_arch
from pybuildpack.provision import download
from pybuildpack.provision.cache import DownloadCache
from pybuildpack.provision.relocate import fix_shebangs, verify
from pybuildpack.provision.sources import ArchiveSpec, archive_for, parse_sha256sums
from pybuildpack.provision.systar import system_tar, unpack
from pybuildpack.version import Origin, PythonVersion, RequestedVersion

MARKER = ".pybuildpack-runtime.json"
_TEMP_TAG = "pybuildpack-tmp"
_OLD_TAG = "pybuildpack-old"


@dataclass(frozen=True)
class InstallResult:
    version: PythonVersion
    dest: Path
    url: str
    sha256: str
    bytes: int
    seconds: float
    cache_hit: bool  # no download: the archive came from the cache (or dest already had it)
    already_installed: bool = False
    source: str = ""
    warnings: tuple[InstallUnverified, ...] = ()


def install_python(
    version: PythonVersion,
    dest: Path,
    *,
    source: str | None = None,
    mirror: str | None = None,
    cache_dir: Path | None = None,
    stack: str | None = None,
    arch: str | None = None,
    progress: bool | None = None,
    allow_unverified: bool = False,
    downloads: Path | None = None,
    catalog: Catalog | None = None,
    requested: RequestedVersion | None = None,
    unpacker: str | None = None,
) -> InstallResult:
    """Install CPython ``version`` so that ``dest/bin/python3`` is it. See module docstring.

    ``unpacker``: ``auto`` (the system tar when it is GNU tar or bsdtar, else Python),
    ``tar`` or ``python``; default ``PYBUILDPACK_UNPACKER``, else ``auto``."""
    start = time.monotonic()
    tar = system_tar(unpacker)
    catalog = catalog or load_catalog()
    spec = archive_for(
        version,
        catalog=catalog,
        arch=arch or host_arch(),
        stack=stack,
        source=source,
        mirror=mirror,
        downloads=downloads,
    )
    dest = Path(os.path.abspath(dest))
    expected = spec.sha256 or _checksum_from_sums(
        spec, allow_unverified, lambda: _not_found(spec.url, version, requested, catalog)
    )
    warnings = () if expected else (InstallUnverified(url=spec.url),)

    marker = _read_marker(dest)
    if (
        marker.get("version") == str(version)
        and marker.get("sha256" if expected else "url") == (expected or spec.url)
        and (dest / "bin" / "python3").exists()
    ):
        return InstallResult(
            version=version,
            dest=dest,
            url=spec.url,
            sha256=str(marker.get("sha256", "")),
            bytes=0,
            seconds=time.monotonic() - start,
            cache_hit=True,
            already_installed=True,
            source=spec.source,
            warnings=warnings,
        )
    _check_replaceable(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(dest)
    cache = DownloadCache(cache_dir)
    key = expected or hashlib.sha256(spec.url.encode()).hexdigest()
    with cache.lock(key):
        tmp = Path(
            tempfile.mkdtemp(prefix=f".{dest.name}.{_TEMP_TAG}-{os.getpid()}-", dir=dest.parent)
        )
        try:
            cached = cache.get(expected, spec.filename)
            if cached is not None:
                with cached.open("rb") as f:
                    root = unpack(
                        f, spec.compression, tmp, strip=spec.strip, url=str(cached), tar=tar
                    )
                digest, size, hit = expected or "", cached.stat().st_size, True
            else:
                root, digest, size = _download_and_extract(
                    spec, expected, tmp, cache, version, requested, catalog, progress, tar
                )
                hit = False
            fix_shebangs(root)
            verify(root, version)
            fix_shebangs(root)  # pip's scripts, if ensurepip just wrote them
            (root / MARKER).write_text(
                json.dumps({"version": str(version), "sha256": digest, "url": spec.url}) + "\n"
            )
            _publish(root, dest)
            shutil.rmtree(tmp, ignore_errors=True)  # empty, or what was beside the top folder
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return InstallResult(
        version=version,
        dest=dest,
        url=spec.url,
        sha256=digest,
        bytes=size,
        seconds=time.monotonic() - start,
        cache_hit=hit,
        source=spec.source,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- pieces


def _checksum_from_sums(
    spec: ArchiveSpec, allow_unverified: bool, not_found: Callable[[], Exception]
) -> str | None:
    """The archive's sha256 from the SHA256SUMS next to it. When there is none, a missing
    archive is the real problem (a patch the source lacks, a wrong mirror), so that is
    what gets reported, rather than the missing checksum."""
    try:
        text = download.read_small(spec.sums_url).decode("utf-8", "replace")
    except download.NotFound:
        detail = "it does not exist"
    except DownloadFailed as exc:
        detail = exc.detail
    else:
        digest = parse_sha256sums(text).get(spec.filename)
        if digest:
            return digest
        detail = f"it does not list {spec.filename}"
    if allow_unverified:
        return None
    if download.exists(spec.url) is False:
        raise not_found()
    raise ChecksumUnavailable(url=spec.url, sums_url=spec.sums_url, detail=detail)


class _Tee:
    """Reads from ``source``; hashes, counts and copies every byte to ``sink``."""

    def __init__(self, source: download.Readable, sink: IO[bytes], progress: Any) -> None:
        self.source, self.sink, self.progress = source, sink, progress
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self.source.read(n)
        if data:
            self.hash.update(data)
            self.sink.write(data)
            self.count += len(data)
            self.progress(len(data))
        return data

    def drain(self) -> None:
        while self.read(download.CHUNK):
            pass


def _download_and_extract(
    spec: ArchiveSpec,
    expected: str | None,
    tmp: Path,
    cache: DownloadCache,
    version: PythonVersion,
    requested: RequestedVersion | None,
    catalog: Catalog,
    progress: bool | None,
    tar: str | None,
) -> tuple[Path, str, int]:
    attempts = download.retries() + 1
    for attempt in range(attempts):
        if attempt:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            time.sleep(min(0.2 * 2**attempt, 5.0))
        part = cache.new_temp(spec.filename)
        try:
            with (
                download.open_url(spec.url) as opened,
                part.open("wb") as sink,
                _progress_bar(progress, opened.length, spec.filename) as advance,
            ):
                tee = _Tee(opened.stream, sink, advance)
                root = unpack(tee, spec.compression, tmp, strip=spec.strip, url=spec.url, tar=tar)
                tee.drain()
            digest = tee.hash.hexdigest()
            if expected is not None and digest != expected:
                raise ChecksumMismatch(url=spec.url, expected=expected, actual=digest)
            cache.publish(part, digest, spec.filename)
            return root, digest, tee.count
        except download.Transient as exc:
            part.unlink(missing_ok=True)
            if attempt == attempts - 1:
                raise DownloadFailed(url=spec.url, detail=f"{exc} ({attempts} attempts)") from None
        except download.NotFound:
            part.unlink(missing_ok=True)
            raise _not_found(spec.url, version, requested, catalog) from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    raise AssertionError("unreachable")


def _not_found(
    url: str, version: PythonVersion, requested: RequestedVersion | None, catalog: Catalog
) -> Exception:
    info = catalog.get(version.series)
    major_request = (
        requested.patch is None
        if requested is not None
        # Without the request, follow the classic rule: the newest known patch is what a
        # major resolves to, so its absence is a publishing gap, not a wrong pin.
        else (info is not None and version == info.latest)
    )
    if major_request:
        # A major resolved to the catalog's newest patch, which the source lacks.
        return DownloadFailed(
            url=url,
            detail=f"not found (HTTP 404): Python {version} has not been published here for "
            "this platform yet; retry later, or pin another patch",
        )
    request = requested or RequestedVersion(
        version.major, version.minor, version.patch, Origin.PYTHON_VERSION_FILE
    )
    return PythonVersionUnknownPatch(
        requested=request, latest=info.latest if info else None, source_url=url
    )


class _NoBar:
    def __enter__(self) -> Any:
        return lambda n: None

    def __exit__(self, *exc: object) -> None:
        return None


class _RichBar:
    def __init__(self, total: int | None, name: str) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=True,
        )
        self.task = self.progress.add_task(f"Downloading {name}", total=total)

    def __enter__(self) -> Any:
        self.progress.start()
        return lambda n: self.progress.advance(self.task, n)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _progress_bar(progress: bool | None, total: int | None, name: str) -> _NoBar | _RichBar:
    show = sys.stderr.isatty() if progress is None else progress
    if show and not os.environ.get("CI"):
        return _RichBar(total, name)
    return _NoBar()


def _read_marker(dest: Path) -> dict[str, Any]:
    try:
        data = json.loads((dest / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _check_replaceable(dest: Path) -> None:
    """Only an empty directory or a Python runtime may be replaced, never anything else."""
    if not dest.exists() and not dest.is_symlink():
        return
    if dest.is_symlink() or not dest.is_dir():
        raise UsageError(detail=f"{dest} exists and is not a directory; choose another --dest")
    if any(dest.iterdir()) and not (
        (dest / MARKER).exists() or (dest / "bin" / "python3").exists()
    ):
        raise UsageError(
            detail=f"{dest} is not empty and does not hold a Python runtime; refusing to "
            "replace it (choose an empty or new --dest)"
        )


def _publish(tmp: Path, dest: Path) -> None:
    if dest.exists():
        old = Path(
            tempfile.mkdtemp(prefix=f".{dest.name}.{_OLD_TAG}-{os.getpid()}-", dir=dest.parent)
        )
        os.rename(dest, old / "runtime")
        os.rename(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, dest)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(dest: Path) -> list[Path]:
    """Delete temporary directories left beside ``dest`` by installs that were killed."""
    removed: list[Path] = []
    if not dest.parent.is_dir():
        return removed
    for tag in (_TEMP_TAG, _OLD_TAG):
        for p in dest.parent.glob(f".{dest.name}.{tag}-*"):
            try:
                pid = int(p.name[len(f".{dest.name}.{tag}-") :].split("-", 1)[0])
            except ValueError:
                continue
            if pid != os.getpid() and not _alive(pid):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed
