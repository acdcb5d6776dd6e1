"""``pybuildpack catalog update``: the catalog and the download metadata, from upstream data.

Inputs (machine-readable, published upstream):

* the **build list** of python-build-standalone as uv publishes it
  (``crates/uv-python/download-metadata.json`` in astral-sh/uv): which CPython versions have
  archives, their URLs and sha256;
* CPython's **release cycle** (``release-cycle.json``: per major its first release, end of
  life and status), served at peps.python.org/api/ (it used to live in python/devguide as
  ``include/release-cycle.json``; the format is the same);
* pybuildpack's **policy** (``data/policy.json``): stacks, announced removal dates, the
  default rule.

Output: a catalog (``data/catalog.schema.json``) and download metadata
(``data/downloads.schema.json``), validated, then installed atomically in the user data
directory next to the previous good pair, or written to a directory (``--write-to``, used to
regenerate the bundled data). Dev-machine code: it is never imported at build time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pybuildpack.catalog import (
    Catalog,
    MajorInfo,
    parse_catalog,
    parse_date,
    schema_errors,
    validate_catalog_document,
)
from pybuildpack.errors import CatalogInvalid, CatalogSourceInvalid, UsageError
from pybuildpack.version import MajorVersion

BUILDS_URL = (
    "https://raw.githubusercontent.com/astral-sh/uv/main/crates/uv-python/download-metadata.json"
)
RELEASE_CYCLE_URL = "https://peps.python.org/api/release-cycle.json"
BUILDS_FILE = "download-metadata.json"
RELEASE_CYCLE_FILE = "release-cycle.json"

MAX_BUILDS_BYTES = 64 * 1024 * 1024  # the real list is ~3 MB
MAX_RELEASE_CYCLE_BYTES = 1024 * 1024  # the real file is ~3 KB
MAX_CATALOG_BYTES = 2 * 1024 * 1024

_TARGETS = {"x86_64": "x86_64-unknown-linux-gnu", "aarch64": "aarch64-unknown-linux-gnu"}
_PBS_PATH = re.compile(r"/releases/download/(?P<release>[^/]+)/(?P<file>[^/]+)$")
_FLAVOR = re.compile(r"-(?P<flavor>install_only(?:_stripped)?)\.tar\.(?:gz|zst)$")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STATUSES = ("feature", "prerelease", "bugfix", "security", "end-of-life")


# --------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class Fetched:
    where: str  # the URL or path, for messages
    data: bytes
    modified: dt.date | None  # a file's modification date (local copies)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def fetch(source: str, *, max_bytes: int, allow_http: bool = False) -> Fetched:
    """The bytes at ``source``: an https:// or file:// URL or a local path (http:// only
    with ``allow_http``). Refuses anything larger than ``max_bytes``."""
    parsed = urlparse(source)
    scheme = parsed.scheme.lower()
    if scheme == "http" and not allow_http:
        raise UsageError(
            detail=f"refusing plain http for {source}: anyone on the network path could change "
            "what it serves. Use https, a local file or a file:// URL, or pass --allow-http "
            "if the network path is trusted"
        )
    if scheme in ("http", "https"):
        return Fetched(source, _download(source, max_bytes), None)
    if scheme not in ("", "file") and not (len(scheme) == 1 and os.name == "nt"):
        raise UsageError(
            detail=f"unsupported URL scheme {parsed.scheme!r} in {source}: use https, file "
            "or a path"
        )
    path = Path(unquote(parsed.path)) if scheme == "file" else Path(source)
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
            modified = dt.datetime.fromtimestamp(os.fstat(f.fileno()).st_mtime, dt.timezone.utc)
    except OSError as exc:
        raise CatalogSourceInvalid(
            path=source, detail=f"cannot be read: {exc.strerror or exc}"
        ) from None
    _check_size(source, data, max_bytes)
    return Fetched(source, data, modified.date())


def _check_size(source: str, data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise CatalogSourceInvalid(
            path=source, detail=f"larger than {max_bytes:,} bytes; refusing to read it"
        )


def _download(url: str, max_bytes: int) -> bytes:
    import urllib3

    http = urllib3.PoolManager(
        retries=urllib3.Retry(
            total=3, backoff_factor=0.5, status_forcelist=(500, 502, 503, 504), redirect=5
        ),
        timeout=urllib3.Timeout(connect=10, read=60),
    )
    try:
        resp = http.request("GET", url, preload_content=False)
    except urllib3.exceptions.HTTPError as exc:
        raise CatalogSourceInvalid(path=url, detail=f"download failed: {exc}") from None
    try:
        if resp.status != 200:
            raise CatalogSourceInvalid(path=url, detail=f"download failed: HTTP {resp.status}")
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            raise CatalogSourceInvalid(
                path=url, detail=f"larger than {max_bytes:,} bytes; refusing to read it"
            )
        chunks: list[bytes] = []
        total = 0
        for chunk in resp.stream(64 * 1024):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                break
        data = b"".join(chunks)
    except urllib3.exceptions.HTTPError as exc:
        raise CatalogSourceInvalid(path=url, detail=f"download failed: {exc}") from None
    finally:
        resp.release_conn()
    _check_size(url, data, max_bytes)
    return data


def decode_json(fetched: Fetched) -> Any:
    try:
        return json.loads(fetched.data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CatalogSourceInvalid(path=fetched.where, detail="not UTF-8 text") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise CatalogSourceInvalid(path=fetched.where, detail=f"not valid JSON: {exc}") from None


# --------------------------------------------------------------------------- validation


def problem_list(problems: Sequence[str], limit: int = 25) -> str:
    if len(problems) == 1:
        return problems[0]
    lines = [f"  - {p}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  - ... and {len(problems) - limit} more")
    return f"{len(problems)} problems:\n" + "\n".join(lines)


def _schema(name: str) -> dict[str, Any]:
    text = resources.files("pybuildpack").joinpath(f"data/{name}").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def full_schema_errors(document: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every JSON Schema violation, by the ``jsonschema`` validator (Draft 2020-12), at
    once. Without ``jsonschema`` installed (a minimal install), the dependency-free subset
    check that also runs at load time."""
    try:
        from jsonschema import Draft202012Validator
    except ImportError:  # pragma: no cover - jsonschema is a declared dependency
        return schema_errors(document, schema)
    validator = Draft202012Validator(dict(schema))
    found = sorted(validator.iter_errors(document), key=lambda err: list(map(str, err.path)))
    return [
        f"{'.'.join(str(p) for p in err.absolute_path) or '(document)'}: {err.message[:200]}"
        for err in found
    ]


