"""pip (and setuptools where pinned) at exactly the versions in ``data/tools.json``
(issue 10, item 7), in both generations; offline through PIP_NO_INDEX + PIP_FIND_LINKS,
also as config vars; a runtime without pip is bootstrapped with ``ensurepip``."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bp_support import (
    ClassicPlatform,
    FakeInstaller,
    Lifecycle,
    local_cpython,
    local_series,
    write_catalog,
)

from pybuildpack.buildpack import deps
from pybuildpack.buildpack.layers import read_metadata
from pybuildpack.version import PythonVersion

REQS = {"requirements.txt": ""}
PINS = deps.TOOLS


def runtime_site(build_dir: Path) -> Path:
    [site] = sorted((build_dir / ".heroku" / "python").glob("lib/python3.*/site-packages"))
    return site


def dists(site: Path, name: str) -> list[str]:
    return sorted(p.name for p in site.glob(f"{name}-*.dist-info"))


# --------------------------------------------------------------------------- data


def test_pins_are_data() -> None:
    assert PINS.pip and PINS.setuptools
    assert PINS.pip_requirements(PythonVersion(3, 12, 8)) == {
        "pip": PINS.pip,
        "setuptools": PINS.setuptools,
    }
    assert PINS.pip_requirements(PythonVersion(3, 13, 1)) == {"pip": PINS.pip}
    assert deps.TOOL_VERSIONS[deps.PackageManager.UV] == PINS.managers[deps.PackageManager.UV]


@pytest.mark.parametrize(
    "text",
    [
        '{"schema_version": 2}',
        '{"schema_version": 1, "pip": "", "setuptools": {"version": "1"}, "uv": "1",'
        ' "poetry": "1", "pipenv": "1"}',
        '{"schema_version": 1, "pip": "1", "setuptools": "70", "uv": "1", "poetry": "1",'
        ' "pipenv": "1"}',
    ],
)
def test_malformed_pins_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"data/tools\.json"):
        deps.load_tool_pins(text)


def fake_runtime(root: Path, bundled: dict[str, str], installed_pip: str | None) -> Path:
    lib = root / "lib" / "python3.12"
    (lib / "ensurepip" / "_bundled").mkdir(parents=True)
    for name, version in bundled.items():
        (lib / "ensurepip" / "_bundled" / f"{name}-{version}-py3-none-any.whl").write_bytes(b"")
    (lib / "site-packages").mkdir()
    if installed_pip:
        (lib / "site-packages" / f"pip-{installed_pip}.dist-info").mkdir()
    return root


def test_pin_command_is_offline_only_with_the_pinned_bundled_wheels(tmp_path: Path) -> None:
    v = PythonVersion(3, 12, 8)
    wanted = {"pip": "26.3", "setuptools": "70.3.0"}
    python = Path("/rt/bin/python3")
    home = fake_runtime(tmp_path / "a", {"pip": "26.3", "setuptools": "70.3.0"}, None)
    cmd = deps.pip_pin_command(python, home, v, wanted)
    assert "--no-index" in cmd and cmd[-1].endswith("setuptools-70.3.0-py3-none-any.whl")
    home = fake_runtime(tmp_path / "b", {"pip": "23.2.1"}, None)
    cmd = deps.pip_pin_command(python, home, v, wanted, user=True)
    assert cmd[1].endswith("pip-23.2.1-py3-none-any.whl/pip")
    assert cmd[-2:] == ["pip==26.3", "setuptools==70.3.0"]
    assert "--no-index" not in cmd and "--isolated" not in cmd  # PIP_* settings apply
    assert "--user" in cmd and "--ignore-installed" in cmd
    home = fake_runtime(tmp_path / "c", {}, "23.2.1")  # no bundled wheel: its own pip
    assert deps.pip_pin_command(python, home, v, wanted)[1:3] == ["-m", "pip"]
    home = fake_runtime(tmp_path / "d", {}, None)
    with pytest.raises(deps.BundledPipNotFound):
        deps.pip_pin_command(python, home, v, wanted)


# --------------------------------------------------------------------------- classic


@pytest.fixture
def platform(platform: ClassicPlatform) -> ClassicPlatform:
    """Runtimes with their own pip (not the pinned one): the pip step runs for real, with
    pip (where uv installs the dependencies, uv installs pip: test_bp_uv_pip)."""
    platform.installer.seed_tools = False
    platform.env["PYBUILDPACK_INSTALLER"] = "pip"
    return platform


def test_classic_installs_exactly_the_pinned_pip(platform: ClassicPlatform) -> None:
    built, build_dir = platform.compile(REQS)  # the default major: no setuptools
    assert built.code == 0, built.log
    assert f"Installing pip {PINS.pip}\n" in built.out
    site = runtime_site(build_dir)
    assert dists(site, "pip") == [f"pip-{PINS.pip}.dist-info"]
    assert dists(site, "setuptools") == []
    report = platform.report()
    assert report["pip_version"] == PINS.pip and "setuptools_version" not in report

    built, build_dir = platform.compile(REQS)  # a cached runtime has them: nothing runs
    assert built.code == 0, built.log
    assert f"Using cached pip {PINS.pip}" in built.out
    assert "Installing pip" not in built.out


def test_classic_older_majors_also_get_the_pinned_setuptools(platform: ClassicPlatform) -> None:
    series = next((s for s in local_series() if s in PINS.setuptools_majors), None)
    if series is None:
        pytest.skip("no local CPython of a major that gets setuptools")
    built, build_dir = platform.compile({**REQS, ".python-version": f"{series}\n"})
    assert built.code == 0, built.log
    assert f"Installing pip {PINS.pip}, setuptools {PINS.setuptools}" in built.out
    site = runtime_site(build_dir)
    assert dists(site, "setuptools") == [f"setuptools-{PINS.setuptools}.dist-info"]
    assert platform.report()["setuptools_version"] == PINS.setuptools


def test_classic_offline_through_config_vars(platform: ClassicPlatform) -> None:
    house = platform.env["PIP_FIND_LINKS"]
    environ = {k: v for k, v in platform.env.items() if not k.startswith("PIP_")}
    environ["PIP_CONFIG_FILE"] = platform.env["PIP_CONFIG_FILE"]
    # Neither the index nor a wheel folder: the pinned pip cannot be found, a typed error.
    config = {"PIP_NO_INDEX": "1"}
    platform.env = environ
    built, _ = platform.compile_with_config(REQS, config)
    assert built.code == 1
    assert "[install-package-manager]" in built.err
    assert platform.report()["failure_reason"] == "install-package-manager"
    # The app's config vars point pip at a wheel folder: the build works offline.
    built, build_dir = platform.compile_with_config(REQS, {**config, "PIP_FIND_LINKS": house})
    assert built.code == 0, built.log
    assert dists(runtime_site(build_dir), "pip") == [f"pip-{PINS.pip}.dist-info"]


@dataclasses.dataclass
class HerokuLayoutInstaller(FakeInstaller):
    """A runtime with ``ensurepip`` and its bundled wheels but no pip installed."""

    seed_tools: bool = False

    def __call__(self, version: PythonVersion, dest: Path, **kwargs: Any) -> Any:
        result = super().__call__(version, dest, **kwargs)
        site = dest / "lib" / f"python{version.series}" / "site-packages"
        for p in site.glob("pip*"):
            shutil.rmtree(p)
        for p in (dest / "bin").glob("pip*"):
            p.unlink()
        return result


def test_classic_bootstraps_a_runtime_without_pip_with_ensurepip(
    platform: ClassicPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    series = local_series()[-1]
    base = local_cpython(series)
    assert base is not None
    bundled = deps.wheel_version(deps.bundled_pip(base, PythonVersion.parse(base.name)))
    # Pin pip to the runtime's bundled version (no setuptools): the offline fast path.
    monkeypatch.setattr(
        deps, "TOOLS", dataclasses.replace(PINS, pip=bundled, setuptools_majors=frozenset())
    )
    ran: list[list[str]] = []
    real_run = deps.run

    def spy(cmd: list[str], **kw: Any) -> tuple[int, list[str]]:
        ran.append(list(cmd))
        return real_run(cmd, **kw)

    monkeypatch.setattr(deps, "run", spy)
    platform.env = {k: v for k, v in platform.env.items() if k != "PIP_FIND_LINKS"}  # no wheels
    platform.installer = HerokuLayoutInstaller()
    built, build_dir = platform.compile(REQS)
    assert built.code == 0, built.log
    assert any(c[1:3] == ["-m", "ensurepip"] for c in ran), ran
    assert dists(runtime_site(build_dir), "pip") == [f"pip-{bundled}.dist-info"]


# --------------------------------------------------------------------------- CNB


def test_cnb_pip_layer_holds_exactly_the_pinned_pip(
    lifecycle: Callable[..., Lifecycle],
) -> None:
    if len(local_series()) < 2:
        pytest.skip("needs two local CPython majors (pyenv) for the fake installer")
    lc = lifecycle({**REQS, ".python-version": f"{local_series()[0]}\n"})
    assert lc.installer is not None
    lc.installer.seed_tools = False
    lc.extra_env["PYBUILDPACK_CATALOG"] = str(
        write_catalog(lc.tmp / "catalog.json", local_series()[-1])
    )
    built = lc.build()
    assert built.code == 0, built.log
    meta = read_metadata(lc.layers, "pip")
    assert meta is not None and meta["pip_version"] == PINS.pip
    [site] = sorted((lc.layers / "pip").glob("lib/python3.*/site-packages"))
    assert dists(site, "pip") == [f"pip-{PINS.pip}.dist-info"]
    lc.restore()
    built = lc.build()
    assert built.code == 0, built.log
    assert f"Using cached pip {PINS.pip}" in built.out
