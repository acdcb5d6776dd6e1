#!/usr/bin/env python3
"""Regenerate the bundled catalog and download metadata (``src/pybuildpack/data``).

A thin wrapper: ``pybuildpack catalog update`` does the work (docs/catalog.md). Extra
arguments are passed on, e.g. local snapshots of the upstream files:

    python scripts/update_downloads.py --from-dir SNAPSHOTS \\
        --builds-date 2026-08-18 --release-cycle-date 2026-08-22
"""

from __future__ import annotations

import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "src" / "pybuildpack" / "data"

if __name__ == "__main__":
    from pybuildpack.cli import main

    sys.exit(main(["catalog", "update", "--write-to", str(DATA), *sys.argv[1:]]))
