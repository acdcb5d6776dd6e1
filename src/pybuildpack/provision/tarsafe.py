"""The tar format as pybuildpack accepts it, and unpacking that cannot leave its directory.

Both unpackers (Python here, the system tar in ``systar``) go through the same three steps,
so the rules hold by construction rather than by spotting bad patterns:

1. **A strict parser** (``read_members``). Every header must have a valid checksum, a known
   magic and well-formed numeric fields (a field such as a mode starting with NUL is
   refused, not read as 0); extended headers (pax, GNU long names) are bounded in size;
   the archive must end with its end-of-archive marker (two zero blocks) followed by
   nothing but zeros. Anything else is ``ArchiveCorrupt``: a header this parser cannot
   read is never "the end of the archive". Member data is not interpreted.
2. **A plan of the final tree** (``Plan``). Paths are split into components: absolute
   paths and ``..`` are refused. No member may sit below a symlink of the archive (so no
   path ever passes through one), below a regular file, or appear twice (folders
   excepted). A hard link must name an earlier regular file of the archive. Symlinks are
   only recorded; once every member is known (``finish``), each target is resolved
   component by component against the final tree, following the archive's other
   symlinks, and must stay inside the runtime at every step. Only regular files,
   folders, symlinks and hard links exist: devices, FIFOs, sparse and unknown types are
   refused. Counts and sizes are capped (``Limits``).
3. **Writing that follows no symlink** (``FdTree``). Every folder is opened relative to
   its parent's descriptor with ``O_NOFOLLOW | O_DIRECTORY``, every file is created with
   ``O_CREAT | O_EXCL | O_NOFOLLOW``: the kernel refuses to follow a symlink anywhere.
   The tree holds no symlink until the end anyway: symlinks are created last, after every
   check. Modes are set, never taken as they are: folders 0755, files 0644 or 0755.

``audit_tree`` then walks the result (without following links): no special permission
bits, nothing but files, folders and symlinks.
"""

from __future__ import annotations

import os
import re
import stat
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from zlib import adler32

from pybuildpack._record import dataclass, field
from pybuildpack.errors import ArchiveCorrupt, ArchiveTooLarge, UnsafeArchive
from pybuildpack.provision import settings

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from types import TracebackType
    from typing import IO, Protocol

    class Source(Protocol):
        def read(self, n: int = -1, /) -> bytes: ...
        def copy_to(self, sink: IO[bytes] | None, n: int) -> int: ...


BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_MAX_EXTENDED = 1 << 20  # bytes in one pax header or GNU long name
_MAX_PATH = 4096
_MAX_COMPONENT = 255
_MAX_FOLLOWS = 40  # symlinks followed while resolving one target (like the kernel)

FILE, DIR, SYMLINK, HARDLINK = "file", "dir", "symlink", "hardlink"
_REGULAR = {b"0", b"\0", b"7"}
_SPECIAL = {b"3": "a character device", b"4": "a block device", b"6": "a FIFO"}


@dataclass(frozen=True)
class Limits:
    max_bytes: int  # sum of member sizes (data), extended headers included
    max_members: int

    @property
    def stream_bytes(self) -> int:
        """Decompressed bytes allowed: the data, plus headers and padding for every member."""
        return self.max_bytes + 4 * BLOCK * (self.max_members + 2) + 20 * BLOCK

    @classmethod
    def from_env(cls) -> Limits:
        return cls(settings.max_unpacked_bytes(), settings.max_members())


@dataclass
class Member:
    path: str  # inside the runtime: components joined by "/", never empty
    kind: str  # FILE, DIR, SYMLINK or HARDLINK
    size: int  # data bytes (FILE only)
    mode: int  # 0o644 / 0o755 (files), 0o755 (folders)
    mtime: int
    target: str = ""  # SYMLINK: the link text; HARDLINK: the runtime path it links to
    shown: str = ""  # the name as the archive spells it, for messages


# --------------------------------------------------------------------------- parsing


def _corrupt(url: str, detail: str) -> ArchiveCorrupt:
    return ArchiveCorrupt(url=url, detail=detail)


def _text(field: bytes) -> bytes:
    """A string field: up to the first NUL."""
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


