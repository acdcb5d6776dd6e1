"""Presentation for humans and machines: stderr for people, stdout for results/JSON.

Colour only when the stream is a terminal and ``NO_COLOR`` is unset (https://no-color.org);
``FORCE_COLOR`` forces it on. Wording comes from ``messages``; this module only styles it.
"""

from __future__ import annotations

import json
import os
import sys
from contextvars import ContextVar

from pybuildpack._record import dataclass, field

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any, TextIO

    from pybuildpack.messages import Rendered

# ``messages`` (every diagnostic's wording) is imported when something is rendered: a
# command that reports no problem never pays for it.

_APP_DIR: ContextVar[str] = ContextVar("pybuildpack_app_dir", default=".")


class app_dir_shown:  # lower case: used like a function, ``with app_dir_shown(path):``
    """While active, advice names ``path`` (shell-quoted) as the app directory.

    A class rather than ``contextlib.contextmanager``: every command enters it, and
    contextlib is otherwise not imported on the way to a result."""

    def __init__(self, path: str) -> None:
        if path in ("", "."):
            self.shown = "."
        else:
            import shlex

            self.shown = shlex.quote(path)

    def __enter__(self) -> None:
        self.token = _APP_DIR.set(self.shown)

    def __exit__(self, *exc: object) -> None:
        _APP_DIR.reset(self.token)


def render(diagnostic: Any) -> Rendered:
    """``messages.render``, imported on first use."""
    from pybuildpack.messages import render as render_words

    return render_words(diagnostic)


_STYLES = {"bold": "1", "red": "31", "yellow": "33", "green": "32", "blue": "34", "dim": "2"}


def terminal_width(stream: TextIO, default: int | None = None) -> int:
    """Columns to wrap messages to on ``stream``: ``COLUMNS`` when set, else the terminal's
    width, else ``default`` (a log or a file: no width to fit; ``messages.WIDTH``)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        pass
    if default is None:
        from pybuildpack.messages import WIDTH

        return WIDTH
    return default


def use_colour(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@dataclass
class Output:
    """Where a command writes. ``json_mode``: stdout carries exactly one JSON document."""

    json_mode: bool = False
    quiet: bool = False
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def style(self, text: str, *styles: str) -> str:
        if not styles or not use_colour(self.stderr):
            return text
        codes = ";".join(_STYLES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def info(self, text: str) -> None:
        """A line for humans (stderr), suppressed by --quiet."""
        if not self.quiet:
            print(text, file=self.stderr)

    def result(self, text: str) -> None:
        """The command's result for humans (stdout) when not in JSON mode."""
        if not self.json_mode:
            print(text, file=self.stdout)

    def emit_json(self, document: dict[str, Any]) -> None:
        if self.json_mode:
            print(json.dumps(document, indent=2, sort_keys=False), file=self.stdout)

    def diagnostic(self, rendered: Rendered, kind: str) -> None:
        """Print a warning or error block for humans on stderr (always, even with --quiet
        for errors)."""
        if kind == "warning" and self.quiet:
            return
        colour = "yellow" if kind == "warning" else "red"
        label = "Warning" if kind == "warning" else "Error"
        head = self.style(f"{label}: {rendered.title}", colour, "bold")
        print(f"\n{head}  [{self.style(rendered.id, 'dim')}]", file=self.stderr)
        width = terminal_width(self.stderr) - 2  # the indent below
        for line in rendered.wrapped_body(width).splitlines():
            print(f"  {line}".rstrip(), file=self.stderr)
        print(file=self.stderr)

    def warn(self, warning: Any) -> None:
        """Print a warning (a diagnostic) unless --quiet; its words are looked up only then."""
        if not self.quiet:
            self.diagnostic(render(warning), "warning")

    def error(self, err: Any) -> int:
        """Report a ``PyBuildpackError``; in JSON mode also as ``{"error": ...}``. Exit 1."""
        rendered = render(err)
        self.diagnostic(rendered, "error")
        self.emit_json({"error": rendered.as_json()})
        return 1
