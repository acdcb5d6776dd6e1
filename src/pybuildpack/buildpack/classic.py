"""The classic (cedar) buildpack interface: bin/detect, bin/compile, bin/release, bin/report.

``compile`` follows the classic order of steps (which decides which error wins): stack,
duplicate buildpack, config vars, pre_compile hook, a committed .heroku/python, package
manager, committed venv, cached (sticky) version, requested version and resolution, cache
restore or discard, runtime install, package manager, dependencies, profile.d/export,
post_compile hook, and - only when everything succeeded - the atomic cache save.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from pathlib import Path

from pybuildpack import __version__
from pybuildpack._record import fields, is_record, replace
from pybuildpack.app import resolve_app
from pybuildpack.buildpack import checks, deps, django, uv_pip
from pybuildpack.buildpack import env as envmod
from pybuildpack.buildpack.build_cache import (
    BuildCache,
    CacheState,
    PristineCopy,
    Snapshot,
    copy_runtime_aside,
    decide,
    exclusive_lock,
    restore_tree,
    store_files,
    tree_unchanged,
)
from pybuildpack.buildpack.build_data import BuildData, read_report
from pybuildpack.buildpack.deps import PackageManager
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.buildpack.runtime import (
    Installer,
    build_source_builds,
    install_runtime,
    provisioning_options,
)
from pybuildpack.catalog import load_catalog
from pybuildpack.errors import (
    AppHomeBusy,
    AppHomeLinkChanged,
    AppHomeNotLinked,
    BuildWarning,
    HookFailed,
    PackageManagerInstallFailed,
    PyBuildpackError,
    PythonVersionNotSpecified,
    PythonVersionOutdatedPatch,
)
from pybuildpack.host import host_arch
from pybuildpack.version import Generation, Origin, PythonVersion

APP_HOME_ENV = "PYBUILDPACK_APP_HOME"
# How long a build waits for another one using APP_HOME/.heroku/python (seconds).
APP_HOME_WAIT_ENV = "PYBUILDPACK_APP_HOME_WAIT"
APP_HOME_WAIT_DEFAULT = 1800.0
EXPORT_ENV = "PYBUILDPACK_EXPORT_FILE"
# Config vars never passed to the build's subprocesses: they would break the toolchain.
CONFIG_DENYLIST = frozenset(
    {
        "PATH",
        "CPATH",
        "CPPATH",
        "LD_PRELOAD",
        "LIBRARY_PATH",
        "LD_LIBRARY_PATH",
        "PYTHONHOME",
        "PYTHONPATH",
    }
)


def buildpack_dir() -> Path:
    return Path(__file__).resolve().parents[3]


def read_env_dir(env_dir: Path | None) -> dict[str, str]:
    """The app's config vars: one file per variable in ENV_DIR."""
    config: dict[str, str] = {}
    if env_dir is None or not env_dir.is_dir():
        return config
    for f in sorted(env_dir.iterdir()):
        if f.is_file() and f.name.isidentifier():
            try:
                config[f.name] = f.read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return config


def failure_detail(err: PyBuildpackError) -> str | None:
    if not is_record(err):
        return None
    for f in fields(err):
        value = getattr(err, f.name)
        if value not in (None, "", ()):
            return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return None


# ------------------------------------------------------------------ detect / release / report


def detect(build_dir: Path, log: BuildLog | None = None) -> int:
    log = log or BuildLog()
    if checks.detect(build_dir) is not None:
        print("Python", file=log.out)
        return 0
    try:
        names = sorted(os.listdir(build_dir))
    except OSError:
        names = []
    listing = "\n".join(names[:30]) or "(empty)"
    print(
        "\n !     No Python project files found (such as requirements.txt, uv.lock,\n"
        " !     poetry.lock, Pipfile.lock, pyproject.toml or .python-version).\n"
        f" !     The app root contains:\n{_indent(listing)}\n"
        " !     Add the package manager file of your app to its top-level directory.\n",
        file=log.err,
    )
    return 1


def _indent(text: str) -> str:
    return "\n".join(f" !       {line}" for line in text.splitlines())


def release(build_dir: Path) -> int:
    # No default process types: the app's Procfile says how to run it.
    print("---\n{}")
    return 0