def validate_catalog(document: Any, where: str) -> None:
    """The full check of a catalog about to be installed: schema (jsonschema, every error)
    and the semantic checks of the load-time parser. Raises ``CatalogSourceInvalid``."""
    problems = (
        validate_catalog_document(document)
        if not isinstance(document, dict) or document.get("schema_version") != 2
        else full_schema_errors(document, _schema("catalog.schema.json"))
        or validate_catalog_document(document)
    )
    if problems:
        raise CatalogInvalid(path=where, detail=problem_list(problems))


def validate_downloads(document: Any, where: str) -> None:
    problems = full_schema_errors(document, _schema("downloads.schema.json"))
    if problems:
        raise CatalogSourceInvalid(path=where, detail=problem_list(problems))


# --------------------------------------------------------------------------- upstream -> ours


@dataclass(frozen=True)
class Cycle:
    """One major in the release cycle."""

    major: MajorVersion
    first_release: str
    end_of_life: str
    status: str


def read_release_cycle(document: Any, where: str) -> dict[MajorVersion, Cycle]:
    """Check and convert ``release-cycle.json``: an object keyed by ``X.Y``. Fields we do
    not use (branch, pep, release_manager, future additions) are ignored; the ones we use
    must be well-formed, and every problem is reported at once."""
    problems: list[str] = []
    cycles: dict[MajorVersion, Cycle] = {}
    if not isinstance(document, dict) or not document:
        raise CatalogSourceInvalid(
            path=where, detail="expected a non-empty JSON object keyed by X.Y"
        )
    for key, entry in document.items():
        try:
            major = MajorVersion.parse(key)
        except ValueError:
            problems.append(f"{key!r}: not a major version like 3.14")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{key}: must be an object")
            continue
        first, eol, status = (
            entry.get("first_release"),
            entry.get("end_of_life"),
            entry.get("status"),
        )
        if not isinstance(first, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", first):
            problems.append(f"{key}.first_release: must be a YYYY-MM-DD date, got {first!r}")
        if not isinstance(eol, str) or not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", eol):
            problems.append(f"{key}.end_of_life: must be YYYY-MM[-DD], got {eol!r}")
        if status not in _STATUSES:
            problems.append(f"{key}.status: must be one of {', '.join(_STATUSES)}, got {status!r}")
        if isinstance(first, str) and isinstance(eol, str) and status in _STATUSES:
            cycles[major] = Cycle(major, first, eol, str(status))
    if problems:
        raise CatalogSourceInvalid(
            path=where,
            detail=problem_list(problems),
        )
    return cycles


def read_builds(document: Any, where: str) -> list[dict[str, str]]:
    """python-build-standalone archives from uv's ``download-metadata.json``: CPython, linux
    gnu, x86_64/aarch64 (no micro-architecture variants), default builds (no freethreaded or
    debug), released versions (no prereleases); the newest build per version and target.
    Entries of other kinds are skipped; a matching entry that is malformed is an error."""
    if not isinstance(document, dict) or not document:
        raise CatalogSourceInvalid(path=where, detail="expected a non-empty JSON object of builds")
    problems: list[str] = []
    best: dict[tuple[str, str], dict[str, str]] = {}
    for key, entry in document.items():
        if not isinstance(entry, dict):
            problems.append(f"{key}: must be an object")
            continue
        arch = entry.get("arch")
        family = arch.get("family") if isinstance(arch, dict) else arch
        if (
            entry.get("name") != "cpython"
            or entry.get("os") != "linux"
            or entry.get("libc") != "gnu"
            or entry.get("variant")
            or entry.get("prerelease")
            or family not in _TARGETS
            or (isinstance(arch, dict) and arch.get("variant"))
        ):
            continue
        parts = [entry.get(k) for k in ("major", "minor", "patch")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 1000 for n in parts):
            problems.append(f"{key}: major/minor/patch must be integers")
            continue
        version = "{}.{}.{}".format(*parts)
        url, sha = entry.get("url"), entry.get("sha256")
        if not isinstance(url, str) or not isinstance(sha, str) or not _HEX64.fullmatch(sha):
            problems.append(f"{key}: needs a url and a 64-hex-digit sha256")
            continue
        parsed = urlparse(url)
        match = _PBS_PATH.search(parsed.path)
        if parsed.scheme != "https" or not match:
            problems.append(f"{key}: not an https release-asset URL: {url[:120]!r}")
            continue
        file = unquote(match["file"])
        flavor = _FLAVOR.search(file)
        if not flavor:
            continue  # a full (not install_only) archive: another kind of build
        target = _TARGETS[str(family)]
        if "/" in file or version not in file or target not in file or match["release"] not in file:
            problems.append(f"{key}: archive name does not match the entry: {file[:120]!r}")
            continue
        row = {
            "version": version,
            "release": match["release"],
            "target": target,
            "flavor": flavor["flavor"],
            "file": file,
            "sha256": sha,
        }
        slot = (version, target)
        if slot not in best or row["release"] > best[slot]["release"]:
            best[slot] = row
    if problems:
        raise CatalogSourceInvalid(
            path=where,
            detail=problem_list(problems),
        )
    if not best:
        raise CatalogSourceInvalid(path=where, detail="no linux CPython build found in it")

    def order(r: dict[str, str]) -> tuple[tuple[int, ...], str]:
        return tuple(int(x) for x in r["version"].split(".")), r["target"]

    return sorted(best.values(), key=order)


def load_policy() -> dict[str, Any]:
    text = resources.files("pybuildpack").joinpath("data/policy.json").read_text("utf-8")
    policy: dict[str, Any] = json.loads(text)
    return policy


@dataclass(frozen=True)
class Snapshot:
    """One upstream input: where it came from, its date and its digest."""

    name: str
    where: str
    as_of: str
    sha256: str


def build_catalog(
    cycles: Mapping[MajorVersion, Cycle],
    builds: Sequence[Mapping[str, str]],
    policy: Mapping[str, Any],
    snapshots: Sequence[Snapshot],
) -> tuple[dict[str, Any], list[str]]:
    """The catalog document, and notes on upstream data it could not use."""
    notes: list[str] = []
    oldest = MajorVersion.parse(policy["majors_from"])
    latest: dict[MajorVersion, int] = {}
    for row in builds:
        major_s, minor_s, patch_s = row["version"].split(".")
        series = MajorVersion(int(major_s), int(minor_s))
        latest[series] = max(latest.get(series, -1), int(patch_s))
    majors: list[dict[str, Any]] = []
    for series in sorted(cycles):
        if series < oldest:
            continue
        c = cycles[series]
        entry: dict[str, Any] = {
            "major": str(series),
            "released": c.first_release,
            "end_of_life": c.end_of_life,
        }
        removal = policy.get("removal", {}).get(str(series))
        if removal:
            entry["removal"] = removal
        if series in latest:
            # CPython numbers its patches without gaps; which of them a given archive
            # source has is in the download metadata.
            entry["latest_patch"] = latest[series]
        entry["upstream_status"] = c.status
        majors.append(entry)
    for series in sorted(set(latest) - set(cycles)):
        if series >= oldest:
            notes.append(f"builds of {series} ignored: the release cycle does not list it")
    as_of = min(s.as_of for s in snapshots)
    document: dict[str, Any] = {
        "schema_version": 2,
        "as_of": as_of,
        "notes": (
            "Written by 'pybuildpack catalog update' from the python-build-standalone build "
            "list (published in astral-sh/uv) and CPython's release cycle (release-cycle.json), "
            "with pybuildpack's policy (data/policy.json). Statuses follow the dates; see "
            "docs/catalog.md."
        ),
        "upstream": [
            {"name": s.name, "url": s.where, "as_of": s.as_of, "sha256": s.sha256}
            for s in snapshots
        ],
        "policy": {
            k: policy[k]
            for k in (
                "default_major",
                "default_after_days",
                "deprecation_days",
                "removal_days",
                "stale_after_days",
            )
            if k in policy
        },
        "majors": majors,
        "stacks": policy["stacks"],
        "unavailable": policy.get("unavailable", []),
    }
    return document, notes


def build_downloads(
    builds: Sequence[Mapping[str, str]], policy: Mapping[str, Any], snapshot: Snapshot
) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "as_of": snapshot.as_of,
        "notes": (
            "Download locations of runtime archives, written by 'pybuildpack catalog update'. "
            f"pbs: python-build-standalone builds from {snapshot.where} (as of "
            f"{snapshot.as_of}, sha256 {snapshot.sha256[:12]}): linux gnu x86_64/aarch64 "
            "default builds, newest build per version. heroku archive names follow a template; "
            "their checksums come from a SHA256SUMS file next to them. Override with "
            "--downloads FILE or PYBUILDPACK_DOWNLOADS."
        ),
        "sources": {
            "pbs": {
                "base_url": policy["sources"]["pbs"]["base_url"],
                "archives": [dict(r) for r in builds],
            },
            "heroku": {"base_url": policy["sources"]["heroku"]["base_url"], "archives": []},
        },
    }


