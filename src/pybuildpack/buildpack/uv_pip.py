"""Installing ``requirements.txt`` with uv's pip interface instead of pip (issue 12, item 2).

``PYBUILDPACK_INSTALLER`` (an app config var on classic, the build environment on CNB)
chooses: ``pip``, ``uv`` or ``auto`` (the default). ``auto`` takes uv only when nothing in
the requirements files or the build's pip settings could make uv install something other
than what pip would (``uv_unsupported``, a conservative rule); otherwise pip, and the log
says why. ``uv`` insists: its fetch failing fails the build (``auto`` falls back to pip).

The uv binary comes from uv's PyPI wheel at the version pinned in ``data/tools.json``: found
in a local ``PIP_FIND_LINKS`` folder, else fetched by ``pip download`` with the build's
``PIP_*`` settings (index, mirror, offline wheelhouse). The wheel is accepted only when its
sha256 is the one pinned for that version and platform tag (``uv_wheel_sha256``); another
file under that name is ``install-package-manager::checksum-mismatch`` (never run, never a
silent fallback: a mirror serving other bytes is something to fix). A platform with no pin
installs with pip. The binary is kept in the build cache / a cache layer, keyed by version
and wheel checksum.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from pybuildpack._record import dataclass
from pybuildpack.buildpack import deps
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.catalog import package_data_text
from pybuildpack.errors import (
    DependencyInstallFailed,
    InstallerInvalid,
    PackageManagerInstallFailed,
    UvWheelChecksumMismatch,
)

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO

INSTALLER_ENV = "PYBUILDPACK_INSTALLER"
UV_VERSION = deps.TOOL_VERSIONS[deps.PackageManager.UV]


class InstallerChoice(str, enum.Enum):
    AUTO = "auto"
    PIP = "pip"
    UV = "uv"


def installer_choice(settings: Mapping[str, str]) -> InstallerChoice:
    raw = settings.get(INSTALLER_ENV, "").strip()
    if not raw:
        return InstallerChoice.AUTO
    try:
        return InstallerChoice(raw.lower())
    except ValueError:
        raise InstallerInvalid(value=raw) from None


# --------------------------------------------------------------------------- the rule

# Options uv's requirements-file parser reads as pip does (with a value, or a flag).
_OPTIONS_WITH_VALUE = frozenset(
    {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url",
     "-f", "--find-links", "--only-binary", "--no-binary"}
)  # fmt: skip
_FLAGS = frozenset({"--no-index"})
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})

# PIP_* settings uv gets an equivalent of (``uv_settings``), and those that change nothing
# about what is installed. Any other PIP_* setting means pip.
MAPPED_PIP_SETTINGS = ("PIP_NO_INDEX", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
                       "PIP_CERT", "PIP_DEFAULT_TIMEOUT")  # fmt: skip
NEUTRAL_PIP_SETTINGS = frozenset(
    {"PIP_DISABLE_PIP_VERSION_CHECK", "PIP_ROOT_USER_ACTION", "PIP_NO_INPUT",
     "PIP_PROGRESS_BAR", "PIP_CACHE_DIR", "PIP_NO_CACHE_DIR", "PIP_SRC", "PIP_EXISTS_ACTION",
     "PIP_NO_WARN_SCRIPT_LOCATION", "PIP_PYTHON", "PIP_REQUIRE_VIRTUALENV"}
)  # fmt: skip


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(line number, content) of a requirements file: continuations joined, comments and
    blank lines dropped."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = pending + raw
        pending = ""
        line = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if line:
            out.append((start, line))
    if pending.strip():
        out.append((start, pending.strip()))
    return out


@dataclass(frozen=True)
class Scan:
    """What ``scan_requirements`` found: why uv cannot be used (None: it can), and whether
    any requirement carries a hash (pip then checks every one: ``--require-hashes``)."""

    reason: str | None
    hashes: bool = False


def scan_requirements(path: Path, root: Path, seen: set[Path] | None = None) -> Scan:
    """Can uv install ``path`` (and the files it includes) as pip would? Conservative: only
    named requirements (extras, versions, markers, ``name @ https://...``, ``--hash``) and
    the options in ``_OPTIONS_WITH_VALUE``/``_FLAGS``; editable installs, local paths, VCS
    URLs and every other option mean pip."""
    seen = set() if seen is None else seen
    try:
        shown = str(path.relative_to(root))
    except ValueError:
        shown = str(path)
    if path.resolve() in seen:
        return Scan(None)
    seen.add(path.resolve())
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return Scan(f"{shown} cannot be read as UTF-8")
    hashes = False
    for number, line in logical_lines(text):
        where = f"{shown} line {number}"
        if line.startswith("-"):
            words = line.replace("=", " ", 1).split()
            option = words[0]
            if option in ("-e", "--editable"):
                return Scan(f"{where} is an editable install (-e)")
            if option in _FLAGS:
                continue
            if option not in _OPTIONS_WITH_VALUE:
                return Scan(f"{where} uses {option}, which the uv rule does not cover")
            if len(words) < 2:
                return Scan(f"{where}: {option} without a value")
            if option in ("-r", "--requirement", "-c", "--constraint"):
                if "://" in words[1]:
                    return Scan(f"{where} includes a file by URL")
                sub = scan_requirements(path.parent / words[1], root, seen)
                if sub.reason is not None:
                    return sub
                hashes = hashes or sub.hashes
            continue
        requirement, _, options = line.partition(" --")
        words = ("--" + options).replace("=", " ").split() if options else []
        for option, value in zip(words[::2], [*words[1::2], ""], strict=False):
            if option != "--hash" or ":" not in value:
                return Scan(f"{where} uses {option} on a requirement")
            hashes = True
        match = _NAME.match(requirement)
        if match is None:
            return Scan(f"{where} is a path or URL, not a named requirement")
        rest = requirement[match.end() :]
        if "@" in rest.split(";", 1)[0]:
            url = rest.split("@", 1)[1].strip()
            if not url.startswith(("https://", "http://")) or "+" in url.split("://")[0]:
                return Scan(f"{where} installs from {url.split()[0] if url else 'a URL'}")
        elif any(c in rest.split(";", 1)[0] for c in "/\\:"):
            return Scan(f"{where} is a path or URL, not a named requirement")
    return Scan(None, hashes)


def settings_unsupported(settings: Mapping[str, str]) -> str | None:
    for name in sorted(settings):
        if not name.startswith("PIP_") or name in MAPPED_PIP_SETTINGS:
            continue
        if name in NEUTRAL_PIP_SETTINGS:
            continue
        if name == "PIP_CONFIG_FILE" and settings[name] == os.devnull:
            continue
        return f"{name} is set, and uv has no equivalent of it"
    if settings.get("PIP_NO_INDEX", "").strip().lower() not in _TRUE | _FALSE:
        return f"PIP_NO_INDEX is {settings['PIP_NO_INDEX']!r}"
    return None


@dataclass(frozen=True)
class Plan:
    """Which tool installs requirements.txt, and why."""

    use_uv: bool
    choice: InstallerChoice
    reason: str | None = None  # why not uv (auto), or None
    require_hashes: bool = False


def plan(
    choice: InstallerChoice, app_dir: Path, settings: Mapping[str, str], files: Sequence[str]
) -> Plan:
    if choice is InstallerChoice.PIP:
        return Plan(False, choice)
    hashes = False
    reason = settings_unsupported(settings)
    for name in files:
        if reason is not None:
            break
        scan = scan_requirements(app_dir / name, app_dir)
        reason, hashes = scan.reason, hashes or scan.hashes
    if reason is None and machine_wheel_tag() is None:
        reason = f"uv {UV_VERSION} has no pinned wheel for this platform ({platform.machine()})"
    if reason is not None and choice is InstallerChoice.AUTO:
        return Plan(False, choice, reason)
    # choice uv: the rule is the user's to override
    return Plan(True, choice, reason, hashes)


# --------------------------------------------------------------------------- settings


def _words(value: str) -> list[str]:
    return value.split()


def uv_settings(settings: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The build's pip index settings as uv arguments and environment."""
    args: list[str] = []
    env: dict[str, str] = {}
    if settings.get("PIP_INDEX_URL", "").strip():
        args += ["--index-url", settings["PIP_INDEX_URL"].strip()]
    for url in _words(settings.get("PIP_EXTRA_INDEX_URL", "")):
        args += ["--extra-index-url", url]
    for link in _words(settings.get("PIP_FIND_LINKS", "")):
        args += ["--find-links", link]
    if settings.get("PIP_NO_INDEX", "").strip().lower() in _TRUE:
        args.append("--no-index")
    if settings.get("PIP_CERT", "").strip():
        env["SSL_CERT_FILE"] = settings["PIP_CERT"].strip()
    if settings.get("PIP_DEFAULT_TIMEOUT", "").strip():
        env["UV_HTTP_TIMEOUT"] = settings["PIP_DEFAULT_TIMEOUT"].strip()
    return args, env


def uv_install_command(
    uv: Path,
    python: Path,
    files: Sequence[str],
    settings: Mapping[str, str],
    cache_dir: Path,
    *,
    require_hashes: bool = False,
) -> list[str]:
    index_args, _ = uv_settings(settings)
    reqs = [w for f in files for w in ("-r", f)]
    return [
        str(uv), "pip", "install", "--no-config", "--python", str(python), *reqs,
        *(["--require-hashes"] if require_hashes else []),
        "--compile-bytecode", "--no-progress", "--link-mode", "copy",
        "--cache-dir", str(cache_dir), *index_args,
    ]  # fmt: skip


def uv_pin_command(
    uv: Path,
    python: Path,
    wanted: Mapping[str, str],
    settings: Mapping[str, str],
    cache_dir: Path,
) -> list[str]:
    """Install exactly ``wanted`` (name -> version: pip, setuptools) into the environment of
    ``python`` with uv, from the build's index settings.

    Without ``--compile-bytecode``: these are build tools the app does not import, and
    compiling pip's ~440 modules costs a cold build about 0.3 s on two CPUs (0.55 s of CPU,
    beside uv compiling the dependencies). Python compiles them on first use, and writes
    the bytecode where the tree is writable (docs/buildpack.md, 'The pinned pip, installed
    by uv')."""
    index_args, _ = uv_settings(settings)
    return [
        str(uv), "pip", "install", "--no-config", "--python", str(python), "--no-progress",
        "--link-mode", "copy",
        "--cache-dir", str(cache_dir), *index_args, *(f"{n}=={v}" for n, v in wanted.items()),
    ]  # fmt: skip


class UvQuery:
    """uv's query of an interpreter, run ahead of the first install that needs it.

    Each uv command first runs the interpreter it installs into, to learn its version,
    paths and tags (~30 ms), and keeps the answer in its cache, keyed by the interpreter's
    path. ``uv pip list`` does only that, reads the environment and changes nothing; the
    interpreter runs as uv always runs it for that (isolated, no bytecode written). It runs
    with the same interpreter path, environment and cache as the install after it, which then
    finds the answer. Its output is not shown and its failure changes nothing: the install
    then asks again."""

    def __init__(
        self,
        uv: Path,
        *,
        python: Path,
        env: Mapping[str, str],
        settings: Mapping[str, str],
        cache_dir: Path,
        cwd: Path,
    ) -> None:
        cmd = [str(uv), "pip", "list", "--no-config", "--python", str(python), "--quiet",
               "--cache-dir", str(cache_dir)]  # fmt: skip
        try:
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                cmd, env=uv_install_env(env, settings), cwd=cwd,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        except OSError:
            self.proc = None

    def wait(self) -> None:
        if self.proc is not None:
            self.proc.wait()


def uv_install_env(env: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    _, extra = uv_settings(settings)
    return {**env, **extra, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_MANAGED_PYTHON": "1"}


# --------------------------------------------------------------------------- the uv wheel


def wheel_pins(text: str | None = None) -> dict[str, str]:
    """Platform tag -> sha256 of the pinned uv version's wheels (``data/tools.json``)."""
    if text is None:
        return dict(_bundled_pins())
    pins = json.loads(text).get("uv_wheel_sha256", {}).get(UV_VERSION, {})
    return {str(k): str(v) for k, v in pins.items()}


@functools.cache
def _bundled_pins() -> dict[str, str]:
    """``wheel_pins`` of the bundled ``data/tools.json``, read once per process (a build
    asks for them at every step that looks for uv)."""
    return wheel_pins(package_data_text("tools.json"))


@functools.cache
def _libc() -> str:
    return "musllinux" if list(Path("/lib").glob("ld-musl-*")) else "manylinux"


def machine_wheel_tag(pins: Mapping[str, str] | None = None) -> str | None:
    """The pinned platform tag that runs on this machine (arch, glibc or musl), if any."""
    pins = wheel_pins() if pins is None else pins
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower())
    arch = arch or platform.machine().lower()
    libc = _libc()
    for tag in sorted(pins):
        if any(p.startswith(libc) and p.endswith("_" + arch) for p in tag.split(".")):
            return tag
    return None


def entry_name(sha256: str) -> str:
    """The folder that holds the uv binary of the wheel with this sha256, in a build
    cache's tools and in the machine's tool store."""
    return f"uv-{UV_VERSION}-{sha256[:16]}"


def machine_entry_name() -> str | None:
    """``entry_name`` of this machine's pinned wheel; None where none is pinned."""
    tag = machine_wheel_tag()
    return None if tag is None else entry_name(wheel_pins()[tag])


def wheel_name(tag: str) -> str:
    return f"uv-{UV_VERSION}-py3-none-{tag}.whl"


def _local_dirs(settings: Mapping[str, str]) -> list[Path]:
    dirs = []
    for link in _words(settings.get("PIP_FIND_LINKS", "")):
        if link.startswith("file://"):
            link = link.removeprefix("file://")
        elif "://" in link:
            continue
        if Path(link).is_dir():
            dirs.append(Path(link))
    return dirs


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_uv(root: Path) -> Path | None:
    """The cached binary for the pinned version and this machine's pinned wheel, if any."""
    name = machine_entry_name()
    if name is None:
        return None
    exe = root / name / "uv"
    return exe if exe.is_file() else None


def _local_wheel(settings: Mapping[str, str], tag: str) -> tuple[Path, str] | None:
    """The pinned uv wheel in a local ``PIP_FIND_LINKS`` folder, and that folder."""
    for folder in _local_dirs(settings):
        if (folder / wheel_name(tag)).is_file():
            return folder / wheel_name(tag), str(folder)
    return None


def _unzip_member(wheel: Path, member: str, dst: BinaryIO) -> None:
    """Write ``member`` of the zip file ``wheel`` to ``dst``. A deflated member is inflated
    with ISA-L where the runner has it (``isal``: about 3x zlib's speed on uv's 38 MB
    binary), its CRC-32 and size checked as ``zipfile`` checks them; otherwise by
    ``zipfile``."""
    with zipfile.ZipFile(wheel) as z:
        info = z.getinfo(member)
        try:
            from isal import isal_zlib
        except ImportError:
            isal_zlib = None
        if isal_zlib is None or info.compress_type != zipfile.ZIP_DEFLATED:
            try:
                with z.open(info) as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except zlib.error as exc:  # zipfile's own CRC check raises BadZipFile
                raise zipfile.BadZipFile(f"{wheel.name}: {member} is damaged") from exc
            return
    with wheel.open("rb") as src:
        src.seek(info.header_offset)
        header = src.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"{wheel.name}: no local header for {member}")
        name_len, extra_len = (
            int.from_bytes(header[26:28], "little"),
            int.from_bytes(header[28:30], "little"),
        )
        src.seek(info.header_offset + 30 + name_len + extra_len)
        inflate = isal_zlib.decompressobj(-15)
        left, crc, size = info.compress_size, 0, 0
        damaged = zipfile.BadZipFile(f"{wheel.name}: {member} is damaged")
        while left > 0:
            chunk = src.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)
            try:
                out = inflate.decompress(chunk)
            except Exception as exc:  # isal's IsalError for a broken deflate stream
                raise damaged from exc
            crc, size = isal_zlib.crc32(out, crc), size + len(out)
            dst.write(out)
        try:
            out = inflate.flush()
        except Exception as exc:
            raise damaged from exc
        crc, size = isal_zlib.crc32(out, crc), size + len(out)
        dst.write(out)
    if left or not inflate.eof or crc != info.CRC or size != info.file_size:
        raise damaged


