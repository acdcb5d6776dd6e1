"""requirements.txt installed with uv where the file allows it (issue 12, item 2):
the rule, the PIP_* mapping, the pinned and verified uv wheel, both generations, offline."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from bp_support import (
    REPO,
    ClassicPlatform,
    FakeInstaller,
    Lifecycle,
    local_cpython,
    local_series,
)
from test_bp_cache_safety import site_packages, wheel

from pybuildpack.buildpack import classic, deps, uv_pip
from pybuildpack.buildpack.layers import read_metadata
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.errors import InstallerInvalid, UvWheelChecksumMismatch
from pybuildpack.version import PythonVersion

V = uv_pip.UV_VERSION
USING_UV = f"Installing dependencies with uv {V} (PYBUILDPACK_INSTALLER=auto)"


def uv_wheelhouse() -> Path:
    house = REPO / ".cache" / "wheelhouse"
    tag = uv_pip.machine_wheel_tag()
    if tag is None or not (house / uv_pip.wheel_name(tag)).is_file():
        pytest.skip(f"no uv {V} wheel in {house} (scripts/test downloads it)")
    return house


# --------------------------------------------------------------------------- the rule


def scan(tmp_path: Path, text: str, **more: str) -> uv_pip.Scan:
    (tmp_path / "requirements.txt").write_text(text)
    for name, body in more.items():
        (tmp_path / name).write_text(body)
    return uv_pip.scan_requirements(tmp_path / "requirements.txt", tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# only a comment\n\n",
        "Django==5.2.1\npsycopg[binary]>=3.2 ; python_version >= '3.10'  # db\n",
        "requests \\\n  >=2.31\n",
        "--index-url https://mirror.example/simple\n--no-index\n-f ./wheels\nflask\n",
        "--only-binary=:all:\npkg @ https://files.example/pkg-1.0-py3-none-any.whl\n",
    ],
)
def test_plain_requirements_are_for_uv(tmp_path: Path, text: str) -> None:
    assert scan(tmp_path, text).reason is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("-e .\n", "editable install"),
        ("--editable=git+https://x.example/r.git#egg=r\n", "editable install"),
        ("--use-feature=truststore\nflask\n", "--use-feature"),
        ("--prefer-binary\nflask\n", "--prefer-binary"),
        ("--trusted-host mirror.example\n", "--trusted-host"),
        ("flask --config-settings=x=y\n", "--config-settings"),
        ("./vendor/mypkg\n", "path or URL"),
        ("https://files.example/pkg.whl\n", "path or URL"),
        ("pkg @ git+https://x.example/pkg.git\n", "git+https"),
        ("pkg @ file:///tmp/pkg.whl\n", "file:///tmp/pkg.whl"),
        ("-r https://x.example/reqs.txt\n", "by URL"),
    ],
)
def test_anything_else_means_pip_and_says_why(tmp_path: Path, text: str, why: str) -> None:
    reason = scan(tmp_path, text).reason
    assert reason is not None and why in reason
    assert reason.startswith("requirements.txt line 1")


def test_included_files_are_checked_too(tmp_path: Path) -> None:
    found = scan(tmp_path, "flask\n-r more.txt\n", **{"more.txt": "x\n\n--pre\n"})
    assert found.reason == "more.txt line 3 uses --pre, which the uv rule does not cover"
    assert scan(tmp_path, "-c c.txt\n", **{"c.txt": "-c requirements.txt\n"}).reason is None


def test_hashes_make_uv_require_them_all_as_pip_does(tmp_path: Path) -> None:
    text = "flask==3.1.3 \\\n    --hash=sha256:aa \\\n    --hash sha256:bb\n"
    found = scan(tmp_path, text)
    assert found == uv_pip.Scan(None, hashes=True)
    p = uv_pip.plan(uv_pip.InstallerChoice.AUTO, tmp_path, {}, ["requirements.txt"])
    cmd = uv_pip.uv_install_command(Path("uv"), Path("py"), ["requirements.txt"], {},
                                    Path("c"), require_hashes=p.require_hashes)  # fmt: skip
    assert "--require-hashes" in cmd
    assert "--require-hashes" not in uv_pip.uv_install_command(
        Path("uv"), Path("py"), ["requirements.txt"], {}, Path("c")
    )


def test_pip_settings_without_a_uv_equivalent_mean_pip() -> None:
    assert uv_pip.settings_unsupported({"PIP_UPGRADE": "1"}) == (
        "PIP_UPGRADE is set, and uv has no equivalent of it"
    )
    assert uv_pip.settings_unsupported({"PIP_CONFIG_FILE": "/etc/my-pip.conf"}) is not None
    assert uv_pip.settings_unsupported({"PIP_NO_INDEX": "maybe"}) is not None
    fine = {"PIP_CONFIG_FILE": "/dev/null", "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/w",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_CERT": "/ca.pem"}  # fmt: skip
    assert uv_pip.settings_unsupported(fine) is None


def test_pip_index_settings_map_to_uv() -> None:
    args, env = uv_pip.uv_settings(
        {
            "PIP_INDEX_URL": "https://mirror.example/simple",
            "PIP_EXTRA_INDEX_URL": "https://a.example/simple https://b.example/simple",
            "PIP_FIND_LINKS": "/wheels  file:///more",
            "PIP_NO_INDEX": "true",
            "PIP_CERT": "/ca.pem",
            "PIP_DEFAULT_TIMEOUT": "60",
        }
    )
    assert args == [
        "--index-url", "https://mirror.example/simple",
        "--extra-index-url", "https://a.example/simple",
        "--extra-index-url", "https://b.example/simple",
        "--find-links", "/wheels", "--find-links", "file:///more",
        "--no-index",
    ]  # fmt: skip
    assert env == {"SSL_CERT_FILE": "/ca.pem", "UV_HTTP_TIMEOUT": "60"}
    assert uv_pip.uv_settings({"PIP_NO_INDEX": "0"}) == ([], {})


def test_installer_choice(tmp_path: Path) -> None:
    assert uv_pip.installer_choice({}) is uv_pip.InstallerChoice.AUTO
    assert uv_pip.installer_choice({"PYBUILDPACK_INSTALLER": "UV "}) is uv_pip.InstallerChoice.UV
    with pytest.raises(InstallerInvalid) as exc:
        uv_pip.installer_choice({"PYBUILDPACK_INSTALLER": "poetry"})
    assert exc.value.id == "install-dependencies::invalid-installer"
    (tmp_path / "requirements.txt").write_text("flask\n")
    pip = uv_pip.plan(uv_pip.InstallerChoice.PIP, tmp_path, {}, ["requirements.txt"])
    assert not pip.use_uv and pip.reason is None
    (tmp_path / "requirements.txt").write_text("--prefer-binary\nflask\n")
    forced = uv_pip.plan(uv_pip.InstallerChoice.UV, tmp_path, {}, ["requirements.txt"])
    assert forced.use_uv and forced.reason is not None  # the user overrides the rule


def test_a_platform_without_a_pinned_wheel_has_no_tag() -> None:
    assert uv_pip.machine_wheel_tag({}) is None
    assert uv_pip.machine_wheel_tag({"win_amd64": "00"}) is None
    assert uv_pip.wheel_pins()  # the pinned version has pins (data/tools.json)


# --------------------------------------------------------------------------- the uv wheel


def fake_uv_wheel(folder: Path) -> Path:
    """A wheel under the pinned name whose bytes are not the pinned file."""
    tag = uv_pip.machine_wheel_tag()
    assert tag is not None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / uv_pip.wheel_name(tag)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"uv-{V}.data/scripts/uv", "#!/bin/sh\necho not uv\n")
    return path


def fetch(root: Path, settings: Mapping[str, str], **more: Any) -> tuple[Path, str]:
    """``fetch_uv`` into the tools folder ``root`` as a build calls it, but with no runtime
    (no ``pip download``: the wheel must be local); the binary and what was logged."""
    out = io.StringIO()
    exe = uv_pip.fetch_uv(root, python=Path("/nonexistent/python"), env={}, settings=settings,
                          cwd=root.parent, log=BuildLog(out=out, err=out), **more)  # fmt: skip
    return exe, out.getvalue()


def test_a_wheel_that_is_not_the_pinned_file_is_refused(tmp_path: Path) -> None:
    fake = fake_uv_wheel(tmp_path / "house")
    root = tmp_path / "tools"
    with pytest.raises(UvWheelChecksumMismatch) as exc:
        fetch(root, {"PIP_FIND_LINKS": str(fake.parent)})
    assert exc.value.id == "install-package-manager::checksum-mismatch"
    assert exc.value.expected == uv_pip.wheel_pins()[uv_pip.machine_wheel_tag() or ""]
    assert list(root.iterdir()) == []  # nothing kept, nothing run


def test_the_wheel_is_unpacked_ahead_and_reported_by_fetch(tmp_path: Path) -> None:
    """prefetch_uv unpacks the local wheel in a thread; fetch_uv waits for it and reports
    it as an install. Nothing to do (cached, or no local wheel): no thread."""
    house = uv_wheelhouse()
    root = tmp_path / "tools"
    settings = {"PIP_FIND_LINKS": str(house)}
    assert uv_pip.prefetch_uv(root, {"PIP_FIND_LINKS": str(tmp_path)}) is None
    ahead = uv_pip.prefetch_uv(root, settings)
    assert ahead is not None
    exe, said = fetch(root, settings, prefetched=ahead)
    assert ahead.done and exe == uv_pip.cached_uv(root)
    assert f"Installing uv {V}\n" in said and "(sha256 verified)" in said
    assert uv_pip.prefetch_uv(root, settings) is None  # cached now


def test_a_prefetched_wheel_that_is_not_the_pinned_file_fails_in_fetch(tmp_path: Path) -> None:
    fake = fake_uv_wheel(tmp_path / "house")
    root = tmp_path / "tools"
    settings = {"PIP_FIND_LINKS": str(fake.parent)}
    ahead = uv_pip.prefetch_uv(root, settings)
    assert ahead is not None
    with pytest.raises(UvWheelChecksumMismatch):
        fetch(root, settings, prefetched=ahead)
    assert uv_pip.cached_uv(root) is None


@pytest.mark.parametrize("isal", [True, False])
def test_a_wheel_member_is_unpacked_whole_and_checked(
    tmp_path: Path, isal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uv binary is inflated with ISA-L where the runner has it, else by zipfile: the
    same bytes either way; a member whose data does not match its CRC is refused."""
    if isal:
        pytest.importorskip("isal")
    else:
        monkeypatch.setitem(sys.modules, "isal", None)  # as on a runner without it
    payload = bytes(range(256)) * 40_000 + b"tail"
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.txt", b"first member")
        zf.writestr("pkg.data/scripts/tool", payload)
        zf.writestr("z.txt", b"last member")
    out = io.BytesIO()
    uv_pip._unzip_member(wheel, "pkg.data/scripts/tool", out)
    assert out.getvalue() == payload

    raw = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("pkg.data/scripts/tool")
    # past the local header (30 bytes, the name, the extra field): the deflated data
    at = info.header_offset
    start = (
        at
        + 30
        + int.from_bytes(raw[at + 26 : at + 28], "little")
        + int.from_bytes(raw[at + 28 : at + 30], "little")
    )
    raw[start + 5000] ^= 0xFF
    wheel.write_bytes(bytes(raw))
    with pytest.raises(zipfile.BadZipFile):
        uv_pip._unzip_member(wheel, "pkg.data/scripts/tool", io.BytesIO())


