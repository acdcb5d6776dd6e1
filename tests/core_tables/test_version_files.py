"""Table-driven tests of the version-file parsers: every documented rule and edge case."""

from __future__ import annotations

import json

import pytest

from pybuildpack import errors as e
from pybuildpack.version_files import (
    detect_encoding_problem,
    hint_for,
    make_visible,
    parse_pipfile_lock,
    parse_python_version_file,
    parse_runtime_txt,
)

# --------------------------------------------------------------------------- .python-version: ok

OK = [
    ("major", b"3.13\n", "3.13"),
    ("patch-no-newline", b"3.13.5", "3.13.5"),
    ("surrounding-spaces-crlf", b"  3.13  \r\n", "3.13"),
    ("lone-cr", b"3.12\r", "3.12"),
    ("cr-cr-lf", b"3.12\r\r\n", "3.12"),
    ("vtab-formfeed", b"\x0b\x0c3.12\x0b\x0c\n", "3.12"),
    ("tabs", b"\t3.12\t\n", "3.12"),
    ("comments-blank-indented", b"# c\n\n   # indented\n\t3.12\t\n\n", "3.12"),
    ("comment-after-version-line", b"3.12\n# 3.11 was before\n", "3.12"),
    ("old-mac-line-endings", b"# c\r3.13\r", "3.13"),
    ("em-space", "\u20033.12\u2003".encode(), "3.12"),
    ("ideographic-space", "\u30003.12".encode(), "3.12"),
    ("hair-space", "3.12\u200a".encode(), "3.12"),
    ("line-separator", "\u20283.12".encode(), "3.12"),
    ("ogham-space", "\u16803.12".encode(), "3.12"),
    ("zero-components", b"3.0", "3.0"),
    ("patch-zero", b"3.12.0", "3.12.0"),
    ("latin1-free-utf8-comment", "# café\n3.12\n".encode(), "3.12"),
    ("large-numbers", b"987.654.3210", "987.654.3210"),
]


@pytest.mark.parametrize(("data", "expected"), [r[1:] for r in OK], ids=[r[0] for r in OK])
def test_python_version_file_accepts(data: bytes, expected: str) -> None:
    request = parse_python_version_file(data)
    assert str(request) == expected
    assert request.origin.value == ".python-version"


# --------------------------------------------------------------------------- invalid-version

INVALID = [
    # id, bytes, the offending line as stored, a word the hint must contain (None: no hint)
    ("python-prefix", b"python-3.13\n", "python-3.13", "prefix"),
    ("python-prefix-space", b"python 3.13\n", "python 3.13", "prefix"),
    ("wildcard", b"3.13.*\n", "3.13.*", "Wildcards"),
    ("x-wildcard", b"3.x\n", "3.x", "Wildcards"),
    ("major-only", b"3\n", "3", "minor"),
    ("leading-zero-major", b"03.13\n", "03.13", "leading zeros"),
    ("leading-zero-minor", b"3.012\n", "3.012", "leading zeros"),
    ("four-parts", b"3.12.0.1\n", "3.12.0.1", "three parts"),
    ("v-prefix", b"v3.12\n", "v3.12", "'v'"),
    ("double-quotes", b'"3.12"\n', '"3.12"', "quotes"),
    ("single-quotes", b"'3.12'\n", "'3.12'", "quotes"),
    ("range", b">=3.12\n", ">=3.12", "ranges"),
    ("tilde-range", b"~=3.12\n", "~=3.12", "ranges"),
    ("caret", b"^3.12\n", "^3.12", "ranges"),
    ("release-candidate", b"3.12rc1\n", "3.12rc1", "Pre-releases"),
    ("freethreaded", b"3.13t\n", "3.13t", "Pre-releases"),
    ("inline-comment", b"3.12 # comment\n", "3.12 # comment", "own"),
    ("pypy", b"pypy3.10\n", "pypy3.10", "CPython"),
    ("system", b"system\n", "system", "CPython"),
    ("nul-inside", b"3.12\x00\n", "3.12\x00", "invisible"),
    ("nul-line", b"3.12\n\x00\n", "\x00", "invisible"),
    ("esc-sequence", b"3.12\x1b[0m\n", "3.12\x1b[0m", "invisible"),
    ("lone-esc", b"\x1b", "\x1b", "invisible"),
    ("zero-width-space", "\u200b3.12\n".encode(), "\u200b3.12", "invisible"),
    ("nbsp-before", "\u00a03.12\n".encode(), "\u00a03.12", "invisible"),
    ("nbsp-after", "3.12\u00a0\n".encode(), "3.12\u00a0", "invisible"),
    ("figure-space", "\u20073.12".encode(), "\u20073.12", "invisible"),
    ("narrow-nbsp", "3.12\u202f".encode(), "3.12\u202f", "invisible"),
    ("next-line-char", "\u00853.12".encode(), "\u00853.12", "invisible"),
    ("soft-hyphen", "\u00ad3.12".encode(), "\u00ad3.12", "invisible"),
    ("fullwidth-digits", "3.\uff11\uff12".encode(), "3.\uff11\uff12", "invisible"),
    ("arabic-digits", "3.\u0661\u0662".encode(), "3.\u0661\u0662", "invisible"),
    ("invalid-beats-multiple", b"3.12\nfoo\n", "foo", None),
    ("first-invalid-reported", b"foo\n3.12\nbar\n", "foo", None),
    ("trailing-dot", b"3.12.\n", "3.12.", None),
    ("double-dot", b"3..12\n", "3..12", None),
    ("space-inside", b"3 .12\n", "3 .12", None),
    ("underscore", b"3.1_2\n", "3.1_2", None),
    ("negative", b"3.-1\n", "3.-1", None),
    ("plus-sign", b"+3.12\n", "+3.12", None),
    (
        "heroku-fixture-line",
        "  \u200bpython -\t\u00a03.12.0\x1b[0m  \r\n".encode(),
        "\u200bpython -\t\u00a03.12.0\x1b[0m",
        "invisible",
    ),
]