def _install_wheel(root: Path, wheel: Path, source: str, machine: Path | None = None) -> Path:
    """Verify ``wheel`` against its pinned sha256 and unpack its uv binary into the cache
    under ``root`` (a temporary folder renamed into place); return the binary. With
    ``machine``, the binary is also offered to that tool store (``publish_uv``)."""
    pins = wheel_pins()
    expected = pins.get(wheel.name.removeprefix(f"uv-{UV_VERSION}-py3-none-")[:-4])
    if expected is None:
        raise PackageManagerInstallFailed(
            package_manager="uv", version=UV_VERSION,
            detail=f"{wheel.name} has no pinned sha256 in data/tools.json",
        )  # fmt: skip
    actual = _sha256(wheel)
    if actual != expected:
        raise UvWheelChecksumMismatch(
            wheel=wheel.name, expected=expected, actual=actual, source=source
        )
    tag = machine_wheel_tag(pins)
    final = root / entry_name(pins[tag] if tag else expected)  # cached_uv's
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-uv-{os.getpid()}-", dir=root))
    try:
        member = f"uv-{UV_VERSION}.data/scripts/uv"
        with (tmp / "uv").open("wb") as dst:
            _unzip_member(wheel, member, dst)
        (tmp / "uv").chmod(0o755)
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if machine is not None:
        publish_uv(final / "uv", machine)
    return final / "uv"


