"""``pybuildpack versions``: the catalog as a table (or JSON)."""

from __future__ import annotations

import argparse
from typing import Any

from pybuildpack.catalog import Catalog, MajorInfo, load_catalog
from pybuildpack.cli import add_common_options
from pybuildpack.output import Output

HELP = """\
Show the Python versions this pybuildpack knows: each major version's newest patch,
status (supported, deprecated, eol) and end-of-life date, from the version catalog.
The default major is what apps that state no version get.
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
    p.set_defaults(func=run_versions)


def _row(info: MajorInfo, catalog: Catalog) -> dict[str, Any]:
    return {
        "major": str(info.series),
        "latest": str(info.latest),
        "status": info.status,
        "end_of_life": info.end_of_life,
        "removal": info.removal,
        "default": info.series == catalog.default_major,
    }


def table(rows: list[dict[str, Any]]) -> str:
    headers = ["MAJOR", "LATEST", "STATUS", "END OF LIFE", "REMOVAL", ""]
    cells = [
        [
            r["major"],
            r["latest"],
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
    out.info(f"\nCatalog: {catalog.source}, facts as of {catalog.as_of}.")
    out.emit_json(
        {
            "as_of": catalog.as_of,
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