@pytest.mark.parametrize(
    ("data", "line", "hint_word"), [r[1:] for r in INVALID], ids=[r[0] for r in INVALID]
)
def test_python_version_file_invalid_version(data: bytes, line: str, hint_word: str | None) -> None:
    with pytest.raises(e.PythonVersionFileInvalidVersion) as exc:
        parse_python_version_file(data)
    assert exc.value.id == "python-version-file::invalid-version"
    assert exc.value.line == line
    if hint_word is not None:
        assert exc.value.hint is not None and hint_word in exc.value.hint


NO_VERSION = [
    ("empty", b""),
    ("newline", b"\n"),
    ("whitespace-only", b"\n\n   \n\t\r\n"),
    ("comment-only", b"# only comment\n"),
    ("indented-comments", b"  # a\n\t# b\n"),
    ("commented-out-version", b"# 3.12\n"),
    ("old-mac-comment-swallows-nothing", b"# c\r"),
]


@pytest.mark.parametrize("data", [r[1] for r in NO_VERSION], ids=[r[0] for r in NO_VERSION])
def test_python_version_file_no_version(data: bytes) -> None:
    with pytest.raises(e.PythonVersionFileNoVersion) as exc:
        parse_python_version_file(data)
    assert exc.value.id == "python-version-file::no-version"


MULTIPLE = [
    ("two", b"3.12\n3.13\n", ("3.12", "3.13")),
    ("duplicates", b"3.12\n3.12\n", ("3.12", "3.12")),
    ("with-comments-and-indent", b"# c\n3.12\n  \n  # x\n  2.7  \n", ("3.12", "2.7")),
    ("crlf", b"3.12\r\n3.11\r\n", ("3.12", "3.11")),
    ("lone-cr-separated", b"3.12\r3.13", ("3.12", "3.13")),
]


@pytest.mark.parametrize(
    ("data", "versions"), [r[1:] for r in MULTIPLE], ids=[r[0] for r in MULTIPLE]
)
def test_python_version_file_multiple_versions(data: bytes, versions: tuple[str, ...]) -> None:
    with pytest.raises(e.PythonVersionFileMultipleVersions) as exc:
        parse_python_version_file(data)
    assert exc.value.versions == versions


