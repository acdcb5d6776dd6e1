"""Runs a buildpack phase with this buildpack's own copy of pybuildpack (``src/``)."""

import os
import sys

sys.path.insert(
    0,
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src"
    ),
)

from pybuildpack.buildpack.__main__ import main

sys.exit(main(sys.argv[1:]))
