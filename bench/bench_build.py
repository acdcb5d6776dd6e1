"""Cold and warm classic builds, as a platform runs them, against venv+pip and uv.

    .venv/bin/python bench/bench_build.py [--runs N] [--apps webapp,big] [--tmpdir /dev/shm]

Every build is a ``bin/compile BUILD_DIR CACHE_DIR ENV_DIR`` subprocess with a platform's
environment: ``PATH=/usr/local/bin:/usr/bin:/bin`` (the shim picks python3 there, fetches
pybuildpack's pinned wheels from ``.cache/runner-wheels`` on the first build and finds them
in the build cache later), ``STACK=heroku-24``, no ``PYBUILDPACK_PYTHON``. So the numbers
include the shim and pybuildpack's start-up.

* **cold**: empty CACHE_DIR and download cache: the runtime is downloaded from a loopback
  server (a local CPython packed like a python-build-standalone archive), verified and
  unpacked by the real provisioning layer, then the dependencies are installed;
* **warm**: a fresh copy of the app built again on the cold build's cache (what a platform
  does on the next push with nothing changed);
* **cold, runtime in the machine's store**: a fresh copy on an empty build cache, with the
  download cache and runtime store the cold build left (a new app on a build host that
  built this Python before: the runtime is linked from the store, not downloaded).

Apps: ``webapp`` (``examples/webapp``: Flask + gunicorn, 9 wheels from the test wheelhouse)
and ``big`` (Django, DRF, psycopg[binary], celery, redis, requests, boto3, sentry-sdk, ...:
37 wheels). The big app's wheels are fetched once with ``pip download`` from the package
index into ``.cache/bench/big-wheels`` and pinned to exactly those versions; uv is installed
once from its PyPI wheel into ``.cache/bench/uv``. Everything after that runs offline.

Peers, on the same wheels and the same local CPython, in the same rounds:

* ``venv+pip``: ``python -m venv V && V/bin/pip install -r requirements.txt``;
* ``venv+pip (lean)``: ``python -m venv --without-pip V`` then the base interpreter's
  ``pip --python V install -r requirements.txt`` (no pip bootstrapped into the venv);
* ``uv``: ``uv venv V && uv pip install --compile-bytecode -r requirements.txt`` with an
  empty uv cache (cold, like the cold build).

Each round runs every contender once, in an order rotated from round to round; a ratio
is the median of the per-round ratios. Every build and peer starts after an ``os.sync()``;
the rounds' files are deleted at the end (needs a few GB free), or after each round with
``--tmpdir`` (a tmpfs holds them in memory: about 4 GB a round with ``--baseline``). Writes
``bench/results/build.json`` and ``build.md``
(``build-tmpfs.*`` with ``--tmpdir``).
"""

from __future__ import annotations

import argparse
import functools
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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "buildpack"))
sys.path.insert(0, str(REPO / "tests"))

from bp_support import local_cpython, write_catalog  # noqa: E402

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

RESULTS = REPO / "bench" / "results"
STORE_COLD = "cold, runtime in the machine's store"
MINE = ("cold", "warm", STORE_COLD)
BASELINE = "baseline "


def mine_labels(baseline: bool) -> tuple[str, ...]:
    return (*MINE, *(BASELINE + k for k in MINE)) if baseline else MINE


BENCH_CACHE = REPO / ".cache" / "bench"
RUNNER_WHEELS = REPO / ".cache" / "runner-wheels"
UV_VERSION = "0.13.9"
SERIES = "3.13"
# The big app's top-level requirements; the wheels pip resolves for them are kept and
# pinned (every build and every peer installs exactly the same 37 files).
BIG_APP = (
    "Django==5.2.*",
    "djangorestframework",
    "psycopg[binary]",
    "celery",
    "redis",
    "requests",
    "boto3",
    "gunicorn",
    "whitenoise",
    "dj-database-url",
    "django-cors-headers",
    "sentry-sdk",
    "python-dotenv",
)


@dataclass(frozen=True)
class App:
    name: str
    source: Path  # the app directory (with requirements.txt)
    wheels: Path

    @property
    def requirements(self) -> Path:
        return self.source / "requirements.txt"


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return seconds


