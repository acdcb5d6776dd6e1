"""Parsers for the files that state a Python version: ``.python-version``, ``runtime.txt``,
``Pipfile.lock``. Each takes the file's *content* (bytes or decoded JSON) and returns a
``RequestedVersion`` or raises a typed error. No file-system access here.

Rules (see README "Version files"):

* one version per file, ``N.N`` or ``N.N.N``, ASCII digits, no redundant leading zeros;
* lines split on LF, CRLF or a lone CR; blank lines and lines whose first non-blank
  character is ``#`` are ignored; each line is trimmed of whitespace (``WHITESPACE``);
* a file that is not plain UTF-8 (a byte order mark, UTF-16/32, or invalid UTF-8) is an
  encoding error, reported as such instead of as a puzzling invalid version.
"""

from __future__ import annotations

import re

from pybuildpack.errors import (
    PipfileLockInvalidJson,
    PipfileLockInvalidVersion,
    PythonVersionFileInvalidEncoding,
    PythonVersionFileInvalidVersion,
    PythonVersionFileMultipleVersions,
    PythonVersionFileNoVersion,
    RuntimeTxtInvalidVersion,
)
from pybuildpack.version import MajorVersion, Origin, RequestedVersion

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any

# Trimmed around each line: ASCII whitespace and the Unicode space/line/paragraph separators,
# except the no-break spaces (U+00A0, U+2007, U+202F). Invisible characters that are *not*
# whitespace (zero-width space U+200B, BOM U+FEFF, soft hyphen...) are never trimmed: they
# make the line invalid and the error shows them.
# The Unicode ones are the code points of categories Zs, Zl and Zp up to U+3000 (the test
# ``test_whitespace_matches_unicode_data`` recomputes them from ``unicodedata``); a literal,
# since computing them took ~1.5 ms of every command's start-up.
WHITESPACE = (
    "\t\n\x0b\x0c\r \u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a"
    "\u2028\u2029\u205f\u3000"
)

_LINE_SPLIT = re.compile(r"\r\n|\r|\n")

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    (b"\xef\xbb\xbf", "UTF-8 with a byte order mark (BOM)"),
    (b"\xff\xfe", "UTF-16 (little-endian)"),
    (b"\xfe\xff", "UTF-16 (big-endian)"),
)

_CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "BEL",
    0x08: "BACKSPACE",
    0x09: "TAB",
    0x0B: "VERTICAL TAB",
    0x0C: "FORM FEED",
    0x0D: "CR",
    0x1B: "ESC",
    0x7F: "DEL",
}


def detect_encoding_problem(data: bytes) -> str | None:
    """Describe why ``data`` is not plain UTF-8, or ``None`` if it is."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    # UTF-16 without a BOM: ASCII text with a NUL after (LE) or before (BE) every character.
    if len(data) >= 4:
        even, odd = data[0::2], data[1::2]
        if odd.count(0) >= len(odd) * 0.9 and even.count(0) < len(even) * 0.5:
            return "UTF-16 (little-endian, without a byte order mark)"
        if even.count(0) >= len(even) * 0.9 and odd.count(0) < len(odd) * 0.5:
            return "UTF-16 (big-endian, without a byte order mark)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = data[exc.start]
        return f"not UTF-8 (byte 0x{byte:02X} at offset {exc.start}; probably Latin-1/Windows-1252)"
    return None


def make_visible(text: str) -> str:
    """Show ``text`` with every invisible or non-ASCII character spelled out.

    ``"\\u200b3.12\\t"`` -> ``"[U+200B ZERO WIDTH SPACE]3.12[TAB]"``. Printable ASCII and the
    plain space are kept as they are.
    """
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0x20 <= code < 0x7F:
            out.append(ch)
        elif code in _CONTROL_NAMES:
            out.append(f"[{_CONTROL_NAMES[code]}]")
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"[U+{code:04X}]")
        else:
            import unicodedata  # here: only lines with such characters need it

            name = unicodedata.name(ch, "")
            out.append(f"[U+{code:04X} {name}]" if name else f"[U+{code:04X}]")
    return "".join(out)


def significant_lines(text: str) -> list[str]:
    """Trimmed lines that are neither blank nor whole-line ``#`` comments."""
    lines = (line.strip(WHITESPACE) for line in _LINE_SPLIT.split(text))
    return [line for line in lines if line and not line.startswith("#")]


