"""The classic build cache cannot be changed by anything but a successful save.

* a file edited in place in the build tree (a hook, a tool that rewrites a file) during a
  build that then fails, or after a build (a later buildpack), leaves the cache as it was;
* a killed build leaves leftovers that the next build removes;
* two builds of different apps at once on one host do not install into each other
  (``APP_HOME/.heroku/python`` is one path: builds take turns);
* everything written into ``export`` and ``.profile.d`` is shell-quoted.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from bp_support import ClassicPlatform, FakeInstaller, local_cpython, local_series, make_app

from pybuildpack.buildpack.build_cache import BuildCache

HERE = Path(__file__).resolve().parent
REQS = {"requirements.txt": ""}


def protected(home: Path) -> Path:
    """The local CPython's own copy of the file these tests edit in ``home``."""
    series = stdlib_file(home).parent.name.removeprefix("python")
    base = local_cpython(series)
    assert base is not None
    return base / "lib" / f"python{series}" / "os.py"


def append_unless_protected(f: Path, text: str, home: Path) -> None:
    assert not f.samefile(protected(home)), f"{f} is the local CPython's own file"
    with f.open("a") as fh:
        fh.write(text)


class PrivateFilesInstaller(FakeInstaller):
    """The fake installer hard-links a local CPython's files; the ones these tests edit in
    place get files of their own first, so that the local CPython is never changed."""

    def __call__(self, version: Any, dest: Path, **kwargs: Any) -> Any:
        result = super().__call__(version, dest, **kwargs)
        for f in dest.glob("lib/python3.*/os.py"):
            st = f.stat()
            tmp = f.with_name(".os.py.tmp")
            tmp.write_bytes(f.read_bytes())
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
            os.replace(tmp, f)
            assert f.stat().st_nlink == 1
        return result


@pytest.fixture
def platform(platform: ClassicPlatform) -> ClassicPlatform:
    platform.installer = PrivateFilesInstaller()
    base = local_cpython(local_series()[-1])
    assert base is not None
    platform.env["PROTECTED"] = str(next(base.glob("lib/python3.*/os.py")))
    return platform


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry under ``root``: its type, mode and content (symlinks: their target)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if p.is_symlink():
                out[rel] = f"link {os.readlink(p)}"
            elif p.is_dir():
                out[rel] = f"dir {st.st_mode:o}"
            else:
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
                out[rel] = f"file {st.st_mode:o} {st.st_mtime_ns} {digest}"
    return out


def cache_digest(platform: ClassicPlatform) -> dict[str, str]:
    return tree_digest(platform.cache_dir / ".heroku" / "pybuildpack" / "current")


def stdlib_file(home: Path) -> Path:
    found = sorted(home.glob("lib/python3.*/os.py"))
    assert found, f"no os.py under {home}"
    return found[0]


EDIT_HOOK = """#!/bin/sh
set -e
os_py="$(ls -d .heroku/python/lib/python3.*)/os.py"
# never the local CPython's own file (the fake installer links it): fail loudly instead
if [ "$(stat -c %d:%i "$os_py")" = "$(stat -c %d:%i "$PROTECTED")" ]; then
  echo "refusing to edit $os_py: it is the local CPython's own file"; exit 99
fi
# in place: the same inode, as `>>`, `cp` onto a file, or an editor that truncates would
printf '# edited in place\\n' >> .heroku/python/RUNTIME
printf '# edited in place\\n' >> "$os_py"
chmod 600 .heroku/python/RUNTIME
exit "${HOOK_EXIT:-0}"
"""


def test_in_place_edits_in_a_failed_build_do_not_reach_the_cache(
    platform: ClassicPlatform,
) -> None:
    built, first_dir = platform.compile(REQS)
    assert built.code == 0, built.log
    cache = BuildCache(platform.cache_dir)
    before, state = cache_digest(platform), cache.state()
    built, second_dir = platform.compile({**REQS, "bin/post_compile": EDIT_HOOK}, HOOK_EXIT="3")
    assert built.code == 1 and "[hooks::failed]" in built.err, built.log
    assert platform.report()["cache_status"] == "reused"  # the edit hit restored files
    edited = (second_dir / ".heroku" / "python" / "RUNTIME").read_text()
    assert edited.endswith("# edited in place\n")  # the attack did happen
    assert cache.state() == state
    assert cache_digest(platform) == before
    # and the earlier build's tree (shipped as that build's slug) is untouched too
    assert "edited" not in (first_dir / ".heroku" / "python" / "RUNTIME").read_text()
    # the next build starts from the unchanged cache
    built, third_dir = platform.compile(REQS)
    assert built.code == 0, built.log
    assert "edited" not in (third_dir / ".heroku" / "python" / "RUNTIME").read_text()
    assert "edited" not in stdlib_file(third_dir / ".heroku" / "python").read_text()


