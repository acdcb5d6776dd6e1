"""The ``pybuildpack`` command line. Thin: parse arguments, call the core, present results.

Every expected failure is a ``PyBuildpackError`` rendered by ``messages``; anything else is a
bug, reported as ``internal-error`` with a pointer to the issue tracker (no traceback unless
``PYBUILDPACK_DEBUG=1``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from pybuildpack import __version__
from pybuildpack.commands import COMMAND_MODULES
from pybuildpack.errors import PyBuildpackError
from pybuildpack.output import Output

DESCRIPTION = """\
Decide which Python runtime an app gets, install it, and build the app.

An app states its Python version in a .python-version file at its root:
  3.14      a major version (recommended): every build gets the newest patch release
  3.14.7    an exact patch release
runtime.txt (python-3.14.7) is deprecated but still read by the classic (cedar) rules.
With no version stated, an app gets the newest patch of the catalog's default major.
"""

EPILOG = """\
examples:
  pybuildpack resolve .                     which Python would this app get?
  pybuildpack resolve . --json              the same, as one JSON object on stdout
  pybuildpack check .                       lint the app's version files (for CI/pre-commit)
  pybuildpack pin . 3.13                    write a correct .python-version
  pybuildpack migrate .                     replace runtime.txt with .python-version
  pybuildpack versions                      the supported versions and their end of life
  pybuildpack install . --dest /tmp/py      resolve and install the runtime

environment:
  PYBUILDPACK_CATALOG   path of a version catalog to use instead of the bundled one
  NO_COLOR              disable coloured output (FORCE_COLOR forces it)
  PYBUILDPACK_DEBUG=1   show tracebacks of internal errors

Every error has a stable id (e.g. python-version-file::invalid-version) that scripts
can match on. Docs: README.md, "CLI reference".
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pybuildpack",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pybuildpack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"pybuildpack.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"pybuildpack.commands.{name}":
                continue  # not landed yet
            raise
        module.register(sub)
    return parser


def add_common_options(parser: argparse.ArgumentParser, *, json_help: str | None = None) -> None:
    """Options every subcommand shares (added per subcommand so they may follow it)."""
    parser.add_argument(
        "--json",
        action="store_true",
        help=json_help or "print exactly one JSON object on stdout (errors too)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress or warnings on stderr"
    )
    parser.add_argument(
        "--catalog",
        metavar="FILE",
        help="version catalog to use (default: $PYBUILDPACK_CATALOG, else the bundled one)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    out = Output(json_mode=getattr(args, "json", False), quiet=getattr(args, "quiet", False))
    try:
        return int(args.func(args, out))
    except PyBuildpackError as err:
        return out.error(err)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so plainly, keep the contract for --json
        if os.environ.get("PYBUILDPACK_DEBUG"):
            traceback.print_exc()
        detail = f"{type(exc).__name__}: {exc}"
        print(
            f"Internal error (a bug in pybuildpack): {detail}\n"
            "Please report it with the command you ran; set PYBUILDPACK_DEBUG=1 for details.",
            file=sys.stderr,
        )
        out.emit_json({"error": {"id": "internal-error", "message": detail}})
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
