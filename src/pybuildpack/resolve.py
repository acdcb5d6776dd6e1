"""Resolution: a requested version + the catalog -> the exact version to install.

Pure: no I/O. Errors are raised, warnings returned, all typed (see ``errors``).
"""

from __future__ import annotations

from pybuildpack._record import dataclass, replace
from pybuildpack.catalog import Catalog, SourceBuilds
from pybuildpack.errors import (
    ArchUnsupported,
    BuildWarning,
    PythonVersionDeprecated,
    PythonVersionEol,
    PythonVersionEolReached,
    PythonVersionOutdatedPatch,
    PythonVersionUnknownMajor,
    PythonVersionUnknownPatch,
    StackUnknown,
)
from pybuildpack.version import Generation, PythonVersion, RequestedVersion


@dataclass(frozen=True)
class Resolution:
    version: PythonVersion
    requested: RequestedVersion
    generation: Generation
    warnings: tuple[BuildWarning, ...]

    @property
    def pinned(self) -> bool:
        """True when the app asked for an exact patch."""
        return self.requested.patch is not None


def check_platform(catalog: Catalog, stack: str | None, arch: str | None) -> None:
    """Reject a stack the catalog does not know, or an arch that stack does not have."""
    if stack is None:
        return
    info = catalog.stacks.get(stack)
    if info is None:
        raise StackUnknown(stack=stack, known=tuple(sorted(catalog.stacks)))
    if arch is not None and arch not in info.arches:
        raise ArchUnsupported(arch=arch, stack=stack, supported=info.arches)


def resolve(
    request: RequestedVersion,
    catalog: Catalog,
    *,
    generation: Generation = Generation.CEDAR,
    stack: str | None = None,
    arch: str | None = None,
) -> Resolution:
    """Map ``request`` to an exact version, or raise the typed error that explains why not.

    Statuses come from the catalog as evaluated on its ``today`` (``Catalog.at``). The
    catalog's patches are CPython's releases (Heroku-compatible answers); ``for_source``
    narrows a resolution to what one archive source has.
    """
    check_platform(catalog, stack, arch)
    series = request.series
    info = catalog.get(series)
    known = sorted(catalog.majors)
    if (info is None and known and series < known[0]) or (
        info is not None and info.status == "removed"
    ):
        raise PythonVersionEol(
            requested=request,
            oldest_supported=catalog.oldest_supported,
            suggested=catalog.default_major,
            eol_date=info.end_of_life if info else None,
            removal_date=info.removal if info else None,
        )
    if info is None or not info.has_releases:
        # Newer than this catalog, or known only by its (planned) release date.
        raise PythonVersionUnknownMajor(
            requested=request,
            newest_supported=catalog.newest_supported,
            catalog_date=catalog.as_of,
            released=info.released if info else None,
            state=info.status if info else None,
        )

    if request.patch is None:
        version = info.latest
    else:
        version = PythonVersion(request.major, request.minor, request.patch)
        if catalog.availability(version, stack, arch) == "unavailable":
            platform = " ".join(p for p in (stack, arch) if p) or None
            in_list = version.patch in info.patches
            raise PythonVersionUnknownPatch(
                requested=request,
                latest=info.latest,
                # Name the platform only when availability there is the reason.
                platform=platform if in_list else None,
            )

    warnings: list[BuildWarning] = []
    # Near or past its end of life: the same facts, a warning per stage.
    stage = {"deprecated": PythonVersionDeprecated, "eol": PythonVersionEolReached}
    if info.status in stage:
        warnings.append(
            stage[info.status](
                series=series,
                origin=request.origin,
                eol_date=info.end_of_life,
                removal_date=info.removal,
                suggested=catalog.default_major,
            )
        )
    if request.patch is not None and request.patch < info.latest.patch:
        warnings.append(PythonVersionOutdatedPatch(requested=request, latest=info.latest))
    return Resolution(
        version=version, requested=request, generation=generation, warnings=tuple(warnings)
    )


def for_source(
    resolution: Resolution, catalog: Catalog, builds: SourceBuilds | None, arch: str | None
) -> Resolution:
    """Narrow ``resolution`` to the archive source that will install it (``builds``, when
    known; ``arch``: the arch it installs for, or None for any).

    An exact patch the source lacks is a ``python-version::unknown-patch`` error naming the
    source and the nearest patches it has, now rather than a failed download later; a major
    resolves to the newest patch the source has (at most the catalog's newest)."""
    if builds is None:
        return resolution
    request, version = resolution.requested, resolution.version
    if builds.has(version, arch):
        return resolution
    info = catalog.get(version.series)
    latest = info.latest if info is not None and info.has_releases else None
    if request.patch is None and latest is not None:
        newest = builds.newest(version.series, arch, at_most=latest.patch)
        if newest is not None:
            return replace(resolution, version=newest)
    raise PythonVersionUnknownPatch(
        requested=request if request.patch is not None else replace(request, patch=version.patch),
        latest=latest,
        platform=arch,
        source=builds.source,
        nearest=builds.nearest(version, arch),
    )
