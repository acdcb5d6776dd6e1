"""Package managers: which one an app uses, installing the tool, installing dependencies.

Exactly one of the lock/requirements files must exist (typed errors otherwise). The command
lines and environments are built by pure functions (``*_command``), unit-tested; running
them streams the tool's output, indented, into the build log.

Tools are pinned as data (``data/tools.json``). pip (and setuptools on the majors that get
it) is installed at exactly its pinned version: from the runtime's bundled wheels
(``ensurepip``, offline) when they are that version, else from the package index or
``PIP_FIND_LINKS`` (the app's config vars apply, so ``PIP_NO_INDEX`` + ``PIP_FIND_LINKS``
builds offline). uv, Poetry and Pipenv are installed with the bundled pip from the package
index into a virtual environment in the build cache, keyed by tool version and Python, and
reused while those hold. Installs go to a temporary directory renamed into place, so a
failed install never leaves a half-made tool behind.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pybuildpack._record import dataclass
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.catalog import package_data_text
from pybuildpack.errors import (
    BundledPipNotFound,
    DependencyInstallFailed,
    PackageManagerInstallFailed,
    PackageManagerMultipleFound,
    PackageManagerNoneFound,
    PackageManagerNotSupported,
    PipenvMissingLockfile,
    SetupPyOnly,
)
from pybuildpack.version import Generation, PythonVersion


class PackageManager(str, enum.Enum):
    PIPENV = "pipenv"
    PIP = "pip"
    POETRY = "poetry"
    UV = "uv"

    @property
    def display(self) -> str:
        return {"pip": "pip", "pipenv": "Pipenv", "poetry": "Poetry", "uv": "uv"}[self.value]


# (file, manager) in the fixed order used for detection and for messages.
MANAGER_FILES: tuple[tuple[str, PackageManager], ...] = (
    ("Pipfile.lock", PackageManager.PIPENV),
    ("requirements.txt", PackageManager.PIP),
    ("poetry.lock", PackageManager.POETRY),
    ("uv.lock", PackageManager.UV),
)
# Files whose content decides whether installed dependencies can be reused.
DEPENDENCY_FILES: dict[PackageManager, tuple[str, ...]] = {
    PackageManager.PIP: ("requirements.txt",),
    PackageManager.PIPENV: ("Pipfile", "Pipfile.lock"),
    PackageManager.POETRY: ("pyproject.toml", "poetry.lock"),
    PackageManager.UV: ("pyproject.toml", "uv.lock"),
}


@dataclass(frozen=True)
class ToolPins:
    """The tool versions the builds install (``data/tools.json``)."""

    pip: str
    setuptools: str
    setuptools_majors: frozenset[str]  # majors whose runtime also gets setuptools
    managers: dict[PackageManager, str]  # uv, Poetry, Pipenv

    def pip_requirements(self, version: PythonVersion) -> dict[str, str]:
        """What the pip step installs into a runtime of ``version``: name -> version."""
        wanted = {"pip": self.pip}
        if str(version.series) in self.setuptools_majors:
            wanted["setuptools"] = self.setuptools
        return wanted


# How pybuildpack runs pip for its own installs of tools: no cache, no prompts, no noise.
_QUIET_PIP = (
    "--no-cache-dir",
    "--no-input",
    "--quiet",
    "--disable-pip-version-check",
    "--no-warn-script-location",
    "--root-user-action=ignore",
)


def load_tool_pins(text: str | None = None) -> ToolPins:
    """Read ``data/tools.json`` (or ``text``); a malformed file is a packaging bug."""
    if text is None:
        text = package_data_text("tools.json")
    doc = json.loads(text)
    if doc.get("schema_version") != 1:
        raise ValueError("data/tools.json: schema_version must be 1")
    names = ("pip", *(pm.value for pm in PackageManager if pm is not PackageManager.PIP))
    for name in names:
        if not isinstance(doc.get(name), str) or not doc[name]:
            raise ValueError(f"data/tools.json: {name!r} must be a version string")
    st = doc.get("setuptools")
    if not (isinstance(st, dict) and isinstance(st.get("version"), str)):
        raise ValueError("data/tools.json: 'setuptools' must be {version, majors}")
    return ToolPins(
        pip=doc["pip"],
        setuptools=st["version"],
        setuptools_majors=frozenset(str(m) for m in st.get("majors", ())),
        managers={pm: doc[pm.value] for pm in PackageManager if pm is not PackageManager.PIP},
    )


TOOLS = load_tool_pins()
# Pinned versions of the package managers other than pip (see ``TOOLS.pip`` for pip).
TOOL_VERSIONS: dict[PackageManager, str] = TOOLS.managers


def detect_package_manager(app_dir: Path, generation: Generation) -> PackageManager:
    found = [(f, pm) for f, pm in MANAGER_FILES if (app_dir / f).is_file()]
    if generation is Generation.FIR:
        pipenv = [x for x in found if x[1] is PackageManager.PIPENV]
        found = [x for x in found if x[1] is not PackageManager.PIPENV]
        if not found and (pipenv or (app_dir / "Pipfile").is_file()):
            raise PackageManagerNotSupported(package_manager="Pipenv", generation="fir")
    if len(found) > 1:
        raise PackageManagerMultipleFound(found=tuple((f, pm.display) for f, pm in found))
    if found:
        return found[0][1]
    if generation is Generation.CEDAR and (app_dir / "Pipfile").is_file():
        raise PipenvMissingLockfile()
    if generation is Generation.CEDAR and (app_dir / "setup.py").is_file():
        raise SetupPyOnly()
    try:
        names = tuple(sorted(os.listdir(app_dir)))[:30]
    except OSError:
        names = ()
    supported = tuple(
        f
        for f, pm in MANAGER_FILES
        if generation is Generation.CEDAR or pm is not PackageManager.PIPENV
    )
    raise PackageManagerNoneFound(files=names, supported=supported)


# pip's test requirements, installed by test builds (bin/test-compile) as the reference does.
PIP_TEST_REQUIREMENTS = "requirements-test.txt"


def dependencies_hash(app_dir: Path, pm: PackageManager, *, test: bool = False) -> str:
    """sha256 over the dependency files (content, symlinks followed; absent files count).
    A test build (``test``) hashes differently, and covers pip's test requirements too."""
    h = hashlib.sha256()
    names = DEPENDENCY_FILES[pm]
    if test:
        h.update(b"test\0")
        if pm is PackageManager.PIP:
            names = (*names, PIP_TEST_REQUIREMENTS)
    for name in names:
        h.update(name.encode() + b"\0")
        try:
            h.update(hashlib.sha256((app_dir / name).read_bytes()).digest())
        except OSError:
            h.update(b"-absent-")
    return h.hexdigest()


