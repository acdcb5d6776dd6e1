"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from pybuildpack.errors import UsageError
from pybuildpack.host import host_arch
from pybuildpack.version import Generation, PythonVersion


def add_platform_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--generation",
        choices=[g.value for g in Generation],
        default=Generation.CEDAR.value,
        help="which rules apply: cedar = classic buildpack (sticky versions, runtime.txt "
        "still read; default), fir = Cloud Native Buildpacks (runtime.txt is an error, "
        "no sticky versions)",
    )
    parser.add_argument(
        "--stack",
        metavar="STACK",
        help="check availability on this stack (e.g. heroku-24); default: no stack, portable",
    )
    parser.add_argument(
        "--arch",
        choices=["amd64", "arm64"],
        help="CPU architecture (default: this machine's when --stack is given)",
    )
    parser.add_argument(
        "--cached-version",
        metavar="X.Y.Z",
        help="the version of the app's previous build (cedar sticky version); "
        "used only when the app states no version",
    )


def parse_cached_version(text: str | None) -> PythonVersion | None:
    if text is None:
        return None
    try:
        return PythonVersion.parse(text.strip().removeprefix("python-"))
    except ValueError:
        raise UsageError(
            detail=f"--cached-version must be an exact version like 3.13.5, got {text!r}"
        ) from None


def platform_args(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(stack, arch): arch defaults to the host's only when a stack is given."""
    stack = args.stack
    arch = args.arch or (host_arch() if stack else None)
    return stack, arch


def app_dir(text: str) -> Path:
    return Path(text)
