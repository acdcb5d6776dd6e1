"""Every diagnostic renders to a useful message; any bytes give a version or a documented id."""

from __future__ import annotations

import dataclasses
import re
import tempfile
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybuildpack import errors as e
from pybuildpack.app import resolve_app
from pybuildpack.catalog import load_bundled_catalog
from pybuildpack.messages import has_renderer, render
from pybuildpack.version import MajorVersion, Origin, PythonVersion, RequestedVersion

CATALOG = load_bundled_catalog()


def concrete(base: type) -> list[type]:
    found: list[type] = []
    for sub in base.__subclasses__():
        found += [sub, *concrete(sub)]
    return [c for c in found if getattr(c, "id", "") not in ("", "warning", "internal-error")]


DIAGNOSTICS = sorted(
    {*concrete(e.PyBuildpackError), *concrete(e.BuildWarning)}, key=lambda c: c.__name__
)


def sample(annotation: Any, name: str) -> Any:
    """A plausible value for a dataclass field, from its type annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return sample(next(a for a in args if a is not type(None)), name)
    if annotation is RequestedVersion:
        return RequestedVersion(3, 12, 1, Origin.PYTHON_VERSION_FILE)
    if annotation is PythonVersion:
        return PythonVersion(3, 12, 1)
    if annotation is MajorVersion:
        return MajorVersion(3, 14)
    if annotation is Origin:
        return Origin.PYTHON_VERSION_FILE
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(sample(args[0], f"{name}{i}") for i in range(2))
        return tuple(sample(a, f"{name}{i}") for i, a in enumerate(args))
    if annotation is int:
        return 3
    if annotation is float:
        return 1.5
    if annotation is bool:
        return True
    return f"sample-{name}"


def build(kind: type) -> Any:
    # ClassVar is imported for type checkers only (start-up time): name it here
    hints = typing.get_type_hints(kind, localns={"ClassVar": typing.ClassVar})
    values = {f.name: sample(hints[f.name], f.name) for f in dataclasses.fields(kind) if f.init}
    return kind(**values)


def test_every_diagnostic_has_a_renderer_and_a_unique_well_formed_id() -> None:
    assert len(DIAGNOSTICS) > 40  # core, provisioning and buildpack diagnostics are all found
    # An id names one condition: a second type may carry it only as a subclass (a variant
    # with its own wording, e.g. the uv flavour of runtime-txt::not-supported).
    roots = [k for k in DIAGNOSTICS if k.__mro__[1].__dict__.get("id") != k.id]
    ids = [k.id for k in roots]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for kind in DIAGNOSTICS:
        assert re.fullmatch(r"[a-z0-9-]+(::[a-z0-9-]+)*", kind.id), kind.id
        assert has_renderer(kind), f"{kind.__name__} ({kind.id}) has no renderer"


@pytest.mark.parametrize("kind", DIAGNOSTICS, ids=lambda k: k.id)
def test_rendered_messages_are_useful(kind: type) -> None:
    rendered = render(build(kind))
    assert rendered.id == kind.id
    assert rendered.title and not rendered.title.endswith(".")
    text = rendered.text
    assert "None" not in text and "3.N" not in text  # every suggestion was filled in
    assert "Traceback" not in text
    # Wrapped where shown, to the width there is: prose and list items fit; indented lines
    # (commands to copy) and single long words (URLs) are never broken.
    for width in (60, 80, 100):
        for line in rendered.wrapped_body(width).splitlines():
            assert len(line) <= width or line.startswith(" ") or " " not in line, (width, line)


@pytest.mark.parametrize("width", [40, 72, 120])
def test_messages_are_wrapped_when_shown_not_when_rendered(width: int) -> None:
    from pybuildpack.messages import unwrap, wrap

    err = e.PythonVersionFileInvalidEncoding(
        encoding="UTF-16 (little-endian)", suggested=MajorVersion(3, 13)
    )
    rendered = render(err)
    # JSON carries each prose paragraph as one line, whatever the renderer's line breaks
    assert "It must be plain UTF-8 (without a byte order mark); ASCII is fine." in rendered.text
    shown = rendered.wrapped_body(width)
    for line in shown.splitlines():
        assert len(line) <= width or line.startswith("    "), line
    assert "    pybuildpack pin . 3.13" in shown.splitlines()  # commands are never broken
    assert unwrap(shown) == rendered.body == unwrap(wrap(rendered.body, width))


def test_invalid_version_message_shows_the_line_visibly_and_the_fix() -> None:
    err = e.PythonVersionFileInvalidVersion(
        line="\u200b3.12", hint=None, suggested=MajorVersion(3, 14)
    )
    text = render(err).text
    assert "[U+200B ZERO WIDTH SPACE]3.12" in text and "pybuildpack pin . 3.14" in text


# --------------------------------------------------------------------------- properties

DOCUMENTED = {
    "python-version-file::invalid-version", "python-version-file::no-version",
    "python-version-file::multiple-versions", "python-version-file::invalid-encoding",
    "python-version-file::unreadable", "runtime-txt::invalid-version",
    "pipfile-lock::invalid-json", "pipfile-lock::invalid-version", "python-version::eol",
    "python-version::unknown-major", "python-version::unknown-patch",
}  # fmt: skip

# Bytes that matter here, mixed with arbitrary ones.
INTERESTING = st.sampled_from(
    [b"3", b".", b"1", b"0", b"\n", b"\r", b"#", b" ", b"\t", b"\x00", b"\xef\xbb\xbf",
     b"\xff\xfe", b"python-", b"\xe2\x80\x8b", b"3.13", b"3.9", b"4.0", b"_meta", b"{", b"\""]
)  # fmt: skip
CONTENT = st.one_of(st.binary(max_size=64), st.lists(INTERESTING, max_size=12).map(b"".join))


def check_outcome(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        Path(d, name).write_bytes(data)
        try:
            resolution = resolve_app(Path(d), CATALOG)
        except e.PyBuildpackError as err:
            assert err.id in DOCUMENTED, (err.id, data)
            assert render(err).text
            return
    version = resolution.version
    info = CATALOG.get(version.series)
    assert info is not None and info.supported
    assert version.patch in info.patches or version.patch > info.latest_patch


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(CONTENT)
def test_any_bytes_in_python_version_file(data: bytes) -> None:
    check_outcome(".python-version", data)


@SETTINGS
@given(CONTENT)
def test_any_bytes_in_runtime_txt(data: bytes) -> None:
    check_outcome("runtime.txt", data)


@SETTINGS
@given(CONTENT)
def test_any_bytes_in_pipfile_lock(data: bytes) -> None:
    check_outcome("Pipfile.lock", data)


WS = st.sampled_from([" ", "\t", "\u2003", "\u3000", ""])
COMMENT = st.text(alphabet="abc #3.", max_size=8).map(lambda t: f"#{t}")


@SETTINGS
@given(
    major=st.sampled_from([str(m.series) for m in CATALOG.supported]),
    patch=st.one_of(st.none(), st.integers(0, 30)),
    before=st.lists(st.one_of(COMMENT, WS), max_size=3),
    after=st.lists(st.one_of(COMMENT, WS), max_size=3),
    pad=st.tuples(WS, WS),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_valid_versions_round_trip(
    major: str, patch: int | None, before: list[str], after: list[str], pad: tuple[str, str],
    newline: str,
) -> None:  # fmt: skip
    from pybuildpack.version_files import parse_python_version_file

    text = major if patch is None else f"{major}.{patch}"
    lines = [*before, f"{pad[0]}{text}{pad[1]}", *after]
    assert str(parse_python_version_file(newline.join(lines).encode())) == text


def test_the_cli_wraps_to_the_terminal_width_and_json_stays_unwrapped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from pybuildpack.cli import main

    (tmp_path / ".python-version").write_text("3.13.*\n")
    monkeypatch.setenv("COLUMNS", "50")
    assert main(["resolve", str(tmp_path), "--json"]) == 1
    captured = capsys.readouterr()
    body = captured.err.strip().splitlines()[1:]  # after the title line
    assert body and all(len(line) <= 50 or line.startswith("      ") for line in body), body
    message = json.loads(captured.out)["error"]["message"]
    assert "Wildcards are not supported: write just the major version, which always gets the " \
        "latest patch." in message  # fmt: skip
