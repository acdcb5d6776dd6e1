"""End to end: build examples/webapp, start its web process, get HTTP 200.

Offline: pip installs Flask and gunicorn from a local wheelhouse (``PIP_NO_INDEX=1`` +
``PIP_FIND_LINKS``), prepared by scripts/test before pytest (``PYBUILDPACK_TEST_WHEELHOUSE``,
default ``<repo>/.cache/wheelhouse``). The runtime is a real local CPython: copied by the
fake installer, or - in the loopback variant - packed into an archive, served over loopback
HTTP and installed by the real provisioning layer through ``bin/compile``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from bp_support import REPO, FakeInstaller, base_env, local_series, write_catalog

from pybuildpack.buildpack import classic
from pybuildpack.buildpack.log import BuildLog

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EXAMPLE = REPO / "examples" / "webapp"


def wheelhouse() -> Path:
    path = Path(os.environ.get("PYBUILDPACK_TEST_WHEELHOUSE") or REPO / ".cache" / "wheelhouse")
    if not path.is_dir() or not any(path.glob("flask-*.whl")):
        pytest.skip(f"no wheelhouse at {path}: run scripts/test (it runs 'pip download')")
    return path


def wheelhouse_series(house: Path) -> str:
    """A local CPython major for which the wheelhouse has every needed wheel."""
    tagged = {m.group(1) for w in house.glob("*.whl") for m in [re.search(r"-cp3(\d+)-", w.name)]
              if m}  # fmt: skip
    for series in reversed(local_series()):
        if not tagged or series.split(".")[1] in tagged:
            return series
    pytest.skip(f"no local CPython matches the wheelhouse's wheels (cp3{sorted(tagged)})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def web_command(build_dir: Path) -> str:
    procfile = (build_dir / "Procfile").read_text()
    command = next(line.split(":", 1)[1].strip() for line in procfile.splitlines()
                   if line.startswith("web:"))  # fmt: skip
    return command.replace("0.0.0.0", "127.0.0.1")  # stay on loopback in tests


def serve_and_get(build_dir: Path) -> dict[str, str]:
    """Start the Procfile's web process as a platform does (profile.d, HOME, PORT)."""
    port = free_port()
    env = {"HOME": str(build_dir), "PATH": "/usr/bin:/bin", "PORT": str(port)}
    script = f". ./.profile.d/python.sh && exec {web_command(build_dir)}"
    proc = subprocess.Popen(["sh", "-c", script], cwd=build_dir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    assert r.status == 200
                    return json.loads(r.read())
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"the web process did not answer (exit {proc.poll()}):\n{out}")
                time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def prepare(tmp_path: Path, series: str) -> tuple[Path, dict[str, str]]:
    build_dir = tmp_path / "build"
    shutil.copytree(EXAMPLE, build_dir)
    (build_dir / ".python-version").write_text(f"{series}\n")
    env = base_env(tmp_path)
    env["PIP_FIND_LINKS"] = str(wheelhouse())
    return build_dir, env


def test_example_app_builds_and_serves_with_a_copied_local_runtime(tmp_path: Path) -> None:
    series = wheelhouse_series(wheelhouse())
    build_dir, env = prepare(tmp_path, series)
    env["PYBUILDPACK_CATALOG"] = str(write_catalog(tmp_path / "catalog.json", series))
    out, err = io.StringIO(), io.StringIO()
    code = classic.compile(build_dir, tmp_path / "cache", None, environ=env,
                           installer=FakeInstaller(), log=BuildLog(out=out, err=err))  # fmt: skip
    assert code == 0, out.getvalue() + err.getvalue()
    assert re.search(r"Successfully installed|Installed \d+ packages", out.getvalue())
    answer = serve_and_get(build_dir)
    assert answer["message"] == "Hello from pybuildpack"
    assert answer["python"].startswith(series + ".")


UV_PYPROJECT = """\
[project]
name = "uvapp"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = []
"""
UV_LOCK = """\
version = 1
revision = 5
requires-python = ">=3.10"

[[package]]
name = "uvapp"
version = "0.1.0"
source = { virtual = "." }
"""


def test_uv_app_builds_and_reuses_its_tool(tmp_path: Path) -> None:
    """A real uv build: uv comes from the wheelhouse (pip download uv==<pinned>)."""
    from pybuildpack.buildpack.deps import TOOL_VERSIONS, PackageManager

    house = wheelhouse()
    version = TOOL_VERSIONS[PackageManager.UV]
    if not any(house.glob(f"uv-{version}-*.whl")):
        pytest.skip(f"no uv {version} wheel in {house} (pip download uv=={version})")
    found = local_series()
    if not found:
        pytest.skip("needs a local CPython (pyenv) for the fake installer")
    series = found[-1]
    env = base_env(tmp_path)
    env["PIP_FIND_LINKS"] = str(house)
    env["PYBUILDPACK_CATALOG"] = str(write_catalog(tmp_path / "catalog.json", series))
    installer = FakeInstaller()
    for n in (1, 2):
        build_dir = tmp_path / f"build{n}"
        build_dir.mkdir()
        (build_dir / "pyproject.toml").write_text(UV_PYPROJECT)
        (build_dir / "uv.lock").write_text(UV_LOCK)
        (build_dir / ".python-version").write_text(f"{series}\n")
        out, err = io.StringIO(), io.StringIO()
        code = classic.compile(build_dir, tmp_path / "cache", None, environ=env,
                               installer=installer, log=BuildLog(out=out, err=err))  # fmt: skip
        assert code == 0, out.getvalue() + err.getvalue()
        expected = f"Installing uv {version}" if n == 1 else f"Using cached uv {version}"
        assert expected in out.getvalue()
    assert len(installer.calls) == 1
