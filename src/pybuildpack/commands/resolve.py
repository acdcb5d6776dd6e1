"""``pybuildpack resolve`` and ``pybuildpack check``."""

from __future__ import annotations

import argparse
from pathlib import Path

from pybuildpack._record import dataclass, replace
from pybuildpack.app import allowed_versions, read_pyproject, resolve_app
from pybuildpack.catalog import (
    Catalog,
    SourceBuilds,
    downloads_path,
    load_catalog,
    source_builds,
)
from pybuildpack.cli import add_common_options
from pybuildpack.commands._shared import add_platform_options, parse_cached_version, platform_args
from pybuildpack.commands.versions import catalog_notices
from pybuildpack.errors import (
    AppDirNotFound,
    BuildWarning,
    ConflictingVersionFiles,
    PyBuildpackError,
    PythonVersionFileInvalidVersion,
    PythonVersionFileMisspelled,
    PythonVersionFileMultipleVersions,
)
from pybuildpack.host import host_arch
from pybuildpack.output import Output, app_dir_shown, render
from pybuildpack.requested import (
    MISSPELLED_NAMES,
    PIPFILE_LOCK,
    PYTHON_VERSION_FILE,
    RUNTIME_TXT,
    read_app_file,
    with_suggestion,
)
from pybuildpack.resolve import Resolution, for_source
from pybuildpack.version import Generation, Origin
from pybuildpack.version_files import (
    parse_pipfile_lock,
    parse_python_version_file,
    parse_runtime_txt,
)

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

RESOLVE_HELP = """\
Print the Python version the app in APP_DIR (default: the current directory) gets, and why.

The version comes from the first of these that applies:
  cedar (default): runtime.txt (deprecated) > .python-version > Pipfile.lock
                   > --cached-version (its major) > the catalog default
  fir:             .python-version > the catalog default (runtime.txt is an error)
A major version (3.14) resolves to its newest patch in the catalog.

stdout carries the version (or, with --json, exactly one JSON object); explanations and
warnings go to stderr. Exit code 1 on error.
"""