def report(cache_dir: Path) -> int:
    import json

    print(json.dumps(read_report(cache_dir), indent=2, sort_keys=True))
    return 0


# --------------------------------------------------------------------------- compile


def compile(
    build_dir: Path,
    cache_dir: Path,
    env_dir: Path | None,
    *,
    environ: Mapping[str, str] | None = None,
    installer: Installer | None = None,
    log: BuildLog | None = None,
    test: bool = False,
) -> int:
    """Run a classic build. Returns the exit code; never raises for expected failures.

    ``test``: a CI build (``bin/test-compile``): the test dependencies too, no
    collectstatic (``DISABLE_COLLECTSTATIC=1``), a UTF-8 locale, as the reference does."""
    environ = dict(os.environ if environ is None else environ)
    if test:
        environ.update(DISABLE_COLLECTSTATIC="1", INSTALL_TEST="1", LC_ALL="C.UTF-8")
        environ["LANG"] = "C.UTF-8"
    log = log or BuildLog()
    cache_dir.mkdir(parents=True, exist_ok=True)
    data = BuildData(cache_dir)
    data.start()
    try:
        _Compile(build_dir, cache_dir, env_dir, environ, installer, log, data, test).run()
    except PyBuildpackError as err:
        log.error(err)
        data.set("failure_reason", err.id)
        data.set("failure_detail", failure_detail(err))
        data.finish()
        return 1
    except Exception as exc:  # a bug: say so, no traceback unless asked
        if environ.get("PYBUILDPACK_DEBUG"):
            traceback.print_exc()
        log.internal_error(exc)
        data.set("failure_reason", "internal-error")
        data.set("failure_detail", f"{type(exc).__name__}: {exc}")
        data.finish()
        return 1
    data.finish()
    return 0


