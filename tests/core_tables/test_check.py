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