ENCODING = [
    ("utf8-bom", b"\xef\xbb\xbf3.12\n", "UTF-8 with a byte order mark"),
    ("utf8-bom-crlf-comment", b"\xef\xbb\xbf# c\r\n3.12\r\n", "UTF-8 with a byte order mark"),
    ("utf16le-bom", "3.12\r\n".encode("utf-16"), "UTF-16 (little-endian)"),
    ("utf16be-bom", b"\xfe\xff" + "3.12\n".encode("utf-16-be"), "UTF-16 (big-endian)"),
    ("utf16le-no-bom", "3.12\n".encode("utf-16-le"), "without a byte order mark"),
    ("utf16be-no-bom", "3.12\n".encode("utf-16-be"), "without a byte order mark"),
    ("utf32le-bom", "3.12\n".encode("utf-32"), "UTF-32"),
    ("latin1", b"\xe9\n", "not UTF-8"),
    ("latin1-in-comment", b"# caf\xe9\n3.12\n", "not UTF-8"),
    ("cp1252-nbsp", b"\xa03.12\n", "not UTF-8"),
]


@pytest.mark.parametrize(("data", "word"), [r[1:] for r in ENCODING], ids=[r[0] for r in ENCODING])
def test_python_version_file_invalid_encoding(data: bytes, word: str) -> None:
    with pytest.raises(e.PythonVersionFileInvalidEncoding) as exc:
        parse_python_version_file(data)
    assert exc.value.id == "python-version-file::invalid-encoding"
    assert word in exc.value.encoding


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"3.12\n", None),
        ("3.12 # é\n".encode(), None),
        (b"", None),
        (b"3.12\x00\n", None),  # a NUL is not an encoding, it is an invalid character
        (b"\xef\xbb\xbf", "UTF-8 with a byte order mark (BOM)"),
        (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
    ],
)
def test_detect_encoding_problem(data: bytes, problem: str | None) -> None:
    assert detect_encoding_problem(data) == problem


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("3.12", "3.12"),
        ("3.12 x", "3.12 x"),
        ("\u200b3.12", "[U+200B ZERO WIDTH SPACE]3.12"),
        ("3.12\t", "3.12[TAB]"),
        ("3.12\x00", "3.12[NUL]"),
        ("\x1b[0m", "[ESC][0m"),
        ("\u00a0", "[U+00A0 NO-BREAK SPACE]"),
        ("\ufeff", "[U+FEFF ZERO WIDTH NO-BREAK SPACE]"),
        ("\x85", "[U+0085]"),
        ("\x01", "[U+0001]"),
        ("\x7f", "[DEL]"),
        ("é", "[U+00E9 LATIN SMALL LETTER E WITH ACUTE]"),
    ],
)
def test_make_visible(text: str, shown: str) -> None:
    assert make_visible(text) == shown


@pytest.mark.parametrize("line", ["foo", "3.12.", "latest"])
def test_hint_for_unrecognised_mistakes_is_none(line: str) -> None:
    assert hint_for(line) is None


# --------------------------------------------------------------------------- runtime.txt

RUNTIME_OK = [
    ("major", b"python-3.12", "3.12"),
    ("patch", b"python-3.12.3\n", "3.12.3"),
    ("whitespace-crlf", b"  python-3.12  \r\n", "3.12"),
    ("comments", b"# c\n    # d\n\npython-3.13\n \n", "3.13"),
]


@pytest.mark.parametrize(
    ("data", "expected"), [r[1:] for r in RUNTIME_OK], ids=[r[0] for r in RUNTIME_OK]
)
def test_runtime_txt_accepts(data: bytes, expected: str) -> None:
    request = parse_runtime_txt(data)
    assert str(request) == expected and request.origin.value == "runtime.txt"


RUNTIME_BAD = [
    ("no-prefix", b"3.12\n"),
    ("capital", b"Python-3.12\n"),
    ("no-dash", b"python3.12\n"),
    ("two-lines", b"python-3.12\npython-3.13\n"),
    ("empty", b""),
    ("comment-only", b"# python-3.12\n"),
    ("nul", b"python-3.12\x00\n"),
    ("bom", b"\xef\xbb\xbfpython-3.12\n"),
    ("utf16", "python-3.12\n".encode("utf-16")),
    ("pypy", b"pypy3.10-7.3\n"),
    ("wildcard", b"python-3.12.*\n"),
    ("zero-width", "\u200bpython-3.12.0\x1b\n\x00\x00\n".encode()),
]


