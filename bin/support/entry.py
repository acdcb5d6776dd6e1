"""Runs a buildpack phase with this buildpack's copy of pybuildpack (``src/``).

Started by ``bin/support/python.sh`` as ``python -I -S entry.py [--runner-dir DIR]
[--wheels BASE] [--own-site] PHASE ARGS...``. Standard library only: this file is what
makes pybuildpack's dependencies importable. They are the pure-Python wheels pinned in
``runner.lock``, each verified by sha256 every time and put on ``sys.path`` as it is
(zipimport): never installed, no pip, nothing written into the buildpack directory.

A wheel is looked for in ``<buildpack>/vendor/wheels`` (a packaged release), then in
``DIR/wheels`` (the build cache), then fetched from BASE (a mirror: URL or directory with
the wheel files at its top level) or the package index.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time

BP_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCK = os.path.join(BP_DIR, "bin", "support", "runner.lock")
INDEX = "https://files.pythonhosted.org/packages"
MAX_WHEEL = 16 * 1024 * 1024


class BootstrapError(Exception):
    """A failure of the bootstrap itself: printed as lines, exit 1."""


def locked_wheels(lock_path: str = LOCK, version: tuple[int, int] | None = None) -> list[dict]:
    """The wheels ``runner.lock`` pins for this interpreter's version."""
    ver = version or sys.version_info[:2]
    wheels = []
    with open(lock_path, encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if not fields or fields[0] != "wheel":
                continue
            _, name, version_, file, sha256, path, marker = fields
            if marker == "py<3.11" and ver >= (3, 11):
                continue
            wheels.append(
                {"name": name, "version": version_, "file": file, "sha256": sha256, "path": path}
            )
    return wheels


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _download(url: str, attempts: int = 3, timeout: float = 30) -> bytes:
    if url.startswith("file://") or url.startswith("/"):
        path = url[len("file://") :] if url.startswith("file://") else url
        with open(path, "rb") as fh:
            return fh.read(MAX_WHEEL + 1)
    import urllib.request

    last: Exception | None = None
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.read(MAX_WHEEL + 1)
        except OSError as exc:  # URLError, HTTPError, timeouts are OSErrors
            last = exc
            code = getattr(exc, "code", None)
            if code is not None and 400 <= code < 500:
                break
            time.sleep(0.5 * (attempt + 1))
    raise BootstrapError(f"{url}: {last}")


def _wheel_url(base: str | None, wheel: dict) -> str:
    if base:
        return f"{base.rstrip('/')}/{wheel['file']}"
    return f"{INDEX}/{wheel['path']}/{wheel['file']}"


def _store(runner_dir: str | None) -> str:
    if runner_dir:
        store = os.path.join(runner_dir, "wheels")
    else:
        import atexit
        import shutil
        import tempfile

        store = tempfile.mkdtemp(prefix="pybuildpack-wheels-")
        atexit.register(shutil.rmtree, store, True)
    os.makedirs(store, exist_ok=True)
    return store


def wheel_paths(wheels: list[dict], runner_dir: str | None, base: str | None) -> list[str]:
    """Verified files of ``wheels`` for ``sys.path``: packaged, cached, or fetched now."""
    paths: list[str] = []
    missing: list[dict] = []
    for wheel in wheels:
        vendored = os.path.join(BP_DIR, "vendor", "wheels", wheel["file"])
        if os.path.exists(vendored):
            if _digest(vendored) != wheel["sha256"]:
                raise BootstrapError(
                    f"{vendored} does not match its sha256 in runner.lock: this copy of the "
                    "buildpack is damaged. Use a fresh release or the git checkout."
                )
            paths.append(vendored)
            continue
        cached = os.path.join(runner_dir, "wheels", wheel["file"]) if runner_dir else None
        if cached and _digest(cached) == wheel["sha256"]:
            paths.append(cached)
            continue
        missing.append(wheel)
    if not missing:
        return paths
    store = _store(runner_dir)
    where = base or "the package index"
    print(
        f"-----> Fetching pybuildpack's dependencies ({len(missing)} wheels) from {where}",
        file=sys.stderr,
    )
    for wheel in missing:
        url = _wheel_url(base, wheel)
        try:
            data = _download(url)
        except (OSError, BootstrapError) as exc:
            raise BootstrapError(
                f"Could not download {wheel['file']} ({exc}). pybuildpack needs it to run. "
                "Offline? Set PYBUILDPACK_RUNNER_WHEELS to a mirror (URL or directory) "
                "holding the wheels listed in bin/support/runner.lock, or use a packaged "
                "release of the buildpack, which carries them."
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != wheel["sha256"]:
            raise BootstrapError(
                f"{url} failed verification: expected sha256 {wheel['sha256']}, got "
                f"{actual}. Nothing from it was used."
            )
        final = os.path.join(store, wheel["file"])
        _keep(final, data)
        paths.append(final)
    return paths


def _keep(final: str, data: bytes) -> None:
    """Write a verified wheel's ``data`` to ``final`` in one step (a temporary file renamed)."""
    temp = f"{final}.{os.getpid()}.part"
    with open(temp, "wb") as fh:
        fh.write(data)
    os.replace(temp, final)


# --------------------------------------------------------------------------- accelerators

NATIVE_STAMP = ".pybuildpack-native"  # the sha256 of the wheel a native folder came from
NATIVE_RETRY = 24 * 3600  # seconds before a wheel that could not be had is tried again


def interpreter_tag() -> str | None:
    """This interpreter's wheel tag (cp312) when pinned accelerators can load in it: a
    regular CPython build (no debug or free-threaded ABI) on glibc; None otherwise."""
    if sys.implementation.name != "cpython" or getattr(sys, "abiflags", "") != "":
        return None
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (ValueError, OSError):
        return None
    return f"cp{sys.version_info[0]}{sys.version_info[1]}"


def locked_natives(
    lock_path: str = LOCK, tag: str | None = None, arch: str | None = None
) -> list[dict]:
    """The accelerators ``runner.lock`` pins for this interpreter tag and machine."""
    tag = tag or interpreter_tag()
    arch = arch or {"arm64": "aarch64", "amd64": "x86_64"}.get(
        os.uname().machine.lower(), os.uname().machine.lower()
    )
    if tag is None:
        return []
    natives = []
    with open(lock_path, encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) != 8 or fields[0] != "native":
                continue
            _, name, version_, file, sha256, path, pytag, machine = fields
            if pytag == tag and machine == arch:
                natives.append({"name": name, "version": version_, "file": file,
                                "sha256": sha256, "path": path})  # fmt: skip
    return natives


def _native_wheel(wheel: dict, runner_dir: str | None, base: str | None) -> bytes | None:
    """The wheel's bytes once they match its sha256: packaged, cached or fetched (one
    try, a short timeout); None when it cannot be had (remembered for a day)."""
    vendored = os.path.join(BP_DIR, "vendor", "wheels", wheel["file"])
    cached = os.path.join(runner_dir, "wheels", wheel["file"]) if runner_dir else None
    for path in (vendored, cached):
        if path and os.path.exists(path):
            with open(path, "rb") as fh:
                data = fh.read(MAX_WHEEL + 1)
            if hashlib.sha256(data).hexdigest() == wheel["sha256"]:
                return data
    missed = os.path.join(runner_dir, "native", wheel["file"] + ".missed") if runner_dir else None
    try:
        if missed and time.time() - os.stat(missed).st_mtime < NATIVE_RETRY:
            return None
    except OSError:
        pass
    try:
        data = _download(_wheel_url(base, wheel), attempts=1, timeout=10)
    except (OSError, BootstrapError):
        data = b""
    if hashlib.sha256(data).hexdigest() != wheel["sha256"]:
        if missed:
            os.makedirs(os.path.dirname(missed), exist_ok=True)
            with open(missed, "w", encoding="utf-8") as fh:
                fh.write("not available, or not the pinned file\n")
        return None
    if cached:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        _keep(cached, data)
    return data


def _unpack_native(data: bytes, final: str, sha256: str) -> None:
    """Unpack the verified wheel ``data``'s modules into ``final`` (replaced whole): only
    plain relative names, only ``.py`` files and compiled modules."""
    import io
    import shutil
    import zipfile

    temp = f"{final}.{os.getpid()}.part"
    shutil.rmtree(temp, ignore_errors=True)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                parts = info.filename.split("/")
                if info.is_dir() or not info.filename.endswith((".py", ".so")):
                    continue
                if (
                    info.filename.startswith("/")
                    or "\\" in info.filename
                    or any(p in ("", ".", "..") for p in parts)
                ):
                    raise BootstrapError(f"unexpected member {info.filename!r}")
                target = os.path.join(temp, *parts)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "xb") as fh:
                    fh.write(zf.read(info))
        with open(os.path.join(temp, NATIVE_STAMP), "w", encoding="utf-8") as fh:
            fh.write(sha256 + "\n")
        shutil.rmtree(final, ignore_errors=True)
        os.rename(temp, final)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def native_paths(natives: list[dict], runner_dir: str | None, base: str | None) -> list[str]:
    """Folders for ``sys.path`` holding the pinned accelerators that can be had, unpacked
    under the runner directory (a folder whose stamp names the pinned sha256 is used as
    it is, as the cached runner CPython is). Never fails: an accelerator that cannot be had
    or unpacked is left out, and the standard library does its work."""
    if not runner_dir:
        return []  # no place to keep them: not worth unpacking for one build
    paths = []
    for wheel in natives:
        final = os.path.join(runner_dir, "native", wheel["file"][: -len(".whl")])
        try:
            with open(os.path.join(final, NATIVE_STAMP), encoding="utf-8") as fh:
                if fh.read().strip() == wheel["sha256"]:
                    paths.append(final)
                    continue
        except OSError:
            pass
        try:
            data = _native_wheel(wheel, runner_dir, base)
            if data is not None:
                _unpack_native(data, final, wheel["sha256"])
                paths.append(final)
        except Exception:  # optional: anything wrong means without it
            continue
    return paths


def _parse(argv: list[str]) -> tuple[str | None, str | None, bool, list[str]]:
    runner_dir = base = None
    own_site = False
    while argv and argv[0].startswith("--"):
        flag = argv.pop(0)
        if flag == "--own-site":
            own_site = True
        elif flag == "--runner-dir":
            runner_dir = argv.pop(0) or None
        elif flag == "--wheels":
            base = argv.pop(0) or None
        else:
            raise BootstrapError(f"unknown bootstrap option {flag}")
    return runner_dir, base, own_site, argv


def _has_deps(wheels: list[dict]) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(w["name"]) is not None for w in wheels)