def test_the_machine_keeps_the_verified_binary_for_new_build_caches(tmp_path: Path) -> None:
    """A wheel unpacked for one build cache is offered to the machine's tool store; a new
    build cache takes it from there (no wheel needed); a stored binary that changed since
    (here: rewritten, so its size and mtime differ) is passed over for the wheel."""
    house = uv_wheelhouse()
    machine = tmp_path / "machine-tools"
    (machine / ".tmp-uv-1-killed").mkdir(parents=True)  # left by a killed build long ago
    os.utime(machine / ".tmp-uv-1-killed", (0, 0))
    settings = {"PIP_FIND_LINKS": str(house)}
    ahead = uv_pip.prefetch_uv(tmp_path / "cache-1", settings, machine)
    assert ahead is not None
    first, _ = fetch(tmp_path / "cache-1", settings, prefetched=ahead, machine=machine)
    stored = uv_pip.stored_uv(machine)
    assert stored is not None and stored.read_bytes() == first.read_bytes()
    assert stored.stat().st_mode & 0o777 == 0o555
    assert not [p for p in machine.iterdir() if p.name.startswith(".tmp-")]

    # a new build cache: no thread, no wheel (PIP_FIND_LINKS points nowhere useful)
    nowhere = {"PIP_FIND_LINKS": str(tmp_path / "empty"), "PIP_NO_INDEX": "1"}
    assert uv_pip.prefetch_uv(tmp_path / "cache-2", settings, machine) is None
    second, said = fetch(tmp_path / "cache-2", nowhere, machine=machine)
    assert "from this machine's tool store" in said
    assert second == uv_pip.cached_uv(tmp_path / "cache-2")
    assert second.read_bytes() == first.read_bytes()

    # the copies share no file: rewriting one build cache's binary leaves the machine's be
    first.chmod(0o755)
    first.write_bytes(b"#!/bin/sh\necho poisoned\n")
    assert uv_pip.stored_uv(machine) == stored and stored.read_bytes() == second.read_bytes()

    # rewritten in the store: not used; the wheel is unpacked instead
    stored.chmod(0o755)
    stored.write_bytes(b"#!/bin/sh\necho poisoned\n")
    assert uv_pip.stored_uv(machine) is None
    assert uv_pip.adopt_uv(tmp_path / "cache-3", machine) is None
    third, said = fetch(tmp_path / "cache-3", settings, machine=machine)
    assert "(sha256 verified)" in said and "tool store" not in said
    assert third.read_bytes() == second.read_bytes()


