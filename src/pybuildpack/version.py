"""Value types for Python versions: what an app asks for and what it gets.

Pure: no I/O. Parsing of the *files* that carry versions lives in ``version_files``.
"""

from __future__ import annotations

import enum
import re

from pybuildpack._record import dataclass

# N.N or N.N.N, ASCII digits, no redundant leading zeros ("0" alone is fine).
_COMPONENT = r"(0|[1-9][0-9]*)"
VERSION_RE = re.compile(rf"{_COMPONENT}\.{_COMPONENT}(?:\.{_COMPONENT})?", re.ASCII)


class Origin(str, enum.Enum):
    """Where a requested version came from. The value is what users and JSON see."""

    RUNTIME_TXT = "runtime.txt"
    PYTHON_VERSION_FILE = ".python-version"
    PIPFILE_LOCK = "Pipfile.lock"
    CACHED = "cached"
    DEFAULT = "default"

    @property
    def is_file(self) -> bool:
        return self in (Origin.RUNTIME_TXT, Origin.PYTHON_VERSION_FILE, Origin.PIPFILE_LOCK)


class Generation(str, enum.Enum):
    """Which platform contract's rules apply."""

    CEDAR = "cedar"  # classic buildpack interface: sticky versions, runtime.txt still read
    FIR = "fir"  # Cloud Native Buildpacks interface: default at build time, runtime.txt an error


@dataclass(frozen=True, order=True)
class MajorVersion:
    """A Python "major version" in Heroku's sense: ``3.13`` (major.minor)."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, text: str) -> MajorVersion:
        m = re.fullmatch(rf"{_COMPONENT}\.{_COMPONENT}", text, re.ASCII)
        if not m:
            raise ValueError(f"not a major version (N.N): {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True, order=True)
class PythonVersion:
    """An exact CPython release: ``3.13.5``."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def series(self) -> MajorVersion:
        return MajorVersion(self.major, self.minor)

    @classmethod
    def parse(cls, text: str) -> PythonVersion:
        m = VERSION_RE.fullmatch(text)
        if not m or m.group(3) is None:
            raise ValueError(f"not an exact version (N.N.N): {text!r}")
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)))


@dataclass(frozen=True)
class RequestedVersion:
    """What the app (or the cache, or the default) asks for: ``3.13`` or ``3.13.5``."""

    major: int
    minor: int
    patch: int | None
    origin: Origin

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}"
        return base if self.patch is None else f"{base}.{self.patch}"

    @property
    def series(self) -> MajorVersion:
        return MajorVersion(self.major, self.minor)

    @classmethod
    def parse(cls, text: str, origin: Origin) -> RequestedVersion | None:
        """Parse ``N.N`` / ``N.N.N`` exactly (no trimming). ``None`` if it does not match."""
        m = VERSION_RE.fullmatch(text)
        if not m:
            return None
        patch = None if m.group(3) is None else int(m.group(3))
        return cls(int(m.group(1)), int(m.group(2)), patch, origin)
