"""Start-up: a command imports only what it needs (checked on ``sys.modules``, not timed),
and the shortcuts that make this possible agree exactly with what they stand for."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from pybuildpack.commands import COMMAND_MODULES, COMMANDS
from pybuildpack.requires_python import PythonSpecifier, _simple_clauses
from test_exit import PENDING

# Never needed to parse arguments or to resolve a version.
HEAVY = ("pybuildpack.provision", "urllib3", "packaging.tags", "pybuildpack.buildpack")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY))


def test_importing_the_cli_imports_no_command_and_nothing_heavy() -> None:
    modules = _modules_after("import pybuildpack.cli")
    assert _heavy(modules) == []
    assert not [m for m in modules if m.startswith("pybuildpack.commands.")]


def test_resolve_imports_nothing_heavy(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.13\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nrequires-python = ">=3.11, <4"\n')
    code = (
        "import contextlib, io\n"
        "from pybuildpack.cli import main\n"
        "quiet = io.StringIO()\n"
        "with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):\n"
        f"    assert main(['resolve', {str(tmp_path)!r}]) == 0\n"
    )
    modules = _modules_after(code)
    assert _heavy(modules) == []
    assert "packaging.specifiers" not in modules  # a simple requires-python needs no packaging
    # records instead of dataclasses; Unicode data only for invisible characters; argparse
    # without shutil (terminal width read directly)
    assert not modules & {"dataclasses", "inspect", "unicodedata", "calendar", "shutil"}
    commands = {m for m in modules if m.startswith("pybuildpack.commands.")}
    assert commands <= {
        "pybuildpack.commands._shared",
        "pybuildpack.commands.resolve",
        "pybuildpack.commands.versions",
    }


def test_the_install_path_imports_no_typing_nor_dataclasses() -> None:
    """What a cold install imports: records, and typing for type checkers only."""
    modules = _modules_after(
        "import pybuildpack.commands.install, pybuildpack.provision.api, "
        "pybuildpack.provision.extract, pybuildpack.provision.tarsafe, "
        "pybuildpack.provision.download, pybuildpack.provision.store, "
        "pybuildpack.provision.relocate, pybuildpack.provision.systar"
    )
    assert not modules & {"typing", "dataclasses", "inspect", "urllib3"}


def test_command_table_names_what_each_module_registers() -> None:
    for name in COMMAND_MODULES:
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"pybuildpack.commands.{name}").register(sub)
        registered = set(sub.choices)
        assert registered == {c for c, m in COMMANDS.items() if m == name}, name


# --------------------------------------------------------------------------- requires-python

_OPS = st.sampled_from(["==", "!=", "<=", ">=", "<", ">", "~=", "===", "= ="])
_NUMBER = st.one_of(
    st.integers(0, 20).map(str), st.sampled_from(["00", "03", "012", "100000000000000000000"])
)
_RELEASE = st.lists(_NUMBER, min_size=1, max_size=4).map(".".join)
_SPACE = st.sampled_from(["", " ", "  ", "\t"])
_CLAUSE = st.tuples(_SPACE, _OPS, _SPACE, _RELEASE, st.sampled_from(["", ".*", "rc1", "+x"]))
_TEXT = st.lists(_CLAUSE, min_size=1, max_size=3).map(
    lambda cs: ",".join(f"{a}{op}{b}{v}{suffix}" for a, op, b, v, suffix in cs)
)
_VERSION = st.one_of(
    st.lists(st.integers(0, 20).map(str), min_size=1, max_size=4).map(".".join),
    st.sampled_from(["3.14.0rc1", "3.13.0a2", "3.12.1.post1", "3.11.0"]),
)


@given(_TEXT, st.lists(_VERSION, min_size=1, max_size=5))
def test_python_specifier_agrees_with_packaging(text: str, versions: list[str]) -> None:
    try:
        reference = SpecifierSet(text)
    except InvalidSpecifier:
        assert _simple_clauses(text) is None  # only ever taken for valid text
        with pytest.raises(InvalidSpecifier):
            PythonSpecifier.parse(text)
        return
    ours = PythonSpecifier.parse(text)
    for version in versions:
        expected = reference.contains(version, prereleases=True)
        assert ours.contains(version, prereleases=True) == expected, (text, version)


@pytest.mark.parametrize(
    ("text", "version", "expected"),
    [
        (">=3.11", "3.14.7", True),
        (">=3.11, <3.13", "3.13.0", False),
        ("~=3.12", "3.13.1", True),
        ("~=3.12.0", "3.13.1", False),
        ("==3.12", "3.12.0", True),
        ("!=3.12.1,>3.11", "3.12.1", False),
        ("<3.14", "3.14.0rc1", False),  # packaging: no pre-release of the bound itself
    ],
)
def test_python_specifier_examples(text: str, version: str, expected: bool) -> None:
    assert PythonSpecifier.parse(text).contains(version, prereleases=True) is expected


@pytest.mark.parametrize(
    "env",
    [
        {"HOME": "/home/u"},
        {"HOME": "/home/u/", "XDG_DATA_HOME": ""},
        {"HOME": "/", "XDG_DATA_HOME": ""},
        {"HOME": "/home/u", "XDG_DATA_HOME": "/data/x/"},
        {"HOME": "/home/u", "XDG_DATA_HOME": "relative/x"},
        {"HOME": "relative", "XDG_DATA_HOME": ""},
        {"HOME": "/home/u", "XDG_DATA_HOME": "   "},
    ],
)
def test_user_data_dir_is_platformdirs_without_importing_it(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    platformdirs = pytest.importorskip("platformdirs")
    from pybuildpack import catalog

    for name in ("HOME", "XDG_DATA_HOME", "PYBUILDPACK_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        expected = Path(platformdirs.user_data_dir("pybuildpack"))
    except RuntimeError:  # no usable home: platformdirs refuses, and so do we
        with pytest.raises(RuntimeError):
            catalog.user_data_dir()
        return
    assert catalog.user_data_dir() == expected


# --------------------------------------------------------------------------- fast exit

_RUN = (
    "import sys\n"
    "sys.argv = ['pybuildpack', *sys.argv[1:]]\n"
    "{setup}\n"
    "from pybuildpack.cli import run\n"
    "run()\n"
)


def _console(tmp_path: Path, *argv: str, setup: str = "") -> subprocess.CompletedProcess[str]:
    script = tmp_path / "console.py"
    script.write_text(_RUN.format(setup=setup))
    return subprocess.run(
        [sys.executable, str(script), *argv], capture_output=True, text=True, check=False
    )


def test_a_command_that_changes_nothing_skips_the_teardown_after_its_output(
    tmp_path: Path,
) -> None:
    """``run`` ends a read-only command with ``os._exit``: shown by an object whose
    finalizer would print at a normal exit. The command's own output is all there."""
    (tmp_path / ".python-version").write_text("3.13\n")
    marker = (
        "class Noisy:\n"
        "    def __del__(self): print('teardown ran', file=sys.stderr)\n"
        "keep = Noisy()"
    )
    fast = _console(tmp_path, "resolve", str(tmp_path), setup=marker)
    assert fast.returncode == 0 and fast.stdout.strip().startswith("3.13.")
    assert "teardown ran" not in fast.stderr and "Python 3.13." in fast.stderr
    # A command that may have written (pin) exits normally.
    pinned = _console(tmp_path, "pin", str(tmp_path), "3.13", setup=marker)
    assert pinned.returncode == 0 and "teardown ran" in pinned.stderr


@pytest.mark.parametrize("pending", PENDING.values(), ids=PENDING.keys())
def test_fast_exit_waits_for_what_is_pending(tmp_path: Path, pending: str) -> None:
    (tmp_path / ".python-version").write_text("3.13\n")
    done = _console(tmp_path, "resolve", str(tmp_path), setup=pending)
    assert done.returncode == 0 and "pending ran" in done.stderr


def test_fast_exit_keeps_the_exit_code_of_a_reported_error(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.99\n")
    done = _console(tmp_path, "resolve", str(tmp_path), "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"]["id"]
