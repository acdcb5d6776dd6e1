"""Shared helpers for the parity tables (one module per reference buildpack's test suite).

Each case rebuilds a reference fixture's version-related files (the bytes that matter) in a
temporary app and states pybuildpack's outcome for it: the requested version and where it
came from, or the error id."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pybuildpack.app import resolve_app
from pybuildpack.catalog import load_catalog
from pybuildpack.errors import PyBuildpackError
from pybuildpack.resolve import Resolution
from pybuildpack.version import Generation, PythonVersion

DEFAULT = str(load_catalog().default_major)  # what an app stating no version asks for
UV_PROJECT = {"uv.lock": b"version = 1\n", "pyproject.toml": b'[project]\nname = "app"\n'}


@dataclass(frozen=True)
class Case:
    fixture: str  # the reference fixture's name
    files: dict[str, bytes]
    requested: str | None = None  # e.g. "3.13" (success)
    origin: str | None = None  # e.g. ".python-version"
    error: str | None = None  # the error id (failure)
    warnings: tuple[str, ...] = field(default=())  # warning ids that must be among them
    cached: str | None = None  # the sticky version in the build cache (classic only)


def run(case: Case, tmp: Path, generation: Generation) -> Resolution | PyBuildpackError:
    app = tmp / case.fixture
    app.mkdir(parents=True)
    for name, data in case.files.items():
        (app / name).write_bytes(data)
    cached = PythonVersion.parse(case.cached) if case.cached else None
    try:
        return resolve_app(app, load_catalog(), generation=generation, cached_version=cached)
    except PyBuildpackError as err:
        return err


def check(case: Case, outcome: Resolution | PyBuildpackError) -> None:
    if case.error is not None:
        assert isinstance(outcome, PyBuildpackError), (case.fixture, outcome)
        assert outcome.id == case.error, case.fixture
        return
    assert isinstance(outcome, Resolution), (case.fixture, outcome)
    assert str(outcome.requested) == case.requested, case.fixture
    assert outcome.requested.origin.value == case.origin, case.fixture
    found = {w.id for w in outcome.warnings}
    assert set(case.warnings) <= found, (case.fixture, found)
