"""Both builds resolve against the archive source they install from (issue 11, item 5).

The default source (pbs) lists its builds in the download metadata: a pinned patch it lacks
fails at resolve time, naming the source and the nearest patches it has, before anything
is installed; a major gets the newest patch it has. ``PYBUILDPACK_SOURCE=heroku`` (an
environment or config var) has no list: the catalog's patches stand for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from bp_support import (
    ClassicPlatform,
    Lifecycle,
    local_series,
    pbs_patches,
    write_catalog,
    write_downloads,
)

from pybuildpack.buildpack.layers import read_metadata

REQS = {"requirements.txt": ""}
MISSING = "3.10.0"  # in the catalog (a CPython release) but never built by pbs


def flat(text: str) -> str:
    """The log as one line: messages are wrapped, and the lines start with " !"."""
    return " ".join(w for w in text.split() if w != "!")


def test_pbs_really_lacks_the_patch_used_here() -> None:
    assert MISSING not in {str(v) for v in pbs_patches("3.10")}
    assert pbs_patches("3.10")[0].patch > 0


def test_classic_pin_the_source_lacks_fails_before_installing(
    platform: ClassicPlatform,
) -> None:
    built, _ = platform.compile({**REQS, ".python-version": f"{MISSING}\n"})
    assert built.code == 1
    assert "[python-version::unknown-patch]" in built.err
    assert "pbs archive source has no build of Python 3.10.0" in flat(built.err)
    nearest = ", ".join(str(v) for v in pbs_patches("3.10")[:3])
    assert f"nearest patches it has are {nearest}." in flat(built.err)
    assert platform.installer.calls == []  # nothing was downloaded
    report = platform.report()
    assert report["failure_reason"] == "python-version::unknown-patch"


def test_classic_heroku_source_config_var_accepts_the_catalog_patch(
    platform: ClassicPlatform,
) -> None:
    if "3.10" not in local_series():
        pytest.skip("needs a local CPython 3.10 for the fake installer")
    built, _ = platform.compile_with_config(
        {**REQS, ".python-version": f"{MISSING}\n"}, {"PYBUILDPACK_SOURCE": "heroku"}
    )
    assert built.code == 0, built.log
    [call] = platform.installer.calls
    assert (call["version"], call["source"]) == (MISSING, "heroku")


def test_classic_unknown_source_config_var_is_a_typed_error(platform: ClassicPlatform) -> None:
    built, _ = platform.compile_with_config(REQS, {"PYBUILDPACK_SOURCE": "nowhere"})
    assert built.code == 1
    assert platform.report()["failure_reason"] == "install-python::unknown-source"


def test_classic_major_gets_the_newest_patch_the_source_has(
    platform: ClassicPlatform, tmp_path: Path
) -> None:
    series = local_series()[-1]  # the test catalog's default major
    have = pbs_patches(series)
    newest = have[-1]
    downloads = write_downloads(tmp_path / "downloads.json", lambda a: a["version"] == str(newest))
    built, _ = platform.compile(
        {**REQS, ".python-version": f"{series}\n"}, PYBUILDPACK_DOWNLOADS=str(downloads)
    )
    assert built.code == 0, built.log
    assert platform.report()["python_version"] == str(have[-2])
    assert platform.installer.calls[0]["version"] == str(have[-2])


# --------------------------------------------------------------------------- CNB


@pytest.fixture
def cnb(lifecycle: Callable[..., Lifecycle]) -> Callable[..., Lifecycle]:
    if len(local_series()) < 2:
        pytest.skip("needs two local CPython majors (pyenv) for the fake installer")

    def make(files: dict[str, str]) -> Lifecycle:
        lc = lifecycle(files)
        lc.extra_env["PYBUILDPACK_CATALOG"] = str(
            write_catalog(lc.tmp / "catalog.json", local_series()[-1])
        )
        return lc

    return make


def test_cnb_pin_the_source_lacks_fails_before_installing(cnb: Callable[..., Lifecycle]) -> None:
    lc = cnb({**REQS, ".python-version": f"{MISSING}\n"})
    built = lc.build()
    assert built.code == 1
    assert "[python-version::unknown-patch]" in built.err
    assert "pbs archive source has no build of Python 3.10.0 for amd64" in flat(built.err)
    assert lc.installer is not None and lc.installer.calls == []
    assert read_metadata(lc.layers, "python") is None


def test_cnb_heroku_source_user_env_accepts_the_catalog_patch(
    cnb: Callable[..., Lifecycle],
) -> None:
    if "3.10" not in local_series():
        pytest.skip("needs a local CPython 3.10 for the fake installer")
    lc = cnb({**REQS, ".python-version": f"{MISSING}\n"})
    lc.user_env(PYBUILDPACK_SOURCE="heroku")
    built = lc.build()
    assert built.code == 0, built.log
    meta = read_metadata(lc.layers, "python")
    assert meta is not None and meta["python_version"] == MISSING


def test_cnb_major_gets_the_newest_patch_the_source_has(
    cnb: Callable[..., Lifecycle], tmp_path: Path
) -> None:
    series = local_series()[0]
    have = pbs_patches(series, "arm64")
    downloads = write_downloads(
        tmp_path / "downloads.json",
        lambda a: a["version"] == str(have[-1]) and a["target"].startswith("aarch64"),
    )
    lc = cnb({**REQS, ".python-version": f"{series}\n"})
    lc.target = ("arm64", "ubuntu", "24.04")  # the arch the source is checked for
    lc.extra_env["PYBUILDPACK_DOWNLOADS"] = str(downloads)
    built = lc.build()
    assert built.code == 0, built.log
    meta = read_metadata(lc.layers, "python")
    assert meta is not None and meta["python_version"] == str(have[-2])
    assert json.loads(json.dumps(meta))["arch"] == "arm64"
