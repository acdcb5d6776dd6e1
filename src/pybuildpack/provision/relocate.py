"""Make an unpacked runtime work where it landed, then prove it does.

* Scripts in ``bin/`` whose ``#!`` line names a Python by absolute path (a build-time
  prefix, or the runtime's own temporary path) get a ``/bin/sh`` trampoline that runs the
  interpreter next to the script, wherever the runtime is moved later.
* ``bin/python3`` must run and report the expected version, and pip must be importable;
  pip is bootstrapped from the runtime's own bundled wheel (ensurepip, offline) when the
  archive has none, and then ``-m pip --version`` must work.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from pybuildpack.errors import BrokenRuntime
from pybuildpack.version import PythonVersion

_TRAMPOLINE = """#!/bin/sh
'''exec' "$(dirname -- "$(realpath -- "$0")")/{interpreter}" "$0" "$@"
' '''
"""


def fix_shebangs(root: Path) -> list[str]:
    """Rewrite scripts in ``root/bin`` whose ``#!`` names a Python by absolute path (a
    build-time prefix, or this runtime's own temporary path) so they run the interpreter
    next to them instead. Returns the names rewritten."""
    fixed: list[str] = []
    bindir = root / "bin"
    if not bindir.is_dir():
        return fixed
    for script in sorted(bindir.iterdir()):
        if script.is_symlink() or not script.is_file():
            continue
        try:
            with script.open("rb") as f:
                head = f.read(512)
        except OSError:
            continue
        if not head.startswith(b"#!"):
            continue
        words = head.split(b"\n", 1)[0][2:].strip().split()
        if not words:
            continue
        interpreter = words[0].decode("utf-8", "replace")
        name = os.path.basename(interpreter)
        if not interpreter.startswith("/") or not name.startswith("python"):
            continue  # e.g. "#!/usr/bin/env python3": not tied to a prefix
        local = name if (bindir / name).exists() else "python3"
        data = script.read_bytes()
        body = data.split(b"\n", 1)[1] if b"\n" in data else b""
        # A new file renamed over the old one, never a write in place: the script may be
        # shared (a hard link) with another tree, such as the runtime store.
        tmp = script.with_name(f".{script.name}.pybuildpack-tmp")
        tmp.unlink(missing_ok=True)
        tmp.write_bytes(_TRAMPOLINE.format(interpreter=local).encode() + body)
        os.chmod(tmp, stat.S_IMODE(script.stat().st_mode) | 0o200)
        os.replace(tmp, script)
        fixed.append(script.name)
    return fixed


def _environment(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"
    # As the app will run it (profile.d/export prepend <home>/lib): a Heroku-layout runtime
    # links a shared libpython and has no RUNPATH.
    lib = str(root / "lib")
    before = env.get("LD_LIBRARY_PATH")
    env["LD_LIBRARY_PATH"] = f"{lib}:{before}" if before else lib
    return env


def _run(root: Path, version: PythonVersion, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(root / "bin" / "python3"), *args]
    try:
        return subprocess.run(
            command, capture_output=True, text=True, env=_environment(root), timeout=300,
            check=False,
        )  # fmt: skip
    except OSError as exc:
        raise BrokenRuntime(
            version=version, command=" ".join(["bin/python3", *args]), output=str(exc)
        ) from None


def _run_ok(root: Path, version: PythonVersion, *args: str) -> None:
    """``bin/python3 -I ARGS``; ``BrokenRuntime`` with its output unless it exits 0."""
    proc = _run(root, version, "-I", *args)
    if proc.returncode != 0:
        raise BrokenRuntime(
            version=version,
            command=" ".join(["bin/python3", *args]),
            output=proc.stdout + proc.stderr,
        )


_PROBE = (
    "import sys, importlib.util as u; "
    "print('Python %d.%d.%d' % sys.version_info[:3]); "
    "print('pip' if u.find_spec('pip') else 'no-pip')"
)


class Check:
    """The runtime's proof, running: ``bin/python3`` started by ``start_check``, read by
    ``finish_check``. It writes nothing into the runtime (``-B``: no bytecode), so the
    caller may read the tree meanwhile."""

    def __init__(self, root: Path, version: PythonVersion) -> None:
        self.root, self.version = root, version
        self.proc: subprocess.Popen[str] | None = None
        self.error = ""
        try:
            self.proc = subprocess.Popen(
                [str(root / "bin" / "python3"), "-I", "-B", "-c", _PROBE],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env=_environment(root),
            )  # fmt: skip
        except OSError as exc:
            self.error = str(exc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.communicate()


def start_check(root: Path, version: PythonVersion) -> Check:
    """Start proving the runtime in ``root`` (see ``verify``); ``bin/python`` is added
    first when missing, so the tree does not change after this unless pip is missing."""
    if not (root / "bin" / "python3").exists():
        raise BrokenRuntime(version=version, command="bin/python3", output="bin/python3 is missing")
    if not (root / "bin" / "python").exists() and not (root / "bin" / "python").is_symlink():
        (root / "bin" / "python").symlink_to("python3")
    return Check(root, version)


def finish_check(check: Check) -> bool:
    """Raise ``BrokenRuntime`` unless the started check shows the runtime runs as its
    version and has pip; pip is bootstrapped from the runtime's own wheel when it has
    none. Returns whether it was (the tree changed)."""
    root, version = check.root, check.version
    if check.proc is None:
        raise BrokenRuntime(version=version, command="bin/python3", output=check.error)
    try:
        stdout, stderr = check.proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        check.kill()
        raise BrokenRuntime(
            version=version, command="bin/python3 -c <version check>", output="timed out"
        ) from None
    lines = stdout.split()
    printed = " ".join(lines[:2])
    if check.proc.returncode != 0 or printed != f"Python {version}":
        raise BrokenRuntime(
            version=version,
            command="bin/python3 -c <version check>",
            output=(stdout + stderr).strip() + f"\n(expected: Python {version})",
        )
    if lines[-1] == "pip":
        return False
    _run_ok(root, version, "-m", "ensurepip", "--default-pip")
    _run_ok(root, version, "-m", "pip", "--version")
    return True


def verify(root: Path, version: PythonVersion) -> bool:
    """Raise ``BrokenRuntime`` unless the runtime in ``root`` runs as ``version`` and has pip.

    One interpreter start checks the version and that pip is importable (without importing
    it: that would compile pip on every install). Only when pip has to be bootstrapped is
    ``-m pip --version`` run, to prove the bootstrap worked. Returns whether it was.
    """
    return finish_check(start_check(root, version))
