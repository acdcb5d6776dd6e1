"""End to end through the real platform contract: ``bin/compile`` (a subprocess, as a
Heroku-style platform runs it) installs a real local CPython from a loopback archive source
with the real provisioning layer, installs the example app's dependencies offline, and the
app's web process then answers HTTP 200. A second build on the same cache downloads and
unpacks nothing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from bp_support import REPO, base_env, local_cpython
from test_bp_e2e import EXAMPLE, serve_and_get, wheelhouse, wheelhouse_series

from provisioning.archives import (
    downloads_doc,
    pack_dir,
    patchelf,
    pbs_name,
    relocatable_copy,
    sha256,
    write_json,
)
from provisioning.loopback import LoopbackServer, serve
from pybuildpack.version import PythonVersion

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def bin_compile(build: Path, cache: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env_dir = build.parent / f"{build.name}-env"
    env_dir.mkdir(exist_ok=True)
    return subprocess.run(
        [str(REPO / "bin" / "compile"), str(build), str(cache), str(env_dir)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@dataclass(frozen=True)
class Served:
    version: PythonVersion
    digest: str  # the archive's sha256
    path: str  # where the server has it
    server: LoopbackServer


@contextmanager
def served_runtime(tmp_path: Path) -> Iterator[tuple[Served, dict[str, str]]]:
    """A local CPython packed like a python-build-standalone archive and served from
    loopback, with a build environment that installs it from there (plain http allowed,
    the example's wheels offline)."""
    house = wheelhouse()
    series = wheelhouse_series(house)
    source = local_cpython(series)
    if source is None or patchelf() is None:
        pytest.skip(f"needs a local CPython {series} (pyenv) and patchelf")
    version = relocatable_copy(source, tmp_path / "runtime" / "python")
    archive = pack_dir(tmp_path / "runtime" / "python", "pbs")
    name = pbs_name(str(version))
    digest = sha256(archive)
    with serve() as server:
        path = f"/20260101/{name}"
        server.files[path] = archive
        entry = {
            "version": str(version), "release": "20260101", "target": "x86_64-unknown-linux-gnu",
            "file": name, "sha256": digest,
        }  # fmt: skip
        env = base_env(tmp_path)
        env.update(
            PYBUILDPACK_PYTHON=sys.executable,
            PYBUILDPACK_DOWNLOADS=str(
                write_json(tmp_path / "d.json", downloads_doc(server.url, [entry]))
            ),
            PYBUILDPACK_CACHE_DIR=str(tmp_path / "downloads"),
            PYBUILDPACK_ALLOW_INSECURE_HTTP="1",  # the loopback server is plain http
            PIP_FIND_LINKS=f"{house} {env['PIP_FIND_LINKS']}",
        )
        yield Served(version, digest, path, server), env


def test_bin_compile_from_loopback_serves_http_200(tmp_path: Path) -> None:
    with served_runtime(tmp_path) as (served, env):
        version, server = served.version, served.server
        cache = tmp_path / "cache"
        builds = []
        for i in range(2):
            build = tmp_path / f"build{i}"
            shutil.copytree(EXAMPLE, build)
            (build / ".python-version").write_text(f"{version}\n")
            proc = bin_compile(build, cache, env)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            builds.append((build, proc.stdout + proc.stderr))
        assert server.hits[served.path] == 1  # the second build downloaded nothing

    first_log, second_log = builds[0][1], builds[1][1]
    assert f"Python {version}" in first_log
    assert re.search(r"Successfully installed|Installed \d+ packages", first_log)  # pip or uv
    assert f"Using cached Python {version}" in second_log  # reused from the build cache
    assert "Installing Python" not in second_log
    answer = serve_and_get(builds[1][0])
    assert answer == {"message": "Hello from pybuildpack", "python": str(version)}


EDIT_OS_PY = """#!/bin/sh
set -e
printf '# edited in place\\n' >> "$(ls -d .heroku/python/lib/python3.*)/os.py"
exit 3
"""


def test_warm_builds_link_the_runtime_from_the_store_and_the_cache_stays_safe(
    tmp_path: Path,
) -> None:
    """A warm build links the runtime files still as installed from the machine's runtime
    store (the cold build's install made the entry). A failing build that edits one of them
    in place (root ignores the read-only mode) changes neither the cache nor the next
    build's tree: the next restore finds the store file changed and copies the cache's."""
    from test_bp_cache_safety import tree_digest

    from pybuildpack.buildpack.build_cache import BuildCache, store_files
    from pybuildpack.provision.store import Store

    with served_runtime(tmp_path) as (served, env):
        version, digest = served.version, served.digest
        cache = tmp_path / "cache"
        stored = Store(tmp_path / "downloads").entry(digest) / "runtime"

        def build(i: int, hook: str | None = None) -> tuple[Path, str, int]:
            b = tmp_path / f"build{i}"
            shutil.copytree(EXAMPLE, b)
            (b / ".python-version").write_text(f"{version}\n")
            if hook is not None:
                (b / "bin").mkdir(exist_ok=True)
                (b / "bin" / "post_compile").write_text(hook)
            proc = bin_compile(b, cache, env)
            return b, proc.stdout + proc.stderr, proc.returncode

        def report() -> dict[str, object]:
            return json.loads((cache / "build-data" / "python.json").read_text())

        _, log, code = build(1)
        assert code == 0, log
        # the cache's runtime is the runtime as installed (copied from the store meanwhile)
        runtime = BuildCache(cache).runtime_tree()
        assert runtime is not None
        linked = store_files(tmp_path / "downloads", runtime)
        assert linked is not None
        for p in stored.rglob("*"):
            if p.is_file() and not p.is_symlink():
                rel = str(p.relative_to(stored))
                q = runtime / rel
                assert q.read_bytes() == p.read_bytes(), q
                assert q.stat().st_mtime_ns == p.stat().st_mtime_ns, q
                if rel in linked.files:  # the others the store copies writable into DEST
                    assert q.stat().st_mode == p.stat().st_mode, q
                assert not q.samefile(p)
        second, log, code = build(2)
        assert code == 0, log
        assert report()["restore_linked_files"] > 500, log
        assert "runtime files linked from the runtime store" in log
        [os_py] = (second / ".heroku" / "python").glob("lib/python3.*/os.py")
        rel = os_py.relative_to(second / ".heroku" / "python")
        assert os_py.samefile(stored / rel)
        current = BuildCache(cache).python_tree()
        assert current is not None
        assert not any(
            p.samefile(current / p.relative_to(second / ".heroku" / "python"))
            for p in (os_py, *second.glob(".heroku/python/bin/*"))
            if p.is_file() and not p.is_symlink()
        )
        before = tree_digest(cache / ".heroku" / "pybuildpack" / "current")

        third, log, code = build(3, EDIT_OS_PY)
        assert code == 1 and "[hooks::failed]" in log, log
        assert (third / ".heroku" / "python" / rel).read_text().endswith("# edited in place\n")
        assert tree_digest(cache / ".heroku" / "pybuildpack" / "current") == before

        fourth, log, code = build(4)
        assert code == 0, log
        assert "differ from its manifest: copied from the cache instead" in log
        restored = fourth / ".heroku" / "python" / rel
        assert "edited" not in restored.read_text()
        assert not restored.samefile(stored / rel)
        assert tree_digest(cache / ".heroku" / "pybuildpack" / "current") == before