CHECK_HELP = """\
Lint the app's Python version files: report every problem at once, with its fix.

Checks each file on its own (.python-version, runtime.txt, Pipfile.lock, misspelled
names, pyproject.toml requires-python), then the full resolution. Exit code 1 if there
is any error (or any warning, with --strict). Suitable for CI and pre-commit.

Several PATHs check several apps; a file stands for the app directory it is in, so
'pybuildpack check services/api/.python-version' checks services/api (pre-commit passes
the changed files this way).
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "resolve",
        help="print the Python version an app gets",
        description=RESOLVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "app_dir", metavar="APP_DIR", nargs="?", default=".", help="the app's root (default: .)"
    )
    add_platform_options(p)
    add_source_options(p)
    add_common_options(p)
    p.set_defaults(func=run_resolve, exit_fast=True)

    c = sub.add_parser(
        "check",
        help="lint an app's version files (CI / pre-commit)",
        description=CHECK_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument(
        "paths",
        metavar="PATH",
        nargs="*",
        help="app directories, or files in them (as pre-commit passes them); default: .",
    )
    add_platform_options(c)
    add_source_options(c)
    c.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    add_common_options(c)
    c.set_defaults(func=run_check, exit_fast=True)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        choices=["pbs", "heroku"],
        help="check the version against this archive source's builds (as 'install' would); "
        "default: the catalog alone",
    )
    parser.add_argument(
        "--downloads", metavar="FILE", help="download metadata to use with --source (JSON)"
    )


def archive_builds(
    source: str | None, downloads: str | None, catalog: Catalog, *, installing: bool = False
) -> SourceBuilds | None:
    """The builds of the archive source in use, when it is known: always for ``install``
    (``--source``, ``PYBUILDPACK_SOURCE`` or the default), else only with ``--source``."""
    if source is None and not installing:
        return None
    from pybuildpack.provision.sources import choose_source, load_downloads

    name = choose_source(source)
    return source_builds(load_downloads(downloads_path(downloads, catalog)), name)


def _warnings_json(warnings: tuple[BuildWarning, ...] | list[BuildWarning]) -> list[dict[str, str]]:
    return [render(w).as_json() for w in warnings]


def explain(resolution: Resolution) -> str:
    req = resolution.requested
    where = {
        Origin.RUNTIME_TXT: "specified in runtime.txt",
        Origin.PYTHON_VERSION_FILE: "specified in .python-version",
        Origin.PIPFILE_LOCK: "specified in Pipfile.lock",
        Origin.CACHED: "the same major as the previous build (build cache)",
        Origin.DEFAULT: "the default, as no version is specified",
    }[req.origin]
    rule = f"exact patch {req}" if req.patch is not None else f"newest {req} patch in the catalog"
    return f"Python {resolution.version}: {req} ({where}) -> {rule}"


@dataclass(frozen=True)
class Resolved:
    """What ``resolve`` and ``install`` share: the inputs they read and the resolution."""

    catalog: Catalog
    stack: str | None
    arch: str | None
    generation: Generation
    resolution: Resolution


def resolve_and_explain(
    args: argparse.Namespace, out: Output, *, installing: bool = False
) -> Resolved:
    """Resolve the app in ``args.app_dir`` from the shared options; tell the user why.

    ``installing``: the archive source is known (install), so the version is checked
    against its builds for this machine's arch."""
    catalog = load_catalog(args.catalog)
    stack, arch = platform_args(args)
    generation = Generation(args.generation)
    builds = archive_builds(args.source, args.downloads, catalog, installing=installing)
    resolution = resolve_app(
        Path(args.app_dir),
        catalog,
        generation=generation,
        stack=stack,
        arch=arch,
        cached_version=parse_cached_version(args.cached_version),
    )
    resolution = for_source(
        resolution, catalog, builds, (arch or host_arch()) if installing else arch
    )
    resolution = replace(resolution, warnings=(*catalog.warnings, *resolution.warnings))
    out.info(out.style(explain(resolution), "green"))
    for w in resolution.warnings:
        out.warn(w)
    return Resolved(catalog, stack, arch, generation, resolution)


def run_resolve(args: argparse.Namespace, out: Output) -> int:
    resolved = resolve_and_explain(args, out)
    resolution, generation = resolved.resolution, resolved.generation
    out.result(str(resolution.version))
    if out.json_mode:  # built only when printed: the warnings' words are looked up for it
        out.emit_json(
            {
                "version": str(resolution.version),
                "requested": str(resolution.requested),
                "origin": resolution.requested.origin.value,
                "generation": generation.value,
                "warnings": _warnings_json(resolution.warnings),
            }
        )
    return 0


def lint_files(
    app_dir: Path, generation: Generation, catalog: Catalog
) -> tuple[list[PyBuildpackError], list[BuildWarning]]:
    """Check each version file on its own, so one report shows every problem."""
    errors: list[PyBuildpackError] = []
    warnings: list[BuildWarning] = []
    allowed = allowed_versions(read_pyproject(app_dir))
    runtime_txt_wins = generation is Generation.CEDAR and (app_dir / RUNTIME_TXT).is_file()
    for name in () if runtime_txt_wins else MISSPELLED_NAMES:  # as the build: not checked
        if (app_dir / name).is_file():
            errors.append(PythonVersionFileMisspelled(filename=name))
    versions: dict[str, str] = {}
    for name, parser in (
        (PYTHON_VERSION_FILE, parse_python_version_file),
        (RUNTIME_TXT, parse_runtime_txt),
        (PIPFILE_LOCK, parse_pipfile_lock),
    ):
        path = app_dir / name
        if not path.is_file():
            continue
        if name == PIPFILE_LOCK and generation is Generation.FIR:
            continue
        try:
            data = read_app_file(app_dir, name)  # never a link out of the app
        except PyBuildpackError as err:
            errors.append(with_suggestion(err, catalog, allowed=allowed))
            continue
        try:
            request = parser(data)
        except PyBuildpackError as err:
            errors.append(with_suggestion(err, catalog, data=data, allowed=allowed))
            if isinstance(err, PythonVersionFileInvalidVersion) and len(err.all_lines) > 1:
                # the next problem the build would report, under its own id
                more = PythonVersionFileMultipleVersions(versions=err.all_lines)
                errors.append(with_suggestion(more, catalog, data=data, allowed=allowed))
        else:
            if request is not None:
                versions[name] = str(request)
    if (
        RUNTIME_TXT in versions
        and PYTHON_VERSION_FILE in versions
        and versions[RUNTIME_TXT] != versions[PYTHON_VERSION_FILE]
    ):
        warnings.append(
            ConflictingVersionFiles(
                runtime_txt=versions[RUNTIME_TXT],
                python_version_file=versions[PYTHON_VERSION_FILE],
            )
        )
    return errors, warnings


