"""Classic extras (issue 10, item 8): Django's collectstatic, the WEB_CONCURRENCY default
(.profile.d) and bin/test-compile. "Django" here is a tiny wheel named ``django`` built by
the test (offline): collectstatic only needs the module to be importable and the app's
``manage.py`` to run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from bp_support import REPO, Built, ClassicPlatform, Lifecycle, local_series, make_app
from test_bp_cache_safety import wheel

from pybuildpack.buildpack import django
from pybuildpack.buildpack.env import WEB_CONCURRENCY_SCRIPT

# A manage.py that records how it was run, prints what Django prints, and can fail.
MANAGE_PY = """\
import json, os, sys
if os.environ.get("FAIL_WITH"):
    print("Traceback (most recent call last):")
    print(os.environ["FAIL_WITH"])
    sys.exit(1)
with open(os.environ["RAN"], "w") as f:
    json.dump({"argv": sys.argv, "cwd": os.getcwd(),
               "pythonpath": os.environ.get("PYTHONPATH"),
               "config": os.environ.get("MY_CONFIG")}, f)
print("Copying '/app/static/site.css'")
print("")
print("1 static file copied to '/app/staticfiles'.")
"""


def flat(text: str) -> str:
    return " ".join(w for w in text.split() if w != "!")


@pytest.fixture
def app_env(platform: ClassicPlatform) -> ClassicPlatform:
    house = platform.tmp / "wheels"
    house.mkdir()
    wheel(house, "django")
    wheel(house, "testdep")
    platform.env["PIP_FIND_LINKS"] = f"{house} {platform.env['PIP_FIND_LINKS']}"
    platform.env["RAN"] = str(platform.tmp / "ran.json")
    return platform


def build(
    platform: ClassicPlatform,
    files: dict[str, str],
    config: dict[str, str] | None = None,
    *,
    test: bool = False,
) -> tuple[Built, Path]:
    """A build with an ENV_DIR (empty unless ``config``)."""
    return platform.compile_with_config(files, config or {}, test=test)


def ran(platform: ClassicPlatform) -> dict[str, object] | None:
    path = Path(platform.env["RAN"])
    return json.loads(path.read_text()) if path.exists() else None


DJANGO_APP = {"requirements.txt": "django\n", "manage.py": MANAGE_PY}


# --------------------------------------------------------------------------- collectstatic


def test_collectstatic_runs_with_noinput_and_the_config_vars(app_env: ClassicPlatform) -> None:
    built, build_dir = build(app_env, DJANGO_APP, {"MY_CONFIG": "from-env-dir"})
    assert built.code == 0, built.log
    assert "-----> $ python manage.py collectstatic --noinput\n" in built.out
    assert "1 static file copied" in built.out
    assert "Copying '" not in built.out  # one line per file is left out of the log
    info = ran(app_env)
    assert info is not None
    assert info["argv"] == ["manage.py", "collectstatic", "--noinput", "--traceback"]
    assert info["cwd"] == str(build_dir.resolve())
    assert info["pythonpath"] == "." and info["config"] == "from-env-dir"
    assert app_env.report()["django_collectstatic"] == "enabled"


def test_collectstatic_disabled_by_config_var(app_env: ClassicPlatform) -> None:
    built, _ = build(app_env, DJANGO_APP, {"DISABLE_COLLECTSTATIC": "1"})
    assert built.code == 0, built.log
    assert "Skipping Django collectstatic: DISABLE_COLLECTSTATIC is set" in built.out
    assert ran(app_env) is None
    assert app_env.report()["django_collectstatic"] == "disabled-env-var"


def test_collectstatic_disable_zero_still_runs(app_env: ClassicPlatform) -> None:
    built, _ = build(app_env, DJANGO_APP, {"DISABLE_COLLECTSTATIC": "0"})
    assert built.code == 0, built.log
    assert ran(app_env) is not None


def test_collectstatic_disabled_file_is_deprecated(app_env: ClassicPlatform) -> None:
    built, _ = build(app_env, {**DJANGO_APP, ".heroku/collectstatic_disabled": ""})
    assert built.code == 0, built.log
    assert "The .heroku/collectstatic_disabled file is deprecated" in built.err
    assert ran(app_env) is None
    assert app_env.report()["django_collectstatic"] == "disabled-file"


def test_collectstatic_failure_is_a_typed_error_with_the_output(app_env: ClassicPlatform) -> None:
    failing = "django.core.exceptions.ImproperlyConfigured: You're using the staticfiles app"
    built, _ = build(app_env, DJANGO_APP, {"FAIL_WITH": failing})
    assert built.code == 1
    assert "[collectstatic::failed]" in built.err
    text = flat(built.err)
    assert failing in text  # the command's own output, in the error
    assert "DISABLE_COLLECTSTATIC=1" in text
    report = app_env.report()
    assert report["failure_reason"] == "collectstatic::failed"
    assert report["failure_detail"] == "improper-configuration"


def test_no_django_no_collectstatic(app_env: ClassicPlatform) -> None:
    built, _ = build(app_env, {"requirements.txt": "", "manage.py": "raise SystemExit(3)\n"})
    assert built.code == 0, built.log
    assert "collectstatic" not in built.out
    assert "django_collectstatic" not in app_env.report()


def test_django_without_manage_py_skips(app_env: ClassicPlatform) -> None:
    built, _ = build(app_env, {"requirements.txt": "django\n"})
    assert built.code == 0, built.log
    assert "Skipping Django collectstatic: no manage.py found" in built.out
    assert app_env.report()["django_collectstatic"] == "skipped-no-manage-py"


def test_nested_manage_py_is_found(app_env: ClassicPlatform) -> None:
    built, _ = build(app_env, {"requirements.txt": "django\n", "backend/manage.py": MANAGE_PY})
    assert built.code == 0, built.log
    assert "$ python backend/manage.py collectstatic --noinput" in built.out
    info = ran(app_env)
    assert info is not None and info["argv"][0] == "backend/manage.py"  # type: ignore[index]


@pytest.mark.parametrize(
    ("files", "python_says", "expected"),
    [
        ({"django/__init__.py": ""}, None, True),  # a package: known without Python
        ({"django.py": ""}, True, True),  # anything else: Python's answer
        ({"django/models.py": ""}, False, False),  # no __init__: Python decides
        ({}, True, True),  # e.g. found through PYTHONPATH or a .pth file
        ({}, False, False),
    ],
)
def test_django_installed_asks_python_unless_site_packages_has_the_package(
    tmp_path: Path, files: dict[str, str], python_says: bool | None, expected: bool
) -> None:
    """``python_says``: what the runtime's Python would answer (None: it must not be asked,
    it is a python3 that fails every run)."""
    site = tmp_path / "site-packages"
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    python = tmp_path / "python3"
    answer = {True: "exit 0", False: "exit 1", None: "echo asked >&2; exit 99"}[python_says]
    python.write_text(f"#!/bin/sh\n{answer}\n")
    python.chmod(0o755)
    assert django.django_installed(python, {}, tmp_path, site) is expected
    if python_says is not None:  # without site-packages, Python alone answers
        assert django.django_installed(python, {}, tmp_path) is python_says


def test_find_manage_py_rules(tmp_path: Path) -> None:
    for rel in ("b/c/manage.py", "a/manage.py", "z/manage.py", "d/e/f/manage.py"):
        make_app(tmp_path, {rel: ""})
    assert django.find_manage_py(tmp_path) == "a/manage.py"  # shallowest, then by name
    (tmp_path / "manage.py").symlink_to(tmp_path / "a" / "manage.py")
    assert django.find_manage_py(tmp_path) == "a/manage.py"  # a link is not a file
    deep = tmp_path / "deep"
    make_app(deep, {"x/y/z/manage.py": ""})
    assert django.find_manage_py(deep) is None  # four levels down: too deep
    make_app(deep, {"x/y/manage.py": ""})
    assert django.find_manage_py(deep) == "x/y/manage.py"


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        ("  File 'x.py'\nSyntaxError: invalid syntax", "syntax-error"),
        ("ImproperlyConfigured: STATIC_ROOT", "improper-configuration"),
        ("The CSS file 'a.css' references a file which could not be found", "fancy-references"),
        ("OSError: [Errno 2] No such file or directory", "missing-file"),
        ("ValueError: boom", "other"),
    ],
)
def test_failure_kinds(output: str, kind: str) -> None:
    assert django.failure_kind(output) == kind


# --------------------------------------------------------------------------- test-compile


def test_test_compile_installs_test_requirements_without_collectstatic(
    app_env: ClassicPlatform,
) -> None:
    files = {**DJANGO_APP, "requirements-test.txt": "testdep\n"}
    built, build_dir = build(app_env, files, {"FAIL_WITH": "would fail"}, test=True)
    assert built.code == 0, built.log
    assert "DISABLE_COLLECTSTATIC is set" in built.out
    [site] = sorted((build_dir / ".heroku" / "python").glob("lib/python3.*/site-packages"))
    assert (site / "testdep.py").is_file()
    # a normal build of the same app installs no test requirements
    built, build_dir = build(app_env, {**files, "manage.py": "print('ok')\n"})
    assert built.code == 0, built.log
    [site] = sorted((build_dir / ".heroku" / "python").glob("lib/python3.*/site-packages"))
    assert not (site / "testdep.py").exists()


def test_test_compile_commands_per_package_manager() -> None:
    from pybuildpack.buildpack.deps import PackageManager, dependency_command

    tool, py, home, cache = Path("/t/tool"), Path("/p"), Path("/h"), Path("/c")
    uv = dependency_command(PackageManager.UV, tool, py, home, cache, test=True)
    assert "--no-default-groups" not in uv
    poetry = dependency_command(PackageManager.POETRY, tool, py, home, cache, test=True)
    assert "--only" not in poetry
    assert dependency_command(PackageManager.PIPENV, tool, py, home, cache, test=True)[-1] == (
        "--dev"
    )


def test_bin_test_compile_shim(tmp_path: Path) -> None:
    shim = REPO / "bin" / "test-compile"
    assert os.access(shim, os.X_OK)
    env = {**os.environ, "PYBUILDPACK_PYTHON": sys.executable}
    p = subprocess.run([str(shim)], capture_output=True, text=True, env=env)
    assert p.returncode == 2
    assert "bin/test-compile needs 3 directory arguments" in p.stderr


# --------------------------------------------------------------------------- WEB_CONCURRENCY


def concurrency(tmp_path: Path, files: dict[str, str], cpus: int, preset: str | None = None) -> str:
    cg = tmp_path / "cgroup"
    make_app(cg, files)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir(exist_ok=True)
    (fake_bin / "nproc").write_text(f"#!/bin/sh\necho {cpus}\n")
    (fake_bin / "nproc").chmod(0o755)
    script = tmp_path / "wc.sh"
    script.write_text(WEB_CONCURRENCY_SCRIPT)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "PYBUILDPACK_CGROUP_DIR": str(cg), "DYNO": "web.1"}
    if preset is not None:
        env["WEB_CONCURRENCY"] = preset
    p = subprocess.run(
        ["sh", "-c", f'. "{script}"; echo "${{WEB_CONCURRENCY-unset}} ${{DYNO_RAM-unset}}"'],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return p.stdout.strip()


def test_web_concurrency_defaults(tmp_path: Path) -> None:
    mb = 1048576
    assert concurrency(tmp_path / "a", {"memory.max": f"{512 * mb}\n"}, 8) == "2 512"
    assert concurrency(tmp_path / "b", {"memory.max": f"{4096 * mb}\n"}, 2) == "5 4096"
    assert concurrency(tmp_path / "c", {"memory.max": f"{100 * mb}\n"}, 4) == "1 100"
    v1 = {"memory/memory.limit_in_bytes": f"{1024 * mb}\n"}
    assert concurrency(tmp_path / "d", v1, 8) == "4 1024"
    assert concurrency(tmp_path / "e", {"memory.max": "max\n"}, 8) == "unset unset"
    huge = {"memory/memory.limit_in_bytes": "9223372036854771712\n"}  # v1 without a limit
    assert concurrency(tmp_path / "f", huge, 8) == "unset unset"
    assert concurrency(tmp_path / "g", {"memory.max": f"{512 * mb}\n"}, 8, "7") == "7 512"


def test_build_writes_the_web_concurrency_script(app_env: ClassicPlatform) -> None:
    built, build_dir = build(app_env, {"requirements.txt": ""})
    assert built.code == 0, built.log
    script = build_dir / ".profile.d" / "python-web-concurrency.sh"
    assert script.read_text() == WEB_CONCURRENCY_SCRIPT


# --------------------------------------------------------------------------- fir (CNB)


def fir_build(lifecycle: Callable[..., Lifecycle], tmp_path: Path, files: dict[str, str],
              **user_env: str) -> tuple[Built, Lifecycle]:  # fmt: skip
    house = tmp_path / "fir-wheels"
    house.mkdir(exist_ok=True)
    wheel(house, "django")
    series = local_series()
    if not series:
        pytest.skip("needs a local CPython (pyenv) for the fake installer")
    lc = lifecycle({**files, ".python-version": f"{series[-1]}\n"})
    lc.user_env(PIP_FIND_LINKS=f"{house} {lc.env('build').get('PIP_FIND_LINKS', '')}".strip(),
                RAN=str(tmp_path / "ran.json"), **user_env)  # fmt: skip
    return lc.build(), lc


def test_fir_runs_collectstatic_with_the_venvs_django(
    lifecycle: Callable[..., Lifecycle], tmp_path: Path
) -> None:
    built, lc = fir_build(lifecycle, tmp_path, DJANGO_APP, MY_CONFIG="from-platform")
    assert built.code == 0, built.log
    assert "$ python manage.py collectstatic --noinput" in built.out
    info = json.loads((tmp_path / "ran.json").read_text())
    assert info["argv"] == ["manage.py", "collectstatic", "--noinput", "--traceback"]
    assert info["config"] == "from-platform" and info["cwd"] == str(lc.app.resolve())


def test_fir_collectstatic_opt_out(lifecycle: Callable[..., Lifecycle], tmp_path: Path) -> None:
    built, _ = fir_build(lifecycle, tmp_path, DJANGO_APP, DISABLE_COLLECTSTATIC="1")
    assert built.code == 0, built.log
    assert "Skipping Django collectstatic: DISABLE_COLLECTSTATIC is set" in built.out
    assert not (tmp_path / "ran.json").exists()


def test_fir_collectstatic_failure_fails_the_build(
    lifecycle: Callable[..., Lifecycle], tmp_path: Path
) -> None:
    built, _ = fir_build(lifecycle, tmp_path, DJANGO_APP, FAIL_WITH="ImproperlyConfigured: x")
    assert built.code == 1
    assert "[collectstatic::failed]" in built.err and "ImproperlyConfigured: x" in built.err
