"""``pybuildpack install``: resolve the app's version, then install that runtime."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pybuildpack.catalog import downloads_path
from pybuildpack.cli import add_common_options
from pybuildpack.commands._shared import add_platform_options
from pybuildpack.commands.resolve import resolve_and_explain
from pybuildpack.host import host_arch
from pybuildpack.output import Output, render
from pybuildpack.provision.installed import installed_without_download, plan_install

HELP = """\
Resolve the Python version of the app in APP_DIR (like 'pybuildpack resolve'), then
download, verify and install that exact CPython into DEST, so that DEST/bin/python3 is it.

The archive is verified against a sha256 from the download metadata or a SHA256SUMS file
next to it; it is unpacked beside DEST and renamed into place, so DEST never holds a
half-installed runtime. Archives are kept in a download cache shared by concurrent installs;
installing what DEST already holds does nothing.

sources:
  pbs       python-build-standalone install_only archives (default)
  heroku    python-X.Y.Z-ubuntu-NN.04-ARCH.tar.zst archives (needs --stack)
Use --mirror (or PYBUILDPACK_MIRROR) for a mirror with the same layout, including a
file:// folder for air-gapped machines.

pybuildpack unpacks with its own strict tar reader; --unpacker tar has the system tar
(GNU tar or bsdtar) write the files instead, from a stream pybuildpack checked.

Plain-http sources and mirrors are refused unless --allow-insecure-http (or
PYBUILDPACK_ALLOW_INSECURE_HTTP=1) allows them; the sha256 must then come from the
download metadata. Only an empty DEST or one holding a runtime installed by pybuildpack
is ever replaced, in one atomic step.

environment:
  PYBUILDPACK_SOURCE, PYBUILDPACK_MIRROR, PYBUILDPACK_DOWNLOADS, PYBUILDPACK_CACHE_DIR,
  PYBUILDPACK_UNPACKER, PYBUILDPACK_HTTP_TIMEOUT (seconds, default 30),
  PYBUILDPACK_HTTP_RETRIES (default 4), PYBUILDPACK_DOWNLOAD_DEADLINE (seconds, default
  1800), PYBUILDPACK_LOCK_TIMEOUT (seconds, default 900), PYBUILDPACK_MAX_UNPACKED_BYTES
  (default 8 GiB), PYBUILDPACK_MAX_MEMBERS (default 500000),
  PYBUILDPACK_ALLOW_INSECURE_HTTP (default 0)
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "install",
        help="resolve and install the app's Python runtime",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("app_dir", metavar="APP_DIR", nargs="?", default=".", help="default: .")
    p.add_argument("--dest", required=True, metavar="DIR", help="where to install the runtime")
    p.add_argument("--source", choices=["pbs", "heroku"], help="archive source (default: pbs)")
    p.add_argument("--mirror", metavar="URL", help="base URL replacing the source's (http, file)")
    p.add_argument("--cache-dir", metavar="DIR", help="download cache (default: user cache dir)")
    p.add_argument("--downloads", metavar="FILE", help="download metadata to use (JSON)")
    p.add_argument(
        "--unpacker",
        choices=["auto", "tar", "python"],
        help="who writes the files: pybuildpack (auto, python: the default) or the system tar",
    )
    p.add_argument(
        "--allow-unverified",
        action="store_true",
        help="install even when no sha256 is known for the archive (not recommended)",
    )
    p.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="accept a plain-http source or mirror (also PYBUILDPACK_ALLOW_INSECURE_HTTP=1); "
        "the archive's sha256 must then be pinned in the download metadata",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a download progress bar (default: only on a terminal)",
    )
    add_platform_options(p)
    add_common_options(p)
    p.set_defaults(func=run_install, exit_fast=True)


def run_install(args: argparse.Namespace, out: Output) -> int:
    start = time.monotonic()
    resolved = resolve_and_explain(args, out, installing=True)
    resolution, generation, catalog = resolved.resolution, resolved.generation, resolved.catalog
    stack, arch = resolved.stack, resolved.arch
    # A destination that already holds the runtime is told apart with the light half of
    # the install (provision.installed); the rest is imported only for real work.
    plan = plan_install(
        resolution.version,
        Path(args.dest),
        source=args.source,
        mirror=args.mirror,
        stack=stack,
        arch=arch or host_arch(),
        downloads=downloads_path(args.downloads, catalog),
        catalog=catalog,
        unpacker=args.unpacker,
        allow_insecure_http=args.allow_insecure_http,
    )
    result = installed_without_download(plan, resolution.version, start)
    if result is None:
        from pybuildpack.provision.api import install_python

        result = install_python(
            resolution.version,
            plan.dest,
            cache_dir=Path(args.cache_dir) if args.cache_dir else None,
            progress=False if (args.quiet or args.json) else args.progress,
            allow_unverified=args.allow_unverified,
            requested=resolution.requested,
            plan=plan,
        )
    for w in result.warnings:
        out.warn(w)
    how = (
        "already installed"
        if result.already_installed
        else (
            "from the download cache" if result.cache_hit else f"{result.bytes:,} bytes downloaded"
        )
    )
    out.info(f"Installed Python {result.version} in {result.dest} ({how}, {result.seconds:.2f} s)")
    out.result(str(result.dest))
    if out.json_mode:  # built only when printed: the warnings' words are looked up for it
        out.emit_json(
            {
                "version": str(result.version),
                "requested": str(resolution.requested),
                "origin": resolution.requested.origin.value,
                "generation": generation.value,
                "source": result.source,
                "url": result.url,
                "sha256": result.sha256,
                "bytes": result.bytes,
                "seconds": round(result.seconds, 3),
                "cache_hit": result.cache_hit,
                "already_installed": result.already_installed,
                "dest": str(result.dest),
                "warnings": [render(w).as_json() for w in (*resolution.warnings, *result.warnings)],
            }
        )
    return 0
