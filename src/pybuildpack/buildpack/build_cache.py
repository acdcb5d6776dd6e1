"""The classic (cedar) build cache: what is kept between builds, when it is reused, and why not.

Layout inside ``CACHE_DIR``::

    .heroku/pybuildpack/current -> gen-<id>   the last successful build (atomic symlink swap)
    .heroku/pybuildpack/gen-<id>/state.json   CacheState: the keys below
    .heroku/pybuildpack/gen-<id>/runtime/     the runtime exactly as installed (pristine)
    .heroku/pybuildpack/gen-<id>/python/      runtime + tools + dependencies, as built
    .heroku/pybuildpack/pip-cache/            pip's HTTP and wheel cache (content-addressed)
    .heroku/pybuildpack/tools/<name>/         package-manager venvs (uv, Poetry, Pipenv)
    .heroku/python-version, .heroku/python-stack
                                              written for compatibility: the classic Heroku
                                              buildpack reads (and writes) these, so moving
                                              either way keeps the sticky version
    build-data/python.json                    the build report (``build_data``)

Reuse is decided in two tiers, and every reason that applies is reported:

* the runtime (``runtime/``) is reused when the resolved version, stack and arch match;
* the dependencies (``python/``) are reused when, in addition, the package manager and
  its version, the dependency files' hash and the install path match. When only these
  differ, the runtime is still reused and the dependencies are installed from scratch.

Generations are written next to the current one and published with one ``rename`` of a
symlink, after the build succeeded: a failed or interrupted build leaves the previous
cache exactly as it was.

No build tree ever shares a file (an inode) with the cache, so nothing a build or a later
buildpack does to its files in place (``>>``, ``cp`` onto a file, ``chmod``, a tool that
rewrites a file) can reach the cache:

* restoring *copies* the cache into the build directory (a reflink where the file system
  has them, else an in-kernel copy), and remembers each copy's stamp (inode, size, mtime,
  ctime, mode) right after it was made;
* a runtime just installed is copied into the cache (``.pristine-<pid>``) before anything
  that writes runs in it (meanwhile only uv's interpreter query runs it: isolated, no
  bytecode);
* saving *hard-links* a build file to the cache file it was copied from when its stamp is
  unchanged (the ctime moves on every write, ``chmod`` or ``utime``, and no one can set
  it back), and copies every other file. The cache's own files are linked only to each
  other, never to a tree that anyone writes.

Every build holds an exclusive lock on the cache (``.lock``; released by the kernel when
the process dies), and removes the leftovers of killed builds before it starts.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from pybuildpack._record import asdict, dataclass, field, fields, replace
from pybuildpack.errors import BuildCacheUnusable
from pybuildpack.provision import filecopy
from pybuildpack.version import PythonVersion

# 2: build trees are copies (schema 1 caches shared their files with old build trees)
SCHEMA = 2
ROOT = Path(".heroku") / "pybuildpack"
LEGACY_VERSION = Path(".heroku") / "python-version"
LEGACY_STACK = Path(".heroku") / "python-stack"
BUILD_DATA = Path("build-data")


@dataclass(frozen=True)
class CacheState:
    """What a build's cached output depends on. Any change discards (part of) it."""

    python_version: str
    stack: str
    arch: str
    package_manager: str | None = None
    package_manager_version: str | None = None
    dependencies_hash: str | None = None
    python_home: str | None = None  # console scripts name this path in their first line
    schema: int = SCHEMA
    pybuildpack_version: str | None = None
    saved_at: float | None = None
    # pip: requirements.txt + PIP_* settings (deps.pip_install_fingerprint); None: unknown
    install_fingerprint: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> CacheState | None:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            return None
        names = {f.name for f in fields(cls)}
        try:
            state = cls(**{k: v for k, v in data.items() if k in names})
            PythonVersion.parse(state.python_version)
        except (TypeError, ValueError):
            return None
        return state