def cache_own_bytecode(src: str, prefix: str) -> None:
    """Keep the bytecode of the modules under ``src`` (pybuildpack's own) in ``prefix``,
    the runner directory's ``pycache``, between builds.

    The interpreter runs with ``-B``: nothing else writes bytecode, so the standard library
    keeps reading its own and is never written to. A process-wide ``-X pycache_prefix``
    would instead look for the standard library's bytecode under ``prefix`` too, and
    compile all of it again for every new build cache (0.1 s of a cold build's start-up).
    Only while a module of ``src`` is loaded are ``sys.pycache_prefix`` and
    ``sys.dont_write_bytecode`` switched; the order of the switches means a concurrent
    import elsewhere could at most write into ``prefix``, never next to its source."""
    from importlib.machinery import SOURCE_SUFFIXES, FileFinder, SourceFileLoader

    class Loader(SourceFileLoader):
        def get_code(self, fullname: str):
            saved = sys.pycache_prefix
            sys.pycache_prefix = prefix
            sys.dont_write_bytecode = False
            try:
                return super().get_code(fullname)
            finally:
                sys.dont_write_bytecode = True
                sys.pycache_prefix = saved

    inside = os.path.join(src, "")

    def hook(path: str) -> FileFinder:
        if path != src and not path.startswith(inside):
            raise ImportError("not pybuildpack's source")
        return FileFinder(path, (Loader, SOURCE_SUFFIXES))

    sys.path_hooks.insert(0, hook)


