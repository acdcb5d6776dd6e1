"""One call for the interfaces: which Python does the app in ``app_dir`` get?

read the version sources -> resolve against the catalog -> the uv rule -> check
``requires-python``. ``resolve``, ``check`` and both builds share it, so they agree.
Every version a message suggests writing is one ``requires-python`` allows (when any is).
"""

from __future__ import annotations

from pathlib import Path

from pybuildpack._record import is_record, replace
from pybuildpack.catalog import Catalog, SourceBuilds
from pybuildpack.errors import (
    AppDirNotFound,
    BuildWarning,
    PyBuildpackError,
    RuntimeTxtNotSupported,
    UvPythonVersionFileRequired,
    UvRuntimeTxtNotSupported,
)
from pybuildpack.requested import read_requested_version, suggest_major
from pybuildpack.requires_python import check_requires_python, parse_requires_python
from pybuildpack.resolve import Resolution, check_platform, for_source, resolve
from pybuildpack.version import Generation, MajorVersion, Origin, PythonVersion, RequestedVersion

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import TypeVar

    from pybuildpack.requires_python import PythonSpecifier

    D = TypeVar("D", PyBuildpackError, BuildWarning)


def read_pyproject(app_dir: Path) -> bytes | None:
    pyproject = app_dir / "pyproject.toml"
    try:
        return pyproject.read_bytes() if pyproject.is_file() else None
    except OSError:
        return None


def allowed_versions(pyproject: bytes | None) -> PythonSpecifier | None:
    """The app's ``requires-python`` as a specifier, when it has a usable one."""
    if pyproject is None:
        return None
    parsed = parse_requires_python(pyproject)
    return getattr(parsed, "specifier", None)


def respect_requires_python(diagnostic: D, catalog: Catalog, allowed: PythonSpecifier | None) -> D:
    """``diagnostic`` with its ``suggested`` major replaced when ``allowed`` excludes it."""
    if allowed is None or not is_record(diagnostic):
        return diagnostic
    suggested = getattr(diagnostic, "suggested", None)
    if not isinstance(suggested, MajorVersion):
        return diagnostic
    info = catalog.get(suggested)
    if (
        info is not None
        and info.latest_patch is not None
        and allowed.contains(str(info.latest), prereleases=True)
    ):
        return diagnostic
    better = suggest_major(catalog, suggested, allowed)
    if isinstance(diagnostic, PyBuildpackError):
        diagnostic.suggested = better  # type: ignore[attr-defined]
        return diagnostic
    return replace(diagnostic, suggested=better)  # type: ignore[type-var]


def uses_uv(app_dir: Path) -> bool:
    """A uv app: ``uv.lock`` in its root (the builds then install with uv)."""
    return (app_dir / "uv.lock").is_file()


def check_uv(request: RequestedVersion) -> None:
    """uv apps state their version in .python-version, which uv reads too: with no version
    stated (default or sticky) or one from runtime.txt (uv ignores it), local uv and the
    build could run different Pythons. Checked after resolution, as the classic build
    does (an end-of-life version is reported first)."""
    if request.origin in (Origin.DEFAULT, Origin.CACHED):
        raise UvPythonVersionFileRequired(suggested=request.series)
    if request.origin is Origin.RUNTIME_TXT:
        raise UvRuntimeTxtNotSupported(suggested=request.series)


def resolve_app(
    app_dir: Path,
    catalog: Catalog,
    *,
    generation: Generation = Generation.CEDAR,
    stack: str | None = None,
    arch: str | None = None,
    cached_version: PythonVersion | None = None,
    builds: SourceBuilds | None = None,
) -> Resolution:
    """Resolve the Python version for the app in ``app_dir``. Raises ``PyBuildpackError``.

    ``builds``: the archive source that will install it (the builds pass theirs), when
    known: a patch it lacks is ``python-version::unknown-patch`` now, a major resolves to
    the newest patch it has (see ``resolve.for_source``); checked for ``arch``."""
    if not app_dir.is_dir():
        raise AppDirNotFound(path=str(app_dir))
    check_platform(catalog, stack, arch)
    pyproject = read_pyproject(app_dir)
    allowed = allowed_versions(pyproject)
    try:
        requested = read_requested_version(
            app_dir,
            catalog,
            generation=generation,
            cached_version=cached_version if generation is Generation.CEDAR else None,
            allowed=allowed,
        )
        resolution = resolve(
            requested.version, catalog, generation=generation, stack=stack, arch=arch
        )
        resolution = for_source(resolution, catalog, builds, arch)
        if uses_uv(app_dir):
            check_uv(requested.version)
    except PyBuildpackError as err:
        if uses_uv(app_dir) and type(err) is RuntimeTxtNotSupported:  # fir: the uv variant
            err = UvRuntimeTxtNotSupported(suggested=err.suggested)
        raise respect_requires_python(err, catalog, allowed) from None
    checks = check_requires_python(resolution.version, requested.version.origin, pyproject, catalog)
    warnings = tuple(
        respect_requires_python(w, catalog, allowed)
        for w in (*requested.warnings, *resolution.warnings, *checks)
    )
    return replace(resolution, warnings=warnings)


__all__ = ["PyBuildpackError", "Resolution", "resolve_app"]
