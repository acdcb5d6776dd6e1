"""Run one classic build with the fake installer in a process of its own.

    python compile_fake.py BUILD_DIR CACHE_DIR ENV_JSON

Tests use it where a build must be a separate process (killed mid-build, or two builds at
once); ``ENV_JSON`` is a file holding the build's environment as a JSON object. The exit
code is the build's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bp_support import FakeInstaller

from pybuildpack.buildpack import classic


def main(argv: list[str]) -> int:
    build_dir, cache_dir, env_file = (Path(a) for a in argv)
    environ = json.loads(env_file.read_text("utf-8"))
    return classic.compile(build_dir, cache_dir, None, environ=environ, installer=FakeInstaller())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