@dataclass(frozen=True)
class Decision:
    """The outcome of comparing the cached state with this build's keys."""

    reuse_runtime: bool
    reuse_dependencies: bool
    runtime_reasons: tuple[str, ...]
    dependency_reasons: tuple[str, ...]

    @property
    def status(self) -> str:
        if self.reuse_dependencies:
            return "reused"
        if self.reuse_runtime:
            return "runtime-reused"
        return "discarded" if self.runtime_reasons else "empty"


def runtime_reasons(old: CacheState, new: CacheState) -> list[str]:
    reasons = []
    if old.stack != new.stack:
        reasons.append(f"The stack has changed from {old.stack} to {new.stack}")
    if old.arch != new.arch:
        reasons.append(f"The CPU architecture has changed from {old.arch} to {new.arch}")
    if old.python_version != new.python_version:
        reasons.append(
            f"The Python version has changed from {old.python_version} to {new.python_version}"
        )
    return reasons


def dependency_reasons(old: CacheState, new: CacheState) -> list[str]:
    reasons = []
    if old.package_manager != new.package_manager:
        reasons.append(
            f"The package manager has changed from {old.package_manager} to {new.package_manager}"
        )
    elif old.package_manager_version != new.package_manager_version:
        reasons.append(
            f"The {new.package_manager} version has changed from "
            f"{old.package_manager_version} to {new.package_manager_version}"
        )
    if (
        old.package_manager == new.package_manager
        and old.dependencies_hash != new.dependencies_hash
    ):
        reasons.append("The dependency files have changed")
    if old.python_home != new.python_home:
        reasons.append(
            f"The Python install path has changed from {old.python_home} to {new.python_home}"
        )
    return reasons


def decide(old: CacheState | None, new: CacheState) -> Decision:
    if old is None:
        return Decision(False, False, (), ())
    rt = runtime_reasons(old, new)
    if rt:
        return Decision(False, False, tuple(rt), ())
    deps = dependency_reasons(old, new)
    return Decision(True, not deps, (), tuple(deps))


