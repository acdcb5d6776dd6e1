"""Status follows the dates (an injected "today"), and one truth per archive source."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from pybuildpack import errors as e
from pybuildpack.catalog import (
    SourceBuilds,
    bundled_catalog_text,
    end_of_life_start,
    load_bundled_catalog,
    load_catalog,
    parse_catalog,
    parse_catalog_text,
    parse_date,
    source_builds,
    validate_catalog_document,
)
from pybuildpack.cli import main
from pybuildpack.messages import render
from pybuildpack.provision.sources import load_downloads
from pybuildpack.resolve import for_source, resolve
from pybuildpack.version import MajorVersion, Origin, PythonVersion, RequestedVersion

D = dt.date.fromisoformat


def doc(**policy: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": 2,
        "as_of": "2030-01-01",
        "policy": {"default_after_days": 60, "deprecation_days": 365, "removal_days": 90,
                   "stale_after_days": 60, **policy},
        "majors": [
            {"major": "3.21", "released": "2025-10-01", "end_of_life": "2030-10",
             "removal": "2031-01-06", "latest_patch": 4},
            {"major": "3.22", "released": "2026-10-01", "end_of_life": "2031-10-20",
             "latest_patch": 5},
            {"major": "3.23", "released": "2029-10-01", "end_of_life": "2034-10",
             "latest_patch": 0},
            {"major": "3.24", "released": "2030-10-01", "end_of_life": "2035-10"},
        ],
        "stacks": [{"name": "s", "distro": "ubuntu", "distro_version": "30.04",
                    "arches": ["amd64", "arm64"]}],
    }  # fmt: skip
    return base


CAT = parse_catalog(doc())


def words(diagnostic: e.PyBuildpackError | e.BuildWarning) -> str:
    """The rendered message with line breaks undone (messages are reflowed to 88 columns)."""
    return " ".join(render(diagnostic).text.split())


def req(text: str, origin: Origin = Origin.PYTHON_VERSION_FILE) -> RequestedVersion:
    r = RequestedVersion.parse(text, origin)
    assert r is not None
    return r


def test_parse_without_today_evaluates_on_the_catalogs_own_date() -> None:
    assert CAT.today == D("2030-01-01")
    assert CAT.majors[MajorVersion(3, 21)].status == "deprecated"


@pytest.mark.parametrize(
    ("day", "status"),
    [
        ("2029-10-31", "supported"),  # more than 365 days before the end of life
        ("2029-11-01", "deprecated"),  # a month-only end of life ends with its month
        ("2030-10-31", "deprecated"),
        ("2030-11-01", "eol"),
        ("2031-01-05", "eol"),
        ("2031-01-06", "removed"),
    ],
)
def test_a_major_walks_through_its_statuses(day: str, status: str) -> None:
    assert CAT.at(D(day)).majors[MajorVersion(3, 21)].status == status


def test_removal_defaults_to_policy_days_after_a_full_end_of_life_date() -> None:
    info = CAT.majors[MajorVersion(3, 22)]
    assert info.removal == (D("2031-10-20") + dt.timedelta(days=90)).isoformat()
    assert CAT.at(D("2031-10-19")).majors[info.series].status == "deprecated"
    assert CAT.at(D("2031-10-20")).majors[info.series].status == "eol"


def test_month_only_end_of_life_is_reached_when_the_month_is_over() -> None:
    assert end_of_life_start("2026-10") == D("2026-11-01")
    assert end_of_life_start("2028-02") == D("2028-03-01")
    assert end_of_life_start("2026-12") == D("2027-01-01")
    assert end_of_life_start("2025-10-31") == D("2025-10-31")


def test_resolution_warns_then_errors_as_the_dates_pass() -> None:
    deprecated = resolve(req("3.21"), CAT.at(D("2030-06-01")))
    assert [w.id for w in deprecated.warnings] == ["python-version::deprecated"]
    text = words(deprecated.warnings[0])
    assert "October 2030" in text and "2031-01-06" in text and "will reach" not in text

    eol = resolve(req("3.21"), CAT.at(D("2030-12-01")))
    assert [w.id for w in eol.warnings] == ["python-version::eol-reached"]
    text = words(eol.warnings[0])
    assert "ended in October 2030" in text
    assert "no longer receives security fixes" in text
    assert "stop on 2031-01-06" in text
    assert str(eol.version) == "3.21.4"

    with pytest.raises(e.PythonVersionEol) as removed:
        resolve(req("3.21"), CAT.at(D("2031-02-01")))
    assert removed.value.removal_date == "2031-01-06"
    assert "stopped on 2031-01-06" in words(removed.value)


def test_eol_reached_for_the_cached_or_default_origin_explains_how_to_pin() -> None:
    got = resolve(req("3.21", Origin.CACHED), CAT.at(D("2030-12-01")))
    assert "pybuildpack pin ." in words(got.warnings[0])


def test_upcoming_then_unlisted_major() -> None:
    with pytest.raises(e.PythonVersionUnknownMajor) as upcoming:
        resolve(req("3.24"), CAT.at(D("2030-09-01")))
    assert upcoming.value.state == "upcoming"
    assert "not released yet" in words(upcoming.value) and "2030-10-01" in words(upcoming.value)

    with pytest.raises(e.PythonVersionUnknownMajor) as unlisted:
        resolve(req("3.24"), CAT.at(D("2030-11-01")))
    text = words(unlisted.value)
    assert unlisted.value.state == "unlisted"
    assert unlisted.value.id == "python-version::unknown-major"
    assert "predates" in text and "pybuildpack catalog update" in text and "2030-01-01" in text


def test_a_major_the_catalog_never_heard_of_points_at_catalog_update() -> None:
    with pytest.raises(e.PythonVersionUnknownMajor) as exc:
        resolve(req("3.30"), CAT)
    assert exc.value.state is None and "pybuildpack catalog update" in words(exc.value)


def test_default_follows_the_rule() -> None:
    # 3.23.0 is out but 3.23.1 is not: 3.23 becomes the default 60 days after its release.
    assert CAT.at(D("2029-11-29")).default_major == MajorVersion(3, 22)
    assert CAT.at(D("2029-11-30")).default_major == MajorVersion(3, 23)
    # X.Y.1 in the catalog settles it at once.
    one = copy.deepcopy(doc())
    one["majors"][2]["latest_patch"] = 1
    assert parse_catalog(one, today=D("2029-10-15")).default_major == MajorVersion(3, 23)
    # A pin in the policy wins while the pinned major is offered.
    pinned = parse_catalog(doc(default_major="3.21"), today=D("2030-01-01"))
    assert pinned.default_major == MajorVersion(3, 21)
    assert pinned.at(D("2031-02-01")).default_major == MajorVersion(3, 23)


def test_a_catalog_used_far_past_its_dates_still_loads() -> None:
    late = CAT.at(D("2040-01-01"))
    assert all(m.status in ("removed", "unlisted") for m in late.majors.values())
    assert late.default_major == MajorVersion(3, 23)
    with pytest.raises(e.PythonVersionEol):
        resolve(req("3.23"), late)


def test_the_bundled_catalog_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's scenario: 2026-11-24, 3.10's end of life (October 2026) has passed."""
    monkeypatch.setenv("PYBUILDPACK_TODAY", "2026-11-24")
    catalog = load_catalog()
    assert catalog.today == D("2026-11-24")
    got = resolve(req("3.10"), catalog)
    assert [w.id for w in got.warnings] == ["python-version::eol-reached"]
    assert "October 2026" in words(got.warnings[0])
    monkeypatch.setenv("PYBUILDPACK_TODAY", "2027-01-06")
    with pytest.raises(e.PythonVersionEol):
        resolve(req("3.10"), load_catalog())