def pip_install_fingerprint(app_dir: Path, settings: Mapping[str, str]) -> str | None:
    """What decides the outcome of ``pip install -r requirements.txt`` into an environment
    it already installed: the file and the ``PIP_*`` settings. ``None`` when the file can
    give another outcome without changing: a line that is an option (``-e``, ``-r``,
    ``-c``, ``--upgrade``, an index, ...) or a URL or path (``name @ url``, ``./dir``).

    pip never upgrades a requirement that is already satisfied, so with the same file, the
    same settings and the environment it produced (restored from the cache), running it
    again installs nothing."""
    try:
        text = (app_dir / "requirements.txt").read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement = line.split(" --hash", 1)[0]
        if requirement.startswith("-") or any(c in requirement for c in "@/\\:"):
            return None
    h = hashlib.sha256(text.encode())
    for name in sorted(k for k in settings if k.startswith("PIP_")):
        h.update(f"\0{name}={settings[name]}".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- pip


def bundled_wheels(home: Path, version: PythonVersion) -> dict[str, Path]:
    """The wheels the runtime ships in ``ensurepip/_bundled``: name -> wheel (newest if
    several; pip always, setuptools on older majors)."""
    bundled = home / "lib" / f"python{version.series}" / "ensurepip" / "_bundled"
    found: dict[str, Path] = {}
    for name in ("pip", "setuptools"):
        wheels = sorted(bundled.glob(f"{name}-*.whl")) if bundled.is_dir() else []
        if wheels:
            found[name] = wheels[-1]
    return found


def bundled_pip(home: Path, version: PythonVersion) -> Path:
    """The pip wheel the runtime ships in ``ensurepip/_bundled`` (newest if several)."""
    wheel = bundled_wheels(home, version).get("pip")
    if wheel is None:
        raise BundledPipNotFound(
            path=str(home / "lib" / f"python{version.series}" / "ensurepip" / "_bundled")
        )
    return wheel


def wheel_version(wheel: Path) -> str:
    return wheel.name.split("-")[1]


def pip_bootstrap_command(python: Path, wheel: Path) -> list[str]:
    """Install the bundled pip wheel with itself: offline, ignoring user pip config."""
    return [
        str(python),
        f"{wheel}/pip",
        "install",
        "--isolated",
        "--no-index",
        *_QUIET_PIP,
        str(wheel),
    ]


def dist_installed(site: Path, name: str) -> str | None:
    """The version of distribution ``name`` installed in ``site`` (site-packages), if any."""
    infos = sorted(site.glob(f"{name}-*.dist-info")) if site.is_dir() else []
    return infos[-1].name.removeprefix(f"{name}-").removesuffix(".dist-info") if infos else None


def site_packages(prefix: Path, version: PythonVersion) -> Path:
    return prefix / "lib" / f"python{version.series}" / "site-packages"


def pip_installed(home: Path, version: PythonVersion) -> str | None:
    return dist_installed(site_packages(home, version), "pip")


def pip_pin_command(
    python: Path,
    home: Path,
    version: PythonVersion,
    wanted: Mapping[str, str],
    *,
    user: bool = False,
) -> list[str]:
    """Install exactly ``wanted`` (name -> version) into the runtime at ``home`` (or, with
    ``user``, into ``PYTHONUSERBASE``). Offline from the bundled wheels when they are those
    versions; else from the package index, with the build's ``PIP_*`` settings (so
    ``PIP_NO_INDEX`` + ``PIP_FIND_LINKS`` work; no ``--isolated``). Runs the bundled pip
    wheel, or the runtime's own pip when it has no bundled wheel."""
    bundled = bundled_wheels(home, version)
    if "pip" in bundled:
        runner = [str(python), f"{bundled['pip']}/pip"]
    elif pip_installed(home, version) is not None:
        runner = [str(python), "-m", "pip"]
    else:
        raise BundledPipNotFound(
            path=str(home / "lib" / f"python{version.series}" / "ensurepip" / "_bundled")
        )
    offline = all(n in bundled and wheel_version(bundled[n]) == v for n, v in wanted.items())
    requirements = (
        [str(bundled[n]) for n in wanted] if offline else [f"{n}=={v}" for n, v in wanted.items()]
    )
    return [
        *runner,
        "install",
        # the user base is a fresh layer: install there even when the runtime has that pip
        *(["--user", "--ignore-installed"] if user else []),
        *(["--no-index"] if offline else []),
        *_QUIET_PIP,
        *requirements,
    ]


def pip_runner(python: Path, home: Path, version: PythonVersion) -> list[str] | None:
    """How to run some pip with the runtime at ``home``: its installed pip, else its bundled
    wheel; None when it has neither."""
    if pip_installed(home, version) is not None:
        return [str(python), "-m", "pip"]
    wheel = bundled_wheels(home, version).get("pip")
    return None if wheel is None else [str(python), f"{wheel}/pip"]


def describe(wanted: Mapping[str, str]) -> str:
    """``pip 26.3`` or ``pip 26.3, setuptools 70.3.0``."""
    return ", ".join(f"{n} {v}" for n, v in wanted.items())


def pip_install_command(
    python: Path, home: Path, pip_cache: Path, *, test_requirements: bool = False
) -> list[str]:
    return [
        str(python),
        "-m",
        "pip",
        "install",
        "-r",
        "requirements.txt",
        *(["-r", PIP_TEST_REQUIREMENTS] if test_requirements else []),
        "--exists-action=w",
        "--no-input",
        "--progress-bar",
        "off",
        "--disable-pip-version-check",
        "--cache-dir",
        str(pip_cache),
        "--src",
        str(home / "src"),
    ]


# --------------------------------------------------------------------------- uv, Poetry, Pipenv


def tool_install_command(venv_python: Path, pip_wheel: Path, pm: PackageManager) -> list[str]:
    return [
        str(venv_python),
        f"{pip_wheel}/pip",
        "install",
        "--no-cache-dir",
        "--no-input",
        "--quiet",
        "--disable-pip-version-check",
        f"{pm.value}=={TOOL_VERSIONS[pm]}",
    ]


def dependency_command(
    pm: PackageManager,
    tool: Path | None,
    python: Path,
    home: Path,
    pip_cache: Path,
    *,
    test: bool = False,
    cwd: Path | None = None,
) -> list[str]:
    """The dependency install command. ``test`` (bin/test-compile) adds the test
    dependencies as the reference does: pip's ``requirements-test.txt`` when ``cwd`` has
    one, Pipenv's ``--dev``, Poetry's other groups, uv's default groups."""
    if pm is PackageManager.PIP:
        with_tests = test and cwd is not None and (cwd / PIP_TEST_REQUIREMENTS).is_file()
        return pip_install_command(python, home, pip_cache, test_requirements=with_tests)
    assert tool is not None
    if pm is PackageManager.UV:
        groups = [] if test else ["--no-default-groups"]
        return [str(tool), "sync", "--locked", *groups, "--compile-bytecode", "--no-progress"]
    if pm is PackageManager.POETRY:
        only = [] if test else ["--only", "main"]
        return [str(tool), "sync", *only, "--compile", "--no-ansi", "--no-interaction"]
    return [str(tool), "install", "--deploy", *(["--dev"] if test else [])]


def dependency_env(pm: PackageManager, home: Path, cache_root: Path) -> dict[str, str]:
    """Variables the package manager needs to install into the runtime at ``home``."""
    python = str(home / "bin" / "python3")
    if pm is PackageManager.PIP:
        return {"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_ROOT_USER_ACTION": "ignore"}
    if pm is PackageManager.UV:
        return {
            "UV_PROJECT_ENVIRONMENT": str(home),
            "UV_PYTHON": python,
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_MANAGED_PYTHON": "1",
            "UV_CACHE_DIR": str(cache_root / "uv-cache"),
            "UV_LINK_MODE": "copy",
        }
    if pm is PackageManager.POETRY:
        return {
            "VIRTUAL_ENV": str(home),  # Poetry installs into the active environment
            "POETRY_VIRTUALENVS_CREATE": "false",
            "POETRY_CACHE_DIR": str(cache_root / "poetry-cache"),
        }
    return {
        "VIRTUAL_ENV": str(home),
        "PIPENV_SYSTEM": "1",
        "PIPENV_VERBOSITY": "-1",
        "PIPENV_NOSPIN": "1",
        "PIP_SRC": str(home / "src"),
        "PIPENV_CACHE_DIR": str(cache_root / "pipenv-cache"),
    }


def runtime_env(pm: PackageManager) -> dict[str, str]:
    """What the app and later buildpacks should see for this package manager."""
    if pm is PackageManager.PIP:
        return {"PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if pm is PackageManager.PIPENV:
        return {"PIPENV_SYSTEM": "1", "PIPENV_VERBOSITY": "-1"}
    return {}


def tool_dir(tools_root: Path, pm: PackageManager, version: PythonVersion, home: Path) -> Path:
    key = hashlib.sha256(f"{version}\0{home}".encode()).hexdigest()[:12]
    return tools_root / f"{pm.value}-{TOOL_VERSIONS[pm]}-py{version}-{key}"


def tool_executable(venv: Path, pm: PackageManager) -> Path:
    return venv / "bin" / pm.value


# --------------------------------------------------------------------------- running


def run(
    cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: BuildLog
) -> tuple[int, list[str]]:
    """Run ``cmd`` streaming its output into the log; return (exit code, last lines)."""
    tail: list[str] = []
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        return 127, [f"cannot run {cmd[0]}: {exc.strerror or exc}"]
    assert proc.stdout is not None
    for line in proc.stdout:
        log.lines([line])
        tail = [*tail, line.rstrip()][-20:]
    return proc.wait(), tail


def ensure_pip(
    home: Path,
    python: Path,
    version: PythonVersion,
    env: Mapping[str, str],
    cwd: Path,
    log: BuildLog,
    uv_install: Callable[[Mapping[str, str]], tuple[int, list[str]]] | None = None,
) -> dict[str, str]:
    """Make the runtime's pip (and setuptools, where pinned) exactly the pinned versions;
    return them (name -> version).

    Nothing runs when they are installed already (a cached runtime). ``uv_install`` (when
    uv installs the dependencies) installs ``wanted`` with uv: several times faster than pip
    installing itself (pip from a zip, byte-compiling on one CPU); if it fails, pip does it
    as below. A runtime without pip
    (Heroku-layout archives) whose bundled wheels are the pinned versions is bootstrapped
    with ``python -m ensurepip`` (offline); otherwise the pinned versions are installed from
    the bundled wheels or the package index (``pip_pin_command``)."""
    wanted = TOOLS.pip_requirements(version)
    site = site_packages(home, version)

    def have() -> dict[str, str | None]:
        return {name: dist_installed(site, name) for name in wanted}

    if have() == wanted:
        log.info(f"Using cached {describe(wanted)}")
        return dict(wanted)
    if uv_install is not None:
        log.step(f"Installing {describe(wanted)} with uv")
        code, tail = uv_install(wanted)
        if code == 0 and have() == wanted:
            return dict(wanted)
        log.info(f"uv could not install {describe(wanted)}; pip installs it")
    log.step(f"Installing {describe(wanted)}")
    bundled = bundled_wheels(home, version)
    bootstrap = (
        have()["pip"] is None
        and (home / "lib" / f"python{version.series}" / "ensurepip" / "__init__.py").is_file()
        and all(n in bundled and wheel_version(bundled[n]) == v for n, v in wanted.items())
    )
    if bootstrap:
        # ensurepip installs its bundled wheels offline; the build's PIP_* settings would
        # only get in its way.
        quiet_env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
        cmd = [str(python), "-m", "ensurepip", "--default-pip"]
        code, tail = run(cmd, env=quiet_env, cwd=cwd, log=log)
    else:
        code, tail = run(pip_pin_command(python, home, version, wanted), env=env, cwd=cwd, log=log)
    got = have()
    if code == 0 and got != wanted:
        tail = [f"after the install: {describe({n: v or 'none' for n, v in got.items()})}"]
    if code != 0 or got != wanted:
        raise PackageManagerInstallFailed(
            package_manager="pip", version=TOOLS.pip, detail="\n".join(tail[-5:])
        )
    return dict(wanted)


def ensure_tool(
    pm: PackageManager,
    *,
    tools_root: Path,
    home: Path,
    python: Path,
    version: PythonVersion,
    env: Mapping[str, str],
    cwd: Path,
    log: BuildLog,
) -> Path:
    """uv/Poetry/Pipenv in a cached venv; return the tool's executable."""
    final = tool_dir(tools_root, pm, version, home)
    exe = tool_executable(final, pm)
    if exe.exists():
        log.step(f"Using cached {pm.display} {TOOL_VERSIONS[pm]}")
        return exe
    log.step(f"Installing {pm.display} {TOOL_VERSIONS[pm]}")
    tools_root.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    wheel = bundled_pip(home, version)
    code, tail = run(
        [str(python), "-m", "venv", "--without-pip", str(tmp)], env=env, cwd=cwd, log=log
    )
    if code == 0:
        code, tail = run(
            tool_install_command(tmp / "bin" / "python", wheel, pm), env=env, cwd=cwd, log=log
        )
    if code != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PackageManagerInstallFailed(
            package_manager=pm.display, version=TOOL_VERSIONS[pm], detail="\n".join(tail[-5:])
        )
    # A venv records its absolute path; it is only used from here, under the final name
    # via the tool's own entry point, which finds the interpreter through pyvenv.cfg.
    os.rename(tmp, final)
    _fix_venv_paths(tmp, final)
    return exe


def _fix_venv_paths(old: Path, new: Path) -> None:
    """Rewrite the first line of the venv's scripts after moving it from ``old`` to ``new``."""
    bindir = new / "bin"
    for script in bindir.iterdir():
        if script.is_symlink() or not script.is_file():
            continue
        try:
            data = script.read_bytes()
        except OSError:
            continue
        if data.startswith(b"#!") and str(old).encode() in data.split(b"\n", 1)[0]:
            first, _, rest = data.partition(b"\n")
            fixed = first.replace(str(old).encode(), str(new).encode()) + b"\n" + rest
            tmp = script.with_name(f".{script.name}.tmp")
            tmp.write_bytes(fixed)
            shutil.copymode(script, tmp)
            os.replace(tmp, script)


def install_dependencies(
    pm: PackageManager,
    *,
    tool: Path | None,
    home: Path,
    python: Path,
    pip_cache: Path,
    cache_root: Path,
    env: Mapping[str, str],
    cwd: Path,
    log: BuildLog,
    test: bool = False,
) -> None:
    cmd = dependency_command(pm, tool, python, home, pip_cache, test=test, cwd=cwd)
    full_env = {**env, **dependency_env(pm, home, cache_root)}
    code, _ = run(cmd, env=full_env, cwd=cwd, log=log)
    if code != 0:
        shown = " ".join([Path(cmd[0]).name, *cmd[1:]])
        raise DependencyInstallFailed(package_manager=pm.display, command=shown, exit_code=code)
