"""The CNB interface, driven like the lifecycle does (see ``bp_support.Lifecycle``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from bp_support import Lifecycle, local_series, write_catalog

from pybuildpack.buildpack.layers import read_metadata

REQS = {"requirements.txt": ""}


@pytest.fixture(autouse=True)
def _needs_local_pythons() -> None:
    if len(local_series()) < 2:
        pytest.skip("needs two local CPython majors (pyenv) for the fake installer")


def with_catalog(lc: Lifecycle) -> Lifecycle:
    catalog = write_catalog(lc.tmp / "catalog.json", local_series()[-1])
    lc.extra_env["PYBUILDPACK_CATALOG"] = str(catalog)
    return lc


def test_detect_passes_and_fails_with_lifecycle_exit_codes(
    lifecycle: Callable[..., Lifecycle], tmp_path: Path
) -> None:
    assert lifecycle(REQS).detect().returncode == 0
    empty = Lifecycle(tmp_path / "other", tmp_path / "empty-app")
    empty.app.mkdir()
    (empty.app / "README.md").write_text("not python\n")
    p = empty.detect()
    assert p.returncode == 100
    assert "No Python project files" in p.stderr


def test_build_writes_spec_conforming_layers(lifecycle: Callable[..., Lifecycle]) -> None:
    lc = with_catalog(lifecycle({**REQS, ".python-version": f"{local_series()[0]}\n"}))
    built = lc.build()  # check_layers_dir runs inside
    assert built.code == 0, built.log
    meta = read_metadata(lc.layers, "python")
    assert meta is not None
    assert meta["arch"] == "amd64" and meta["distro_name"] == "ubuntu"
    assert meta["distro_version"] == "24.04"
    assert meta["python_version"].startswith(local_series()[0] + ".")
    toml = (lc.layers / "python.toml").read_text()
    assert "[types]\nbuild = true\nlaunch = true\ncache = true\n" in toml
    env = lc.layers / "python"
    assert (env / "env" / "PYTHONUNBUFFERED.override").read_text() == "1"
    series = local_series()[0]
    assert (env / "env.build" / "CPATH.prepend").read_text() == str(
        env / "include" / f"python{series}"
    )
    assert (env / "env.build" / "CPATH.delim").read_text() == ":"
    assert (env / "env.build" / "PKG_CONFIG_PATH.prepend").read_text() == str(
        env / "lib" / "pkgconfig"
    )
    assert (env / "env.build" / "SOURCE_DATE_EPOCH.default").read_text() == "315532801"
    venv_toml = (lc.layers / "venv.toml").read_text()
    assert "launch = true" in venv_toml and "cache = false" in venv_toml
    assert (lc.layers / "venv" / "env" / "VIRTUAL_ENV.override").read_text() == str(
        lc.layers / "venv"
    )
    assert "launch = false" in (lc.layers / "pip.toml").read_text()


def test_unchanged_rebuild_reuses_the_python_layer_untouched(
    lifecycle: Callable[..., Lifecycle],
) -> None:
    lc = with_catalog(lifecycle(REQS))
    assert lc.build().code == 0
    before = os.stat(lc.layers / "python" / "RUNTIME")
    lc.restore()
    assert "[types]" not in (lc.layers / "python.toml").read_text()
    built = lc.build()
    assert built.code == 0, built.log
    assert "Using cached Python" in built.out
    assert "Using cached pip" in built.out
    assert lc.installer is not None and len(lc.installer.calls) == 1
    after = os.stat(lc.layers / "python" / "RUNTIME")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_target_change_discards_the_layer_with_every_reason(
    lifecycle: Callable[..., Lifecycle],
) -> None:
    lc = with_catalog(lifecycle({**REQS, ".python-version": f"{local_series()[0]}\n"}))
    assert lc.build().code == 0
    lc.restore()
    lc.target = ("arm64", "ubuntu", "26.04")
    (lc.app / ".python-version").write_text(f"{local_series()[-1]}\n")
    built = lc.build()
    assert built.code == 0, built.log
    lines = built.out.splitlines()
    i = next(n for n, line in enumerate(lines) if "Discarding cached Python" in line)
    reasons = [line.strip() for line in lines[i + 1 : i + 4]]
    assert reasons[0] == "- The CPU architecture has changed from amd64 to arm64"
    assert reasons[1] == "- The OS has changed from ubuntu-24.04 to ubuntu-26.04"
    assert reasons[2].startswith("- The Python version has changed from " + local_series()[0])
    assert lc.installer is not None and len(lc.installer.calls) == 2


def test_fir_has_no_sticky_versions(lifecycle: Callable[..., Lifecycle]) -> None:
    lc = with_catalog(lifecycle({**REQS, ".python-version": f"{local_series()[0]}\n"}))
    assert lc.build().code == 0
    lc.restore()
    (lc.app / ".python-version").unlink()
    built = lc.build()
    assert built.code == 0, built.log
    assert f"using the current default of Python {local_series()[-1]}" in built.out
    meta = read_metadata(lc.layers, "python")
    assert meta is not None and meta["python_version"].startswith(local_series()[-1] + ".")


def test_runtime_txt_is_an_error(lifecycle: Callable[..., Lifecycle]) -> None:
    lc = with_catalog(lifecycle({**REQS, "runtime.txt": "python-3.12\n"}))
    built = lc.build()
    assert built.code == 1
    assert "[runtime-txt::not-supported]" in built.err
    assert "Traceback" not in built.log


def test_pipenv_is_not_supported_on_fir(lifecycle: Callable[..., Lifecycle]) -> None:
    lc = with_catalog(lifecycle({"Pipfile": "", "Pipfile.lock": "{}"}))
    built = lc.build()
    assert built.code == 1
    assert "[package-manager::not-supported]" in built.err


def test_unsafe_env_from_the_platform_is_refused(lifecycle: Callable[..., Lifecycle]) -> None:
    lc = with_catalog(lifecycle(REQS))
    lc.user_env(PIP_TARGET="/tmp/x", VIRTUAL_ENV="/venv")
    built = lc.build()
    assert built.code == 1
    assert "[checks::unsafe-env-vars]" in built.err
    assert "PIP_TARGET" in built.err and "VIRTUAL_ENV" in built.err


def test_missing_layers_dir_is_an_invocation_error(lifecycle: Callable[..., Lifecycle]) -> None:
    from pybuildpack.buildpack import cnb

    lc = lifecycle(REQS)
    env = lc.env("detect")  # no CNB_LAYERS_DIR
    import io

    from pybuildpack.buildpack.log import BuildLog

    err = io.StringIO()
    assert cnb.build(lc.app, environ=env, log=BuildLog(out=io.StringIO(), err=err)) == 1
    assert "[buildpack::invalid-invocation]" in err.getvalue()


def test_bin_build_runs_through_the_shim(lifecycle: Callable[..., Lifecycle]) -> None:
    """bin/build as the lifecycle runs it (subprocess, cwd = app): a fir-rule failure."""
    lc = with_catalog(lifecycle({**REQS, "runtime.txt": "python-3.12\n"}, fake=False))
    built = lc.build()
    assert built.code == 1
    assert "[runtime-txt::not-supported]" in built.err
    assert "Traceback" not in built.log
    # pybuildpack's own runner (cached wheels, bytecode) is a cache-only layer: restored for
    # the next build, never exported to the app image
    runner = (lc.layers / "pybuildpack-runner.toml").read_text()
    assert "build = false\nlaunch = false\ncache = true\n" in runner
