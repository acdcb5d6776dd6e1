"""Resolution: a requested version + the catalog -> the exact version to install.

Pure: no I/O. Errors are raised, warnings returned, all typed (see ``errors``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pybuildpack.catalog import Catalog
from pybuildpack.errors import (
    ArchUnsupported,
    BuildWarning,
    PythonVersionDeprecated,
    PythonVersionEol,
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
    """Map ``request`` to an exact version, or raise the typed error that explains why not."""
    check_platform(catalog, stack, arch)
    series = request.series
    info = catalog.get(series)
    if series < catalog.oldest_supported or (info is not None and not info.supported):
        raise PythonVersionEol(
            requested=request,
            oldest_supported=catalog.oldest_supported,
            suggested=catalog.default_major,
            eol_date=info.end_of_life if info else None,
        )
    if info is None:
        # Above the oldest supported but unknown: newer than this catalog (or a gap in it).
        raise PythonVersionUnknownMajor(
            requested=request,
            newest_supported=catalog.newest_supported,
            catalog_date=catalog.as_of,
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
    if info.status == "deprecated":
        warnings.append(
            PythonVersionDeprecated(
                series=series,
                origin=request.origin,
                eol_date=info.end_of_life,
                removal_date=info.removal,
                suggested=catalog.default_major,
            )
        )
    if request.patch is not None and request.patch < info.latest_patch:
        warnings.append(PythonVersionOutdatedPatch(requested=request, latest=info.latest))
    return Resolution(
        version=version, requested=request, generation=generation, warnings=tuple(warnings)
    )
