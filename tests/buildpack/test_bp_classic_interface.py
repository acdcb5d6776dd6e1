"""Classic interface: errors (typed, rendered, no traceback), env files, report, shims."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from bp_support import REPO, ClassicPlatform, base_env, local_series, pbs_patches

from pybuildpack.buildpack import classic

REQS = {"requirements.txt": ""}


@pytest.mark.parametrize(
    ("files", "error_id"),
    [
        ({"app.py": ""}, "package-manager::none-found"),
        ({"requirements.txt": "", "uv.lock": ""}, "package-manager::multiple-found"),
        ({"Pipfile": ""}, "package-manager::pipenv-missing-lockfile"),
        ({"setup.py": ""}, "package-manager::setup-py-only"),
        ({"uv.lock": "", "pyproject.toml": ""}, "python-version-file::not-found"),
        ({"uv.lock": "", "runtime.txt": "python-3.12\n"}, "runtime-txt::not-supported"),
        ({**REQS, ".venv/pyvenv.cfg": ""}, "checks::existing-venv-dir"),
        ({**REQS, ".heroku/python/junk": ""}, "checks::existing-python-dir"),
        ({**REQS, ".python-version": "3.9\n"}, "python-version::eol"),
        ({**REQS, ".python-version": "python-3.12\n"}, "python-version-file::invalid-version"),
        ({**REQS, "bin/pre_compile": "echo failing; exit 3\n"}, "hooks::failed"),
    ],
)
def test_failures_are_typed_rendered_and_reported(
    platform: ClassicPlatform, files: dict[str, str], error_id: str
) -> None:
    built, _ = platform.compile(files)
    assert built.code == 1
    assert f"[{error_id}]" in built.err
    assert " !     Error: " in built.err
    assert "Traceback" not in built.log
    assert platform.report()["failure_reason"] == error_id
    assert platform.installer.calls == []  # every check fails before any install


def test_missing_stack(platform: ClassicPlatform) -> None:
    built, _ = platform.compile(REQS, STACK="")
    assert built.code == 1 and "[checks::stack::missing]" in built.err


def test_unknown_stack(platform: ClassicPlatform) -> None:
    built, _ = platform.compile(REQS, STACK="cedar-14")
    assert built.code == 1 and "[stack::unknown]" in built.err


def test_duplicate_buildpack(platform: ClassicPlatform) -> None:
    files = {**REQS, ".heroku/python/bin/python": ""}
    built, _ = platform.compile(files, PYBUILDPACK_PYTHON_HOME="/app/.heroku/python")
    assert built.code == 1 and "[checks::duplicate-python-buildpack]" in built.err


def test_hooks_run_with_the_build_environment(platform: ClassicPlatform) -> None:
    files = {
        **REQS,
        "bin/post_compile": "python3 -c \"import sys; print('hook-python', sys.prefix)\"\n",
    }
    built, _ = platform.compile(files)
    assert built.code == 0, built.log
    assert "-----> Running bin/post_compile hook" in built.out
    prefix = next(line for line in built.out.splitlines() if "hook-python" in line).split()[-1]
    home = Path(platform.env["PYBUILDPACK_APP_HOME"]) / ".heroku" / "python"
    assert prefix == str(home)
    assert platform.report()["post_compile_hook"] is True


def test_profile_d_and_export_give_the_app_its_python(platform: ClassicPlatform) -> None:
    built, build_dir = platform.compile(REQS)
    assert built.code == 0, built.log
    profile = build_dir / ".profile.d" / "python.sh"
    script = f'. "{profile}"; env'
    env = {"HOME": str(build_dir), "PATH": "/usr/bin:/bin", "LANG": ""}
    out = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True).stdout
    seen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    home = f"{build_dir}/.heroku/python"
    assert seen["PATH"] == f"{home}/bin:/usr/bin:/bin"
    assert seen["PYTHONUNBUFFERED"] == "1"
    assert seen["LANG"] == "C.UTF-8"
    assert seen["LD_LIBRARY_PATH"] == f"{home}/lib"  # no trailing ':' when unset
    assert seen["LIBRARY_PATH"] == f"{home}/lib"
    assert seen["PIP_DISABLE_PIP_VERSION_CHECK"] == "1"
    assert "PYTHONHOME" not in seen
    env["LANG"] = "fr_FR.UTF-8"
    out = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True).stdout
    assert "LANG=fr_FR.UTF-8" in out.splitlines()  # a default only

    export = Path(platform.env["PYBUILDPACK_EXPORT_FILE"]).read_text()
    app_home = f"{platform.env['PYBUILDPACK_APP_HOME']}/.heroku/python"
    assert f'export PATH={shlex.quote(app_home + "/bin")}"${{PATH:+:$PATH}}"' in export
    assert f"{app_home}/lib/pkgconfig" in export and "pkg-config" not in export
    series = platform.report()["python_version_major"]
    assert f"{app_home}/include/python{series}" in export
    out = subprocess.run(
        ["sh", "-c", f'. "{platform.env["PYBUILDPACK_EXPORT_FILE"]}"; python3 -c '
         '"import sys; print(sys.version_info[:2])"'],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
    )  # fmt: skip
    assert out.stdout.strip() == str(tuple(int(x) for x in series.split(".")))


def test_app_home_link_points_at_the_build_dir(platform: ClassicPlatform) -> None:
    built, build_dir = platform.compile(REQS)
    assert built.code == 0
    link = Path(platform.env["PYBUILDPACK_APP_HOME"]) / ".heroku" / "python"
    assert link.is_symlink() and link.resolve() == (build_dir / ".heroku" / "python").resolve()


def test_unlinkable_app_home_warns_and_builds_from_the_build_dir(
    platform: ClassicPlatform, tmp_path: Path
) -> None:
    built, _ = platform.compile(REQS, PYBUILDPACK_APP_HOME=str(tmp_path / "missing"))
    assert built.code == 0, built.log
    assert "Warning: Python is not reachable at" in built.err
    assert platform.report()["cache_status"] == "empty"


def test_report_prints_the_build_data(platform: ClassicPlatform, capsys: object) -> None:
    assert platform.compile(REQS)[0].code == 0
    assert classic.report(platform.cache_dir) == 0
    data = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    for key in (
        "python_version", "python_version_requested", "python_version_origin",
        "python_version_pinned", "python_version_outdated", "cache_status", "package_manager",
        "python_install_duration", "dependencies_install_duration", "total_duration",
    ):  # fmt: skip
        assert key in data, key


def test_outdated_pin_is_reported(platform: ClassicPlatform) -> None:
    series = local_series()[0]
    oldest = pbs_patches(series)[0]  # the oldest patch the default (pbs) source has
    built, _ = platform.compile({**REQS, ".python-version": f"{oldest}\n"})
    assert built.code == 0, built.log
    report = platform.report()
    assert report["python_version"] == str(oldest)
    assert report["python_version_pinned"] is True
    assert report["python_version_outdated"] is True
    assert "Warning: A newer Python" in built.err


# --------------------------------------------------------------------------- the sh shims


def test_bin_detect_classic(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("")
    p = subprocess.run([REPO / "bin" / "detect", tmp_path], capture_output=True, text=True)
    assert (p.returncode, p.stdout) == (0, "Python\n")
    (tmp_path / "requirements.txt").unlink()
    p = subprocess.run([REPO / "bin" / "detect", tmp_path], capture_output=True, text=True)
    assert p.returncode == 1 and "No Python project files found" in p.stderr


def test_bin_compile_rejects_an_unusable_pybuildpack_python(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "PYBUILDPACK_PYTHON": "/bin/false"}
    p = subprocess.run([REPO / "bin" / "compile", tmp_path, tmp_path / "c", tmp_path],
                       env=env, capture_output=True, text=True)  # fmt: skip
    assert p.returncode == 1 and "PYBUILDPACK_PYTHON=/bin/false cannot run" in p.stderr


def test_bin_compile_end_to_end_error_path(tmp_path: Path) -> None:
    """The shim finds a Python, runs compile, and an app error exits 1 with its id."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text("")
    env = {**base_env(tmp_path), "STACK": "heroku-24"}
    p = subprocess.run([REPO / "bin" / "compile", app, tmp_path / "cache", tmp_path / "env"],
                       env=env, capture_output=True, text=True)  # fmt: skip
    assert p.returncode == 1, p.stderr
    assert "[package-manager::none-found]" in p.stderr and "Traceback" not in p.stderr
    r = subprocess.run([REPO / "bin" / "report", app, tmp_path / "cache", tmp_path / "env"],
                       env=env, capture_output=True, text=True)  # fmt: skip
    assert json.loads(r.stdout)["failure_reason"] == "package-manager::none-found"


def test_bin_release(tmp_path: Path) -> None:
    p = subprocess.run([REPO / "bin" / "release", tmp_path], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("---")


def test_provisioning_config_vars_from_env_dir_reach_the_installer(
    platform: ClassicPlatform,
) -> None:
    """`PYBUILDPACK_MIRROR` etc. set as app config vars (ENV_DIR files) apply to the install."""
    config = {
        "PYBUILDPACK_MIRROR": "file:///srv/python",
        "PYBUILDPACK_SOURCE": "heroku",
        "PYBUILDPACK_CACHE_DIR": str(platform.tmp / "dl"),
    }
    built, _ = platform.compile_with_config(REQS, config)
    assert built.code == 0, built.log
    (call,) = platform.installer.calls
    assert call["mirror"] == "file:///srv/python"
    assert call["source"] == "heroku"
    assert call["cache_dir"] == platform.tmp / "dl"
