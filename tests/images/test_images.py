"""The buildpack on real build images, run the way platforms run it.

Each case builds ``examples/webapp`` twice with the same cache inside a Debian image made
with debootstrap, then starts the built app inside the image and gets HTTP 200:

* images: system python3 without venv or pip (like heroku-24's build image), no python3 at
  all (like many CNB builders), and a python3 older than 3.10;
* the buildpack as a git checkout and as the packaged release (``scripts/package.py``),
  bound read-only into the image: a build that wrote into it would fail;
* the classic contract (``bin/detect``, ``bin/compile`` twice, ``bin/release``) and the CNB
  contract (``bin/detect``, ``bin/build`` twice with the lifecycle's layer restore between).

Nothing comes from the internet: the app's runtime, the runner CPython (where the image has
no usable Python) and pybuildpack's own wheels are served from a loopback server. The test
counts what was fetched: the second build fetches nothing for the runner.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bp_support import Lifecycle, check_layers_dir, local_cpython
from sandbox import IMAGES, REPO, Bind, Sandbox, rootfs, wait_for_http, why_not_supported
from test_bp_bootstrap import bare_buildpack, lock_entries
from test_bp_e2e import EXAMPLE, free_port, wheelhouse, wheelhouse_series

from provisioning.archives import (
    downloads_doc,
    pack_dir,
    patchelf,
    pbs_name,
    relocatable_copy,
    sha256,
    write_json,
)
from provisioning.loopback import LoopbackServer, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.images]

RUNNER_WHEELS = Path(
    os.environ.get("PYBUILDPACK_TEST_RUNNER_WHEELS") or REPO / ".cache" / "runner-wheels"
)
CHROOT_PATH = "/usr/local/bin:/usr/bin:/bin"
MACHINE = os.uname().machine
CNB_BP = "/cnb/buildpacks/pybuildpack_python/0.1.0"
OLD_PYTHON = "3.9"


def _lock_lines() -> list[list[str]]:
    return lock_entries("wheel")


def _lock_wheels() -> list[str]:
    return [fields[3] for fields in _lock_lines()]


def _lock_natives(runner: tuple[int, int] | None = None) -> list[str]:
    """The optional compiled wheels the lock pins: all, or those for a runner Python."""
    tag = f"cp{runner[0]}{runner[1]}" if runner else None
    return [n[3] for n in lock_entries("native")
            if runner is None or (n[6] == tag and n[7] == MACHINE)]  # fmt: skip


# --------------------------------------------------------------------------- shared inputs


@dataclass
class Inputs:
    server: LoopbackServer
    tmp: Path
    version: str  # the app's runtime, served as a pbs archive
    runtime_path: str
    runner_path: str
    runner_sha256: str
    runner_version: tuple[int, int]
    downloads: Path
    checkout: Path
    package: Path


def _package(dest: Path, out: Path) -> Path:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "package.py"), "--wheels", str(RUNNER_WHEELS),
         "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tarball,) = out.glob("pybuildpack-*.tgz")
    dest.mkdir()
    with tarfile.open(tarball) as tar:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(dest, **safe)
    assert (dest / "vendor" / "wheels").is_dir()
    return dest


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Inputs]:
    reason = why_not_supported()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"image tests cannot run in CI: {reason}")
        pytest.skip(reason)
    missing = [f for f in _lock_wheels() if not (RUNNER_WHEELS / f).is_file()]
    if missing:
        pytest.skip(f"no runner wheels in {RUNNER_WHEELS} ({missing[0]}, ...): run scripts/test")
    house = wheelhouse()
    series = wheelhouse_series(house)
    source = local_cpython(series)
    runner_source = next(
        (p for s in ("3.13", "3.12", "3.11", "3.10") if (p := local_cpython(s)) is not None), None
    )
    if source is None or runner_source is None or patchelf() is None:
        pytest.skip(f"needs local CPythons (pyenv) for {series} and >= 3.10, and patchelf")
    tmp = tmp_path_factory.mktemp("images")
    version = relocatable_copy(source, tmp / "runtime" / "python")
    runtime = pack_dir(tmp / "runtime" / "python", "pbs")
    runner_version = relocatable_copy(runner_source, tmp / "runner" / "python")
    runner = pack_dir(tmp / "runner" / "python", "pbs")
    name = pbs_name(str(version))
    with serve() as server:
        runtime_path = f"/20260101/{name}"
        server.files[runtime_path] = runtime
        server.files["/runner/cpython-runner-install_only.tar.gz"] = runner
        for wheel in _lock_wheels():
            server.files[f"/wheels/{wheel}"] = (RUNNER_WHEELS / wheel).read_bytes()
        for wheel in _lock_natives():  # ISA-L for the runner, where scripts/test got it
            if (RUNNER_WHEELS / wheel).is_file():
                server.files[f"/wheels/{wheel}"] = (RUNNER_WHEELS / wheel).read_bytes()
        entry = {
            "version": str(version),
            "release": "20260101",
            "target": "x86_64-unknown-linux-gnu",
            "file": name,
            "sha256": sha256(runtime),
        }
        srv = tmp / "srv"
        srv.mkdir()
        downloads = write_json(srv / "downloads.json", downloads_doc(server.url, [entry]))
        yield Inputs(
            server=server, tmp=tmp, version=str(version), runtime_path=runtime_path,
            runner_path="/runner/cpython-runner-install_only.tar.gz",
            runner_sha256=sha256(runner), downloads=downloads,
            runner_version=(runner_version.major, runner_version.minor),
            checkout=bare_buildpack(tmp),
            package=_package(tmp / "package", tmp / "dist"),
        )  # fmt: skip


def _config(inputs: Inputs) -> dict[str, str]:
    """What an operator sets for an offline build: app config vars / platform env."""
    url = inputs.server.url
    return {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": "/wheelhouse",
        "PYBUILDPACK_DOWNLOADS": "/srv/downloads.json",
        # the loopback server speaks plain http: allowed explicitly, digests pinned above
        "PYBUILDPACK_ALLOW_INSECURE_HTTP": "1",
        "PYBUILDPACK_RUNNER_WHEELS": f"{url}/wheels",
        "PYBUILDPACK_RUNNER_PYTHON_URL": f"{url}{inputs.runner_path}",
        "PYBUILDPACK_RUNNER_PYTHON_SHA256": inputs.runner_sha256,
    }


def _image(kind: str, upper: Path) -> tuple[Path, list[Bind]]:
    """The root file system for ``kind`` and the extra binds it needs; ``upper`` is the
    sandbox's overlay upper directory (what it holds shows through the image)."""
    if kind == "old-python":
        old = local_cpython(OLD_PYTHON)
        if old is None:
            pytest.skip(f"needs a local CPython {OLD_PYTHON} (pyenv) for the old-python image")
        # the bare image with an old python3 at its pyenv path, as python3 on PATH
        link = upper / "usr" / "local" / "bin"
        link.mkdir(parents=True)
        (link / "python3").symlink_to(old / "bin" / f"python{OLD_PYTHON}")
        return rootfs(IMAGES["bare"]), [Bind(old, str(old), readonly=True)]
    return rootfs(IMAGES[kind]), []


