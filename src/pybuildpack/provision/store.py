"""The runtime store: unpacked runtimes kept read-only, by archive sha256, and hard-linked
into each new destination.

Layout, under the download cache: ``store/<sha256>/runtime/`` (the runtime as verified:
unpacked, relocated, proven to run) and ``store/<sha256>/manifest.json`` (every entry with
its kind, mode, size and mtime, and a digest of that list). Rules:

* **Only verified archives.** An entry is made from a runtime whose archive matched its
  sha256 and whose interpreter ran (``api``), never with ``--allow-unverified``.
* **Atomic.** An entry is built in ``store/.staging-<pid>-*`` and renamed to its name in one
  step, manifest included: a reader sees a whole entry or none. Staging left by a killed
  process is removed by the next install.
* **Nothing writes into a store file in place.** Store files are read-only (0444, 0555 for
  executables). Files that builds are known to edit after install (scripts in ``bin/``,
  ``*-config``, ``_sysconfigdata*``, ``Makefile``, ``*.pc``, ``*.pth``) are *copied* into
  each destination, never linked. Everything else is linked: what writes into an installed
  runtime afterwards replaces files rather than editing them (pip unlinks before it writes
  and moves files away to uninstall, ``.pyc`` files are written to a temporary name and
  renamed, ``fix_shebangs`` replaces). A tool that still opens a linked file for writing
  gets "Permission denied", unless it runs as root: then the check on use catches it.
* **Checked on use.** Before linking, every file's type, size, mtime and mode are compared
  with the manifest (one ``lstat`` each, which linking needs anyway): a missing, truncated,
  rewritten or re-moded file, a damaged manifest or a partial entry makes the entry
  ``Damaged``, and the caller drops and rebuilds it from the (verified) archive. Contents
  are not hashed on use: that would cost more than unpacking again, the contents were
  verified through the archive's sha256 when the entry was made, and an in-place write
  changes the mtime (resetting it takes a deliberate ``utime``, by someone who can write
  the cache, and so could as well replace pybuildpack itself).
* **Other file systems.** A hard link needs the store and the destination on one file
  system: on ``EXDEV`` (or a file system without hard links) files are copied instead.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from pybuildpack.host import process_alive
from pybuildpack.provision import atomic, filecopy

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

FORMAT = 1
MANIFEST = "manifest.json"
_STAGING = ".staging-"
_TRASH = ".trash-"
_LINK_ERRORS = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}

DIR, LINKED, COPIED, SYMLINK = "d", "f", "c", "l"


class Damaged(Exception):
    """A store entry that does not match its manifest (or has none)."""


def _copied(rel: str, path: str) -> bool:
    """Whether a regular file is copied into each destination (builds edit it), rather
    than linked."""
    name = rel.rpartition("/")[2]
    if rel.startswith("bin/") and "/" not in rel[4:]:
        try:
            with open(path, "rb") as f:
                return f.read(4) != b"\x7fELF"  # scripts: shebangs get rewritten
        except OSError:
            return True
    return (
        name.startswith("_sysconfigdata")
        or name.startswith("_sysconfig_vars")
        or name == "Makefile"
        or name.endswith((".pc", ".pth", "-config"))
    )


def survey(runtime: Path) -> list[list[Any]]:
    """The manifest entries of the tree at ``runtime``, making its files read-only (0444,
    0555 when executable; a file already so is left alone): one ``lstat`` per file, read
    from the folder listing for folders and symlinks. Folders come before what they hold."""
    entries: list[list[Any]] = []
    pending = [("", str(runtime))]
    while pending:
        prefix, folder = pending.pop()
        with os.scandir(folder) as listing:
            found = sorted(listing, key=lambda e: e.name)
        for item in found:
            rel = prefix + item.name
            if item.is_symlink():
                entries.append([rel, SYMLINK, os.readlink(item.path)])
            elif item.is_dir(follow_symlinks=False):
                entries.append([rel, DIR])
                pending.append((rel + "/", item.path))
            else:
                st = item.stat(follow_symlinks=False)
                if not stat.S_ISREG(st.st_mode):
                    continue  # audit_tree refused these already
                mode = 0o555 if st.st_mode & 0o111 else 0o444
                if stat.S_IMODE(st.st_mode) != mode:
                    os.chmod(item.path, mode)
                kind = COPIED if _copied(rel, item.path) else LINKED
                entries.append([rel, kind, mode, st.st_size, st.st_mtime_ns])
    return entries


def _digest(entries: list[list[Any]]) -> str:
    return hashlib.sha256(json.dumps(entries, separators=(",", ":")).encode()).hexdigest()


def _written_digest(text: str) -> str | None:
    """``_digest`` of the entries of a manifest laid out as ``seal`` writes it, from the
    text itself (no second serialisation): ``{...,"entries":[...],"digest":"..."}``. The
    key ``"entries"`` can only appear once as raw text (quotes inside JSON strings are
    escaped, and the entries hold no objects). None for any other layout."""
    start = text.find(',"entries":')
    end = len(text) - len(',"digest":""}') - 64
    if (
        start < 0
        or end <= start
        or not text.endswith('"}')
        or text[end : end + 11] != ',"digest":"'
    ):
        return None
    return hashlib.sha256(text[start + 11 : end].encode()).hexdigest()


class Store:
    def __init__(self, cache_root: Path) -> None:
        self.root = cache_root / "store"

    def entry(self, sha256: str) -> Path:
        return self.root / sha256

    # ----------------------------------------------------------------- making entries

    def new_staging(self) -> Path:
        """An empty private folder in the store, for unpacking a runtime into
        ``staging/runtime``."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_stale()
        return Path(tempfile.mkdtemp(prefix=f"{_STAGING}{os.getpid()}-", dir=self.root))

    def seal(
        self,
        staging: Path,
        sha256: str,
        meta: dict[str, str],
        entries: list[list[Any]] | None = None,
    ) -> dict[str, Any]:
        """Make ``staging/runtime`` read-only, write its manifest, and rename ``staging``
        to the entry for ``sha256`` (replacing a damaged one). Returns the manifest.
        ``entries``: what ``survey`` returned for this tree, if it has not changed since."""
        if entries is None:
            entries = survey(staging / "runtime")
        listed = json.dumps(entries, separators=(",", ":"))  # serialised once, for both
        digest = hashlib.sha256(listed.encode()).hexdigest()  # == _digest(entries)
        manifest = {"format": FORMAT, "sha256": sha256, **meta}
        head = json.dumps(manifest, separators=(",", ":"))
        manifest.update(entries=entries, digest=digest)
        (staging / MANIFEST).write_text(f'{head[:-1]},"entries":{listed},"digest":"{digest}"}}')
        final = self.entry(sha256)
        if final.exists() or final.is_symlink():
            self.drop(sha256)
        if not atomic.rename_noreplace(staging, final):  # no renameat2: a plain rename
            os.rename(staging, final)
        return manifest

    def drop(self, sha256: str) -> None:
        """Remove an entry: renamed aside first (one step), then deleted."""
        final = self.entry(sha256)
        trash = Path(tempfile.mkdtemp(prefix=f"{_TRASH}{os.getpid()}-", dir=self.root))
        with contextlib.suppress(FileNotFoundError):
            os.rename(final, trash / "entry")
        shutil.rmtree(trash, ignore_errors=True)

    def remove_stale(self) -> None:
        """Staging and trash folders of processes that are gone."""
        for tag in (_STAGING, _TRASH):
            for p in self.root.glob(f"{tag}*"):
                try:
                    pid = int(p.name[len(tag) :].split("-", 1)[0])
                except ValueError:
                    continue
                if pid != os.getpid() and not process_alive(pid):
                    shutil.rmtree(p, ignore_errors=True)

    def clear(self) -> int:
        """Remove every entry; returns how many."""
        if not self.root.is_dir():
            return 0
        count = sum(1 for p in self.root.iterdir() if not p.name.startswith("."))
        shutil.rmtree(self.root, ignore_errors=True)
        return count

    # ----------------------------------------------------------------- using entries

    def manifest(self, sha256: str) -> dict[str, Any] | None:
        """The entry's manifest; None when there is no entry. ``Damaged`` when there is
        one whose manifest is missing or does not hold together."""
        final = self.entry(sha256)
        try:
            text = (final / MANIFEST).read_text("utf-8")
        except FileNotFoundError:
            if final.exists() or final.is_symlink():
                raise Damaged(f"{final} has no manifest") from None
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise Damaged(f"{final / MANIFEST}: {exc}") from None
        try:
            data = json.loads(text)
            ok = (
                data["format"] == FORMAT
                and data["sha256"] == sha256
                and data["digest"] == (_written_digest(text) or _digest(data["entries"]))
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise Damaged(f"{final / MANIFEST} is damaged")
        return data  # type: ignore[no-any-return]

    def link_into(
        self,
        sha256: str,
        manifest: dict[str, Any],
        dest: Path,
        *,
        fresh: bool = False,
        source: Path | None = None,
    ) -> bool:
        """Recreate the entry at ``dest`` (which must not exist): folders and symlinks made
        afresh, files hard-linked (copied where builds edit them, or where links fail).
        Raises ``Damaged`` when a store file does not match the manifest. Returns whether
        anything was linked (False: everything was copied).

        ``fresh``: the entry was sealed by this process a moment ago, under the archive's
        lock, and its manifest *is* the ``lstat`` of these files: linked without checking
        them again (paths and symlinks are still vetted). ``source``: link from this tree
        (an entry's staging, about to be sealed) instead of the entry: links follow the
        files when the staging folder is renamed to the entry."""
        src = str(source if source is not None else self.entry(sha256) / "runtime")
        dst = str(dest)
        entries = manifest["entries"]
        symlinks = self._vet(sha256, entries)
        mask = os.umask(0o022)  # folders 0755 whatever the umask (we are single-threaded here)
        try:
            os.mkdir(dst, 0o755)
            try:
                linked = self._files(src, dst, entries, check=not fresh)
                for rel, text in symlinks:  # last: no path above passes through one
                    os.symlink(text, dst + "/" + rel)
            except (FileExistsError, FileNotFoundError, NotADirectoryError) as exc:
                raise Damaged(f"the manifest does not describe a tree: {exc}") from None
        finally:
            os.umask(mask)
        return linked

    def _vet(self, sha256: str, entries: list[list[Any]]) -> list[tuple[str, str]]:
        """Paths stay below the runtime, and every symlink resolves inside it (the rules
        of ``tarsafe.Plan``), even if someone who can write the cache edited the manifest."""
        from pybuildpack.provision import tarsafe

        plan = tarsafe.Plan(strip=None, url=str(self.entry(sha256)), limits=tarsafe.Limits(0, 0))
        symlinks: list[tuple[str, str]] = []
        for item in entries:
            rel = item[0]
            if not isinstance(rel, str) or rel.startswith("/") or "/../" in f"/{rel}/":
                raise Damaged(f"the manifest names {rel!r}")
            if item[1] == SYMLINK:
                if item[2].startswith("/"):
                    raise Damaged(f"the manifest links {rel!r} outside the runtime")
                plan.kinds[rel] = tarsafe.SYMLINK
                plan.targets[rel] = item[2]
                plan.symlinks.append(
                    tarsafe.Member(rel, tarsafe.SYMLINK, 0, 0o777, 0, target=item[2], shown=rel)
                )
                symlinks.append((rel, item[2]))
        try:
            plan.finish()
        except Exception as exc:  # UnsafeArchive: a symlink leaving the runtime
            raise Damaged(f"the manifest has a symlink leaving the runtime: {exc}") from None
        return symlinks

    def _files(self, src: str, dst: str, entries: list[list[Any]], check: bool = True) -> bool:
        """Folders and files of ``entries`` (in order: a folder before what it holds), each
        by name relative to an open descriptor of its folder (``_Folders``)."""
        link = True
        linked = False
        sources, targets = _Folders(src), _Folders(dst)
        try:
            for item in entries:
                rel, kind = item[0], item[1]
                parent, _, name = rel.rpartition("/")
                if kind == DIR:
                    os.mkdir(name, 0o755, dir_fd=targets.fd(parent))
                    continue
                if kind == SYMLINK:
                    continue
                folder = sources.fd(parent)
                st: os.stat_result | None = None
                if check or kind != LINKED or not link:
                    try:
                        st = os.stat(name, dir_fd=folder, follow_symlinks=False)
                    except OSError as exc:
                        raise Damaged(f"{src}/{rel}: {exc.strerror}") from None
                    if check and (
                        not stat.S_ISREG(st.st_mode)
                        or stat.S_IMODE(st.st_mode) != item[2]
                        or st.st_size != item[3]
                        or st.st_mtime_ns != item[4]
                    ):
                        raise Damaged(f"{src}/{rel} differs from the store's manifest")
                if kind == LINKED and link:
                    try:
                        os.link(
                            name,
                            name,
                            src_dir_fd=folder,
                            dst_dir_fd=targets.fd(parent),
                            follow_symlinks=False,
                        )
                        linked = True
                        continue
                    except OSError as exc:
                        if exc.errno not in _LINK_ERRORS:
                            raise
                        link = False  # another file system: copy from now on
                        st = os.stat(name, dir_fd=folder, follow_symlinks=False)
                assert st is not None
                _copy(f"{src}/{rel}", f"{dst}/{rel}", 0o755 if item[2] & 0o111 else 0o644, st)
        finally:
            sources.close()
            targets.close()
        return linked


class _Folders:
    """Descriptors of the folders below ``root``, opened on demand relative to their
    parent's (``O_NOFOLLOW``: a symlink where a folder should be is ``Damaged``), so that
    each link or ``lstat`` resolves one name instead of a whole path. At most
    ``_MAX_OPEN`` stay open."""

    _FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    _MAX_OPEN = 128

    def __init__(self, root: str) -> None:
        self._fds = {"": os.open(root, self._FLAGS)}

    def fd(self, rel: str) -> int:
        found = self._fds.get(rel)
        if found is not None:
            return found
        parent, _, name = rel.rpartition("/")
        try:
            opened = os.open(name, self._FLAGS, dir_fd=self.fd(parent))
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                raise Damaged(f"{rel}: {exc.strerror}") from None
            raise
        if len(self._fds) >= self._MAX_OPEN:  # none of them is in use between two calls
            for key in [k for k in self._fds if k]:
                os.close(self._fds.pop(key))
        self._fds[rel] = opened
        return opened

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}


def _copy(source: str, target: str, mode: int, st: os.stat_result) -> None:
    sfd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        dfd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            filecopy.Copier().data(sfd, dfd, st.st_size)
            os.fchmod(dfd, mode)
            os.utime(dfd, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)
