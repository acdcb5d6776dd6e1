"""Installing a runtime through the provisioning layer (``pybuildpack.provision.api``).

The installer is injectable (tests pass a fake with the same signature); the default is
imported lazily so the interfaces work, and can be unit-tested, on their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from pybuildpack._record import dataclass
from pybuildpack.catalog import Catalog, SourceBuilds, downloads_path, source_builds
from pybuildpack.errors import PyBuildpackError, PythonInstallFailed
from pybuildpack.version import PythonVersion


class InstallResultLike(Protocol):
    version: PythonVersion
    dest: Path
    url: str
    bytes: int
    seconds: float
    cache_hit: bool


Installer = Callable[..., Any]


def default_installer() -> Installer:
    from pybuildpack.provision.api import install_python

    return install_python


@dataclass(frozen=True)
class Installed:
    version: PythonVersion
    url: str
    bytes: int
    seconds: float


SETTINGS = {
    "PYBUILDPACK_SOURCE": "source",
    "PYBUILDPACK_MIRROR": "mirror",
    "PYBUILDPACK_DOWNLOADS": "downloads",
    "PYBUILDPACK_CACHE_DIR": "cache_dir",
    "PYBUILDPACK_UNPACKER": "unpacker",
    "PYBUILDPACK_ALLOW_INSECURE_HTTP": "allow_insecure_http",
}
_FLAGS = {"allow_insecure_http"}


def provisioning_options(settings: Mapping[str, str]) -> dict[str, Any]:
    """The installer's keyword arguments set by provisioning variables in ``settings``."""
    options: dict[str, Any] = {}
    for var, key in SETTINGS.items():
        value = settings.get(var)
        if key in _FLAGS:
            if value and value.strip().lower() in ("1", "true", "yes", "on"):
                options[key] = True
        elif value:
            options[key] = Path(value) if key in ("downloads", "cache_dir") else value
    return options


def build_source_builds(settings: Mapping[str, str], catalog: Catalog) -> SourceBuilds | None:
    """The builds of the archive source a build installs from: ``PYBUILDPACK_SOURCE`` (an
    app config var too) or the default, with ``PYBUILDPACK_DOWNLOADS`` or the download
    metadata that goes with ``catalog``. ``None`` for a source without a list of builds
    (the catalog's patches stand for it). Resolving against it makes a patch the source
    lacks an error before anything is downloaded."""
    from pybuildpack.provision.sources import choose_source, load_downloads

    options = provisioning_options(settings)
    name = choose_source(options.get("source"))
    downloads = options.get("downloads") or downloads_path(None, catalog)
    return source_builds(load_downloads(downloads), name)


def install_runtime(
    version: PythonVersion,
    dest: Path,
    *,
    stack: str | None,
    arch: str | None,
    installer: Installer | None = None,
    cache_dir: Path | None = None,
    settings: Mapping[str, str] | None = None,
) -> Installed:
    """Install ``version`` into ``dest`` (then ``dest/bin/python3`` is the runtime).

    ``settings`` is the build's environment including the app's config vars: the
    provisioning variables in it (source, mirror, download metadata, download cache) apply,
    so ``PYBUILDPACK_MIRROR`` works as an app config var too."""
    install = installer or default_installer()
    start = time.monotonic()
    options: dict[str, Any] = provisioning_options(settings or {})
    if cache_dir is not None:
        options["cache_dir"] = cache_dir
    try:
        result = install(version, dest, stack=stack, arch=arch, progress=False, **options)
    except PyBuildpackError:
        raise
    except Exception as exc:  # the provisioning layer types what it knows; the rest is here
        raise PythonInstallFailed(version=version, detail=f"{type(exc).__name__}: {exc}") from exc
    if not (dest / "bin" / "python3").exists():
        raise PythonInstallFailed(
            version=version, detail=f"the install finished but {dest}/bin/python3 is missing"
        )
    return Installed(
        version=version,
        url=str(getattr(result, "url", "")),
        bytes=int(getattr(result, "bytes", 0) or 0),
        seconds=float(getattr(result, "seconds", time.monotonic() - start)),
    )