def _snapshot(server: LoopbackServer) -> dict[str, int]:
    return dict(server.hits)


def _fetched(before: dict[str, int], server: LoopbackServer, prefix: str) -> int:
    return sum(n - before.get(p, 0) for p, n in server.hits.items() if p.startswith(prefix))


def _fresh_app(dest: Path, version: str) -> None:
    """The example app, pinned to the runtime the loopback server has."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(EXAMPLE, dest)
    (dest / ".python-version").write_text(f"{version}\n")


def _web_command() -> str:
    procfile = (EXAMPLE / "Procfile").read_text()
    line = next(x for x in procfile.splitlines() if x.startswith("web:"))
    return line.split(":", 1)[1].strip().replace("0.0.0.0", "127.0.0.1")


def _check_python_in_image(box: Sandbox, kind: str) -> None:
    """The image is what the case says it is: a test that passed on the wrong image would
    prove nothing."""
    probe = box.run(["/bin/sh", "-c", "command -v python3 && python3 --version"],
                    {"PATH": CHROOT_PATH})  # fmt: skip
    if kind == "bare":
        assert probe.returncode != 0, probe.stdout
    elif kind == "old-python":
        assert f"Python {OLD_PYTHON}." in probe.stdout, probe.stdout + probe.stderr
    else:
        assert re.search(r"Python 3\.1\d", probe.stdout), probe.stdout + probe.stderr
        venv = box.run(["python3", "-c", "import ensurepip"], {"PATH": CHROOT_PATH})
        assert venv.returncode != 0, "the image should have no ensurepip (python3-venv)"


def _expect_first_fetches(
    inputs: Inputs, kind: str, flavour: str, fetched_runner: int, fetched_wheels: int
) -> None:
    assert fetched_runner == (0 if kind == "python" else 1)
    runner = (3, 11) if kind == "python" else inputs.runner_version  # bookworm's python3: 3.11
    needed = [w for w in _lock_lines() if w[6] == "all" or runner < (3, 11)]
    natives = _lock_natives(runner)  # and the ISA-L wheel pinned for its interpreter
    # a checkout fetches the wheels its runner needs; a packaged release carries them
    assert fetched_wheels == (0 if flavour == "package" else len(needed) + len(natives))


def _expect_isal_unpacked(
    inputs: Inputs, kind: str, cache: Path, box: Sandbox, env: dict[str, str]
) -> None:
    """The ISA-L wheel pinned for the runner's interpreter (where scripts/test could fetch
    it) was unpacked into the runner directory, stamped, and imports in the image with the
    runner's Python."""
    runner = (3, 11) if kind == "python" else inputs.runner_version
    runner_dir = "/cache/.heroku/pybuildpack-runner"
    python = "python3" if kind == "python" else f"{runner_dir}/python/bin/python3"
    for wheel in _lock_natives(runner):
        if (RUNNER_WHEELS / wheel).is_file():
            name = wheel[: -len(".whl")]
            folder = cache / ".heroku" / "pybuildpack-runner" / "native" / name
            assert (folder / ".pybuildpack-native").is_file(), sorted(folder.parent.iterdir())
            code = (f"import sys; sys.path.insert(0, '{runner_dir}/native/{name}'); "
                    "from isal import isal_zlib; print(isal_zlib.__file__)")  # fmt: skip
            proc = box.run([python, "-I", "-S", "-B", "-c", code], env)
            assert proc.returncode == 0 and "/native/" in proc.stdout, proc.stderr