# --------------------------------------------------------------------------- what changed


def _patches(info: MajorInfo) -> set[int]:
    return set(info.patches)


def describe_changes(old: Catalog | None, new: Catalog) -> list[str]:
    """Human lines: new majors, new patches, status changes, default major."""
    if old is None:
        return [f"new catalog as of {new.as_of}"]
    lines: list[str] = []
    if old.as_of != new.as_of:
        lines.append(f"as of: {old.as_of} -> {new.as_of}")
    for series in sorted(new.majors):
        info = new.majors[series]
        before = old.majors.get(series)
        if before is None:
            what = f"latest {info.latest}" if info.has_releases else f"release {info.released}"
            lines.append(f"new major: {series} ({info.status}, {what})")
            continue
        added = sorted(_patches(info) - _patches(before))
        if added:
            names = ", ".join(f"{series}.{p}" for p in added)
            lines.append(f"new patch{'es' if len(added) > 1 else ''}: {names}")
        if before.status != info.status:
            lines.append(f"status: {series} {before.status} -> {info.status}")
        if (before.end_of_life, before.removal) != (info.end_of_life, info.removal):
            lines.append(
                f"dates: {series} end of life {before.end_of_life} -> {info.end_of_life}, "
                f"removal {before.removal} -> {info.removal}"
            )
    for series in sorted(set(old.majors) - set(new.majors)):
        lines.append(f"dropped major: {series}")
    if old.default_major != new.default_major:
        lines.append(f"default major: {old.default_major} -> {new.default_major}")
    return lines or ["no changes"]