# --------------------------------------------------------------------------- the machine's copy

# The machine's tool store (``<download cache>/tools``) keeps the verified uv binary for
# every new build cache on the machine: ``uv-<version>-<sha16>/uv`` (read-only) and
# ``uv-<version>-<sha16>/stamp`` (its size, mtime and mode when it was stored). An entry is
# made in a temporary folder and renamed into place whole; one whose binary no longer
# matches its stamp (rewritten, truncated, re-moded) is passed over, and the wheel is
# unpacked as if there were none. The binary is copied both ways, never hard-linked: an
# app's build may write its own build cache, and must not reach the copy other apps' builds
# on this machine take (38 MB, about 20 ms).
_STAMP = "stamp"


def _stamp_of(st: os.stat_result) -> str:
    return f"{st.st_size} {st.st_mtime_ns} {stat.S_IMODE(st.st_mode):o}\n"


def stored_uv(machine: Path) -> Path | None:
    """The machine's copy of the pinned uv for this platform, if whole and unchanged."""
    name = machine_entry_name()
    if name is None:
        return None
    entry = machine / name
    try:
        st = os.lstat(entry / "uv")
        stamp = (entry / _STAMP).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return entry / "uv" if stat.S_ISREG(st.st_mode) and _stamp_of(st) == stamp else None


