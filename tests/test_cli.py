"""The ``pybuildpack`` command line: output contracts, exit codes, and file-writing commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pybuildpack.catalog import load_catalog
from pybuildpack.cli import main
from pybuildpack.version_files import parse_python_version_file

CATALOG = load_catalog()
DEFAULT = CATALOG.default
REPO = Path(__file__).resolve().parents[1]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    data = content.encode() if isinstance(content, str) else content
    (tmp_path / name).write_bytes(data)
    return tmp_path


# --------------------------------------------------------------------------- resolve


def test_resolve_prints_only_the_version_on_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, ".python-version", "3.13\n")
    code, out, err = run(capsys, "resolve", str(tmp_path))
    latest = CATALOG.majors[next(m for m in CATALOG.majors if str(m) == "3.13")].latest
    assert (code, out) == (0, f"{latest}\n")
    assert "specified in .python-version" in err


def test_resolve_json_is_exactly_one_object(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, ".python-version", "3.13.0\n")
    code, out, _ = run(capsys, "resolve", str(tmp_path), "--json")
    doc = json.loads(out)  # raises if stdout has anything else
    assert code == 0
    assert set(doc) == {"version", "requested", "origin", "generation", "warnings"}
    assert doc["version"] == "3.13.0" and doc["requested"] == "3.13.0"
    assert doc["origin"] == ".python-version" and doc["generation"] == "cedar"
    assert [w["id"] for w in doc["warnings"]] == ["python-version::outdated-patch"]
    assert all(w["message"] for w in doc["warnings"])


def test_resolve_default_warns_not_specified(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "resolve", str(tmp_path), "--json")
    doc = json.loads(out)
    assert code == 0
    assert doc["version"] == str(DEFAULT.latest)
    assert doc["origin"] == "default"
    assert [w["id"] for w in doc["warnings"]] == ["python-version::not-specified"]


@pytest.mark.parametrize(
    ("files", "argv", "error_id"),
    [
        ({".python-version": "3.9\n"}, [], "python-version::eol"),
        ({".python-version": "3.99\n"}, [], "python-version::unknown-major"),
        ({".python-version": "python-3.12\n"}, [], "python-version-file::invalid-version"),
        (
            {".python-version": b"\xff\xfe3\x00.\x001\x002\x00"},
            [],
            "python-version-file::invalid-encoding",
        ),
        ({"runtime.txt": "python-3.12\n"}, ["--generation", "fir"], "runtime-txt::not-supported"),
        ({".python_version": "3.12\n"}, [], "python-version-file::misspelled"),
        ({".python-version": "3.12\n"}, ["--stack", "heroku-99"], "stack::unknown"),
        (
            {".python-version": "3.12\n"},
            ["--stack", "heroku-22", "--arch", "arm64"],
            "platform::unsupported-arch",
        ),
    ],
)
def test_resolve_errors_are_one_json_object_and_exit_1(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    files: dict[str, str | bytes],
    argv: list[str],
    error_id: str,
) -> None:
    for name, content in files.items():
        write(tmp_path, name, content)
    code, out, err = run(capsys, "resolve", str(tmp_path), "--json", *argv)
    assert code == 1
    doc = json.loads(out)
    assert list(doc) == ["error"]
    assert doc["error"]["id"] == error_id
    assert doc["error"]["message"]
    assert error_id in err  # the human rendering names the id too
    assert "Traceback" not in err


def test_resolve_missing_app_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "resolve", str(tmp_path / "nope"), "--json")
    assert code == 1 and json.loads(out)["error"]["id"] == "app-dir::not-found"


def test_cached_version_is_sticky_in_cedar_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "resolve", str(tmp_path), "--json", "--cached-version", "3.12.1")
    doc = json.loads(out)
    assert code == 0 and doc["origin"] == "cached" and doc["version"].startswith("3.12.")
    assert doc["version"] != "3.12.1"  # sticky major, newest patch
    code, out, _ = run(
        capsys,
        "resolve",
        str(tmp_path),
        "--json",
        "--cached-version",
        "3.12.1",
        "--generation",
        "fir",
    )
    doc = json.loads(out)
    assert doc["origin"] == "default" and doc["version"] == str(DEFAULT.latest)


def test_catalog_option_and_env(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads((REPO / "src/pybuildpack/data/catalog.json").read_text())
    data["policy"]["default_major"] = "3.12"
    catalog = tmp_path / "cat.json"
    catalog.write_text(json.dumps(data))
    appdir = tmp_path / "app"
    appdir.mkdir()
    code, out, _ = run(capsys, "resolve", str(appdir), "--catalog", str(catalog))
    assert code == 0 and out.startswith("3.12.")
    monkeypatch.setenv("PYBUILDPACK_CATALOG", str(catalog))
    code, out, _ = run(capsys, "resolve", str(appdir))
    assert code == 0 and out.startswith("3.12.")
    catalog.write_text("{not json")
    code, out, _ = run(capsys, "resolve", str(appdir), "--json")
    assert code == 1 and json.loads(out)["error"]["id"] == "catalog::invalid"


def test_colour_only_on_tty_and_never_with_no_color(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, ".python-version", "3.9\n")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    _, _, err = run(capsys, "resolve", str(tmp_path))
    assert "\x1b[" not in err  # captured stderr is not a TTY
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, _, err = run(capsys, "resolve", str(tmp_path))
    assert "\x1b[" in err
    monkeypatch.setenv("NO_COLOR", "1")
    _, _, err = run(capsys, "resolve", str(tmp_path))
    assert "\x1b[" not in err


def test_quiet_hides_warnings_but_not_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "resolve", str(tmp_path), "--quiet")
    assert code == 0 and out.strip() == str(DEFAULT.latest) and err == ""
    write(tmp_path, ".python-version", "3.9\n")
    code, _, err = run(capsys, "resolve", str(tmp_path), "--quiet")
    assert code == 1 and "python-version::eol" in err


def test_internal_error_is_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pybuildpack.commands.resolve as mod

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(mod, "resolve_app", boom)
    monkeypatch.delenv("PYBUILDPACK_DEBUG", raising=False)
    code, out, err = run(capsys, "resolve", str(tmp_path), "--json")
    assert code == 70
    assert json.loads(out)["error"]["id"] == "internal-error"
    assert "kaboom" in err and "Traceback" not in err


# --------------------------------------------------------------------------- check


def test_check_reports_every_problem_at_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, ".python-version", b"\xef\xbb\xbf3.12\n")
    write(tmp_path, "python-version.txt", "3.12\n")
    write(tmp_path, "Pipfile.lock", "not json")
    code, out, _ = run(capsys, "check", str(tmp_path), "--json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False
    ids = {e["id"] for e in doc["errors"]}
    assert ids == {
        "python-version-file::misspelled",
        "python-version-file::invalid-encoding",
        "pipfile-lock::invalid-json",
    }
    assert len(doc["errors"]) == 3  # the resolution's own misspelled error is not repeated


def test_check_clean_app_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(REPO / "examples/webapp"), "--json")
    doc = json.loads(out)
    # Notices are about the catalog itself (its age), not the app: never a failure.
    notices = doc.pop("notices")
    assert {n["id"] for n in notices} <= {"catalog::stale"}
    assert code == 0 and doc == {
        "ok": True,
        "version": str(DEFAULT.latest),
        "generation": "cedar",
        "errors": [],
        "warnings": [],
    }


def test_check_strict_fails_on_warnings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write(tmp_path, "runtime.txt", f"python-{DEFAULT.series}\n")
    write(tmp_path, ".python-version", "3.12\n")
    code, out, _ = run(capsys, "check", str(tmp_path), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    assert {w["id"] for w in doc["warnings"]} == {
        "runtime-txt::deprecated",
        "python-version::conflicting-files",
    }
    code, _, _ = run(capsys, "check", str(tmp_path), "--strict")
    assert code == 1


def test_check_fir_rejects_runtime_txt(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write(tmp_path, "runtime.txt", "python-3.12\n")
    code, out, _ = run(capsys, "check", str(tmp_path), "--json", "--generation", "fir")
    assert code == 1
    assert [e["id"] for e in json.loads(out)["errors"]] == ["runtime-txt::not-supported"]


# --------------------------------------------------------------------------- pin


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, "3.13\n"),
        (b"3.12\n", "3.13\n"),
        (b"\xef\xbb\xbf# keep me\r\n3.12\r\n", "# keep me\n3.13\n"),
        ("# keep me\n3.12\n".encode("utf-16"), "# keep me\n3.13\n"),
        (b"\xe9\xe9\n3.12\n", "3.13\n"),  # unreadable bytes: nothing kept
        (b"3.12\n3.11\n", "3.13\n"),
        (b"  # indented comment\n\n3.12 # inline\n", "# indented comment\n3.13\n"),
    ],
)
def test_pin_writes_and_repairs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, existing: bytes | None, expected: str
) -> None:
    if existing is not None:
        write(tmp_path, ".python-version", existing)
    code, out, _ = run(capsys, "pin", str(tmp_path), "3.13")
    assert code == 0 and out == "3.13\n"
    data = (tmp_path / ".python-version").read_bytes()
    assert data.decode("utf-8") == expected
    assert str(parse_python_version_file(data)) == "3.13"
    assert not list(tmp_path.glob(".python-version.*"))  # no temp files left behind


@pytest.mark.parametrize("bad", ["3", "python-3.13", "3.13.*", ">=3.12", "03.13", ""])
def test_pin_rejects_non_versions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bad: str
) -> None:
    code, out, _ = run(capsys, "pin", str(tmp_path), bad, "--json")
    assert code == 2 and json.loads(out)["error"]["id"] == "cli::usage"
    assert not (tmp_path / ".python-version").exists()


def test_pin_refuses_eol_unless_forced(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    write(tmp_path, ".python-version", "3.12\n")
    code, out, _ = run(capsys, "pin", str(tmp_path), "3.9", "--json")
    assert code == 1 and json.loads(out)["error"]["id"] == "python-version::eol"
    assert (tmp_path / ".python-version").read_text() == "3.12\n"  # untouched
    code, _, _ = run(capsys, "pin", str(tmp_path), "3.9", "--force")
    assert code == 0 and (tmp_path / ".python-version").read_text() == "3.9\n"


def test_pin_patch_warns_and_reports_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, ".python_version", "3.12\n")
    code, out, _ = run(capsys, "pin", str(tmp_path), "3.13.0", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["version"] == "3.13.0" and doc["previous"] is None
    assert doc["misspelled_files"] == [".python_version"]
    assert [w["id"] for w in doc["warnings"]] == ["python-version::outdated-patch"]


# --------------------------------------------------------------------------- migrate


@pytest.mark.parametrize(
    ("runtime_txt", "argv", "expected"),
    [
        ("python-3.12.3\n", [], "3.12"),
        ("  # comment\npython-3.12.3\r\n", ["--keep-patch"], "3.12.3"),
        ("python-3.12.3\n", ["--to", "3.13"], "3.13"),
        ("garbage\n", ["--to", "3.13"], "3.13"),
    ],
)
def test_migrate(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    runtime_txt: str,
    argv: list[str],
    expected: str,
) -> None:
    write(tmp_path, "runtime.txt", runtime_txt)
    code, out, _ = run(capsys, "migrate", str(tmp_path), "--json", *argv)
    doc = json.loads(out)
    assert code == 0 and doc["migrated"] is True and doc["version"] == expected
    assert (tmp_path / ".python-version").read_text() == f"{expected}\n"
    assert not (tmp_path / "runtime.txt").exists()


def test_migrate_invalid_runtime_txt_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, "runtime.txt", "3.12\n")
    code, out, _ = run(capsys, "migrate", str(tmp_path), "--json")
    assert code == 1 and json.loads(out)["error"]["id"] == "runtime-txt::invalid-version"
    assert (tmp_path / "runtime.txt").exists() and not (tmp_path / ".python-version").exists()


def test_migrate_eol_runtime_txt_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, "runtime.txt", "python-2.7.18\n")
    code, out, _ = run(capsys, "migrate", str(tmp_path), "--json")
    assert code == 1 and json.loads(out)["error"]["id"] == "python-version::eol"
    assert (tmp_path / "runtime.txt").exists()


def test_migrate_nothing_to_do(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "migrate", str(tmp_path), "--json")
    assert code == 0 and json.loads(out)["migrated"] is False


def test_migrate_overrides_disagreeing_python_version(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, "runtime.txt", "python-3.11\n")
    write(tmp_path, ".python-version", "3.13\n")
    code, _, err = run(capsys, "migrate", str(tmp_path))
    assert code == 0 and "Replacing .python-version (3.13) with 3.11" in err
    assert (tmp_path / ".python-version").read_text() == "3.11\n"


# --------------------------------------------------------------------------- versions / help


def test_versions_json_matches_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "versions", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["default"] == str(CATALOG.default_major)
    assert [m["major"] for m in doc["majors"]] == [
        str(m.series) for m in reversed(CATALOG.supported)
    ]
    assert all(m["latest"].startswith(m["major"] + ".") for m in doc["majors"])
    code, out, _ = run(capsys, "versions", "--all", "--json")
    assert len(json.loads(out)["majors"]) == len(CATALOG.majors)


def test_versions_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "versions")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["MAJOR", "LATEST", "STATUS"]
    default_line = next(line for line in lines if line.endswith("default"))
    assert default_line.split()[:2] == [str(DEFAULT.series), str(DEFAULT.latest)]


@pytest.mark.parametrize("command", ["resolve", "check", "pin", "migrate", "versions"])
def test_every_command_has_teaching_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--json" in text and len(text.splitlines()) > 8


def test_console_script_entry_point(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.12\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pybuildpack.cli", "resolve", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("3.12.")


def test_pre_commit_hook_runs_check() -> None:
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    assert "id: pybuildpack-check" in text and "entry: pybuildpack check" in text


# --------------------------------------------------------------------------- arguments, pipes


@pytest.mark.parametrize(
    "argv",
    [
        ["resolve", ".", "--json", "--bogus"],  # argparse: unknown option
        ["resolve", ".", "--json", "--generation", "hoth"],  # argparse: bad choice
        ["pin", "--json"],  # argparse: VERSION missing
        ["resolve", ".", "--json", "--cached-version", "banana"],  # caught by the command
        ["pin", ".", "3.13.*", "--json"],  # caught by the command
    ],
)
def test_usage_errors_exit_2_with_one_json_object_wherever_caught(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    doc = json.loads(out)  # exactly one JSON document on stdout
    assert list(doc) == ["error"] and doc["error"]["id"] == "cli::usage"
    assert doc["error"]["message"] and err  # and the human explanation on stderr
    assert "Traceback" not in err


def test_argument_errors_without_json_print_no_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "resolve", ".", "--bogus")
    assert (code, out) == (2, "")
    assert "usage: pybuildpack" in err and "--bogus" in err


@pytest.mark.parametrize("command", [["resolve"], ["check"], ["migrate"], ["pin", "3.13"]])
def test_app_dir_defaults_to_the_current_directory(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    write(tmp_path, ".python-version", "3.13\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *command)
    assert code == 0, err


def test_install_app_dir_defaults_to_the_current_directory() -> None:
    from pybuildpack.cli import build_parser

    args = build_parser().parse_args(["install", "--dest", "/tmp/py"])
    assert args.app_dir == "."


def test_pin_with_only_a_version_pins_the_current_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pybuildpack pin 3.13`, as with `uv python pin 3.13`."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "pin", "3.13")
    assert (code, out) == (0, "3.13\n")
    assert (tmp_path / ".python-version").read_text() == "3.13\n"


@pytest.mark.parametrize(
    "argv", [["versions"], ["versions", "--json"], ["versions", "--all"], ["resolve", "--json"]]
)
def test_a_closed_pipe_ends_quietly(tmp_path: Path, argv: list[str]) -> None:
    """`pybuildpack versions | head -1`: the reader went away; no traceback, no 'internal
    error', exit 141 as a program ended by SIGPIPE."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "from pybuildpack.cli import main; raise SystemExit(main())",
         *argv],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes anything: every write meets EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "Internal error" not in err
    assert "BrokenPipeError" not in err and "Exception ignored" not in err