def test_a_bad_today_setting_is_a_catalog_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBUILDPACK_TODAY", "tomorrow")
    with pytest.raises(e.CatalogInvalid) as exc:
        load_catalog()
    assert "PYBUILDPACK_TODAY" in words(exc.value)


# --------------------------------------------------------------------------- per source

PBS_DOC = {
    "sources": {
        "pbs": {"archives": [
            {"version": v, "target": t}
            for v in ("3.22.2", "3.22.3", "3.22.5")
            for t in ("x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu")
        ] + [{"version": "3.22.4", "target": "x86_64-unknown-linux-gnu"}]},
        "heroku": {"archives": []},
    }
}  # fmt: skip


def test_source_builds_from_download_metadata() -> None:
    builds = source_builds(PBS_DOC, "pbs")
    assert isinstance(builds, SourceBuilds)
    assert builds.has(PythonVersion(3, 22, 4), "amd64")
    assert not builds.has(PythonVersion(3, 22, 4), "arm64")
    assert builds.has(PythonVersion(3, 22, 4), None)  # any arch
    assert source_builds(PBS_DOC, "heroku") is None  # a template source lists nothing


def test_a_patch_the_source_lacks_is_unknown_patch_naming_source_and_nearest() -> None:
    builds = source_builds(PBS_DOC, "pbs")
    plain = resolve(req("3.22.0"), CAT)  # without a source: the catalog's answer
    assert str(plain.version) == "3.22.0"
    with pytest.raises(e.PythonVersionUnknownPatch) as exc:
        for_source(plain, CAT, builds, "amd64")
    err = exc.value
    assert err.source == "pbs" and [str(v) for v in err.nearest] == ["3.22.2", "3.22.3", "3.22.4"]
    text = words(err)
    assert "pbs archive source" in text and "3.22.2, 3.22.3, 3.22.4" in text
    with pytest.raises(e.PythonVersionUnknownPatch) as arm:
        for_source(resolve(req("3.22.4"), CAT), CAT, builds, "arm64")
    assert "3.22.4" not in [str(v) for v in arm.value.nearest]


