"""Source precedence (cedar and fir), resolution rules and the catalog, table by table."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pybuildpack import errors as e
from pybuildpack.app import resolve_app
from pybuildpack.catalog import (
    bundled_catalog_text,
    load_bundled_catalog,
    load_catalog,
    parse_catalog,
)
from pybuildpack.requested import MISSPELLED_NAMES, read_requested_version
from pybuildpack.resolve import resolve
from pybuildpack.version import Generation, MajorVersion, Origin, PythonVersion, RequestedVersion

BUNDLED = load_bundled_catalog()
CEDAR, FIR = Generation.CEDAR, Generation.FIR


def synthetic(**overrides: Any) -> dict[str, Any]:
    """A small catalog independent of today's numbers, evaluated on its as_of (2030-01-01):
    3.20 (removed), 3.21 (deprecated: end of life within a year), 3.22 (supported, missing
    patch 2), 3.23 (default: its X.Y.1 is out), 3.24 (upcoming); two stacks."""
    doc: dict[str, Any] = {
        "schema_version": 2,
        "as_of": "2030-01-01",
        "policy": {"default_after_days": 60, "deprecation_days": 365, "removal_days": 90,
                   "stale_after_days": 60},
        "majors": [
            {"major": "3.20", "released": "2024-10-01", "end_of_life": "2029-10-31",
             "removal": "2029-12-01", "latest_patch": 9},
            {"major": "3.21", "released": "2025-10-01", "end_of_life": "2030-10",
             "removal": "2031-01-06", "latest_patch": 4},
            {"major": "3.22", "released": "2026-10-01", "end_of_life": "2031-10",
             "latest_patch": 5, "missing": [2]},
            {"major": "3.23", "released": "2029-10-01", "end_of_life": "2032-10",
             "latest_patch": 1},
            {"major": "3.24", "released": "2030-10-01", "end_of_life": "2035-10"},
        ],
        "stacks": [
            {"name": "old", "distro": "ubuntu", "distro_version": "20.04", "arches": ["amd64"]},
            {"name": "new", "distro": "ubuntu", "distro_version": "30.04",
             "arches": ["amd64", "arm64"]},
        ],
        "unavailable": [{"version": "3.22.3", "stack": "new", "arch": "arm64"}],
    }  # fmt: skip
    doc.update(overrides)
    return doc


SYN = parse_catalog(synthetic())


def req(text: str, origin: Origin = Origin.PYTHON_VERSION_FILE) -> RequestedVersion:
    r = RequestedVersion.parse(text, origin)
    assert r is not None
    return r


def app(tmp_path: Path, files: dict[str, bytes | str]) -> Path:
    for name, content in files.items():
        path = tmp_path / name
        if name.endswith("/"):
            path.mkdir()
            continue
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return tmp_path


LOCK = json.dumps({"_meta": {"requires": {"python_version": "3.22"}}})

# --------------------------------------------------------------------------- precedence

PRECEDENCE = [
    # id, files, generation, cached, expected requested, expected origin, warning ids
    ("default", {}, CEDAR, None, "3.23", "default", ["python-version::not-specified"]),
    ("cached-major", {}, CEDAR, "3.22.1", "3.22", "cached", ["python-version::not-specified"]),
    ("pipfile-lock", {"Pipfile.lock": LOCK}, CEDAR, "3.21.0", "3.22", "Pipfile.lock", []),
    ("python-version-beats-lock", {".python-version": "3.23", "Pipfile.lock": LOCK}, CEDAR, None,
     "3.23", ".python-version", []),
    ("runtime-beats-python-version", {"runtime.txt": "python-3.22", ".python-version": "3.23"},
     CEDAR, None, "3.22", "runtime.txt", ["runtime-txt::deprecated"]),
    ("runtime-skips-misspelled", {"runtime.txt": "python-3.22", "python-version": "3.23"}, CEDAR,
     None, "3.22", "runtime.txt", ["runtime-txt::deprecated"]),
    ("dir-named-python-version-ignored", {".python-version/": ""}, CEDAR, None, "3.23", "default",
     ["python-version::not-specified"]),
    ("fir-ignores-cache", {}, FIR, "3.22.1", "3.23", "default", ["python-version::not-specified"]),
    ("fir-ignores-pipfile-lock", {"Pipfile.lock": LOCK}, FIR, None, "3.23", "default",
     ["python-version::not-specified"]),
    ("fir-reads-python-version", {".python-version": "3.22"}, FIR, "3.21.0", "3.22",
     ".python-version", []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("files", "generation", "cached", "requested", "origin", "warnings"),
    [r[1:] for r in PRECEDENCE],
    ids=[r[0] for r in PRECEDENCE],
)
def test_precedence(
    tmp_path: Path,
    files: dict[str, str],
    generation: Generation,
    cached: str | None,
    requested: str,
    origin: str,
    warnings: list[str],
) -> None:
    got = read_requested_version(
        app(tmp_path, files),
        SYN,
        generation=generation,
        cached_version=PythonVersion.parse(cached) if cached else None,
    )
    assert (str(got.version), got.version.origin.value) == (requested, origin)
    assert [w.id for w in got.warnings] == warnings


@pytest.mark.parametrize("name", MISSPELLED_NAMES)
@pytest.mark.parametrize("generation", [CEDAR, FIR])
def test_every_misspelling_is_an_error_even_next_to_a_correct_file(
    tmp_path: Path, name: str, generation: Generation
) -> None:
    app(tmp_path, {".python-version": "3.22\n", name: "3.22\n"})
    with pytest.raises(e.PythonVersionFileMisspelled) as exc:
        read_requested_version(tmp_path, SYN, generation=generation)
    assert exc.value.filename == name


def test_first_misspelling_in_list_order_is_reported(tmp_path: Path) -> None:
    app(tmp_path, {"python-version": "", ".python_version": ""})
    with pytest.raises(e.PythonVersionFileMisspelled) as exc:
        read_requested_version(tmp_path, SYN)
    assert exc.value.filename == ".python_version"


def test_case_variant_is_not_an_error_but_is_named_in_the_warning(tmp_path: Path) -> None:
    app(tmp_path, {".PYTHON-VERSION": "3.22\n"})
    got = read_requested_version(tmp_path, SYN)
    assert got.version.origin is Origin.DEFAULT
    warning = got.warnings[0]
    assert isinstance(warning, e.PythonVersionNotSpecified)
    assert warning.lookalikes == (".PYTHON-VERSION",)


@pytest.mark.parametrize("runtime", [b"", b"python-3.22\n"], ids=["empty", "valid"])
def test_fir_rejects_any_runtime_txt(tmp_path: Path, runtime: bytes) -> None:
    app(tmp_path, {"runtime.txt": runtime, ".python-version": "3.22\n"})
    with pytest.raises(e.RuntimeTxtNotSupported) as exc:
        read_requested_version(tmp_path, SYN, generation=FIR)
    assert exc.value.suggested == (MajorVersion(3, 22) if runtime else SYN.default_major)


def test_fir_rejects_runtime_txt_directory(tmp_path: Path) -> None:
    app(tmp_path, {"runtime.txt/": ""})
    with pytest.raises(e.RuntimeTxtNotSupported):
        read_requested_version(tmp_path, SYN, generation=FIR)


@pytest.mark.parametrize(
    ("content", "suggested"),
    [
        ("python-3.22\n", "3.22"),  # the major the file names, builds can use it
        ("3.22.*\n", "3.22"),
        ("python-3.20\n", "3.23"),  # a removed major: the catalog default instead
        ("python-3\n", "3.23"),  # no major named: the catalog default
    ],
)
def test_parser_errors_suggest_the_major_the_file_names(
    tmp_path: Path, content: str, suggested: str
) -> None:
    app(tmp_path, {".python-version": content})
    with pytest.raises(e.PythonVersionFileInvalidVersion) as exc:
        read_requested_version(tmp_path, SYN)
    assert exc.value.suggested == MajorVersion.parse(suggested)


# --------------------------------------------------------------------------- resolution

RESOLVE_OK = [
    # id, request, origin, stack, arch, version, warning ids
    ("major-to-latest", "3.23", Origin.PYTHON_VERSION_FILE, None, None, "3.23.1", []),
    ("exact-latest", "3.23.1", Origin.PYTHON_VERSION_FILE, None, None, "3.23.1", []),
    ("exact-outdated", "3.23.0", Origin.RUNTIME_TXT, None, None, "3.23.0",
     ["python-version::outdated-patch"]),
    ("newer-than-catalog-passes", "3.22.99", Origin.PYTHON_VERSION_FILE, None, None, "3.22.99", []),
    ("deprecated-major", "3.21", Origin.CACHED, None, None, "3.21.4",
     ["python-version::deprecated"]),
    ("deprecated-and-outdated", "3.21.0", Origin.PYTHON_VERSION_FILE, None, None, "3.21.0",
     ["python-version::deprecated", "python-version::outdated-patch"]),
    ("available-on-other-arch", "3.22.3", Origin.PYTHON_VERSION_FILE, "new", "amd64", "3.22.3",
     ["python-version::outdated-patch"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "origin", "stack", "arch", "version", "warnings"),
    [r[1:] for r in RESOLVE_OK],
    ids=[r[0] for r in RESOLVE_OK],
)
def test_resolve_ok(
    text: str,
    origin: Origin,
    stack: str | None,
    arch: str | None,
    version: str,
    warnings: list[str],
) -> None:
    got = resolve(req(text, origin), SYN, stack=stack, arch=arch)
    assert str(got.version) == version
    assert [w.id for w in got.warnings] == warnings


RESOLVE_ERR = [
    ("below-oldest", "3.19", None, None, "python-version::eol"),
    ("eol-status", "3.20", None, None, "python-version::eol"),
    ("eol-status-patch", "3.20.9", None, None, "python-version::eol"),
    ("python-2", "2.7.18", None, None, "python-version::eol"),
    ("zero", "0.0", None, None, "python-version::eol"),
    ("above-newest", "3.24", None, None, "python-version::unknown-major"),
    ("python-4", "4.0", None, None, "python-version::unknown-major"),
    ("missing-patch", "3.22.2", None, None, "python-version::unknown-patch"),
    ("unavailable-on-stack-arch", "3.22.3", "new", "arm64", "python-version::unknown-patch"),
    ("unknown-stack", "3.22", "heroku-99", "amd64", "stack::unknown"),
    ("arch-not-on-stack", "3.22", "old", "arm64", "platform::unsupported-arch"),
]


@pytest.mark.parametrize(
    ("text", "stack", "arch", "error_id"),
    [r[1:] for r in RESOLVE_ERR],
    ids=[r[0] for r in RESOLVE_ERR],
)
def test_resolve_errors(text: str, stack: str | None, arch: str | None, error_id: str) -> None:
    with pytest.raises(e.PyBuildpackError) as exc:
        resolve(req(text), SYN, stack=stack, arch=arch)
    assert exc.value.id == error_id


def test_unknown_patch_names_the_platform_only_when_availability_is_the_reason() -> None:
    with pytest.raises(e.PythonVersionUnknownPatch) as on_platform:
        resolve(req("3.22.3"), SYN, stack="new", arch="arm64")
    assert on_platform.value.platform == "new arm64"
    with pytest.raises(e.PythonVersionUnknownPatch) as missing:
        resolve(req("3.22.2"), SYN, stack="new", arch="arm64")
    assert missing.value.platform is None and str(missing.value.latest) == "3.22.5"


def test_eol_error_carries_date_and_cached_variant_mentions_the_cache() -> None:
    with pytest.raises(e.PythonVersionEol) as exc:
        resolve(req("3.20", Origin.CACHED), SYN)
    assert exc.value.eol_date == "2029-10-31"
    assert "previous build" in str(exc.value)
    with pytest.raises(e.PythonVersionEol) as explicit:
        resolve(req("3.20"), SYN)
    assert "previous build" not in str(explicit.value) and ".python-version" in str(explicit.value)


def test_unknown_major_cached_variant_mentions_a_downgrade() -> None:
    with pytest.raises(e.PythonVersionUnknownMajor) as exc:
        resolve(req("3.24", Origin.CACHED), SYN)
    assert "older pybuildpack release" in str(exc.value)


def test_outdated_warning_names_the_newer_patch() -> None:
    got = resolve(req("3.22.1"), SYN)
    warning = got.warnings[0]
    assert isinstance(warning, e.PythonVersionOutdatedPatch) and str(warning.latest) == "3.22.5"


# --------------------------------------------------------------------------- requires-python

REQUIRES = [
    ("inside", '[project]\nrequires-python = ">=3.22"\n', []),
    ("outside", '[project]\nrequires-python = "<3.23"\n',
     ["python-version::outside-requires-python"]),
    ("not-equal-star", '[project]\nrequires-python = "!=3.23.*"\n',
     ["python-version::outside-requires-python"]),
    ("no-project-table", '[tool.x]\ny = 1\n', []),
    ("invalid-toml", "[project\n", ["pyproject::invalid"]),
    ("invalid-specifier", '[project]\nrequires-python = "3.12.*.*"\n', ["pyproject::invalid"]),
    ("not-a-string", "[project]\nrequires-python = 3\n", ["pyproject::invalid"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("pyproject", "warnings"), [r[1:] for r in REQUIRES], ids=[r[0] for r in REQUIRES]
)
def test_requires_python_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pyproject: str, warnings: list[str]
) -> None:
    app(tmp_path, {".python-version": "3.23\n", "pyproject.toml": pyproject})
    got = resolve_app(tmp_path, SYN)
    assert [w.id for w in got.warnings] == warnings


def test_outside_requires_python_suggests_newest_allowed_major(tmp_path: Path) -> None:
    app(
        tmp_path,
        {".python-version": "3.23\n", "pyproject.toml": '[project]\nrequires-python = "<3.23"\n'},
    )
    warning = resolve_app(tmp_path, SYN).warnings[0]
    assert isinstance(warning, e.PythonVersionOutsideRequiresPython)
    assert warning.suggested == MajorVersion(3, 22)


# --------------------------------------------------------------------------- catalog


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    target: Any = doc
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return doc


_DELETE = object()
BAD_CATALOGS = [
    ("schema-newer", "schema_version", 3, "schema_version"),
    ("schema-older", "schema_version", 1, "catalog update"),
    ("no-as-of", "as_of", _DELETE, "'as_of'"),
    ("bad-as-of", "as_of", "2030-1-1", "as_of"),
    ("impossible-as-of", "as_of", "2030-02-30", "real date"),
    ("bad-eol-date", "majors.2.end_of_life", "soon", "end_of_life"),
    ("bad-eol-month", "majors.2.end_of_life", "2031-13", "real date"),
    ("unknown-major-key", "majors.2.status", "retired", "unknown key 'status'"),
    ("unknown-top-key", "defualt_major", "3.23", "unknown key 'defualt_major'"),
    ("latest-missing", "majors.2.missing", [5], "listed as missing"),
    ("bool-patch", "majors.3.latest_patch", True, "integer"),
    ("negative-patch", "majors.3.latest_patch", -1, "at least 0"),
    ("bad-major", "majors.0.major", "three", "expected form"),
    ("default-unknown", "policy.default_major", "3.99", "default_major"),
    ("policy-missing-key", "policy.stale_after_days", _DELETE, "stale_after_days"),
    ("bad-arch", "stacks.0.arches", ["x86"], "arches"),
    ("empty-arches", "stacks.0.arches", [], "arches"),
    ("unknown-stack-in-unavailable", "unavailable.0.stack", "nope", "unknown stack"),
    ("bad-unavailable-version", "unavailable.0.version", "3.22", "version"),
    ("no-majors", "majors", _DELETE, "majors"),
    ("majors-not-list", "majors", {"3.22": {}}, "must be array"),
    ("no-releases", "majors", [{"major": "3.30", "released": "2030-10-01",
                                "end_of_life": "2035-10"}], "no major has a release"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "value", "word"), [r[1:] for r in BAD_CATALOGS], ids=[r[0] for r in BAD_CATALOGS]
)
def test_invalid_catalogs(path: str, value: Any, word: str) -> None:
    with pytest.raises(e.CatalogInvalid) as exc:
        parse_catalog(_set(synthetic(), path, value))
    assert word in exc.value.detail


def test_duplicate_major_and_non_object() -> None:
    doc = synthetic()
    doc["majors"].append(copy.deepcopy(doc["majors"][0]))
    with pytest.raises(e.CatalogInvalid) as dup:
        parse_catalog(doc)
    assert "listed twice" in dup.value.detail
    with pytest.raises(e.CatalogInvalid) as not_object:
        parse_catalog([])
    assert "must be object" in not_object.value.detail


def test_every_problem_is_reported_at_once() -> None:
    doc = _set(_set(synthetic(), "majors.1.latest_patch", "4"), "stacks.1.arches", ["sparc"])
    doc["extra"] = 1
    with pytest.raises(e.CatalogInvalid) as exc:
        parse_catalog(doc)
    detail = exc.value.detail
    assert detail.startswith("3 problems:")
    for part in ("majors[1].latest_patch", "stacks[1].arches[0]", "unknown key 'extra'"):
        assert part in detail


def test_load_catalog_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(synthetic()))
    assert load_catalog(path).default_major == MajorVersion(3, 23)
    monkeypatch.setenv("PYBUILDPACK_CATALOG", str(path))
    assert load_catalog().as_of == "2030-01-01"
    with pytest.raises(e.CatalogInvalid) as missing:
        load_catalog(tmp_path / "missing.json")
    assert "does not exist" in missing.value.detail
    path.write_text("{")
    with pytest.raises(e.CatalogInvalid) as exc:
        load_catalog(path)
    assert "JSON" in exc.value.detail


def test_bundled_catalog_holds_the_specs_facts() -> None:
    # Evaluated on its own date: the facts the spec snapshot describes (3.14 default, 3.10
    # deprecated with Heroku's removal date, 3.9 removed).
    assert BUNDLED.today.isoformat() == BUNDLED.as_of
    assert BUNDLED.default_major == MajorVersion(3, 14)
    latest = {str(m.series): m.latest.patch for m in BUNDLED.supported}
    assert latest["3.10"] >= 21 and latest["3.13"] >= 15 and latest["3.14"] >= 7
    ten = BUNDLED.majors[MajorVersion(3, 10)]
    assert ten.status == "deprecated" and ten.removal == "2027-01-06"
    assert BUNDLED.majors[MajorVersion(3, 9)].status == "removed"
    assert BUNDLED.stacks["heroku-22"].arches == ("amd64",)
    assert json.loads(bundled_catalog_text())["as_of"] == BUNDLED.as_of