# --------------------------------------------------------------------------- download errors


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed on exit: connecting is refused


def test_a_refused_connection_is_a_connection_error_not_a_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pybuildpack import errors as e
    from pybuildpack.messages import render
    from pybuildpack.provision import download

    monkeypatch.setenv("PYBUILDPACK_HTTP_RETRIES", "0")
    monkeypatch.setenv("PYBUILDPACK_ALLOW_INSECURE_HTTP", "1")
    url = f"http://127.0.0.1:{_closed_port()}/python.tar.gz"
    with pytest.raises(e.DownloadConnectionFailed) as exc, download.open_url(url):
        pass
    assert exc.value.id == "install-python::connection-failed"
    assert exc.value.host == "127.0.0.1" and not exc.value.name_unresolved
    assert "timed out" not in render(exc.value).text


def test_a_name_that_does_not_resolve_is_a_connection_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without asking a real resolver: the lookup fails as it does for an unknown name."""
    import socket

    from pybuildpack import errors as e
    from pybuildpack.messages import render
    from pybuildpack.provision import download

    url = "https://mirror.invalid/python.tar.gz"

    def no_such_name(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setenv("PYBUILDPACK_HTTP_RETRIES", "0")
    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(e.DownloadConnectionFailed) as exc, download.open_url(url):
        pass
    assert exc.value.name_unresolved and exc.value.host == "mirror.invalid"
    assert "could not be resolved" in render(exc.value).text
