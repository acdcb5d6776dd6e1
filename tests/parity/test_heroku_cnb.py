"""Parity with the Cloud Native Buildpack's own tests (heroku/buildpacks-python v6.5.6:
tests/fixtures used by tests/python_version_test.rs, uv_test.rs and the unit tables of
python_version.rs). One case per version-related fixture, under the fir rules. Where
pybuildpack deliberately differs, the case says so (README, "Differences from Heroku")."""

from __future__ import annotations

from pathlib import Path

import pytest
from _parity import DEFAULT, UV_PROJECT, Case, check, run

from pybuildpack import errors as e
from pybuildpack.version import Generation

CASES = [
    Case("python_version_unspecified", {"requirements.txt": b""}, requested=DEFAULT,
         origin="default"),
    *[
        Case(f"python_3.{m}", {".python-version": b"3.%d\n" % m}, requested=f"3.{m}",
             origin=".python-version")
        for m in (10, 11, 12, 13, 14)
    ],
    # The CNB fails reading the file ("stream did not contain valid UTF-8"); pybuildpack
    # names the encoding problem (same cause, its own id).
    Case("python_version_file_invalid_unicode", {".python-version": b"\x80\x81\n"},
         error="python-version-file::invalid-encoding"),
    Case("python_version_file_invalid_version",
         {".python-version": b"# Comments are supported.\n    # Even when indented\n#\n\n  \n"
                             b"  # trailing control character\n  3.12.0\x1b  \n  \n\n# 2.7.18\n"},
         error="python-version-file::invalid-version"),
    # The CNB lists the three lines as multiple versions; pybuildpack reports the invalid
    # '//' line first, and the same message says the file has three lines (see below).
    Case("python_version_file_multiple_versions",
         {".python-version": b"// invalid comment\n3.12\n2.7\n"},
         error="python-version-file::invalid-version"),
    Case("python_version_file_no_version", {".python-version": b"\n"},
         error="python-version-file::no-version"),
    Case("python_version_eol", {".python-version": b"3.9\n"}, error="python-version::eol"),
    Case("python_version_non_existent_major", {".python-version": b"3.99\n"},
         error="python-version::unknown-major"),
    Case("python_version_non_existent_minor", {".python-version": b"3.12.999\n"},
         requested="3.12.999", origin=".python-version"),
    # runtime.txt is an error on fir, even empty and next to a valid .python-version
    Case("runtime_txt_and_python_version_file",
         {".python-version": b"3.11\n", "runtime.txt": b"", "requirements.txt": b""},
         error="runtime-txt::not-supported"),
    Case("uv_runtime_txt",
         {**UV_PROJECT, ".python-version": b"# differs from runtime.txt\n3.12\n",
          "runtime.txt": b"python-3.11\n"}, error="runtime-txt::not-supported"),
    Case("uv_no_python_version_file",
         {**UV_PROJECT,
          "pyproject.toml": b'[project]\nname = "app"\nrequires-python = "==3.12.*"\n'},
         error="python-version-file::not-found"),
    Case("pip_oldest_python",
         {".python-version": b"# oldest supported major\n# .0 patch\n3.10.0\n"},
         requested="3.10.0", origin=".python-version"),
    Case("uv_oldest_python", {**UV_PROJECT, ".python-version": b"3.10.0\n"}, requested="3.10.0",
         origin=".python-version"),
    # fir never reads Pipfile.lock or the build cache's version
    Case("(Pipfile.lock is not a source)",
         {"Pipfile.lock": b'{"_meta": {"requires": {"python_version": "3.12"}}}'},
         requested=DEFAULT, origin="default"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fixture)
def test_cnb_fixture(case: Case, tmp_path: Path) -> None:
    check(case, run(case, tmp_path, Generation.FIR))


def test_multiple_versions_fixture_reports_every_line(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.fixture == "python_version_file_multiple_versions")
    outcome = run(case, tmp_path, Generation.FIR)
    assert isinstance(outcome, e.PythonVersionFileInvalidVersion)
    assert outcome.all_lines == ("// invalid comment", "3.12", "2.7")


def test_uv_runtime_txt_is_the_uv_variant(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.fixture == "uv_runtime_txt")
    assert isinstance(run(case, tmp_path, Generation.FIR), e.UvRuntimeTxtNotSupported)
