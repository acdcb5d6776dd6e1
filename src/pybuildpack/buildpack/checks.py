"""Checks before anything is installed: they fail fast, with a typed error each."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pybuildpack.buildpack.env import MARKER
from pybuildpack.errors import (
    DuplicatePythonBuildpack,
    ExistingPythonDir,
    ExistingVenvDir,
    StackNotSet,
    UnsafeEnvironment,
)

# Names whose presence in the app root makes detect pass. Deliberately broader than what
# the build accepts, so near-miss apps get a precise build error instead of "no buildpack".
DETECT_FILES: tuple[str, ...] = (
    ".python-version",
    "__init__.py",
    "app.py",
    "main.py",
    "manage.py",
    "pdm.lock",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "pyproject.toml",
    "requirements.txt",
    "runtime.txt",
    "server.py",
    "setup.cfg",
    "setup.py",
    "uv.lock",
    "requeriments.txt",
    "requirement.txt",
    "requirements",
    "requirements.text",
    "Requirements.txt",
    "requirements.txt.txt",
    "requirments.txt",
)
DETECT_DIRS: tuple[str, ...] = ("__pycache__", ".venv", "venv")

# Variables that redirect where Python or a package manager installs: set, they break the
# build or the app (the CNB refuses them; so does pybuildpack, in both generations).
UNSAFE_ENV: tuple[str, ...] = (
    "PIP_CACHE_DIR",
    "PIP_PREFIX",
    "PIP_PYTHON",
    "PIP_ROOT",
    "PIP_TARGET",
    "PIP_USER",
    "POETRY_CACHE_DIR",
    "POETRY_DATA_DIR",
    "POETRY_HOME",
    "POETRY_VIRTUALENVS_CREATE",
    "POETRY_VIRTUALENVS_IN_PROJECT",
    "POETRY_VIRTUALENVS_USE_POETRY_PYTHON",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "PYTHONNOUSERSITE",
    "PYTHONPLATLIBDIR",
    "PYTHONUSERBASE",
    "UV_CACHE_DIR",
    "UV_LINK_MODE",
    "UV_MANAGED_PYTHON",
    "UV_NO_CACHE",
    "UV_NO_MANAGED_PYTHON",
    "UV_PROJECT",
    "UV_PROJECT_ENVIRONMENT",
    "UV_PYTHON",
    "UV_PYTHON_DOWNLOADS",
    "UV_PYTHON_PREFERENCE",
    "VIRTUAL_ENV",
)


def detect(app_dir: Path) -> str | None:
    """The first file or directory that makes this a Python app, or None."""
    for name in DETECT_FILES:
        if (app_dir / name).exists():
            return name
    for name in DETECT_DIRS:
        if (app_dir / name).is_dir():
            return name + "/"
    return None


def check_stack(env: Mapping[str, str]) -> str:
    stack = env.get("STACK", "").strip()
    if not stack:
        raise StackNotSet()
    return stack


def check_duplicate_buildpack(build_dir: Path, env: Mapping[str, str]) -> None:
    installed = (build_dir / ".heroku" / "python" / "bin" / "python").exists()
    if installed and (env.get("PYTHONHOME") or env.get(MARKER)):
        raise DuplicatePythonBuildpack()


def check_existing_python_dir(build_dir: Path) -> None:
    p = build_dir / ".heroku" / "python"
    if p.exists() or p.is_symlink():
        try:
            entries = tuple(sorted(os.listdir(p)))[:10] if p.is_dir() else ()
        except OSError:
            entries = ()
        raise ExistingPythonDir(path=".heroku/python", entries=entries)


def check_committed_venv(build_dir: Path) -> None:
    for name in (".venv", "venv"):
        if (build_dir / name / "pyvenv.cfg").is_file():
            raise ExistingVenvDir(name=name)


def check_unsafe_env(env: Mapping[str, str]) -> None:
    found = tuple(n for n in UNSAFE_ENV if n in env)
    if found:
        raise UnsafeEnvironment(names=found)