def test_an_unwritable_machine_store_only_costs_the_next_build_an_unpack(
    tmp_path: Path,
) -> None:
    house = uv_wheelhouse()
    machine = tmp_path / "machine-tools"
    machine.write_text("not a folder")  # publishing fails: the build goes on
    exe, _ = fetch(tmp_path / "cache", {"PIP_FIND_LINKS": str(house)}, machine=machine)
    assert exe == uv_pip.cached_uv(tmp_path / "cache")
    assert uv_pip.stored_uv(machine) is None


def test_the_interpreter_query_runs_ahead_with_the_installs_command_and_environment(
    tmp_path: Path,
) -> None:
    """``UvQuery`` runs ``uv pip list`` (reads, changes nothing) with the interpreter, cache
    and environment the install after it uses; a uv that cannot start costs nothing."""
    fake = tmp_path / "uv"
    seen = tmp_path / "seen"
    fake.write_text(f'#!/bin/sh\necho "$@" > {seen}\necho "$UV_PYTHON_DOWNLOADS" >> {seen}\n')
    fake.chmod(0o755)
    python, cache = tmp_path / "app" / "python3", tmp_path / "uv-cache"
    query = uv_pip.UvQuery(fake, python=python, env={"PATH": os.environ["PATH"]},
                           settings={}, cache_dir=cache, cwd=tmp_path)  # fmt: skip
    query.wait()
    argv, downloads = seen.read_text().splitlines()
    assert argv.split() == ["pip", "list", "--no-config", "--python", str(python), "--quiet",
                            "--cache-dir", str(cache)]  # fmt: skip
    assert downloads == "never"  # uv_install_env: as the install runs
    missing = uv_pip.UvQuery(tmp_path / "no-uv", python=python, env={}, settings={},
                             cache_dir=cache, cwd=tmp_path)  # fmt: skip
    missing.wait()
    assert missing.proc is None