# (pattern, hint) pairs, compiled on first use: only an invalid line needs them.
_HINT_TABLE: tuple[tuple[str, str], ...] = (
    (
        r"(?i)python[-_ ]?\d",
        "Remove the 'python-' prefix: .python-version holds only the version number "
        "(the 'python-N.N' form belongs to the deprecated runtime.txt).",
    ),
    (
        r"^\d+\.\d+(\.\d+)?\s+#",
        "Comments must be on a line of their own, starting with '#'.",
    ),
    (
        r"^[\"'].*[\"']$",
        "Remove the quotes around the version.",
    ),
    (
        r"[*xX]$|\.x\b",
        "Wildcards are not supported: write just the major version, which always gets "
        "the latest patch.",
    ),
    (
        r"^(==|>=|<=|~=|!=|>|<|\^|~)",
        "Version ranges are not supported here: write one major version. "
        "Ranges belong in pyproject.toml's requires-python.",
    ),
    (
        r"^\d+$",
        "Give the minor version too: e.g. 3.13, not 3.",
    ),
    (
        r"(^|\.)0\d",
        "Remove the leading zeros: e.g. 3.13, not 03.13 or 3.013.",
    ),
    (
        r"^[vV]\d",
        "Remove the 'v' prefix.",
    ),
    (
        r"(?i)^(pypy|graalpy|system|cpython|miniconda|anaconda)",
        "Only CPython version numbers are supported, e.g. 3.13.",
    ),
    (
        r"^\d+\.\d+\.\d+\.\d+",
        "A version has at most three parts: 3.13 or 3.13.5.",
    ),
    (
        r"(?i)^\d+\.\d+(\.\d+)?(a|b|rc|t|-dev|\+)",
        "Pre-releases and special builds are not supported: use a released version.",
    ),
)


def hint_for(line: str) -> str | None:
    """A targeted explanation of a common mistake in a version line, if one applies."""
    if any(not (0x20 <= ord(c) < 0x7F) for c in line):
        return (
            "The line contains invisible or non-ASCII characters (shown in brackets). "
            "Delete the line and type the version again."
        )
    for pattern, hint in _HINT_TABLE:
        if re.search(pattern, line):  # re caches the compiled patterns
            return hint
    return None


_MAJOR_IN_TEXT = re.compile(r"(?<![0-9])([0-9]+)\.([0-9]+)")


def lenient_text(data: bytes) -> str:
    """``data`` as text whatever its encoding (BOM, UTF-16/32, Latin-1): only to find what
    the user meant, never to accept the file."""
    for bom, codec in (
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                break
    return data.decode("utf-8", "replace").replace("\x00", "")


def guess_major(data: bytes) -> MajorVersion | None:
    """The first ``N.N`` in the significant lines of a version file, however malformed
    (``3.13.*``, ``python-3.12``, a BOM or UTF-16 file holding ``3.12``): the major the
    user meant, to keep in the fix we suggest."""
    for line in significant_lines(lenient_text(data)):
        match = _MAJOR_IN_TEXT.search(line)
        if match:
            return MajorVersion(int(match[1]), int(match[2]))
    return None


def parse_python_version_file(data: bytes) -> RequestedVersion:
    """Parse the bytes of a ``.python-version`` file."""
    problem = detect_encoding_problem(data)
    if problem is not None:
        raise PythonVersionFileInvalidEncoding(encoding=problem)
    lines = significant_lines(data.decode("utf-8"))
    # Validate every line first: an invalid line is the more specific problem to report.
    # The error carries every other problem too (more invalid lines, more than one line).
    invalid = [
        line for line in lines if RequestedVersion.parse(line, Origin.PYTHON_VERSION_FILE) is None
    ]
    if invalid:
        raise PythonVersionFileInvalidVersion(
            line=invalid[0],
            hint=hint_for(invalid[0]),
            other_invalid=tuple(invalid[1:]),
            all_lines=tuple(lines),
        )
    if not lines:
        raise PythonVersionFileNoVersion()
    if len(lines) > 1:
        raise PythonVersionFileMultipleVersions(versions=tuple(lines))
    request = RequestedVersion.parse(lines[0], Origin.PYTHON_VERSION_FILE)
    assert request is not None  # validated above
    return request


def parse_runtime_txt(data: bytes) -> RequestedVersion:
    """Parse the bytes of a (deprecated) ``runtime.txt``: exactly ``python-N.N[.N]``."""
    problem = detect_encoding_problem(data)
    text = "" if problem else data.decode("utf-8")
    lines = significant_lines(text)
    if problem is None and len(lines) == 1 and lines[0].startswith("python-"):
        request = RequestedVersion.parse(lines[0].removeprefix("python-"), Origin.RUNTIME_TXT)
        if request is not None:
            return request
    shown = make_visible("\n".join(lines)) if problem is None else f"(file encoded as {problem})"
    raise RuntimeTxtInvalidVersion(content=shown[:200])


def parse_pipfile_lock(data: bytes) -> RequestedVersion | None:
    """The version in ``Pipfile.lock`` (``_meta.requires``), or ``None`` if it states none.

    ``python_full_version`` wins over ``python_version``. Values must be JSON strings of the
    form ``N.N[.N]``: a JSON number would lose trailing zeros (3.10 -> 3.1), so it is refused.
    """
    import json

    try:
        document: Any = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise PipfileLockInvalidJson(detail=f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise PipfileLockInvalidJson(detail=str(exc)) from None
    if not isinstance(document, dict):
        raise PipfileLockInvalidJson(detail="the top level must be a JSON object")
    meta = document.get("_meta")
    requires = meta.get("requires") if isinstance(meta, dict) else None
    if not isinstance(requires, dict):
        return None
    for field in ("python_full_version", "python_version"):
        value = requires.get(field)
        if value is None:
            continue
        request = (
            RequestedVersion.parse(value, Origin.PIPFILE_LOCK) if isinstance(value, str) else None
        )
        if request is None:
            raise PipfileLockInvalidVersion(
                field=field, value=make_visible(json.dumps(value))[:100]
            )
        return request
    return None