# --------------------------------------------------------------------------- installing


def check_dates(
    new_as_of: str, current: Catalog | None, today: dt.date, force: bool, where: str
) -> None:
    """Refuse a catalog dated in the future, and one older than the catalog in use
    (unless ``force``)."""
    if parse_date(new_as_of) > today:
        raise CatalogInvalid(
            path=where,
            detail=f"it is dated {new_as_of}, in the future (today is {today}); a catalog "
            "cannot know facts from days still to come",
        )
    if current is not None and new_as_of < current.as_of and not force:
        raise CatalogInvalid(
            path=where,
            detail=f"it is dated {new_as_of}, older than the catalog in use ({current.as_of}, "
            f"{current.source}); use --force to install it anyway",
        )


def write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install_pair(directory: Path, catalog_text: str, downloads_text: str | None) -> list[Path]:
    """Install ``catalog.json`` (and ``downloads.json``) in ``directory``, each replaced in one
    step; the pair being replaced is kept as ``*.previous.json``. Returns what was written."""
    written: list[Path] = []
    for name, text in (("catalog.json", catalog_text), ("downloads.json", downloads_text)):
        if text is None:
            continue
        target = directory / name
        if target.is_file():
            previous = directory / name.replace(".json", ".previous.json")
            write_atomically(previous, target.read_text("utf-8"))
        write_atomically(target, text)
        written.append(target)
    return written


