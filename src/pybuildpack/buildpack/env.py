"""Environment the buildpack gives to the build, to later buildpacks and to the app.

Decisions (the classic buildpack's quirks, decided deliberately; see docs/buildpack.md):

* ``PYTHONUNBUFFERED=1`` everywhere (classic used ``1`` at build time but ``true`` at run time).
* ``PKG_CONFIG_PATH`` points at ``lib/pkgconfig``, the directory CPython really installs
  (classic used the non-existent ``lib/pkg-config``). Build time only.
* ``CPATH`` gets ``include/pythonX.Y`` and ``include`` at build time, so C extensions find
  ``Python.h`` (old setuptools does not add the versioned directory itself).
* ``LANG`` defaults to ``C.UTF-8`` only when unset: it exists on every glibc >= 2.35 image,
  where ``en_US.UTF-8`` needs a generated locale.
* ``PYTHONHOME`` and ``PYTHONPATH`` are *not* set: the runtime is relocatable and finds its
  own prefix, and a global ``PYTHONHOME`` breaks every other Python (virtual environments,
  a later buildpack's system Python). ``PYBUILDPACK_PYTHON_HOME`` marks the install instead.
* Prepends never leave an empty entry (no trailing ``:``).
* Every value written into ``export`` and ``.profile.d`` is shell-quoted: a path holding
  ``$(...)``, backticks, quotes or spaces is data, never run or split. Only ``$HOME`` (at run
  time) and the variable being prepended to are expanded, inside double quotes.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pybuildpack._record import dataclass
from pybuildpack.version import PythonVersion

MARKER = "PYBUILDPACK_PYTHON_HOME"
SOURCE_DATE_EPOCH = "315532801"  # 1980-01-01T00:00:01Z: checked-hash .pyc, valid ZIP dates


def prepend(value: str, existing: str | None) -> str:
    return f"{value}:{existing}" if existing else value


def include_dirs(home: Path, version: PythonVersion) -> list[str]:
    return [str(home / "include" / f"python{version.series}"), str(home / "include")]


def build_env(
    base: Mapping[str, str],
    home: Path,
    version: PythonVersion,
    *,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for subprocesses during the build (package managers, hooks)."""
    env = {k: v for k, v in base.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    env["PATH"] = prepend(str(home / "bin"), env.get("PATH"))
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("LANG", "C.UTF-8")
    for name in ("LIBRARY_PATH", "LD_LIBRARY_PATH"):
        env[name] = prepend(str(home / "lib"), env.get(name))
    env["CPATH"] = prepend(":".join(include_dirs(home, version)), env.get("CPATH"))
    env["PKG_CONFIG_PATH"] = prepend(str(home / "lib" / "pkgconfig"), env.get("PKG_CONFIG_PATH"))
    env.setdefault("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
    env[MARKER] = str(home)
    env.update(extra or {})
    return env


def _sh_prepend(name: str, word: str) -> str:
    """``export NAME=<word>:$NAME`` (no ``:`` when NAME is empty); ``word`` is a shell word,
    quoted by the caller."""
    return f'export {name}={word}"${{{name}:+:${name}}}"'


def _under_home(rel: str) -> str:
    """A shell word for ``$HOME/<rel>``: ``$HOME`` expanded (quoted), ``rel`` literal."""
    return f'"$HOME"/{shlex.quote(rel)}'


def profile_script(
    *, package_manager_env: Mapping[str, str], app_home: Path, link_app_home: bool
) -> str:
    """``.profile.d/python.sh``: sourced by the platform before every app process.

    Paths use ``$HOME`` (the app's directory at run time). When the build used
    ``APP_HOME/.heroku/python`` and the app runs elsewhere, the link is recreated so the
    console scripts' first lines (which name that path) keep working.
    """
    home = ".heroku/python"
    lines = [
        "# Written by pybuildpack: the Python runtime for this app's processes.",
        _sh_prepend("PATH", _under_home(f"{home}/bin")),
        "export PYTHONUNBUFFERED=1",
        'export LANG="${LANG:-C.UTF-8}"',
        _sh_prepend("LD_LIBRARY_PATH", _under_home(f"{home}/lib")),
        _sh_prepend("LIBRARY_PATH", _under_home(f"{home}/lib")),
        f"export {MARKER}={_under_home(home)}",
    ]
    for name, value in package_manager_env.items():
        lines.append(f"export {name}={shlex.quote(value)}")
    if link_app_home:
        app = shlex.quote(str(app_home))
        lines += [
            f'if [ "$HOME" != {app} ] && [ ! -e {app}/.heroku/python ] && [ -w {app} ]; then',
            f"  mkdir -p {app}/.heroku && ln -sfn {_under_home(home)} {app}/.heroku/python"
            " 2>/dev/null || :",
            "fi",
        ]
    return "\n".join(lines) + "\n"


def export_script(
    home: Path, version: PythonVersion, *, package_manager_env: Mapping[str, str]
) -> str:
    """The buildpack ``export`` file: sourced by later buildpacks in the same build."""
    q = shlex.quote
    lines = [
        "# Written by pybuildpack: Python for the buildpacks that run after it.",
        _sh_prepend("PATH", q(f"{home}/bin")),
        "export PYTHONUNBUFFERED=1",
        'export LANG="${LANG:-C.UTF-8}"',
        _sh_prepend("LD_LIBRARY_PATH", q(f"{home}/lib")),
        _sh_prepend("LIBRARY_PATH", q(f"{home}/lib")),
        _sh_prepend("CPATH", q(":".join(include_dirs(home, version)))),
        _sh_prepend("PKG_CONFIG_PATH", q(f"{home}/lib/pkgconfig")),
        f"export {MARKER}={q(str(home))}",
    ]
    for name, value in package_manager_env.items():
        lines.append(f"export {name}={q(value)}")
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(mode)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- CNB env files

Scope = Literal["all", "build", "launch"]
Action = Literal["override", "default", "prepend", "append"]
_SCOPE_DIR: dict[str, str] = {"all": "env", "build": "env.build", "launch": "env.launch"}


@dataclass(frozen=True)
class LayerEnvVar:
    scope: Scope
    name: str
    action: Action
    value: str
    delim: str | None = None


def write_layer_env(layer_dir: Path, variables: list[LayerEnvVar]) -> None:
    """Write ``<layer>/env*/NAME.<action>`` files (Buildpack API 0.10 modification rules).

    The env directories are replaced as a whole, so a variable dropped in a newer release
    does not linger in a reused layer.
    """
    for sub in _SCOPE_DIR.values():
        d = layer_dir / sub
        if d.is_dir():
            for f in d.iterdir():
                f.unlink()
    for var in variables:
        d = layer_dir / _SCOPE_DIR[var.scope]
        d.mkdir(parents=True, exist_ok=True)
        # No trailing newline: the lifecycle uses file contents verbatim.
        (d / f"{var.name}.{var.action}").write_text(var.value, encoding="utf-8")
        if var.delim is not None:
            (d / f"{var.name}.delim").write_text(var.delim, encoding="utf-8")


WEB_CONCURRENCY_SCRIPT = """\
# Written by pybuildpack: a default WEB_CONCURRENCY (gunicorn's and uvicorn's worker count)
# from the memory and CPUs this process may use, unless it is set already. One worker per
# 256 MB, at most 2 per CPU + 1, at least 1. Memory comes from the cgroup limit (v2
# memory.max, else v1 memory.limit_in_bytes below 1 TB); without a limit nothing is set.
# DYNO_RAM is set to the memory found (some apps read it). Messages go to stderr on web
# dynos only (DYNO=web.*).
_pbp_say() { case "${DYNO:-}" in web.*) echo "pybuildpack: $*" >&2 ;; esac; }
_pbp_cg=${PYBUILDPACK_CGROUP_DIR:-/sys/fs/cgroup}
_pbp_mem=
if [ -r "$_pbp_cg/memory.max" ]; then
  _pbp_mem=$(cat "$_pbp_cg/memory.max" 2>/dev/null)
elif [ -r "$_pbp_cg/memory/memory.limit_in_bytes" ]; then
  _pbp_mem=$(cat "$_pbp_cg/memory/memory.limit_in_bytes" 2>/dev/null)
fi
case "$_pbp_mem" in
  ''|max|*[!0-9]*) _pbp_mem= ;;
  *) _pbp_mem=$((_pbp_mem / 1048576))
     [ "$_pbp_mem" -gt 1048576 ] && _pbp_mem= ;;
esac
_pbp_cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo)
case "$_pbp_cpus" in ''|*[!0-9]*) _pbp_cpus= ;; esac
if [ -z "$_pbp_mem" ] || [ -z "$_pbp_cpus" ]; then
  _pbp_say "no memory limit or CPU count found: WEB_CONCURRENCY left as it is"
else
  export DYNO_RAM="$_pbp_mem"
  if [ -n "${WEB_CONCURRENCY+set}" ]; then
    _pbp_say "WEB_CONCURRENCY is set already ($WEB_CONCURRENCY): kept"
  else
    _pbp_by_mem=$((_pbp_mem / 256))
    [ "$_pbp_by_mem" -lt 1 ] && _pbp_by_mem=1
    _pbp_by_cpu=$((_pbp_cpus * 2 + 1))
    if [ "$_pbp_by_mem" -lt "$_pbp_by_cpu" ]; then
      export WEB_CONCURRENCY="$_pbp_by_mem"
    else
      export WEB_CONCURRENCY="$_pbp_by_cpu"
    fi
    _pbp_say "WEB_CONCURRENCY=$WEB_CONCURRENCY ($_pbp_mem MB, $_pbp_cpus CPUs)"
  fi
fi
unset _pbp_cg _pbp_mem _pbp_cpus _pbp_by_mem _pbp_by_cpu
unset -f _pbp_say
"""
