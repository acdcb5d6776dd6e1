"""Invariants of the bundled download metadata (data/downloads.json)."""

from __future__ import annotations

import re

import pytest

from pybuildpack.catalog import load_bundled_catalog
from pybuildpack.provision.sources import archive_for, load_downloads
from pybuildpack.version import PythonVersion

DOC = load_downloads()
PBS = DOC["sources"]["pbs"]["archives"]
CATALOG = load_bundled_catalog()


def test_schema_and_sources() -> None:
    assert DOC["schema_version"] == 1 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", DOC["as_of"])
    assert set(DOC["sources"]) == {"pbs", "heroku"}
    assert PBS, "the bundled pbs metadata is empty"


@pytest.mark.parametrize("row", PBS, ids=lambda r: f"{r['version']}-{r['target'][:6]}")
def test_each_row_is_consistent(row: dict[str, str]) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", row["sha256"])
    assert row["file"] == (
        f"cpython-{row['version']}+{row['release']}-{row['target']}-{row['flavor']}.tar.gz"
    )
    assert row["flavor"] in ("install_only", "install_only_stripped")


def test_one_row_per_version_and_target() -> None:
    keys = [(r["version"], r["target"]) for r in PBS]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
@pytest.mark.parametrize("info", CATALOG.supported, ids=lambda m: str(m.series))
def test_every_supported_latest_patch_has_a_verified_download(arch: str, info: object) -> None:
    spec = archive_for(info.latest, catalog=CATALOG, arch=arch)  # type: ignore[attr-defined]
    assert spec.sha256 and spec.url.startswith(DOC["sources"]["pbs"]["base_url"])
    assert spec.strip == "python" and spec.compression == "gz"


def test_default_resolves_to_a_known_archive() -> None:
    latest = CATALOG.default.latest
    assert any(r["version"] == str(latest) for r in PBS)
    assert isinstance(latest, PythonVersion)