class BuildCache:
    def __init__(self, cache_dir: Path) -> None:
        self.dir = cache_dir
        self.root = cache_dir / ROOT

    # ------------------------------------------------------------------ reading

    @property
    def current(self) -> Path | None:
        link = self.root / "current"
        if not link.is_symlink() and not link.is_dir():
            return None
        target = link.resolve()
        return target if (target / "state.json").is_file() else None

    @property
    def pip_cache(self) -> Path:
        return self.root / "pip-cache"

    @property
    def tools(self) -> Path:
        return self.root / "tools"

    def state(self) -> CacheState | None:
        gen = self.current
        if gen is None:
            return None
        try:
            return CacheState.from_json(json.loads((gen / "state.json").read_text("utf-8")))
        except (OSError, ValueError):
            return None

    def sticky_version(self) -> PythonVersion | None:
        """The version of the last successful build (ours, else the classic buildpack's)."""
        state = self.state()
        if state is not None:
            return PythonVersion.parse(state.python_version)
        try:
            text = (self.dir / LEGACY_VERSION).read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        try:
            return PythonVersion.parse(text.removeprefix("python-"))
        except ValueError:
            return None  # "python-3.12", garbage or pypy: ignored, the default applies

    def runtime_tree(self) -> Path | None:
        gen = self.current
        return gen / "runtime" if gen is not None and (gen / "runtime").is_dir() else None

    def python_tree(self) -> Path | None:
        gen = self.current
        return gen / "python" if gen is not None and (gen / "python").is_dir() else None

    # ------------------------------------------------------------------ writing

    def save(
        self,
        state: CacheState,
        runtime: Path,
        python: Path,
        snapshot: Snapshot | None,
        *,
        move_runtime: bool = False,
    ) -> Path:
        """Publish a new generation atomically; return it. Old generations are removed.

        ``runtime`` is a tree the cache owns (the current generation's, or the pristine
        copy of a runtime just installed, moved when ``move_runtime``); ``python`` is the
        build tree, of which only unchanged files (``snapshot``) are linked to the cache
        files they were copied from: every other file is copied.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        gen = self.root / f"gen-{time.time_ns():x}-{os.getpid()}"
        staging = gen.with_name(f".staging-{gen.name}")
        try:
            staging.mkdir()
            if move_runtime:
                os.rename(runtime, staging / "runtime")
                if snapshot is not None and snapshot.origin == runtime:
                    # the build's unchanged files link to the moved copy
                    snapshot = replace(snapshot, origin=staging / "runtime")
            else:
                link_tree(runtime, staging / "runtime")
            save_tree(python, staging / "python", snapshot)
            (staging / "state.json").write_text(
                json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n", "utf-8"
            )
            os.rename(staging, gen)
            tmp_link = self.root / f".current-{os.getpid()}"
            if tmp_link.is_symlink():
                tmp_link.unlink()
            os.symlink(gen.name, tmp_link)
            os.replace(tmp_link, self.root / "current")  # the one atomic step
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        for legacy, text in (
            (LEGACY_VERSION, f"python-{state.python_version}\n"),
            (LEGACY_STACK, f"{state.stack}\n"),
        ):
            _write_atomic(self.dir / legacy, text)
        self.prune(keep=gen)
        return gen

    def prune(self, keep: Path | None = None) -> None:
        """Remove generations other than ``keep`` and what killed builds left behind.

        Only called with the cache lock held: nothing else is using these."""
        if not self.root.is_dir():
            return
        current = self.current
        for child in self.root.iterdir():
            name = child.name
            if name.startswith("gen-"):
                if child == keep or (keep is None and child == current):
                    continue
            elif not name.startswith(LEFTOVER_PREFIXES):
                continue
            _remove(child)
        if self.tools.is_dir():  # half-made tool venvs (deps.ensure_tool)
            for child in self.tools.iterdir():
                if child.name.startswith(".tmp-"):
                    _remove(child)
        for legacy in (LEGACY_VERSION, LEGACY_STACK):
            for tmp in (self.dir / legacy).parent.glob(f".{legacy.name}.tmp-*"):
                _remove(tmp)

    @contextmanager
    def locked(self, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the cache's lock: one build at a time per cache; killed builds release it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.root / ".lock", on_wait=on_wait):
            yield

    def clear(self) -> list[str]:
        """Drop everything pybuildpack keeps here, sticky version included. Returns what went."""
        if not self.dir.is_dir():
            raise BuildCacheUnusable(
                path=str(self.dir), detail="does not exist or is not a directory"
            )
        removed = []
        for rel in (
            ROOT,
            LEGACY_VERSION,
            LEGACY_STACK,
            Path(".heroku") / "python",  # the classic buildpack's copy, if it built here
            Path(".heroku") / "requirements.txt",
            BUILD_DATA / "python.json",
            BUILD_DATA / "python-prev.json",
        ):
            p = self.dir / rel
            if p.is_symlink() or p.is_file():
                p.unlink()
            elif p.is_dir():
                shutil.rmtree(p)
            else:
                continue
            removed.append(str(rel))
        return removed

    def info(self) -> dict[str, Any]:
        state = self.state()
        sticky = self.sticky_version()
        gen = self.current

        def size(p: Path) -> int:
            total = 0
            seen: set[int] = set()
            for d, _, files in os.walk(p):
                for f in files:
                    try:
                        st = os.lstat(os.path.join(d, f))
                    except OSError:
                        continue
                    if st.st_ino not in seen:
                        seen.add(st.st_ino)
                        total += st.st_size
            return total

        return {
            "cache_dir": str(self.dir),
            "state": state.to_json() if state else None,
            "sticky_version": str(sticky) if sticky else None,
            "sticky_major": str(sticky.series) if sticky else None,
            "generation": gen.name if gen else None,
            "bytes": {
                "generation": size(gen) if gen else 0,
                "pip_cache": size(self.pip_cache) if self.pip_cache.is_dir() else 0,
                "tools": size(self.tools) if self.tools.is_dir() else 0,
            },
        }


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


LEFTOVER_PREFIXES = (".staging-", ".current-", ".pristine-", ".tmp-")


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def exclusive_lock(
    path: Path,
    *,
    on_wait: Callable[[], None] | None = None,
    timeout: float | None = None,
    poll: float = 0.1,
) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block.

    ``on_wait`` is called once if another process holds it. The kernel drops the lock when
    its holder dies, so a killed build never leaves a stale lock. Raises ``TimeoutError``
    after ``timeout`` seconds of waiting (``None``: wait as long as it takes)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise TimeoutError(f"{path} is still locked") from None
                    time.sleep(poll)
        yield
    finally:
        os.close(fd)  # releases the lock


# ------------------------------------------------------------------ copying trees

# (inode, size, mtime, ctime, mode) of a file: any write, chmod, utime or replacement
# changes it, and the ctime cannot be set back by anyone.
Stamp = tuple[int, int, int, int, int]


def _stamp(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


@dataclass
class Snapshot:
    """Which files of a build tree still equal which files of a tree the cache owns.

    ``stamps`` maps a path relative to both trees to the build file's stamp taken right
    after the copy; ``origin`` is the cache-owned tree."""

    origin: Path
    stamps: dict[str, Stamp]
    others: dict[str, str] = field(default_factory=dict)  # directories and symlinks


class _Copier(filecopy.Copier):
    """Copies files: their data with ``filecopy`` (reflink, ``copy_file_range``, read and
    write), their mode and times."""

    def file(self, src: str, dst: str) -> tuple[os.stat_result, os.stat_result]:
        """Copy a regular file to a new file ``dst`` (mode and times kept); return the
        stats of both, the copy's taken after its last change."""
        sfd = os.open(src, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            sst = os.fstat(sfd)
            dfd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                self.data(sfd, dfd, sst.st_size)
                os.fchmod(dfd, stat.S_IMODE(sst.st_mode))
                os.utime(dfd, ns=(sst.st_atime_ns, sst.st_mtime_ns))
                dst_st = os.fstat(dfd)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
        return sst, dst_st


def _scan(root: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(path relative to ``root``, entry) of everything below ``root``, a folder before what
    it holds; symlinks are never followed. A folder that cannot be read is passed over, as
    ``os.walk`` does. ``os.scandir`` and plain string paths: a quarter less time than
    ``os.walk`` with ``os.path.join``/``relpath`` on the 14,000 entries of a runtime with
    its dependencies."""
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            rel = prefix + entry.name
            yield rel, entry
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, rel + "/"))


def _walk(
    src: Path,
    dst: Path,
    on_file: Callable[[str, str, str, os.DirEntry[str]], None],
    others: dict[str, str] | None = None,
) -> None:
    """Recreate ``src``'s directories and symlinks at ``dst`` (which must not exist) and call
    ``on_file(source, target, relative path, source's entry)`` for each regular file. Other
    kinds of file (sockets, fifos, devices) are left out. The type comes from the directory
    listing; a file is ``lstat``-ed only if ``on_file`` asks its entry (``_lstat``): a save
    needs no stat of the files it copies anyway (15-20 ms of the benchmark app's save)."""
    os.mkdir(dst)
    target_root = str(dst) + "/"
    for rel, entry in _scan(str(src)):
        t = target_root + rel
        if entry.is_symlink():
            target = os.readlink(entry.path)
            os.symlink(target, t)
            if others is not None:
                others[rel] = f"-> {target}"
        elif entry.is_dir(follow_symlinks=False):
            os.mkdir(t)
            if others is not None:
                others[rel] = "dir"
        elif entry.is_file(follow_symlinks=False):
            on_file(entry.path, t, rel, entry)


def _lstat(entry: os.DirEntry[str]) -> os.stat_result:
    return entry.stat(follow_symlinks=False)  # one system call, then kept by the entry


def copy_tree(src: Path, dst: Path, *, cache_side: str) -> Snapshot:
    """Copy ``src`` to ``dst`` (which must not exist): every file gets an inode of its own.

    ``cache_side`` says which of the two the cache owns (``"src"`` when restoring into a
    build directory, ``"dst"`` when keeping a copy of a build tree); the snapshot records
    the other side's stamps, for ``save_tree``."""
    copier = _Copier()
    stamps: dict[str, Stamp] = {}
    build_is_dst = cache_side == "src"

    def on_file(s: str, t: str, rel: str, entry: os.DirEntry[str]) -> None:
        sst, dst_st = copier.file(s, t)
        stamps[rel] = _stamp(dst_st if build_is_dst else sst)

    others: dict[str, str] = {}
    _walk(src, dst, on_file, others)
    return Snapshot(origin=src if build_is_dst else dst, stamps=stamps, others=others)


# ------------------------------------------------------------------ restoring from the store

RUNTIME_MARKER = ".pybuildpack-runtime.json"  # provision.api.MARKER: the archive's sha256


@dataclass(frozen=True)
class StoreFiles:
    """The files of a runtime store entry (``provision.store``) that a restore may link:
    those the store itself links into every destination (not the ones it copies because
    builds edit them), each with the (mode, size, mtime) its manifest recorded."""

    root: str  # the entry's runtime folder
    files: dict[str, tuple[int, int, int]]


def store_files(download_cache: Path, runtime: Path) -> StoreFiles | None:
    """The store entry of the runtime the cache's ``runtime`` tree was installed from (its
    marker names the archive's sha256), if the machine's store under ``download_cache``
    has a sound one. Files below a folder the manifest does not list as a folder (a
    symlink) are never linked: the paths stay inside the entry."""
    from pybuildpack.provision.store import DIR, LINKED, SYMLINK, Damaged, Store

    try:
        sha256 = json.loads((runtime / RUNTIME_MARKER).read_text("utf-8"))["sha256"]
        if not isinstance(sha256, str) or not sha256:
            return None
        store = Store(download_cache)
        manifest = store.manifest(sha256)
        if manifest is None:
            return None
        entries = manifest["entries"]
        links = {e[0] for e in entries if e[1] == SYMLINK}
        dirs = {e[0] for e in entries if e[1] == DIR} - links
        files = {
            e[0]: (int(e[2]), int(e[3]), int(e[4]))
            for e in entries
            if e[1] == LINKED and e[0] not in links and e[0].rpartition("/")[0] in dirs | {""}
        }
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, Damaged):
        return None
    return StoreFiles(root=str(store.entry(sha256) / "runtime"), files=files)


def _inodes(root: Path) -> dict[str, int]:
    """Relative path -> inode of every regular file under ``root`` (from the directory
    entries: no ``stat`` per file)."""
    return {rel: e.inode() for rel, e in _scan(str(root)) if e.is_file(follow_symlinks=False)}


@dataclass
class Restored:
    snapshot: Snapshot
    linked: int = 0  # files linked from the runtime store
    refused: int = 0  # store files that no longer match the store's manifest (copied)


def restore_tree(src: Path, dst: Path, *, runtime: Path, store: StoreFiles | None) -> Restored:
    """Recreate the cache tree ``src`` in the build directory at ``dst`` (which must not
    exist), as ``copy_tree`` does, except that a runtime file still exactly as installed
    gets a hard link to the runtime store's file instead of a copy of the cache's. Such a
    file is one that

    * the cache proves unchanged since the install: it is the same inode as the cache's
      pristine ``runtime`` copy (``src`` may be ``runtime`` itself), and the same mode,
      size and mtime as the store's manifest says the store file has (so the cache was
      installed from that very entry), and
    * the store links itself (never the files builds edit: ``bin/`` scripts,
      ``_sysconfigdata*``, ``*.pth``, ...), and
    * whose store file, after linking, still has that mode, size and mtime; otherwise the
      link is undone and the cache's copy is used (a store file edited in place is caught
      here; the store's own check-on-use drops the entry at the next install).

    The build tree then shares those files with the store, as a cold build's tree does
    (``provision.store``: read-only files that nothing run by a build rewrites in place);
    it still shares no file with the cache. See docs/buildpack.md, "Build cache"."""
    if store is None:
        return Restored(copy_tree(src, dst, cache_side="src"))
    same_inode = None if src == runtime else _inodes(runtime)
    copier = _Copier()
    stamps: dict[str, Stamp] = {}
    others: dict[str, str] = {}
    done = Restored(Snapshot(origin=src, stamps=stamps, others=others))
    can_link = True

    def on_file(s: str, t: str, rel: str, entry: os.DirEntry[str]) -> None:
        nonlocal can_link
        want = store.files.get(rel)
        st = _lstat(entry) if can_link and want is not None else None
        if (
            st is not None
            and (same_inode is None or same_inode.get(rel) == st.st_ino)
            and (stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns) == want
        ):
            try:
                os.link(store.root + "/" + rel, t, follow_symlinks=False)
            except FileNotFoundError:
                done.refused += 1  # the entry went (dropped by an install meanwhile)
            except OSError:
                can_link = False  # another file system, or no hard links: copy
            else:
                lst = os.lstat(t)
                if (
                    stat.S_ISREG(lst.st_mode)
                    and (stat.S_IMODE(lst.st_mode), lst.st_size, lst.st_mtime_ns) == want
                ):
                    stamps[rel] = _stamp(lst)
                    done.linked += 1
                    return
                os.unlink(t)
                done.refused += 1
        stamps[rel] = _stamp(copier.file(s, t)[1])

    _walk(src, dst, on_file, others)
    return done


class PristineCopy:
    """The cache's copy of a runtime just installed (``copy_runtime_aside``): its snapshot
    now, its files possibly still being copied by a thread; ``finish`` says whether the
    copy is whole and is the runtime as installed."""

    def __init__(self, snapshot: Snapshot, thread: threading.Thread | None = None) -> None:
        self.snapshot = snapshot
        self.thread = thread
        self.changed: str | None = None  # a store file that no longer matched its manifest
        self.error: BaseException | None = None

    def finish(self) -> bool:
        """Wait for the copy; False when a store file changed meanwhile (then the copy is
        not the runtime as installed). Errors of the copy (a full disk) are raised."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        if self.error is not None:
            raise self.error
        return self.changed is None


def copy_runtime_aside(dest: Path, pristine: Path, store: StoreFiles | None) -> PristineCopy:
    """Copy the runtime just installed at ``dest`` to the cache's ``pristine`` (which must
    not exist), before anything that writes runs in it, as ``copy_tree`` does.

    When ``dest`` was linked from the runtime store (``store``: its entry), the files that
    are the store's own inodes are copied from the *store* in a thread, so the build can
    run in ``dest`` meanwhile (the store's files do not change; each is checked against the
    manifest as it is copied). Folders, symlinks and every other file (the marker, the
    files the store copies) are copied here, before this returns."""
    if store is None:
        return PristineCopy(copy_tree(dest, pristine, cache_side="dst"))
    copier = _Copier()
    stamps: dict[str, Stamp] = {}
    others: dict[str, str] = {}
    later: list[tuple[str, tuple[int, int, int]]] = []

    def on_file(s: str, t: str, rel: str, entry: os.DirEntry[str]) -> None:
        want = store.files.get(rel)
        st = _lstat(entry) if want is not None else None
        if st is not None and (stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns) == want:
            try:
                sst = os.lstat(store.root + "/" + rel)
            except OSError:
                sst = None
            if sst is not None and (sst.st_ino, sst.st_dev) == (st.st_ino, st.st_dev):
                stamps[rel] = _stamp(st)
                later.append((rel, want))
                return
        stamps[rel] = _stamp(copier.file(s, t)[0])

    _walk(dest, pristine, on_file, others)
    job = PristineCopy(Snapshot(origin=pristine, stamps=stamps, others=others))

    def copy_later() -> None:
        try:
            for rel, want in later:
                sst, _ = copier.file(store.root + "/" + rel, str(pristine / rel))
                if (stat.S_IMODE(sst.st_mode), sst.st_size, sst.st_mtime_ns) != want:
                    job.changed = rel
                    return
        except BaseException as exc:
            job.error = exc

    if later:
        job.thread = threading.Thread(target=copy_later, daemon=True)
        job.thread.start()
    return job


def tree_unchanged(build: Path, snapshot: Snapshot) -> bool:
    """Whether ``build`` still holds exactly the snapshot's files (same stamps), directories
    and symlinks: then it equals the cache tree it was copied from."""
    files = 0
    others: dict[str, str] = {}
    for rel, entry in _scan(str(build)):
        if entry.is_symlink():
            others[rel] = f"-> {os.readlink(entry.path)}"
        elif entry.is_dir(follow_symlinks=False):
            others[rel] = "dir"
        elif snapshot.stamps.get(rel) != _stamp(entry.stat(follow_symlinks=False)):
            return False
        else:
            files += 1
    return files == len(snapshot.stamps) and others == snapshot.others


def save_tree(build: Path, dst: Path, snapshot: Snapshot | None) -> None:
    """Recreate the build tree ``build`` at ``dst`` in the cache: a file unchanged since the
    snapshot is hard-linked to the cache file it was copied from, every other is copied.
    No file of ``dst`` is ever a file of ``build``."""
    stamps = snapshot.stamps if snapshot is not None else {}
    origin = f"{snapshot.origin}/" if snapshot is not None else ""
    links: list[tuple[str, str, str]] = []
    copies: list[tuple[str, str]] = []

    def on_file(s: str, t: str, rel: str, entry: os.DirEntry[str]) -> None:
        known = stamps.get(rel)
        if known is not None and _stamp(_lstat(entry)) == known:
            links.append((origin + rel, t, s))
        else:
            copies.append((s, t))  # no stat: the copy takes the file's own

    _walk(build, dst, on_file)
    copy_files(copies, links)


PARALLEL_COPIES = 2000  # below this, a second process costs more than it saves


def copy_files(
    pairs: list[tuple[str, str]], links: list[tuple[str, str, str]] | None = None
) -> None:
    """Copy each (source, new target) file, as ``_Copier.file``; make each (origin, new
    target, source) of ``links`` a hard link to ``origin``, or where that fails a copy of
    ``source``. Many files are done by two processes, a share each: creating a file is
    mostly kernel work, which a forked child does beside this process (0.13 -> 0.10 s for
    the 10,000 files of the benchmark app's dependencies). Only while this process runs no
    other thread (forking one that does is unsafe); a failure in the child is raised here,
    after the child has ended."""
    links = links or []
    if (
        len(pairs) + len(links) < PARALLEL_COPIES
        or threading.active_count() > 1
        or not hasattr(os, "fork")
    ):
        _copy_share(pairs, links)
        return
    # A link costs about a third of a copy: the child takes the links and enough of the
    # last copies for half of the work.
    split = len(pairs) - max(0, min(len(pairs), (len(pairs) - len(links) // 3) // 2))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its share; what went wrong goes back through the pipe
        code = 0
        try:
            os.close(read_end)
            _copy_share(pairs[split:], links)
        except BaseException as exc:
            code = 1
            with suppress(BaseException):
                os.write(write_end, f"{type(exc).__name__}: {exc}".encode()[:4096])
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        _copy_share(pairs[:split], [])
    finally:
        with os.fdopen(read_end, "rb") as pipe:
            said = pipe.read().decode("utf-8", "replace")
        _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError(f"copying files into the build cache failed: {said or status}")


def _copy_share(pairs: list[tuple[str, str]], links: list[tuple[str, str, str]]) -> None:
    copier = _Copier()
    for origin, t, s in links:
        try:
            os.link(origin, t)
        except OSError:
            copier.file(s, t)
    for s, t in pairs:
        copier.file(s, t)


def link_tree(src: Path, dst: Path) -> None:
    """Recreate ``src`` at ``dst`` (which must not exist) with hard links, where possible.

    Only ever used between trees the cache owns (which nothing writes): never between the
    cache and a build directory. Falls back to copying per file (another file system).
    """
    copier = _Copier()
    can_link = True

    def on_file(s: str, t: str, rel: str, entry: os.DirEntry[str]) -> None:
        nonlocal can_link
        if can_link:
            try:
                os.link(s, t)
                return
            except OSError:
                can_link = False
        copier.file(s, t)

    _walk(src, dst, on_file)