def big_app(python: Path) -> App:
    """The ~30-dependency app: wheels fetched once (pip download), then pinned."""
    house = BENCH_CACHE / "big-wheels"
    app = BENCH_CACHE / "big-app"
    if not any(house.glob("django-*.whl")) and not any(house.glob("Django-*.whl")):
        house.mkdir(parents=True, exist_ok=True)
        spec = BENCH_CACHE / "big-app.in"
        spec.write_text("\n".join(BIG_APP) + "\n")
        print(f"fetching the big app's wheels into {house} (once)", file=sys.stderr)
        subprocess.run(
            [str(python), "-m", "pip", "download", "--disable-pip-version-check",
             "--only-binary=:all:", "-r", str(spec), "-d", str(house)],
            check=True,
        )  # fmt: skip
    pins = []
    for w in sorted(house.glob("*.whl")):
        name, version = w.name.split("-")[:2]
        pins.append(f"{name.replace('_', '-').lower()}=={version}")
    app.mkdir(parents=True, exist_ok=True)
    (app / "requirements.txt").write_text("\n".join(pins) + "\n")
    (app / "Procfile").write_text("web: gunicorn app:app\n")
    return App("big", app, house)


def tool_wheel_dir(wheelhouse: Path) -> Path:
    """A folder holding the pinned uv, pip and setuptools wheels, for the builds'
    PIP_FIND_LINKS (the build takes these tools from their wheels, offline here, as it
    would from the index)."""
    from pybuildpack.buildpack.deps import TOOLS

    target = BENCH_CACHE / "tool-wheels"
    target.mkdir(parents=True, exist_ok=True)
    for name, version in (("uv", UV_VERSION), ("pip", TOOLS.pip),
                          ("setuptools", TOOLS.setuptools)):  # fmt: skip
        if any(target.glob(f"{name}-{version}-*.whl")):
            continue
        found = sorted(wheelhouse.glob(f"{name}-{version}-*.whl"))
        if found:
            shutil.copy2(found[0], target)
        else:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--disable-pip-version-check",
                 "--quiet", "--no-deps", "--only-binary=:all:", "-d", str(target),
                 f"{name}=={version}"],
                check=True,
            )  # fmt: skip
    return target


def uv_binary() -> Path:
    target = BENCH_CACHE / "uv"
    exe = target / "bin" / "uv"
    if not exe.exists():
        print(f"installing uv {UV_VERSION} from its wheel into {target} (once)", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet",
             "--target", str(target), f"uv=={UV_VERSION}"],
            check=True,
        )  # fmt: skip
    return exe


def tool_versions(cpython: Path, uv: Path) -> dict[str, str]:
    pip = sorted((cpython / "lib").glob("python3.*/ensurepip/_bundled/pip-*.whl"))
    out = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True)
    code = "import platform; print(platform.python_version())"
    py = subprocess.run(
        [str(cpython / "bin" / "python3"), "-c", code], capture_output=True, text=True, check=True
    )
    sh = subprocess.run(["sh", "-c", "python3 --version"], capture_output=True, text=True,
                        env={"PATH": "/usr/local/bin:/usr/bin:/bin"}, check=False)  # fmt: skip
    return {
        "cpython": py.stdout.strip(),
        "pip (venv's, from ensurepip)": pip[-1].name.split("-")[1] if pip else "?",
        "uv": out.stdout.split()[1],
        "pybuildpack runs on (python3 on PATH)": sh.stdout.strip() or "none",
    }


@dataclass(frozen=True)
class Ctx:
    """One app in one round: its directory, environments and tools."""

    tmp: Path
    app: App
    platform_env: dict[str, str]
    cpython: Path
    uv: Path
    phases: dict[str, list[float]]
    version: str  # the exact runtime the loopback server has

    @property
    def python(self) -> str:
        return str(self.cpython / "bin" / "python3")

    @property
    def peer_env(self) -> dict[str, str]:
        return {**self.platform_env, "PATH": f"{self.cpython / 'bin'}:/usr/bin:/bin"}


