"""The Cloud Native Buildpack interface (fir): ``bin/detect`` and ``bin/build``, API 0.10.

detect: exit 0 when the app looks like a Python project, 100 otherwise (no build plan).
build: the ``python`` layer, then the package manager and dependency layers. Version rules
are the fir generation's: ``.python-version`` or the default, no sticky versions (there is no
cache of *versions*; only layers are reused), ``runtime.txt`` is an error, no Pipenv.
The target comes from ``CNB_TARGET_ARCH`` / ``CNB_TARGET_DISTRO_NAME`` /
``CNB_TARGET_DISTRO_VERSION``.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Mapping
from pathlib import Path

from pybuildpack.app import resolve_app
from pybuildpack.buildpack import checks, deps, django
from pybuildpack.buildpack import env as envmod
from pybuildpack.buildpack.build_data import BuildData
from pybuildpack.buildpack.layers import Target
from pybuildpack.buildpack.layers import dependencies as dep_layers
from pybuildpack.buildpack.layers import python as python_layer
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.buildpack.runtime import Installer, build_source_builds
from pybuildpack.catalog import Catalog, load_catalog
from pybuildpack.errors import (
    BuildpackInvocationInvalid,
    PyBuildpackError,
    PythonVersionNotSpecified,
)
from pybuildpack.host import host_arch
from pybuildpack.version import Generation, Origin

DETECT_PASS = 0
DETECT_FAIL = 100


def detect(app_dir: Path, log: BuildLog | None = None) -> int:
    log = log or BuildLog()
    if checks.detect(app_dir) is not None:
        return DETECT_PASS
    print(
        "No Python project files found (such as requirements.txt, poetry.lock or uv.lock).",
        file=log.err,
    )
    return DETECT_FAIL


def target_from_env(environ: Mapping[str, str]) -> Target:
    return Target(
        arch=environ.get("CNB_TARGET_ARCH") or host_arch(environ),
        distro_name=environ.get("CNB_TARGET_DISTRO_NAME") or "unknown",
        distro_version=environ.get("CNB_TARGET_DISTRO_VERSION") or "unknown",
    )


def stack_for(catalog: Catalog, target: Target) -> str | None:
    """The catalog stack whose distro matches the target (archives are per stack)."""
    for name, info in catalog.stacks.items():
        if (info.distro, info.distro_version) == (target.distro_name, target.distro_version):
            return name
    return None


def build(
    app_dir: Path,
    *,
    environ: Mapping[str, str] | None = None,
    installer: Installer | None = None,
    log: BuildLog | None = None,
) -> int:
    environ = dict(os.environ if environ is None else environ)
    log = log or BuildLog()
    try:
        _build(app_dir.resolve(), environ, installer, log)
    except PyBuildpackError as err:
        log.error(err)
        return 1
    except Exception as exc:
        if environ.get("PYBUILDPACK_DEBUG"):
            traceback.print_exc()
        log.internal_error(exc)
        return 1
    return 0


def _build(
    app_dir: Path, environ: dict[str, str], installer: Installer | None, log: BuildLog
) -> None:
    layers = environ.get("CNB_LAYERS_DIR")
    if not layers:
        raise BuildpackInvocationInvalid(detail="CNB_LAYERS_DIR is not set (Buildpack API 0.10).")
    layers_dir = Path(layers)
    checks.check_unsafe_env(environ)
    pm = deps.detect_package_manager(app_dir, Generation.FIR)

    log.step("Determining Python version")
    catalog = load_catalog(environ.get("PYBUILDPACK_CATALOG") or None)
    target = target_from_env(environ)
    stack = stack_for(catalog, target)
    resolution = resolve_app(
        app_dir,
        catalog,
        generation=Generation.FIR,
        stack=stack,
        arch=target.arch,
        builds=build_source_builds(environ, catalog),
    )
    requested, version = resolution.requested, resolution.version  # uv rule: in resolve_app
    if requested.origin is Origin.DEFAULT:
        log.info(
            f"No Python version specified, using the current default of Python {requested}.\n"
            f"We recommend setting an explicit version: create .python-version with {requested}."
        )
    else:
        log.info(f"Using Python version {requested} specified in {requested.origin.value}")
    for w in resolution.warnings:
        if not isinstance(w, PythonVersionNotSpecified):
            log.warning(w)

    log.step("Installing Python")
    home, _status = python_layer.contribute(
        layers_dir, version, target, stack=stack, log=log, installer=installer, settings=environ
    )
    base = {k: v for k, v in environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env = envmod.build_env(base, home, version)
    env["PIP_ROOT_USER_ACTION"] = "ignore"
    env = dep_layers.install(
        pm,
        layers_dir=layers_dir,
        python_layer=home,
        version=version,
        target=target,
        app_dir=app_dir,
        env=env,
        log=log,
    )

    # Django's static files, as on classic (the app's packages are in the venv layer)
    venv = env.get("VIRTUAL_ENV")
    python = Path(venv) / "bin" / "python" if venv else home / "bin" / "python3"
    django.collectstatic(app_dir, python, env, log, BuildData(None))


def main(phase: str) -> int:
    """As the lifecycle calls us: the working directory is the app."""
    app = Path.cwd()
    if phase == "detect":
        return detect(app)
    return build(app)
