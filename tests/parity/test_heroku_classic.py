"""Parity with the classic buildpack's own tests (heroku/heroku-buildpack-python v351:
spec/fixtures used by spec/hatchet/python_version_spec.rb, pipenv_spec.rb, uv_spec.rb and
checks). One case per version-related fixture: its version files, and the outcome
pybuildpack gives under the cedar rules. Where pybuildpack deliberately differs, the case
says so (README, "Differences from Heroku")."""

from __future__ import annotations

from pathlib import Path

import pytest
from _parity import DEFAULT, UV_PROJECT, Case, check, run

from pybuildpack import errors as e
from pybuildpack.version import Generation

COMMENTS = b"# Comments are supported\n    # Even when indented\n\n# commented out\n# 2.7.18\n"


def lock(requires: bytes) -> bytes:
    return b'{"_meta": {"requires": ' + requires + b', "sources": []}, "default": {}}'


CASES = [
    *[
        Case(f"python_3.{m}", {".python-version": b"# Comments are supported\n3.%d\n" % m},
             requested=f"3.{m}", origin=".python-version")
        for m in (10, 11, 12, 13, 14)
    ],
    Case("python_version_eol",
         {".python-version": b"# Comments are supported.\n    # Even when indented\n#\n\n  \n"
                             b"  3.9  \n  \n"}, error="python-version::eol"),
    Case("python_version_eol_cached", {"requirements.txt": b""}, cached="3.9.25",
         error="python-version::eol"),
    Case("python_version_non_existent_major", {".python-version": b"3.999\n"},
         error="python-version::unknown-major"),
    # an exact patch newer than the known ones resolves as written (the download decides)
    Case("python_version_non_existent_patch", {".python-version": b"3.12.999\n"},
         requested="3.12.999", origin=".python-version"),
    Case("python_version_outdated", {".python-version": b"3.14.0\n"}, requested="3.14.0",
         origin=".python-version", warnings=("python-version::outdated-patch",)),
    Case("python_version_file_invalid_version",
         {".python-version": COMMENTS.replace(b"\n", b"\r\n")
          + "  \u200bpython -\t\u00a03.12.0\x1b[0m  \r\n  \r\n".encode()},
         error="python-version-file::invalid-version"),
    Case("python_version_file_misspelled",
         {".python-version": b"3.14\n", ".python-version ": b"# a comment\n"},
         error="python-version-file::misspelled"),
    Case("python_version_file_multiple_versions",
         {".python-version": b"# Valid comment\n3.12\n  \n  # Indented comment\n  2.7  \n"},
         error="python-version-file::multiple-versions"),
    Case("python_version_file_no_version", {".python-version": b""},
         error="python-version-file::no-version"),
    Case("python_version_file_unsupported_encoding",
         {".python-version": b"\xef\xbb\xbf# saved as UTF-8 with BOM\r\n3.12\r\n"},
         error="python-version-file::invalid-encoding"),
    Case("python_version_unspecified", {"requirements.txt": b""}, requested=DEFAULT,
         origin="default", warnings=("python-version::not-specified",)),
    Case("python_version_unspecified (cached 3.12.3)", {"requirements.txt": b""},
         cached="3.12.3", requested="3.12", origin="cached",
         warnings=("python-version::not-specified",)),
    # runtime.txt wins over .python-version (and .python-version's 3.9 is never resolved)
    Case("runtime_txt_and_python_version_file",
         {".python-version": b"# runtime.txt takes precedence\n3.9\n",
          "runtime.txt": COMMENTS + b" \n  python-3.13  \n "},
         requested="3.13", origin="runtime.txt", warnings=("runtime-txt::deprecated",)),
    Case("runtime_txt_eol_version", {"runtime.txt": b"python-2.7.18\n"},
         error="python-version::eol"),
    Case("runtime_txt_invalid_version",
         {"runtime.txt": COMMENTS + "  \n  \u200bpython-3.12.0\x1b  \n\0\0\n".encode()},
         error="runtime-txt::invalid-version"),
    Case("pip_oldest_python", {"runtime.txt": b"python-3.10.0\n"}, requested="3.10.0",
         origin="runtime.txt"),
    Case("poetry_oldest_python", {".python-version": b"3.10.0\n"}, requested="3.10.0",
         origin=".python-version"),
    # Pipfile.lock: python_full_version wins over python_version
    Case("pipenv_basic", {"Pipfile.lock": lock(b'{"python_version": "3.14"}')},
         requested="3.14", origin="Pipfile.lock"),
    Case("pipenv_python_full_version",
         {"Pipfile.lock": lock(b'{"python_full_version": "3.10.0", "python_version": "3.12"}')},
         requested="3.10.0", origin="Pipfile.lock"),
    Case("pipenv_python_full_version_invalid",
         {"Pipfile.lock": lock(b'{"python_full_version": "3.9.*"}')},
         error="pipfile-lock::invalid-version"),
    Case("pipenv_python_version_invalid", {"Pipfile.lock": lock(b'{"python_version": "^3.12"}')},
         error="pipfile-lock::invalid-version"),
    Case("pipenv_python_version_eol", {"Pipfile.lock": lock(b'{"python_version": "3.8"}')},
         error="python-version::eol"),
    Case("pipenv_python_version_unspecified", {"Pipfile.lock": lock(b"{}")},
         requested=DEFAULT, origin="default"),
    Case("pipenv_lockfile_invalid_json", {"Pipfile.lock": b"INVALID JSON\n"},
         error="pipfile-lock::invalid-json"),
    Case("pipenv_python_version_and_python_version_file",
         {".python-version": b"# takes precedence over Pipfile.lock\n3.13\n",
          "Pipfile.lock": lock(b'{"python_version": "3.13"}')},
         requested="3.13", origin=".python-version"),
    # uv apps: .python-version is required and runtime.txt refused
    Case("uv_runtime_txt",
         {**UV_PROJECT, ".python-version": b"# differs from runtime.txt\n3.12\n",
          "runtime.txt": b"python-3.11\n"}, error="runtime-txt::not-supported"),
    Case("uv (no .python-version)", {**UV_PROJECT}, error="python-version-file::not-found"),
    Case("uv (no .python-version, cached 3.13.1)", {**UV_PROJECT}, cached="3.13.1",
         error="python-version-file::not-found"),
    Case("uv_basic", {**UV_PROJECT, ".python-version": b"3.14\n"}, requested="3.14",
         origin=".python-version"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fixture)
def test_classic_fixture(case: Case, tmp_path: Path) -> None:
    check(case, run(case, tmp_path, Generation.CEDAR))


def test_uv_runtime_txt_is_the_uv_variant(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.fixture == "uv_runtime_txt")
    outcome = run(case, tmp_path, Generation.CEDAR)
    assert isinstance(outcome, e.UvRuntimeTxtNotSupported)
    assert outcome.suggested is not None and str(outcome.suggested) == "3.11"


def test_eol_from_the_cache_is_the_cached_variant(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.fixture == "python_version_eol_cached")
    outcome = run(case, tmp_path, Generation.CEDAR)
    assert isinstance(outcome, e.PythonVersionEol)
    assert outcome.requested.origin.value == "cached"


def test_oldest_python_fixture_with_the_build_sources(tmp_path: Path) -> None:
    """pip_oldest_python pins 3.10.0, which Heroku's archives have and python-build-standalone
    never built: a build from the default source (pbs) says so at resolve time; with the
    heroku source the outcome is Heroku's (README, "Differences from Heroku")."""
    from pybuildpack.app import resolve_app
    from pybuildpack.buildpack.runtime import build_source_builds
    from pybuildpack.catalog import load_catalog

    catalog = load_catalog()
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("")
    (app / ".python-version").write_text("3.10.0\n")
    heroku = build_source_builds({"PYBUILDPACK_SOURCE": "heroku"}, catalog)
    assert heroku is None
    assert str(resolve_app(app, catalog, arch="amd64", builds=heroku).version) == "3.10.0"
    pbs = build_source_builds({}, catalog)
    with pytest.raises(e.PythonVersionUnknownPatch) as caught:
        resolve_app(app, catalog, arch="amd64", builds=pbs)
    assert caught.value.source == "pbs" and caught.value.nearest
