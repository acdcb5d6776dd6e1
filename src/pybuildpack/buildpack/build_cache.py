"""The classic (cedar) build cache: what is kept between builds, when it is reused, and why not.

Layout inside ``CACHE_DIR``::

    .heroku/pybuildpack/current -> gen-<id>   the last successful build (atomic symlink swap)
    .heroku/pybuildpack/gen-<id>/state.json   CacheState: the keys below
    .heroku/pybuildpack/gen-<id>/runtime/     the runtime exactly as installed (pristine)
    .heroku/pybuildpack/gen-<id>/python/      runtime + tools + dependencies, as built
    .heroku/pybuildpack/pip-cache/            pip's HTTP and wheel cache (content-addressed)
    .heroku/pybuildpack/tools/<name>/         package-manager venvs (uv, Poetry, Pipenv)
    .heroku/python-version, .heroku/python-stack
                                              written for compatibility: the classic Heroku
                                              buildpack reads (and writes) these, so moving
                                              either way keeps the sticky version
    build-data/python.json                    the build report (``build_data``)

Reuse is decided in two tiers, and every reason that applies is reported:

* the runtime (``runtime/``) is reused when the resolved version, stack and arch match;
* the dependencies (``python/``) are reused when, in addition, the package manager and
  its version, the dependency files' hash and the install path match. When only these
  differ, the runtime is still reused and the dependencies are installed from scratch.

Generations are written next to the current one and published with one ``rename`` of a
symlink, after the build succeeded: a failed or interrupted build leaves the previous
cache exactly as it was. Trees are copied with hard links (one ``link`` per file, no data
copied) when the cache and build dir share a file system, else copied. This is safe
because nothing edits a runtime or installed file in place: pip, uv and the installer
library unlink before writing, and Python writes ``.pyc`` files by atomic rename.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pybuildpack.errors import BuildCacheUnusable
from pybuildpack.version import PythonVersion

SCHEMA = 1
ROOT = Path(".heroku") / "pybuildpack"
LEGACY_VERSION = Path(".heroku") / "python-version"
LEGACY_STACK = Path(".heroku") / "python-stack"
BUILD_DATA = Path("build-data")


@dataclass(frozen=True)
class CacheState:
    """What a build's cached output depends on. Any change discards (part of) it."""

    python_version: str
    stack: str
    arch: str
    package_manager: str | None = None
    package_manager_version: str | None = None
    dependencies_hash: str | None = None
    python_home: str | None = None  # console scripts name this path in their first line
    schema: int = SCHEMA
    pybuildpack_version: str | None = None
    saved_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> CacheState | None:
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            return None
        names = {f.name for f in fields(cls)}
        try:
            state = cls(**{k: v for k, v in data.items() if k in names})
            PythonVersion.parse(state.python_version)
        except (TypeError, ValueError):
            return None
        return state


@dataclass(frozen=True)
class Decision:
    """The outcome of comparing the cached state with this build's keys."""

    reuse_runtime: bool
    reuse_dependencies: bool
    runtime_reasons: tuple[str, ...]
    dependency_reasons: tuple[str, ...]

    @property
    def status(self) -> str:
        if self.reuse_dependencies:
            return "reused"
        if self.reuse_runtime:
            return "runtime-reused"
        return "discarded" if self.runtime_reasons else "empty"


def runtime_reasons(old: CacheState, new: CacheState) -> list[str]:
    reasons = []
    if old.stack != new.stack:
        reasons.append(f"The stack has changed from {old.stack} to {new.stack}")
    if old.arch != new.arch:
        reasons.append(f"The CPU architecture has changed from {old.arch} to {new.arch}")
    if old.python_version != new.python_version:
        reasons.append(
            f"The Python version has changed from {old.python_version} to {new.python_version}"
        )
    return reasons


def dependency_reasons(old: CacheState, new: CacheState) -> list[str]:
    reasons = []
    if old.package_manager != new.package_manager:
        reasons.append(
            f"The package manager has changed from {old.package_manager} to {new.package_manager}"
        )
    elif old.package_manager_version != new.package_manager_version:
        reasons.append(
            f"The {new.package_manager} version has changed from "
            f"{old.package_manager_version} to {new.package_manager_version}"
        )
    if (
        old.package_manager == new.package_manager
        and old.dependencies_hash != new.dependencies_hash
    ):
        reasons.append("The dependency files have changed")
    if old.python_home != new.python_home:
        reasons.append(
            f"The Python install path has changed from {old.python_home} to {new.python_home}"
        )
    return reasons


def decide(old: CacheState | None, new: CacheState) -> Decision:
    if old is None:
        return Decision(False, False, (), ())
    rt = runtime_reasons(old, new)
    if rt:
        return Decision(False, False, tuple(rt), ())
    deps = dependency_reasons(old, new)
    return Decision(True, not deps, (), tuple(deps))


