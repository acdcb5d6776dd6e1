"""A Heroku-layout runtime links a shared libpython and has no RUNPATH: it runs only with
LD_LIBRARY_PATH=<home>/lib, as the app runs it (profile.d, export). The post-install check
must run it the same way (issue 10, item 6).

The runtime is crafted from a local CPython built with --enable-shared (pyenv): a copy of
its interpreter whose RUNPATH is overwritten in place with a path that does not exist
(same length, so the ELF stays valid), next to a hard link of its libpython. Nothing under
the pyenv tree is written."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pybuildpack.provision.relocate import verify
from pybuildpack.version import PythonVersion

PYENV = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"


def shared_build() -> tuple[Path, PythonVersion] | None:
    for series in ("3.12", "3.13", "3.11", "3.10"):
        for d in sorted(PYENV.glob(f"{series}.*")) if PYENV.is_dir() else []:
            lib = d / "lib" / f"libpython{series}.so.1.0"
            exe = d / "bin" / f"python{series}"
            if lib.is_file() and exe.is_file() and str(d / "lib").encode() in exe.read_bytes():
                return d, PythonVersion.parse(d.name)
    return None


def test_verify_runs_a_shared_libpython_runtime_without_runpath(tmp_path: Path) -> None:
    found = shared_build()
    if found is None:
        pytest.skip("no local CPython built with --enable-shared and a RUNPATH (pyenv)")
    base, version = found
    series = f"{version.major}.{version.minor}"
    root = tmp_path / "runtime"
    (root / "bin").mkdir(parents=True)
    (root / "lib").mkdir()
    exe = (base / "bin" / f"python{series}").read_bytes()
    old = str(base / "lib").encode()
    new = b"/nonexistent-runpath"[: len(old)].ljust(len(old), b"x")
    assert exe.count(old) >= 1
    (root / "bin" / "python3").write_bytes(exe.replace(old, new))
    (root / "bin" / "python3").chmod(0o755)
    os.link(base / "lib" / f"libpython{series}.so.1.0", root / "lib" / f"libpython{series}.so.1.0")
    (root / "lib" / f"python{series}").symlink_to(base / "lib" / f"python{series}")
    if shutil.which("ldconfig"):
        cached = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        if f"libpython{series}.so.1.0" in cached:
            pytest.skip("this system's loader finds libpython by itself: nothing to prove")
    # Without LD_LIBRARY_PATH the crafted runtime cannot start (the case the check must cover).
    bare = subprocess.run(
        [str(root / "bin" / "python3"), "-c", "pass"],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
    )  # fmt: skip
    assert bare.returncode != 0 and "libpython" in bare.stderr
    verify(root, version)  # runs it as the app will: no BrokenRuntime