def _expect_the_app_answers(
    box: Sandbox, script: str, env: dict[str, str], cwd: str, port: int, version: str
) -> None:
    """Start the web process inside the image; it answers HTTP 200 with the built Python."""
    running = box.start(["/bin/sh", "-c", script], env, cwd=cwd)
    try:
        status, body = wait_for_http(f"http://127.0.0.1:{port}/", running)
    finally:
        running.stop()
    assert status == 200
    assert json.loads(body) == {"message": "Hello from pybuildpack", "python": version}


# --------------------------------------------------------------------------- the cases

KINDS = ["python", "bare", "old-python"]
FLAVOURS = ["checkout", "package"]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("kind", KINDS)
def test_classic_builds_twice_and_serves(
    inputs: Inputs, tmp_path: Path, kind: str, flavour: str
) -> None:
    lower, extra = _image(kind, tmp_path / "box" / "upper")
    app, cache, env_dir = tmp_path / "app", tmp_path / "cache", tmp_path / "env"
    cache.mkdir()
    env_dir.mkdir()
    for k, v in _config(inputs).items():
        (env_dir / k).write_text(v)
    bp = inputs.checkout if flavour == "checkout" else inputs.package
    box = Sandbox(lower, tmp_path / "box", [
        *extra,
        Bind(bp, "/buildpack", readonly=True),
        Bind(app, "/app"), Bind(cache, "/cache"), Bind(env_dir, "/env", readonly=True),
        Bind(wheelhouse(), "/wheelhouse", readonly=True),
        Bind(inputs.downloads.parent, "/srv", readonly=True),
    ])  # fmt: skip
    _fresh_app(app, inputs.version)
    _check_python_in_image(box, kind)
    probe = box.run(["/bin/sh", "-c", "touch /buildpack/probe"], {"PATH": CHROOT_PATH})
    assert probe.returncode != 0, "the buildpack must be read-only in the image"
    base = {"PATH": CHROOT_PATH, "HOME": "/root", "LANG": "C.UTF-8", "STACK": "heroku-24"}

    detect = box.run(["/buildpack/bin/detect", "/app"], base)
    assert (detect.returncode, detect.stdout) == (0, "Python\n"), detect.stderr

    logs = []
    for build in (1, 2):
        if build == 2:
            _fresh_app(app, inputs.version)  # a new build directory, the same cache
        before = _snapshot(inputs.server)
        proc = box.run(["/buildpack/bin/compile", "/app", "/cache", "/env"], base, cwd="/app")
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log
        assert "Traceback" not in log
        runner = _fetched(before, inputs.server, "/runner/")
        wheels = _fetched(before, inputs.server, "/wheels/")
        if build == 1:
            _expect_first_fetches(inputs, kind, flavour, runner, wheels)
            assert _fetched(before, inputs.server, "/20260101/") == 1
            _expect_isal_unpacked(inputs, kind, cache, box, base)
        else:
            assert (runner, wheels) == (0, 0), "a later build fetches nothing for the runner"
            assert _fetched(before, inputs.server, "/20260101/") == 0
            assert "Setting up pybuildpack's own Python" not in log
        logs.append(log)
    assert f"Python {inputs.version}" in logs[0]

    release = box.run(["/buildpack/bin/release", "/app"], base)
    assert release.returncode == 0 and release.stdout.startswith("---"), release.stderr

    port = free_port()
    serve_env = {"PATH": CHROOT_PATH, "HOME": "/app", "PORT": str(port), "LANG": "C.UTF-8"}
    script = f'for f in /app/.profile.d/*.sh; do . "$f"; done; exec {_web_command()}'
    _expect_the_app_answers(box, script, serve_env, "/app", port, inputs.version)