def test_a_major_resolves_to_the_newest_patch_the_source_has() -> None:
    builds = source_builds(PBS_DOC, "pbs")
    got = for_source(resolve(req("3.22"), CAT), CAT, builds, "arm64")
    assert str(got.version) == "3.22.5"
    lacking = SourceBuilds("pbs", {"amd64": frozenset({PythonVersion(3, 22, 4)})})
    assert str(for_source(resolve(req("3.22"), CAT), CAT, lacking, "amd64").version) == "3.22.4"
    with pytest.raises(e.PythonVersionUnknownPatch):
        for_source(resolve(req("3.21"), CAT), CAT, lacking, "amd64")


def test_bundled_data_one_truth_for_resolve_and_install() -> None:
    """Every patch the bundled catalog resolves to by default has a pbs archive; pins the
    pbs build list lacks (3.10.0) are refused at resolve time for that source only."""
    catalog = load_bundled_catalog()
    builds = source_builds(load_downloads(), "pbs")
    assert builds is not None
    for info in catalog.supported:
        for arch in ("amd64", "arm64"):
            got = for_source(resolve(req(str(info.series)), catalog), catalog, builds, arch)
            assert got.version == info.latest
    with pytest.raises(e.PythonVersionUnknownPatch) as exc:
        for_source(resolve(req("3.10.0"), catalog), catalog, builds, "amd64")
    assert exc.value.nearest and all(v.series == MajorVersion(3, 10) for v in exc.value.nearest)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


def test_cli_source_option_on_resolve_and_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / ".python-version").write_text("3.10.0\n")
    code, out = _run(capsys, "resolve", str(tmp_path), "--json")
    assert code == 0 and out["version"] == "3.10.0"  # Heroku-compatible without a source
    code, out = _run(capsys, "resolve", str(tmp_path), "--json", "--source", "heroku")
    assert code == 0 and out["version"] == "3.10.0"
    code, out = _run(capsys, "resolve", str(tmp_path), "--json", "--source", "pbs")
    assert code == 1 and out["error"]["id"] == "python-version::unknown-patch"
    assert "pbs" in out["error"]["message"] and "3.10.2" in out["error"]["message"]
    code, out = _run(capsys, "check", str(tmp_path), "--json", "--source", "pbs")
    assert code == 1 and [x["id"] for x in out["errors"]] == ["python-version::unknown-patch"]


def test_cli_install_refuses_a_patch_its_source_lacks_before_downloading(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / ".python-version").write_text("3.10.0\n")
    code, out = _run(
        capsys, "install", str(tmp_path), "--dest", str(tmp_path / "py"), "--arch", "amd64",
        "--json",
    )  # fmt: skip
    assert code == 1 and out["error"]["id"] == "python-version::unknown-patch"
    assert not (tmp_path / "py").exists()


@pytest.mark.parametrize(
    "text",
    [
        "2026-1-01",
        "2026-01-1",
        "26-01-01",
        "2026/01/01",
        "2026-01-01 ",
        "２０２６-01-01",
        "2026-0a-01",
        "",
        "2026-13-01",
        "2026-02-30",
        "+026-01-01",
    ],
)
def test_malformed_or_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


@pytest.mark.parametrize(
    ("text", "first_day"),
    [("2026-10", "2026-11-01"), ("2026-12", "2027-01-01"), ("2026-01-31", "2026-01-31")],
)
def test_end_of_life_start_table(text: str, first_day: str) -> None:
    assert end_of_life_start(text) == D(first_day)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "２０２６-10", "2026-1x"])
def test_end_of_life_start_refuses_bad_months(text: str) -> None:
    with pytest.raises(ValueError):
        end_of_life_start(text)


def test_bundled_catalog_is_valid() -> None:
    """The bundled catalog is trusted at load time (it ships inside the package, like the
    code), so this test is where it is validated: the same checks as any other catalog."""
    assert validate_catalog_document(json.loads(bundled_catalog_text())) == []
    assert load_bundled_catalog() == parse_catalog_text(bundled_catalog_text(), "bundled catalog")


def test_a_catalog_from_anywhere_else_is_validated_on_load(tmp_path: Path) -> None:
    doc = json.loads(bundled_catalog_text())
    doc["majors"][0]["released"] = "not a date"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(e.CatalogInvalid):
        load_catalog(path)
