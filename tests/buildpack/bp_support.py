"""Fixtures for the buildpack interface tests.

Most tests run the real classic/CNB code in-process with a *fake installer*: it makes the
"runtime" a virtual environment of a local CPython of the requested major (so pip really
installs into it) and counts its calls. The end-to-end tests use the real provisioning
layer against a loopback archive source instead.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pybuildpack.buildpack import classic, cnb
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.catalog import bundled_catalog_text
from pybuildpack.version import PythonVersion

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"


def tool_wheelhouse() -> Path | None:
    """A folder holding the pinned pip and setuptools wheels (``data/tools.json``), which the
    builds install from ``PIP_FIND_LINKS`` in these offline tests: the test wheelhouse
    (``PYBUILDPACK_TEST_WHEELHOUSE``, default ``<repo>/.cache/wheelhouse``; scripts/test
    downloads them). None when it lacks them."""
    from pybuildpack.buildpack.deps import TOOLS

    path = Path(os.environ.get("PYBUILDPACK_TEST_WHEELHOUSE") or REPO / ".cache" / "wheelhouse")
    for name, version in (("pip", TOOLS.pip), ("setuptools", TOOLS.setuptools)):
        if not list(path.glob(f"{name}-{version}-*.whl")):
            return None
    return path


def need_tool_wheelhouse() -> Path:
    house = tool_wheelhouse()
    if house is None:
        from pybuildpack.buildpack.deps import TOOLS

        pytest.skip(
            f"no pip {TOOLS.pip} / setuptools {TOOLS.setuptools} wheels in the test wheelhouse "
            f"(pip download --no-deps -d .cache/wheelhouse pip=={TOOLS.pip} "
            f"setuptools=={TOOLS.setuptools}; scripts/test does)"
        )
    return house


def local_cpython(series: str) -> Path | None:
    """A local CPython install (pyenv layout) of ``series`` (e.g. "3.12"), if any."""
    if not PYENV.is_dir():
        return None
    for d in sorted(PYENV.iterdir(), reverse=True):
        if (
            d.name.startswith(series + ".")
            and d.name.count(".") == 2
            and (d / "bin" / "python3").exists()
        ):
            return d
    return None


def local_series() -> list[str]:
    found = []
    for s in ("3.10", "3.11", "3.12", "3.13"):
        if local_cpython(s) is not None:
            found.append(s)
    return found


def copy_runtime(base: Path, dest: Path, version: PythonVersion) -> None:
    """Hard-link a local CPython install to ``dest``, without its third-party packages and
    its test suite (pip stays: the pyenv build has it where a runtime archive has none)."""
    lib = f"lib/python{version.series}"
    skip = {base / lib / "test", base / lib / "idlelib", base / lib / "tkinter"}
    site = base / lib / "site-packages"
    for dirpath, dirnames, filenames in os.walk(base):
        d = Path(dirpath)
        rel = d.relative_to(base)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        keep = []
        for name in dirnames:
            full = d / name
            if full in skip:
                continue
            if d == site and not (name == "pip" or name.startswith("pip-")):
                continue
            if full.is_symlink():
                os.symlink(os.readlink(full), dest / rel / name)
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            full = d / name
            if d == site:
                continue
            if full.is_symlink():
                os.symlink(os.readlink(full), dest / rel / name)
            else:
                os.link(full, dest / rel / name)


_UNPACKED: dict[str, Path] = {}


def unpacked_wheel(wheel: Path) -> Path:
    """``wheel`` unzipped once per test session (what an install puts in site-packages,
    minus scripts): a pure-Python wheel is the same for every runtime."""
    import tempfile
    import zipfile

    if wheel.name not in _UNPACKED:
        target = Path(tempfile.mkdtemp(prefix="pybuildpack-wheel-"))
        with zipfile.ZipFile(wheel) as z:
            z.extractall(target)
        _UNPACKED[wheel.name] = target
    return _UNPACKED[wheel.name]


def seed_pinned_tools(dest: Path, version: PythonVersion) -> None:
    """Make the runtime at ``dest`` carry the pinned pip (and setuptools where pinned)
    instead of its own, as an archive built with them would: the builds then find them
    installed and skip the pip step (tests/buildpack/test_bp_tools.py runs it for real)."""
    from pybuildpack.buildpack.deps import TOOLS

    site = dest / "lib" / f"python{version.series}" / "site-packages"
    for p in list(site.glob("pip*")):
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    house = need_tool_wheelhouse()
    for name, pinned in TOOLS.pip_requirements(version).items():
        [wheel] = sorted(house.glob(f"{name}-{pinned}-*.whl"))[-1:]
        shutil.copytree(unpacked_wheel(wheel), site, dirs_exist_ok=True, copy_function=os.link)


@dataclass
class FakeInstaller:
    """Same signature as ``provision.api.install_python``; copies a local CPython of the
    requested major (whatever the patch) and counts its calls. With ``seed_tools`` (the
    default) the runtime carries the pinned pip/setuptools already (``seed_pinned_tools``)."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    seed_tools: bool = True

    def __call__(self, version: PythonVersion, dest: Path, **kwargs: Any) -> Any:
        self.calls.append({"version": str(version), "dest": str(dest), **kwargs})
        base = local_cpython(str(version.series))
        if base is None:
            pytest.skip(f"no local CPython {version.series} for the fake installer")
        copy_runtime(base, dest, version)
        if self.seed_tools:
            seed_pinned_tools(dest, version)
        (dest / "RUNTIME").write_text(f"{version}\n")

        class Result:
            url = "fake://"
            bytes = 0
            seconds = 0.0
            cache_hit = False

        return Result()