def test_edits_after_a_build_do_not_reach_the_cache(platform: ClassicPlatform) -> None:
    """A later buildpack (or the platform) writes into the build tree after the save."""
    for _ in range(2):  # cold, then warm: both saves
        built, build_dir = platform.compile(REQS)
        assert built.code == 0, built.log
        before = cache_digest(platform)
        home = build_dir / ".heroku" / "python"
        for f in (home / "RUNTIME", stdlib_file(home)):
            append_unless_protected(f, "# a later buildpack was here\n", home)
        (home / "RUNTIME").chmod(0o600)
        assert cache_digest(platform) == before


def test_the_cached_runtime_stays_as_installed(platform: ClassicPlatform) -> None:
    """A successful build that edits the runtime in place keeps those edits in its own
    tree (and the cached build output) but not in the pristine runtime reused when the
    dependencies change."""
    built, _ = platform.compile({**REQS, "bin/post_compile": EDIT_HOOK})
    assert built.code == 0, built.log
    cache = BuildCache(platform.cache_dir)
    runtime, python = cache.runtime_tree(), cache.python_tree()
    assert runtime is not None and python is not None
    assert "edited" not in (runtime / "RUNTIME").read_text()
    assert "edited" not in stdlib_file(runtime).read_text()
    assert (python / "RUNTIME").read_text().endswith("# edited in place\n")
    built, build_dir = platform.compile({"requirements.txt": "# changed\n"})
    assert built.code == 0, built.log
    assert platform.report()["cache_status"] == "runtime-reused"
    assert "edited" not in (build_dir / ".heroku" / "python" / "RUNTIME").read_text()


# --------------------------------------------------------------------------- killed builds


def env_file(path: Path, env: Mapping[str, str]) -> Path:
    path.write_text(json.dumps(dict(env)), "utf-8")
    return path


