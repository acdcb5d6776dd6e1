"""The fixes messages advise are right: they keep the major the user wrote, name the app
directory the user gave, respect requires-python, and, run as printed, do clear the problem."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from pybuildpack.cli import main

COMMAND = re.compile(r"^\s*(pybuildpack (?:pin|migrate) .*)$", re.MULTILINE)


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def messages(doc: dict) -> list[str]:
    found = [doc["error"]] if "error" in doc else []
    found += doc.get("errors", []) + doc.get("warnings", [])
    return [m["message"] for m in found]


def commands(doc: dict) -> list[list[str]]:
    """Every pybuildpack command the messages advise, as argv lists."""
    return [shlex.split(c) for text in messages(doc) for c in COMMAND.findall(text)]


def run_advice(capsys: pytest.CaptureFixture[str], argv: list[str]) -> int:
    assert argv[0] == "pybuildpack"
    code = main(argv[1:])
    capsys.readouterr()
    return code


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "my app"  # a space: the advice must quote it
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("content", "error_id", "major"),
    [
        (b"3.13.*\n", "python-version-file::invalid-version", "3.13"),
        (b"python-3.12\n", "python-version-file::invalid-version", "3.12"),
        (b">=3.13\n", "python-version-file::invalid-version", "3.13"),
        (b"\xef\xbb\xbf3.12\n", "python-version-file::invalid-encoding", "3.12"),
        ("3.12\n".encode("utf-16"), "python-version-file::invalid-encoding", "3.12"),
    ],
)
def test_invalid_python_version_advice_keeps_the_major_and_names_the_directory(
    capsys: pytest.CaptureFixture[str], app: Path, content: bytes, error_id: str, major: str
) -> None:
    (app / ".python-version").write_bytes(content)
    code, doc = run_json(capsys, "resolve", str(app))
    assert code == 1 and doc["error"]["id"] == error_id
    assert commands(doc) == [["pybuildpack", "pin", str(app), major]]
    assert f"pybuildpack pin {shlex.quote(str(app))} {major}" in doc["error"]["message"]
    # and the advice works: run as printed, the app resolves to that major
    assert run_advice(capsys, commands(doc)[0]) == 0
    code, doc = run_json(capsys, "resolve", str(app))
    assert code == 0 and doc["version"].startswith(major + ".")


def test_advice_names_dot_when_the_user_gave_no_directory(
    capsys: pytest.CaptureFixture[str], app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (app / ".python-version").write_bytes(b"3.13.*\n")
    monkeypatch.chdir(app)
    _, doc = run_json(capsys, "resolve")
    assert commands(doc) == [["pybuildpack", "pin", ".", "3.13"]]


@pytest.mark.parametrize(
    ("files", "requires"),
    [
        ({".python-version": "python-3.13\n"}, "<3.13"),  # the major written is excluded
        ({".python-version": "3.13.*\n"}, ">=3.12,<3.13"),
        ({}, "<3.13"),  # no version: not-specified and outside-requires-python agree
        ({".python-version": "3.12\n3.13\n"}, "<3.13"),
        ({"runtime.txt": "python-3.13 # old\n"}, "<3.13"),
    ],
)
def test_no_advice_suggests_a_version_requires_python_excludes(
    capsys: pytest.CaptureFixture[str], app: Path, files: dict[str, str], requires: str
) -> None:
    for name, text in files.items():
        (app / name).write_text(text)
    (app / "pyproject.toml").write_text(f'[project]\nrequires-python = "{requires}"\n')
    spec = SpecifierSet(requires)
    for command in ("resolve", "check"):
        _, doc = run_json(capsys, command, str(app))
        advised = commands(doc)
        assert advised, messages(doc)
        for argv in advised:
            version = argv[-1]
            assert spec.contains(version + ".0") or spec.contains(version), (argv, requires)


def test_invalid_runtime_txt_advice_works(capsys: pytest.CaptureFixture[str], app: Path) -> None:
    """`pybuildpack migrate .` alone cannot read an invalid runtime.txt: the advice gives
    the version to write, and running it replaces runtime.txt."""
    (app / "runtime.txt").write_text("python-3.12.1 # pinned\n")
    code, doc = run_json(capsys, "resolve", str(app))
    assert code == 1 and doc["error"]["id"] == "runtime-txt::invalid-version"
    advised = commands(doc)
    assert ["pybuildpack", "migrate", str(app), "--to", "3.12"] in advised
    assert all(argv[1] == "migrate" for argv in advised)  # pin alone would not do
    # migrate without --to fails the same way, and says what works
    code, doc = run_json(capsys, "migrate", str(app))
    assert code == 1 and doc["error"]["id"] == "runtime-txt::invalid-version"
    assert run_advice(capsys, advised[0]) == 0
    assert not (app / "runtime.txt").exists()
    code, doc = run_json(capsys, "resolve", str(app))
    assert code == 0 and doc["origin"] == ".python-version" and doc["requested"] == "3.12"


@pytest.mark.parametrize(
    ("name", "content"), [("runtime.txt", "python-3.12.0\n"), (".python-version", "3.12.0\n")]
)
def test_outdated_patch_advice_clears_the_warning(
    capsys: pytest.CaptureFixture[str], app: Path, name: str, content: str
) -> None:
    (app / name).write_text(content)
    _, doc = run_json(capsys, "resolve", str(app))
    (outdated,) = [w for w in doc["warnings"] if w["id"] == "python-version::outdated-patch"]
    advised = [shlex.split(c) for c in COMMAND.findall(outdated["message"])]
    assert len(advised) == 1
    assert run_advice(capsys, advised[0]) == 0
    _, doc = run_json(capsys, "resolve", str(app))
    assert "python-version::outdated-patch" not in [w["id"] for w in doc["warnings"]]
    assert doc["requested"] == "3.12"


def test_pin_next_to_runtime_txt_says_how_to_make_it_count(
    capsys: pytest.CaptureFixture[str], app: Path
) -> None:
    (app / "runtime.txt").write_text("python-3.12\n")
    assert main(["pin", str(app), "3.13"]) == 0
    err = capsys.readouterr().err
    assert f"pybuildpack migrate {shlex.quote(str(app))} --to 3.13" in err
