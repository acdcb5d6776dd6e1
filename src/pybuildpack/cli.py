"""The ``pybuildpack`` command line. Thin: parse arguments, call the core, present results.

Every expected failure is a ``PyBuildpackError`` rendered by ``messages``; anything else is a
bug, reported as ``internal-error`` with a pointer to the issue tracker (no traceback unless
``PYBUILDPACK_DEBUG=1``).

Exit codes: 0 success, 1 a reported error, 2 unusable arguments (wherever they are caught:
by argparse or by a command; with ``--json`` they are a JSON error too), 70 an internal
error, 141 the reader of stdout/stderr went away (a closed pipe, as in ``| head -1``:
nothing more is printed, like a program ended by SIGPIPE).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pybuildpack import __version__
from pybuildpack.commands import COMMAND_MODULES, COMMANDS
from pybuildpack.errors import PyBuildpackError, UsageError
from pybuildpack.output import Output, app_dir_shown, terminal_width

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import NoReturn

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


EXIT_USAGE = 2
EXIT_INTERNAL = 70
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a program killed by it


class ArgumentsInvalid(Exception):
    """argparse refused the command line (raised instead of argparse's own exit)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors ``main`` reports (as JSON too, under ``--json``).

    Subparsers are made with the parent's class, so every subcommand's parser is one.
    """

    def error(self, message: str) -> NoReturn:
        raise ArgumentsInvalid(self, message)

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse would import shutil (and with it bz2, lzma...) for the terminal width,
        # on every start, since each add_argument makes a formatter: read it directly
        return self.formatter_class(prog=self.prog, width=_help_width())


def _help_width() -> int:
    """What argparse would use: $COLUMNS, else the terminal's width, else 80; minus 2."""
    return terminal_width(sys.__stdout__, 80) - 2  # type: ignore[arg-type]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser. ``command``: a top-level command name: only the module
    that registers it is imported (the parser then knows that module's commands alone,
    which is all that parsing ``command ...`` needs); else every command module."""
    parser = Parser(
        prog="pybuildpack",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pybuildpack {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    module_name = COMMANDS.get(command) if command is not None else None
    for name in (module_name,) if module_name is not None else COMMAND_MODULES:
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


def run() -> NoReturn:
    """The ``pybuildpack`` console script: ``main``, then exit with its code.

    When the command's work is finished and durable (``exit_fast`` on its arguments:
    resolve, check and versions write nothing; install publishes by rename, every file it
    wrote closed before) and its output is flushed, the process ends without the
    interpreter's teardown (``_exit.leave``), unless something may need the normal exit."""
    code = main()
    if _FAST_EXIT[0]:
        from pybuildpack._exit import leave

        leave(code)
    sys.exit(code)


_FAST_EXIT = [False]  # set by _main: the command ran, its work is durable


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    _FAST_EXIT[0] = False
    try:
        code = _main(args_list)
        # A reader that went away shows up here rather than at interpreter exit.
        sys.stdout.flush()
        sys.stderr.flush()
        return code

    except BrokenPipeError:
        _drop_closed_pipes()
        return EXIT_CLOSED_PIPE


def _drop_closed_pipes() -> None:
    """Point stdout/stderr at /dev/null, so that the final flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # pragma: no cover - no /dev/null
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):
            continue  # not a real file (e.g. captured in tests): nothing to flush at exit
    os.close(devnull)


def _main(argv: list[str]) -> int:
    if argv == ["--version"]:  # argparse's answer, without building every command's parser
        print(f"pybuildpack {__version__}")
        _FAST_EXIT[0] = True
        return 0
    # The command word comes first (the top level has no option taking a value): parse with
    # that command's module alone. Anything else (--help, a typo, nothing) gets them all.
    parser = build_parser(argv[0] if argv and argv[0] in COMMANDS else None)
    json_mode = "--json" in argv
    try:
        args = parser.parse_args(argv)
    except ArgumentsInvalid as exc:
        return _arguments_invalid(exc, Output(json_mode=json_mode))
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    out = Output(json_mode=getattr(args, "json", False), quiet=getattr(args, "quiet", False))
    with app_dir_shown(getattr(args, "app_dir", None) or "."):
        code = _run(args, out)
    _FAST_EXIT[0] = code in (0, 1) and getattr(args, "exit_fast", False)
    return code


def _run(args: argparse.Namespace, out: Output) -> int:
    try:
        return int(args.func(args, out))
    except UsageError as err:
        out.error(err)
        return EXIT_USAGE
    except PyBuildpackError as err:
        return out.error(err)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # not a bug: the reader went away (handled by main)
    except Exception as exc:  # a bug: say so plainly, keep the contract for --json
        if os.environ.get("PYBUILDPACK_DEBUG"):
            import traceback

            traceback.print_exc()
        detail = f"{type(exc).__name__}: {exc}"
        print(
            f"Internal error (a bug in pybuildpack): {detail}\n"
            "Please report it with the command you ran; set PYBUILDPACK_DEBUG=1 for details.",
            file=sys.stderr,
        )
        out.emit_json({"error": {"id": "internal-error", "message": detail}})
        return EXIT_INTERNAL


def _arguments_invalid(exc: ArgumentsInvalid, out: Output) -> int:
    """argparse's own report on stderr (usage, then the problem); JSON on stdout too."""
    exc.parser.print_usage(sys.stderr)
    print(f"{exc.parser.prog}: error: {exc.message}", file=sys.stderr)
    detail = f"{exc.message} (see '{exc.parser.prog} --help')"
    out.emit_json({"error": {"id": UsageError.id, "message": detail}})
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover - python -m pybuildpack.cli, as the script
    run()
