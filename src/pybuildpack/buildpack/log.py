"""The build log: ``-----> `` step lines, 7-space indented detail, boxed warnings and errors.

Steps and detail go to stdout; warnings, notices and errors to stderr (as Heroku-style
platforms expect). Colour only on a terminal and never with ``NO_COLOR`` set; ``FORCE_COLOR``
forces it. Wording comes from ``pybuildpack.messages``; this module only styles it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TextIO

from pybuildpack._record import dataclass, field
from pybuildpack.messages import Diagnostic, Rendered, render, wrap
from pybuildpack.output import terminal_width, use_colour

STEP = "-----> "
INDENT = " " * 7
BOX = " !     "
LOG_WIDTH = 95  # build logs are rarely terminals: boxed lines fit in about 95 columns

_COLOURS = {"error": "1;31", "warning": "1;33", "notice": "1;34"}


@dataclass
class BuildLog:
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def step(self, text: str) -> None:
        print(f"{STEP}{text}", file=self.out, flush=True)

    def info(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            print(f"{INDENT}{line}".rstrip(), file=self.out, flush=True)

    def lines(self, lines: Iterable[str]) -> None:
        """Sub-output (e.g. a tool's output), indented, as it arrives."""
        for line in lines:
            print(f"{INDENT}{line.rstrip()}".rstrip(), file=self.out, flush=True)

    def _box(self, kind: str, title: str, body: str) -> None:
        colour = use_colour(self.err)
        body = wrap(body, terminal_width(self.err, default=LOG_WIDTH) - len(BOX))
        text = f"{title}\n\n{body}" if body else title
        print(file=self.err)
        for line in text.splitlines():
            boxed = f"{BOX}{line}".rstrip()
            if colour:
                boxed = f"\x1b[{_COLOURS[kind]}m{boxed}\x1b[0m"
            print(boxed, file=self.err)
        print(file=self.err, flush=True)

    def warning(self, diagnostic: Diagnostic | Rendered) -> None:
        r = diagnostic if isinstance(diagnostic, Rendered) else render(diagnostic)
        self._box("warning", f"Warning: {r.title}", r.body)

    def notice(self, title: str, body: str = "") -> None:
        self._box("notice", f"Note: {title}", body)

    def error(self, diagnostic: Diagnostic | Rendered) -> Rendered:
        r = diagnostic if isinstance(diagnostic, Rendered) else render(diagnostic)
        self._box("error", f"Error: {r.title}", f"{r.body}\n\n[{r.id}]" if r.body else f"[{r.id}]")
        return r

    def internal_error(self, exc: BaseException) -> None:
        detail = f"{type(exc).__name__}: {exc}"
        self._box(
            "error",
            "Error: internal error in pybuildpack",
            f"{detail}\n\nThis is a bug in pybuildpack, not in your app. Please report it\n"
            f"with the build log; PYBUILDPACK_DEBUG=1 shows a traceback.\n\n[internal-error]",
        )
