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
import stat
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from urllib.parse import urlparse

from pybuildpack.catalog import Catalog
from pybuildpack.errors import (
    ArchiveCorrupt,
    ArchiveTooLarge,
    ChecksumMismatch,
    ChecksumUnavailable,
    DestinationUnusable,
    DownloadCacheUnusable,
    DownloadFailed,
    InsecureChecksum,
    InstallUnverified,
    PythonVersionUnknownPatch,
    UnpackFailed,
    UnsafeArchive,
    UsageError,
)
from pybuildpack.host import host_arch, process_alive
from pybuildpack.provision import atomic, download
from pybuildpack.provision.cache import DownloadCache, cache_errors, os_errors
from pybuildpack.provision.installed import (
    MARKER,
    InstallResult,
    Plan,
    already_installed,
    plan_install,
    read_marker,
)
from pybuildpack.provision.sources import ArchiveSpec, parse_sha256sums
from pybuildpack.provision.store import Damaged, Store
from pybuildpack.version import Origin, PythonVersion, RequestedVersion

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import IO, Any

_TEMP_TAG = "pybuildpack-tmp"
_OLD_TAG = "pybuildpack-old"
# What ``fetch`` returns: the runtime's root, the archive's sha256, bytes downloaded,
# whether the download cache had it, and (for a store entry) the manifest entries.
Fetched = tuple[Path, str, int, bool, "list[list[Any]] | None"]


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
    allow_insecure_http: bool = False,
    plan: Plan | None = None,
) -> InstallResult:
    """Install CPython ``version`` so that ``dest/bin/python3`` is it. See module docstring.

    ``plan``: what ``plan_install`` made of the same version, destination and options (the
    CLI makes one first, to tell a no-op apart without importing this module), so the
    settings and the archive are not looked up twice; the options it covers are then not
    read.

    ``unpacker``: ``auto`` or ``python`` (pybuildpack writes the files), or ``tar`` (the
    system tar, GNU tar or bsdtar, writes them from a stream pybuildpack vetted); default
    ``PYBUILDPACK_UNPACKER``, else ``auto``. ``auto`` is Python: on the benchmark it takes
    less CPU and time than the system tar (no second process, no copy through a pipe).

    ``allow_insecure_http`` (or ``PYBUILDPACK_ALLOW_INSECURE_HTTP=1``): accept plain-http
    URLs; the sha256 must then be pinned in the download metadata."""
    start = time.monotonic()
    plan = plan or plan_install(
        version,
        dest,
        source=source,
        mirror=mirror,
        stack=stack,
        arch=arch or host_arch(),
        downloads=downloads,
        catalog=catalog,
        unpacker=unpacker,
        allow_insecure_http=allow_insecure_http,
    )
    spec, dest, unpacker, allow_http, catalog = (
        plan.spec, plan.dest, plan.unpacker, plan.allow_http, plan.catalog
    )  # fmt: skip
    not_found = lambda: _not_found(spec.url, version, requested, catalog)  # noqa: E731
    _check_transport(spec, allow_http, allow_unverified, not_found)
    expected = spec.sha256 or _checksum_from_sums(spec, allow_unverified, not_found, allow_http)
    warnings = () if expected else (InstallUnverified(url=spec.url),)

    done = already_installed(plan, version, expected, warnings, start)
    if done is not None:
        return done
    # Imported where they are used, not at the top: a no-op install needs none of the
    # unpacking code, and an install from the runtime store none of the checking code.
    if unpacker == "tar":
        from pybuildpack.provision.systar import system_tar

        tar = system_tar("tar")
    else:
        tar = None
    check_replaceable(dest)
    with destination_errors(dest.parent):
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(dest)
    cache = DownloadCache(cache_dir)
    key = expected or hashlib.sha256(spec.url.encode()).hexdigest()
    with cache.lock(key, f"{spec.filename} into {dest}"):
        with destination_errors(dest.parent):
            tmp = Path(
                tempfile.mkdtemp(prefix=f".{dest.name}.{_TEMP_TAG}-{os.getpid()}-", dir=dest.parent)
            )
        try:

            def fetch(into: Path, read_only: bool = False, link_to: Path | None = None) -> Fetched:
                """Unpack the archive into ``into/runtime`` (from the download cache, else
                downloading it), verified; then relocate it and prove it runs.
                ``read_only``: a runtime store entry: files without write bits, surveyed
                for its manifest and hard-linked to ``link_to`` (if given) while the
                interpreter proves itself; nothing is published unless it does."""
                from pybuildpack.provision.relocate import finish_check, fix_shebangs, start_check
                from pybuildpack.provision.tarsafe import audit_tree

                found = _from_cache(cache, spec, expected, into, tar, read_only)
                if found is not None:
                    root, digest, size, hit = *found, True
                else:
                    root, digest, size = _download_and_extract(
                        spec, expected, into, cache, key, version, requested, catalog, progress,
                        tar, allow_http, read_only,
                    )  # fmt: skip
                    hit = False
                # Nothing of the archive is published before this point: the digest matched.
                fix_shebangs(root)
                check = start_check(root, version)  # writes nothing into the tree
                entries = None
                try:
                    if read_only:
                        entries = _survey_and_link(root, into, link_to)
                except BaseException:
                    check.kill()
                    raise
                if finish_check(check):  # pip was bootstrapped: the tree changed
                    fix_shebangs(root)  # pip's scripts
                    entries = None
                if _restrictive_umask():  # files written after unpacking (pip)
                    audit_tree(root, spec.url, read_only=read_only)
                if read_only and entries is None:
                    if link_to is not None:
                        shutil.rmtree(link_to, ignore_errors=True)
                    entries = _survey_and_link(root, into, link_to)
                return root, digest, size, hit, entries

            def _survey_and_link(root: Path, into: Path, link_to: Path | None) -> list[list[Any]]:
                from pybuildpack.provision.store import survey

                with cache_errors(into):
                    entries = survey(root)
                if link_to is not None:
                    try:
                        with destination_errors(link_to.parent):
                            Store(cache.root).link_into(
                                key, {"entries": entries}, link_to, fresh=True, source=root
                            )
                    except Damaged as exc:  # a tree just surveyed that is not one: say so
                        raise DownloadCacheUnusable(path=str(into), detail=str(exc)) from None
                return entries

            stored = _via_store(cache, spec, expected, version, tmp, fetch) if expected else None
            if stored is not None:
                root, digest, size, hit = stored
            else:
                root, digest, size, hit, _ = fetch(tmp)
            marker_path = root / MARKER
            marker_path.write_text(
                json.dumps({"version": str(version), "sha256": digest, "url": spec.url}) + "\n"
            )
            os.chmod(marker_path, 0o644)
            with destination_errors(dest):
                check_replaceable(dest)  # again: it may have changed while we worked
                publish(root, dest)
            shutil.rmtree(tmp, ignore_errors=True)  # what is left: an older runtime, if any
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