def _launch_env(layers: Path, inside: str, base: dict[str, str]) -> dict[str, str]:
    """The app's environment at launch (Buildpack API 0.10): each launch layer's bin/ and
    lib/, then its env/ and env.launch/ files."""
    import tomllib

    env = dict(base)
    for toml_path in sorted(layers.glob("*.toml")):
        if toml_path.name in ("launch.toml", "build.toml", "store.toml"):
            continue
        if not tomllib.loads(toml_path.read_text()).get("types", {}).get("launch"):
            continue
        layer = toml_path.with_suffix("")
        where = f"{inside}/{layer.name}"
        if (layer / "bin").is_dir():
            env["PATH"] = f"{where}/bin:{env.get('PATH', '')}"
        if (layer / "lib").is_dir():
            env["LD_LIBRARY_PATH"] = f"{where}/lib:{env.get('LD_LIBRARY_PATH', '')}".rstrip(":")
        for scope in ("env", "env.launch"):
            d = layer / scope
            if not d.is_dir():
                continue
            for f in sorted(d.iterdir()):
                name, _, suffix = f.name.partition(".")
                value = f.read_text()
                delim = (d / f"{name}.delim").read_text() if (d / f"{name}.delim").exists() else ""
                if suffix in ("", "override"):
                    env[name] = value
                elif suffix == "default":
                    env.setdefault(name, value)
                elif suffix == "prepend":
                    env[name] = value + delim + env[name] if env.get(name) else value
                elif suffix == "append":
                    env[name] = env[name] + delim + value if env.get(name) else value
    return env


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("kind", KINDS)
def test_cnb_builds_twice_and_serves(
    inputs: Inputs, tmp_path: Path, kind: str, flavour: str
) -> None:
    if sys.version_info < (3, 11):
        pytest.skip("reads layer metadata with tomllib (Python >= 3.11)")
    lower, extra = _image(kind, tmp_path / "box" / "upper")
    app = tmp_path / "workspace"
    lc = Lifecycle(tmp_path, app)  # host-side layers/platform dirs and the restore step
    config = _config(inputs)
    lc.user_env(**config)
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "bp-plan.toml").write_text("")
    bp = inputs.checkout if flavour == "checkout" else inputs.package
    box = Sandbox(lower, tmp_path / "box", [
        *extra,
        Bind(bp, CNB_BP, readonly=True),
        Bind(app, "/workspace"), Bind(tmp_path / "layers", "/layers"),
        Bind(lc.platform, "/platform", readonly=True), Bind(plan, "/plan"),
        Bind(wheelhouse(), "/wheelhouse", readonly=True),
        Bind(inputs.downloads.parent, "/srv", readonly=True),
    ])  # fmt: skip
    _fresh_app(app, inputs.version)
    _check_python_in_image(box, kind)
    # clear-env = false: the lifecycle hands the platform's env/ to the buildpack
    base = {"PATH": CHROOT_PATH, "HOME": "/root", "LANG": "C.UTF-8", **config,
            "CNB_PLATFORM_DIR": "/platform", "CNB_BUILDPACK_DIR": CNB_BP,
            "CNB_TARGET_OS": "linux", "CNB_TARGET_ARCH": "amd64",
            "CNB_TARGET_DISTRO_NAME": "ubuntu", "CNB_TARGET_DISTRO_VERSION": "24.04"}  # fmt: skip

    detect = box.run([f"{CNB_BP}/bin/detect"], {**base, "CNB_BUILD_PLAN_PATH": "/plan/plan.toml"},
                     cwd="/workspace")  # fmt: skip
    assert detect.returncode == 0, detect.stdout + detect.stderr

    build_env = {**base, "CNB_LAYERS_DIR": "/layers/pybuildpack_python",
                 "CNB_BP_PLAN_PATH": "/plan/bp-plan.toml"}  # fmt: skip
    for build in (1, 2):
        if build == 2:
            lc.restore()
            _fresh_app(app, inputs.version)
        before = _snapshot(inputs.server)
        proc = box.run([f"{CNB_BP}/bin/build"], build_env, cwd="/workspace")
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log
        assert "Traceback" not in log
        check_layers_dir(lc.layers)
        runner_toml = (lc.layers / "pybuildpack-runner.toml").read_text()
        assert "launch = false" in runner_toml and "cache = true" in runner_toml
        runner = _fetched(before, inputs.server, "/runner/")
        wheels = _fetched(before, inputs.server, "/wheels/")
        if build == 1:
            _expect_first_fetches(inputs, kind, flavour, runner, wheels)
        else:
            assert (runner, wheels) == (0, 0), "a later build fetches nothing for the runner"
            assert "Setting up pybuildpack's own Python" not in log

    port = free_port()
    launch = _launch_env(lc.layers, "/layers/pybuildpack_python",
                         {"PATH": CHROOT_PATH, "HOME": "/root", "PORT": str(port)})  # fmt: skip
    assert "pybuildpack-runner" not in launch["PATH"], "the runner never reaches the app image"
    script = f"exec {_web_command()}"
    _expect_the_app_answers(box, script, launch, "/workspace", port, inputs.version)