class BuildCache:
    def __init__(self, cache_dir: Path) -> None:
        self.dir = cache_dir
        self.root = cache_dir / ROOT

    # ------------------------------------------------------------------ reading

    @property
    def current(self) -> Path | None:
        link = self.root / "current"
        if not link.is_symlink() and not link.is_dir():
            return None
        target = link.resolve()
        return target if (target / "state.json").is_file() else None

    @property
    def pip_cache(self) -> Path:
        return self.root / "pip-cache"

    @property
    def tools(self) -> Path:
        return self.root / "tools"

    def state(self) -> CacheState | None:
        gen = self.current
        if gen is None:
            return None
        try:
            return CacheState.from_json(json.loads((gen / "state.json").read_text("utf-8")))
        except (OSError, ValueError):
            return None

    def sticky_version(self) -> PythonVersion | None:
        """The version of the last successful build (ours, else the classic buildpack's)."""
        state = self.state()
        if state is not None:
            return PythonVersion.parse(state.python_version)
        try:
            text = (self.dir / LEGACY_VERSION).read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        try:
            return PythonVersion.parse(text.removeprefix("python-"))
        except ValueError:
            return None  # "python-3.12", garbage or pypy: ignored, the default applies

    def runtime_tree(self) -> Path | None:
        gen = self.current
        return gen / "runtime" if gen is not None and (gen / "runtime").is_dir() else None

    def python_tree(self) -> Path | None:
        gen = self.current
        return gen / "python" if gen is not None and (gen / "python").is_dir() else None

    # ------------------------------------------------------------------ writing

    def save(self, state: CacheState, runtime: Path, python: Path) -> Path:
        """Publish a new generation atomically; return it. Old generations are removed."""
        self.root.mkdir(parents=True, exist_ok=True)
        gen = self.root / f"gen-{time.time_ns():x}-{os.getpid()}"
        staging = gen.with_name(f".staging-{gen.name}")
        try:
            staging.mkdir()
            link_tree(runtime, staging / "runtime")
            link_tree(python, staging / "python")
            (staging / "state.json").write_text(
                json.dumps(state.to_json(), indent=2, sort_keys=True) + "\n", "utf-8"
            )
            os.rename(staging, gen)
            tmp_link = self.root / f".current-{os.getpid()}"
            if tmp_link.is_symlink():
                tmp_link.unlink()
            os.symlink(gen.name, tmp_link)
            os.replace(tmp_link, self.root / "current")  # the one atomic step
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        for legacy, text in (
            (LEGACY_VERSION, f"python-{state.python_version}\n"),
            (LEGACY_STACK, f"{state.stack}\n"),
        ):
            _write_atomic(self.dir / legacy, text)
        self.prune(keep=gen)
        return gen

    def prune(self, keep: Path | None = None) -> None:
        """Remove generations other than ``keep`` (and leftovers of interrupted saves)."""
        if not self.root.is_dir():
            return
        for child in self.root.iterdir():
            if child.name.startswith(("gen-", ".staging-", ".current-")) and child != keep:
                if child.is_symlink() or child.is_file():
                    child.unlink()
                else:
                    shutil.rmtree(child, ignore_errors=True)

    def clear(self) -> list[str]:
        """Drop everything pybuildpack keeps here, sticky version included. Returns what went."""
        if not self.dir.is_dir():
            raise BuildCacheUnusable(
                path=str(self.dir), detail="does not exist or is not a directory"
            )
        removed = []
        for rel in (
            ROOT,
            LEGACY_VERSION,
            LEGACY_STACK,
            Path(".heroku") / "python",  # the classic buildpack's copy, if it built here
            Path(".heroku") / "requirements.txt",
            BUILD_DATA / "python.json",
            BUILD_DATA / "python-prev.json",
        ):
            p = self.dir / rel
            if p.is_symlink() or p.is_file():
                p.unlink()
            elif p.is_dir():
                shutil.rmtree(p)
            else:
                continue
            removed.append(str(rel))
        return removed

    def info(self) -> dict[str, Any]:
        state = self.state()
        sticky = self.sticky_version()
        gen = self.current

        def size(p: Path) -> int:
            total = 0
            seen: set[int] = set()
            for d, _, files in os.walk(p):
                for f in files:
                    try:
                        st = os.lstat(os.path.join(d, f))
                    except OSError:
                        continue
                    if st.st_ino not in seen:
                        seen.add(st.st_ino)
                        total += st.st_size
            return total

        return {
            "cache_dir": str(self.dir),
            "state": state.to_json() if state else None,
            "sticky_version": str(sticky) if sticky else None,
            "sticky_major": str(sticky.series) if sticky else None,
            "generation": gen.name if gen else None,
            "bytes": {
                "generation": size(gen) if gen else 0,
                "pip_cache": size(self.pip_cache) if self.pip_cache.is_dir() else 0,
                "tools": size(self.tools) if self.tools.is_dir() else 0,
            },
        }


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


def link_tree(src: Path, dst: Path) -> None:
    """Recreate ``src`` at ``dst`` (which must not exist): hard links where possible.

    Symlinks are recreated as symlinks (never followed); permissions are kept. Falls back
    to copying per file when hard links are not possible (another file system).
    """
    can_link = True
    os.mkdir(dst)
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target_dir = dst if rel == "." else dst / rel
        for name in list(dirnames):
            s = os.path.join(dirpath, name)
            t = target_dir / name
            if os.path.islink(s):
                os.symlink(os.readlink(s), t)
                dirnames.remove(name)  # do not descend into a linked directory
            else:
                os.mkdir(t)
        for name in filenames:
            s = os.path.join(dirpath, name)
            t = target_dir / name
            if os.path.islink(s):
                os.symlink(os.readlink(s), t)
                continue
            if can_link:
                try:
                    os.link(s, t)
                    continue
                except OSError:
                    can_link = False
            shutil.copy2(s, t, follow_symlinks=False)