def pbs_patches(series: str, arch: str = "amd64") -> list[PythonVersion]:
    """The patches of ``series`` the bundled download metadata lists for the pbs source
    (what the builds resolve against by default), oldest first."""
    from pybuildpack.catalog import source_builds
    from pybuildpack.provision.sources import load_downloads

    builds = source_builds(load_downloads(REPO / "src/pybuildpack/data/downloads.json"), "pbs")
    assert builds is not None
    return sorted(v for v in builds.versions(arch) if str(v.series) == series)


def write_downloads(path: Path, drop: Callable[[dict[str, Any]], bool]) -> Path:
    """The bundled download metadata without the pbs archives ``drop`` selects."""
    data = json.loads((REPO / "src/pybuildpack/data/downloads.json").read_text())
    pbs = data["sources"]["pbs"]
    pbs["archives"] = [a for a in pbs["archives"] if not drop(a)]
    path.write_text(json.dumps(data))
    return path


def write_catalog(path: Path, default: str, stacks: Mapping[str, list[str]] | None = None) -> Path:
    data = json.loads(bundled_catalog_text())
    data["policy"]["default_major"] = default
    path.write_text(json.dumps(data))
    return path


@dataclass
class Built:
    code: int
    out: str
    err: str

    @property
    def log(self) -> str:
        return self.out + self.err


