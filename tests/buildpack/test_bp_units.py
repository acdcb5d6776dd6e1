"""Pure parts: package-manager detection and commands, cache decisions, log style, env files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pybuildpack.buildpack import deps
from pybuildpack.buildpack.build_cache import CacheState, decide
from pybuildpack.buildpack.build_data import BuildData
from pybuildpack.buildpack.deps import PackageManager
from pybuildpack.buildpack.env import LayerEnvVar, write_layer_env
from pybuildpack.buildpack.layers.python import PythonLayerMetadata, discard_reasons
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.errors import (
    PackageManagerMultipleFound,
    PackageManagerNoneFound,
    PackageManagerNotSupported,
    PythonVersionNotSpecified,
)
from pybuildpack.version import Generation, MajorVersion, Origin, PythonVersion

CEDAR, FIR = Generation.CEDAR, Generation.FIR


def app(tmp_path: Path, *names: str) -> Path:
    for n in names:
        (tmp_path / n).write_text("")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["requirements.txt"], PackageManager.PIP),
        (["Pipfile", "Pipfile.lock"], PackageManager.PIPENV),
        (["pyproject.toml", "poetry.lock"], PackageManager.POETRY),
        (["pyproject.toml", "uv.lock"], PackageManager.UV),
    ],
)
def test_detects_the_package_manager(
    tmp_path: Path, files: list[str], expected: PackageManager
) -> None:
    assert deps.detect_package_manager(app(tmp_path, *files), CEDAR) is expected


def test_multiple_package_managers_are_listed_in_fixed_order(tmp_path: Path) -> None:
    a = app(tmp_path, "uv.lock", "requirements.txt", "Pipfile.lock", "poetry.lock")
    with pytest.raises(PackageManagerMultipleFound) as exc:
        deps.detect_package_manager(a, CEDAR)
    assert [pm for _, pm in exc.value.found] == ["Pipenv", "pip", "Poetry", "uv"]


def test_fir_ignores_pipfile_lock_next_to_another_manager(tmp_path: Path) -> None:
    a = app(tmp_path, "Pipfile.lock", "uv.lock")
    assert deps.detect_package_manager(a, FIR) is PackageManager.UV
    only = tmp_path / "only-pipenv"
    only.mkdir()
    with pytest.raises(PackageManagerNotSupported):
        deps.detect_package_manager(app(only, "Pipfile.lock"), FIR)


def test_none_found_lists_the_app_root(tmp_path: Path) -> None:
    with pytest.raises(PackageManagerNoneFound) as exc:
        deps.detect_package_manager(app(tmp_path, "main.py", "README.md"), FIR)
    assert exc.value.files == ("README.md", "main.py")
    assert "Pipfile.lock" not in exc.value.supported


def test_dependency_hash_follows_content(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask\n")
    h1 = deps.dependencies_hash(tmp_path, PackageManager.PIP)
    (tmp_path / "requirements.txt").write_text("flask==3\n")
    h2 = deps.dependencies_hash(tmp_path, PackageManager.PIP)
    (tmp_path / "requirements.txt").write_text("flask\n")
    assert h1 != h2 and deps.dependencies_hash(tmp_path, PackageManager.PIP) == h1


def test_commands(tmp_path: Path) -> None:
    home, cache = Path("/app/.heroku/python"), Path("/c/pip")
    py = home / "bin" / "python3"
    pip = deps.dependency_command(PackageManager.PIP, None, py, home, cache)
    assert pip[:6] == [str(py), "-m", "pip", "install", "-r", "requirements.txt"]
    assert "--cache-dir" in pip and pip[pip.index("--cache-dir") + 1] == str(cache)
    assert "--src" in pip and pip[pip.index("--src") + 1] == "/app/.heroku/python/src"
    uv = deps.dependency_command(PackageManager.UV, Path("/t/uv"), py, home, cache)
    assert uv == ["/t/uv", "sync", "--locked", "--no-default-groups", "--compile-bytecode",
                  "--no-progress"]  # fmt: skip
    poetry = deps.dependency_command(PackageManager.POETRY, Path("/t/poetry"), py, home, cache)
    assert poetry[:4] == ["/t/poetry", "sync", "--only", "main"]
    pipenv = deps.dependency_command(PackageManager.PIPENV, Path("/t/pipenv"), py, home, cache)
    assert pipenv == ["/t/pipenv", "install", "--deploy"]


def test_environments_point_the_tools_at_the_runtime(tmp_path: Path) -> None:
    home, root = Path("/app/.heroku/python"), Path("/cache")
    uv = deps.dependency_env(PackageManager.UV, home, root)
    assert uv["UV_PROJECT_ENVIRONMENT"] == str(home)
    assert uv["UV_PYTHON_DOWNLOADS"] == "never" and uv["UV_NO_MANAGED_PYTHON"] == "1"
    assert deps.dependency_env(PackageManager.POETRY, home, root)["VIRTUAL_ENV"] == str(home)
    pipenv = deps.dependency_env(PackageManager.PIPENV, home, root)
    assert pipenv["PIPENV_SYSTEM"] == "1" and pipenv["VIRTUAL_ENV"] == str(home)


def test_tool_install_and_pip_bootstrap_commands() -> None:
    wheel = Path("/rt/lib/python3.13/ensurepip/_bundled/pip-25.0-py3-none-any.whl")
    cmd = deps.tool_install_command(Path("/v/bin/python"), wheel, PackageManager.UV)
    assert cmd[:3] == ["/v/bin/python", f"{wheel}/pip", "install"]
    assert cmd[-1] == f"uv=={deps.TOOL_VERSIONS[PackageManager.UV]}"
    boot = deps.pip_bootstrap_command(Path("/rt/bin/python3"), wheel)
    assert "--no-index" in boot and "--isolated" in boot and boot[-1] == str(wheel)
    assert deps.wheel_version(wheel) == "25.0"


def test_tool_dirs_are_keyed_by_python_and_path() -> None:
    v = PythonVersion(3, 13, 1)
    a = deps.tool_dir(Path("/t"), PackageManager.UV, v, Path("/app/.heroku/python"))
    b = deps.tool_dir(Path("/t"), PackageManager.UV, v, Path("/tmp/b/.heroku/python"))
    c = deps.tool_dir(Path("/t"), PackageManager.UV, PythonVersion(3, 13, 2), Path("/app"))
    assert len({a, b, c}) == 3


# --------------------------------------------------------------------------- cache decisions


def state(**kw: str) -> CacheState:
    base = {
        "python_version": "3.13.1",
        "stack": "heroku-24",
        "arch": "amd64",
        "package_manager": "pip",
        "package_manager_version": "bundled",
        "dependencies_hash": "h",
        "python_home": "/app",
    }
    return CacheState(**{**base, **kw})


def test_decide() -> None:
    assert decide(None, state()).status == "empty"
    assert decide(state(), state()).status == "reused"
    d = decide(state(), state(stack="heroku-26", python_version="3.13.2", package_manager="uv"))
    assert d.status == "discarded"
    assert d.runtime_reasons == (
        "The stack has changed from heroku-24 to heroku-26",
        "The Python version has changed from 3.13.1 to 3.13.2",
    )
    d = decide(state(), state(dependencies_hash="other", python_home="/tmp/x"))
    assert d.status == "runtime-reused"
    assert d.dependency_reasons == (
        "The dependency files have changed",
        "The Python install path has changed from /app to /tmp/x",
    )
    d = decide(state(), state(package_manager="uv", package_manager_version="0.1"))
    assert d.dependency_reasons[0] == "The package manager has changed from pip to uv"


def test_cache_state_rejects_other_schemas() -> None:
    assert CacheState.from_json({**state().to_json(), "schema": 99}) is None
    assert CacheState.from_json({**state().to_json(), "python_version": "3.13"}) is None
    assert CacheState.from_json(state().to_json()) == state()


def test_python_layer_reasons_in_fixed_order() -> None:
    old = PythonLayerMetadata("3.11.0", "amd64", "ubuntu", "22.04")
    assert discard_reasons(old, old) == []
    new = PythonLayerMetadata("3.11.1", "arm64", "debian", "12")
    assert discard_reasons(old, new) == [
        "The CPU architecture has changed from amd64 to arm64",
        "The OS has changed from ubuntu-22.04 to debian-12",
        "The Python version has changed from 3.11.0 to 3.11.1",
    ]
    assert PythonLayerMetadata.parse({"python_version": "3.11.0"}) is None  # other shape


# --------------------------------------------------------------------------- log and env files


def test_log_style_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    out, err = io.StringIO(), io.StringIO()
    log = BuildLog(out=out, err=err)
    log.step("Installing Python 3.13.1")
    log.info("line one\nline two")
    log.warning(PythonVersionNotSpecified(origin=Origin.DEFAULT, series=MajorVersion(3, 13)))
    assert out.getvalue() == "-----> Installing Python 3.13.1\n       line one\n       line two\n"
    text = err.getvalue()
    assert text.startswith("\n !     Warning: No Python version was specified\n")
    assert "\x1b[" not in text
    assert all(line.startswith(" !") for line in text.strip("\n").splitlines())


def test_log_colour_only_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    BuildLog(out=io.StringIO(), err=err).notice("hello")
    assert "\x1b[1;34m" in err.getvalue()
    err = Tty()
    monkeypatch.setenv("NO_COLOR", "1")
    BuildLog(out=io.StringIO(), err=err).notice("hello")
    assert "\x1b[" not in err.getvalue()


def test_layer_env_files_are_replaced_as_a_whole(tmp_path: Path) -> None:
    write_layer_env(tmp_path, [LayerEnvVar("build", "OLD", "override", "x")])
    write_layer_env(tmp_path, [LayerEnvVar("build", "CPATH", "prepend", "/a", ":")])
    assert sorted(p.name for p in (tmp_path / "env.build").iterdir()) == [
        "CPATH.delim",
        "CPATH.prepend",
    ]
    assert (tmp_path / "env.build" / "CPATH.prepend").read_text() == "/a"


def test_build_report_phase_durations_are_exclusive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phase timed inside another is not counted twice (python_install in cache_restore)."""
    data = BuildData(tmp_path)
    data.start()
    clock = iter([0.0, 1.0, 4.0, 5.0, 5.0, 7.0])
    monkeypatch.setattr("pybuildpack.buildpack.build_data.time.monotonic", lambda: next(clock))

    def install() -> None:
        with data.timed("python_install"):
            pass

    with data.timed("cache_restore"):  # 0 .. 5, of which 1 .. 4 is python_install
        install()
    with data.timed("dependencies_install"):  # 5 .. 7
        pass
    assert data.data["python_install_duration"] == 3.0
    assert data.data["cache_restore_duration"] == 2.0
    assert data.data["dependencies_install_duration"] == 2.0


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, {}),
        ({"PYBUILDPACK_MIRROR": ""}, {}),  # an empty config var is unset
        ({"PYBUILDPACK_MIRROR": "http://m", "PATH": "/bin"}, {"mirror": "http://m"}),
        ({"PYBUILDPACK_SOURCE": "heroku"}, {"source": "heroku"}),
        ({"PYBUILDPACK_DOWNLOADS": "/d.json"}, {"downloads": Path("/d.json")}),
        ({"PYBUILDPACK_CACHE_DIR": "/c"}, {"cache_dir": Path("/c")}),
        ({"PYBUILDPACK_UNPACKER": "python"}, {"unpacker": "python"}),
        ({"PYBUILDPACK_ALLOW_INSECURE_HTTP": "1"}, {"allow_insecure_http": True}),
        ({"PYBUILDPACK_ALLOW_INSECURE_HTTP": "yes"}, {"allow_insecure_http": True}),
        ({"PYBUILDPACK_ALLOW_INSECURE_HTTP": "0"}, {}),
        ({"PYBUILDPACK_ALLOW_INSECURE_HTTP": ""}, {}),
    ],
)
def test_provisioning_options_from_build_settings(
    settings: dict[str, str], expected: dict[str, object]
) -> None:
    from pybuildpack.buildpack.runtime import provisioning_options

    assert provisioning_options(settings) == expected
