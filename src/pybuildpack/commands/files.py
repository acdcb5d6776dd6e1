"""``pybuildpack pin`` and ``pybuildpack migrate``: write version files for the user.

Writes are atomic (temporary file + rename) and the result is re-read with the same
parser builds use, so a file these commands write always parses.
"""

from __future__ import annotations

import argparse
import os
import stat
import tempfile
from pathlib import Path

from pybuildpack.app import allowed_versions, read_pyproject
from pybuildpack.catalog import Catalog, load_catalog
from pybuildpack.cli import add_common_options
from pybuildpack.errors import (
    AppDirNotFound,
    BuildWarning,
    PyBuildpackError,
    UsageError,
    VersionFileNotWritable,
    VersionFileOutsideApp,
)
from pybuildpack.messages import name_app_dir, render
from pybuildpack.output import Output
from pybuildpack.requested import (
    MISSPELLED_NAMES,
    PYTHON_VERSION_FILE,
    RUNTIME_TXT,
    inside_app,
    read_app_file,
    with_suggestion,
)
from pybuildpack.requires_python import check_requires_python
from pybuildpack.resolve import resolve
from pybuildpack.version import Origin, RequestedVersion
from pybuildpack.version_files import (
    WHITESPACE,
    parse_python_version_file,
    parse_runtime_txt,
)

PIN_HELP = """\
Write .python-version in APP_DIR (default: the current directory) with VERSION, replacing
(and repairing) any existing one. 'pybuildpack pin 3.14' pins the current directory.

VERSION is a major version like 3.14 (recommended: every build gets the newest patch)
or an exact patch like 3.14.7. The version is checked against the catalog first: an
end-of-life or unknown version is refused (use --force to write it anyway).

Repairs: the file is written as plain UTF-8 with LF line endings; whole-line comments
of a readable existing file are kept; a byte order mark, UTF-16 and stray version lines
are dropped.
"""

MIGRATE_HELP = """\
Replace the deprecated runtime.txt with .python-version.

By default the major version is kept (python-3.12.3 becomes 3.12, so builds get the
newest 3.12 patch); --keep-patch keeps the exact patch, --to VERSION picks another.
.python-version is written first, then runtime.txt is deleted: an interrupted migrate
never leaves the app without a version file.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "pin",
        help="write or repair .python-version",
        description=PIN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("app_dir", metavar="APP_DIR", nargs="?", default=".", help="default: .")
    p.add_argument("version", metavar="VERSION", help="e.g. 3.14 (recommended) or 3.14.7")
    p.add_argument("--force", action="store_true", help="write even an EOL/unknown version")
    add_common_options(p)
    p.set_defaults(func=run_pin)

    m = sub.add_parser(
        "migrate",
        help="replace runtime.txt with .python-version",
        description=MIGRATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("app_dir", metavar="APP_DIR", nargs="?", default=".", help="default: .")
    group = m.add_mutually_exclusive_group()
    group.add_argument("--to", metavar="VERSION", help="write this version instead")
    group.add_argument("--keep-patch", action="store_true", help="keep runtime.txt's exact patch")
    add_common_options(m)
    m.set_defaults(func=run_migrate)


def parse_user_version(text: str, catalog: Catalog) -> RequestedVersion:
    cleaned = text.strip()
    request = RequestedVersion.parse(cleaned, Origin.PYTHON_VERSION_FILE)
    if request is None:
        raise UsageError(
            detail=f"{text!r} is not a version: use a major version like "
            f"{catalog.default_major} or an exact patch like {catalog.default.latest}."
        )
    return request


def check_version(
    request: RequestedVersion, catalog: Catalog, app_dir: Path, force: bool
) -> list[BuildWarning]:
    """Resolve ``request``; refuse EOL/unknown unless ``force``. Returns warnings to show."""
    try:
        resolution = resolve(request, catalog)
    except PyBuildpackError:
        if force:
            return []
        raise
    pyproject = app_dir / "pyproject.toml"
    data = pyproject.read_bytes() if pyproject.is_file() else None
    return [
        *resolution.warnings,
        *check_requires_python(resolution.version, request.origin, data, catalog),
    ]


def _kept_comments(path: Path) -> list[str]:
    """Whole-line comments of an existing version file, if it can be read as text."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    for encoding in ("utf-8-sig", "utf-16", "utf-32"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            continue
        return [
            line.strip(WHITESPACE)
            for line in text.splitlines()
            if line.strip(WHITESPACE).startswith("#")
        ]
    return []


