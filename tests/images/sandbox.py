"""Build images for the buildpack tests: Debian root filesystems made with ``debootstrap``
(cached under ``.cache/images``), entered with ``unshare`` + ``chroot`` the way a platform
runs its build container.

Every run happens in a new mount and PID namespace: the image is an overlay (the cached
root file system stays pristine, writes go to a per-test upper directory), the test's own
directories are bind-mounted into it (the buildpack read-only), and when the namespace's
first process ends the kernel removes every mount and kills every process left in it. The
chroot shares the network namespace, so a loopback server started by the test is reachable
at 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUITE = "bookworm"
MIRROR = os.environ.get("PYBUILDPACK_DEBIAN_MIRROR", "http://deb.debian.org/debian")


@dataclass(frozen=True)
class Image:
    name: str
    packages: tuple[str, ...]
    about: str


# What real build images hold (heroku-24's build image: python3 without venv or pip; CNB
# builders without any Python): minbase plus these packages.
IMAGES = {
    "python": Image(
        "bookworm-python",
        ("python3", "python3-packaging", "curl", "zstd", "git", "ca-certificates"),
        "system python3 3.11 with no venv module and no pip",
    ),
    "bare": Image(
        "bookworm-bare",
        ("curl", "zstd", "git", "ca-certificates"),
        "no python3 at all",
    ),
}


def image_cache() -> Path:
    return Path(os.environ.get("PYBUILDPACK_IMAGE_CACHE") or REPO / ".cache" / "images")


def why_not_supported() -> str | None:
    """Why image tests cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return "image tests need root (debootstrap, unshare, chroot, mount)"
    for tool in ("debootstrap", "unshare", "chroot", "mount"):
        if shutil.which(tool) is None:
            return f"image tests need {tool} (apt-get install debootstrap util-linux)"
    return None


def _unavailable(reason: str) -> None:
    """Skip, except in CI, where these tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"image tests cannot run in CI: {reason}")
    pytest.skip(reason)


def rootfs(image: Image) -> Path:
    """The cached root file system of ``image``, made with debootstrap on first use."""
    reason = why_not_supported()
    if reason:
        _unavailable(reason)
    cache = image_cache()
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / image.name
    stamp = cache / f"{image.name}.complete"
    want = f"{SUITE} minbase {' '.join(image.packages)}\n"
    with open(cache / f"{image.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == want and root.is_dir():
            return root
        stamp.unlink(missing_ok=True)
        temp = cache / f"{image.name}.tmp"
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(image.packages)}",
               SUITE, str(temp), MIRROR]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
        if proc.returncode != 0:
            shutil.rmtree(temp, ignore_errors=True)
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
            _unavailable(f"debootstrap of {image.name} failed (exit {proc.returncode}):\n{tail}")
        temp.rename(root)
        stamp.write_text(want)
    return root


@dataclass(frozen=True)
class Bind:
    host: Path
    target: str  # absolute path inside the image
    readonly: bool = False


@dataclass
class Sandbox:
    """One build container: an overlay of ``lower`` with the test's directories bound in.
    State written inside persists between runs in ``tmp/upper``."""

    lower: Path
    tmp: Path
    binds: list[Bind] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.upper = self.tmp / "upper"
        self.work = self.tmp / "work"
        self.merged = self.tmp / "merged"
        for d in (self.upper, self.work, self.merged):
            d.mkdir(parents=True, exist_ok=True)

    def _script(self, argv: Iterable[str], env: Mapping[str, str], cwd: str) -> str:
        q = shlex.quote
        m = str(self.merged)
        opts = f"lowerdir={self.lower},upperdir={self.upper},workdir={self.work}"
        lines = [
            "set -e",
            f"mount -t overlay overlay -o {q(opts)} {q(m)}",
            f"mount -t proc proc {q(m + '/proc')}",
            f"mount --bind /dev {q(m + '/dev')}",
        ]
        for b in self.binds:
            target = q(m + b.target)
            lines.append(f"mkdir -p {target}")
            lines.append(f"mount --bind {q(str(b.host))} {target}")
            if b.readonly:
                lines.append(f"mount -o remount,bind,ro {target}")
        env_args = " ".join(q(f"{k}={v}") for k, v in env.items())
        inner = " ".join(q(a) for a in argv)
        enter = q('cd "$1" && shift && exec "$@"')
        lines.append(f"exec chroot {q(m)} /usr/bin/env -i {env_args} /bin/sh -c {enter} sh "
                     f"{q(cwd)} {inner}")  # fmt: skip
        return "\n".join(lines)

    def _argv(self, argv: Iterable[str], env: Mapping[str, str], cwd: str) -> list[str]:
        script = self._script(argv, env, cwd)
        return ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation",
                "private", "/bin/sh", "-c", script]  # fmt: skip

    def run(
        self, argv: Iterable[str], env: Mapping[str, str], cwd: str = "/", timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._argv(argv, env, cwd), capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip

    def start(self, argv: Iterable[str], env: Mapping[str, str], cwd: str = "/") -> Running:
        proc = subprocess.Popen(self._argv(argv, env, cwd), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        return Running(proc)


@dataclass
class Running:
    """A process tree in its own PID namespace; ``stop`` ends all of it."""

    proc: subprocess.Popen[bytes]

    def stop(self) -> str:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # unshare dies, --kill-child kills PID 1
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""

    def alive(self) -> bool:
        return self.proc.poll() is None


def wait_for_http(url: str, running: Running, seconds: float = 60) -> tuple[int, bytes]:
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.status, r.read()
        except OSError:
            if not running.alive() or time.monotonic() > deadline:
                log = running.stop()
                pytest.fail(f"{url} did not answer (exit {running.proc.poll()}):\n{log}")
            time.sleep(0.2)
