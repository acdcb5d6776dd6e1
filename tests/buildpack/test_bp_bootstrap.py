"""How the buildpack starts itself (bin/support/python.sh, entry.py, runner.lock), tried on
this machine with a PATH that hides what a bare build image lacks. The same start-up on real
Debian images is in tests/images."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from bp_support import REPO, base_env, local_cpython, local_series

from pybuildpack.buildpack import checks

RUNNER_WHEELS = Path(
    os.environ.get("PYBUILDPACK_TEST_RUNNER_WHEELS") or REPO / ".cache" / "runner-wheels"
)
ARCHES = ("x86_64", "aarch64")
# What every build image has (coreutils, sed, tar, gzip) - but no python, curl or wget.
BASE_TOOLS = ("sh", "uname", "date", "mkdir", "rm", "mv", "cp", "cat", "cut", "sed", "ls",
              "head", "sha256sum", "tar", "gzip", "id", "env")  # fmt: skip


def lock_entries(kind: str) -> list[list[str]]:
    text = (REPO / "bin" / "support" / "runner.lock").read_text()
    return [line.split() for line in text.splitlines() if line.startswith(kind + " ")]


def bare_buildpack(tmp: Path) -> Path:
    """The buildpack as a platform fetches a checkout: no dev venv, no bytecode."""
    bp = tmp / "buildpack"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "bin", bp / "bin", ignore=ignore)
    shutil.copytree(REPO / "src" / "pybuildpack", bp / "src" / "pybuildpack", ignore=ignore)
    shutil.copy2(REPO / "buildpack.toml", bp / "buildpack.toml")
    return bp


def tools_dir(tmp: Path, *extra: str) -> Path:
    """A PATH with the basic tools of a build image, plus ``extra``."""
    d = tmp / "tools"
    d.mkdir(exist_ok=True)
    for name in (*BASE_TOOLS, *extra):
        found = shutil.which(name)
        if found and not (d / name).exists():
            (d / name).symlink_to(found)
    return d


def need_runner_wheels() -> Path:
    files = [e[3] for e in lock_entries("wheel")]
    if not all((RUNNER_WHEELS / f).is_file() for f in files):
        pytest.skip(f"no runner wheels in {RUNNER_WHEELS}: run scripts/test")
    return RUNNER_WHEELS


def fake_runner_archive(tmp: Path) -> tuple[Path, str]:
    """A pbs-layout archive whose python/bin/python3 runs the test interpreter: enough to
    prove where the shim finds, verifies, unpacks and reuses its runner."""
    script = f'#!/bin/sh\nexec {sys.executable} "$@"\n'.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for d in ("python", "python/bin"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        info = tarfile.TarInfo("python/bin/python3")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    path = tmp / "runner.tar.gz"
    path.write_bytes(buf.getvalue())
    return path, hashlib.sha256(buf.getvalue()).hexdigest()


def compile_with(bp: Path, tmp: Path, env: dict[str, str], app_files: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    app = tmp / "app"
    app.mkdir(exist_ok=True)
    for name, text in (app_files or {"app.py": ""}).items():
        (app / name).write_text(text)
    env_dir = tmp / "env"
    env_dir.mkdir(exist_ok=True)
    return subprocess.run(["/bin/sh", str(bp / "bin" / "compile"), str(app), str(tmp / "cache"),
                           str(env_dir)], env=env, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip


def said(p: subprocess.CompletedProcess[str]) -> str:
    """stderr with the wrapped ` !     ` message lines joined back into sentences."""
    return re.sub(r"\s*\n !\s+", " ", p.stderr)


def no_python_env(tmp: Path, *extra_tools: str, **values: str) -> dict[str, str]:
    env = base_env(tmp)
    del env["PYBUILDPACK_PYTHON"]
    env["PATH"] = str(tools_dir(tmp, *extra_tools))
    env.update(values)
    return env


# --------------------------------------------------------------------------- the lock


def test_runner_lock_is_well_formed() -> None:
    wheels = lock_entries("wheel")
    assert {w[1] for w in wheels} >= {"packaging", "urllib3", "platformdirs"}
    for _, name, version, file, sha, path, marker in wheels:
        assert file.startswith(f"{name}-{version}-") and file.endswith("-none-any.whl"), file
        assert re.fullmatch(r"[0-9a-f]{64}", sha) and marker in ("all", "py<3.11")
        assert path == f"py3/{name[0]}/{name}"
    natives = lock_entries("native")
    tags = {f"cp3{minor}" for minor in range(10, 15)}
    assert {(n[6], n[7]) for n in natives} == {(t, a) for t in tags for a in ARCHES}
    for _, name, version, file, sha, path, tag, arch in natives:
        assert file.startswith(f"{name}-{version}-{tag}-{tag}-manylinux") and arch in file
        assert file.endswith(f"_{arch}.whl") and re.fullmatch(r"[0-9a-f]{64}", sha)
        assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{60}", path), path
    pythons = lock_entries("python")
    assert {p[1] for p in pythons} == set(ARCHES)
    downloads = json.loads((REPO / "src/pybuildpack/data/downloads.json").read_text())
    known = {a["file"]: a["sha256"] for a in downloads["sources"]["pbs"]["archives"]}
    for _, arch, version, release, file, sha in pythons:
        assert file.startswith(f"cpython-{version}+{release}-{arch}-unknown-linux-gnu-")
        assert re.fullmatch(r"[0-9a-f]{64}", sha)
        if file in known:  # the same archive the runtime metadata lists: the same digest
            assert known[file] == sha


def test_runner_wheels_admit_python_3_10_and_match_the_lock() -> None:
    house = need_runner_wheels()
    for _, name, _, file, sha, _, _ in lock_entries("wheel"):
        data = (house / file).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha, file
        with zipfile.ZipFile(house / file) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            text = zf.read(meta).decode()
            assert not any(n.endswith((".so", ".pyd")) for n in zf.namelist()), "pure Python only"
        requires = re.search(r"^Requires-Python: *(.+)$", text, re.M)
        if requires:
            from packaging.specifiers import SpecifierSet

            assert SpecifierSet(requires.group(1)).contains("3.10.0"), (name, requires.group(1))
        deps = [line for line in text.splitlines() if line.startswith("Requires-Dist:")
                and "extra ==" not in line]  # fmt: skip
        assert not deps, f"{name} needs {deps}: add them to the lock"


def test_detect_lists_in_sh_and_python_agree() -> None:
    text = (REPO / "bin" / "detect").read_text()
    files = re.search(r"DETECT_FILES='([^']*)'", text)
    dirs = re.search(r"DETECT_DIRS='([^']*)'", text)
    assert files and dirs
    assert tuple(files.group(1).split()) == checks.DETECT_FILES
    assert tuple(dirs.group(1).split()) == checks.DETECT_DIRS


# --------------------------------------------------------------------------- sh phases


def test_detect_and_release_need_no_python(tmp_path: Path) -> None:
    bp = bare_buildpack(tmp_path)
    env = {"PATH": str(tools_dir(tmp_path))}
    app = tmp_path / "app"
    app.mkdir()
    (app / "uv.lock").write_text("")
    p = subprocess.run(["/bin/sh", bp / "bin" / "detect", app], env=env, capture_output=True,
                       text=True)  # fmt: skip
    assert (p.returncode, p.stdout) == (0, "Python\n")
    (app / "uv.lock").unlink()
    (app / "notes.md").write_text("")
    p = subprocess.run(["/bin/sh", bp / "bin" / "detect", app], env=env, capture_output=True,
                       text=True)  # fmt: skip
    assert p.returncode == 1 and "No Python project files found" in p.stderr
    assert "notes.md" in p.stderr  # the app root is listed
    (app / "venv").write_text("")  # a *file* named venv does not count, as in Python
    p = subprocess.run(["/bin/sh", bp / "bin" / "detect", app], env=env, capture_output=True,
                       text=True)  # fmt: skip
    assert p.returncode == 1
    cnb = {**env, "CNB_PLATFORM_DIR": str(tmp_path), "CNB_BUILD_PLAN_PATH": str(tmp_path / "p")}
    p = subprocess.run(["/bin/sh", bp / "bin" / "detect"], env=cnb, cwd=app, capture_output=True,
                       text=True)  # fmt: skip
    assert p.returncode == 100
    p = subprocess.run(["/bin/sh", bp / "bin" / "release", app], env=env, capture_output=True,
                       text=True)  # fmt: skip
    assert (p.returncode, p.stdout) == (0, "---\n{}\n")


# --------------------------------------------------------------------------- no Python


def test_no_python_and_no_downloader_says_what_to_install(tmp_path: Path) -> None:
    bp = bare_buildpack(tmp_path)
    p = compile_with(
        bp, tmp_path, no_python_env(tmp_path, PYBUILDPACK_RUNNER_MIRROR="https://mirror.invalid")
    )
    assert p.returncode == 1
    assert "Could not download pybuildpack's own CPython" in p.stderr
    assert "neither curl nor wget is installed" in p.stderr  # the failing step's own words
    assert "install python3 (3.10 or newer)" in p.stderr
    assert "https://mirror.invalid/" in p.stderr  # the mirror was honoured
    assert not list((tmp_path / "cache" / ".heroku" / "pybuildpack-runner").glob(".new-*"))


def test_a_runner_that_fails_verification_is_never_unpacked(tmp_path: Path) -> None:
    bp = bare_buildpack(tmp_path)
    archive, _ = fake_runner_archive(tmp_path)
    env = no_python_env(tmp_path, PYBUILDPACK_RUNNER_PYTHON_URL=f"file://{archive}",
                        PYBUILDPACK_RUNNER_PYTHON_SHA256="0" * 64)  # fmt: skip
    p = compile_with(bp, tmp_path, env)
    assert p.returncode == 1
    assert (
        "failed verification" in p.stderr
        and hashlib.sha256(archive.read_bytes()).hexdigest() in p.stderr
    )
    runner = tmp_path / "cache" / ".heroku" / "pybuildpack-runner"
    assert not (runner / "python").exists() and not list(runner.glob(".new-*"))


@pytest.mark.parametrize("hidden", ["_ssl", "_hashlib", "zlib", None])
def test_a_python3_without_openssl_or_zlib_is_passed_over(
    tmp_path: Path, hidden: str | None
) -> None:
    """python3 on PATH that lacks a compiled module pybuildpack needs is not used: the shim
    goes on to its own CPython (here: an archive that fails verification, which shows the
    shim got that far). With nothing hidden, the same python3 is used."""
    bp = bare_buildpack(tmp_path)
    archive, _ = fake_runner_archive(tmp_path)
    wrapper_dir = tmp_path / "py"
    wrapper_dir.mkdir()
    hide = f"sys.modules[{hidden!r}] = None" if hidden else "pass"
    (wrapper_dir / "python3").write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2 $3 $4" = "-I -S -B -c" ]; then\n'
        "  code=$5; shift 5\n"
        f'  exec {sys.executable} -I -S -B -c "import sys; {hide}\n$code" "$@"\n'
        "fi\n"
        f'exec {sys.executable} "$@"\n'
    )
    (wrapper_dir / "python3").chmod(0o755)
    env = no_python_env(
        tmp_path,
        PYBUILDPACK_RUNNER_PYTHON_URL=f"file://{archive}",
        PYBUILDPACK_RUNNER_PYTHON_SHA256="0" * 64,
        PYBUILDPACK_RUNNER_WHEELS=str(tmp_path / "no-wheels"),
    )
    env["PATH"] = f"{wrapper_dir}:{env['PATH']}"
    p = compile_with(bp, tmp_path, env)
    assert p.returncode == 1
    if hidden:
        assert (
            "Setting up pybuildpack's own Python" in p.stderr and "failed verification" in p.stderr
        )
    else:
        assert "Setting up" not in p.stderr and "pybuildpack's dependencies" in p.stderr, p.stderr


def test_runner_url_and_sha256_go_together(tmp_path: Path) -> None:
    bp = bare_buildpack(tmp_path)
    env = no_python_env(tmp_path, PYBUILDPACK_RUNNER_PYTHON_URL="file:///x.tar.gz")
    p = compile_with(bp, tmp_path, env)
    assert p.returncode == 1 and "go together" in said(p)


def test_runner_is_fetched_once_then_reused_from_the_cache(tmp_path: Path) -> None:
    house = need_runner_wheels()
    bp = bare_buildpack(tmp_path)
    archive, digest = fake_runner_archive(tmp_path)
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    # classic config vars (ENV_DIR files) reach the bootstrap, not only the environment
    (env_dir / "PYBUILDPACK_RUNNER_PYTHON_URL").write_text(f"file://{archive}")
    (env_dir / "PYBUILDPACK_RUNNER_PYTHON_SHA256").write_text(digest)
    (env_dir / "PYBUILDPACK_RUNNER_WHEELS").write_text(str(house))
    env = no_python_env(tmp_path)
    first = compile_with(bp, tmp_path, env)
    assert "Setting up pybuildpack's own Python" in first.stderr, first.stderr
    assert "Fetching pybuildpack's dependencies" in first.stderr
    # pybuildpack itself ran: the app has no package manager file, a typed app error
    assert first.returncode == 1 and "[package-manager::none-found]" in first.stderr
    runner = tmp_path / "cache" / ".heroku" / "pybuildpack-runner"
    assert (runner / "python" / ".pybuildpack-runner").read_text().strip() == digest
    archive.unlink()  # a later build must not need the download again
    second = compile_with(bp, tmp_path, env)
    assert "[package-manager::none-found]" in second.stderr, second.stderr
    assert "Setting up" not in second.stderr and "Fetching" not in second.stderr
    # a pin that changed (a new buildpack release) replaces the cached runner
    (env_dir / "PYBUILDPACK_RUNNER_PYTHON_SHA256").write_text("f" * 64)
    third = compile_with(bp, tmp_path, env)
    assert third.returncode == 1 and "Could not download" in third.stderr
    assert (runner / "python" / ".pybuildpack-runner").read_text().strip() == digest  # kept


# --------------------------------------------------------------------------- the wheels


def test_wheels_are_verified_and_a_tampered_cache_copy_is_replaced(tmp_path: Path) -> None:
    house = need_runner_wheels()
    bp = bare_buildpack(tmp_path)
    env = base_env(tmp_path)
    del env["PYBUILDPACK_PYTHON"]  # python3 from PATH: runs isolated, deps from the wheels
    env["PYBUILDPACK_RUNNER_WHEELS"] = str(house)
    first = compile_with(bp, tmp_path, env)
    assert "[package-manager::none-found]" in first.stderr, first.stderr
    wheels = tmp_path / "cache" / ".heroku" / "pybuildpack-runner" / "wheels"
    packaging = next(wheels.glob("packaging-*.whl"))
    packaging.write_bytes(b"not the wheel")
    second = compile_with(bp, tmp_path, env)
    assert "Fetching pybuildpack's dependencies (1 wheels)" in second.stderr, second.stderr
    assert "[package-manager::none-found]" in second.stderr
    assert hashlib.sha256(packaging.read_bytes()).hexdigest() == next(
        e[4] for e in lock_entries("wheel") if e[1] == "packaging"
    )


def test_a_mirror_serving_a_different_wheel_is_refused(tmp_path: Path) -> None:
    house = need_runner_wheels()
    bad = tmp_path / "mirror"
    shutil.copytree(house, bad)
    victim = next(bad.glob("urllib3-*.whl"))
    victim.write_bytes(victim.read_bytes() + b"\0")
    bp = bare_buildpack(tmp_path)
    env = base_env(tmp_path)
    del env["PYBUILDPACK_PYTHON"]
    env["PYBUILDPACK_RUNNER_WHEELS"] = str(bad)
    p = compile_with(bp, tmp_path, env)
    assert p.returncode == 1 and "failed verification" in p.stderr, p.stderr
    assert "Traceback" not in p.stderr
    stored = tmp_path / "cache" / ".heroku" / "pybuildpack-runner" / "wheels"
    assert not (stored / victim.name).exists()


def test_offline_without_a_mirror_says_how_to_fix_it(tmp_path: Path) -> None:
    bp = bare_buildpack(tmp_path)
    env = base_env(tmp_path)
    del env["PYBUILDPACK_PYTHON"]
    env["PYBUILDPACK_RUNNER_WHEELS"] = str(tmp_path / "empty-mirror")
    p = compile_with(bp, tmp_path, env)
    assert p.returncode == 1
    assert "Could not download" in p.stderr and "PYBUILDPACK_RUNNER_WHEELS" in p.stderr


def test_a_damaged_packaged_wheel_is_an_error(tmp_path: Path) -> None:
    house = need_runner_wheels()
    bp = bare_buildpack(tmp_path)
    shutil.copytree(house, bp / "vendor" / "wheels")
    next((bp / "vendor" / "wheels").glob("platformdirs-*.whl")).write_bytes(b"x")
    env = base_env(tmp_path)
    del env["PYBUILDPACK_PYTHON"]
    p = compile_with(bp, tmp_path, env)
    assert p.returncode == 1 and "this copy of the buildpack is damaged" in said(p)


def test_the_apps_python_environment_never_reaches_the_runner(tmp_path: Path) -> None:
    """PYTHONPATH, PYTHONHOME, PIP_* and a user site of the app's: the runner ignores them,
    and writes nothing (no bytecode) into the buildpack directory."""
    house = need_runner_wheels()
    bp = bare_buildpack(tmp_path)
    poison = tmp_path / "poison"
    (poison / "packaging").mkdir(parents=True)
    (poison / "packaging" / "__init__.py").write_text("raise SystemExit('poisoned')\n")
    (poison / "sitecustomize.py").write_text("raise SystemExit('poisoned')\n")
    env = base_env(tmp_path)
    del env["PYBUILDPACK_PYTHON"]
    env.update(PYTHONPATH=str(poison), PYTHONSTARTUP=str(poison / "sitecustomize.py"),
               PIP_NO_INDEX="1", PIP_INDEX_URL="http://127.0.0.1:9/",
               PYBUILDPACK_RUNNER_WHEELS=str(house))  # fmt: skip
    before = sorted(str(p.relative_to(bp)) for p in bp.rglob("*"))
    p = compile_with(bp, tmp_path, env)
    assert "poisoned" not in p.stderr + p.stdout
    assert "[package-manager::none-found]" in p.stderr, p.stderr
    assert sorted(str(p.relative_to(bp)) for p in bp.rglob("*")) == before
    assert list((tmp_path / "cache" / ".heroku" / "pybuildpack-runner" / "pycache").rglob("*.pyc"))


def bare_runner_python(tmp: Path) -> Path:
    """A runner CPython as a build image has one: the standard library without bytecode,
    no third-party packages (a relocatable copy of a local pyenv CPython, the newest)."""
    from provisioning.archives import patchelf, relocatable_copy

    series = local_series()
    if not series or patchelf() is None:
        pytest.skip("needs a local CPython 3.10+ (pyenv) and patchelf")
    source = local_cpython(series[-1])
    assert source is not None
    runner = tmp / "runner-python"
    relocatable_copy(source, runner)
    return runner


def test_only_pybuildpacks_own_bytecode_is_written_and_only_to_the_runner_dir(
    tmp_path: Path,
) -> None:
    """The runner writes bytecode for pybuildpack's own modules, into the runner directory;
    its interpreter's standard library is read as it is and never written to, even where it
    has no bytecode and the build could write there (a process-wide pycache prefix would
    instead compile the whole standard library into every new build cache)."""
    house = need_runner_wheels()
    runner = bare_runner_python(tmp_path)  # no .pyc anywhere, and writable
    assert not list(runner.rglob("*.pyc"))
    bp = bare_buildpack(tmp_path)
    env = base_env(tmp_path)
    env.update(PYBUILDPACK_PYTHON=str(runner / "bin" / "python3"),
               PYBUILDPACK_RUNNER_WHEELS=str(house))  # fmt: skip
    p = compile_with(bp, tmp_path, env)
    assert "[package-manager::none-found]" in p.stderr, p.stderr  # ran the build's checks
    assert not list(runner.rglob("*.pyc")), "bytecode written into the runner's Python"
    assert not list(bp.rglob("*.pyc")), "bytecode written into the buildpack"
    pycache = tmp_path / "cache" / ".heroku" / "pybuildpack-runner" / "pycache"
    own = pycache / str(bp / "src").lstrip("/")
    written = list(pycache.rglob("*.pyc"))
    assert written and all(f.is_relative_to(own) for f in written), written
    assert {f.name.split(".")[0] for f in written} >= {"classic", "checks", "errors"}


def run_entry(tmp: Path, *phase: str, setup: str = "") -> subprocess.CompletedProcess[str]:
    """``entry.py`` run as ``bin/compile`` runs it (as ``__main__``), in a process that holds
    an object whose finalizer prints at a normal exit, after ``setup``."""
    house = need_runner_wheels()
    entry = REPO / "bin" / "support" / "entry.py"
    argv = [str(entry), "--runner-dir", str(tmp / "runner"), "--wheels", str(house), *phase]
    script = (
        "import runpy, sys\n"
        "class Noisy:\n"
        "    def __del__(self): print('teardown ran', file=sys.stderr)\n"
        f"keep = Noisy()\n{setup}\n"
        f"sys.argv = {argv!r}\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    env = {**base_env(tmp), "PYBUILDPACK_RUNNER_WHEELS": str(house)}
    return subprocess.run([sys.executable, "-I", "-S", "-B", "-c", script], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_a_finished_phase_ends_without_the_interpreter_teardown(tmp_path: Path) -> None:
    """A phase that returned (its files closed, the cache published) ends with ``os._exit``
    once its output is flushed: its code, its output and its report are all there."""
    app, cache = tmp_path / "app", tmp_path / "cache"
    app.mkdir()
    (app / ".python-version").write_text("3.13\n")
    failed = run_entry(tmp_path, "compile", str(app), str(cache), str(tmp_path / "env"))
    assert failed.returncode == 1, failed.stderr
    assert "[package-manager::none-found]" in failed.stderr
    assert "teardown ran" not in failed.stderr
    shown = run_entry(tmp_path, "report", str(app), str(cache), str(tmp_path / "env"))
    assert shown.returncode == 0 and "teardown ran" not in shown.stderr
    assert json.loads(shown.stdout)["failure_reason"] == "package-manager::none-found"


def test_a_phase_with_something_pending_exits_normally(tmp_path: Path) -> None:
    pending = "import atexit\natexit.register(lambda: print('pending ran', file=sys.stderr))"
    app = tmp_path / "app"
    app.mkdir()
    done = run_entry(tmp_path, "report", str(app), str(tmp_path / "cache"), setup=pending)
    assert done.returncode == 0
    assert "pending ran" in done.stderr and "teardown ran" in done.stderr


# --------------------------------------------------------------------------- accelerators


def native_for(runner: Path, house: Path) -> tuple[Path, list[str]]:
    """The pinned isal wheel for ``runner``'s interpreter tag and this machine, from the
    test mirror, and its lock entry."""
    tag = subprocess.run([str(runner / "bin" / "python3"), "-I", "-S", "-c",
                          "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')"],
                         capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    machine = os.uname().machine
    entry = next((e for e in lock_entries("native") if e[6] == tag and e[7] == machine), None)
    if entry is None or not (house / entry[3]).is_file():
        pytest.skip(f"no pinned isal wheel for {tag} on {machine} in {house} (scripts/test)")
    return house / entry[3], entry


def mirror_with(tmp: Path, house: Path, native: Path, data: bytes | None = None) -> Path:
    """A runner-wheel mirror with the pure wheels and ``native`` (or other bytes under its
    name)."""
    mirror = tmp / "mirror"
    mirror.mkdir(exist_ok=True)
    for _, _, _, file, *_ in lock_entries("wheel"):
        shutil.copy2(house / file, mirror / file)
    (mirror / native.name).write_bytes(native.read_bytes() if data is None else data)
    return mirror


def test_the_accelerator_is_verified_unpacked_once_and_importable(tmp_path: Path) -> None:
    """With its pinned wheel at hand, ISA-L is unpacked into the runner directory (only its
    modules), stamped with the wheel's sha256, and imports in the runner's interpreter; a
    later build uses the folder as it is, without the wheel; a folder whose stamp names
    another digest is unpacked again."""
    house = need_runner_wheels()
    runner = bare_runner_python(tmp_path)
    native, entry = native_for(runner, house)
    bp = bare_buildpack(tmp_path)
    env = base_env(tmp_path)
    env.update(PYBUILDPACK_PYTHON=str(runner / "bin" / "python3"),
               PYBUILDPACK_RUNNER_WHEELS=str(mirror_with(tmp_path, house, native)))  # fmt: skip
    p = compile_with(bp, tmp_path, env)
    assert "[package-manager::none-found]" in p.stderr, p.stderr
    folder = tmp_path / "cache/.heroku/pybuildpack-runner/native" / native.name[: -len(".whl")]
    assert (folder / ".pybuildpack-native").read_text().strip() == entry[4]
    files = sorted(str(f.relative_to(folder)) for f in folder.rglob("*") if f.is_file())
    assert files[0] == ".pybuildpack-native"
    assert all(f.endswith((".py", ".so")) and f.startswith("isal/") for f in files[1:]), files
    code = f"import sys; sys.path.insert(0, {str(folder)!r}); from isal import isal_zlib"
    subprocess.run([str(runner / "bin" / "python3"), "-I", "-S", "-B", "-c", code], check=True)

    (tmp_path / "mirror" / native.name).unlink()  # the folder is enough now
    (tmp_path / "cache/.heroku/pybuildpack-runner/wheels" / native.name).unlink()
    before = (folder / "isal" / "__init__.py").stat().st_ino
    p = compile_with(bp, tmp_path, env)
    assert "[package-manager::none-found]" in p.stderr, p.stderr
    assert (folder / "isal" / "__init__.py").stat().st_ino == before  # not unpacked again

    (folder / ".pybuildpack-native").write_text("0" * 64 + "\n")  # another digest
    (tmp_path / "mirror" / native.name).write_bytes(native.read_bytes())
    p = compile_with(bp, tmp_path, env)
    assert "[package-manager::none-found]" in p.stderr, p.stderr
    assert (folder / ".pybuildpack-native").read_text().strip() == entry[4]
    assert (folder / "isal" / "__init__.py").stat().st_ino != before


def test_an_accelerator_that_is_not_the_pinned_file_is_never_unpacked(tmp_path: Path) -> None:
    """A mirror serving other bytes under the accelerator's name: nothing is unpacked or
    kept, the build runs on (zlib does the work), and the mirror is not asked again for a
    day."""
    house = need_runner_wheels()
    runner = bare_runner_python(tmp_path)
    native, _ = native_for(runner, house)
    bp = bare_buildpack(tmp_path)
    env = base_env(tmp_path)
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:  # a well-formed wheel of someone else's
        zf.writestr("isal/__init__.py", "raise SystemExit('poisoned')\n")
    mirror = mirror_with(tmp_path, house, native, evil.getvalue())
    env.update(PYBUILDPACK_PYTHON=str(runner / "bin" / "python3"),
               PYBUILDPACK_RUNNER_WHEELS=str(mirror))  # fmt: skip
    p = compile_with(bp, tmp_path, env)
    assert "[package-manager::none-found]" in p.stderr, p.stderr
    assert "poisoned" not in p.stderr
    runner_dir = tmp_path / "cache/.heroku/pybuildpack-runner"
    assert [f.name for f in (runner_dir / "native").iterdir()] == [native.name + ".missed"]
    assert not (runner_dir / "wheels" / native.name).exists()

    (tmp_path / "mirror" / native.name).write_bytes(native.read_bytes())  # fixed
    p = compile_with(bp, tmp_path, env)
    assert [f.name for f in (runner_dir / "native").iterdir()] == [native.name + ".missed"]
    missed = runner_dir / "native" / (native.name + ".missed")
    os.utime(missed, (0, 0))  # a day later
    p = compile_with(bp, tmp_path, env)
    assert "[package-manager::none-found]" in p.stderr, p.stderr
    assert (runner_dir / "native" / native.name[: -len(".whl")] / "isal").is_dir()


@pytest.mark.parametrize("name", ["../escape.py", "/abs/escape.py", "isal/../../escape.py",
                                  "isal\\..\\escape.py", "isal//escape.py"])  # fmt: skip
def test_an_accelerator_member_with_a_path_outside_is_refused(tmp_path: Path, name: str) -> None:
    """Even a wheel whose sha256 matched is unpacked only by plain relative names: one
    that climbs out, is absolute or has empty or backslashed parts refuses the whole
    wheel, and nothing of it is kept."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bp_entry", REPO / "bin/support/entry.py")
    assert spec is not None and spec.loader is not None
    entry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(entry)
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr("isal/__init__.py", "")
        zf.writestr(name, "raise SystemExit('escaped')\n")
    final = tmp_path / "runner" / "native" / "isal-x"
    final.parent.mkdir(parents=True)
    with pytest.raises(entry.BootstrapError, match="unexpected member"):
        entry._unpack_native(data.getvalue(), str(final), "0" * 64)
    assert list(tmp_path.rglob("*.py")) == []
    assert [p.name for p in final.parent.iterdir()] == []
