"""``pybuildpack check``: every problem at once, agreeing with resolve and the builds, in
every app a pre-commit run touches."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pybuildpack.cli import main

REPO = Path(__file__).resolve().parents[2]


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["check", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def ids(doc: dict, kind: str = "errors") -> list[str]:
    return [d["id"] for d in doc[kind]]


def hook() -> tuple[list[str], re.Pattern[str], bool]:
    """The pre-commit hook's entry, file pattern and pass_filenames, read from its file."""
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    entry = re.search(r"^\s*entry:\s*(.+)$", text, re.MULTILINE)
    files = re.search(r"^\s*files:\s*'(.+)'$", text, re.MULTILINE)
    passes = re.search(r"^\s*pass_filenames:\s*(\w+)$", text, re.MULTILINE)
    args = re.search(r"^\s*args:\s*(.+)$", text, re.MULTILINE)
    assert entry and files and passes
    argv = entry[1].split() + (json.loads(args[1]) if args else [])
    return argv, re.compile(files[1]), passes[1] == "true"


def test_pre_commit_checks_each_app_whose_files_changed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A monorepo: the root app is fine, a nested one is broken. pre-commit passes the
    changed files that match the hook's pattern; every app holding one is checked."""
    (tmp_path / ".python-version").write_text("3.13\n")
    nested = tmp_path / "services" / "api"
    nested.mkdir(parents=True)
    (nested / ".python-version").write_text("3.13.*\n")
    changed = [".python-version", "services/api/.python-version", "services/api/app.py"]
    argv, pattern, pass_filenames = hook()
    assert argv[:2] == ["pybuildpack", "check"] and pass_filenames
    matching = [f for f in changed if pattern.search(f)]
    assert matching == changed[:2]
    monkeypatch.chdir(tmp_path)
    code = main([*argv[1:], *matching, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["ok"] is False
    by_dir = {a["app_dir"]: a for a in doc["apps"]}
    assert set(by_dir) == {".", "services/api"}
    assert by_dir["."]["ok"] is True and by_dir["."]["errors"] == []
    assert ids(by_dir["services/api"]) == ["python-version-file::invalid-version"]
    # the advice names the nested app
    assert "pybuildpack pin services/api 3.13" in by_dir["services/api"]["errors"][0]["message"]


def test_a_file_stands_for_its_app_and_one_app_keeps_the_single_app_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / ".python-version").write_text("3.13.*\n")
    code, doc = check(capsys, str(tmp_path / ".python-version"), str(tmp_path))
    assert code == 1 and "apps" not in doc  # one app (given twice): the usual document
    assert ids(doc) == ["python-version-file::invalid-version"]


def test_a_missing_path_is_not_taken_for_the_current_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, doc = check(capsys, str(tmp_path / "typo"))
    assert code == 1 and doc["error"]["id"] == "app-dir::not-found"


# --------------------------------------------------------------------------- agreement


def write_app(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def resolve_id(capsys: pytest.CaptureFixture[str], app: Path, generation: str) -> str | None:
    code = main(["resolve", str(app), "--generation", generation, "--json"])
    doc = json.loads(capsys.readouterr().out)
    return doc["error"]["id"] if code else None


def classic_id(app: Path, tmp: Path) -> str | None:
    """The failure the classic build (bin/compile) reports, from its build report."""
    import io

    from pybuildpack.buildpack import classic
    from pybuildpack.buildpack.build_data import read_report
    from pybuildpack.buildpack.log import BuildLog

    cache = tmp / "cache"
    environ = {"STACK": "heroku-24", "PATH": "/usr/bin:/bin", "HOME": str(tmp),
               "PYBUILDPACK_MIRROR": "file:///nonexistent"}  # fmt: skip
    log = BuildLog(out=io.StringIO(), err=io.StringIO())
    code = classic.compile(app, cache, None, environ=environ, log=log)
    return read_report(cache).get("failure_reason") if code else None


def cnb_id(app: Path, tmp: Path) -> str | None:
    """The failure the CNB build (bin/build) reports: the id closing its error box."""
    import io

    from pybuildpack.buildpack import cnb
    from pybuildpack.buildpack.log import BuildLog

    layers = tmp / "layers"
    layers.mkdir(parents=True, exist_ok=True)
    environ = {"CNB_LAYERS_DIR": str(layers), "PATH": "/usr/bin:/bin", "HOME": str(tmp),
               "PYBUILDPACK_MIRROR": "file:///nonexistent"}  # fmt: skip
    err = io.StringIO()
    code = cnb.build(app, environ=environ, log=BuildLog(out=io.StringIO(), err=err))
    found = re.findall(r"\[([a-z0-9:-]+)\]", err.getvalue())
    return found[-1] if code else None


UV = {"uv.lock": "version = 1\n", "pyproject.toml": '[project]\nname = "x"\nversion = "0"\n'}


@pytest.mark.parametrize(
    ("files", "cedar", "fir"),
    [
        # uv apps must have .python-version, and runtime.txt is refused (in the uv wording)
        (UV, "python-version-file::not-found", "python-version-file::not-found"),
        (
            {**UV, "runtime.txt": "python-3.13\n"},
            "runtime-txt::not-supported",
            "runtime-txt::not-supported",
        ),
        ({**UV, ".python-version": "3.13\n"}, None, None),
        # an end-of-life version is reported before the uv rule
        ({**UV, "runtime.txt": "python-3.8\n"}, "python-version::eol",
         "runtime-txt::not-supported"),
        # runtime.txt wins on cedar: a misspelled name next to it is not checked
        ({"requirements.txt": "", "runtime.txt": "python-3.13\n", "python-version.txt": "3.13"},
         None, "runtime-txt::not-supported"),
    ],
)  # fmt: skip
def test_resolve_check_and_both_builds_agree(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    files: dict[str, str],
    cedar: str | None,
    fir: str | None,
) -> None:
    app = write_app(tmp_path / "app", files)
    assert resolve_id(capsys, app, "cedar") == cedar
    assert resolve_id(capsys, app, "fir") == fir
    for generation, expected in (("cedar", cedar), ("fir", fir)):
        code, doc = check(capsys, str(app), "--generation", generation)
        assert (expected in ids(doc)) if expected else ids(doc) == [], (generation, ids(doc))
        assert code == (1 if expected else 0)
    # The builds fail the same way (a build that passes would go on to install: not here).
    if cedar:
        assert classic_id(app, tmp_path / "classic") == cedar
    if fir:
        assert cnb_id(app, tmp_path / "cnb") == fir


def test_uv_runtime_txt_advice_uses_uv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {**UV, "runtime.txt": "python-3.12\n"})
    for generation in ("cedar", "fir"):
        main(["resolve", str(app), "--generation", generation, "--json"])
        message = json.loads(capsys.readouterr().out)["error"]["message"]
        assert "uv python pin 3.12" in message, generation


# --------------------------------------------------------------------------- all at once


def test_every_python_version_problem_is_reported_at_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = write_app(tmp_path / "app", {".python-version": "3.12\nfoo\n3.13.*\n"})
    main(["resolve", str(app), "--json"])
    message = json.loads(capsys.readouterr().out)["error"]["message"]
    assert "    foo" in message and "    3.13.*" in message  # both invalid lines
    assert "3 lines that are not comments" in message  # and the multiple-versions problem
    code, doc = check(capsys, str(app))
    assert code == 1
    assert ids(doc) == [
        "python-version-file::invalid-version",
        "python-version-file::multiple-versions",
    ]


def test_a_bare_requires_python_is_read_as_poetry_does_and_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    app = write_app(
        tmp_path / "app",
        {".python-version": "3.13\n", "pyproject.toml": '[project]\nrequires-python = "3.12.*"\n'},
    )
    main(["resolve", str(app), "--json"])
    warnings = {w["id"]: w["message"] for w in json.loads(capsys.readouterr().out)["warnings"]}
    invalid = warnings["pyproject::invalid"]
    assert "'==3.12.*'" in invalid and "\n\nFix pyproject.toml" in invalid  # two sentences apart
    outside = warnings["python-version::outside-requires-python"]
    assert "read as ==3.12.*" in outside and "Python 3.13 is outside" in outside
    assert f"pybuildpack pin {app} 3.12" in outside


def test_release_metadata_agrees() -> None:
    """One version everywhere (buildpack.toml, pyproject.toml, the package), and a LICENSE
    matching pyproject's license."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    from pybuildpack import __version__

    buildpack = tomllib.loads((REPO / "buildpack.toml").read_text())["buildpack"]["version"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert buildpack == project["version"] == __version__
    assert project["license"] == {"text": "MIT"}
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
