"""The build report store: ``CACHE_DIR/build-data/python.json``, printed by ``bin/report``.

At the start of a build the previous file becomes ``python-prev.json``. Values are strings,
numbers or booleans (strings capped at 200 characters); durations are seconds. The file is
rewritten atomically after every change, so a build that dies half-way still leaves a
readable report with its ``failure_reason``. Phase durations are exclusive: a phase timed
inside another (``python_install`` within ``cache_restore``) is not counted in its parent, so
the phases add up to at most ``total_duration``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MAX_LEN = 200
Value = str | int | float | bool


class BuildData:
    def __init__(self, cache_dir: Path | None) -> None:
        self.path = cache_dir / "build-data" / "python.json" if cache_dir else None
        self.data: dict[str, Value] = {}
        self._start = time.monotonic()
        self._nested: list[float] = []  # per open phase: seconds spent in phases inside it

    def start(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            os.replace(self.path, self.path.with_name("python-prev.json"))
        self._write()

    def set(self, key: str, value: Value | None) -> None:
        if value is None:
            return
        if isinstance(value, str):
            value = value[:MAX_LEN]
        self.data[key] = value
        self._write()

    @contextmanager
    def timed(self, key: str) -> Iterator[None]:
        start = time.monotonic()
        self._nested.append(0.0)
        try:
            yield
        finally:
            elapsed = time.monotonic() - start
            inner = self._nested.pop()
            if self._nested:
                self._nested[-1] += elapsed
            self.set(f"{key}_duration", round(elapsed - inner, 3))

    def finish(self) -> None:
        self.set("total_duration", round(time.monotonic() - self._start, 3))

    def _write(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".python.json.tmp-{os.getpid()}")
            tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n", "utf-8")
            os.replace(tmp, self.path)
        except OSError:
            pass  # the report must never fail the build (e.g. a hook deleted CACHE_DIR)


def read_report(cache_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((cache_dir / "build-data" / "python.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
