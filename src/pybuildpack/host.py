"""Facts about the machine pybuildpack runs on."""

from __future__ import annotations

import os
from collections.abc import Mapping

ARCH_ENV = "PYBUILDPACK_ARCH"
# Kernel/Python machine names -> the Go/OCI names the catalog and CNB targets use.
_ARCH_NAMES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_arch(environ: Mapping[str, str] | None = None) -> str:
    """``$PYBUILDPACK_ARCH``, else this machine's CPU, as ``amd64``/``arm64`` (other machine
    names are returned as they are, so errors can name them)."""
    env = os.environ if environ is None else environ
    override = env.get(ARCH_ENV)
    if override:
        return override
    if hasattr(os, "uname"):  # what platform.machine() reads, without importing platform
        machine = os.uname().machine.lower()
    else:  # pragma: no cover - not POSIX
        import platform

        machine = platform.machine().lower()
    return _ARCH_NAMES.get(machine, machine)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this host); one we may not signal exists too."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
