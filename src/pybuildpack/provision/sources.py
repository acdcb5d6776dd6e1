"""Where a runtime archive comes from: source presets, mirrors and the download metadata.

The metadata is data (``data/downloads.json``, or ``--downloads`` / ``PYBUILDPACK_DOWNLOADS``);
this module only turns (version, source, platform) into an ``ArchiveSpec``.

* ``pbs``: python-build-standalone ``install_only`` archives. Names carry a release tag, so
  each version/target needs an entry in the metadata (with its sha256).
  URL ``{base}/{release}/{file}``, checksums ``{base}/{release}/SHA256SUMS``.
* ``heroku``: ``python-X.Y.Z-ubuntu-NN.04-ARCH.tar.zst`` with the prefix at the archive root.
  URL ``{base}/{file}``, checksums ``{base}/SHA256SUMS``.

A mirror replaces the preset's base URL and keeps the same relative layout; ``file://``
mirrors work for air-gapped builds.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pybuildpack._record import dataclass
from pybuildpack.catalog import Catalog, package_data_text
from pybuildpack.errors import (
    DownloadsFileInvalid,
    NoDownloadForVersion,
    SourceUnknown,
    StackUnknown,
    UsageError,
)
from pybuildpack.version import PythonVersion

SOURCES = ("pbs", "heroku")
DEFAULT_SOURCE = "pbs"
SOURCE_ENV = "PYBUILDPACK_SOURCE"
MIRROR_ENV = "PYBUILDPACK_MIRROR"
DOWNLOADS_ENV = "PYBUILDPACK_DOWNLOADS"

_PBS_TARGETS = {"amd64": "x86_64-unknown-linux-gnu", "arm64": "aarch64-unknown-linux-gnu"}
_HEX64 = re.compile(r"[0-9a-f]{64}")

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any, Literal

    Compression = Literal["gz", "zst"]


@dataclass(frozen=True)
class ArchiveSpec:
    source: str
    url: str
    filename: str
    sha256: str | None  # known from the metadata, else looked up in SHA256SUMS
    sums_url: str
    compression: Compression
    strip: str | None  # a top-level folder to strip ("python" for pbs)


def compression_of(filename: str) -> Compression:
    if filename.endswith((".tar.zst", ".tzst")):
        return "zst"
    if filename.endswith((".tar.gz", ".tgz")):
        return "gz"
    raise DownloadsFileInvalid(path=filename, detail="archives must be .tar.zst or .tar.gz")


def _load_downloads_text(path: Path | None) -> tuple[str, str]:
    chosen = path or (Path(os.environ[DOWNLOADS_ENV]) if os.environ.get(DOWNLOADS_ENV) else None)
    if chosen is None:
        text = package_data_text("downloads.json")
        return text, "bundled download metadata"
    try:
        return chosen.read_text("utf-8"), str(chosen)
    except OSError as exc:
        raise DownloadsFileInvalid(path=str(chosen), detail=exc.strerror or str(exc)) from None


def load_downloads(path: Path | None = None) -> dict[str, Any]:
    """The validated download metadata document."""
    text, where = _load_downloads_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DownloadsFileInvalid(path=where, detail=f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise DownloadsFileInvalid(path=where, detail="schema_version must be 1")
    sources = doc.get("sources")
    if not isinstance(sources, dict):
        raise DownloadsFileInvalid(path=where, detail="missing 'sources' object")
    for name, src in sources.items():
        if not isinstance(src, dict) or not isinstance(src.get("base_url"), str):
            raise DownloadsFileInvalid(path=where, detail=f"sources.{name}.base_url is missing")
        archives = src.get("archives", [])
        if not isinstance(archives, list):
            raise DownloadsFileInvalid(path=where, detail=f"sources.{name}.archives must be a list")
        for i, a in enumerate(archives):
            ok = (
                isinstance(a, dict)
                and isinstance(a.get("version"), str)
                and isinstance(a.get("file"), str)
                and "/" not in a["file"]
                and (a.get("sha256") is None or _HEX64.fullmatch(str(a["sha256"])))
            )
            if not ok:
                raise DownloadsFileInvalid(
                    path=where,
                    detail=f"sources.{name}.archives[{i}] needs version, file (a plain name) "
                    "and an optional 64-hex-digit sha256",
                )
    return doc


def choose_source(source: str | None) -> str:
    chosen = source or os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE
    if chosen not in SOURCES:
        raise SourceUnknown(source=chosen, known=SOURCES)
    return chosen


def archive_for(
    version: PythonVersion,
    *,
    catalog: Catalog,
    arch: str,
    stack: str | None = None,
    source: str | None = None,
    mirror: str | None = None,
    downloads: Path | None = None,
) -> ArchiveSpec:
    """Where to get ``version`` for this platform, and how it is packed."""
    name = choose_source(source)
    doc = load_downloads(downloads)
    src = doc["sources"].get(name) or {}
    base = (mirror or os.environ.get(MIRROR_ENV) or src.get("base_url", "")).rstrip("/")
    if not base:
        raise UsageError(detail=f"no base URL for source {name!r}: pass --mirror")
    archives: list[dict[str, Any]] = src.get("archives", [])
    if name == "pbs":
        target = _PBS_TARGETS.get(arch)
        if target is None:
            raise UsageError(detail=f"no python-build-standalone target for arch {arch!r}")
        entries = [
            a for a in archives if a["version"] == str(version) and a.get("target") == target
        ]
        if not entries:
            raise NoDownloadForVersion(version=version, source=name, target=target)
        entry = entries[0]
        release = str(entry.get("release", ""))
        prefix = f"{base}/{release}" if release else base
        return ArchiveSpec(
            source=name,
            url=f"{prefix}/{entry['file']}",
            filename=entry["file"],
            sha256=entry.get("sha256"),
            sums_url=f"{prefix}/SHA256SUMS",
            compression=compression_of(entry["file"]),
            strip="python",
        )
    # heroku
    if stack is None:
        raise UsageError(
            detail="the heroku source needs a stack (--stack heroku-24, or STACK on a "
            "classic platform): its archives are built per Ubuntu release"
        )
    info = catalog.stacks.get(stack)
    if info is None:
        raise StackUnknown(stack=stack, known=tuple(sorted(catalog.stacks)))
    filename = f"python-{version}-{info.distro}-{info.distro_version}-{arch}.tar.zst"
    listed = next((a for a in archives if a["file"] == filename), None)
    return ArchiveSpec(
        source=name,
        url=f"{base}/{filename}",
        filename=filename,
        sha256=listed.get("sha256") if listed else None,
        sums_url=f"{base}/SHA256SUMS",
        compression="zst",
        strip=None,
    )


def parse_sha256sums(text: str) -> dict[str, str]:
    """``sha256sum`` output -> {file name: hex digest}. Binary-mode ``*name`` accepted."""
    sums: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) != 2 or not _HEX64.fullmatch(parts[0].lower()):
            continue
        name = parts[1].strip().lstrip("*")
        sums[name.rsplit("/", 1)[-1]] = parts[0].lower()
    return sums
