"""One call for the interfaces: which Python does the app in ``app_dir`` get?

read the version sources -> resolve against the catalog -> check ``requires-python``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from pybuildpack.catalog import Catalog
from pybuildpack.errors import AppDirNotFound, PyBuildpackError
from pybuildpack.requested import read_requested_version
from pybuildpack.requires_python import check_requires_python
from pybuildpack.resolve import Resolution, check_platform, resolve
from pybuildpack.version import Generation, PythonVersion


def resolve_app(
    app_dir: Path,
    catalog: Catalog,
    *,
    generation: Generation = Generation.CEDAR,
    stack: str | None = None,
    arch: str | None = None,
    cached_version: PythonVersion | None = None,
) -> Resolution:
    """Resolve the Python version for the app in ``app_dir``. Raises ``PyBuildpackError``."""
    if not app_dir.is_dir():
        raise AppDirNotFound(path=str(app_dir))
    check_platform(catalog, stack, arch)
    requested = read_requested_version(
        app_dir,
        catalog,
        generation=generation,
        cached_version=cached_version if generation is Generation.CEDAR else None,
    )
    resolution = resolve(requested.version, catalog, generation=generation, stack=stack, arch=arch)
    pyproject = app_dir / "pyproject.toml"
    try:
        pyproject_bytes = pyproject.read_bytes() if pyproject.is_file() else None
    except OSError:
        pyproject_bytes = None
    checks = check_requires_python(
        resolution.version, requested.version.origin, pyproject_bytes, catalog
    )
    return replace(resolution, warnings=(*requested.warnings, *resolution.warnings, *checks))


__all__ = ["PyBuildpackError", "Resolution", "resolve_app"]
