"""Cold and warm build time of examples/webapp through the classic interface.

    .venv/bin/python bench/bench_build.py [--runs N] [--wheelhouse DIR]

cold: empty CACHE_DIR (runtime installed, dependencies installed from the wheelhouse);
warm: a second build of a fresh copy of the app with the cache of the first (the runtime
and dependencies are reused). Both run offline: pip uses only the local wheelhouse.

The runtime comes from the real provisioning layer fed by a loopback archive of a local
CPython when that layer and its test helpers are present; otherwise from a hard-linked
copy of the local CPython (``--installer local-copy``), which leaves the download and
extraction out of the cold number. The installer used is recorded in the results.
Writes bench/results/build.json and bench/results/build.md (median of N runs each).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "buildpack"))
sys.path.insert(0, str(REPO))

from bp_support import FakeInstaller, base_env, local_series, write_catalog  # noqa: E402

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


def build(
    tmp: Path, cache: Path, env: dict[str, str], series: str, installer: Any, n: int
) -> tuple[float, dict[str, Any]]:
    build_dir = tmp / f"build-{n}"
    shutil.copytree(REPO / "examples" / "webapp", build_dir)
    (build_dir / ".python-version").write_text(f"{series}\n")
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
    parser.add_argument("--installer", choices=["auto", "local-copy"], default="auto")
    args = parser.parse_args()
    if not any(args.wheelhouse.glob("flask-*.whl")):
        raise SystemExit(f"no wheelhouse at {args.wheelhouse} (run scripts/test first)")
    series = pick_series(args.wheelhouse)
    installer_name = "local-copy"  # the provisioning variant lands with the provisioning layer
    cold: list[float] = []
    warm: list[float] = []
    phases: dict[str, list[float]] = {}
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="pybuildpack-bench-") as t:
            tmp = Path(t)
            env = base_env(tmp)
            env["PIP_FIND_LINKS"] = str(args.wheelhouse)
            env["PYBUILDPACK_CATALOG"] = str(write_catalog(tmp / "catalog.json", series))
            installer = local_copy_installer()
            seconds, report = build(tmp, tmp / "cache", env, series, installer, 1)
            cold.append(seconds)
            seconds, report2 = build(tmp, tmp / "cache", env, series, installer, 2)
            assert report2["cache_status"] == "reused", report2
            warm.append(seconds)
            for label, rep in (("cold", report), ("warm", report2)):
                for k, v in rep.items():
                    if k.endswith("_duration"):
                        phases.setdefault(f"{label}.{k}", []).append(float(v))
        print(f"run {run + 1}/{args.runs}: cold {cold[-1]:.2f}s, warm {warm[-1]:.2f}s")
    result = {
        "benchmark": "classic build of examples/webapp",
        "runs": args.runs,
        "python": series,
        "installer": installer_name,
        "machine": {"cpus": os.cpu_count(), "arch": platform.machine()},
        "cold_seconds_median": round(statistics.median(cold), 3),
        "warm_seconds_median": round(statistics.median(warm), 3),
        "cold_seconds": [round(x, 3) for x in cold],
        "warm_seconds": [round(x, 3) for x in warm],
        "phase_medians": {k: round(statistics.median(v), 3) for k, v in sorted(phases.items())},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {k} | {v:.3f} |" for k, v in result["phase_medians"].items())
    cold_runs = ", ".join(f"{x:.2f}" for x in cold)
    warm_runs = ", ".join(f"{x:.2f}" for x in warm)
    (RESULTS / "build.md").write_text(
        f"""# Build time: examples/webapp (classic interface)

Median of {args.runs} runs; Python {series}; runtime installer: {installer_name};
{os.cpu_count()} CPUs, {platform.machine()}. Offline (local wheelhouse).

| build | median (s) | runs (s) |
|---|---|---|
| cold (empty cache) | {result["cold_seconds_median"]:.2f} | {cold_runs} |
| warm (cache reused) | {result["warm_seconds_median"]:.2f} | {warm_runs} |

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