def bin_compile(
    ctx: Ctx, n: int, cache_name: str = "cache", repo: Path = REPO
) -> tuple[float, dict[str, Any]]:
    build = ctx.tmp / f"{cache_name}-build{n}"
    shutil.copytree(ctx.app.source, build, ignore=shutil.ignore_patterns(".venv"))
    (build / ".python-version").write_text(f"{ctx.version}\n")
    cache = ctx.tmp / cache_name
    cmd = [str(repo / "bin" / "compile"), str(build), str(cache), str(ctx.tmp / "env")]
    # As before every peer: no writeback of the previous build's files during this one (a
    # platform's next build comes long after the last one's writes reached the disk).
    os.sync()
    seconds = run(cmd, ctx.platform_env)
    return seconds, json.loads((cache / "build-data" / "python.json").read_text())


def ours(ctx: Ctx, repo: Path = REPO, prefix: str = "") -> dict[str, float]:
    """Cold, warm and cold-with-the-store builds of ``repo``'s ``bin/compile`` (``prefix``:
    a label for another checkout, ``--baseline``). Each checkout has its own build caches
    and download cache (store) per round: its first build in a round is cold."""
    tag = prefix.strip().replace(" ", "-") or "ours"  # for folder names
    downloads = ctx.tmp / f"{tag}-downloads"
    ctx = replace(ctx, platform_env={**ctx.platform_env, "PYBUILDPACK_CACHE_DIR": str(downloads)})
    cold, r1 = bin_compile(ctx, 1, f"{tag}-cache", repo)
    warm, r2 = bin_compile(ctx, 2, f"{tag}-cache", repo)
    # an empty build cache on a machine that has the runtime in its store (built before)
    stored, r3 = bin_compile(ctx, 3, f"{tag}-cache-new-app", repo)
    assert r1["cache_status"] == "empty", r1
    assert r2["cache_status"] == "reused", r2
    assert r3["cache_status"] == "empty", r3
    for label, rep in (("cold", r1), ("warm", r2), ("cold-store", r3)):
        for k, v in rep.items():
            if k.endswith("_duration"):
                ctx.phases.setdefault(f"{prefix}{label}.{k}", []).append(float(v))
    return {f"{prefix}cold": cold, f"{prefix}warm": warm, f"{prefix}{STORE_COLD}": stored}


def venv_pip(ctx: Ctx) -> dict[str, float]:
    v = ctx.tmp / "venv-pip"
    s = run([ctx.python, "-m", "venv", str(v)], ctx.peer_env)
    s += run([str(v / "bin" / "pip"), "install", "--disable-pip-version-check",
              "-r", str(ctx.app.requirements)], ctx.peer_env)  # fmt: skip
    return {"venv+pip": s}


def venv_pip_lean(ctx: Ctx) -> dict[str, float]:
    v = ctx.tmp / "venv-lean"
    s = run([ctx.python, "-m", "venv", "--without-pip", str(v)], ctx.peer_env)
    s += run([ctx.python, "-m", "pip", "--python", str(v / "bin" / "python"), "install",
              "--disable-pip-version-check", "-r", str(ctx.app.requirements)],
             ctx.peer_env)  # fmt: skip
    return {"venv+pip (lean)": s}


