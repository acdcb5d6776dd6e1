"""``pybuildpack catalog``: show the catalog in use, update it from upstream, refresh it from
a catalog file, or reset to the bundled one (docs/catalog.md)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from pybuildpack._record import replace
from pybuildpack.catalog import (
    Catalog,
    current_day,
    load_bundled_catalog,
    load_catalog,
    parse_catalog_text,
    refreshed_catalog_path,
    user_data_dir,
)
from pybuildpack.cli import add_common_options
from pybuildpack.errors import CatalogInvalid, UsageError
from pybuildpack.output import Output

HELP = """\
The version catalog says which Python versions exist, their release and end-of-life
dates, newest patches and the stacks builds run on; the download metadata says where each
runtime archive is and its sha256. Both ship with pybuildpack (dated), and both can be
rebuilt from upstream without upgrading pybuildpack:

  pybuildpack catalog update                   from the public upstream data (https)
  pybuildpack catalog update --from-dir DIR    from local copies (air-gapped machines)
  pybuildpack catalog refresh FILE_OR_URL      install a catalog file made elsewhere

An installed catalog is used while it is at least as new as the bundled one (upgrading
pybuildpack to a release with newer data wins); 'reset' forgets it. --catalog /
PYBUILDPACK_CATALOG override both for a single run.
"""

UPDATE_HELP = f"""\
Rebuild the catalog and the download metadata from upstream machine-readable data:

  builds         python-build-standalone's build list as published by uv:
                 {"https://raw.githubusercontent.com/astral-sh/uv/main/"}
                 crates/uv-python/download-metadata.json
  release cycle  CPython's release-cycle.json (first release, end of life, status):
                 https://peps.python.org/api/release-cycle.json
                 (formerly include/release-cycle.json in python/devguide)

then apply pybuildpack's policy (stacks, removal dates, the default rule), validate
everything, print what changed and install both files atomically in the user data
directory, keeping the previous pair as *.previous.json.

Air-gapped: copy the two files (named download-metadata.json and release-cycle.json)
to a folder and use --from-dir, or serve them from a mirror (--mirror URL). Plain http
is refused unless --allow-http. The data is dated by --builds-date/--release-cycle-date,
else by the day it was fetched (URLs) or the file's modification date (local files).
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "catalog",
        help="show, update, refresh or reset the version catalog",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csub = p.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    show = csub.add_parser("show", help="which catalog is in use, and its date")
    add_common_options(show)
    show.set_defaults(func=run_show)

    update = csub.add_parser(
        "update",
        help="rebuild the catalog and download metadata from upstream data",
        description=UPDATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = update.add_mutually_exclusive_group()
    where.add_argument("--from-dir", metavar="DIR", help="read both files from this folder")
    where.add_argument("--mirror", metavar="URL", help="read both files from this base URL")
    update.add_argument("--builds", metavar="URL_OR_FILE", help="the build list to read")
    update.add_argument("--release-cycle", metavar="URL_OR_FILE", help="the release cycle")
    update.add_argument("--builds-date", metavar="YYYY-MM-DD", help="the build list's date")
    update.add_argument(
        "--release-cycle-date", metavar="YYYY-MM-DD", help="the release cycle's date"
    )
    update.add_argument(
        "--builds-origin",
        metavar="TEXT",
        help="where a local copy of the build list came from, recorded in the catalog "
        "(e.g. the upstream URL at a commit)",
    )
    update.add_argument(
        "--release-cycle-origin", metavar="TEXT", help="likewise for the release cycle"
    )
    update.add_argument(
        "--write-to",
        metavar="DIR",
        help="write catalog.json and downloads.json to DIR instead of installing them "
        "(e.g. src/pybuildpack/data to regenerate the bundled data)",
    )
    update.add_argument("--dry-run", action="store_true", help="show the changes only")
    _add_safety_options(update)
    add_common_options(update)
    update.set_defaults(func=run_update)

    refresh = csub.add_parser("refresh", help="install a catalog file from a URL or a path")
    refresh.add_argument("source", metavar="URL_OR_FILE")
    _add_safety_options(refresh)
    add_common_options(refresh)
    refresh.set_defaults(func=run_refresh)
    reset = csub.add_parser("reset", help="forget an installed catalog; use the bundled one")
    add_common_options(reset)
    reset.set_defaults(func=run_reset)


def _add_safety_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="accept data older than the catalog in use"
    )
    parser.add_argument(
        "--allow-http", action="store_true", help="accept plain http URLs (trusted networks)"
    )


def _summary(catalog: Catalog) -> dict[str, str]:
    return {
        "source": catalog.source,
        "as_of": catalog.as_of,
        "today": catalog.today.isoformat(),
        "default": str(catalog.default_major),
        "supported": f"{catalog.oldest_supported}-{catalog.newest_supported}",
    }


def run_show(args: argparse.Namespace, out: Output) -> int:
    from pybuildpack.commands.versions import catalog_notices

    catalog = load_catalog(args.catalog)
    info = _summary(catalog)
    out.result(
        f"{info['source']} (as of {info['as_of']}): supports {info['supported']}, "
        f"default {info['default']}"
    )
    notices = catalog_notices(catalog, out)
    out.emit_json({**info, "notices": notices})
    return 0


