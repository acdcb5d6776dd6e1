"""The version catalog: which Python majors exist, their status, patches and platforms.

The catalog is *data* (``data/catalog.json``, dated), never literals in code. ``parse_catalog``
is pure and validates everything; ``load_catalog`` adds the file/env lookup.

Schema (``schema_version`` 1)::

    {
      "schema_version": 1,
      "as_of": "YYYY-MM-DD",             # when the facts were true
      "default_major": "3.14",           # what apps that state nothing get
      "majors": [{
         "major": "3.14",
         "status": "supported" | "deprecated" | "eol",
         "released": "YYYY-MM-DD",      # optional
         "end_of_life": "YYYY-MM[-DD]", # upstream end of life (month-only = planned)
         "removal": "YYYY-MM-DD",       # optional: when this tool stops supporting it
         "latest_patch": 7,
         "patches": {"from": 0, "to": 7, "missing": []}   # known releases
      }, ...],
      "stacks": [{"name": "heroku-24", "distro": "ubuntu", "distro_version": "24.04",
                  "arches": ["amd64", "arm64"]}],
      "unavailable": [{"version": "3.12.0", "stack": "heroku-26", "arch": "arm64"}]
    }

``unavailable`` entries mark builds that do not exist; ``stack``/``arch`` may be omitted to
mean "every". An unknown top-level ``schema_version`` is refused rather than half-understood.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pybuildpack.errors import CatalogInvalid
from pybuildpack.version import MajorVersion, PythonVersion

SCHEMA_VERSION = 1
CATALOG_ENV = "PYBUILDPACK_CATALOG"
DATA_DIR_ENV = "PYBUILDPACK_DATA_DIR"  # where a refreshed catalog is kept
ARCHES = ("amd64", "arm64")

Status = Literal["supported", "deprecated", "eol"]
_STATUSES: tuple[str, ...] = ("supported", "deprecated", "eol")
_DATE_RE = re.compile(r"\d{4}-\d{2}(-\d{2})?", re.ASCII)
_FULL_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class MajorInfo:
    series: MajorVersion
    status: Status
    latest_patch: int
    patches: frozenset[int]
    end_of_life: str | None
    released: str | None = None
    removal: str | None = None

    @property
    def latest(self) -> PythonVersion:
        return PythonVersion(self.series.major, self.series.minor, self.latest_patch)

    @property
    def supported(self) -> bool:
        return self.status != "eol"


@dataclass(frozen=True)
class StackInfo:
    name: str
    distro: str
    distro_version: str
    arches: tuple[str, ...]


@dataclass(frozen=True)
class Unavailable:
    version: PythonVersion
    stack: str | None
    arch: str | None


@dataclass(frozen=True)
class Catalog:
    as_of: str
    default_major: MajorVersion
    majors: Mapping[MajorVersion, MajorInfo]
    stacks: Mapping[str, StackInfo]
    unavailable: tuple[Unavailable, ...]
    source: str  # where it was loaded from, for messages

    @property
    def supported(self) -> list[MajorInfo]:
        """Supported (incl. deprecated) majors, oldest first."""
        return sorted((m for m in self.majors.values() if m.supported), key=lambda m: m.series)

    @property
    def oldest_supported(self) -> MajorVersion:
        return self.supported[0].series

    @property
    def newest_supported(self) -> MajorVersion:
        return self.supported[-1].series

    @property
    def default(self) -> MajorInfo:
        return self.majors[self.default_major]

    def get(self, series: MajorVersion) -> MajorInfo | None:
        return self.majors.get(series)

    def availability(
        self, version: PythonVersion, stack: str | None, arch: str | None
    ) -> Literal["available", "unavailable", "unknown"]:
        """Does a build of ``version`` exist for this stack/arch, as far as the catalog knows?

        ``unknown``: the patch is newer than the catalog's latest, so the catalog cannot say.
        """
        info = self.majors.get(version.series)
        if info is None or not info.supported:
            return "unavailable"
        if stack is not None:
            st = self.stacks.get(stack)
            if st is None or (arch is not None and arch not in st.arches):
                return "unavailable"
        for u in self.unavailable:
            if (
                u.version == version
                and (u.stack is None or u.stack == stack)
                and (u.arch is None or u.arch == arch)
            ):
                return "unavailable"
        if version.patch > info.latest_patch:
            return "unknown"
        return "available" if version.patch in info.patches else "unavailable"


# --------------------------------------------------------------------------- parsing


class _Invalid(Exception):
    pass


def _req(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in obj:
        raise _Invalid(f"{where}: missing key {key!r}")
    value = obj[key]
    if kind is int and isinstance(value, bool):
        raise _Invalid(f"{where}: {key!r} must be an integer")
    if not isinstance(value, kind):
        raise _Invalid(f"{where}: {key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _opt_date(obj: Mapping[str, Any], key: str, where: str, full: bool = False) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    pattern = _FULL_DATE_RE if full else _DATE_RE
    if not isinstance(value, str) or not pattern.fullmatch(value):
        form = "YYYY-MM-DD" if full else "YYYY-MM or YYYY-MM-DD"
        raise _Invalid(f"{where}: {key!r} must be a date ({form}), got {value!r}")
    return value


def _major(text: Any, where: str) -> MajorVersion:
    if not isinstance(text, str):
        raise _Invalid(f'{where}: a major version must be a string like "3.14"')
    try:
        return MajorVersion.parse(text)
    except ValueError:
        raise _Invalid(f'{where}: {text!r} is not a major version like "3.14"') from None


def _parse_major(obj: Any, index: int) -> MajorInfo:
    where = f"majors[{index}]"
    if not isinstance(obj, dict):
        raise _Invalid(f"{where}: must be an object")
    series = _major(obj.get("major"), where)
    where = f"majors[{index}] ({series})"
    status = _req(obj, "status", str, where)
    if status not in _STATUSES:
        raise _Invalid(f"{where}: status must be one of {', '.join(_STATUSES)}, got {status!r}")
    latest = _req(obj, "latest_patch", int, where)
    patches_obj = _req(obj, "patches", dict, where)
    first = _req(patches_obj, "from", int, f"{where}.patches")
    last = _req(patches_obj, "to", int, f"{where}.patches")
    missing = patches_obj.get("missing", [])
    if not isinstance(missing, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in missing
    ):
        raise _Invalid(f"{where}.patches: 'missing' must be a list of integers")
    if not 0 <= first <= last:
        raise _Invalid(f"{where}.patches: need 0 <= from <= to")
    patches = frozenset(range(first, last + 1)) - frozenset(missing)
    if latest not in patches:
        raise _Invalid(f"{where}: latest_patch {latest} is not among the known patches")
    if latest != max(patches):
        raise _Invalid(f"{where}: latest_patch {latest} is not the newest known patch")
    return MajorInfo(
        series=series,
        status=status,
        latest_patch=latest,
        patches=patches,
        end_of_life=_opt_date(obj, "end_of_life", where),
        released=_opt_date(obj, "released", where),
        removal=_opt_date(obj, "removal", where, full=True),
    )


def _parse_stack(obj: Any, index: int) -> StackInfo:
    where = f"stacks[{index}]"
    if not isinstance(obj, dict):
        raise _Invalid(f"{where}: must be an object")
    name = _req(obj, "name", str, where)
    arches = _req(obj, "arches", list, f"{where} ({name})")
    bad = [a for a in arches if a not in ARCHES]
    if bad or not arches:
        raise _Invalid(f"{where} ({name}): arches must be a non-empty subset of {list(ARCHES)}")
    return StackInfo(
        name=name,
        distro=_req(obj, "distro", str, where),
        distro_version=_req(obj, "distro_version", str, where),
        arches=tuple(arches),
    )


def _parse_unavailable(obj: Any, index: int, stacks: Mapping[str, StackInfo]) -> Unavailable:
    where = f"unavailable[{index}]"
    if not isinstance(obj, dict):
        raise _Invalid(f"{where}: must be an object")
    text = _req(obj, "version", str, where)
    try:
        version = PythonVersion.parse(text)
    except ValueError:
        raise _Invalid(f'{where}: {text!r} is not an exact version like "3.12.0"') from None
    stack = obj.get("stack")
    if stack is not None and stack not in stacks:
        raise _Invalid(f"{where}: unknown stack {stack!r}")
    arch = obj.get("arch")
    if arch is not None and arch not in ARCHES:
        raise _Invalid(f"{where}: unknown arch {arch!r}")
    return Unavailable(version, stack, arch)


def parse_catalog(data: Any, source: str = "<memory>") -> Catalog:
    """Validate and convert a decoded catalog document. Raises ``CatalogInvalid``."""
    try:
        if not isinstance(data, dict):
            raise _Invalid("the document must be a JSON object")
        schema = data.get("schema_version")
        if schema != SCHEMA_VERSION:
            raise _Invalid(
                f"schema_version {schema!r} is not supported (this pybuildpack reads "
                f"{SCHEMA_VERSION}); upgrade pybuildpack or use a catalog made for it"
            )
        as_of = _opt_date(data, "as_of", "catalog", full=True)
        if as_of is None:
            raise _Invalid("catalog: missing key 'as_of' (the date its facts were true)")
        majors_list = _req(data, "majors", list, "catalog")
        majors: dict[MajorVersion, MajorInfo] = {}
        for i, obj in enumerate(majors_list):
            info = _parse_major(obj, i)
            if info.series in majors:
                raise _Invalid(f"majors[{i}]: {info.series} is listed twice")
            majors[info.series] = info
        if not any(m.supported for m in majors.values()):
            raise _Invalid("catalog: no supported major version")
        default = _major(data.get("default_major"), "default_major")
        if default not in majors or not majors[default].supported:
            raise _Invalid(f"default_major {default} is not a supported major in this catalog")
        stacks: dict[str, StackInfo] = {}
        for i, obj in enumerate(_req(data, "stacks", list, "catalog")):
            st = _parse_stack(obj, i)
            stacks[st.name] = st
        unavailable = tuple(
            _parse_unavailable(obj, i, stacks) for i, obj in enumerate(data.get("unavailable", []))
        )
    except _Invalid as exc:
        raise CatalogInvalid(path=source, detail=str(exc)) from None
    return Catalog(
        as_of=as_of,
        default_major=default,
        majors=majors,
        stacks=stacks,
        unavailable=unavailable,
        source=source,
    )


def bundled_catalog_text() -> str:
    return resources.files("pybuildpack").joinpath("data/catalog.json").read_text("utf-8")


def refreshed_catalog_path() -> Path:
    """Where ``pybuildpack catalog refresh`` stores a newer catalog."""
    base = os.environ.get(DATA_DIR_ENV)
    if base:
        return Path(base) / "catalog.json"
    import platformdirs

    return Path(platformdirs.user_data_dir("pybuildpack")) / "catalog.json"


def read_catalog_file(p: Path) -> Catalog:
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise CatalogInvalid(path=str(p), detail="the file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogInvalid(path=str(p), detail=f"cannot be read: {exc}") from None
    return parse_catalog_text(text, source=str(p))


def parse_catalog_text(text: str, source: str) -> Catalog:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogInvalid(path=source, detail=f"not valid JSON: {exc}") from None
    return parse_catalog(data, source=source)


def load_bundled_catalog() -> Catalog:
    return parse_catalog_text(bundled_catalog_text(), source="bundled catalog")


def load_catalog(path: str | os.PathLike[str] | None = None) -> Catalog:
    """Load the catalog to use.

    ``path``, else ``$PYBUILDPACK_CATALOG``, else a refreshed catalog (``pybuildpack catalog
    refresh``) when it is at least as new as the bundled one, else the bundled one.
    """
    chosen = path if path is not None else os.environ.get(CATALOG_ENV) or None
    if chosen is not None:
        return read_catalog_file(Path(chosen))
    bundled = load_bundled_catalog()
    refreshed = refreshed_catalog_path()
    if refreshed.is_file():
        newer = read_catalog_file(refreshed)
        if newer.as_of >= bundled.as_of:
            return newer
    return bundled
