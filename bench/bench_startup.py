#!/usr/bin/env python3
"""Benchmark: start-up of short commands, pybuildpack against its peers, in one run.

Contenders (each the wall clock of a whole subprocess):

* ``python -c pass`` with the same interpreter: the floor for any Python CLI;
* ``pybuildpack resolve examples/webapp`` (a ``.python-version`` and a ``requires-python``)
  and ``pybuildpack --version``;
* ``uv python find`` (uv's nearest "which Python" command);
* ``pybuildpack install`` into a destination that already holds the runtime (a no-op), and
  ``uv python install`` of a version it already has (its no-op); both were installed once,
  before timing, from the same archive (a local CPython packed like a python-build-
  standalone one, served on 127.0.0.1);
* ``bin/compile`` on an app without a package manager file: the classic build's start-up
  (the shim, the bootstrap with the runner wheels already in the build cache, the imports)
  up to its first check, which fails (``package-manager::none-found``). It runs with the
  plain CPython under this venv (``PYBUILDPACK_PYTHON``), as a build image's python3.

Each round runs every contender once, in an order rotated from round to round; ratios are
taken per round (pybuildpack / peer in the same round), then the median over rounds.
Results go to ``bench/results/startup.json`` and ``startup.md``.

Usage: python bench/bench_startup.py [--runs 20] [--no-install]
``--no-install`` skips the two no-op installs (they need a pyenv CPython and uv).
Needs: uv on PATH or next to this Python (``pip install uv``) for the uv contenders.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
Command = tuple[list[str], dict[str, str]]


def tool(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # the bin/compile contender fails by design (exit 1)
        raise SystemExit(f"{cmd} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return seconds


def pybuildpack() -> list[str]:
    """The console script users run (as installed next to this Python), else ``-m``."""
    script = Path(sys.executable).parent / "pybuildpack"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pybuildpack.cli"]


def setup_installs(work: Path, env: dict[str, str], uv: str) -> dict[str, Command]:
    """Install one runtime with each tool (untimed), and return their no-op commands."""
    sys.path.insert(0, str(REPO / "tests"))
    from provisioning.archives import (
        downloads_doc,
        local_cpythons,
        pack_dir,
        pbs_name,
        relocatable_copy,
        sha256,
        write_json,
    )
    from provisioning.loopback import serve

    found = local_cpythons()
    if not found:
        raise SystemExit("no pyenv CPython found (or use --no-install)")
    version = relocatable_copy(found[0], work / "src" / "python", keep_bytecode=True)
    v, gz = str(version), pack_dir(work / "src" / "python", "pbs")
    name = pbs_name(v)
    app = work / "app"
    app.mkdir()
    (app / ".python-version").write_text(f"{v}\n")
    with serve() as server:
        server.files[f"/20260101/{name}"] = gz
        entry = {"version": v, "release": "20260101", "target": "x86_64-unknown-linux-gnu",
                 "file": name, "sha256": sha256(gz)}  # fmt: skip
        downloads = write_json(work / "downloads.json", downloads_doc(server.url, [entry]))
        pbp = [*pybuildpack(), "install", str(app), "--quiet",
               "--downloads", str(downloads), "--arch", "amd64", "--dest", str(work / "dest"),
               "--cache-dir", str(work / "cache")]  # fmt: skip
        pbp_env = {**env, "PYBUILDPACK_ALLOW_INSECURE_HTTP": "1"}
        subprocess.run(pbp, env=pbp_env, check=True, capture_output=True)
        uv_json = work / "uv-downloads.json"
        uv_json.write_text(json.dumps({f"cpython-{v}-linux-x86_64-gnu": {
            "name": "cpython", "arch": {"family": "x86_64", "variant": None}, "os": "linux",
            "libc": "gnu", "major": version.major, "minor": version.minor,
            "patch": version.patch, "prerelease": "", "url": f"{server.url}/20260101/{name}",
            "sha256": sha256(gz), "variant": None, "build": "20260101"}}))  # fmt: skip
        uv_env = {**env, "UV_PYTHON_DOWNLOADS_JSON_URL": str(uv_json),
                  "UV_PYTHON_INSTALL_DIR": str(work / "uv"),
                  "UV_PYTHON_BIN_DIR": str(work / "uvbin"),
                  "UV_CACHE_DIR": str(work / "uvc"), "UV_NO_CONFIG": "1"}  # fmt: skip
        uv_cmd = [uv, "python", "install", v, "--no-bin"]
        subprocess.run(uv_cmd, env=uv_env, check=True, capture_output=True)
    # The no-ops need no server: the runtimes are there already.
    return {
        "pybuildpack install (no-op)": (pbp, pbp_env),
        "uv python install (no-op)": (uv_cmd, uv_env),
    }


COMPILE = "bin/compile, start-up to its first check"


def compile_command(work: Path, env: dict[str, str]) -> Command:
    """bin/compile on an app with no package manager file (exit 1 at the first check), with
    a build cache that already holds pybuildpack's wheels (a later build's start-up)."""
    app, cache, env_dir = work / "compile-app", work / "compile-cache", work / "compile-env"
    for d in (app, cache, env_dir):
        d.mkdir()
    (app / "app.py").write_text("")
    wheels = os.environ.get("PYBUILDPACK_RUNNER_WHEELS") or str(REPO / ".cache" / "runner-wheels")
    compile_env = {**env, "PYBUILDPACK_PYTHON": os.path.realpath(sys.executable),
                   "PYBUILDPACK_RUNNER_WHEELS": wheels}  # fmt: skip
    cmd = [str(REPO / "bin" / "compile"), str(app), str(cache), str(env_dir)]
    wall(cmd, compile_env)  # the first build fetches the wheels into the cache
    return cmd, compile_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-install", action="store_true")
    args = parser.parse_args()
    # Editable sources: compile them first, or with PYTHONDONTWRITEBYTECODE set every run
    # would compile what it imports.
    compile_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src" / "pybuildpack")],
                   check=True, capture_output=True, env=compile_env)  # fmt: skip
    env = {**os.environ, "NO_COLOR": "1"}
    uv = tool("uv")
    py = sys.executable
    work = Path(tempfile.mkdtemp(prefix="pybuildpack-startup-"))
    env["PYBUILDPACK_DATA_DIR"] = str(work / "data")
    commands: dict[str, Command] = {
        "python -c pass (floor)": ([py, "-c", "pass"], env),
        "pybuildpack --version": ([*pybuildpack(), "--version"], env),
        "pybuildpack resolve examples/webapp": (
            [*pybuildpack(), "resolve", str(REPO / "examples" / "webapp")],
            env,
        ),
    }
    commands[COMPILE] = compile_command(work, env)
    if uv:
        uv_env = {**env, "UV_NO_CONFIG": "1", "UV_PYTHON_DOWNLOADS": "never"}
        commands["uv python find"] = ([uv, "python", "find", py], uv_env)
    try:
        if uv and not args.no_install:
            commands.update(setup_installs(work, env, uv))
        names = list(commands)
        times: dict[str, list[float]] = {n: [] for n in names}
        for n in names:  # warm the page cache once
            wall(*commands[n])
        for i in range(args.runs):
            order = names[i % len(names) :] + names[: i % len(names)]
            for n in order:
                times[n].append(wall(*commands[n]))
        report(times, uv)
    finally:
        shutil.rmtree(work, ignore_errors=True)


RATIOS: list[tuple[str, str]] = [
    ("pybuildpack resolve examples/webapp", "python -c pass (floor)"),
    ("pybuildpack resolve examples/webapp", "uv python find"),
    ("pybuildpack install (no-op)", "uv python install (no-op)"),
    (COMPILE, "python -c pass (floor)"),
]


def report(times: dict[str, list[float]], uv: str | None) -> None:
    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 1)

    ratios = {
        f"{a} / {b}": round(
            statistics.median(x / y for x, y in zip(times[a], times[b], strict=True)), 2
        )
        for a, b in RATIOS
        if a in times and b in times
    }
    differences = {
        f"{a} - {b} (ms)": round(
            statistics.median((x - y) * 1000 for x, y in zip(times[a], times[b], strict=True)), 1
        )
        for a, b in RATIOS
        if a in times and b in times
    }
    uv_version = (
        subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip()
        if uv
        else None
    )
    doc = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "uv": uv_version,
        "runs": len(next(iter(times.values()))),
        "median_ms": {n: ms(v) for n, v in times.items()},
        "per_round_ratio_median": ratios,
        "per_round_difference_median": differences,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        f"Start-up, {doc['date']}, {doc['machine']}, Python {doc['python']}, {uv_version}, "
        f"{doc['runs']} rounds (median wall time of a whole subprocess)",
        "",
        "| command | median ms |",
        "|---|---:|",
        *(f"| {n} | {v} |" for n, v in doc["median_ms"].items()),
        "",
        "| per-round comparison | median |",
        "|---|---:|",
        *(f"| {n} | {v}x |" for n, v in ratios.items()),
        *(f"| {n} | {v} |" for n, v in differences.items()),
    ]
    (RESULTS / "startup.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
