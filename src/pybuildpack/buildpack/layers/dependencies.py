"""CNB layers for the package manager and the app's dependencies.

=============  =====  ======  =====  =============================================
layer          build  launch  cache  metadata (any change discards the layer)
=============  =====  ======  =====  =============================================
``pip``        yes    no      yes    python_version, pip_version
``pip-cache``  yes    no      yes    arch, distro, python_version, pip_version
``<tool>``     yes    no      yes    arch, distro, python_version, tool_version
``uv-bin``     no     no      yes    arch, uv_version (pip apps installed with uv:
                                     the binary from its verified wheel)
``uv-cache``   no     no      yes    arch, distro, python_version, uv_version
``venv``       yes    yes     *      pip: rebuilt every build (pip cannot remove
                                     packages dropped from requirements.txt);
                                     uv/Poetry: cached, keyed like the tool, and
                                     synced (the tool applies only the difference)
=============  =====  ======  =====  =============================================

``venv`` sorts after ``python``, so the lifecycle puts ``venv/bin`` first on PATH.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from pybuildpack._record import replace
from pybuildpack.buildpack import deps, uv_pip
from pybuildpack.buildpack.deps import PackageManager
from pybuildpack.buildpack.env import LayerEnvVar, write_layer_env
from pybuildpack.buildpack.layers import Target, read_metadata, remove_layer, write_layer_toml
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.buildpack.uv_pip import InstallerChoice
from pybuildpack.errors import PackageManagerInstallFailed
from pybuildpack.version import PythonVersion


def _cached(layers_dir: Path, name: str, metadata: dict[str, str]) -> bool:
    return read_metadata(layers_dir, name) == metadata and (layers_dir / name).is_dir()


def _fresh(layers_dir: Path, name: str) -> Path:
    remove_layer(layers_dir, name)
    layer = layers_dir / name
    layer.mkdir(parents=True)
    return layer


def install(
    pm: PackageManager,
    *,
    layers_dir: Path,
    python_layer: Path,
    version: PythonVersion,
    target: Target,
    app_dir: Path,
    env: Mapping[str, str],
    log: BuildLog,
) -> dict[str, str]:
    """Install the tool and the dependencies; return the env for later steps of this build."""
    python = python_layer / "bin" / "python3"
    key = {
        "arch": target.arch,
        "distro_name": target.distro_name,
        "distro_version": target.distro_version,
        "python_version": str(version),
    }
    env = dict(env)
    venv = layers_dir / "venv"

    if pm is PackageManager.PIP:
        # pip alone: the app's packages go to a venv, which gets no setuptools (as fir does).
        pip_version = deps.TOOLS.pip
        pip_meta = {"python_version": str(version), "pip_version": pip_version}
        pip_layer = layers_dir / "pip"
        if _cached(layers_dir, "pip", pip_meta):
            log.step(f"Using cached pip {pip_version}")
        else:
            log.step(f"Installing pip {pip_version}")
            pip_layer = _fresh(layers_dir, "pip")
            cmd = deps.pip_pin_command(
                python, python_layer, version, {"pip": pip_version}, user=True
            )
            code, tail = deps.run(
                cmd, env={**env, "PYTHONUSERBASE": str(pip_layer)}, cwd=app_dir, log=log
            )
            got = deps.dist_installed(deps.site_packages(pip_layer, version), "pip")
            if code == 0 and got != pip_version:
                tail = [f"after the install: pip {got or 'none'}"]
            if code != 0 or got != pip_version:
                remove_layer(layers_dir, "pip")
                raise PackageManagerInstallFailed(
                    package_manager="pip", version=pip_version, detail="\n".join(tail[-5:])
                )
        write_layer_env(
            pip_layer,
            [
                LayerEnvVar("build", "PYTHONUSERBASE", "override", str(pip_layer)),
                LayerEnvVar("build", "PIP_DISABLE_PIP_VERSION_CHECK", "override", "1"),
            ],
        )
        write_layer_toml(layers_dir, "pip", build=True, launch=False, cache=True, metadata=pip_meta)

        cache_meta = {**key, "pip_version": pip_version}
        cache_layer = layers_dir / "pip-cache"
        if _cached(layers_dir, "pip-cache", cache_meta):
            log.info("Using cached pip download/wheel cache")
        else:
            cache_layer = _fresh(layers_dir, "pip-cache")
        write_layer_env(
            cache_layer, [LayerEnvVar("build", "PIP_CACHE_DIR", "override", str(cache_layer))]
        )
        write_layer_toml(
            layers_dir, "pip-cache", build=True, launch=False, cache=True, metadata=cache_meta
        )

        env.update(
            PYTHONUSERBASE=str(pip_layer),
            PIP_CACHE_DIR=str(cache_layer),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_ROOT_USER_ACTION="ignore",
        )
        plan = uv_pip.plan(uv_pip.installer_choice(env), app_dir, env, ["requirements.txt"])
        uv = _uv_layers(plan, layers_dir, key, python, env, app_dir, log) if plan.use_uv else None
        if uv is None and plan.use_uv:
            plan = replace(
                plan, use_uv=False, reason=f"uv {uv_pip.UV_VERSION} could not be installed"
            )
        log.step(uv_pip.describe(plan))
        if plan.reason is not None:
            verb = "uv anyway" if plan.use_uv else "pip"
            log.info(f"Using {verb}: {plan.reason} (docs/buildpack.md, 'uv for pip apps').")
        venv = _fresh(layers_dir, "venv")
        _run_or_fail(
            [str(python), "-m", "venv", "--without-pip", str(venv)], "venv", env, app_dir, log
        )
        if uv is not None:
            uv_pip.install(
                uv, python=venv / "bin" / "python", plan=plan, files=["requirements.txt"],
                settings=env, env=env, cache_dir=layers_dir / "uv-cache", cwd=app_dir, log=log,
            )  # fmt: skip
        cmd = [
            str(python), "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
            "-r", "requirements.txt", "--exists-action=w", "--no-input", "--progress-bar", "off",
        ]  # fmt: skip
        deps_failed = 0 if uv is not None else deps.run(cmd, env=env, cwd=app_dir, log=log)[0]
        if deps_failed:
            from pybuildpack.errors import DependencyInstallFailed

            raise DependencyInstallFailed(
                package_manager="pip", command="pip install -r requirements.txt",
                exit_code=deps_failed,
            )  # fmt: skip
        venv_env = [
            LayerEnvVar("all", "VIRTUAL_ENV", "override", str(venv)),
            LayerEnvVar("build", "PIP_PYTHON", "override", str(venv)),
        ]
        write_layer_env(venv, venv_env)
        write_layer_toml(layers_dir, "venv", build=True, launch=True, cache=False, metadata={})
    else:
        wheel = deps.bundled_pip(python_layer, version)
        tool_version = deps.TOOL_VERSIONS[pm]
        tool_meta = {**key, "tool_version": tool_version}
        tool_layer = layers_dir / pm.value
        if _cached(layers_dir, pm.value, tool_meta):
            log.step(f"Using cached {pm.display} {tool_version}")
        else:
            log.step(f"Installing {pm.display} {tool_version}")
            tool_layer = _fresh(layers_dir, pm.value)
            tool_layer.rmdir()
            _run_or_fail(
                [str(python), "-m", "venv", "--without-pip", str(tool_layer)],
                pm.display, env, app_dir, log,
            )  # fmt: skip
            _run_or_fail(
                deps.tool_install_command(tool_layer / "bin" / "python", wheel, pm),
                pm.display, env, app_dir, log,
            )  # fmt: skip
        write_layer_toml(
            layers_dir, pm.value, build=True, launch=False, cache=True, metadata=tool_meta
        )
        tool = deps.tool_executable(tool_layer, pm)
        venv_meta = {**key, "package_manager": pm.value, "tool_version": tool_version}
        if _cached(layers_dir, "venv", venv_meta):
            log.step("Using cached virtual environment")
        else:
            if (layers_dir / "venv").exists():
                log.step("Discarding cached virtual environment")
            venv = _fresh(layers_dir, "venv")
            shutil.rmtree(venv)
            _run_or_fail(
                [str(python), "-m", "venv", "--without-pip", str(venv)], "venv", env, app_dir, log
            )
        log.step(f"Installing dependencies with {pm.display}")
        sync_env = {**env, **deps.dependency_env(pm, venv, layers_dir)}
        if pm is PackageManager.UV:
            sync_env["UV_PYTHON"] = str(venv / "bin" / "python")
            sync_env["UV_CACHE_DIR"] = str(layers_dir / "uv-cache")
        code = deps.run(
            deps.dependency_command(pm, tool, python, venv, layers_dir), env=sync_env,
            cwd=app_dir, log=log,
        )[0]  # fmt: skip
        if code:
            from pybuildpack.errors import DependencyInstallFailed

            raise DependencyInstallFailed(
                package_manager=pm.display, command=f"{pm.value} sync", exit_code=code
            )
        write_layer_env(venv, [LayerEnvVar("all", "VIRTUAL_ENV", "override", str(venv))])
        write_layer_toml(
            layers_dir, "venv", build=True, launch=True, cache=True, metadata=venv_meta
        )
        shutil.rmtree(layers_dir / "uv-cache", ignore_errors=True)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}".rstrip(":")
    return env


def _uv_layers(
    plan: uv_pip.Plan,
    layers_dir: Path,
    key: Mapping[str, str],
    python: Path,
    env: Mapping[str, str],
    app_dir: Path,
    log: BuildLog,
) -> Path | None:
    """The ``uv-bin`` layer (uv from its verified wheel) and the ``uv-cache`` layer; return
    the binary, or None when it cannot be had and the choice is ``auto`` (pip installs)."""
    meta = {"arch": key["arch"], "uv_version": uv_pip.UV_VERSION}
    if not _cached(layers_dir, "uv-bin", meta):
        _fresh(layers_dir, "uv-bin")
    try:
        uv = uv_pip.fetch_uv(
            layers_dir / "uv-bin", python=python, env=env, settings=env, cwd=app_dir, log=log
        )
    except PackageManagerInstallFailed:
        if plan.choice is not InstallerChoice.AUTO:
            raise
        remove_layer(layers_dir, "uv-bin")
        return None
    write_layer_toml(layers_dir, "uv-bin", build=False, launch=False, cache=True, metadata=meta)
    cache_meta = {**key, "uv_version": uv_pip.UV_VERSION}
    if not _cached(layers_dir, "uv-cache", cache_meta):
        _fresh(layers_dir, "uv-cache")
    write_layer_toml(
        layers_dir, "uv-cache", build=False, launch=False, cache=True, metadata=cache_meta
    )
    return uv


def _run_or_fail(
    cmd: list[str], what: str, env: Mapping[str, str], cwd: Path, log: BuildLog
) -> None:
    code, tail = deps.run(cmd, env=env, cwd=cwd, log=log)
    if code != 0:
        raise PackageManagerInstallFailed(
            package_manager=what, version="", detail="\n".join(tail[-5:])
        )
