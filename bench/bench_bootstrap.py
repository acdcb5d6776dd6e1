#!/usr/bin/env python3
"""Benchmark: how long the buildpack takes to start itself, first build and later builds.

Each contender is a whole ``bin/compile`` subprocess (``sh``, as a platform runs it) on an
app with no package manager file, so the build stops with a typed error right after
pybuildpack has started: what is timed is the bootstrap plus pybuildpack's start-up.

* ``system-first`` / ``system-later``: python3 on PATH (no venv, no pip needed); the first
  build fetches the pinned wheels (from a local mirror directory), a later one finds them
  in the build cache;
* ``runner-first`` / ``runner-later``: no python3 on PATH; the first build fetches, checks
  and unpacks a runner CPython (a local pyenv CPython packed like a python-build-standalone
  archive, read through ``file://``), a later one finds it in the build cache;
* peer ``venv+pip``: what the buildpack did before, and what a shim must do on an image
  with the venv module: ``python3 -m venv`` plus ``pip install`` of the same wheels from the
  same directory (no index), then importing pybuildpack's dependencies.

Rounds rotate the order of the contenders; ratios are medians of per-round ratios against
the peer. Results go to ``bench/results/bootstrap.json`` and ``bootstrap.md``.

Usage: python bench/bench_bootstrap.py [--runs 7] [--tmpdir /dev/shm]
Needs: the runner wheels in .cache/runner-wheels (scripts/test fetches them), a pyenv
CPython >= 3.10 and patchelf for the runner archive.
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
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

from provisioning.archives import local_cpythons, pack_dir, relocatable_copy, sha256  # noqa: E402

RESULTS = REPO / "bench" / "results"
WHEELS = REPO / ".cache" / "runner-wheels"
TOOLS = ("sh", "uname", "date", "mkdir", "rm", "mv", "cp", "cat", "cut", "sed", "ls", "head",
         "sha256sum", "tar", "gzip", "id", "env")  # fmt: skip


def _tools(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in TOOLS:
        found = shutil.which(name)
        if found:
            (dest / name).symlink_to(found)
    return dest


def _compile(work: Path, env: dict[str, str], cache: Path) -> float:
    app = work / "app"
    env_dir = work / "env"
    start = time.perf_counter()
    argv = ["/bin/sh", str(REPO / "bin" / "compile"), str(app), str(cache), str(env_dir)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if "[package-manager::none-found]" not in proc.stderr:
        raise SystemExit(f"bin/compile did not start pybuildpack:\n{proc.stdout}{proc.stderr}")
    return elapsed


def _peer(work: Path, python: str) -> float:
    venv = work / "peer-venv"
    shutil.rmtree(venv, ignore_errors=True)
    names = [p.name.split("-")[0] for p in WHEELS.glob("*.whl") if not p.name.startswith("tomli")]
    start = time.perf_counter()
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "--no-index", "--find-links", str(WHEELS),
                    *names], check=True)  # fmt: skip
    subprocess.run([str(venv / "bin" / "python"), "-c", "import " + ", ".join(names)],
                   check=True)  # fmt: skip
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tmpdir", default=None)
    args = parser.parse_args()
    if not WHEELS.is_dir():
        raise SystemExit(f"no runner wheels in {WHEELS}: run scripts/test first")
    python = shutil.which("python3")
    sources = sorted(
        (p for p in local_cpythons() if p.name.startswith(("3.13", "3.12", "3.11"))),
        key=lambda p: tuple(int(x) for x in p.name.split(".")),
    )
    if python is None or not sources:
        raise SystemExit("needs python3 on PATH and a pyenv CPython 3.11-3.13")
    work = Path(tempfile.mkdtemp(prefix="bench-bootstrap-", dir=args.tmpdir))
    try:
        (work / "app").mkdir()
        (work / "app" / "app.py").write_text("")
        (work / "env").mkdir()
        relocatable_copy(sources[-1], work / "runner" / "python")
        archive = work / "runner.tar.gz"
        archive.write_bytes(pack_dir(work / "runner" / "python", "pbs"))
        base = {"HOME": str(work), "STACK": "heroku-24", "NO_COLOR": "1",
                "PYBUILDPACK_RUNNER_WHEELS": str(WHEELS)}  # fmt: skip
        system_env = {**base, "PATH": "/usr/local/bin:/usr/bin:/bin"}
        runner_env = {**base, "PATH": str(_tools(work / "tools")),
                      "PYBUILDPACK_RUNNER_PYTHON_URL": f"file://{archive}",
                      "PYBUILDPACK_RUNNER_PYTHON_SHA256": sha256(archive.read_bytes())}  # fmt: skip

        def first(env: dict[str, str]) -> float:
            cache = work / "cache-first"
            shutil.rmtree(cache, ignore_errors=True)
            return _compile(work, env, cache)

        def later(env: dict[str, str], name: str) -> float:
            cache = work / f"cache-{name}"
            if not cache.exists():
                _compile(work, env, cache)  # warm it once
            return _compile(work, env, cache)

        contenders = {
            "system-first": lambda: first(system_env),
            "system-later": lambda: later(system_env, "system"),
            "runner-first": lambda: first(runner_env),
            "runner-later": lambda: later(runner_env, "runner"),
            "venv+pip": lambda: _peer(work, python),
        }
        names = list(contenders)
        times: dict[str, list[float]] = {n: [] for n in names}
        ratios: dict[str, list[float]] = {n: [] for n in names if n != "venv+pip"}
        for r in range(args.runs):
            order = names[r % len(names) :] + names[: r % len(names)]
            got = {}
            for n in order:
                os.sync()
                got[n] = contenders[n]()
                times[n].append(got[n])
            for n in ratios:
                ratios[n].append(got[n] / got["venv+pip"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    python_version = subprocess.run([python, "--version"], capture_output=True, text=True).stdout
    doc = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "runs": args.runs,
        "tmpdir": args.tmpdir,
        "system_python": python_version.strip(),
        "runner_python": sources[-1].name,
        "median_seconds": {n: round(statistics.median(v), 3) for n, v in times.items()},
        "ratio_vs_venv_pip": {
            n: {
                "median": round(statistics.median(v), 3),
                "min": round(min(v), 3),
                "max": round(max(v), 3),
            }
            for n, v in ratios.items()
        },
    }
    stem = "bootstrap-tmpfs" if args.tmpdir else "bootstrap"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    lines = [
        f"# Bootstrap ({doc['date']}, {doc['machine']}, {args.runs} rounds)",
        "",
        f"System python: {doc['system_python']}; runner: CPython {doc['runner_python']}.",
        "",
        "| contender | median s | ratio vs venv+pip (median, range) |",
        "|---|---|---|",
    ]
    for n in names:
        r = doc["ratio_vs_venv_pip"].get(n)
        shown = f"{r['median']}x ({r['min']}-{r['max']})" if r else "1 (peer)"
        lines.append(f"| {n} | {doc['median_seconds'][n]} | {shown} |")
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