def _date_arg(text: str | None, name: str) -> str | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise UsageError(detail=f"{name} must be a date (YYYY-MM-DD), got {text!r}") from None


def run_update(args: argparse.Namespace, out: Output) -> int:
    from pybuildpack import catalog_update as up
    from pybuildpack.catalog import parse_catalog

    today = current_day()
    builds_src = args.builds or _default_location(args, up.BUILDS_FILE, up.BUILDS_URL)
    cycle_src = args.release_cycle or _default_location(
        args, up.RELEASE_CYCLE_FILE, up.RELEASE_CYCLE_URL
    )
    out.info(f"Reading the build list from {builds_src}")
    builds = up.fetch(builds_src, max_bytes=up.MAX_BUILDS_BYTES, allow_http=args.allow_http)
    out.info(f"Reading the release cycle from {cycle_src}")
    cycle = up.fetch(cycle_src, max_bytes=up.MAX_RELEASE_CYCLE_BYTES, allow_http=args.allow_http)

    def dated(fetched: up.Fetched, explicit: str | None, name: str) -> str:
        chosen = _date_arg(explicit, name)
        return chosen or (fetched.modified or today).isoformat()

    if args.builds_origin:
        builds = replace(builds, where=args.builds_origin)
    if args.release_cycle_origin:
        cycle = replace(cycle, where=args.release_cycle_origin)
    catalog_doc, downloads_doc, notes = up.make_catalog(
        builds,
        cycle,
        dated(builds, args.builds_date, "--builds-date"),
        dated(cycle, args.release_cycle_date, "--release-cycle-date"),
        today=today,
    )
    catalog_text, downloads_text = up.dumps(catalog_doc), up.dumps(downloads_doc)
    new = parse_catalog(catalog_doc, source="the updated catalog", today=today)
    current = load_catalog(args.catalog, today=today)
    changes = up.describe_changes(current, new)
    if args.write_to is None:
        up.check_dates(new.as_of, current, today, args.force, "the updated catalog")
    for line in notes:
        out.info(out.style(f"note: {line}", "yellow"))
    out.info(f"Changes against {current.source} (as of {current.as_of}):")
    for line in changes:
        out.info(f"  {line}")
    archives = len(downloads_doc["sources"]["pbs"]["archives"])
    written: list[Path] = []
    if args.dry_run:
        out.info("Dry run: nothing written.")
    elif args.write_to is not None:
        directory = Path(args.write_to)
        for name, text in (("catalog.json", catalog_text), ("downloads.json", downloads_text)):
            up.write_atomically(directory / name, text)
            written.append(directory / name)
    else:
        written = up.install_pair(user_data_dir(), catalog_text, downloads_text)
    for path in written:
        out.info(out.style(f"Wrote {path}", "green"))
    out.result(
        f"catalog as of {new.as_of}: default {new.default_major}, "
        f"{len(new.supported)} majors offered, {archives} pbs archives"
    )
    out.emit_json(
        {
            **_summary(new),
            "changes": changes,
            "notes": notes,
            "archives": archives,
            "written": [str(p) for p in written],
            "dry_run": bool(args.dry_run),
        }
    )
    return 0


def _default_location(args: argparse.Namespace, filename: str, url: str) -> str:
    if args.from_dir:
        return str(Path(args.from_dir) / filename)
    if args.mirror:
        return f"{args.mirror.rstrip('/')}/{filename}"
    return url


def run_refresh(args: argparse.Namespace, out: Output) -> int:
    from pybuildpack import catalog_update as up

    today = current_day()
    fetched = up.fetch(args.source, max_bytes=up.MAX_CATALOG_BYTES, allow_http=args.allow_http)
    try:
        text = fetched.data.decode("utf-8")
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CatalogInvalid(path=args.source, detail=f"not a JSON catalog: {exc}") from None
    up.validate_catalog(document, args.source)  # every problem, before anything is written
    new = parse_catalog_text(text, source=args.source, today=today)
    current = load_catalog(today=today)
    up.check_dates(new.as_of, current, today, args.force, args.source)
    changes = up.describe_changes(current, new)
    [target] = up.install_pair(user_data_dir(), text, None)
    installed = parse_catalog_text(target.read_text("utf-8"), source=str(target), today=today)
    for line in changes:
        out.info(f"  {line}")
    out.info(out.style(f"Installed catalog dated {installed.as_of} at {target}", "green"))
    out.result(str(target))
    out.emit_json({"installed": str(target), "changes": changes, **_summary(installed)})
    return 0


def run_reset(args: argparse.Namespace, out: Output) -> int:
    target = refreshed_catalog_path()
    existed = target.exists()
    for name in ("catalog.json", "downloads.json", "catalog.previous.json",
                 "downloads.previous.json"):  # fmt: skip
        (target.parent / name).unlink(missing_ok=True)
    bundled = load_bundled_catalog(today=current_day())
    out.info(
        ("Removed " + str(target) if existed else "No installed catalog to remove")
        + f"; using the bundled catalog (as of {bundled.as_of})."
    )
    out.emit_json({"removed": str(target) if existed else None, **_summary(bundled)})
    return 0