def start_build(
    build_dir: Path, cache_dir: Path, env: Mapping[str, str], name: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "compile_fake.py"), str(build_dir), str(cache_dir),
         str(env_file(build_dir.parent / f"{name}.env.json", env))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def wait_for(path: Path, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise AssertionError(f"{what}: the build ended ({proc.returncode}) first:\n{out}")
        assert time.monotonic() < deadline, f"{what}: timed out"
        time.sleep(0.05)


WAIT_HOOK = """#!/bin/sh
touch "$MARKER"
while [ ! -e "$GO" ]; do sleep 0.05; done
"""


def leftovers(cache_dir: Path) -> list[str]:
    root = cache_dir / ".heroku" / "pybuildpack"
    names = [p.name for p in root.iterdir()] if root.is_dir() else []
    tools = root / "tools"
    if tools.is_dir():
        names += [f"tools/{p.name}" for p in tools.iterdir()]
    return sorted(n for n in names if n.startswith((".", "tools/.")) and n != ".lock")


def test_a_killed_build_leaves_nothing_the_next_build_keeps(platform: ClassicPlatform) -> None:
    tmp = platform.tmp
    build_dir = make_app(tmp / "killed", {**REQS, "bin/post_compile": WAIT_HOOK})
    env = {**platform.env, "MARKER": str(tmp / "in-hook"), "GO": str(tmp / "go")}
    proc = start_build(build_dir, platform.cache_dir, env, "killed")
    try:
        wait_for(tmp / "in-hook", proc, "the killed build")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the build and its hook, as a platform would
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    found = leftovers(platform.cache_dir)
    assert any(n.startswith(".pristine-") for n in found), found  # the kill left a copy
    assert BuildCache(platform.cache_dir).state() is None  # and saved nothing

    built, _ = platform.compile(REQS)
    assert built.code == 0, built.log
    assert leftovers(platform.cache_dir) == []
    gens = [p for p in (platform.cache_dir / ".heroku" / "pybuildpack").glob("gen-*")]
    assert len(gens) == 1


# --------------------------------------------------------------------------- two apps at once


def wheel(house: Path, name: str) -> None:
    """A minimal pure-Python wheel ``name`` 1.0 (no build backend needed, offline)."""
    dist = f"{name}-1.0.dist-info"
    files = {
        f"{name}.py": f"WHO = {name!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = "".join(f"{p},,\n" for p in files) + f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(house / f"{name}-1.0-py3-none-any.whl", "w") as z:
        for p, text in {**files, f"{dist}/RECORD": record}.items():
            z.writestr(p, text)


PROBE_HOOK = """#!/bin/sh
set -e
touch "$MARKER"
while [ ! -e "$GO" ]; do sleep 0.05; done
python3 -c 'import os, sys; print(os.path.realpath(sys.prefix))' > "$PREFIX_OUT"
"""


def site_packages(build_dir: Path) -> set[str]:
    found = sorted((build_dir / ".heroku" / "python").glob("lib/python3.*/site-packages"))
    assert found
    return {p.name for p in found[0].iterdir()}


def test_two_apps_built_at_once_do_not_touch_each_other(platform: ClassicPlatform) -> None:
    tmp = platform.tmp
    house = tmp / "wheels"
    house.mkdir()
    wheel(house, "app_a_dep")
    wheel(house, "app_b_dep")
    env = {
        **platform.env,
        "PIP_FIND_LINKS": f"{house} {platform.env['PIP_FIND_LINKS']}",
        "GO": str(tmp / "go"),
    }
    a_dir = make_app(tmp / "a" / "build", {"requirements.txt": "app_a_dep\n",
                                           "bin/post_compile": PROBE_HOOK})  # fmt: skip
    b_dir = make_app(tmp / "b" / "build", {"requirements.txt": "app_b_dep\n"})
    a = start_build(a_dir, tmp / "a" / "cache",
                    {**env, "MARKER": str(tmp / "a-in-hook"),
                     "PREFIX_OUT": str(tmp / "a-prefix")}, "a")  # fmt: skip
    b: subprocess.Popen[str] | None = None
    try:
        wait_for(tmp / "a-in-hook", a, "app A")  # A has linked APP_HOME and installed
        b = start_build(b_dir, tmp / "b" / "cache", env, "b")
        assert b.stdout is not None
        b_out = []
        # B either finishes (it did not wait for A) or says that it waits for A.
        for line in b.stdout:
            b_out.append(line)
            if "Waiting for another build" in line:
                break
        (tmp / "go").touch()
        a_out, _ = a.communicate(timeout=300)
        rest, _ = b.communicate(timeout=300)
        b_out.append(rest)
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    b_log = "".join(b_out)
    assert a.returncode == 0, a_out
    assert b.returncode == 0, b_log
    assert "Waiting for another build" in b_log
    # A's hook ran against A's own runtime, and each app has its own dependencies
    prefix = Path((tmp / "a-prefix").read_text().strip())
    assert prefix.resolve() == (a_dir / ".heroku" / "python").resolve()
    assert "app_a_dep.py" in site_packages(a_dir) and "app_b_dep.py" not in site_packages(a_dir)
    assert "app_b_dep.py" in site_packages(b_dir) and "app_a_dep.py" not in site_packages(b_dir)


# --------------------------------------------------------------------------- shell quoting

HOSTILE = "we ird $(touch PWNED1) `touch PWNED2` 'q' \"dq\" $HOME ; touch PWNED3 \\"


def source_and_print(script: Path, names: list[str], cwd: Path, home: str) -> dict[str, str]:
    """Source ``script`` with sh, then print the variables NUL-separated."""
    printer = " ".join(f'"${n}"' for n in names)
    proc = subprocess.run(
        ["sh", "-c", f'. "$1" && printf "%s\\0" {printer}', "sh", str(script)],
        cwd=cwd, env={"PATH": "/usr/bin:/bin", "HOME": home}, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    values = proc.stdout.split("\0")[:-1]
    return dict(zip(names, values, strict=True))


@pytest.mark.parametrize("linked", [True, False], ids=["app-home-linked", "build-dir-path"])
def test_export_and_profile_are_quoted(platform: ClassicPlatform, linked: bool) -> None:
    hostile = platform.tmp / HOSTILE
    hostile.mkdir()
    app_home = hostile / "app" if linked else platform.tmp / "no-such-app-home"
    if linked:
        app_home.mkdir()
    platform.tmp = hostile  # the build directory's path is hostile too
    built, build_dir = platform.compile(REQS, PYBUILDPACK_APP_HOME=str(app_home))
    assert built.code == 0, built.log
    home = app_home / ".heroku" / "python" if linked else build_dir / ".heroku" / "python"
    export = Path(platform.env["PYBUILDPACK_EXPORT_FILE"])
    run_dir = platform.tmp / "run"
    run_dir.mkdir()
    names = ["PATH", "LD_LIBRARY_PATH", "CPATH", "PKG_CONFIG_PATH", "PYBUILDPACK_PYTHON_HOME"]
    got = source_and_print(export, names, run_dir, "/nonexistent")
    assert got["PATH"] == f"{home}/bin:/usr/bin:/bin"
    assert got["LD_LIBRARY_PATH"] == f"{home}/lib"
    assert got["CPATH"].startswith(f"{home}/include/python3.")
    assert got["CPATH"].endswith(f":{home}/include")
    assert got["PKG_CONFIG_PATH"] == f"{home}/lib/pkgconfig"
    assert got["PYBUILDPACK_PYTHON_HOME"] == str(home)
    # at run time HOME is the app directory, hostile too
    got = source_and_print(
        build_dir / ".profile.d" / "python.sh", ["PATH", "PYBUILDPACK_PYTHON_HOME"],
        run_dir, str(build_dir),
    )  # fmt: skip
    assert got["PATH"] == f"{build_dir}/.heroku/python/bin:/usr/bin:/bin"
    assert got["PYBUILDPACK_PYTHON_HOME"] == f"{build_dir}/.heroku/python"
    ran = [p for p in run_dir.rglob("PWNED*")] + list(Path.cwd().glob("PWNED*"))
    assert not ran, ran
    assert not list(hostile.rglob("PWNED*"))