@pytest.mark.parametrize("data", [r[1] for r in RUNTIME_BAD], ids=[r[0] for r in RUNTIME_BAD])
def test_runtime_txt_invalid(data: bytes) -> None:
    with pytest.raises(e.RuntimeTxtInvalidVersion) as exc:
        parse_runtime_txt(data)
    assert exc.value.id == "runtime-txt::invalid-version"
    assert "\x00" not in exc.value.content and "\u200b" not in exc.value.content  # made visible


# --------------------------------------------------------------------------- Pipfile.lock


def lock(requires: object) -> bytes:
    return json.dumps({"_meta": {"requires": requires}}).encode()


PIPFILE_OK = [
    ("python_version", lock({"python_version": "3.12"}), "3.12"),
    (
        "full-beats-short",
        lock({"python_full_version": "3.12.1", "python_version": "3.11"}),
        "3.12.1",
    ),
    (
        "null-full-falls-through",
        lock({"python_full_version": None, "python_version": "3.11"}),
        "3.11",
    ),
    ("full-as-major", lock({"python_full_version": "3.12"}), "3.12"),
    ("short-as-patch", lock({"python_version": "3.12.4"}), "3.12.4"),
    ("bom-tolerated", b"\xef\xbb\xbf" + lock({"python_version": "3.12"}), "3.12"),
]


@pytest.mark.parametrize(
    ("data", "expected"), [r[1:] for r in PIPFILE_OK], ids=[r[0] for r in PIPFILE_OK]
)
def test_pipfile_lock_accepts(data: bytes, expected: str) -> None:
    request = parse_pipfile_lock(data)
    assert request is not None and str(request) == expected


@pytest.mark.parametrize(
    "data",
    [b"{}", b'{"_meta": {}}', lock({}), lock({"python_version": None}), b'{"_meta": []}'],
    ids=["empty-object", "no-requires", "empty-requires", "nulls", "meta-not-object"],
)
def test_pipfile_lock_without_version(data: bytes) -> None:
    assert parse_pipfile_lock(data) is None


PIPFILE_BAD_VERSION = [
    ("empty-string", lock({"python_version": ""})),
    ("false", lock({"python_version": False})),
    ("number-loses-zero", lock({"python_version": 3.10})),
    ("caret", lock({"python_version": "^3.12"})),
    ("wildcard-full", lock({"python_full_version": "3.9.*"})),
    ("leading-space", lock({"python_version": " 3.12"})),
]


@pytest.mark.parametrize(
    "data", [r[1] for r in PIPFILE_BAD_VERSION], ids=[r[0] for r in PIPFILE_BAD_VERSION]
)
def test_pipfile_lock_invalid_version(data: bytes) -> None:
    with pytest.raises(e.PipfileLockInvalidVersion) as exc:
        parse_pipfile_lock(data)
    assert exc.value.id == "pipfile-lock::invalid-version"


@pytest.mark.parametrize(
    "data",
    [b"[]", b"INVALID JSON\n", b"", b"\xff\xfe{}"],
    ids=["array", "garbage", "empty", "utf16"],
)
def test_pipfile_lock_invalid_json(data: bytes) -> None:
    with pytest.raises(e.PipfileLockInvalidJson) as exc:
        parse_pipfile_lock(data)
    assert exc.value.id == "pipfile-lock::invalid-json"


def test_whitespace_matches_unicode_data() -> None:
    """WHITESPACE is a literal for start-up time; it must be what its rule says: ASCII
    whitespace and the Unicode separators (Zs, Zl, Zp) up to U+3000, no-break spaces
    excepted."""
    import unicodedata

    from pybuildpack.version_files import WHITESPACE

    no_break = {"\u00a0", "\u2007", "\u202f"}
    expected = {" ", "\t", "\n", "\v", "\f", "\r"} | {
        chr(c)
        for c in range(0x80, 0x3001)
        if unicodedata.category(chr(c)) in ("Zs", "Zl", "Zp") and chr(c) not in no_break
    }
    assert set(WHITESPACE) == expected and len(WHITESPACE) == len(expected)