def _check_transport(
    spec: ArchiveSpec, allow_http: bool, allow_unverified: bool, not_found: Callable[[], Exception]
) -> None:
    """Plain http only when allowed, and then only with a digest pinned in the metadata:
    a SHA256SUMS from the same unauthenticated server proves nothing."""
    download.check_transport(spec.url, allow_http)
    if urlparse(spec.url).scheme == "http" and spec.sha256 is None and not allow_unverified:
        if download.exists(spec.url, allow_http=allow_http) is False:
            raise not_found()
        raise InsecureChecksum(url=spec.url)


def _checksum_from_sums(
    spec: ArchiveSpec,
    allow_unverified: bool,
    not_found: Callable[[], Exception],
    allow_http: bool = False,
) -> str | None:
    """The archive's sha256 from the SHA256SUMS next to it. When there is none, a missing
    archive is the real problem (a patch the source lacks, a wrong mirror), so that is
    what gets reported, rather than the missing checksum."""
    if urlparse(spec.sums_url).scheme == "http":
        if allow_unverified:
            return None
        raise InsecureChecksum(url=spec.url)
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
    """Reads from ``source``; hashes, counts and copies every byte to ``sink`` (if any)."""

    def __init__(self, source: download.Readable, sink: IO[bytes] | None, progress: Any) -> None:
        self.source, self.sink, self.progress = source, sink, progress
        self.hash = hashlib.sha256()
        self.count = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self.source.read(n)
        if data:
            self.hash.update(data)
            if self.sink is not None:
                self.sink.write(data)
            self.count += len(data)
            self.progress(len(data))
        return data

    def drain(self) -> None:
        while self.read(download.CHUNK):
            pass