class _Compile:
    def __init__(
        self,
        build_dir: Path,
        cache_dir: Path,
        env_dir: Path | None,
        environ: dict[str, str],
        installer: Installer | None,
        log: BuildLog,
        data: BuildData,
        test: bool = False,
    ) -> None:
        self.test = test
        self.build_dir = build_dir.resolve()
        self.cache = BuildCache(cache_dir.resolve())
        self.cache_dir = cache_dir.resolve()  # CACHE_DIR as given (hooks see it)
        self.env_dir = env_dir
        self.environ = environ
        self.settings: dict[str, str] = environ  # + the app's config vars, once read
        self.installer = installer
        self.log = log
        self.data = data
        self.temp_paths: list[Path] = []
        self.held = ExitStack()  # locks held until the build ends
        self.linked: Path | None = None  # APP_HOME/.heroku/python, when this build made it
        self.uv_prefetch: uv_pip.UvPrefetch | None = None
        self.pristine_copy: PristineCopy | None = None  # install_python
        self.uv_query: uv_pip.UvQuery | None = None  # start_uv_query

    def warn(self, warning: BuildWarning) -> None:
        self.log.warning(warning)

    def run(self) -> None:
        with self.held:
            # One build at a time per cache; whatever a killed build left goes first.
            self.held.enter_context(
                self.cache.locked(
                    on_wait=lambda: self.log.info("Waiting for another build using this cache")
                )
            )
            self.cache.prune()
            try:
                self._run()
            finally:
                if self.uv_prefetch is not None:
                    self.uv_prefetch.wait()
                if self.uv_query is not None:
                    self.uv_query.wait()
                if self.pristine_copy is not None and self.pristine_copy.thread is not None:
                    self.pristine_copy.thread.join()  # before its folder is removed
                for p in self.temp_paths:
                    shutil.rmtree(p, ignore_errors=True)

    def _run(self) -> None:
        build_dir, log, data, environ = self.build_dir, self.log, self.data, self.environ
        stack = checks.check_stack(environ)
        arch = host_arch(environ)
        checks.check_duplicate_buildpack(build_dir, environ)
        config = read_env_dir(self.env_dir)
        checks.check_unsafe_env(config)
        base = {k: v for k, v in environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
        base.update({k: v for k, v in config.items() if k not in CONFIG_DENYLIST})
        self.settings = base
        self.hook("pre_compile", base)
        checks.check_existing_python_dir(build_dir)

        pm = deps.detect_package_manager(build_dir, Generation.CEDAR)
        data.set("package_manager", pm.value)
        checks.check_committed_venv(build_dir)

        catalog = load_catalog(environ.get("PYBUILDPACK_CATALOG") or None)
        sticky = self.cache.sticky_version()
        resolution = resolve_app(
            build_dir,
            catalog,
            generation=Generation.CEDAR,
            stack=stack,
            arch=arch,
            cached_version=sticky,
            builds=build_source_builds(base, catalog),
        )
        requested, version = resolution.requested, resolution.version
        # (uv apps without .python-version: resolve_app raised the uv errors already)
        if requested.origin is Origin.DEFAULT:
            log.step(f"No Python version was specified. Using the default: Python {requested}")
        elif requested.origin is Origin.CACHED:
            log.step(
                "No Python version was specified. Using the same major version as the last "
                f"build: Python {requested}"
            )
        else:
            log.step(f"Using Python {requested} specified in {requested.origin.value}")
        for w in resolution.warnings:
            if isinstance(w, PythonVersionNotSpecified) and pm is PackageManager.UV:
                continue
            self.warn(w)
        data.set("python_version_requested", str(requested))
        data.set("python_version_origin", requested.origin.value)
        data.set("python_version", str(version))
        data.set("python_version_major", str(version.series))
        data.set("python_version_pinned", resolution.pinned)
        data.set(
            "python_version_outdated",
            any(isinstance(w, PythonVersionOutdatedPatch) for w in resolution.warnings),
        )
        data.set("stack", stack)
        data.set("arch", arch)

        dest = build_dir / ".heroku" / "python"
        home = self.link_app_home(dest)
        python = home / "bin" / "python3"
        tool_version = deps.TOOL_VERSIONS.get(pm, deps.TOOLS.pip)
        new_state = CacheState(
            python_version=str(version),
            stack=stack,
            arch=arch,
            package_manager=pm.value,
            package_manager_version=tool_version,
            dependencies_hash=deps.dependencies_hash(build_dir, pm, test=self.test),
            python_home=str(home),
            pybuildpack_version=__version__,
            install_fingerprint=(
                deps.pip_install_fingerprint(build_dir, base)
                if pm is PackageManager.PIP and not self.test
                else None
            ),
        )

        env = envmod.build_env(base, home, version, extra=deps.runtime_env(pm))

        # ---- cache restore or discard
        with data.timed("cache_restore"):
            old_state = self.cache.state()
            decision = decide(old_state, new_state)
            data.set("cache_status", decision.status)
            # Wheels built for another runtime or stack may link against its system
            # libraries: the pip and uv caches go (below, once the runtime is in place).
            stale_wheels = bool(decision.runtime_reasons) and self.cache.pip_cache.exists()
            # Fingerprint: pip would install nothing into the environment it made last time.
            skip_install = (
                decision.reuse_dependencies
                and old_state is not None
                and new_state.install_fingerprint is not None
                and old_state.install_fingerprint == new_state.install_fingerprint
            )
            if pm is PackageManager.PIP and not skip_install:
                self.start_uv_prefetch(base)
            dest.parent.mkdir(parents=True, exist_ok=True)
            # The build tree gets copies (never the cache's own files): see build_cache.
            pristine: Path
            snapshot: Snapshot
            if decision.reuse_dependencies:
                log.step("Restoring cache")
                log.info(f"Using cached Python {version} and dependencies")
                tree = self.cache.python_tree()
                runtime_tree = self.cache.runtime_tree()
                assert tree is not None and runtime_tree is not None
                snapshot = self.restore(tree, dest, runtime_tree)
                pristine = runtime_tree
            elif decision.reuse_runtime:
                log.step("Discarding cached dependencies since:")
                log.info("\n".join(f" - {r}" for r in decision.dependency_reasons))
                log.info(f"Using cached Python {version}")
                runtime_tree = self.cache.runtime_tree()
                assert runtime_tree is not None
                snapshot = self.restore(runtime_tree, dest, runtime_tree)
                pristine = runtime_tree
            else:
                if decision.runtime_reasons:
                    log.step("Discarding cache since:")
                    log.info("\n".join(f" - {r}" for r in decision.runtime_reasons))
                pristine, snapshot = self.install_python(  # no query for a uv cache that goes
                    version, dest, stack, arch, query=None if stale_wheels else (python, env)
                )  # fmt: skip

        # ---- package manager and dependencies
        pip_cache = self.cache.pip_cache
        if stale_wheels:
            shutil.rmtree(pip_cache, ignore_errors=True)
            shutil.rmtree(self.cache.root / "uv-cache", ignore_errors=True)
        tool = None
        plan = None
        files = self.requirement_files()
        if pm is PackageManager.PIP:
            choice = uv_pip.installer_choice(base)  # a bad value fails every build
            if not skip_install:
                plan = uv_pip.plan(choice, build_dir, base, files)
        with data.timed("package_manager_install"):
            if plan is not None and plan.use_uv:
                # uv first: it installs the pinned pip too (pip_via_uv), much faster
                try:
                    tool = uv_pip.fetch_uv(
                        self.cache.tools, python=python, env=env, settings=base,
                        cwd=build_dir, log=log, pip=deps.pip_runner(python, home, version),
                        prefetched=self.uv_prefetch, machine=self.download_cache / "tools",
                    )  # fmt: skip
                except PackageManagerInstallFailed as exc:
                    if plan.choice is not uv_pip.InstallerChoice.AUTO:
                        raise
                    plan = replace(
                        plan, use_uv=False, reason=f"uv {exc.version} could not be installed"
                    )
            if pm in (PackageManager.PIP, PackageManager.PIPENV):
                pins = deps.ensure_pip(
                    home, python, version, env, build_dir, log,
                    uv_install=self.pip_via_uv(tool, python, env, plan),
                )  # fmt: skip
                for name, pinned in pins.items():
                    data.set(f"{name}_version", pinned)
            if pm is not PackageManager.PIP:
                tool = deps.ensure_tool(
                    pm,
                    tools_root=self.cache.tools,
                    home=home,
                    python=python,
                    version=version,
                    env=env,
                    cwd=build_dir,
                    log=log,
                )
                data.set(f"{pm.value}_version", deps.TOOL_VERSIONS[pm])
        data.set("dependencies_reused", skip_install)
        if skip_install:
            log.step(f"Skipping {pm.display}: dependencies restored from the cache as they were")
            log.info(
                "requirements.txt, the PIP_* settings, Python, pip, the stack and the install\n"
                "path are unchanged since the last build, and requirements.txt names only\n"
                "packages (no options, URLs or paths): pip would install nothing."
            )
        elif plan is not None:
            data.set("dependency_installer", "uv" if plan.use_uv else "pip")
            log.step(uv_pip.describe(plan))
            if plan.reason is not None:
                verb = "uv anyway" if plan.use_uv else "pip"
                log.info(f"Using {verb}: {plan.reason} (docs/buildpack.md, 'uv for pip apps').")
        else:
            log.step(f"Installing dependencies with {pm.display}")
        with data.timed("dependencies_install"):
            if plan is not None and plan.use_uv:
                assert tool is not None
                data.set("uv_version", uv_pip.UV_VERSION)
                uv_pip.install(
                    tool, python=python, plan=plan, files=files, settings=base, env=env,
                    cache_dir=self.cache.root / "uv-cache", cwd=build_dir, log=log,
                )  # fmt: skip
            elif not skip_install:
                deps.install_dependencies(
                    pm,
                    tool=tool,
                    home=home,
                    python=python,
                    pip_cache=pip_cache,
                    cache_root=self.cache.root,
                    env=env,
                    cwd=build_dir,
                    log=log,
                    test=self.test,
                )

        # ---- Django's static files (test-compile disables it, as the reference does)
        django.collectstatic(
            build_dir, python, env, log, data, site=deps.site_packages(home, version)
        )

        # ---- environment for the app and for later buildpacks
        app_home = Path(environ.get(APP_HOME_ENV) or "/app")
        envmod.write_atomic(
            build_dir / ".profile.d" / "python.sh",
            envmod.profile_script(
                package_manager_env=deps.runtime_env(pm),
                app_home=app_home,
                link_app_home=home != dest,
            ),
        )
        envmod.write_atomic(
            build_dir / ".profile.d" / "python-web-concurrency.sh", envmod.WEB_CONCURRENCY_SCRIPT
        )
        export = Path(environ.get(EXPORT_ENV) or buildpack_dir() / "export")
        try:
            envmod.write_atomic(
                export,
                envmod.export_script(home, version, package_manager_env=deps.runtime_env(pm)),
            )
        except OSError as exc:
            log.info(
                f"Could not write {export} ({exc.strerror}); later buildpacks will not see Python"
            )

        self.hook("post_compile", env)
        self.check_app_home_link(dest)

        # ---- save the cache: only now that the build succeeded
        final_state = replace(new_state, saved_at=time.time())
        unchanged = (
            decision.reuse_dependencies
            and old_state is not None
            and replace(old_state, saved_at=None) == replace(new_state, saved_at=None)
            and snapshot.origin == self.cache.python_tree()
            and tree_unchanged(dest, snapshot)
        )
        if unchanged:
            log.info("Build cache unchanged (same inputs, same files): not saved again")
        with data.timed("cache_save"):
            if self.pristine_copy is not None and not self.pristine_copy.finish():
                log.info(
                    f"Build cache not saved: {self.pristine_copy.changed} in the runtime store "
                    "changed during the build, so the cached runtime would not be as installed"
                )
            elif not unchanged:
                self.cache.save(
                    final_state, pristine, dest, snapshot, move_runtime=pristine in self.temp_paths
                )

    def requirement_files(self) -> list[str]:
        """The requirements files of a pip app (test builds: the test requirements too)."""
        files = ["requirements.txt"]
        if self.test and (self.build_dir / deps.PIP_TEST_REQUIREMENTS).is_file():
            files.append(deps.PIP_TEST_REQUIREMENTS)
        return files

    def start_uv_prefetch(self, settings: Mapping[str, str]) -> None:
        """When uv will install the dependencies and its wheel is in a local folder, start
        unpacking it now, while the runtime is installed or restored (``UvPrefetch``)."""
        try:
            choice = uv_pip.installer_choice(settings)
        except PyBuildpackError:
            return  # reported where the installer is chosen
        if uv_pip.plan(choice, self.build_dir, settings, self.requirement_files()).use_uv:
            self.uv_prefetch = uv_pip.prefetch_uv(
                self.cache.tools, settings, self.download_cache / "tools"
            )

    @functools.cached_property
    def download_cache(self) -> Path:
        """The provisioning layer's download cache (with the runtime store and the tool
        store) of this build, from its settings (read once they are known)."""
        cache_dir = provisioning_options(self.settings).get("cache_dir")
        if cache_dir is None:
            from pybuildpack.provision.cache import default_cache_dir

            cache_dir = default_cache_dir()
        return Path(cache_dir)

    def restore(self, tree: Path, dest: Path, runtime_tree: Path) -> Snapshot:
        """Copy the cached ``tree`` into the build directory, linking the runtime files that
        are still as installed from the machine's runtime store when it has their entry
        (``restore_tree``)."""
        store = store_files(self.download_cache, runtime_tree)
        done = restore_tree(tree, dest, runtime=runtime_tree, store=store)
        self.data.set("restore_linked_files", done.linked)
        if done.linked:
            self.log.info(
                f"{done.linked} runtime files linked from the runtime store (read-only, "
                "as installed), the rest copied from the cache"
            )
        if done.refused:
            self.log.info(
                f"{done.refused} runtime files in the runtime store differ from its manifest: "
                "copied from the cache instead"
            )
        return done.snapshot

    def pip_via_uv(
        self,
        uv: Path | None,
        python: Path,
        env: Mapping[str, str],
        plan: uv_pip.Plan | None,
    ) -> Callable[[Mapping[str, str]], tuple[int, list[str]]] | None:
        """How uv installs the pinned pip into the runtime, when uv installs the
        dependencies because the rule allows it (the build's settings are then ones uv
        reads as pip does); None otherwise. pip's own bytecode is not compiled (see
        ``uv_pip.uv_pin_command``)."""
        if uv is None or plan is None or not plan.use_uv or plan.reason is not None:
            return None
        settings, cwd, log = self.settings, self.build_dir, self.log
        cache_dir = self.cache.root / "uv-cache"

        def install(wanted: Mapping[str, str]) -> tuple[int, list[str]]:
            if self.uv_query is not None:
                self.uv_query.wait()  # its answer is in the cache: not asked twice
            cmd = uv_pip.uv_pin_command(uv, python, wanted, settings, cache_dir)
            return deps.run(cmd, env=uv_pip.uv_install_env(env, settings), cwd=cwd, log=log)

        return install

    def install_python(
        self,
        version: PythonVersion,
        dest: Path,
        stack: str,
        arch: str,
        query: tuple[Path, Mapping[str, str]] | None = None,
    ) -> tuple[Path, Snapshot]:
        """Install the runtime into ``dest`` and start copying it aside for the cache.
        ``query``: the runtime's python3 as the build runs it, and the build's environment,
        for ``start_uv_query``."""
        self.log.step(f"Installing Python {version}")
        with self.data.timed("python_install"):
            installed = install_runtime(
                version, dest, stack=stack, arch=arch, installer=self.installer,
                settings=self.settings,
            )  # fmt: skip
        self.log.info(
            f"Downloaded {installed.bytes / 1e6:.1f} MB in {installed.seconds:.1f}s"
            if installed.bytes
            else f"Installed in {installed.seconds:.1f}s"
        )
        if query is not None:
            self.start_uv_query(*query)
        # Keep the runtime exactly as installed, for the next build: a copy, taken before
        # anything that writes runs in it (a leftover of a killed build is removed by the
        # next one).
        self.cache.root.mkdir(parents=True, exist_ok=True)
        pristine = self.cache.root / f".pristine-{os.getpid()}"
        shutil.rmtree(pristine, ignore_errors=True)
        self.temp_paths.append(pristine)
        self.pristine_copy = copy_runtime_aside(
            dest, pristine, store_files(self.download_cache, dest)
        )
        return pristine, self.pristine_copy.snapshot

    def start_uv_query(self, python: Path, env: Mapping[str, str]) -> None:
        """When uv's binary is unpacked already (``start_uv_prefetch``) and the runtime was
        just installed, let uv query the runtime's interpreter now (``uv_pip.UvQuery``),
        while this process copies the runtime aside for the cache, rather than at the
        start of uv's first install (~30 ms of every cold build)."""
        pre = self.uv_prefetch
        if pre is None or pre.thread.is_alive() or not pre.done:
            return
        uv = uv_pip.cached_uv(self.cache.tools)
        if uv is not None:
            self.uv_query = uv_pip.UvQuery(
                uv, python=python, env=env, settings=self.settings,
                cache_dir=self.cache.root / "uv-cache", cwd=self.build_dir,
            )  # fmt: skip

    def link_app_home(self, dest: Path) -> Path:
        """Make ``APP_HOME/.heroku/python`` point at ``dest`` when safe; return the path to use.

        The runtime then has the same path during the build as at run time (when the app
        lives at APP_HOME), which is what console scripts' first lines and venvs record.
        """
        app_home = Path(self.environ.get(APP_HOME_ENV) or "/app")
        try:
            if app_home.resolve() == self.build_dir:
                return app_home / ".heroku" / "python"
        except OSError:
            pass
        link = app_home / ".heroku" / "python"
        reason = None
        if not app_home.is_dir():
            reason = f"{app_home} does not exist."
        elif link.exists() and not link.is_symlink():
            reason = f"{link} exists and is not a symbolic link: it is left alone."
        elif not os.access(app_home, os.W_OK):
            reason = f"{app_home} is not writable."
        if reason is None:
            try:
                link.parent.mkdir(exist_ok=True)
                # One path for every build on this host: builds take turns holding it.
                self.held.enter_context(self.app_home_lock(link))
                tmp = link.with_name(f".python-link-{os.getpid()}")
                if tmp.is_symlink():
                    tmp.unlink()
                os.symlink(dest, tmp)
                os.replace(tmp, link)
                self.linked = link
                return link
            except OSError as exc:
                reason = f"Linking {link} failed: {exc.strerror or exc}."
        self.warn(
            AppHomeNotLinked(app_home=str(app_home), build_dir=str(self.build_dir), reason=reason)
        )
        return dest

    def app_home_lock(self, link: Path) -> ExitStack:
        """Hold ``APP_HOME/.heroku/.python.lock`` until the build ends; wait for it when
        another build (of any app) holds it, at most ``PYBUILDPACK_APP_HOME_WAIT`` seconds."""
        try:
            wait = float(self.environ.get(APP_HOME_WAIT_ENV) or APP_HOME_WAIT_DEFAULT)
        except ValueError:
            wait = APP_HOME_WAIT_DEFAULT
        lock_path = link.with_name(".python.lock")
        stack = ExitStack()
        try:
            stack.enter_context(
                exclusive_lock(
                    lock_path,
                    timeout=wait,
                    on_wait=lambda: self.log.info(
                        f"Waiting for another build that uses {link} (at most {wait:g}s)"
                    ),
                )
            )
        except TimeoutError:
            raise AppHomeBusy(link=str(link), lock=str(lock_path), seconds=wait) from None
        return stack

    def check_app_home_link(self, dest: Path) -> None:
        """Fail rather than save a build whose APP_HOME link was repointed meanwhile (by
        something that does not take the lock): its dependencies went elsewhere."""
        if self.linked is None:
            return
        try:
            target = os.readlink(self.linked)
        except OSError:
            target = "(no link)"
        if target != str(dest):
            raise AppHomeLinkChanged(link=str(self.linked), expected=str(dest), found=target)

    def hook(self, name: str, env: Mapping[str, str]) -> None:
        script = self.build_dir / "bin" / name
        if not script.is_file():
            self.data.set(f"{name}_hook", False)
            return
        self.log.step(f"Running bin/{name} hook")
        self.data.set(f"{name}_hook", True)
        hook_env = {**env, "BUILD_DIR": str(self.build_dir), "CACHE_DIR": str(self.cache_dir)}
        if self.env_dir is not None:
            hook_env["ENV_DIR"] = str(self.env_dir.resolve())
        with self.data.timed(f"{name}_hook"):
            proc = subprocess.Popen(
                hook_command(script),
                cwd=self.build_dir,
                env=hook_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                self.log.lines([line])
            code = proc.wait()
        if code != 0:
            raise HookFailed(hook=name, exit_code=code)


def hook_command(script: Path) -> list[str]:
    """How a hook runs, as on Heroku (which makes it executable and runs it): its own ``#!``
    line picks the interpreter (with at most one argument, as the kernel reads it), whether
    or not the file is executable; without one, bash runs it."""
    try:
        with script.open("rb") as f:
            first = f.readline(512)
    except OSError:
        first = b""
    if first.startswith(b"#!"):
        parts = first[2:].decode("utf-8", "replace").strip().split(None, 1)
        if parts:
            return [*parts, str(script)]
    return [shutil.which("bash") or "/bin/sh", str(script)]


def main(argv: list[str]) -> int:
    """``compile BUILD CACHE ENV`` etc., as the sh shims call it."""
    from pybuildpack.errors import BuildpackInvocationInvalid

    phase, args = argv[0], argv[1:]
    need = {"detect": 1, "compile": 3, "test-compile": 3, "release": 1, "report": 3}[phase]
    if (
        len(args) < need
        and not (phase in ("compile", "test-compile") and len(args) == 2)
        and not (phase == "report" and len(args) >= 2)
    ):
        err = BuildpackInvocationInvalid(
            detail=f"bin/{phase} needs {need} directory arguments, got {len(args)}."
        )
        BuildLog().error(err)
        return 2
    if phase == "detect":
        return detect(Path(args[0]))
    if phase in ("compile", "test-compile"):
        env_dir = Path(args[2]) if len(args) > 2 else None
        return compile(Path(args[0]), Path(args[1]), env_dir, test=phase == "test-compile")
    if phase == "release":
        return release(Path(args[0]))
    return report(Path(args[1]))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