def app_dirs(paths: list[str]) -> list[Path]:
    """The apps to check: each directory given, and the directory of each file given (as
    pre-commit passes them: nested .python-version files belong to nested apps)."""
    found: list[Path] = []
    for text in paths or ["."]:
        path = Path(text)
        app = path.parent if path.is_file() or path.is_symlink() else path
        if app not in found:
            found.append(app)
    return found


def run_check(args: argparse.Namespace, out: Output) -> int:
    apps = app_dirs(args.paths)
    results: list[tuple[Path, int, dict[str, Any]]] = []
    for app in apps:
        if len(apps) > 1:
            out.info(out.style(f"\n== {app}", "bold"))
        with app_dir_shown(str(app)):
            code, doc = _check_app(args, out, app)
        results.append((app, code, doc))
    failed = any(code for _, code, _ in results)
    if len(results) == 1:
        out.emit_json(results[0][2])
    else:
        out.emit_json(
            {"ok": not failed, "apps": [{"app_dir": str(a), **doc} for a, _, doc in results]}
        )
    if not out.json_mode:
        out.result("ok" if not failed else "failed")
    return 1 if failed else 0


def _check_app(args: argparse.Namespace, out: Output, app: Path) -> tuple[int, dict[str, Any]]:
    catalog = load_catalog(args.catalog)
    stack, arch = platform_args(args)
    generation = Generation(args.generation)
    if not app.is_dir():
        raise AppDirNotFound(path=str(app))
    errors, warnings = lint_files(app, generation, catalog)
    warnings = [*catalog.warnings, *warnings]
    version: str | None = None
    try:
        resolution = resolve_app(
            app,
            catalog,
            generation=generation,
            stack=stack,
            arch=arch,
            cached_version=parse_cached_version(args.cached_version),
        )
        resolution = for_source(
            resolution, catalog, archive_builds(args.source, args.downloads, catalog), arch
        )
    except PyBuildpackError as err:
        errors.append(err)
    else:
        version = str(resolution.version)
        warnings.extend(resolution.warnings)

    rendered_errors = _dedupe([render(e) for e in errors])
    rendered_warnings = _dedupe([render(w) for w in warnings])
    for r in rendered_errors:
        out.diagnostic(r, "error")
    for r in rendered_warnings:
        out.diagnostic(r, "warning")
    notices = catalog_notices(catalog, out, with_warnings=False)  # not counted by --strict
    failed = bool(rendered_errors) or (args.strict and bool(rendered_warnings))
    summary = f"{len(rendered_errors)} error(s), {len(rendered_warnings)} warning(s)" + (
        f"; the app gets Python {version}" if version else ""
    )
    out.info(out.style(summary, "red" if failed else "green", "bold"))
    doc = {
        "ok": not failed,
        "version": version,
        "generation": generation.value,
        "errors": [r.as_json() for r in rendered_errors],
        "warnings": [r.as_json() for r in rendered_warnings],
        "notices": notices,
    }
    return (1 if failed else 0), doc


def _dedupe(items: list[Any]) -> list[Any]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for r in items:
        key = (r.id, r.text)
        if key not in seen:
            seen.add(key)
            kept.append(r)
    return kept
