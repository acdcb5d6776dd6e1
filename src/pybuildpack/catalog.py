"""The version catalog: which Python majors exist, their dates, patches and platforms.

The catalog is *data* (``data/catalog.json``, dated; its JSON Schema is
``data/catalog.schema.json``; docs/catalog.md explains both), never literals in code.
``pybuildpack catalog update`` writes it from upstream data (``pybuildpack.catalog_update``).

A major's *status* is not stored: it follows from its dates and the catalog's policy on the
day the catalog is used (``today``, injectable; the pure functions never read a clock):

* ``upcoming``: no release known and the release date is still ahead;
* ``unlisted``: no release known although the release date has passed (the catalog predates
  the release: update it);
* ``supported``; ``deprecated`` within ``policy.deprecation_days`` before the end of life;
* ``eol``: the end of life has passed, builds still work (with a warning) until ``removal``;
* ``removed``: builds fail.

A month-only end of life (``2026-10``, a planned one) is reached when that month is over.

``parse_catalog`` is pure and validates everything, reporting every problem at once;
``load_catalog`` adds the file/env lookup, the clock, and the fallback from a broken
refreshed catalog to the bundled one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from pybuildpack._record import dataclass, field, replace
from pybuildpack.errors import BuildWarning, CatalogFallback, CatalogInvalid
from pybuildpack.version import MajorVersion, PythonVersion

SCHEMA_VERSION = 2
CATALOG_ENV = "PYBUILDPACK_CATALOG"
DATA_DIR_ENV = "PYBUILDPACK_DATA_DIR"  # where a refreshed catalog is kept
TODAY_ENV = "PYBUILDPACK_TODAY"  # YYYY-MM-DD: evaluate the catalog as of that day
ARCHES = ("amd64", "arm64")
# python-build-standalone targets per arch (the download metadata names builds by target).
PBS_TARGETS = {"amd64": "x86_64-unknown-linux-gnu", "arm64": "aarch64-unknown-linux-gnu"}

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any, Literal

    Status = Literal["upcoming", "unlisted", "supported", "deprecated", "eol", "removed"]
OFFERED: tuple[str, ...] = ("supported", "deprecated", "eol")  # builds work


# --------------------------------------------------------------------------- dates


def parse_date(text: str) -> dt.date:
    """``YYYY-MM-DD`` -> date. Raises ``ValueError`` for a malformed or impossible date."""
    if not (
        len(text) == 10 and text[4] == text[7] == "-" and _digits(text[:4] + text[5:7] + text[8:])
    ):
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}")
    return dt.date.fromisoformat(text)


def _digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _is_month(text: str) -> bool:
    """``YYYY-MM`` in form (a month-only date; the month's range is checked by its user)."""
    return len(text) == 7 and text[4] == "-" and _digits(text[:4] + text[5:])


def end_of_life_start(text: str) -> dt.date:
    """The first day a major counts as end of life: the date itself, or for a month-only
    (planned) end of life the first day after that month."""
    if _is_month(text):
        year, month = int(text[:4]), int(text[5:])
        if not 1 <= month <= 12:
            raise ValueError(f"not a month (YYYY-MM): {text!r}")
        return dt.date(year + month // 12, month % 12 + 1, 1)
    return parse_date(text)


def describe_date(text: str) -> str:
    """``2026-10`` -> ``October 2026``; full dates stay as they are."""
    if _is_month(text):
        import calendar

        return f"{calendar.month_name[int(text[5:])]} {text[:4]}"
    return text


def current_day() -> dt.date:
    """The day to evaluate catalogs at: ``$PYBUILDPACK_TODAY`` or the system clock."""
    text = os.environ.get(TODAY_ENV)
    if text:
        try:
            return parse_date(text.strip())
        except ValueError:
            raise CatalogInvalid(
                path=TODAY_ENV, detail=f"{text!r} is not a date (YYYY-MM-DD)"
            ) from None
    return dt.date.today()


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Policy:
    default_major: MajorVersion | None
    default_after_days: int
    deprecation_days: int
    removal_days: int
    stale_after_days: int


@dataclass(frozen=True)
class MajorInfo:
    series: MajorVersion
    status: Status  # on the catalog's ``today``
    latest_patch: int | None  # None: no release known yet
    patches: frozenset[int]
    end_of_life: str
    released: str
    removal: str | None = None  # stated, or end of life + policy.removal_days
    upstream_status: str | None = None

    @property
    def latest(self) -> PythonVersion:
        if self.latest_patch is None:
            raise ValueError(f"no release of {self.series} is known")
        return PythonVersion(self.series.major, self.series.minor, self.latest_patch)

    @property
    def supported(self) -> bool:
        """Builds of this major work (perhaps with a warning)."""
        return self.status in OFFERED

    @property
    def has_releases(self) -> bool:
        return self.latest_patch is not None


def status_on(info: MajorInfo, day: dt.date, policy: Policy) -> Status:
    """The status of ``info`` on ``day`` (see the module docstring)."""
    if info.latest_patch is None:
        return "upcoming" if day < parse_date(info.released) else "unlisted"
    if info.removal is not None and day >= parse_date(info.removal):
        return "removed"
    eol = end_of_life_start(info.end_of_life)
    if day >= eol:
        return "eol"
    if day >= eol - dt.timedelta(days=policy.deprecation_days):
        return "deprecated"
    return "supported"


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
class Upstream:
    name: str
    url: str
    as_of: str
    sha256: str


@dataclass(frozen=True)
class Catalog:
    as_of: str
    default_major: MajorVersion
    majors: Mapping[MajorVersion, MajorInfo]
    stacks: Mapping[str, StackInfo]
    unavailable: tuple[Unavailable, ...]
    source: str  # where it was loaded from, for messages
    policy: Policy = field(
        default=Policy(None, default_after_days=60, deprecation_days=365, removal_days=90,
                       stale_after_days=60)
    )  # fmt: skip
    today: dt.date = dt.date(1970, 1, 1)
    upstream: tuple[Upstream, ...] = ()
    warnings: tuple[BuildWarning, ...] = ()  # e.g. a broken refreshed catalog was skipped

    @property
    def supported(self) -> list[MajorInfo]:
        """Majors whose builds work today (incl. deprecated and end-of-life), oldest first."""
        return sorted((m for m in self.majors.values() if m.supported), key=lambda m: m.series)

    def _with_releases(self) -> list[MajorInfo]:
        return sorted((m for m in self.majors.values() if m.has_releases), key=lambda m: m.series)

    @property
    def oldest_supported(self) -> MajorVersion:
        offered = self.supported or self._with_releases()
        return offered[0].series

    @property
    def newest_supported(self) -> MajorVersion:
        offered = self.supported or self._with_releases()
        return offered[-1].series

    @property
    def default(self) -> MajorInfo:
        return self.majors[self.default_major]

    @property
    def age_days(self) -> int:
        """How old the catalog's facts are on its ``today``."""
        return (self.today - parse_date(self.as_of)).days

    @property
    def stale(self) -> bool:
        return self.age_days > self.policy.stale_after_days

    def get(self, series: MajorVersion) -> MajorInfo | None:
        return self.majors.get(series)

    def at(self, day: dt.date) -> Catalog:
        """The same catalog evaluated on another day (statuses and default follow)."""
        policy = self.policy
        majors = {s: replace(m, status=status_on(m, day, policy)) for s, m in self.majors.items()}
        default = choose_default(majors, self.policy, day)
        return replace(self, majors=majors, default_major=default, today=day)

    def availability(
        self, version: PythonVersion, stack: str | None, arch: str | None
    ) -> Literal["available", "unavailable", "unknown"]:
        """Does a build of ``version`` exist for this stack/arch, as far as the catalog knows?

        ``unknown``: the patch is newer than the catalog's latest, so the catalog cannot say.
        """
        info = self.majors.get(version.series)
        if info is None or not info.supported or info.latest_patch is None:
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


def choose_default(
    majors: Mapping[MajorVersion, MajorInfo], policy: Policy, day: dt.date
) -> MajorVersion:
    """The default major on ``day``.

    ``policy.default_major`` when it is offered; otherwise the newest *supported* major that
    is settled: its X.Y.1 is in the catalog, or its X.Y.0 is ``default_after_days`` old.
    Failing that (a catalog used far past its dates), the newest offered major, else the
    newest with a release."""
    if policy.default_major is not None:
        pinned = majors.get(policy.default_major)
        if pinned is not None and pinned.supported:
            return pinned.series
    ordered = sorted(majors.values(), key=lambda m: m.series, reverse=True)
    for m in ordered:
        if m.status != "supported" or m.latest_patch is None:
            continue
        settled = parse_date(m.released) + dt.timedelta(days=policy.default_after_days)
        if m.latest_patch >= 1 or day >= settled:
            return m.series
    for m in ordered:
        if m.supported:
            return m.series
    return next(m.series for m in ordered if m.has_releases)


# --------------------------------------------------------------------------- schema


@cache
def catalog_schema() -> dict[str, Any]:
    """The shipped JSON Schema (``data/catalog.schema.json``)."""
    text = package_data_text("catalog.schema.json")
    schema: dict[str, Any] = json.loads(text)
    return schema


# The keywords ``schema_errors`` understands. A test checks the shipped schemas use no
# other, so the load-time check and the full validator (jsonschema, in ``catalog update``
# and ``refresh``) cannot drift apart.
SUBSET_KEYWORDS = frozenset(
    {"$schema", "$id", "$defs", "$ref", "title", "description", "$comment",
     "type", "const", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength",
     "minItems", "maxItems", "uniqueItems", "items", "properties", "required",
     "additionalProperties"}
)  # fmt: skip

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def _where(path: tuple[str | int, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out or "(document)"


def schema_errors(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None,
                  path: tuple[str | int, ...] = ()) -> list[str]:  # fmt: skip
    """Every violation of ``schema`` by ``instance``, for the JSON Schema subset in
    ``SUBSET_KEYWORDS``. Small and dependency-free, so it runs at build time on a bare image;
    ``catalog update``/``refresh`` also run the full ``jsonschema`` validator."""
    root = root if root is not None else schema
    where = _where(path)
    if "$ref" in schema:
        ref = str(schema["$ref"])
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        target = root["$defs"][ref.removeprefix("#/$defs/")]
        errors = schema_errors(instance, target, root, path)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return errors + (schema_errors(instance, rest, root, path) if rest else [])
    errors: list[str] = []
    if "const" in schema and not (
        instance == schema["const"]
        and isinstance(instance, bool) == isinstance(schema["const"], bool)
    ):
        errors.append(f"{where}: must be {json.dumps(schema['const'])}")
    if "enum" in schema and instance not in schema["enum"]:
        choices = ", ".join(json.dumps(c) for c in schema["enum"])
        errors.append(f"{where}: must be one of {choices}, got {json.dumps(instance)[:60]}")
    kind = schema.get("type")
    if kind is not None:
        kinds = [kind] if isinstance(kind, str) else list(kind)
        if not any(_is_type(instance, k) for k in kinds):
            got = type(instance).__name__
            errors.append(f"{where}: must be {' or '.join(kinds)}, got {got}")
            return errors
    if isinstance(instance, str):
        if "pattern" in schema and not re.search(schema["pattern"], instance):
            errors.append(f"{where}: {json.dumps(instance)[:80]} is not in the expected form")
        if "minLength" in schema and len(instance) < schema["minLength"]:
            errors.append(f"{where}: too short")
        if "maxLength" in schema and len(instance) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']} characters")
    if _is_type(instance, "number"):
        if "minimum" in schema and instance < schema["minimum"]:
            errors.append(f"{where}: must be at least {schema['minimum']}")
        if "maximum" in schema and instance > schema["maximum"]:
            errors.append(f"{where}: must be at most {schema['maximum']}")
    if isinstance(instance, list):
        if "minItems" in schema and len(instance) < schema["minItems"]:
            errors.append(f"{where}: needs at least {schema['minItems']} item(s)")
        if "maxItems" in schema and len(instance) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
            return errors  # do not walk a huge list
        if schema.get("uniqueItems"):
            seen = [json.dumps(x, sort_keys=True) for x in instance]
            if len(set(seen)) != len(seen):
                errors.append(f"{where}: items must be unique")
        if "items" in schema:
            for i, item in enumerate(instance):
                errors += schema_errors(item, schema["items"], root, (*path, i))
    if isinstance(instance, dict):
        props: Mapping[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in instance:
                errors.append(f"{where}: missing key {name!r}")
        for name, value in instance.items():
            if name in props:
                errors += schema_errors(value, props[name], root, (*path, name))
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unknown key {name!r}")
    return errors


# --------------------------------------------------------------------------- parsing


def _problems_detail(problems: list[str], limit: int = 25) -> str:
    if len(problems) == 1:
        return problems[0]
    shown = [f"  - {p}" for p in problems[:limit]]
    more = [f"  - ... and {len(problems) - limit} more"] if len(problems) > limit else []
    return f"{len(problems)} problems:\n" + "\n".join(shown + more)


def _semantic_problems(data: Mapping[str, Any]) -> list[str]:
    """What the schema cannot say: real dates, consistent patches, known references."""
    problems: list[str] = []

    def date_ok(text: str, where: str, month_ok: bool = False) -> None:
        try:
            (end_of_life_start if month_ok else parse_date)(text)
        except ValueError:
            problems.append(f"{where}: {text!r} is not a real date")

    date_ok(data["as_of"], "as_of")
    seen: set[str] = set()
    for i, m in enumerate(data["majors"]):
        where = f"majors[{i}] ({m['major']})"
        if m["major"] in seen:
            problems.append(f"{where}: listed twice")
        seen.add(m["major"])
        date_ok(m["released"], f"{where}.released")
        date_ok(m["end_of_life"], f"{where}.end_of_life", month_ok=True)
        if "removal" in m:
            date_ok(m["removal"], f"{where}.removal")
        latest = m.get("latest_patch")
        if latest is None and m.get("missing"):
            problems.append(f"{where}: 'missing' without 'latest_patch'")
        if latest is not None and latest in m.get("missing", []):
            problems.append(f"{where}: latest_patch {latest} is listed as missing")
        if latest is not None and any(p > latest for p in m.get("missing", [])):
            problems.append(f"{where}: a missing patch is newer than latest_patch")
    if not any("latest_patch" in m for m in data["majors"]):
        problems.append("majors: no major has a release (latest_patch)")
    default = data["policy"].get("default_major")
    if default is not None and default not in seen:
        problems.append(f"policy.default_major: {default} is not a major in this catalog")
    stacks = {s["name"] for s in data["stacks"]}
    if len(stacks) != len(data["stacks"]):
        problems.append("stacks: a stack is listed twice")
    for i, u in enumerate(data.get("unavailable", [])):
        if "stack" in u and u["stack"] not in stacks:
            problems.append(f"unavailable[{i}]: unknown stack {u['stack']!r}")
    return problems


def validate_catalog_document(data: Any) -> list[str]:
    """Every problem with a decoded catalog document (empty: valid)."""
    if isinstance(data, dict) and data.get("schema_version") != SCHEMA_VERSION:
        found = data.get("schema_version")
        hint = (
            "it was written for an older pybuildpack; rebuild it with 'pybuildpack catalog update'"
            if isinstance(found, int) and not isinstance(found, bool) and found < SCHEMA_VERSION
            else "upgrade pybuildpack or use a catalog made for it"
        )
        return [
            f"schema_version {found!r} is not supported (this pybuildpack reads "
            f"{SCHEMA_VERSION}): {hint}"
        ]
    problems = schema_errors(data, catalog_schema())
    return problems or _semantic_problems(data)


def parse_catalog(
    data: Any, source: str = "<memory>", *, today: dt.date | None = None, trusted: bool = False
) -> Catalog:
    """Validate and convert a decoded catalog document. Raises ``CatalogInvalid`` naming
    every problem. ``today`` defaults to the catalog's own ``as_of`` (pure: no clock).

    ``trusted``: the bundled catalog only, which ships inside the package like its code and
    is validated by the test suite (``test_bundled_catalog_is_valid``), not on every load."""
    problems = [] if trusted else validate_catalog_document(data)
    if problems:
        raise CatalogInvalid(path=source, detail=_problems_detail(problems))
    p = data["policy"]
    policy = Policy(
        default_major=MajorVersion.parse(p["default_major"]) if "default_major" in p else None,
        default_after_days=p["default_after_days"],
        deprecation_days=p["deprecation_days"],
        removal_days=p["removal_days"],
        stale_after_days=p["stale_after_days"],
    )
    majors: dict[MajorVersion, MajorInfo] = {}
    for m in data["majors"]:
        latest = m.get("latest_patch")
        patches = frozenset() if latest is None else frozenset(range(latest + 1))
        removal = (
            m.get("removal")
            or (
                end_of_life_start(m["end_of_life"]) + dt.timedelta(days=policy.removal_days)
            ).isoformat()
        )
        series = MajorVersion.parse(m["major"])
        majors[series] = MajorInfo(
            series=series,
            status="supported",  # evaluated below
            latest_patch=latest,
            patches=patches - frozenset(m.get("missing", [])),
            end_of_life=m["end_of_life"],
            released=m["released"],
            removal=removal,
            upstream_status=m.get("upstream_status"),
        )
    stacks = {
        s["name"]: StackInfo(s["name"], s["distro"], s["distro_version"], tuple(s["arches"]))
        for s in data["stacks"]
    }
    unavailable = tuple(
        Unavailable(PythonVersion.parse(u["version"]), u.get("stack"), u.get("arch"))
        for u in data.get("unavailable", [])
    )
    upstream = tuple(
        Upstream(u["name"], u["url"], u["as_of"], u["sha256"]) for u in data.get("upstream", [])
    )
    first = next(iter(majors))  # replaced by ``at``
    catalog = Catalog(
        as_of=data["as_of"],
        default_major=first,
        majors=majors,
        stacks=stacks,
        unavailable=unavailable,
        source=source,
        policy=policy,
        upstream=upstream,
    )
    return catalog.at(today or parse_date(data["as_of"]))


def package_data_text(name: str) -> str:
    """The text of ``pybuildpack/data/<name>``: read as a plain file where the package is on
    disk (importing ``importlib.resources`` costs more than the read), else as a resource
    (a zip import)."""
    try:
        return (Path(__file__).parent / "data" / name).read_text("utf-8")
    except OSError:
        from importlib import resources

        return resources.files("pybuildpack").joinpath(f"data/{name}").read_text("utf-8")


def bundled_catalog_text() -> str:
    return package_data_text("catalog.json")


def refreshed_catalog_path() -> Path:
    """Where ``pybuildpack catalog refresh``/``update`` store a newer catalog."""
    return user_data_dir() / "catalog.json"


def user_data_dir() -> Path:
    base = os.environ.get(DATA_DIR_ENV)
    if base:
        return Path(base)
    common = _xdg_user_data_dir()
    if common is not None:
        return common
    import platformdirs

    return Path(platformdirs.user_data_dir("pybuildpack"))


def _xdg_user_data_dir() -> Path | None:
    """``platformdirs.user_data_dir("pybuildpack")`` in the cases where every platformdirs
    reads the XDG rules alike (Linux, an absolute ``$XDG_DATA_HOME`` or none and an absolute
    ``$HOME``), without importing it (it costs more than resolving); else ``None``."""
    env = os.environ
    if sys.platform != "linux" or "ANDROID_DATA" in env or "ANDROID_ROOT" in env:
        return None
    xdg = env.get("XDG_DATA_HOME", "")
    if xdg:
        return Path(xdg, "pybuildpack") if os.path.isabs(xdg) else None
    home = env.get("HOME", "")
    if not os.path.isabs(home):
        return None
    return Path(os.path.expanduser("~/.local/share"), "pybuildpack")


MAX_CATALOG_BYTES = 2 * 1024 * 1024


def read_catalog_file(p: Path, *, today: dt.date | None = None) -> Catalog:
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_CATALOG_BYTES + 1)
    except FileNotFoundError:
        raise CatalogInvalid(path=str(p), detail="the file does not exist") from None
    except OSError as exc:
        raise CatalogInvalid(path=str(p), detail=f"cannot be read: {exc}") from None
    if len(raw) > MAX_CATALOG_BYTES:
        raise CatalogInvalid(path=str(p), detail=f"larger than {MAX_CATALOG_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogInvalid(path=str(p), detail="not UTF-8 text") from None
    return parse_catalog_text(text, source=str(p), today=today)


def parse_catalog_text(
    text: str, source: str, *, today: dt.date | None = None, trusted: bool = False
) -> Catalog:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CatalogInvalid(path=source, detail=f"not valid JSON: {exc}") from None
    return parse_catalog(data, source=source, today=today, trusted=trusted)


def load_bundled_catalog(*, today: dt.date | None = None) -> Catalog:
    text = bundled_catalog_text()
    return parse_catalog_text(text, source="bundled catalog", today=today, trusted=True)


def load_catalog(
    path: str | os.PathLike[str] | None = None, *, today: dt.date | None = None
) -> Catalog:
    """Load the catalog to use, evaluated on ``today`` (default: ``current_day()``).

    ``path``, else ``$PYBUILDPACK_CATALOG``, else a refreshed catalog (``pybuildpack catalog
    refresh``/``update``) when it is at least as new as the bundled one, else the bundled
    one. A refreshed catalog that cannot be used is skipped with a ``catalog::fallback``
    warning (``catalog.warnings``) instead of breaking every command.
    """
    day = today or current_day()
    chosen = path if path is not None else os.environ.get(CATALOG_ENV) or None
    if chosen is not None:
        return read_catalog_file(Path(chosen), today=day)
    bundled = load_bundled_catalog(today=day)
    refreshed = refreshed_catalog_path()
    if refreshed.is_file():
        try:
            newer = read_catalog_file(refreshed, today=day)
        except CatalogInvalid as exc:
            warning = CatalogFallback(
                path=str(refreshed), detail=exc.detail, bundled_as_of=bundled.as_of
            )
            return replace(bundled, warnings=(warning,))
        if parse_date(newer.as_of) > day:
            warning = CatalogFallback(
                path=str(refreshed),
                detail=f"it is dated {newer.as_of}, in the future (today is {day})",
                bundled_as_of=bundled.as_of,
            )
            return replace(bundled, warnings=(warning,))
        if newer.as_of >= bundled.as_of:
            return newer
    return bundled


DOWNLOADS_ENV = "PYBUILDPACK_DOWNLOADS"


def downloads_path(explicit: str | os.PathLike[str] | None, catalog: Catalog) -> Path | None:
    """The download metadata that goes with ``catalog``: ``explicit`` (``--downloads``),
    else ``None`` when ``$PYBUILDPACK_DOWNLOADS`` is set (the provisioning layer reads it)
    or when the bundled data applies, else the file ``catalog update`` installed next to
    the installed catalog in use."""
    if explicit:
        return Path(explicit)
    if os.environ.get(DOWNLOADS_ENV):
        return None
    installed = refreshed_catalog_path()
    paired = installed.with_name("downloads.json")
    if catalog.source == str(installed) and paired.is_file():
        return paired
    return None


# --------------------------------------------------------------------------- archive sources


@dataclass(frozen=True)
class SourceBuilds:
    """Which exact versions one archive source has, per arch (from the download metadata).

    ``pbs`` lists its builds; a source whose archive names follow a template (``heroku``)
    has no list, and the catalog's own patches stand for it (no ``SourceBuilds``)."""

    source: str
    by_arch: Mapping[str, frozenset[PythonVersion]]

    def versions(self, arch: str | None) -> frozenset[PythonVersion]:
        if arch is not None:
            return self.by_arch.get(arch, frozenset())
        return frozenset().union(*self.by_arch.values()) if self.by_arch else frozenset()

    def has(self, version: PythonVersion, arch: str | None) -> bool:
        return version in self.versions(arch)

    def newest(self, series: MajorVersion, arch: str | None, at_most: int) -> PythonVersion | None:
        mine = [v for v in self.versions(arch) if v.series == series and v.patch <= at_most]
        return max(mine, default=None)

    def nearest(
        self, version: PythonVersion, arch: str | None, count: int = 3
    ) -> tuple[PythonVersion, ...]:
        """The ``count`` patches of the same major closest to ``version``, in order."""
        mine = [v for v in self.versions(arch) if v.series == version.series]
        mine.sort(key=lambda v: (abs(v.patch - version.patch), -v.patch))
        return tuple(sorted(mine[:count]))


def source_builds(downloads: Mapping[str, Any], source: str) -> SourceBuilds | None:
    """The builds ``source`` lists in a download metadata document (see
    ``pybuildpack.provision.sources``); ``None`` when it lists none (template sources)."""
    src = downloads.get("sources", {}).get(source) or {}
    archives: Iterable[Mapping[str, Any]] = src.get("archives") or []
    by_target: dict[str, set[PythonVersion]] = {}
    for a in archives:
        try:
            version = PythonVersion.parse(str(a.get("version")))
        except ValueError:
            continue
        by_target.setdefault(str(a.get("target", "")), set()).add(version)
    if not by_target:
        return None
    by_arch = {arch: frozenset(by_target.get(t, ())) for arch, t in PBS_TARGETS.items()}
    return SourceBuilds(source=source, by_arch=by_arch)