def main(argv: list[str]) -> int:
    try:
        runner_dir, base, own_site, phase = _parse(list(argv))
        wheels = locked_wheels()
        if not (own_site and _has_deps(wheels)):
            sys.path[:0] = wheel_paths(wheels, runner_dir, base)
        natives = locked_natives()
        if not (own_site and _has_deps(natives)):
            sys.path[:0] = native_paths(natives, runner_dir, base)
    except (BootstrapError, OSError) as exc:
        import textwrap

        for line in textwrap.wrap(str(exc), 86, break_long_words=False, break_on_hyphens=False):
            print(f" !     {line}", file=sys.stderr)
        return 1
    src = os.path.join(BP_DIR, "src")
    if runner_dir is not None and sys.dont_write_bytecode:
        cache_own_bytecode(src, os.path.join(runner_dir, "pycache"))
    sys.path.insert(0, src)
    from pybuildpack.buildpack.__main__ import main as phase_main

    return phase_main(phase)


if __name__ == "__main__":
    _code = main(sys.argv[1:])
    if "pybuildpack" in sys.modules:
        # The phase ran, and returned only once its work was finished and durable (every
        # file closed, the cache published by rename): no interpreter teardown (~10 ms of
        # a build) unless something needs the normal exit (pybuildpack/_exit.py).
        from pybuildpack._exit import leave

        leave(_code)
    sys.exit(_code)
