"""Which version does an app ask for? Reads the app's version sources in precedence order.

Only reads the files it is pointed at in ``app_dir``; all decisions are delegated to the
pure parsers (``version_files``) and the resolver (``resolve``).

Precedence (first match wins):

====  ======================  ==============================  =======================
rank  source                  cedar (classic)                 fir (CNB)
====  ======================  ==============================  =======================
1     ``runtime.txt``         read, warning (deprecated)      error if present
2     misspelled names        error (unless runtime.txt)      error
3     ``.python-version``     read                            read
4     ``Pipfile.lock``        full version, then major        not read
5     cached version          major of the last build         not used (no stickiness)
6     catalog default         latest patch of default major   same
====  ======================  ==============================  =======================
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from pybuildpack._record import dataclass, field
from pybuildpack.catalog import Catalog
from pybuildpack.errors import (
    BuildWarning,
    PipfileLockOutsideApp,
    PyBuildpackError,
    PythonVersionFileMisspelled,
    PythonVersionFileMultipleVersions,
    PythonVersionFileUnreadable,
    PythonVersionNotSpecified,
    RuntimeTxtDeprecated,
    RuntimeTxtNotSupported,
    RuntimeTxtOutsideApp,
    VersionFileOutsideApp,
)
from pybuildpack.version import Generation, MajorVersion, Origin, PythonVersion, RequestedVersion
from pybuildpack.version_files import (
    guess_major,
    parse_pipfile_lock,
    parse_python_version_file,
    parse_runtime_txt,
)

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import TypeVar

    from packaging.specifiers import SpecifierSet

    T = TypeVar("T")

PYTHON_VERSION_FILE = ".python-version"
RUNTIME_TXT = "runtime.txt"
PIPFILE_LOCK = "Pipfile.lock"

# Names seen in real apps that were meant to be ".python-version". Exact, case-sensitive
# matches, checked in this order. Any of them is an error even next to a correct file: the
# user may be editing the wrong one.
MISSPELLED_NAMES: tuple[str, ...] = (
    " .python-version",
    ". python-version",
    ".python_version.txt",
    ".python_version",
    ".python-version ",
    ",python-version",
    ".python-version.",
    ".python-version.py",
    ".python-version.rtf",
    ".python-version.txt",
    ".python-version.TXT",
    ".Python-version",
    ".python.version",
    ".pythonversion",
    "'.python-version'",
    "python_version.txt",
    "python_version",
    "python-version.",
    "python-version.txt",
    "python-version",
)

_LOOKALIKE = re.compile(r"(?i).*python.?version.*")


@dataclass(frozen=True)
class Requested:
    version: RequestedVersion
    warnings: tuple[BuildWarning, ...] = field(default=())


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


_OUTSIDE_APP: dict[str, type[VersionFileOutsideApp]] = {
    RUNTIME_TXT: RuntimeTxtOutsideApp,
    PIPFILE_LOCK: PipfileLockOutsideApp,
}


def inside_app(app_dir: Path, name: str) -> Path:
    """``app_dir / name`` with symbolic links followed, refusing any that lead out of the
    app directory (typed ``...::outside-app`` error: its content is never read or shown)."""
    path = app_dir / name
    try:
        target = path.resolve()
        root = app_dir.resolve()
    except (OSError, RuntimeError):  # a link loop: reading it fails as unreadable
        return path
    if target == root or root in target.parents:
        return target
    try:
        shown = os.readlink(path)
    except OSError:  # not a link itself: a parent directory link inside the app leads out
        shown = str(target)
    cls = _OUTSIDE_APP.get(name, VersionFileOutsideApp)
    raise cls(filename=name, target=shown)


def read_app_file(app_dir: Path, name: str) -> bytes:
    """The bytes of the version file ``name`` in ``app_dir``; typed errors only."""
    path = inside_app(app_dir, name)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PythonVersionFileUnreadable(
            path=str(app_dir / name), reason=exc.strerror or str(exc)
        ) from None


def find_misspelled(app_dir: Path) -> str | None:
    """The first known misspelling of ``.python-version`` present in ``app_dir``."""
    try:
        present = set(os.listdir(app_dir))
    except OSError:
        return None
    for name in MISSPELLED_NAMES:
        if name in present and _is_file(app_dir / name):
            return name
    return None


def find_lookalikes(app_dir: Path) -> tuple[str, ...]:
    """Files in the app root whose name resembles a version file but is not one."""
    try:
        names = os.listdir(app_dir)
    except OSError:
        return ()
    return tuple(
        sorted(
            n
            for n in names
            if _LOOKALIKE.fullmatch(n) and n != PYTHON_VERSION_FILE and _is_file(app_dir / n)
        )
    )


def read_requested_version(
    app_dir: Path,
    catalog: Catalog,
    *,
    generation: Generation = Generation.CEDAR,
    cached_version: PythonVersion | None = None,
    allowed: SpecifierSet | None = None,
) -> Requested:
    """Find the app's requested version and the warnings that go with where it came from.

    ``allowed``: the app's ``requires-python``, so that no error suggests a version it
    excludes.
    """
    try:
        return _read_requested_version(app_dir, catalog, generation, cached_version, allowed)
    except PyBuildpackError as exc:
        raise with_suggestion(exc, catalog, allowed=allowed) from None


def suggest_major(
    catalog: Catalog, wrote: MajorVersion | None, allowed: SpecifierSet | None = None
) -> MajorVersion:
    """The major version to advise writing: the one the user wrote when builds can use it,
    else the catalog's default, else another supported major (newest first); never one
    whose newest patch ``allowed`` (requires-python) excludes, while another one fits."""
    candidates: list[MajorVersion] = []
    if wrote is not None:
        info = catalog.get(wrote)
        if info is not None and info.supported and info.latest_patch is not None:
            candidates.append(wrote)
    candidates.append(catalog.default_major)
    offered = sorted(
        (m for m in catalog.supported if m.latest_patch is not None),
        key=lambda m: (getattr(m, "status", "supported") == "supported", m.series),
        reverse=True,
    )  # fully supported majors first, newest first; then deprecated ones
    candidates += [m.series for m in offered]
    if allowed is not None:
        for series in candidates:
            info = catalog.get(series)
            if info is not None and allowed.contains(str(info.latest), prereleases=True):
                return series
    return candidates[0]


def with_suggestion(
    exc: PyBuildpackError,
    catalog: Catalog,
    *,
    data: bytes | None = None,
    allowed: SpecifierSet | None = None,
) -> PyBuildpackError:
    """Parser errors suggest a version to write: the major the file itself names (``data``,
    its bytes) when builds can use it, else one the catalog offers; never one that
    ``allowed`` (requires-python) excludes."""
    if getattr(exc, "suggested", False) is None:
        wrote = guess_major(data) if data is not None else None
        if wrote is None and isinstance(exc, PythonVersionFileMultipleVersions):
            wrote = guess_major(exc.versions[0].encode())
        exc.suggested = suggest_major(catalog, wrote, allowed)  # type: ignore[attr-defined]
    return exc


def _parse(parser: Callable[[bytes], T], data: bytes, catalog: Catalog,
           allowed: SpecifierSet | None) -> T:  # fmt: skip
    try:
        return parser(data)
    except PyBuildpackError as exc:
        raise with_suggestion(exc, catalog, data=data, allowed=allowed) from None


def _read_requested_version(
    app_dir: Path,
    catalog: Catalog,
    generation: Generation,
    cached_version: PythonVersion | None,
    allowed: SpecifierSet | None,
) -> Requested:
    runtime_txt = app_dir / RUNTIME_TXT
    if generation is Generation.FIR:
        if runtime_txt.exists() or runtime_txt.is_symlink():
            raise RuntimeTxtNotSupported(
                suggested=_suggest_from_runtime_txt(runtime_txt, catalog, allowed)
            )
    elif _is_file(runtime_txt):
        request = _parse(parse_runtime_txt, read_app_file(app_dir, RUNTIME_TXT), catalog, allowed)
        return Requested(request, (RuntimeTxtDeprecated(suggested=request.series),))

    misspelled = find_misspelled(app_dir)
    if misspelled is not None:
        raise PythonVersionFileMisspelled(filename=misspelled)

    version_file = app_dir / PYTHON_VERSION_FILE
    if _is_file(version_file):
        return Requested(
            _parse(
                parse_python_version_file,
                read_app_file(app_dir, PYTHON_VERSION_FILE),
                catalog,
                allowed,
            )
        )

    if generation is Generation.CEDAR:
        lock = app_dir / PIPFILE_LOCK
        if _is_file(lock):
            request = _parse(
                parse_pipfile_lock, read_app_file(app_dir, PIPFILE_LOCK), catalog, allowed
            )
            if request is not None:
                return Requested(request)
        if cached_version is not None:
            request = RequestedVersion(
                cached_version.major, cached_version.minor, None, Origin.CACHED
            )
            warning = PythonVersionNotSpecified(
                origin=Origin.CACHED,
                series=request.series,
                lookalikes=find_lookalikes(app_dir),
                suggested=suggest_major(catalog, request.series, allowed),
            )
            return Requested(request, (warning,))

    default = catalog.default_major
    request = RequestedVersion(default.major, default.minor, None, Origin.DEFAULT)
    warning = PythonVersionNotSpecified(
        origin=Origin.DEFAULT,
        series=default,
        lookalikes=find_lookalikes(app_dir),
        suggested=suggest_major(catalog, default, allowed),
    )
    return Requested(request, (warning,))


def _suggest_from_runtime_txt(
    path: Path, catalog: Catalog, allowed: SpecifierSet | None
) -> MajorVersion:
    """The major to suggest for .python-version when migrating away from runtime.txt: the
    one it names (even in a malformed file), when builds can use it."""
    try:
        wrote = guess_major(read_app_file(path.parent, path.name))
    except PyBuildpackError:  # unreadable, or a link out of the app: not read
        wrote = None
    return suggest_major(catalog, wrote, allowed)
