"""The cheap first half of an install: which archive, where, and whether the destination
already holds it.

``install_python`` starts here; so does ``pybuildpack install``, which ends here when the
destination already holds the runtime (a no-op): none of the download, unpacking or store
code is imported for that, and neither is ``dataclasses`` nor the HTTP stack.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pybuildpack._record import dataclass
from pybuildpack.catalog import Catalog, load_catalog
from pybuildpack.errors import InstallUnverified
from pybuildpack.provision import settings
from pybuildpack.provision.sources import ArchiveSpec, archive_for
from pybuildpack.version import PythonVersion

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

MARKER = ".pybuildpack-runtime.json"


@dataclass(frozen=True)
class InstallResult:
    version: PythonVersion
    dest: Path
    url: str
    sha256: str
    bytes: int
    seconds: float
    cache_hit: bool  # no download: the archive came from the cache (or dest already had it)
    already_installed: bool = False
    source: str = ""
    warnings: tuple[InstallUnverified, ...] = ()


@dataclass(frozen=True)
class Plan:
    """What an install of one version will do, every setting checked before any work."""

    spec: ArchiveSpec
    dest: Path  # absolute
    unpacker: str  # auto, tar or python
    allow_http: bool
    catalog: Catalog


def plan_install(
    version: PythonVersion,
    dest: Path,
    *,
    source: str | None = None,
    mirror: str | None = None,
    stack: str | None = None,
    arch: str,
    downloads: Path | None = None,
    catalog: Catalog | None = None,
    unpacker: str | None = None,
    allow_insecure_http: bool = False,
) -> Plan:
    """Check the settings (a bad ``PYBUILDPACK_*`` value is refused before any work) and
    find the archive for ``version``."""
    unpacker = settings.unpacker_choice(unpacker)
    allow_http = allow_insecure_http or settings.allow_insecure_http()
    settings.http_timeout(), settings.http_retries()
    catalog = catalog or load_catalog()
    spec = archive_for(
        version,
        catalog=catalog,
        arch=arch,
        stack=stack,
        source=source,
        mirror=mirror,
        downloads=downloads,
    )
    return Plan(spec, Path(os.path.abspath(dest)), unpacker, allow_http, catalog)


def read_marker(dest: Path) -> dict[str, Any]:
    """What the pybuildpack marker in ``dest`` says ({} when there is no valid one)."""
    try:
        data = json.loads((dest / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and isinstance(data.get("version"), str) else {}


def already_installed(
    plan: Plan,
    version: PythonVersion,
    expected: str | None,
    warnings: tuple[InstallUnverified, ...],
    start: float,
) -> InstallResult | None:
    """The result of installing ``version`` when ``plan.dest`` already holds it from the
    same archive (by sha256, else by URL when no digest is known), else None."""
    marker = read_marker(plan.dest)
    if (
        marker.get("version") != str(version)
        or marker.get("sha256" if expected else "url") != (expected or plan.spec.url)
        or not (plan.dest / "bin" / "python3").exists()
    ):
        return None
    return InstallResult(
        version=version,
        dest=plan.dest,
        url=plan.spec.url,
        sha256=str(marker.get("sha256", "")),
        bytes=0,
        seconds=time.monotonic() - start,
        cache_hit=True,
        already_installed=True,
        source=plan.spec.source,
        warnings=warnings,
    )


def installed_without_download(
    plan: Plan, version: PythonVersion, start: float
) -> InstallResult | None:
    """``already_installed`` when it can be told without the network: the digest is pinned
    in the download metadata and the URL's transport is allowed (else the full install
    path decides, and reports any problem)."""
    spec = plan.spec
    if not spec.sha256 or (spec.url.startswith("http:") and not plan.allow_http):
        return None
    return already_installed(plan, version, spec.sha256, (), start)
