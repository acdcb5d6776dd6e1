#!/usr/bin/env python3
"""Refresh the ``pbs`` archives in ``src/pybuildpack/data/downloads.json``.

Input: a copy of a python-build-standalone download list in the JSON shape uv publishes
(``crates/uv-python/download-metadata.json`` in astral-sh/uv: keys like
``cpython-3.14.7-linux-x86_64-gnu`` with ``url``, ``sha256``, ``variant``, ``prerelease``).
Output: our schema (see ``pybuildpack.provision.sources``), linux gnu x86_64/aarch64 only,
default builds (no freethreaded/debug variants), released versions of the majors in
``--majors``, one (the newest) build per version and target.

Usage: python scripts/update_downloads.py METADATA.json --as-of YYYY-MM-DD --notes TEXT
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

OUT = Path(__file__).resolve().parents[1] / "src" / "pybuildpack" / "data" / "downloads.json"
TARGETS = {"x86_64": "x86_64-unknown-linux-gnu", "aarch64": "aarch64-unknown-linux-gnu"}
PBS_PATH = re.compile(r"/releases/download/(?P<release>[^/]+)/(?P<file>[^/]+)$")
FLAVOR = re.compile(r"-(?P<flavor>install_only(?:_stripped)?)\.tar\.(?:gz|zst)$")


def convert(metadata: dict, majors: set[str]) -> list[dict[str, str]]:
    best: dict[tuple[str, str], dict[str, str]] = {}
    for entry in metadata.values():
        if (
            entry.get("name") != "cpython"
            or entry.get("os") != "linux"
            or entry.get("libc") != "gnu"
        ):
            continue
        if entry.get("variant") or entry.get("prerelease"):
            continue
        arch = entry.get("arch", {})
        target = TARGETS.get(arch.get("family"))
        if target is None or arch.get("variant"):
            continue
        version = f"{entry['major']}.{entry['minor']}.{entry['patch']}"
        if f"{entry['major']}.{entry['minor']}" not in majors:
            continue
        match = PBS_PATH.search(urlparse(entry["url"]).path)
        if not match:
            continue
        file = unquote(match["file"])
        flavor = FLAVOR.search(file)
        sha = str(entry.get("sha256") or "")
        if not flavor or not re.fullmatch(r"[0-9a-f]{64}", sha):
            continue
        if version not in file or match["release"] not in file or target not in file:
            raise SystemExit(f"inconsistent entry: {entry['url']}")
        row = {
            "version": version,
            "release": match["release"],
            "target": target,
            "flavor": flavor["flavor"],
            "file": file,
            "sha256": sha,
        }
        key = (version, target)
        if key not in best or row["release"] > best[key]["release"]:
            best[key] = row

    def order(r: dict[str, str]) -> tuple[tuple[int, ...], str]:
        return tuple(int(x) for x in r["version"].split(".")), r["target"]

    return sorted(best.values(), key=order)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("metadata", type=Path)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--notes", required=True)
    parser.add_argument("--majors", default="3.10,3.11,3.12,3.13,3.14")
    args = parser.parse_args()
    rows = convert(json.loads(args.metadata.read_text()), set(args.majors.split(",")))
    doc = json.loads(OUT.read_text())
    doc["as_of"] = args.as_of
    doc["notes"] = args.notes
    doc["sources"]["pbs"]["archives"] = rows
    OUT.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {len(rows)} archives to {OUT}")


if __name__ == "__main__":
    main()