def make_app(root: Path, files: Mapping[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@dataclass
class ClassicPlatform:
    """A Heroku-style platform: fresh BUILD_DIR per build, persistent CACHE_DIR."""

    tmp: Path
    env: dict[str, str]
    installer: FakeInstaller
    builds: int = 0

    @property
    def cache_dir(self) -> Path:
        return self.tmp / "cache"

    def compile(self, files: Mapping[str, str], **env: str) -> tuple[Built, Path]:
        return self.compile_with_config(files, None, **env)

    def compile_with_config(
        self,
        files: Mapping[str, str],
        config: Mapping[str, str] | None,
        *,
        test: bool = False,
        **env: str,
    ) -> tuple[Built, Path]:
        """A build of ``files``; with ``config``, its ENV_DIR holds those config vars;
        ``test``: ``bin/test-compile``."""
        self.builds += 1
        build_dir = make_app(self.tmp / f"build_{self.builds}", files)
        env_dir = None
        if config is not None:
            env_dir = self.tmp / f"env_{self.builds}"
            env_dir.mkdir()
            for name, value in config.items():
                (env_dir / name).write_text(value)
        out, err = io.StringIO(), io.StringIO()
        code = classic.compile(
            build_dir,
            self.cache_dir,
            env_dir,
            environ={**self.env, **env},
            installer=self.installer,
            log=BuildLog(out=out, err=err),
            test=test,
        )
        return Built(code, out.getvalue(), err.getvalue()), build_dir

    def report(self) -> dict[str, Any]:
        return json.loads((self.cache_dir / "build-data" / "python.json").read_text())


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYBUILDPACK_"))}
    (tmp / "app-home").mkdir(exist_ok=True)
    env.update(
        STACK="heroku-24",
        PYBUILDPACK_APP_HOME=str(tmp / "app-home"),
        PYBUILDPACK_EXPORT_FILE=str(tmp / "export"),
        PYBUILDPACK_ARCH="amd64",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(need_tool_wheelhouse()),
        PIP_CONFIG_FILE=os.devnull,
        NO_COLOR="1",
        # The shims would otherwise look for (or make) a venv with pybuildpack's deps;
        # the interpreter running the tests has them, and a clean checkout has no .venv.
        PYBUILDPACK_PYTHON=sys.executable,
    )
    return env


@pytest.fixture
def platform(tmp_path: Path) -> ClassicPlatform:
    if len(local_series()) < 2:
        pytest.skip("needs two local CPython majors (pyenv) for the fake installer")
    env = base_env(tmp_path)
    env["PYBUILDPACK_CATALOG"] = str(write_catalog(tmp_path / "catalog.json", local_series()[-1]))
    return ClassicPlatform(tmp_path, env, FakeInstaller())


# --------------------------------------------------------------------------- CNB harness

LAYER_TYPES = ("build", "launch", "cache")
ENV_SUFFIXES = ("override", "default", "prepend", "append", "delim")


@dataclass
class Lifecycle:
    """Drives bin/detect and bin/build the way the CNB lifecycle does (Buildpack API 0.10).

    * detect: cwd = app, env CNB_BUILDPACK_DIR, CNB_PLATFORM_DIR, CNB_BUILD_PLAN_PATH,
      CNB_TARGET_*, plus the user's env from <platform>/env/ (clear-env = false);
    * build: cwd = app, env CNB_LAYERS_DIR, CNB_PLATFORM_DIR, CNB_BP_PLAN_PATH, ...;
    * between builds (``restore``): each <layer>.toml loses its [types]; cache layers keep
      their directory, launch-only layers keep only the metadata, other layers go.
    """

    tmp: Path
    app: Path
    installer: FakeInstaller | None = None
    target: tuple[str, str, str] = ("amd64", "ubuntu", "24.04")
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.layers = self.tmp / "layers" / "pybuildpack_python"
        self.platform = self.tmp / "platform"
        (self.platform / "env").mkdir(parents=True, exist_ok=True)
        self.layers.mkdir(parents=True, exist_ok=True)

    def user_env(self, **values: str) -> None:
        for k, v in values.items():
            (self.platform / "env" / k).write_text(v)

    def env(self, phase: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYBUILDPACK_"))}
        env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, NO_COLOR="1")
        env["PIP_FIND_LINKS"] = str(need_tool_wheelhouse())
        env["PYBUILDPACK_PYTHON"] = sys.executable
        env.update(self.extra_env)
        for f in (self.platform / "env").iterdir():
            env[f.name] = f.read_text()
        arch, distro, version = self.target
        env.update(
            CNB_BUILDPACK_DIR=str(REPO),
            CNB_PLATFORM_DIR=str(self.platform),
            CNB_TARGET_OS="linux",
            CNB_TARGET_ARCH=arch,
            CNB_TARGET_DISTRO_NAME=distro,
            CNB_TARGET_DISTRO_VERSION=version,
        )
        if phase == "detect":
            env["CNB_BUILD_PLAN_PATH"] = str(self.tmp / "plan.toml")
        else:
            plan = self.tmp / "bp-plan.toml"
            plan.write_text("")
            env.update(CNB_LAYERS_DIR=str(self.layers), CNB_BP_PLAN_PATH=str(plan))
        return env

    def detect(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(REPO / "bin" / "detect")], cwd=self.app, env=self.env("detect"),
            capture_output=True, text=True,
        )  # fmt: skip

    def build(self) -> Built:
        env = self.env("build")
        if self.installer is not None:
            out, err = io.StringIO(), io.StringIO()
            cwd = os.getcwd()
            code = cnb.build(self.app, environ=env, installer=self.installer,
                             log=BuildLog(out=out, err=err))  # fmt: skip
            assert os.getcwd() == cwd
            built = Built(code, out.getvalue(), err.getvalue())
        else:
            p = subprocess.run([str(REPO / "bin" / "build")], cwd=self.app, env=env,
                               capture_output=True, text=True)  # fmt: skip
            built = Built(p.returncode, p.stdout, p.stderr)
        if built.code == 0:
            check_layers_dir(self.layers)
        return built

    def restore(self) -> None:
        """What the lifecycle leaves for the next build (analyze + restore phases)."""
        for toml_path in sorted(self.layers.glob("*.toml")):
            if toml_path.name in ("launch.toml", "build.toml", "store.toml"):
                toml_path.unlink()
                continue
            doc = tomllib.loads(toml_path.read_text())
            types = doc.get("types", {})
            layer = toml_path.with_suffix("")
            metadata = {"metadata": doc.get("metadata", {})}
            if types.get("cache"):
                toml_path.write_text(dump_metadata(metadata))  # dir kept, [types] dropped
            elif types.get("launch"):
                shutil.rmtree(layer, ignore_errors=True)  # from the image: metadata only
                toml_path.write_text(dump_metadata(metadata))
            else:
                shutil.rmtree(layer, ignore_errors=True)
                toml_path.unlink()
        for d in self.layers.iterdir():
            if d.is_dir() and not d.with_suffix(".toml").exists():
                shutil.rmtree(d)  # a directory without a toml is never kept


def dump_metadata(doc: dict[str, Any]) -> str:
    lines = ["[metadata]"]
    for k, v in doc["metadata"].items():
        lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n"


def check_layers_dir(layers: Path) -> None:
    """The layers directory as the Buildpack API 0.10 spec allows it to be after build."""
    allowed_top = {"launch.toml", "build.toml", "store.toml"}
    for entry in layers.iterdir():
        if entry.is_dir():
            toml_path = layers / f"{entry.name}.toml"
            assert toml_path.is_file(), f"layer {entry.name} has no {entry.name}.toml"
            continue
        if entry.name in allowed_top or entry.name.endswith(".sbom.cdx.json"):
            continue
        assert entry.suffix == ".toml", f"unexpected file in layers dir: {entry.name}"
        doc = tomllib.loads(entry.read_text())
        assert set(doc) <= {"types", "metadata"}, f"{entry.name}: unexpected tables {set(doc)}"
        types = doc.get("types", {})
        assert set(types) <= set(LAYER_TYPES), f"{entry.name}: unexpected types {types}"
        assert all(isinstance(v, bool) for v in types.values())
        layer = entry.with_suffix("")
        for scope in ("env", "env.build", "env.launch"):
            d = layer / scope
            if not d.is_dir():
                continue
            for f in d.iterdir():
                assert f.is_file(), f"{f}: env entries are files"
                name, _, suffix = f.name.partition(".")
                assert name.isidentifier(), f"{f.name}: not an env var name"
                assert suffix in ENV_SUFFIXES, f"{f.name}: suffix {suffix!r} is not in the spec"
                if suffix == "delim":
                    assert any(
                        g.name.startswith(name + ".") and g.name != f.name for g in d.iterdir()
                    ), f"{f.name} delimits nothing"


@pytest.fixture
def lifecycle(tmp_path: Path) -> Callable[..., Lifecycle]:
    def make(files: Mapping[str, str], *, fake: bool = True, **kw: Any) -> Lifecycle:
        app = make_app(tmp_path / "workspace", files)
        return Lifecycle(tmp_path, app, FakeInstaller() if fake else None, **kw)

    return make
