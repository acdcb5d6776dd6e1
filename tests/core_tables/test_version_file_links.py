"""Version files that are symbolic links, and the files pin/migrate write: links inside the
app are followed (and written through), links out of the app are their own error and never
read; written files keep their mode (a new one gets 0666 less the umask)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybuildpack.cli import main

SECRET = "PYBUILDPACK_TEST_SECRET=do-not-echo-me"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the app that holds something private (and a valid-looking line)."""
    path = tmp_path / "elsewhere.txt"
    path.write_text(f"{SECRET}\n")
    return path


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.out + captured.err


@pytest.mark.parametrize(
    ("name", "generation", "error_id"),
    [
        (".python-version", "cedar", "python-version-file::outside-app"),
        (".python-version", "fir", "python-version-file::outside-app"),
        ("runtime.txt", "cedar", "runtime-txt::outside-app"),
        ("Pipfile.lock", "cedar", "pipfile-lock::outside-app"),
    ],
)
def test_a_link_out_of_the_app_is_its_own_error_and_never_echoed(
    capsys: pytest.CaptureFixture[str],
    app: Path,
    outside: Path,
    name: str,
    generation: str,
    error_id: str,
) -> None:
    (app / name).symlink_to(outside)
    code, doc, text = run(capsys, "resolve", str(app), "--generation", generation)
    assert code == 1 and doc["error"]["id"] == error_id
    assert str(outside) in doc["error"]["message"]  # where it leads, not what it holds
    assert "do-not-echo-me" not in text
    code, doc, text = run(capsys, "check", str(app), "--generation", generation)
    assert code == 1 and error_id in [e["id"] for e in doc["errors"]]
    assert "do-not-echo-me" not in text


def test_a_link_to_proc_self_environ_prints_no_environment(
    capsys: pytest.CaptureFixture[str], app: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not Path("/proc/self/environ").exists():
        pytest.skip("no /proc on this system")
    monkeypatch.setenv("PYBUILDPACK_TEST_SECRET", "do-not-echo-me")
    for name in (".python-version", "runtime.txt"):
        (app / name).symlink_to("/proc/self/environ")
        for command in ("resolve", "check", "migrate", "pin"):
            argv = [command, str(app)] + (["3.13"] if command == "pin" else [])
            code, _, text = run(capsys, *argv)
            # migrate without runtime.txt has nothing to do; pin does not read runtime.txt
            nothing_to_do = (name, command) in {(".python-version", "migrate"),
                                                ("runtime.txt", "pin")}  # fmt: skip
            assert code == (0 if nothing_to_do else 1), (name, command)
            assert "do-not-echo-me" not in text, (name, command)
        (app / name).unlink()


def test_a_link_inside_the_app_is_followed(capsys: pytest.CaptureFixture[str], app: Path) -> None:
    (app / "config").mkdir()
    (app / "config" / "python").write_text("3.13\n")
    (app / ".python-version").symlink_to("config/python")
    code, doc, _ = run(capsys, "resolve", str(app))
    assert code == 0 and doc["requested"] == "3.13"


def test_pin_writes_through_a_link_inside_the_app(
    capsys: pytest.CaptureFixture[str], app: Path
) -> None:
    (app / "config").mkdir()
    target = app / "config" / "python"
    target.write_text("# shared with tox\n3.12\n")
    (app / ".python-version").symlink_to("config/python")
    code, _, _ = run(capsys, "pin", str(app), "3.13")
    assert code == 0
    assert (app / ".python-version").is_symlink()  # still a link
    assert target.read_text() == "# shared with tox\n3.13\n"


def test_pin_refuses_a_link_out_of_the_app_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], app: Path, outside: Path
) -> None:
    (app / ".python-version").symlink_to(outside)
    code, doc, text = run(capsys, "pin", str(app), "3.13")
    assert code == 1 and doc["error"]["id"] == "python-version-file::outside-app"
    assert "pybuildpack pin" in doc["error"]["message"] and "3.13" in doc["error"]["message"]
    assert (app / ".python-version").is_symlink()
    assert outside.read_text() == f"{SECRET}\n"
    assert "do-not-echo-me" not in text


def test_migrate_refuses_to_read_runtime_txt_out_of_the_app(
    capsys: pytest.CaptureFixture[str], app: Path, outside: Path
) -> None:
    (app / "runtime.txt").symlink_to(outside)
    code, doc, text = run(capsys, "migrate", str(app))
    assert code == 1 and doc["error"]["id"] == "runtime-txt::outside-app"
    assert "do-not-echo-me" not in text
    # its advice (migrate --to) does not read the link: it replaces it
    code, doc, _ = run(capsys, "migrate", str(app), "--to", "3.13")
    assert code == 0 and not (app / "runtime.txt").is_symlink()
    assert outside.read_text() == f"{SECRET}\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
@pytest.mark.parametrize("command", [["pin", "3.13"], ["migrate"]])
def test_a_new_python_version_file_gets_0644_under_umask_022(
    capsys: pytest.CaptureFixture[str], app: Path, command: list[str]
) -> None:
    (app / "runtime.txt").write_text("python-3.13\n")
    assert run(capsys, command[0], str(app), *command[1:])[0] == 0
    assert mode(app / ".python-version") == 0o644


def test_a_new_python_version_file_honours_the_umask(
    capsys: pytest.CaptureFixture[str], app: Path
) -> None:
    old = os.umask(0o027)
    try:
        assert run(capsys, "pin", str(app), "3.13")[0] == 0
    finally:
        os.umask(old)
    assert mode(app / ".python-version") == 0o640


@pytest.mark.usefixtures("umask_022")
@pytest.mark.parametrize("existing", [0o644, 0o664, 0o600])
def test_pin_keeps_the_mode_of_an_existing_file(
    capsys: pytest.CaptureFixture[str], app: Path, existing: int
) -> None:
    path = app / ".python-version"
    path.write_text("3.12\n")
    path.chmod(existing)
    assert run(capsys, "pin", str(app), "3.13")[0] == 0
    assert mode(path) == existing and path.read_text() == "3.13\n"


def test_pin_into_a_directory_named_python_version_is_a_typed_error(
    capsys: pytest.CaptureFixture[str], app: Path
) -> None:
    (app / ".python-version").mkdir()
    code, doc, _ = run(capsys, "pin", str(app), "3.13")
    assert code == 1 and doc["error"]["id"] == "python-version-file::not-writable"
