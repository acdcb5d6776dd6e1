"""``catalog update`` (from trimmed real upstream snapshots, over loopback http or files) and
``catalog refresh``, with malformed and hostile variants. Never touches the internet."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provisioning.loopback import LoopbackServer, serve
from pybuildpack import catalog_update as up
from pybuildpack.catalog import bundled_catalog_text, catalog_schema, load_catalog
from pybuildpack.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BUILDS = (FIXTURES / "download-metadata.json").read_bytes()
CYCLE = (FIXTURES / "release-cycle.json").read_bytes()
TODAY = "2026-11-24"
# The snapshots' commit dates (astral-sh/uv and python/peps).
DATES = ("--builds-date", "2026-08-18", "--release-cycle-date", "2026-08-22")


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBUILDPACK_TODAY", TODAY)


@pytest.fixture
def data_dir() -> Path:
    return Path(os.environ["PYBUILDPACK_DATA_DIR"])


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as s:
        s.files["/m/download-metadata.json"] = BUILDS
        s.files["/m/release-cycle.json"] = CYCLE
        yield s


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def snapshot_dir(tmp_path: Path, builds: Any = None, cycle: Any = None) -> Path:
    d = tmp_path / "snap"
    d.mkdir(parents=True, exist_ok=True)
    for name, value, raw in (
        ("download-metadata.json", builds, BUILDS),
        ("release-cycle.json", cycle, CYCLE),
    ):
        data = raw if value is None else value if isinstance(value, bytes) else None
        (d / name).write_bytes(data if data is not None else json.dumps(value).encode())
    return d


def error(out: dict[str, Any]) -> tuple[str, str]:
    return out["error"]["id"], " ".join(out["error"]["message"].split())


# --------------------------------------------------------------------------- update


def test_update_from_dir_installs_both_files_and_reports_changes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    # First an older state of upstream: no 3.15/3.16 in the release cycle, no 3.13.15 and
    # no 3.14 builds yet.
    cycle = {k: v for k, v in json.loads(CYCLE).items() if k not in ("3.15", "3.16")}
    builds = {k: v for k, v in json.loads(BUILDS).items()
              if not k.startswith(("cpython-3.13.15", "cpython-3.14."))}  # fmt: skip
    old = snapshot_dir(tmp_path / "old", builds=builds, cycle=cycle)
    first = ("--builds-date", "2026-09-01", "--release-cycle-date", "2026-09-01")
    code, out, err = run(capsys, "catalog", "update", "--from-dir", str(old), *first)
    assert code == 0, err
    assert out["default"] == "3.13"  # 3.14 has no release in that data

    later = ("--builds-date", "2026-10-01", "--release-cycle-date", "2026-10-02")
    code, out, err = run(capsys, "catalog", "update", "--from-dir", str(snapshot_dir(tmp_path)),
                         *later)  # fmt: skip
    assert code == 0, err
    assert out["as_of"] == "2026-10-01" and out["default"] == "3.14"
    assert out["changes"] == [
        "as of: 2026-09-01 -> 2026-10-01",
        "new patch: 3.13.15",
        "new patches: " + ", ".join(f"3.14.{p}" for p in range(8)),
        "status: 3.14 unlisted -> supported",
        "new major: 3.15 (unlisted, release 2026-10-01)",
        "new major: 3.16 (upcoming, release 2027-10-06)",
        "default major: 3.13 -> 3.14",
    ]
    assert (data_dir / "catalog.json").is_file() and (data_dir / "downloads.json").is_file()
    installed = json.loads((data_dir / "catalog.json").read_text())
    assert [u["name"] for u in installed["upstream"]] == ["builds", "release-cycle"]
    assert {u["sha256"] for u in installed["upstream"]} == {
        up.Fetched("", BUILDS, None).sha256,
        up.Fetched("", CYCLE, None).sha256,
    }
    downloads = json.loads((data_dir / "downloads.json").read_text())
    versions = {a["version"] for a in downloads["sources"]["pbs"]["archives"]}
    # Only install_only archives of default linux gnu builds; 3.10.0 has none in pbs (its
    # only entries are full archives), prereleases and removed majors are left out.
    assert versions == {"3.10.2", "3.10.21", "3.11.16", "3.12.14", "3.13.14", "3.13.15",
                        "3.14.7"}  # fmt: skip
    assert all(a["sha256"] for a in downloads["sources"]["pbs"]["archives"])

    # The installed pair is what resolution uses from now on.
    code, shown, _ = run(capsys, "catalog", "show")
    assert code == 0 and shown["source"] == str(data_dir / "catalog.json")
    app = tmp_path / "app"
    app.mkdir()
    (app / ".python-version").write_text("3.15\n")
    code, out, _ = run(capsys, "resolve", str(app))
    kind, text = error(out)
    assert kind == "python-version::unknown-major" and "predates" in text
    assert "pybuildpack catalog update" in text
    (app / ".python-version").write_text("3.10.0\n")
    code, out, _ = run(capsys, "resolve", str(app), "--source", "pbs")
    kind, text = error(out)
    assert kind == "python-version::unknown-patch" and "3.10.2, 3.10.21" in text


def test_update_over_loopback_https_only_unless_allowed(
    capsys: pytest.CaptureFixture[str], server: LoopbackServer, data_dir: Path
) -> None:
    mirror = f"{server.url}/m"
    code, out, _ = run(capsys, "catalog", "update", "--mirror", mirror, *DATES)
    kind, text = error(out)
    assert code != 0 and kind == "cli::usage" and "plain http" in text
    assert server.hits["/m/download-metadata.json"] == 0  # refused before any request
    code, out, err = run(capsys, "catalog", "update", "--mirror", mirror, "--allow-http", *DATES)
    assert code == 0, err
    assert server.hits["/m/download-metadata.json"] == 1
    assert server.hits["/m/release-cycle.json"] == 1
    assert json.loads((data_dir / "catalog.json").read_text())["upstream"][0]["url"] == (
        f"{mirror}/download-metadata.json"
    )


def test_update_without_dates_uses_the_fetch_day_for_urls(
    capsys: pytest.CaptureFixture[str], server: LoopbackServer
) -> None:
    code, out, err = run(capsys, "catalog", "update", "--mirror", f"{server.url}/m",
                         "--allow-http", "--dry-run")  # fmt: skip
    assert code == 0, err and out["as_of"] == TODAY and out["written"] == []


def test_update_from_file_urls_and_write_to(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    snap = snapshot_dir(tmp_path)
    target = tmp_path / "out"
    code, _, err = run(
        capsys, "catalog", "update", "--builds", f"file://{snap}/download-metadata.json",
        "--release-cycle", str(snap / "release-cycle.json"), "--write-to", str(target), *DATES,
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in target.iterdir()) == ["catalog.json", "downloads.json"]
    assert not (data_dir / "catalog.json").exists()  # not installed


def test_a_second_update_keeps_the_previous_pair_and_a_failed_one_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path
) -> None:
    snap = snapshot_dir(tmp_path)
    assert run(capsys, "catalog", "update", "--from-dir", str(snap), *DATES)[0] == 0
    first = (data_dir / "catalog.json").read_bytes()
    newer = ("--builds-date", "2026-11-20", "--release-cycle-date", "2026-11-20")
    assert run(capsys, "catalog", "update", "--from-dir", str(snap), *newer)[0] == 0
    assert (data_dir / "catalog.previous.json").read_bytes() == first
    second = (data_dir / "catalog.json").read_bytes()
    bad = snapshot_dir(tmp_path, cycle=b"{not json")
    code, out, _ = run(capsys, "catalog", "update", "--from-dir", str(bad), *newer)
    assert code == 1 and error(out)[0] == "catalog::invalid-source"
    assert (data_dir / "catalog.json").read_bytes() == second


def test_update_refuses_future_and_backwards_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    snap = str(snapshot_dir(tmp_path))
    code, out, _ = run(capsys, "catalog", "update", "--from-dir", snap, "--builds-date",
                       "2027-01-01", "--release-cycle-date", "2026-08-22")  # fmt: skip
    assert code == 1 and "in the future" in error(out)[1]
    assert run(capsys, "catalog", "update", "--from-dir", snap, *DATES)[0] == 0
    older = ("--builds-date", "2026-08-01", "--release-cycle-date", "2026-08-01")
    code, out, _ = run(capsys, "catalog", "update", "--from-dir", snap, *older)
    assert code == 1 and "older than the catalog in use" in error(out)[1]
    assert run(capsys, "catalog", "update", "--from-dir", snap, *older, "--force")[0] == 0


def _cycle(**changes: Any) -> dict[str, Any]:
    doc = json.loads(CYCLE)
    for path, value in changes.items():
        major, key = path.split(":")
        doc[major][key] = value
    return doc


HOSTILE_SOURCES = [
    ("cycle-wrong-types", None, _cycle(**{"3.14:first_release": 20251007, "3.13:status": 7}),
     ["2 problems", "3.14.first_release", "3.13.status"]),
    ("cycle-bad-key", None, {"three": {"first_release": "2020-01-01"}}, ["not a major"]),
    ("cycle-not-object", None, [1, 2], ["non-empty JSON object"]),
    ("cycle-not-json", None, b"\xff\xfe{", ["not UTF-8"]),
    ("builds-http-url", {"cpython-3.14.7-linux-x86_64-gnu": {
        **json.loads(BUILDS)["cpython-3.14.7-linux-x86_64-gnu"],
        "url": "http://example.invalid/releases/download/1/cpython-3.14.7%2B1-x86_64-unknown"
               "-linux-gnu-install_only.tar.gz"}}, None, ["not an https release-asset URL"]),
    ("builds-bad-sha", {"cpython-3.14.7-linux-x86_64-gnu": {
        **json.loads(BUILDS)["cpython-3.14.7-linux-x86_64-gnu"], "sha256": "00"}}, None,
     ["64-hex-digit sha256"]),
    ("builds-patch-string", {"cpython-3.14.7-linux-x86_64-gnu": {
        **json.loads(BUILDS)["cpython-3.14.7-linux-x86_64-gnu"], "patch": "7"}}, None,
     ["must be integers"]),
    ("builds-name-mismatch", {"cpython-3.14.7-linux-x86_64-gnu": {
        **json.loads(BUILDS)["cpython-3.14.7-linux-x86_64-gnu"], "patch": 8}}, None,
     ["does not match the entry"]),
    ("builds-none-usable", {"x": {"name": "pypy"}}, None, ["no linux CPython build"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("builds", "cycle", "words"),
    [h[1:] for h in HOSTILE_SOURCES],
    ids=[h[0] for h in HOSTILE_SOURCES],
)
def test_malformed_upstream_data_is_refused_with_every_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path, builds: Any, cycle: Any,
    words: list[str],
) -> None:  # fmt: skip
    snap = snapshot_dir(tmp_path, builds=builds, cycle=cycle)
    code, out, _ = run(capsys, "catalog", "update", "--from-dir", str(snap), *DATES)
    kind, text = error(out)
    assert code == 1 and kind == "catalog::invalid-source"
    for word in words:
        assert word in text
    assert not (data_dir / "catalog.json").exists()


def test_huge_upstream_files_are_refused_over_http_and_from_disk(
    capsys: pytest.CaptureFixture[str], server: LoopbackServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr(up, "MAX_RELEASE_CYCLE_BYTES", 1000)
    server.files["/m/release-cycle.json"] = b" " * 5000 + CYCLE
    code, out, _ = run(capsys, "catalog", "update", "--mirror", f"{server.url}/m",
                       "--allow-http", *DATES)  # fmt: skip
    assert code == 1 and "larger than 1,000 bytes" in error(out)[1]
    snap = snapshot_dir(tmp_path, cycle=b" " * 5000 + CYCLE)
    code, out, _ = run(capsys, "catalog", "update", "--from-dir", str(snap), *DATES)
    assert code == 1 and "larger than 1,000 bytes" in error(out)[1]


def test_upstream_http_errors_are_reported(
    capsys: pytest.CaptureFixture[str], server: LoopbackServer
) -> None:
    server.faults["/m/release-cycle.json"] = ["404"]
    code, out, _ = run(capsys, "catalog", "update", "--mirror", f"{server.url}/m",
                       "--allow-http", *DATES)  # fmt: skip
    kind, text = error(out)
    assert code == 1 and kind == "catalog::invalid-source" and "HTTP 404" in text


def test_unsupported_scheme_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "catalog", "update", "--builds", "ftp://x/y.json", *DATES)
    assert code != 0 and error(out)[0] == "cli::usage"


# --------------------------------------------------------------------------- refresh


def catalog_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(bundled_catalog_text())
    doc.update(changes)
    return doc


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_refresh_from_file_then_used_then_reset(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = catalog_doc(as_of="2026-11-01")
    doc["policy"]["default_major"] = "3.12"
    newer = write_json(tmp_path / "newer.json", doc)
    code, out, err = run(capsys, "catalog", "refresh", str(newer))
    assert code == 0 and out["as_of"] == "2026-11-01", err
    app = tmp_path / "app"
    app.mkdir()
    code, out, _ = run(capsys, "resolve", str(app))  # no version file: the default
    assert code == 0 and out["version"].startswith("3.12.")
    code, out, _ = run(capsys, "catalog", "reset")
    assert code == 0 and out["removed"]
    code, out, _ = run(capsys, "resolve", str(app))
    assert out["version"] == str(load_catalog().default.latest)


REFUSED = [
    ("unknown-keys", catalog_doc(defualt_major="3.12", extra=1),
     ["defualt_major", "extra"]),
    ("wrong-types", catalog_doc(as_of=20261101, stacks={}), ["as_of", "stacks"]),
    ("future", catalog_doc(as_of="9999-12-31"), ["in the future"]),
    ("older", catalog_doc(as_of="2000-01-01"), ["older than the catalog in use"]),
    ("old-schema", catalog_doc(schema_version=1), ["catalog update"]),
]  # fmt: skip


@pytest.mark.parametrize(("doc", "words"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refresh_refuses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path, doc: Any,
    words: list[str],
) -> None:  # fmt: skip
    code, out, _ = run(capsys, "catalog", "refresh", str(write_json(tmp_path / "c.json", doc)))
    kind, text = error(out)
    assert code == 1 and kind == "catalog::invalid"
    for word in words:
        assert word in text
    assert not (data_dir / "catalog.json").exists()


def test_refresh_force_accepts_older_but_never_future(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    older = write_json(tmp_path / "o.json", catalog_doc(as_of="2000-01-01"))
    assert run(capsys, "catalog", "refresh", str(older), "--force")[0] == 0
    # An older installed catalog never shadows newer bundled data.
    assert run(capsys, "catalog", "show")[1]["source"] == "bundled catalog"
    future = write_json(tmp_path / "f.json", catalog_doc(as_of="9999-12-31"))
    assert run(capsys, "catalog", "refresh", str(future), "--force")[0] == 1


def test_refresh_over_loopback_http_needs_the_flag(
    capsys: pytest.CaptureFixture[str], server: LoopbackServer
) -> None:
    server.files["/catalog.json"] = json.dumps(catalog_doc(as_of="2026-11-02")).encode()
    code, out, _ = run(capsys, "catalog", "refresh", f"{server.url}/catalog.json")
    assert code != 0 and error(out)[0] == "cli::usage"
    code, out, err = run(capsys, "catalog", "refresh", f"{server.url}/catalog.json",
                         "--allow-http")  # fmt: skip
    assert code == 0 and out["as_of"] == "2026-11-02", err
    code, out, _ = run(capsys, "catalog", "refresh", f"{server.url}/missing.json", "--allow-http")
    assert code == 1 and "HTTP 404" in error(out)[1]
    server.files["/huge.json"] = b" " * (up.MAX_CATALOG_BYTES + 1)
    code, out, _ = run(capsys, "catalog", "refresh", f"{server.url}/huge.json", "--allow-http")
    assert code == 1 and "larger than" in error(out)[1]


@pytest.mark.parametrize(
    "content",
    [b"{corrupt", json.dumps(catalog_doc(as_of="9999-12-31")).encode(),
     json.dumps(catalog_doc(majors="none")).encode()],
    ids=["not-json", "future-dated", "invalid"],
)  # fmt: skip
def test_a_broken_installed_catalog_falls_back_to_the_bundled_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, data_dir: Path, content: bytes
) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "catalog.json").write_bytes(content)
    app = tmp_path / "app"
    app.mkdir()
    (app / ".python-version").write_text("3.13\n")
    code, out, _ = run(capsys, "resolve", str(app))
    assert code == 0 and out["version"].startswith("3.13.")
    [warning] = [w for w in out["warnings"] if w["id"] == "catalog::fallback"]
    assert "pybuildpack catalog reset" in warning["message"]
    code, out, _ = run(capsys, "versions")
    assert code == 0 and "catalog::fallback" in [n["id"] for n in out["notices"]]
    assert run(capsys, "check", str(app))[1]["warnings"][0]["id"] == "catalog::fallback"
    assert run(capsys, "catalog", "reset")[0] == 0
    assert not (data_dir / "catalog.json").exists()


# --------------------------------------------------------------------------- stale notice


def test_versions_and_check_say_once_that_the_catalog_is_old(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of = load_catalog().as_of
    monkeypatch.setenv("PYBUILDPACK_TODAY", as_of)
    assert run(capsys, "versions")[1]["notices"] == []
    import datetime as dt

    later = (dt.date.fromisoformat(as_of) + dt.timedelta(days=61)).isoformat()
    monkeypatch.setenv("PYBUILDPACK_TODAY", later)
    for argv in (("versions",), ("check", str(tmp_path))):
        main([*argv])
        err = capsys.readouterr().err
        assert err.count("catalog::stale") == 1 and "pybuildpack catalog update" in err
        assert "61 days old" in err
    _, out, _ = run(capsys, "check", str(tmp_path), "--strict")
    assert all(w["id"] != "catalog::stale" for w in out["warnings"])
    assert [n["id"] for n in out["notices"]] == ["catalog::stale"]


# --------------------------------------------------------------------------- schemas


def test_the_shipped_schemas_use_only_the_keywords_the_load_time_check_knows() -> None:
    from pybuildpack.catalog import SUBSET_KEYWORDS

    def keywords(node: Any, in_properties: bool = False) -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            for key, value in node.items():
                if not in_properties:
                    found.add(key)
                found |= keywords(value, in_properties=key in ("properties", "$defs"))
        elif isinstance(node, list):
            for item in node:
                found |= keywords(item)
        return found

    for schema in (catalog_schema(), up._schema("downloads.schema.json")):
        unknown = keywords(schema) - SUBSET_KEYWORDS
        assert not unknown, unknown


def test_bundled_data_passes_the_full_validator() -> None:
    assert up.full_schema_errors(json.loads(bundled_catalog_text()), catalog_schema()) == []
    from importlib import resources

    downloads = json.loads(resources.files("pybuildpack").joinpath("data/downloads.json")
                           .read_text("utf-8"))  # fmt: skip
    assert up.full_schema_errors(downloads, up._schema("downloads.schema.json")) == []


def _mutations() -> list[tuple[str, Any]]:
    base = json.loads(bundled_catalog_text())
    out: list[tuple[str, Any]] = []
    for name, path, value in [
        ("extra-top", ("extra",), 1),
        ("extra-major", ("majors", 0, "status"), "eol"),
        ("bool-patch", ("majors", 1, "latest_patch"), True),
        ("float-patch", ("majors", 1, "latest_patch"), 1.5),
        ("neg-days", ("policy", "deprecation_days"), -1),
        ("bad-arch", ("stacks", 0, "arches"), ["x86"]),
        ("dup-arch", ("stacks", 0, "arches"), ["amd64", "amd64"]),
        ("schema-const", ("schema_version",), "2"),
    ]:
        doc = copy.deepcopy(base)
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        out.append((name, doc))
    return out


@pytest.mark.parametrize(("name", "doc"), _mutations(), ids=[m[0] for m in _mutations()])
def test_load_time_check_and_jsonschema_agree(name: str, doc: Any) -> None:
    from pybuildpack.catalog import schema_errors

    assert schema_errors(doc, catalog_schema()), name
    assert up.full_schema_errors(doc, catalog_schema()), name
