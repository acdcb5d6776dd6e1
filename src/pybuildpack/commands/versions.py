"""``pybuildpack versions``: the catalog as a table (or JSON)."""

from __future__ import annotations

import argparse

from pybuildpack.catalog import Catalog, MajorInfo, load_catalog
from pybuildpack.cli import add_common_options
from pybuildpack.errors import BuildWarning, CatalogStale
from pybuildpack.output import Output, render

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

HELP = """\
Show the Python versions this pybuildpack knows: each major version's newest patch,
status and end-of-life date, from the version catalog. The status follows the dates on
the day you run it: supported, deprecated (end of life within a year), eol (end of life
reached: builds work, with a warning, until the removal date), removed (builds fail);
with --all also upcoming (release date ahead) and unlisted (released after the catalog
was made: run 'pybuildpack catalog update'). The default major is what apps that state
no version get.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "versions",
        help="list supported Python versions (the catalog)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--all", action="store_true", help="include end-of-life majors")
    add_common_options(p)
    p.set_defaults(func=run_versions, exit_fast=True)


def _row(info: MajorInfo, catalog: Catalog) -> dict[str, Any]:
    return {
        "major": str(info.series),
        "latest": str(info.latest) if info.has_releases else None,
        "status": info.status,
        "released": info.released,
        "end_of_life": info.end_of_life,
        "removal": info.removal,
        "default": info.series == catalog.default_major,
    }


def table(rows: list[dict[str, Any]]) -> str:
    headers = ["MAJOR", "LATEST", "STATUS", "END OF LIFE", "REMOVAL", ""]
    cells = [
        [
            r["major"],
            r["latest"] or "-",
            r["status"],
            r["end_of_life"] or "-",
            r["removal"] or "-",
            "default" if r["default"] else "",
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *cells, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def run_versions(args: argparse.Namespace, out: Output) -> int:
    catalog = load_catalog(args.catalog)
    majors = sorted(catalog.majors.values(), key=lambda m: m.series, reverse=True)
    rows = [_row(m, catalog) for m in majors if args.all or m.supported]
    out.result(table(rows))
    out.info(
        f"\nCatalog: {catalog.source}, facts as of {catalog.as_of}; statuses as of {catalog.today}."
    )
    notices = catalog_notices(catalog, out)
    out.emit_json(
        {
            "as_of": catalog.as_of,
            "today": catalog.today.isoformat(),
            "notices": notices,
            "catalog": catalog.source,
            "default": str(catalog.default_major),
            "majors": rows,
            "stacks": [
                {
                    "name": s.name,
                    "distro": s.distro,
                    "distro_version": s.distro_version,
                    "arches": list(s.arches),
                }
                for s in catalog.stacks.values()
            ],
        }
    )
    return 0


def catalog_notices(
    catalog: Catalog, out: Output, *, with_warnings: bool = True
) -> list[dict[str, str]]:
    """Say once (on stderr; returned for JSON) what is wrong with the catalog itself: a
    broken refreshed catalog that was skipped (``with_warnings``), or facts older than the
    policy's ``stale_after_days``."""
    notices: list[BuildWarning] = list(catalog.warnings) if with_warnings else []
    if catalog.stale:
        notices.append(CatalogStale(source=_source_name(catalog), as_of=catalog.as_of,
                                    days=catalog.age_days))  # fmt: skip
    rendered = [render(n) for n in notices]
    for r in rendered:
        out.diagnostic(r, "warning")
    return [r.as_json() for r in rendered]


def _source_name(catalog: Catalog) -> str:
    return catalog.source if catalog.source.endswith("catalog") else f"catalog {catalog.source}"