def dumps(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def make_catalog(
    builds_doc: Fetched,
    cycle_doc: Fetched,
    builds_as_of: str,
    cycle_as_of: str,
    *,
    today: dt.date,
    policy: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Both documents from the two upstream inputs, fully validated."""
    policy = policy or load_policy()
    cycles = read_release_cycle(decode_json(cycle_doc), cycle_doc.where)
    builds = read_builds(decode_json(builds_doc), builds_doc.where)
    snapshots = [
        Snapshot("builds", builds_doc.where, builds_as_of, builds_doc.sha256),
        Snapshot("release-cycle", cycle_doc.where, cycle_as_of, cycle_doc.sha256),
    ]
    for s in snapshots:
        if parse_date(s.as_of) > today:
            raise CatalogSourceInvalid(
                path=s.where, detail=f"its date {s.as_of} is in the future (today is {today})"
            )
    catalog_doc, notes = build_catalog(cycles, builds, policy, snapshots)
    validate_catalog(catalog_doc, "the updated catalog")
    as_built = parse_catalog(catalog_doc, source="the updated catalog")
    # Archives of majors already removed on the catalog's date can never be installed.
    removed = {str(s) for s, m in as_built.majors.items() if m.status == "removed"}
    oldest = MajorVersion.parse(policy["majors_from"])
    kept = [
        r
        for r in builds
        if r["version"].rsplit(".", 1)[0] not in removed
        and MajorVersion.parse(r["version"].rsplit(".", 1)[0]) >= oldest
    ]
    downloads_doc = build_downloads(kept, policy, snapshots[0])
    validate_downloads(downloads_doc, "the updated download metadata")
    return catalog_doc, downloads_doc, notes