def _from_cache(
    cache: DownloadCache,
    spec: ArchiveSpec,
    expected: str | None,
    tmp: Path,
    tar: str | None,
    read_only: bool = False,
) -> tuple[Path, str, int] | None:
    """Unpack the cached archive, verifying it on the way. None when there is none, or
    when it does not match its digest: then it is dropped (and fetched again) and the
    staging emptied. A verified archive that is refused is reported as it is."""
    cached = cache.get(expected, spec.filename)
    if cached is None or expected is None:
        return None
    refusal: Exception | None = None
    try:
        with cache_errors(cached), cached.open("rb") as f:
            tee = _Tee(f, None, lambda n: None)
            try:
                root = _unpack(tee, spec, tmp, tar, read_only)
            except (ArchiveCorrupt, UnsafeArchive, ArchiveTooLarge, UnpackFailed) as exc:
                refusal = exc
            tee.drain()
    except DownloadCacheUnusable:  # unreadable: download afresh
        _empty(tmp)
        return None
    if tee.hash.hexdigest() != expected:
        cache.drop(cached)
        _empty(tmp)
        return None
    if refusal is not None:
        raise refusal
    return root, expected, tee.count


def _via_store(
    cache: DownloadCache,
    spec: ArchiveSpec,
    expected: str,
    version: PythonVersion,
    tmp: Path,
    fetch: Callable[[Path, bool, Path], Fetched],
) -> tuple[Path, str, int, bool] | None:
    """The runtime at ``tmp/runtime``, linked from the runtime store (see ``store``): from
    its entry for ``expected`` when there is a sound one, else from a new entry made by
    ``fetch``. A damaged entry is dropped and made again. None when the store cannot be
    used (e.g. a read-only cache): the caller then unpacks straight into ``tmp``."""
    store = Store(cache.root)
    for attempt in range(2):
        try:
            manifest = store.manifest(expected)
        except Damaged:
            manifest = None
            with cache_errors(store.root):
                store.drop(expected)
        except OSError:
            return None
        size, hit = 0, True
        root = tmp / "runtime"
        if manifest is None:
            try:
                staging = store.new_staging()
            except OSError:
                return None
            try:
                # Unpacked read-only, and linked into ``root`` from the staging while the
                # interpreter proves itself: those links are the entry's files once sealed.
                _, _, size, hit, entries = fetch(staging, True, root)
                with cache_errors(store.root):
                    store.seal(
                        staging, expected, {"version": str(version), "url": spec.url}, entries
                    )
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            return root, expected, size, hit
        try:
            with destination_errors(tmp):
                store.link_into(expected, manifest, root)
        except Damaged as exc:
            _empty(tmp)
            with cache_errors(store.root):
                store.drop(expected)
            if attempt:  # just made, and already damaged: something else writes there
                raise DownloadCacheUnusable(path=str(store.root), detail=str(exc)) from None
            continue
        return root, expected, size, hit
    raise AssertionError("unreachable")


def _unpack(stream: _Tee, spec: ArchiveSpec, tmp: Path, tar: str | None, read_only: bool) -> Path:
    """``systar.unpack`` of ``spec``'s archive from ``stream`` into ``tmp``."""
    from pybuildpack.provision.systar import unpack

    return unpack(
        stream, spec.compression, tmp, strip=spec.strip, url=spec.url, tar=tar,
        read_only=read_only,
    )  # fmt: skip


def _empty(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)


def _download_and_extract(
    spec: ArchiveSpec,
    expected: str | None,
    tmp: Path,
    cache: DownloadCache,
    key: str,
    version: PythonVersion,
    requested: RequestedVersion | None,
    catalog: Catalog,
    progress: bool | None,
    tar: str | None,
    allow_http: bool,
    read_only: bool = False,
) -> tuple[Path, str, int]:
    attempts = download.retries() + 1
    for attempt in range(attempts):
        if attempt:
            _empty(tmp)
            time.sleep(min(0.2 * 2**attempt, 5.0))
        part = cache.new_temp(key, spec.filename)
        try:
            with (
                download.open_url(spec.url, allow_http=allow_http) as opened,
                cache_errors(part),
                part.open("wb") as sink,
                _progress_bar(progress, opened.length, spec.filename) as advance,
            ):
                tee = _Tee(opened.stream, sink, advance)
                try:
                    root = _unpack(tee, spec, tmp, tar, read_only)
                except (ArchiveCorrupt, UnsafeArchive, ArchiveTooLarge, UnpackFailed) as exc:
                    # A verified archive's refusal is reported as it is; an unverified one
                    # that fails its digest is a checksum mismatch (a damaged download).
                    refusal: Exception | None = exc
                else:
                    refusal = None
                if not isinstance(refusal, ArchiveTooLarge):
                    tee.drain()
            digest = tee.hash.hexdigest()
            if isinstance(refusal, ArchiveTooLarge):
                raise refusal
            if expected is not None and digest != expected:
                raise ChecksumMismatch(url=spec.url, expected=expected, actual=digest)
            if refusal is not None:
                raise refusal
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


