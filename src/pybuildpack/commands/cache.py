"""``pybuildpack cache clear|info CACHE_DIR``: the classic buildpack's build cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from pybuildpack.buildpack.build_cache import BuildCache
from pybuildpack.cli import add_common_options
from pybuildpack.errors import BuildCacheUnusable
from pybuildpack.output import Output

HELP = """\
Inspect or clear a build cache directory (the CACHE_DIR a Heroku-style platform gives
bin/compile). It holds the installed runtime and dependencies of the last successful
build, and its Python version: apps that state no version keep that major version
("sticky") until the cache is cleared.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "cache",
        help="inspect or clear a build cache (CACHE_DIR)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="cache_command", metavar="ACTION", title="actions")
    clear = actions.add_parser(
        "clear",
        help="remove pybuildpack's data from CACHE_DIR (drops the sticky version too)",
        description="Remove what pybuildpack keeps in CACHE_DIR: the runtime, dependencies, "
        "tools, pip cache, build report and the sticky Python version. Nothing else there "
        "is touched.",
    )
    clear.add_argument("cache_dir", metavar="CACHE_DIR", type=Path)
    add_common_options(clear)
    clear.set_defaults(func=run_clear)
    info = actions.add_parser(
        "info", help="show what CACHE_DIR holds", description="Show the cached build's state."
    )
    info.add_argument("cache_dir", metavar="CACHE_DIR", type=Path)
    add_common_options(info)
    info.set_defaults(func=run_info)
    p.set_defaults(func=lambda args, out: (p.print_help(), 2)[1])


def _check(path: Path) -> BuildCache:
    if not path.is_dir():
        raise BuildCacheUnusable(path=str(path), detail="does not exist or is not a directory")
    return BuildCache(path)


def run_clear(args: argparse.Namespace, out: Output) -> int:
    cache = _check(args.cache_dir)
    sticky = cache.sticky_version()
    removed = cache.clear()
    out.emit_json(
        {
            "cache_dir": str(args.cache_dir),
            "removed": removed,
            "dropped_sticky_version": str(sticky) if sticky else None,
        }
    )
    if not removed:
        out.result(f"{args.cache_dir}: nothing to clear")
        return 0
    out.result(f"Cleared {args.cache_dir}: removed {', '.join(removed)}")
    if sticky:
        out.result(
            f"The sticky Python version ({sticky.series}) is gone: the next build of an app "
            "that states no version gets the current default."
        )
    return 0


def run_info(args: argparse.Namespace, out: Output) -> int:
    cache = _check(args.cache_dir)
    info = cache.info()
    out.emit_json(info)
    state = info["state"]
    lines = [f"Build cache {args.cache_dir}"]
    if state is None:
        lines.append("  no cached build")
    else:
        lines += [
            f"  Python          {state['python_version']} ({state['stack']}, {state['arch']})",
            f"  package manager {state['package_manager']} {state['package_manager_version']}",
            f"  install path    {state['python_home']}",
        ]
    sticky = info["sticky_major"]
    lines.append(
        f"  sticky major    {sticky} (used by apps that state no version)"
        if sticky
        else "  sticky major    none (apps that state no version get the default)"
    )
    sizes = info["bytes"]
    lines.append(
        "  size            "
        + ", ".join(f"{k.replace('_', ' ')} {v / 1e6:.1f} MB" for k, v in sizes.items())
    )
    out.result("\n".join(lines))
    return 0