def test_the_query_writes_nothing_into_the_runtime(tmp_path: Path) -> None:
    """The query runs while the fresh runtime is copied aside for the cache: uv runs the
    interpreter isolated and without bytecode, so the runtime's tree (a standard library
    without any bytecode, writable) is exactly as it was."""
    from test_bp_bootstrap import bare_runner_python

    house = uv_wheelhouse()
    runtime = bare_runner_python(tmp_path)
    uv, _ = fetch(tmp_path / "tools", {"PIP_FIND_LINKS": str(house)})

    def tree() -> dict[str, tuple[int, int]]:
        return {str(p): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in runtime.rglob("*")}

    before = tree()
    query = uv_pip.UvQuery(uv, python=runtime / "bin" / "python3",
                           env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, settings={},
                           cache_dir=tmp_path / "uv-cache", cwd=tmp_path)  # fmt: skip
    query.wait()
    assert query.proc is not None and query.proc.returncode == 0
    assert list((tmp_path / "uv-cache").glob("interpreter-v*/**/*.msgpack"))  # it asked
    assert tree() == before


def test_the_install_after_the_query_finds_its_answer(tmp_path: Path) -> None:
    """uv keeps an interpreter's answer in its cache; the install after ``UvQuery`` uses it
    as it is (the cache entry is neither rewritten nor added to) instead of asking again."""
    house = uv_wheelhouse()
    series = local_series()
    if not series:
        pytest.skip("needs a local CPython (pyenv)")
    source = local_cpython(series[-1])
    assert source is not None
    tools = tmp_path / "tools"
    settings = {"PIP_FIND_LINKS": str(house)}
    uv, _ = fetch(tools, settings)
    env_dir = tmp_path / "env"
    subprocess.run([str(source / "bin" / "python3"), "-m", "venv", "--without-pip",
                    str(env_dir)], check=True)  # fmt: skip
    python, cache = env_dir / "bin" / "python3", tmp_path / "uv-cache"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel(wheels, "dep_one")

    def answers() -> dict[str, tuple[int, int]]:
        found = cache.glob("interpreter-v*/**/*")
        return {str(p): (p.stat().st_ino, p.stat().st_mtime_ns) for p in found if p.is_file()}

    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    uv_pip.UvQuery(uv, python=python, env=env, settings={}, cache_dir=cache,
                   cwd=tmp_path).wait()  # fmt: skip
    before = answers()
    assert before, "the query left no answer in uv's cache"
    local = {"PIP_FIND_LINKS": str(wheels), "PIP_NO_INDEX": "1"}
    install = subprocess.run(
        uv_pip.uv_pin_command(uv, python, {"dep_one": "1.0"}, local, cache),
        env=uv_pip.uv_install_env(env, local),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    assert answers() == before
    assert any(env_dir.glob("lib/python3.*/site-packages/dep_one.py"))


# --------------------------------------------------------------------------- classic builds


def setup(platform: ClassicPlatform, *extra: Path) -> dict[str, str]:
    house = platform.tmp / "wheels"
    house.mkdir(exist_ok=True)
    wheel(house, "dep_one")
    links = [*map(str, extra), str(house), str(uv_wheelhouse())]
    platform.env["PIP_FIND_LINKS"] = " ".join(links)
    return {"requirements.txt": "dep_one==1.0\n"}


def test_classic_installs_a_plain_requirements_file_with_uv(platform: ClassicPlatform) -> None:
    app = setup(platform)
    built, build_dir = platform.compile(app)
    assert built.code == 0, built.log
    assert f"Installing uv {V}\n" in built.out and "(sha256 verified)" in built.out
    assert USING_UV in built.out
    assert "Bytecode compiled" in built.out  # --compile-bytecode, as pip compiles
    assert "dep_one.py" in site_packages(build_dir)
    [site] = (build_dir / ".heroku" / "python").glob("lib/python3.*/site-packages")
    assert list((site / "__pycache__").glob("dep_one.*.pyc"))
    assert (site / "dep_one-1.0.dist-info" / "INSTALLER").read_text().strip() == "uv"
    report = platform.report()
    assert report["dependency_installer"] == "uv" and report["uv_version"] == V

    app["requirements.txt"] += "# changed\n"  # dependencies reinstalled, uv from the cache
    built, _ = platform.compile(app)
    assert built.code == 0, built.log
    assert f"Using cached uv {V}" in built.out and USING_UV in built.out

    # a new app on this machine (an empty build cache): uv from the machine's tool store
    shutil.rmtree(platform.cache_dir)
    built, _ = platform.compile(app)
    assert built.code == 0, built.log
    assert f"uv {V} from this machine's tool store" in built.out and USING_UV in built.out


def test_a_cold_build_has_uv_query_the_new_runtime_before_the_pip_install(
    platform: ClassicPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With uv unpacked by the time the runtime is installed (here: the prefetch is waited
    for), the build starts uv's interpreter query of the new runtime, and waits for it
    before uv installs pip. Without uv unpacked yet, it does not start one."""
    app = setup(platform)
    platform.installer = FakeInstaller(seed_tools=False)  # pip is installed by uv
    events: list[str] = []
    real_prefetch, real_run = uv_pip.prefetch_uv, deps.run

    def finished_prefetch(*args: object, **kwargs: object) -> uv_pip.UvPrefetch | None:
        ahead = real_prefetch(*args, **kwargs)  # type: ignore[arg-type]
        if ahead is not None:
            ahead.wait()
        return ahead

    class Query(uv_pip.UvQuery):
        def __init__(self, uv: Path, **kwargs: Any) -> None:
            events.append(f"query {kwargs['python']}")
            super().__init__(uv, **kwargs)

        def wait(self) -> None:
            super().wait()
            events.append("query done")

    def run(cmd: list[str], **kwargs: Any) -> tuple[int, list[str]]:
        if cmd[1:3] == ["pip", "install"]:
            events.append("pip install" if "-r" not in cmd else "dependencies")
            pythons.append(cmd[cmd.index("--python") + 1])
        return real_run(cmd, **kwargs)

    pythons: list[str] = []

    monkeypatch.setattr(uv_pip, "prefetch_uv", finished_prefetch)
    monkeypatch.setattr(uv_pip, "UvQuery", Query)
    monkeypatch.setattr(deps, "run", run)
    built, _ = platform.compile(app)
    assert built.code == 0, built.log
    assert events[0] == f"query {pythons[0]}", events  # the interpreter the installs use
    assert set(pythons) == {pythons[0]}
    assert (
        events.index("query done") < events.index("pip install") < events.index("dependencies")
    ), events

    events.clear()  # a new app whose uv is still being unpacked: no query
    shutil.rmtree(platform.cache_dir)
    monkeypatch.setattr(uv_pip, "prefetch_uv", real_prefetch)
    monkeypatch.setattr(uv_pip, "UvPrefetch", _Unfinished)
    built, _ = platform.compile(app)
    assert built.code == 0, built.log
    assert not [e for e in events if e.startswith("query")], events


class _Unfinished(uv_pip.UvPrefetch):
    """A prefetch whose thread is still running when the runtime is installed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.go = threading.Event()
        super().__init__(*args, **kwargs)

    def _run(self, *args: Any) -> None:
        self.go.wait(30)
        super()._run(*args)

    def wait(self) -> None:
        self.go.set()
        super().wait()


def test_classic_installs_the_pinned_pip_with_uv_when_uv_installs(
    platform: ClassicPlatform,
) -> None:
    """A runtime without the pinned pip gets it from uv when uv installs the dependencies
    (pip's own bytecode is left to its first use: the dependencies are compiled); with pip
    as the installer, pip installs itself."""
    app = setup(platform)
    platform.installer = FakeInstaller(seed_tools=False)  # the runtime's own pip
    built, build_dir = platform.compile(app)
    assert built.code == 0, built.log
    report = platform.report()
    wanted = deps.TOOLS.pip_requirements(PythonVersion.parse(report["python_version"]))
    assert f"Installing {deps.describe(wanted)} with uv\n" in built.out
    assert built.out.index(f"Installing uv {V}") < built.out.index("with uv\n")
    assert report["pip_version"] == deps.TOOLS.pip
    [site] = (build_dir / ".heroku" / "python").glob("lib/python3.*/site-packages")
    info = site / f"pip-{deps.TOOLS.pip}.dist-info"
    assert (info / "INSTALLER").read_text().strip() == "uv"
    assert not (site / "pip" / "__pycache__").exists()  # a build tool: compiled on use
    assert list((site / "__pycache__").glob("dep_one.*.pyc"))  # the app's are compiled
    assert [p.name for p in site.glob("pip-*.dist-info")] == [info.name]  # the old one went

    shutil.rmtree(platform.cache_dir)  # cold again, pip as the installer
    built, _ = platform.compile_with_config(app, {"PYBUILDPACK_INSTALLER": "pip"})
    assert built.code == 0, built.log
    assert f"Installing {deps.describe(wanted)}\n" in built.out and "with uv" not in built.out


def test_pip_falls_back_to_pip_when_uv_cannot_install_it(platform: ClassicPlatform) -> None:
    """uv failing to install pip is not a build failure: pip installs itself, as without uv."""
    version = PythonVersion.parse(f"{local_series()[-1]}.0")
    fresh = platform.tmp / "fresh"
    FakeInstaller(seed_tools=False)(version, fresh)
    calls = []

    def failing_uv(wanted: dict[str, str]) -> tuple[int, list[str]]:
        calls.append(dict(wanted))
        return 2, ["uv: no"]

    out = io.StringIO()
    env = {**platform.env, "PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    pins = deps.ensure_pip(fresh, fresh / "bin" / "python3", version, env, platform.tmp,
                           BuildLog(out=out, err=out), uv_install=failing_uv)  # fmt: skip
    wanted = deps.TOOLS.pip_requirements(version)
    assert calls == [wanted] and pins == wanted
    assert f"uv could not install {deps.describe(wanted)}; pip installs it" in out.getvalue()
    assert deps.pip_installed(fresh, version) == deps.TOOLS.pip


def test_classic_uses_pip_for_an_unsupported_option_and_says_why(
    platform: ClassicPlatform,
) -> None:
    setup(platform)
    built, build_dir = platform.compile({"requirements.txt": "--prefer-binary\ndep_one==1.0\n"})
    assert built.code == 0, built.log
    assert "Installing dependencies with pip (PYBUILDPACK_INSTALLER=auto)" in built.out
    assert "Using pip: requirements.txt line 1 uses --prefer-binary" in built.out
    assert "Installing uv" not in built.out
    [site] = (build_dir / ".heroku" / "python").glob("lib/python3.*/site-packages")
    assert (site / "dep_one-1.0.dist-info" / "INSTALLER").read_text().strip() == "pip"
    assert platform.report()["dependency_installer"] == "pip"


def test_classic_installer_pip_config_var_forces_pip(platform: ClassicPlatform) -> None:
    app = setup(platform)
    built, _ = platform.compile_with_config(app, {"PYBUILDPACK_INSTALLER": "pip"})
    assert built.code == 0, built.log
    assert "Installing dependencies with pip (PYBUILDPACK_INSTALLER=pip)" in built.out
    assert "uv" not in built.out
    built, _ = platform.compile_with_config(app, {"PYBUILDPACK_INSTALLER": "yes"})
    assert built.code == 1 and "[install-dependencies::invalid-installer]" in built.err


def test_classic_refuses_a_uv_wheel_that_is_not_the_pinned_file(
    platform: ClassicPlatform,
) -> None:
    fake = fake_uv_wheel(platform.tmp / "bad-mirror")
    app = setup(platform, fake.parent)  # found first
    built, _ = platform.compile(app)
    assert built.code == 1
    assert "[install-package-manager::checksum-mismatch]" in built.err
    assert "not uv" not in built.log  # never run
    assert platform.report()["failure_reason"] == "install-package-manager::checksum-mismatch"


def test_classic_auto_falls_back_to_pip_when_no_uv_wheel_can_be_had(
    platform: ClassicPlatform,
) -> None:
    house = platform.tmp / "wheels"
    house.mkdir()
    wheel(house, "dep_one")
    platform.env["PIP_FIND_LINKS"] = f"{house} {platform.env['PIP_FIND_LINKS']}"
    if any(Path(p, uv_pip.wheel_name(uv_pip.machine_wheel_tag() or "")).is_file()
           for p in platform.env["PIP_FIND_LINKS"].split()):  # fmt: skip
        platform.env["PIP_FIND_LINKS"] = str(house) + " " + str(platform.tmp / "tools-only")
        shutil.copytree(REPO / ".cache" / "wheelhouse", platform.tmp / "tools-only",
                        ignore=shutil.ignore_patterns("uv-*"))  # fmt: skip
    built, _ = platform.compile({"requirements.txt": "dep_one==1.0\n"})
    assert built.code == 0, built.log
    assert f"Using pip: uv {V} could not be installed" in built.out
    assert platform.report()["dependency_installer"] == "pip"


def test_example_app_builds_offline_with_uv_and_serves(tmp_path: Path) -> None:
    """The real e2e: examples/webapp from the local wheelhouse (PIP_NO_INDEX) with uv."""
    from bp_support import FakeInstaller, write_catalog
    from test_bp_e2e import prepare, serve_and_get, wheelhouse, wheelhouse_series

    uv_wheelhouse()
    series = wheelhouse_series(wheelhouse())
    build_dir, env = prepare(tmp_path, series)
    assert env["PIP_NO_INDEX"] == "1"
    env["PYBUILDPACK_CATALOG"] = str(write_catalog(tmp_path / "catalog.json", series))
    out, err = io.StringIO(), io.StringIO()
    code = classic.compile(build_dir, tmp_path / "cache", None, environ=env,
                           installer=FakeInstaller(), log=BuildLog(out=out, err=err))  # fmt: skip
    assert code == 0, out.getvalue() + err.getvalue()
    assert USING_UV in out.getvalue()
    assert serve_and_get(build_dir)["message"] == "Hello from pybuildpack"


# --------------------------------------------------------------------------- CNB


def test_cnb_installs_into_the_venv_layer_with_uv(lifecycle: Callable[..., Lifecycle]) -> None:
    if len(local_series()) < 1:
        pytest.skip("needs a local CPython (pyenv)")
    lc = lifecycle({"requirements.txt": "dep_one==1.0\n"})
    house = lc.tmp / "wheels"
    house.mkdir()
    wheel(house, "dep_one")
    lc.extra_env["PIP_FIND_LINKS"] = f"{house} {uv_wheelhouse()}"
    from bp_support import write_catalog

    lc.extra_env["PYBUILDPACK_CATALOG"] = str(write_catalog(lc.tmp / "c.json", local_series()[-1]))
    built = lc.build()
    assert built.code == 0, built.log
    assert USING_UV in built.out
    assert list((lc.layers / "venv").glob("lib/python3.*/site-packages/dep_one.py"))
    assert read_metadata(lc.layers, "uv-bin") == {"arch": "amd64", "uv_version": V}
    lc.restore()
    built = lc.build()
    assert built.code == 0, built.log
    assert f"Using cached uv {V}" in built.out and USING_UV in built.out

    lc.restore()
    lc.extra_env["PYBUILDPACK_INSTALLER"] = "pip"
    built = lc.build()
    assert built.code == 0, built.log
    assert "Installing dependencies with pip (PYBUILDPACK_INSTALLER=pip)" in built.out
