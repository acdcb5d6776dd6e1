"""Entry point of the buildpack shims: ``python -m pybuildpack.buildpack PHASE [ARGS...]``.

``detect`` is shared by both platform contracts: the CNB lifecycle calls it with
``CNB_BUILD_PLAN_PATH``/``CNB_PLATFORM_DIR`` set (Buildpack API 0.10), Heroku-style platforms
with ``BUILD_DIR`` as the argument.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if not argv:
        print(
            "usage: python -m pybuildpack.buildpack "
            "detect|compile|test-compile|release|report|build ...",
            file=sys.stderr,
        )
        return 2
    phase = argv[0]
    # The lifecycle gives detect no argument and CNB_* variables; classic platforms a BUILD_DIR.
    cnb = bool(
        os.environ.get("CNB_BUILD_PLAN_PATH")
        or os.environ.get("CNB_LAYERS_DIR")
        or (len(argv) == 1 and os.environ.get("CNB_PLATFORM_DIR"))
    )
    if phase == "build" or (phase == "detect" and cnb):
        from pybuildpack.buildpack import cnb as cnb_mod

        return cnb_mod.main(phase)
    if phase in ("detect", "compile", "test-compile", "release", "report"):
        from pybuildpack.buildpack import classic

        return classic.main(argv)
    print(f"unknown buildpack phase {phase!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