def uv_peer(ctx: Ctx) -> dict[str, float]:
    v = ctx.tmp / "venv-uv"
    env = {**ctx.peer_env, "UV_CACHE_DIR": str(ctx.tmp / "uv-cache"),
           "UV_PYTHON_DOWNLOADS": "never"}  # fmt: skip
    s = run([str(ctx.uv), "venv", "--quiet", "--python", ctx.python, str(v)], env)
    s += run([str(ctx.uv), "pip", "install", "--quiet", "--compile-bytecode", "--offline",
              "--no-index", "--find-links", str(ctx.app.wheels), "--python",
              str(v / "bin" / "python"), "-r", str(ctx.app.requirements)], env)  # fmt: skip
    return {"uv": s}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--apps", default="webapp,big")
    parser.add_argument(
        "--wheelhouse",
        type=Path,
        default=Path(os.environ.get("PYBUILDPACK_TEST_WHEELHOUSE") or REPO / ".cache/wheelhouse"),
        help="the webapp's wheels (scripts/test fetches them)",
    )
    parser.add_argument(
        "--installer", default="auto", choices=("auto", "uv", "pip"),
        help="PYBUILDPACK_INSTALLER for the builds (default auto: uv for these apps)",
    )  # fmt: skip
    parser.add_argument("--tmpdir", help="where the builds and caches go (default: the system's)")
    parser.add_argument(
        "--baseline", type=Path,
        help="another checkout (an earlier commit) whose bin/compile also runs in every round "
        "(rows 'baseline ...'): a before/after under the same conditions",
    )  # fmt: skip
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    cpython = local_cpython(SERIES)
    if cpython is None or patchelf() is None:
        raise SystemExit(f"needs a local CPython {SERIES} (pyenv) and patchelf")
    if not any(RUNNER_WHEELS.glob("*.whl")):
        raise SystemExit(f"no runner wheels in {RUNNER_WHEELS} (run scripts/test first)")
    apps: list[App] = []
    for name in args.apps.split(","):
        if name == "webapp":
            if not any(args.wheelhouse.glob("flask-*.whl")):
                raise SystemExit(f"no wheelhouse at {args.wheelhouse} (run scripts/test first)")
            apps.append(App("webapp", REPO / "examples" / "webapp", args.wheelhouse))
        elif name == "big":
            apps.append(big_app(cpython / "bin" / "python3"))
        else:
            raise SystemExit(f"unknown app {name!r}")
    uv = uv_binary()
    tool_wheels = tool_wheel_dir(args.wheelhouse)
    versions = tool_versions(cpython, uv)
    stem = "build-tmpfs" if args.tmpdir else "build"
    where = args.tmpdir or tempfile.gettempdir()
    times: dict[str, dict[str, list[float]]] = {a.name: {} for a in apps}
    ratios: dict[str, dict[str, list[float]]] = {a.name: {} for a in apps}
    phases: dict[str, dict[str, list[float]]] = {a.name: {} for a in apps}

    with (
        tempfile.TemporaryDirectory(prefix="pybuildpack-bench-", dir=args.tmpdir) as t,
        serve() as server,
    ):
        base = Path(t)
        version = str(relocatable_copy(cpython, base / "runtime" / "python", keep_bytecode=True))
        archive = pack_dir(base / "runtime" / "python", "pbs")
        name = pbs_name(version)
        server.files[f"/20260101/{name}"] = archive
        entry = {"version": version, "release": "20260101",
                 "target": "x86_64-unknown-linux-gnu", "file": name,
                 "sha256": sha256(archive)}  # fmt: skip
        downloads = write_json(base / "downloads.json", downloads_doc(server.url, [entry]))
        catalog = write_catalog(base / "catalog.json", SERIES)
        for rnd in range(args.runs):
            for app in apps:
                tmp = base / f"r{rnd}-{app.name}"
                tmp.mkdir()
                (tmp / "app-home").mkdir()
                (tmp / "env").mkdir()
                platform_env = {
                    "PATH": "/usr/local/bin:/usr/bin:/bin",
                    "HOME": os.environ.get("HOME", "/root"),
                    "STACK": "heroku-24",
                    "NO_COLOR": "1",
                    "PYBUILDPACK_APP_HOME": str(tmp / "app-home"),
                    "PYBUILDPACK_EXPORT_FILE": str(tmp / "export"),
                    "PYBUILDPACK_CATALOG": str(catalog),
                    "PYBUILDPACK_DOWNLOADS": str(downloads),
                    "PYBUILDPACK_CACHE_DIR": str(tmp / "downloads"),
                    "PYBUILDPACK_ALLOW_INSECURE_HTTP": "1",  # the loopback server
                    "PYBUILDPACK_RUNNER_WHEELS": str(RUNNER_WHEELS),
                    "PIP_NO_INDEX": "1",
                    "PIP_FIND_LINKS": f"{app.wheels} {tool_wheels}",
                    "PIP_CONFIG_FILE": os.devnull,
                    "PYBUILDPACK_INSTALLER": args.installer,
                }
                ctx = Ctx(tmp, app, platform_env, cpython, uv, phases[app.name], version)
                contenders: list[Callable[[Ctx], dict[str, float]]] = [
                    ours, venv_pip, venv_pip_lean, uv_peer,
                ]  # fmt: skip
                if args.baseline is not None:
                    contenders.append(functools.partial(ours, repo=args.baseline.resolve(),
                                                        prefix=BASELINE))  # fmt: skip
                k = rnd % len(contenders)
                got: dict[str, float] = {}
                for fn in contenders[k:] + contenders[:k]:
                    os.sync()
                    got.update(fn(ctx))
                for label, seconds in got.items():
                    times[app.name].setdefault(label, []).append(seconds)
                if args.baseline is not None:
                    for mine in MINE:
                        ratios[app.name].setdefault(f"{mine} / {BASELINE}{mine}", []).append(
                            got[mine] / got[BASELINE + mine]
                        )
                for mine in mine_labels(args.baseline is not None):
                    for peer in ("venv+pip", "venv+pip (lean)", "uv"):
                        ratios[app.name].setdefault(f"{mine} / {peer}", []).append(
                            got[mine] / got[peer]
                        )
                # On the disk the round's files stay until the end: deleting gigabytes
                # between rounds slowed the next contender's file creation for tens of
                # seconds (ext4, discard), measuring the bench's clean-up rather than the
                # builds. Under --tmpdir (tmpfs: the files are memory) each round's go at
                # once: 7 rounds with --baseline would need about 30 GB.
                if args.tmpdir:
                    shutil.rmtree(tmp)
                print(f"round {rnd + 1}/{args.runs} {app.name}: "
                      + ", ".join(f"{k} {v:.2f}s" for k, v in got.items()))  # fmt: skip

    result: dict[str, Any] = {
        "benchmark": "classic bin/compile (subprocess) against venv+pip and uv",
        "date": time.strftime("%Y-%m-%d"),
        "runs": args.runs,
        "machine": {
            "cpus": os.cpu_count(),
            "arch": platform.machine(),
            "kernel": platform.release(),
            "builds_under": where,
        },
        "versions": versions,
        "installer": args.installer,
        "apps": {},
    }
    for app in apps:
        wheels = len(list(app.wheels.glob("*.whl")))
        result["apps"][app.name] = {
            "wheels": wheels,
            "seconds_median": {
                k: round(statistics.median(v), 3) for k, v in times[app.name].items()
            },
            "seconds": {k: [round(x, 3) for x in v] for k, v in times[app.name].items()},
            "ratio_medians": {
                k: round(statistics.median(v), 3) for k, v in ratios[app.name].items()
            },
            "phase_medians": {
                k: round(statistics.median(v), 3) for k, v in sorted(phases[app.name].items())
            },
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(render(result))
    print(render(result))
    return 0


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Build time: classic `bin/compile` against venv+pip and uv",
        "",
        f"{result['date']}; {m['cpus']} CPUs, {m['arch']}, Linux {m['kernel']}; builds under "
        f"{m['builds_under']}; median of {result['runs']} rounds (order rotated each round); "
        "ratios are medians of per-round ratios. Versions: "
        + ", ".join(f"{k} {v}" for k, v in result["versions"].items())
        + f". Builds run with PYBUILDPACK_INSTALLER={result.get('installer', 'auto')}.",
        "",
    ]
    for name, a in result["apps"].items():
        s, r = a["seconds_median"], a["ratio_medians"]
        lines += [
            f"## {name} ({a['wheels']} wheels)",
            "",
            "| contender | median (s) | rounds (s) | vs venv+pip | vs venv+pip (lean) | vs uv |",
            "|---|---|---|---|---|---|",
        ]
        mine = mine_labels(any(k.startswith(BASELINE) for k in a["seconds"]))
        for k in (*mine, "venv+pip", "venv+pip (lean)", "uv"):
            runs = ", ".join(f"{x:.2f}" for x in a["seconds"][k])
            if k in mine:
                rel = " | ".join(
                    f"{r[f'{k} / {p}']:.2f}x" for p in ("venv+pip", "venv+pip (lean)", "uv")
                )
            else:
                rel = " | | "
            lines.append(f"| {k} | {s[k]:.2f} | {runs} | {rel} |")
        if f"cold / {BASELINE}cold" in r:
            against = ", ".join(f"{k} {r[f'{k} / {BASELINE}{k}']:.2f}x" for k in MINE)
            lines += ["", f"This checkout against the baseline (per-round ratios): {against}."]
        lines += ["", "Phases (medians, seconds, from the build report):", "",
                  "| phase | median |", "|---|---|"]  # fmt: skip
        lines += [f"| {k} | {v:.3f} |" for k, v in a["phase_medians"].items()]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
