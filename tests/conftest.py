"""Shared test setup."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test helper packages (e.g. ``provisioning.archives``) are importable from every test dir.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _isolated_user_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test reads or writes the developer's own pybuildpack state (refreshed catalog,
    catalog override, download cache, mirrors)."""
    state: Path = tmp_path_factory.mktemp("pybuildpack-state")
    monkeypatch.setenv("PYBUILDPACK_DATA_DIR", str(state / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(state / "cache"))
    for name in (
        "PYBUILDPACK_CATALOG",
        "PYBUILDPACK_MIRROR",
        "PYBUILDPACK_SOURCE",
        "PYBUILDPACK_DOWNLOADS",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
