"""``pyproject.toml`` ``requires-python`` as a *check* on the resolved version (PEP 440).

It never chooses the version: a range states what a project tolerates, not what to run.
But a resolved version outside it almost always means the two files drifted apart.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pybuildpack.catalog import Catalog
from pybuildpack.errors import BuildWarning, PyprojectUnreadable, PythonVersionOutsideRequiresPython
from pybuildpack.version import MajorVersion, Origin, PythonVersion

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


@dataclass(frozen=True)
class RequiresPython:
    text: str
    specifier: SpecifierSet
    # Set when ``text`` is not PEP 440 but a bare version ("3.12", "3.12.*"): what tools
    # that accept it (Poetry) read it as, e.g. "==3.12.*". The check uses that reading.
    read_as: str | None = None


# A bare version or wildcard, which PEP 440 rejects (a specifier needs an operator).
_BARE_VERSION = re.compile(r"\s*(\d+(?:\.\d+)*(?:\.\*)?)\s*")


def parse_requires_python(data: bytes) -> RequiresPython | PyprojectUnreadable | None:
    """``requires-python`` from pyproject.toml bytes; ``None`` if absent; a warning if unusable."""
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
    # Imported here: most apps have no requires-python, and every command pays for imports.
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return RequiresPython(text=text, specifier=SpecifierSet(text))
    except InvalidSpecifier as exc:
        bare = _BARE_VERSION.fullmatch(text)
        if bare:
            read_as = f"=={bare[1]}"
            return RequiresPython(text=text, specifier=SpecifierSet(read_as), read_as=read_as)
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


def newest_allowed_major(spec: SpecifierSet, catalog: Catalog) -> MajorVersion | None:
    """The newest supported major whose latest patch satisfies ``spec``."""
    for info in reversed(catalog.supported):
        if spec.contains(str(info.latest), prereleases=True):
            return info.series
    return None
