"""``pyproject.toml`` ``requires-python`` as a *check* on the resolved version (PEP 440).

It never chooses the version: a range states what a project tolerates, not what to run.
But a resolved version outside it almost always means the two files drifted apart.
"""

from __future__ import annotations

import re
import sys

from pybuildpack._record import dataclass
from pybuildpack.catalog import Catalog
from pybuildpack.errors import BuildWarning, PyprojectUnreadable, PythonVersionOutsideRequiresPython
from pybuildpack.version import MajorVersion, Origin, PythonVersion

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet


# One clause of the common form (">=3.11", "<4", "~=3.12", "!=3.13.1"): an operator and a
# plain release number, no leading zeros, no wildcard, no pre/post/dev/local part.
# (Patterns as text: ``re`` compiles and caches each on first use, so an app without
# pyproject.toml never pays for them.)
_SIMPLE_CLAUSE = r"\s*(~=|==|!=|<=|>=|<|>)\s*((?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*)\s*"
_RELEASE = r"(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*"
_Clause = tuple[str, tuple[int, ...]]


def _release(text: str) -> tuple[int, ...]:
    """``3.12.0`` -> ``(3, 12)``: trailing zeros do not count in PEP 440 comparisons."""
    parts = [int(p) for p in text.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _simple_clauses(text: str) -> tuple[_Clause, ...] | None:
    """The clauses of ``text`` when every one is of the simple form, else ``None``."""
    clauses: list[_Clause] = []
    for part in text.split(","):
        m = re.fullmatch(_SIMPLE_CLAUSE, part)
        if m is None or (m[1] == "~=" and "." not in m[2]):  # "~=3" is invalid PEP 440
            return None
        clauses.append((m[1], tuple(int(p) for p in m[2].split("."))))
    return tuple(clauses)


def _admits(clause: _Clause, version: tuple[int, ...]) -> bool:
    """PEP 440 for a final release ``version`` (trailing zeros stripped) and a simple clause.

    For a final release ``<V`` and ``>V`` are plain comparisons (their exclusions concern
    pre-, post- and local releases of V); ``~=X.Y`` is ``>=X.Y, ==X.*``."""
    op, spec = clause
    target = _release(".".join(map(str, spec)))
    if op == "==":
        return version == target
    if op == "!=":
        return version != target
    if op == ">=":
        return version >= target
    if op == "<=":
        return version <= target
    if op == ">":
        return version > target
    if op == "<":
        return version < target
    prefix = spec[:-1]  # "~="
    padded = version + (0,) * max(0, len(prefix) - len(version))
    return version >= target and padded[: len(prefix)] == prefix


class PythonSpecifier:
    """``requires-python`` as a PEP 440 specifier set, with ``SpecifierSet.contains``.

    The common simple forms are evaluated here, exactly as ``packaging`` does (a property
    test compares them); anything else (wildcards, pre-releases, ``===``...) is handed to
    ``packaging``, imported only then: it costs more to import than resolving takes."""

    __slots__ = ("_clauses", "_packaging", "text")

    def __init__(
        self, text: str, clauses: tuple[_Clause, ...] | None, packaging: SpecifierSet | None
    ) -> None:
        self.text = text
        self._clauses = clauses
        self._packaging = packaging

    @classmethod
    def parse(cls, text: str) -> PythonSpecifier:
        """Raises ``packaging.specifiers.InvalidSpecifier`` for text that is not PEP 440."""
        clauses = _simple_clauses(text)
        if clauses is not None:
            return cls(text, clauses, None)
        from packaging.specifiers import SpecifierSet

        return cls(text, None, SpecifierSet(text))

    def contains(self, version: str, prereleases: bool | None = None) -> bool:
        if self._clauses is not None and re.fullmatch(_RELEASE, version):
            release = _release(version)
            return all(_admits(c, release) for c in self._clauses)
        if self._packaging is None:  # a pre-release (or odd) version: packaging decides
            from packaging.specifiers import SpecifierSet

            self._packaging = SpecifierSet(self.text)
        return self._packaging.contains(version, prereleases=prereleases)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<PythonSpecifier({self.text!r})>"


@dataclass(frozen=True)
class RequiresPython:
    text: str
    specifier: PythonSpecifier
    # Set when ``text`` is not PEP 440 but a bare version ("3.12", "3.12.*"): what tools
    # that accept it (Poetry) read it as, e.g. "==3.12.*". The check uses that reading.
    read_as: str | None = None


# A bare version or wildcard, which PEP 440 rejects (a specifier needs an operator).
_BARE_VERSION = r"\s*(\d+(?:\.\d+)*(?:\.\*)?)\s*"


def parse_requires_python(data: bytes) -> RequiresPython | PyprojectUnreadable | None:
    """``requires-python`` from pyproject.toml bytes; ``None`` if absent; a warning if unusable."""
    if sys.version_info >= (3, 11):  # imported here: an app without pyproject.toml needs none
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        document = tomllib.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return PyprojectUnreadable(detail=f"pyproject.toml is not valid TOML: {exc}")
    project = document.get("project")
    if not isinstance(project, dict) or "requires-python" not in project:
        return None
    text = project["requires-python"]
    if not isinstance(text, str):
        return PyprojectUnreadable(detail="[project] requires-python must be a string")
    if _simple_clauses(text) is not None:  # the common case: no need for packaging
        return RequiresPython(text=text, specifier=PythonSpecifier.parse(text))
    # Imported here: most apps need no packaging, and every command pays for imports.
    from packaging.specifiers import InvalidSpecifier

    try:
        return RequiresPython(text=text, specifier=PythonSpecifier.parse(text))
    except InvalidSpecifier as exc:
        bare = re.fullmatch(_BARE_VERSION, text)
        if bare:
            read_as = f"=={bare[1]}"
            return RequiresPython(
                text=text, specifier=PythonSpecifier.parse(read_as), read_as=read_as
            )
        return PyprojectUnreadable(
            detail=f"requires-python {text!r} is not valid PEP 440 ({str(exc).rstrip('.')})."
        )


def check_requires_python(
    version: PythonVersion, origin: Origin, pyproject: bytes | None, catalog: Catalog
) -> list[BuildWarning]:
    """Warnings for a resolved ``version`` that ``requires-python`` does not admit."""
    if pyproject is None:
        return []
    parsed = parse_requires_python(pyproject)
    if parsed is None:
        return []
    if isinstance(parsed, PyprojectUnreadable):
        return [parsed]
    warnings: list[BuildWarning] = []
    if parsed.read_as is not None:
        warnings.append(
            PyprojectUnreadable(
                detail=f"requires-python {parsed.text!r} is not valid PEP 440: a version "
                f"needs an operator. Tools that accept it (Poetry) read it as "
                f"'{parsed.read_as}'; write that.",
            )
        )
    if not parsed.specifier.contains(str(version), prereleases=True):
        warnings.append(
            PythonVersionOutsideRequiresPython(
                version=version,
                requires_python=parsed.text,
                origin=origin,
                suggested=newest_allowed_major(parsed.specifier, catalog),
                read_as=parsed.read_as,
            )
        )
    return warnings


def newest_allowed_major(spec: PythonSpecifier, catalog: Catalog) -> MajorVersion | None:
    """The newest supported major whose latest patch satisfies ``spec``."""
    for info in reversed(catalog.supported):
        if spec.contains(str(info.latest), prereleases=True):
            return info.series
    return None
