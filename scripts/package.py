"""Build the release artifact: one buildpack tarball for classic and CNB platforms.

    python3 scripts/package.py [--wheels DIR] [--out DIR]

The tarball holds ``bin/``, ``buildpack.toml``, ``src/pybuildpack`` (sources and data, no
bytecode) and ``vendor/wheels/``: the pure-Python wheels pinned in
``bin/support/runner.lock``, each checked against its sha256, and the optional compiled
accelerators it pins (``native``: ISA-L for each CPython 3.10-3.14 on x86_64 and aarch64,
about 3 MB), where they can be fetched. With it, a build needs no
network for pybuildpack itself wherever the image has a Python >= 3.10. The same layout is
a classic buildpack (``bin/compile`` at the top) and a CNB buildpack directory
(``buildpack.toml`` at the top).

Wheels come from ``--wheels DIR`` when it holds them, else ``pip download`` fetches them
into that directory (default ``.cache/runner-wheels``). The archive is reproducible: sorted
entries, fixed owner and time.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK = REPO / "bin" / "support" / "runner.lock"
EPOCH = 1_700_000_000  # fixed mtime for reproducible archives
TOP_FILES = ("buildpack.toml", "README.md", "CHANGELOG.md", "LICENSE")


def locked_wheels(lock: Path = LOCK) -> list[tuple[str, str, str, str]]:
    """(name, version, file, sha256) of every wheel the runner lock pins."""
    out = []
    for line in lock.read_text("utf-8").splitlines():
        fields = line.split()
        if fields and fields[0] == "wheel":
            out.append((fields[1], fields[2], fields[3], fields[4]))
    return out


def locked_natives(lock: Path = LOCK) -> list[tuple[str, str, str]]:
    """(file, sha256, index path) of every optional accelerator the runner lock pins."""
    out = []
    for line in lock.read_text("utf-8").splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[0] == "native":
            out.append((fields[3], fields[4], fields[5]))
    return out


def fetch_natives(wheel_dir: Path) -> list[Path]:
    """The pinned accelerators that are in ``wheel_dir`` or can be fetched from the package
    index, verified. Optional: one that cannot be had is left out, with a warning (the
    runner then unpacks with zlib on that interpreter)."""
    import urllib.request

    paths = []
    for file, sha, index_path in locked_natives():
        path = wheel_dir / file
        if not path.is_file():
            url = f"https://files.pythonhosted.org/packages/{index_path}/{file}"
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    data = response.read()
            except OSError as exc:
                print(f"scripts/package.py: left out {file}: {exc}", file=sys.stderr)
                continue
            if hashlib.sha256(data).hexdigest() != sha:
                raise SystemExit(f"scripts/package.py: {url} does not match runner.lock")
            temp = path.with_name(path.name + ".part")
            temp.write_bytes(data)
            temp.replace(path)
        elif _sha256(path) != sha:  # one that was there already (a download was checked)
            raise SystemExit(f"scripts/package.py: {path} does not match runner.lock")
        paths.append(path)
    return paths


def buildpack_version() -> str:
    text = (REPO / "buildpack.toml").read_text("utf-8")
    match = re.search(r'^version = "([^"]+)"', text, re.M)
    if not match:
        raise SystemExit("scripts/package.py: no version in buildpack.toml")
    return match.group(1)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheels(wheel_dir: Path) -> list[Path]:
    """The locked wheels, verified; missing ones are fetched with pip download."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    wheels = locked_wheels()
    missing = [w for w in wheels if not (wheel_dir / w[2]).is_file()]
    if missing:
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--only-binary=:all:", "--platform", "any", "--implementation", "py",
            "--abi", "none", "--python-version", "3.10", "-d", str(wheel_dir),
            *[f"{name}=={version}" for name, version, _, _ in missing],
        ]  # fmt: skip
        subprocess.run(cmd, check=True)
    paths = []
    for _, _, file, sha in wheels:
        path = wheel_dir / file
        if not path.is_file():
            raise SystemExit(f"scripts/package.py: {file} was not downloaded")
        if _sha256(path) != sha:
            raise SystemExit(f"scripts/package.py: {path} does not match runner.lock")
        paths.append(path)
    return paths


def _members(wheels: list[Path]) -> list[tuple[str, Path]]:
    members: list[tuple[str, Path]] = []
    for path in sorted((REPO / "bin").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            members.append((path.relative_to(REPO).as_posix(), path))
    src = REPO / "src" / "pybuildpack"
    for path in sorted(src.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            members.append((path.relative_to(REPO).as_posix(), path))
    for name in TOP_FILES:
        if (REPO / name).is_file():
            members.append((name, REPO / name))
    for wheel in wheels:
        members.append((f"vendor/wheels/{wheel.name}", wheel))
    return sorted(members)


def build(out_dir: Path, wheel_dir: Path) -> Path:
    wheels = fetch_wheels(wheel_dir) + fetch_natives(wheel_dir)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for arcname, path in _members(wheels):
            parts = arcname.split("/")
            for i in range(1, len(parts)):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, EPOCH
                    tar.addfile(info)
            info = tarfile.TarInfo(arcname)
            data = path.read_bytes()
            info.size, info.mtime = len(data), EPOCH
            info.mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            tar.addfile(info, io.BytesIO(data))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"pybuildpack-{buildpack_version()}.tgz"
    temp = target.with_suffix(".tgz.part")
    with open(temp, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=EPOCH) as gz:
        gz.write(raw.getvalue())
    temp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--wheels",
        type=Path,
        default=REPO / ".cache" / "runner-wheels",
        help="where the pinned wheels are (fetched there when missing)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "dist", help="output directory")
    args = parser.parse_args(argv)
    target = build(args.out, args.wheels)
    print(f"{target} ({target.stat().st_size // 1024} KiB, sha256 {_sha256(target)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