def publish_uv(exe: Path, machine: Path) -> None:
    """Offer the verified binary ``exe`` to the machine's tool store (best effort: a store
    that cannot be written only means the next new build cache unpacks the wheel)."""
    final = machine / exe.parent.name
    if final.exists():
        return
    tmp: Path | None = None
    try:
        machine.mkdir(parents=True, exist_ok=True)
        for left in machine.glob(".tmp-uv-*"):  # of killed builds: an hour is plenty
            if time.time() - left.lstat().st_mtime > 3600:
                shutil.rmtree(left, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-uv-{os.getpid()}-", dir=machine))
        shutil.copy2(exe, tmp / "uv")
        os.chmod(tmp / "uv", 0o555)
        (tmp / _STAMP).write_text(_stamp_of(os.lstat(tmp / "uv")), "utf-8")
        os.rename(tmp, final)
    except OSError:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def adopt_uv(root: Path, machine: Path) -> Path | None:
    """Put the machine's copy of uv (``stored_uv``) into the build cache under ``root``, as
    ``_install_wheel`` would have; return it, or None when the machine has none."""
    stored = stored_uv(machine)
    if stored is None:
        return None
    final = root / stored.parent.name
    tmp: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-uv-{os.getpid()}-", dir=root))
        shutil.copy2(stored, tmp / "uv")
        if stored_uv(machine) != stored:  # changed while it was copied
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
    except OSError:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return None
    return final / "uv"


class UvPrefetch:
    """Verifies and unpacks the pinned uv wheel from a local ``PIP_FIND_LINKS`` folder in a
    thread, while the build installs or restores the runtime: inflating uv's 38 MB binary
    takes about 0.4 s, and zlib lets other threads run meanwhile. ``fetch_uv`` waits for it
    and reports it (a checksum mismatch fails the build there, as without the thread)."""

    def __init__(self, root: Path, wheel: Path, source: str, machine: Path | None) -> None:
        self.wheel, self.source = wheel, source
        self.error: BaseException | None = None
        self.done = False
        self.thread = threading.Thread(target=self._run, args=(root, machine), daemon=True)
        self.thread.start()

    def _run(self, root: Path, machine: Path | None) -> None:
        try:
            _install_wheel(root, self.wheel, self.source, machine)
            self.done = True
        except BaseException as exc:  # reported, or redone, by fetch_uv
            self.error = exc

    def wait(self) -> None:
        self.thread.join()


def prefetch_uv(
    root: Path, settings: Mapping[str, str], machine: Path | None = None
) -> UvPrefetch | None:
    """Start unpacking the pinned uv wheel (``UvPrefetch``) when it is not cached under
    ``root`` nor in the ``machine``'s tool store and a local folder has it; None otherwise
    (``fetch_uv`` does it all)."""
    tag = machine_wheel_tag()
    if tag is None or cached_uv(root) is not None:
        return None
    if machine is not None and stored_uv(machine) is not None:
        return None
    found = _local_wheel(settings, tag)
    return None if found is None else UvPrefetch(root, *found, machine)


def fetch_uv(
    root: Path,
    *,
    python: Path,
    env: Mapping[str, str],
    settings: Mapping[str, str],
    cwd: Path,
    log: BuildLog,
    pip: Sequence[str] | None = None,
    prefetched: UvPrefetch | None = None,
    machine: Path | None = None,
) -> Path:
    """The uv binary, from the cache under ``root``, the ``machine``'s tool store or its
    verified wheel (kept under ``root``, keyed by version and checksum, and offered to the
    tool store). Raises ``PackageManagerInstallFailed`` when no wheel can be had,
    ``UvWheelChecksumMismatch`` for a wheel that is not the pinned one.

    ``pip``: how to run pip for ``pip download`` (default ``python -m pip``; a runtime
    without pip gives its bundled wheel, ``deps.pip_runner``). ``prefetched``: the
    ``prefetch_uv`` of this build, if any."""
    pins = wheel_pins()
    tag = machine_wheel_tag(pins)
    if tag is None:
        raise PackageManagerInstallFailed(
            package_manager="uv", version=UV_VERSION, detail="no pinned wheel for this platform"
        )
    final = root / entry_name(pins[tag])
    if prefetched is not None:
        prefetched.wait()
        if isinstance(prefetched.error, UvWheelChecksumMismatch):
            raise prefetched.error
        if prefetched.done and (final / "uv").is_file():
            log.step(f"Installing uv {UV_VERSION}")
            log.info(f"uv {UV_VERSION} from {prefetched.wheel.name} (sha256 verified)")
            return final / "uv"
    if (final / "uv").is_file():
        log.step(f"Using cached uv {UV_VERSION}")
        return final / "uv"
    log.step(f"Installing uv {UV_VERSION}")
    adopted = adopt_uv(root, machine) if machine is not None else None
    if adopted is not None:
        log.info(f"uv {UV_VERSION} from this machine's tool store (its wheel's sha256 was "
                 "verified when it was stored)")  # fmt: skip
        return adopted
    root.mkdir(parents=True, exist_ok=True)
    found = _local_wheel(settings, tag)
    if found is not None:
        wheel = found[0]
        exe = _install_wheel(root, *found, machine)
    else:
        download = Path(tempfile.mkdtemp(prefix=f".tmp-uv-download-{os.getpid()}-", dir=root))
        try:
            cmd = [
                *(pip or [str(python), "-m", "pip"]), "download", "--no-deps",
                "--only-binary=:all:", "--no-cache-dir", "--no-input", "--quiet",
                "--disable-pip-version-check", "--dest", str(download), f"uv=={UV_VERSION}",
            ]  # fmt: skip
            code, tail = deps.run(cmd, env=env, cwd=cwd, log=log)
            downloaded = sorted(download.glob("uv-*.whl"))
            if code != 0 or not downloaded:
                raise PackageManagerInstallFailed(
                    package_manager="uv", version=UV_VERSION, detail="\n".join(tail[-5:])
                )
            wheel = downloaded[0]
            exe = _install_wheel(root, wheel, "the package index (pip download)", machine)
        finally:
            shutil.rmtree(download, ignore_errors=True)
    log.info(f"uv {UV_VERSION} from {wheel.name} (sha256 verified)")
    return exe


def describe(p: Plan) -> str:
    """The dependency step's log line."""
    tool = f"uv {UV_VERSION}" if p.use_uv else "pip"
    return f"Installing dependencies with {tool} ({INSTALLER_ENV}={p.choice.value})"


def install(
    uv: Path,
    *,
    python: Path,
    plan: Plan,
    files: Sequence[str],
    settings: Mapping[str, str],
    env: Mapping[str, str],
    cache_dir: Path,
    cwd: Path,
    log: BuildLog,
) -> None:
    """``uv pip install -r ...`` into the environment of ``python``."""
    cmd = uv_install_command(
        uv, python, files, settings, cache_dir, require_hashes=plan.require_hashes
    )
    code, _ = deps.run(cmd, env=uv_install_env(env, settings), cwd=cwd, log=log)
    if code != 0:
        shown = " ".join(["uv", *cmd[1:]])
        raise DependencyInstallFailed(package_manager="uv", command=shown, exit_code=code)