def _mode_for(path: Path) -> int:
    """The permission bits to write ``path`` with: its own when it exists, else what a new
    file gets (0666 less the umask), as an editor would do."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: Path, content: str) -> None:
    """Replace ``path`` with ``content`` atomically (temporary file + rename), keeping its
    permission bits. ``path`` must not be a symbolic link (callers resolve it first)."""
    if path.is_dir():
        raise VersionFileNotWritable(path=str(path), reason="it is a directory; remove it first")
    mode = _mode_for(path)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(content)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise VersionFileNotWritable(path=str(path), reason=exc.strerror or str(exc)) from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def write_python_version(app_dir: Path, request: RequestedVersion) -> Path:
    """Write .python-version in ``app_dir``. A symbolic link to a file inside the app is
    written through (the link stays, its target gets the version); one that leads out of
    the app is refused, with nothing written."""
    try:
        path = inside_app(app_dir, PYTHON_VERSION_FILE)
    except VersionFileOutsideApp as err:
        err.suggested = request.series
        raise
    comments = _kept_comments(path) if path.is_file() else []
    atomic_write(path, "".join(f"{c}\n" for c in comments) + f"{request}\n")
    written = parse_python_version_file(path.read_bytes())  # the build's own parser agrees
    assert str(written) == str(request), (written, request)
    return path


def _show(out: Output, warnings: list[BuildWarning]) -> list[dict[str, str]]:
    rendered = [render(w) for w in warnings]
    for r in rendered:
        out.diagnostic(r, "warning")
    return [r.as_json() for r in rendered]


def _misspelled_present(app_dir: Path) -> list[str]:
    return [n for n in MISSPELLED_NAMES if (app_dir / n).is_file()]


def _previous(app: Path, request: RequestedVersion) -> bytes | None:
    """The current .python-version's bytes, if any (never through a link out of the app)."""
    if not (app / PYTHON_VERSION_FILE).is_file():
        return None
    try:
        return read_app_file(app, PYTHON_VERSION_FILE)
    except VersionFileOutsideApp as err:
        err.suggested = request.series
        raise


def run_pin(args: argparse.Namespace, out: Output) -> int:
    catalog = load_catalog(args.catalog)
    app = Path(args.app_dir)
    if not app.is_dir():
        raise AppDirNotFound(path=str(app))
    request = parse_user_version(args.version, catalog)
    warnings = check_version(request, catalog, app, args.force)
    path = app / PYTHON_VERSION_FILE
    previous = _previous(app, request)
    write_python_version(app, request)
    out.info(out.style(f"Wrote {path} with {request}", "green"))
    if request.patch is not None:
        out.info(
            f"Note: {request} pins an exact patch. '{request.series}' gets every new patch "
            "release (and so security fixes) automatically."
        )
    leftovers = _misspelled_present(app)
    for name in leftovers:
        out.info(f"Note: delete the misspelled '{name}' (builds reject it): git rm '{name}'")
    if (app / RUNTIME_TXT).exists():
        out.info(
            "Note: runtime.txt still exists and wins on classic builds; replace it with "
            f"this version: {name_app_dir(f'pybuildpack migrate . --to {request}')}"
        )
    rendered = _show(out, warnings)
    out.result(str(request))
    out.emit_json(
        {
            "path": str(path),
            "version": str(request),
            "previous": previous.decode("utf-8", "backslashreplace") if previous else None,
            "misspelled_files": leftovers,
            "warnings": rendered,
        }
    )
    return 0


def run_migrate(args: argparse.Namespace, out: Output) -> int:
    catalog = load_catalog(args.catalog)
    app = Path(args.app_dir)
    if not app.is_dir():
        raise AppDirNotFound(path=str(app))
    runtime_txt = app / RUNTIME_TXT
    if not runtime_txt.is_file():
        out.info("Nothing to migrate: there is no runtime.txt.")
        out.result("nothing to migrate")
        out.emit_json({"migrated": False, "version": None, "removed": None, "warnings": []})
        return 0
    if args.to:
        request = parse_user_version(args.to, catalog)
    else:
        allowed = allowed_versions(read_pyproject(app))
        try:
            data = read_app_file(app, RUNTIME_TXT)
        except PyBuildpackError as err:
            raise with_suggestion(err, catalog, allowed=allowed) from None
        try:
            old = parse_runtime_txt(data)
        except PyBuildpackError as err:
            raise with_suggestion(err, catalog, data=data, allowed=allowed) from None
        patch = old.patch if args.keep_patch else None
        request = RequestedVersion(old.major, old.minor, patch, Origin.PYTHON_VERSION_FILE)
    warnings = check_version(request, catalog, app, force=False)
    existing = app / PYTHON_VERSION_FILE
    if existing.is_file():
        try:
            current = str(parse_python_version_file(_previous(app, request) or b""))
        except VersionFileOutsideApp:
            raise
        except PyBuildpackError:
            current = "(invalid)"
        if current != str(request):
            out.info(
                f"Replacing .python-version ({current}) with {request}, the version builds used."
            )
    write_python_version(app, request)
    runtime_txt.unlink()
    out.info(out.style(f"Wrote .python-version with {request} and deleted runtime.txt.", "green"))
    out.info("Commit both changes, e.g.: git add .python-version && git rm runtime.txt")
    rendered = _show(out, warnings)
    out.result(str(request))
    out.emit_json(
        {
            "migrated": True,
            "version": str(request),
            "removed": str(runtime_txt),
            "warnings": rendered,
        }
    )
    return 0
