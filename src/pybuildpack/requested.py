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
from dataclasses import dataclass, field
from pathlib import Path

from pybuildpack.catalog import Catalog
from pybuildpack.errors import (
    BuildWarning,
    PyBuildpackError,
    PythonVersionFileMisspelled,
    PythonVersionFileUnreadable,
    PythonVersionNotSpecified,
    RuntimeTxtDeprecated,
    RuntimeTxtNotSupported,
)
from pybuildpack.version import Generation, MajorVersion, Origin, PythonVersion, RequestedVersion
from pybuildpack.version_files import (
    parse_pipfile_lock,
    parse_python_version_file,
    parse_runtime_txt,
)

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


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PythonVersionFileUnreadable(path=str(path), reason=exc.strerror or str(exc)) from None


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
) -> Requested:
    """Find the app's requested version and the warnings that go with where it came from."""
    try:
        return _read_requested_version(app_dir, catalog, generation, cached_version)
    except PyBuildpackError as exc:
        raise with_suggestion(exc, catalog) from None


def with_suggestion(exc: PyBuildpackError, catalog: Catalog) -> PyBuildpackError:
    """Parser errors suggest a version to write; the catalog (not code) decides which."""
    if getattr(exc, "suggested", False) is None:
        exc.suggested = catalog.default_major  # type: ignore[attr-defined]
    return exc


def _read_requested_version(
    app_dir: Path,
    catalog: Catalog,
    generation: Generation,
    cached_version: PythonVersion | None,
) -> Requested:
    runtime_txt = app_dir / RUNTIME_TXT
    if generation is Generation.FIR:
        if runtime_txt.exists() or runtime_txt.is_symlink():
            raise RuntimeTxtNotSupported(suggested=_suggest_from_runtime_txt(runtime_txt, catalog))
    elif _is_file(runtime_txt):
        request = parse_runtime_txt(_read(runtime_txt))
        return Requested(request, (RuntimeTxtDeprecated(suggested=request.series),))

    misspelled = find_misspelled(app_dir)
    if misspelled is not None:
        raise PythonVersionFileMisspelled(filename=misspelled)

    version_file = app_dir / PYTHON_VERSION_FILE
    if _is_file(version_file):
        return Requested(parse_python_version_file(_read(version_file)))

    if generation is Generation.CEDAR:
        lock = app_dir / PIPFILE_LOCK
        if _is_file(lock):
            request = parse_pipfile_lock(_read(lock))
            if request is not None:
                return Requested(request)
        if cached_version is not None:
            request = RequestedVersion(
                cached_version.major, cached_version.minor, None, Origin.CACHED
            )
            warning = PythonVersionNotSpecified(
                origin=Origin.CACHED, series=request.series, lookalikes=find_lookalikes(app_dir)
            )
            return Requested(request, (warning,))

    default = catalog.default_major
    request = RequestedVersion(default.major, default.minor, None, Origin.DEFAULT)
    warning = PythonVersionNotSpecified(
        origin=Origin.DEFAULT, series=default, lookalikes=find_lookalikes(app_dir)
    )
    return Requested(request, (warning,))


def _suggest_from_runtime_txt(path: Path, catalog: Catalog) -> MajorVersion:
    """The major to suggest for .python-version when migrating away from runtime.txt."""
    try:
        series = parse_runtime_txt(path.read_bytes()).series
    except (OSError, PyBuildpackError):  # unreadable or invalid: suggest the default
        return catalog.default_major
    info = catalog.get(series)
    return series if info is not None and info.supported else catalog.default_major