# An octal field: leading spaces, octal digits, then only NULs and spaces.
_OCTAL = re.compile(rb" *([0-7]*)[ \0]*")
# Bytes 100-156 of a header as GNU tar, Python's tarfile and most others write them: mode,
# uid, gid (7 octal digits and a NUL each), size, mtime (11 and a NUL), the checksum (6, a
# NUL and a space). Every field in this form is valid for ``_field``, so matching this one
# pattern checks all of them at once; any other form goes through ``_field``.
_COMMON = re.compile(rb"([0-7]{7})\0[0-7]{7}\0[0-7]{7}\0([0-7]{11})\0([0-7]{11})\0([0-7]{6})\0 ")


def _field(block: bytes, start: int, end: int, what: str) -> int:
    """The numeric field ``block[start:end]``: octal digits (leading spaces allowed) ended
    by NUL/space, or GNU base-256. Anything else - including digits after a leading NUL -
    is refused."""
    first = block[start]
    if first == 0x80:
        return int.from_bytes(block[start + 1 : end], "big")
    if first & 0x80:
        raise ValueError(f"negative or malformed {what}")
    match = _OCTAL.fullmatch(block, start, end)
    if match is None:
        raise ValueError(f"malformed {what} field {block[start:end]!r}")
    digits = match.group(1)
    if not digits:
        if what in ("size", "checksum"):
            raise ValueError(f"empty {what} field")
        return 0
    return int(digits, 8)


def _byte_sum(block: bytes) -> int:
    """``sum(block)`` of a 512-byte block, about ten times faster: the low half of an
    Adler-32 is 1 + the sum of the bytes modulo 65521, and the sum of 256 bytes (at most
    65280) is below the modulus, so each half's sum is exact."""
    return (adler32(block[:256]) & 0xFFFF) + (adler32(block[256:]) & 0xFFFF) - 2


def _checksum_ok(block: bytes, url: str) -> bool:
    stored = _field(block, 148, 156, "checksum")
    unsigned = _byte_sum(block) - sum(block[148:156]) + 8 * 0x20
    if stored == unsigned:
        return True
    high = sum(1 for b in block[:148] + block[156:] if b > 127)
    return stored == unsigned - 256 * high  # old tars summed signed chars