class _TextBar:
    """Plain progress lines on stderr (without ``rich``): at most one every 2 seconds."""

    def __init__(self, total: int | None, name: str) -> None:
        self.total, self.name, self.done = total, name, 0
        self.shown = time.monotonic()

    def _advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.shown >= 2.0:
            self.shown = now
            share = f" ({100 * self.done // self.total}%)" if self.total else ""
            print(f"Downloading {self.name}: {self.done / 1e6:.1f} MB{share}", file=sys.stderr)

    def __enter__(self) -> Any:
        return self._advance

    def __exit__(self, *exc: object) -> None:
        return None


def _progress_bar(
    progress: bool | None, total: int | None, name: str
) -> _NoBar | _RichBar | _TextBar:
    show = sys.stderr.isatty() if progress is None else progress
    if not show or os.environ.get("CI"):
        return _NoBar()
    try:
        return _RichBar(total, name)
    except ImportError:
        return _TextBar(total, name)


def check_replaceable(dest: Path) -> None:
    """Only a missing or empty folder, or one marked as a pybuildpack runtime, may be
    replaced: never a virtualenv, a prefix, or a runtime someone else installed."""
    try:
        st = dest.lstat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DestinationUnusable(path=str(dest), detail=exc.strerror or str(exc)) from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(detail=f"{dest} exists and is not a directory; choose another --dest")
    try:
        empty = not any(dest.iterdir())
    except OSError as exc:
        raise DestinationUnusable(path=str(dest), detail=exc.strerror or str(exc)) from None
    if not empty and not read_marker(dest):
        raise UsageError(
            detail=f"{dest} is not empty and is not a runtime installed by pybuildpack (no "
            f"{MARKER}); refusing to replace it (choose an empty or new --dest)"
        )


def destination_errors(path: Path) -> AbstractContextManager[None]:
    """OSErrors at the destination as typed errors."""
    return os_errors(path, DestinationUnusable)


def _restrictive_umask() -> bool:
    mask = os.umask(0o022)
    os.umask(mask)
    return bool(mask & 0o055)


def publish(new: Path, dest: Path) -> None:
    """Move the runtime ``new`` to ``dest`` in one atomic step: a rename that never
    replaces, or (when ``dest`` exists) an exchange of the two, after which ``new`` holds
    the old runtime. A kill at any instant leaves ``dest`` with the old or the new runtime.
    Without ``renameat2`` (old kernels, some file systems), two renames; the next install
    puts the old runtime back if a kill fell between them (``remove_stale_temps``)."""
    if not dest.exists() and not dest.is_symlink():
        try:
            if atomic.rename_noreplace(new, dest):
                return
        except FileExistsError:
            pass
        else:  # no renameat2
            with suppress(FileNotFoundError):
                os.rmdir(dest)  # nothing, or an empty folder: rename cannot lose anything
            os.rename(new, dest)
            return
    if atomic.exchange(new, dest):
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{_OLD_TAG}-{os.getpid()}-", dir=dest.parent))
    os.rename(dest, old / "runtime")
    os.rename(new, dest)
    shutil.rmtree(old, ignore_errors=True)


def remove_stale_temps(dest: Path) -> list[Path]:
    """Delete staging folders left beside ``dest`` by installs that were killed; if one
    was killed between the two renames of the fallback publish, put its old runtime back."""
    removed: list[Path] = []
    if not dest.parent.is_dir():
        return removed
    for tag in (_TEMP_TAG, _OLD_TAG):
        for p in dest.parent.glob(f".{dest.name}.{tag}-*"):
            try:
                pid = int(p.name[len(f".{dest.name}.{tag}-") :].split("-", 1)[0])
            except ValueError:
                continue
            if pid == os.getpid() or process_alive(pid):
                continue
            if tag == _OLD_TAG and not dest.exists() and read_marker(p / "runtime"):
                os.rename(p / "runtime", dest)
            for _ in range(20):  # a tar the killed install started may still be finishing
                shutil.rmtree(p, ignore_errors=True)
                if not p.exists():
                    break
                time.sleep(0.05)
            removed.append(p)
    return removed