def _pax_records(data: bytes, url: str) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos:].strip(b"\0") == b"":
            break
        space = data.find(b" ", pos)
        length_text = data[pos:space] if space > 0 else b""
        if not length_text.isdigit():
            raise _corrupt(url, "a malformed pax extended header")
        length = int(length_text)
        record = data[space + 1 : pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n"):
            raise _corrupt(url, "a malformed pax extended header record")
        key, eq, value = record[:-1].partition(b"=")
        if not eq:
            raise _corrupt(url, "a pax extended header record without '='")
        try:
            records[key.decode("utf-8")] = value.decode("utf-8")
        except UnicodeDecodeError:
            raise _corrupt(url, "a pax extended header that is not UTF-8") from None
        pos += length
    return records


def _read_exact(source: Source, n: int, url: str) -> bytes:
    data = source.read(n)
    if len(data) != n:
        raise _corrupt(url, "the archive is truncated (it ends inside a member)")
    return data


def _padding(size: int) -> int:
    return -size % BLOCK


def read_members(source: Source, plan: Plan) -> Iterator[Member]:
    """Parse ``source`` (decompressed tar) strictly, vet every member through ``plan``,
    and yield the members to create (the stripped top folder is not yielded). The caller
    must consume a FILE member's ``size`` data bytes before asking for the next member;
    the padding after them is skipped here. Symlinks are yielded only as ``plan.symlinks``
    after ``plan.finish()``."""
    url = plan.url
    pax: dict[str, str] = {}
    long_name: str | None = None
    long_link: str | None = None
    pending_data = 0  # data bytes of the previous member the caller consumed
    while True:
        if pending_data:
            source.copy_to(None, _padding(pending_data))
            pending_data = 0
        block = source.read(BLOCK)
        if len(block) == 0:
            raise _corrupt(
                url, "the archive ends without its end-of-archive marker (it is truncated)"
            )
        if len(block) != BLOCK:
            raise _corrupt(url, "the archive is truncated (it ends inside a header)")
        if block == _ZERO_BLOCK:
            _check_end(source, url, pax or long_name is not None or long_link is not None)
            return
        try:
            common = _COMMON.match(block, 100)
            if common is not None:  # the usual layout: every field is known to be valid
                mode_text, size_text, mtime_text, stored = common.groups()
                mode, size, mtime = int(mode_text, 8), int(size_text, 8), int(mtime_text, 8)
                unsigned = _byte_sum(block) - sum(block[148:156]) + 8 * 0x20
                if int(stored, 8) != unsigned and not _checksum_ok(block, url):
                    raise ValueError("a header checksum does not match")
            else:
                if not _checksum_ok(block, url):
                    raise ValueError("a header checksum does not match")
                size = _field(block, 124, 136, "size")
                mode = _field(block, 100, 108, "mode")
                mtime = _field(block, 136, 148, "mtime")
            magic = block[257:265]
            if magic not in (b"ustar\x0000", b"ustar  \0") and magic.strip(b"\0"):
                raise ValueError(f"unknown header magic {magic!r}")
        except ValueError as exc:
            raise _corrupt(
                url, f"unreadable header at byte {source_position(source)}: {exc}"
            ) from None
        typeflag = block[156:157]
        plan.count_header(url)
        if typeflag in (b"x", b"g", b"L", b"K"):
            if size > _MAX_EXTENDED:
                raise _corrupt(url, f"an extended header of {size:,} bytes")
            plan.count_bytes(size)
            data = _read_exact(source, size + _padding(size), url)[:size]
            if typeflag == b"x":
                pax = _pax_records(data, url)
            elif typeflag == b"g":
                _pax_records(data, url)  # checked; global defaults are not used
            elif typeflag == b"L":
                long_name = _text(data).decode("utf-8", "surrogateescape")
            else:
                long_link = _text(data).decode("utf-8", "surrogateescape")
            continue
        name = long_name if long_name is not None else _ustar_name(block, magic)
        link = long_link if long_link is not None else _decode(_text(block[157:257]))
        name = pax.get("path", name)
        link = pax.get("linkpath", link)
        if "size" in pax:
            if not pax["size"].isdigit():
                raise _corrupt(url, f"a malformed pax size {pax['size']!r}")
            size = int(pax["size"])
        if any(key.startswith("GNU.sparse") for key in pax):
            raise UnsafeArchive(url=url, member=name, reason="is a sparse file (not supported)")
        if "mtime" in pax:
            try:
                mtime = int(float(pax["mtime"]))
            except (ValueError, OverflowError):
                raise _corrupt(url, f"a malformed pax mtime {pax['mtime']!r}") from None
        pax, long_name, long_link = {}, None, None
        member = plan.add(name, typeflag, size, mode, mtime, link)
        if typeflag in _REGULAR:
            pending_data = size
        elif size:
            raise _corrupt(url, f"'{name}' has data, but its entry type has none")
        if member is not None and member.kind != SYMLINK:
            yield member


def source_position(source: Source) -> int:
    return int(getattr(source, "position", 0)) - BLOCK


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _ustar_name(block: bytes, magic: bytes) -> str:
    name = _text(block[0:100])
    if magic == b"ustar\x0000":
        prefix = _text(block[345:500])
        if prefix:
            name = prefix + b"/" + name
    return _decode(name)


def _check_end(source: Source, url: str, dangling: bool) -> None:
    if dangling:
        raise _corrupt(url, "an extended header without the member it describes")
    second = source.read(BLOCK)
    if second != _ZERO_BLOCK:
        raise _corrupt(
            url,
            "a zero block not followed by another: the archive is truncated or damaged",
        )
    while chunk := source.read(1 << 16):
        if chunk.count(0) != len(chunk):
            raise _corrupt(url, "data after the end-of-archive marker")


# --------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """What the runtime will hold, built member by member; refuses what cannot be safe."""

    strip: str | None
    url: str
    limits: Limits
    kinds: dict[str, str] = field(default_factory=dict)  # path -> FILE, DIR or SYMLINK
    targets: dict[str, str] = field(default_factory=dict)  # symlink path -> link text
    symlinks: list[Member] = field(default_factory=list)
    members: int = 0
    headers: int = 0
    data_bytes: int = 0

    def count_header(self, url: str) -> None:
        self.headers += 1
        if self.headers > 3 * self.limits.max_members:
            self._too_many()

    def _too_many(self) -> None:
        raise ArchiveTooLarge(
            url=self.url,
            what="members",
            limit=self.limits.max_members,
            setting=settings.MAX_MEMBERS_ENV,
        )

    def count_bytes(self, size: int) -> None:
        self.data_bytes += size
        if self.data_bytes > self.limits.max_bytes:
            raise ArchiveTooLarge(
                url=self.url,
                what="unpacked bytes",
                limit=self.limits.max_bytes,
                setting=settings.MAX_BYTES_ENV,
            )

    def _components(self, name: str, shown: str) -> list[str] | None:
        """The member's path inside the runtime as components; None for the top folder."""
        if name.startswith("/"):
            raise UnsafeArchive(url=self.url, member=shown, reason="is an absolute path")
        if "\0" in name:
            raise ArchiveCorrupt(url=self.url, detail=f"'{shown}' has a NUL in its name")
        # A character is at most 4 bytes in UTF-8 (1 for a surrogate escape): only long
        # names need encoding to be measured.
        if len(name) > _MAX_PATH // 4 and len(name.encode("utf-8", "surrogateescape")) > _MAX_PATH:
            raise ArchiveCorrupt(url=self.url, detail=f"a name longer than {_MAX_PATH} bytes")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise UnsafeArchive(
                url=self.url, member=shown, reason="points outside the archive with '..'"
            )
        for part in parts:
            if (
                len(part) > _MAX_COMPONENT // 4
                and len(part.encode("utf-8", "surrogateescape")) > _MAX_COMPONENT
            ):
                raise ArchiveCorrupt(url=self.url, detail=f"'{shown}' has too long a component")
        if self.strip is not None:
            if not parts or parts[0] != self.strip:
                raise ArchiveCorrupt(
                    url=self.url,
                    detail=f"'{shown}' is outside the archive's top folder '{self.strip}/'",
                )
            parts = parts[1:]
        return parts or None

    def _parents_ok(self, parts: list[str], shown: str) -> None:
        if len(parts) > 1 and self.kinds.get("/".join(parts[:-1])) == DIR:
            # A folder is recorded only once every folder above it was (this loop runs
            # from the top down), and a recorded folder never changes kind: its parents
            # are known to be folders.
            return
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            kind = self.kinds.get(parent)
            if kind is None:
                self.kinds[parent] = DIR
            elif kind == SYMLINK:
                raise UnsafeArchive(
                    url=self.url,
                    member=shown,
                    reason=f"would be written through the symlink '{parent}'",
                )
            elif kind != DIR:
                raise UnsafeArchive(
                    url=self.url, member=shown, reason=f"would be written below the file '{parent}'"
                )

    def add(
        self, name: str, typeflag: bytes, size: int, mode: int, mtime: int, link: str
    ) -> Member | None:
        """Vet one member; returns what to create, or None for the stripped top folder."""
        if typeflag in _SPECIAL:
            raise UnsafeArchive(
                url=self.url, member=name, reason=f"is {_SPECIAL[typeflag]} (a special file)"
            )
        if typeflag not in _REGULAR and typeflag not in (b"1", b"2", b"5"):
            raise UnsafeArchive(
                url=self.url,
                member=name,
                reason=f"has an unsupported entry type {typeflag!r} (only files, folders "
                "and links are allowed)",
            )
        if typeflag in _REGULAR:
            self.count_bytes(size)
        parts = self._components(name, name)
        if parts is None:
            if typeflag != b"5":
                raise UnsafeArchive(url=self.url, member=name, reason="replaces the top folder")
            return None
        self.members += 1
        if self.members > self.limits.max_members:
            self._too_many()
        path = "/".join(parts)
        self._parents_ok(parts, name)
        existing = self.kinds.get(path)
        if existing is not None and not (existing == DIR and typeflag == b"5"):
            raise UnsafeArchive(url=self.url, member=name, reason="appears twice in the archive")
        mtime = max(0, min(mtime, 0o77777777777))
        if typeflag == b"5":
            self.kinds[path] = DIR
            return Member(path, DIR, 0, 0o755, mtime, shown=name)
        if typeflag == b"2":
            if not link or link.startswith("/"):
                raise UnsafeArchive(
                    url=self.url, member=name, reason=f"links outside the runtime ({link!r})"
                )
            if "\0" in link or len(link.encode("utf-8", "surrogateescape")) > _MAX_PATH:
                raise ArchiveCorrupt(url=self.url, detail=f"'{name}' has a malformed link")
            self.kinds[path] = SYMLINK
            self.targets[path] = link
            member = Member(path, SYMLINK, 0, 0o777, mtime, target=link, shown=name)
            self.symlinks.append(member)
            return member
        if typeflag == b"1":
            target_parts = self._components(link, link)
            target = "/".join(target_parts) if target_parts else ""
            if not target or self.kinds.get(target) != FILE:
                raise UnsafeArchive(
                    url=self.url,
                    member=name,
                    reason=f"is a hard link to '{link}', which is not an earlier regular "
                    "file of the archive",
                )
            self.kinds[path] = FILE
            return Member(path, HARDLINK, 0, 0, mtime, target=target, shown=name)
        self.kinds[path] = FILE
        mode = 0o755 if mode & 0o111 else 0o644
        return Member(path, FILE, size, mode, mtime, shown=name)

    def finish(self) -> None:
        """Resolve every symlink against the final tree; refuse any that leaves it."""
        for link in self.symlinks:
            self._resolve(link)

    def _resolve(self, link: Member) -> None:
        where = link.path.split("/")[:-1]  # the folder holding the link
        pending: deque[str] = deque(link.target.split("/"))
        follows = 0
        while pending:
            part = pending.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if not where:
                    raise UnsafeArchive(
                        url=self.url,
                        member=link.shown,
                        reason=f"links outside the runtime ({link.target})",
                    )
                where.pop()
                continue
            candidate = "/".join([*where, part])
            if self.kinds.get(candidate) == SYMLINK:
                follows += 1
                if follows > _MAX_FOLLOWS:
                    raise UnsafeArchive(
                        url=self.url,
                        member=link.shown,
                        reason=f"is part of a symlink loop or a chain too long ({link.target})",
                    )
                pending.extendleft(reversed(self.targets[candidate].split("/")))
                continue
            # A folder, a file or nothing (yet): taken as a folder, so whatever is later
            # created there cannot turn the rest of the target into an escape.
            where.append(part)


# --------------------------------------------------------------------------- writing


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class _FdSink:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        return len(data)


def current_umask() -> int | None:
    """The process's umask, read without changing it (``/proc``, Linux 4.7+): setting it
    to read it back would race with other threads creating files. None when unknown."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def file_mode(mode: int, read_only: bool) -> int:
    """A vetted file mode (0o644 or 0o755) as it is written: without the write bits when
    ``read_only`` (the runtime store's files)."""
    return mode & 0o555 if read_only else mode


class FdTree:
    """Creates members below ``root`` through directory descriptors, never following a
    symlink (``O_NOFOLLOW`` on every component). Files get their final mode when they are
    created (read-only ones too: the descriptor stays writable), and an ``fchmod`` only
    when the umask would take bits away."""

    def __init__(self, root: Path, url: str, *, read_only: bool = False) -> None:
        self._url = url
        self._read_only = read_only
        umask = current_umask()
        self._fchmod = umask is None or bool(umask & 0o755)
        self._root = os.open(root, _DIR_FLAGS)
        self._fds: dict[str, int] = {"": self._root}

    def __enter__(self) -> FdTree:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}

    def _dir(self, path: str) -> int:
        fd = self._fds.get(path)
        if fd is not None:
            return fd
        parent, _, name = path.rpartition("/")
        parent_fd = self._dir(parent)
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            os.mkdir(name, 0o755, dir_fd=parent_fd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        self._fds[path] = fd
        return fd

    def _bound(self) -> None:
        """Close cached folder descriptors beyond a bound (between members only, so no
        descriptor in use is closed)."""
        if len(self._fds) > 256:
            for key in [k for k in self._fds if k]:
                os.close(self._fds.pop(key))

    def write(self, member: Member, source: Source) -> None:
        self._bound()
        parent, _, name = member.path.rpartition("/")
        parent_fd = self._dir(parent)
        if member.kind == DIR:
            self._dir(member.path)
        elif member.kind == FILE:
            mode = file_mode(member.mode, self._read_only)
            fd = os.open(name, _FILE_FLAGS, mode, dir_fd=parent_fd)
            try:
                got = source.copy_to(_FdSink(fd), member.size)  # type: ignore[arg-type]
                if got != member.size:
                    raise ArchiveCorrupt(
                        url=self._url, detail="the archive is truncated (it ends inside a member)"
                    )
                if self._fchmod:
                    os.fchmod(fd, mode)
                os.utime(fd, (member.mtime, member.mtime))
            finally:
                os.close(fd)
        elif member.kind == HARDLINK:
            tparent, _, tname = member.target.rpartition("/")
            os.link(
                tname,
                name,
                src_dir_fd=self._dir(tparent),
                dst_dir_fd=parent_fd,
                follow_symlinks=False,
            )

    def symlink(self, member: Member) -> None:
        self._bound()
        parent, _, name = member.path.rpartition("/")
        os.symlink(member.target, name, dir_fd=self._dir(parent))


def audit_tree(root: Path, url: str, *, read_only: bool = False) -> int:
    """Walk ``root`` without following links: drop special permission bits, make
    everything readable by all, refuse anything but files, folders and symlinks. Files
    end up 0644 or 0755, or with ``read_only`` (the runtime store's) 0444 or 0555.
    Returns the number of entries."""
    count = 0
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                count += 1
                st = entry.stat(follow_symlinks=False)
                kind = stat.S_IFMT(st.st_mode)
                if kind == stat.S_IFLNK:
                    continue
                if kind == stat.S_IFDIR:
                    stack.append(entry.path)
                    want = 0o755
                elif kind == stat.S_IFREG:
                    want = file_mode(0o755 if st.st_mode & 0o111 else 0o644, read_only)
                else:
                    rel = os.path.relpath(entry.path, root)
                    raise UnsafeArchive(url=url, member=rel, reason="is a device, FIFO or socket")
                if stat.S_IMODE(st.st_mode) != want:
                    os.chmod(entry.path, want, follow_symlinks=False)
    return count


# --------------------------------------------------------------------------- tar input


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode("utf-8", "surrogateescape")
    length = len(body) + 1
    while len(str(length).encode()) + len(body) != length:
        length = len(str(length).encode()) + len(body)
    return str(length).encode() + body


def _ustar(name: bytes, typeflag: bytes, size: int, mode: int, mtime: int, link: bytes) -> bytes:
    header = bytearray(BLOCK)
    header[0 : len(name)] = name
    header[100:108] = b"%07o\0" % mode
    header[108:116] = b"0000000\0"
    header[116:124] = b"0000000\0"
    header[124:136] = b"%011o\0" % size
    header[136:148] = b"%011o\0" % mtime
    header[148:156] = b" " * 8
    header[156:157] = typeflag
    header[157 : 157 + len(link)] = link
    header[257:265] = b"ustar\x0000"
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def header_for(member: Member, read_only: bool = False) -> bytes:
    """A canonical header (ustar, with a pax header for long names) for a vetted member:
    the only header bytes the system tar ever reads. ``read_only``: files without write
    bits (``file_mode``)."""
    typeflag = {FILE: b"0", DIR: b"5", HARDLINK: b"1"}[member.kind]
    name = member.path.encode("utf-8", "surrogateescape")
    link = member.target.encode("utf-8", "surrogateescape") if member.kind == HARDLINK else b""
    records = b""
    if len(name) > 99:
        records += _pax_record("path", member.path)
        name = b"././@PaxPath"
    if len(link) > 99:
        records += _pax_record("linkpath", member.target)
        link = b"././@PaxLink"
    size = member.size
    if size > 0o77777777777:
        records += _pax_record("size", str(size))
        size = 0
    mode = file_mode(member.mode, read_only) if member.kind == FILE else member.mode
    main = _ustar(name, typeflag, size, mode, member.mtime, link)
    if not records:
        return main
    extended = _ustar(b"././@PaxHeader", b"x", len(records), 0o644, 0, b"")
    return extended + records + bytes(_padding(len(records))) + main


END_OF_ARCHIVE = bytes(2 * BLOCK)
