"""The one place where typed errors and warnings become words.

``render(diagnostic)`` returns a ``Rendered`` (stable id, one-line title, body). Every
renderer says what happened, why, and exactly what to do. Interfaces decide only on the
presentation (colour, boxes, JSON), never on the wording.

To add a diagnostic: define its type in ``errors.py`` (or next to the layer that raises it,
subclassing ``PyBuildpackError``/``BuildWarning``), then register a renderer here with
``@renders(TheType)``.

Commands in messages name the app directory as ``.`` (``pybuildpack pin . 3.13``);
``render`` replaces it with the directory the user gave the CLI (``app_dir_shown``), so the
advice can be pasted as it is.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

from pybuildpack import errors as e
from pybuildpack._record import dataclass
from pybuildpack.output import _APP_DIR, app_dir_shown  # noqa: F401 - re-exported
from pybuildpack.version import MajorVersion, Origin
from pybuildpack.version_files import make_visible

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")


@dataclass(frozen=True)
class Rendered:
    id: str
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}" if self.body else self.title

    def as_json(self) -> dict[str, str]:
        """Unwrapped: prose paragraphs are single lines (readers wrap as they need)."""
        return {"id": self.id, "message": self.text}

    def wrapped_body(self, width: int) -> str:
        return wrap(self.body, width)


Diagnostic = e.PyBuildpackError | e.BuildWarning
_RENDERERS: dict[type, Callable[[Any], tuple[str, str]]] = {}


def renders(
    kind: type[T],
) -> Callable[[Callable[[T], tuple[str, str]]], Callable[[T], tuple[str, str]]]:
    def register(fn: Callable[[T], tuple[str, str]]) -> Callable[[T], tuple[str, str]]:
        _RENDERERS[kind] = fn
        return fn

    return register


def render(diagnostic: Diagnostic) -> Rendered:
    for kind in type(diagnostic).__mro__:
        fn = _RENDERERS.get(kind)
        if fn is not None:
            title, body = (name_app_dir(part) for part in fn(diagnostic))
            return Rendered(id=diagnostic.id, title=title, body=unwrap(body.strip("\n")))
    # Unregistered: still never a traceback, and the id still tells what it is.
    return Rendered(id=diagnostic.id, title=f"{type(diagnostic).__name__}: {diagnostic!r}", body="")


WIDTH = 88  # for output that is not a terminal (logs, files), where no width is known


def _is_prose(line: str) -> bool:
    return bool(line) and not line[0].isspace() and line[:2] not in ("* ", "- ")


def unwrap(body: str) -> str:
    """Undo the line breaks renderers write inside prose: each run of prose lines becomes
    one line. Indented lines (commands, file contents) and list items stay as written.

    ``Rendered`` holds unwrapped text (JSON carries it so); presentation wraps it to the
    width it has (``wrap``).
    """
    out: list[str] = []
    for para in body.split("\n\n"):
        merged: list[str] = []
        for line in para.split("\n"):
            if merged and _is_prose(line) and _is_prose(merged[-1]):
                merged[-1] = f"{merged[-1]} {line}"
            else:
                merged.append(line)
        out.append("\n".join(merged))
    return "\n\n".join(out)


def reflow(body: str, width: int = WIDTH) -> str:
    """``unwrap`` then ``wrap``: a renderer's body as shown ``width`` columns wide."""
    return wrap(unwrap(body), width)


def wrap(text: str, width: int = WIDTH) -> str:
    """Wrap the prose lines and list items of unwrapped ``text`` to ``width`` columns,
    never breaking a word; indented lines (commands to copy, file contents) are kept whole."""
    width = max(width, 20)
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
        elif _is_prose(line):
            out.append(_fill(line, width, "", ""))
        else:
            item = re.match(r"(\s*)([*-] )", line)
            if item:
                lead = item[1]
                out.append(_fill(line[len(lead) :], width, lead, lead + "  "))
            else:
                out.append(line)
    return "\n".join(out)


def _fill(text: str, width: int, first: str, rest: str) -> str:
    return textwrap.fill(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


_COMMAND_ON_DOT = re.compile(r"(pybuildpack (?:pin|migrate)) \.(?= |$)", re.MULTILINE)


def name_app_dir(text: str) -> str:
    shown = _APP_DIR.get()
    if shown == ".":
        return text
    return _COMMAND_ON_DOT.sub(lambda m: f"{m[1]} {shown}", text)


def set_version_command(origin: Origin, version: object) -> str:
    """The command that makes builds use ``version`` instead of what ``origin`` says:
    ``pin`` writes .python-version, but where runtime.txt stated the version, runtime.txt
    would still win on classic builds, so ``migrate`` (which deletes it) is the fix."""
    if origin is Origin.RUNTIME_TXT:
        return f"pybuildpack migrate . --to {version}"
    return f"pybuildpack pin . {version}"


def has_renderer(kind: type) -> bool:
    return kind in _RENDERERS


# --------------------------------------------------------------------------- shared blocks


def _where(origin: Origin) -> str:
    return {
        Origin.RUNTIME_TXT: "runtime.txt",
        Origin.PYTHON_VERSION_FILE: ".python-version",
        Origin.PIPFILE_LOCK: "Pipfile.lock",
        Origin.CACHED: "the build cache (the version of the app's previous build)",
        Origin.DEFAULT: "the default of this pybuildpack release",
    }[origin]


def _m(major: MajorVersion | None) -> str:
    """The suggested major; readers always fill it in from the catalog."""
    return str(major) if major is not None else "3.N"


def how_to_write_python_version(
    major: MajorVersion | str | None, *, replacing_runtime_txt: bool = False
) -> str:
    major = major if isinstance(major, str) else _m(major)
    if replacing_runtime_txt:  # pin alone would not do: runtime.txt wins on classic builds
        return (
            f"Run:\n\n    pybuildpack migrate . --to {major}\n\n"
            f"(it writes .python-version and deletes runtime.txt), or by hand: delete\n"
            f"runtime.txt, then create a file named exactly .python-version (leading dot, no\n"
            f"extension) in the root of your app, containing just the major version:\n"
            f"\n"
            f"    {major}\n"
            f"\n"
            f"A major version (like {major}) is recommended over an exact patch (like {major}.0):\n"
            f"every build then gets the newest patch release, and so the latest security fixes."
        )
    return (
        f"Create a file named exactly .python-version (leading dot, no extension) in the\n"
        f"root of your app, containing just the major version:\n"
        f"\n"
        f"    {major}\n"
        f"\n"
        f"or run:\n\n    pybuildpack pin . {major}\n"
        f"\n"
        f"A major version (like {major}) is recommended over an exact patch (like {major}.0):\n"
        f"every build then gets the newest patch release, and so the latest security fixes."
    )


CATALOG_UPDATE_ADVICE = (
    "Update the catalog from the upstream release data:\n\n    pybuildpack catalog update\n\n"
    "(without internet access: 'pybuildpack catalog update --from-dir DIR', see\n"
    "docs/catalog.md), or upgrade pybuildpack."
)
CATALOG_UPDATE_ADVICE_SHORT = (
    "run 'pybuildpack catalog update' (docs/catalog.md), or upgrade pybuildpack."
)


def _date(text: str | None) -> str:
    """``2026-10`` (a planned, month-only date) -> ``October 2026``."""
    from pybuildpack.catalog import describe_date

    return describe_date(text) if text else ""


def _on(text: str) -> str:
    return f"in {_date(text)}" if len(text) == 7 else f"on {text}"


# --------------------------------------------------------------------------- .python-version


def _more_problems(err: e.PythonVersionFileInvalidVersion) -> str:
    """The problems the user would meet next, reported now."""
    more = ""
    if err.other_invalid:
        listed = "\n".join(f"    {make_visible(line)}" for line in err.other_invalid)
        more += f"\nThese lines are not versions either:\n\n{listed}\n"
    if len(err.all_lines) > 1:
        more += (
            f"\nThe file also has {len(err.all_lines)} lines that are not comments, but it must "
            f"hold exactly one version (the app runs on one Python): keep a single line.\n"
        )
    return more


@renders(e.PythonVersionFileInvalidVersion)
def _(err: e.PythonVersionFileInvalidVersion) -> tuple[str, str]:
    hint = f"\n{err.hint}\n" if err.hint else ""
    hint += _more_problems(err)
    return (
        "Invalid Python version in .python-version",
        f"""
The line

    {make_visible(err.line)}

is not a Python version.
{hint}
.python-version must hold one version, in one of these forms:
  * a major version, e.g. {_m(err.suggested)} (recommended: you get every new patch release), or
  * an exact patch release, e.g. {_m(err.suggested)}.0.
No quotes, no 'python-' prefix, no wildcards or ranges. A comment goes on its own line,
starting with '#'. To rewrite the file correctly, run:

    pybuildpack pin . {_m(err.suggested)}
""",
    )


@renders(e.PythonVersionFileNoVersion)
def _(err: e.PythonVersionFileNoVersion) -> tuple[str, str]:
    return (
        "No Python version in .python-version",
        f"""
.python-version exists but contains no version: it is empty, or every line is blank or
a comment (starting with '#').

Add the major version on a line of its own, e.g.:

    {_m(err.suggested)}

or run:

    pybuildpack pin . {_m(err.suggested)}
""",
    )


@renders(e.PythonVersionFileMultipleVersions)
def _(err: e.PythonVersionFileMultipleVersions) -> tuple[str, str]:
    listed = "\n".join(f"    {make_visible(v)}" for v in err.versions)
    return (
        "More than one Python version in .python-version",
        f"""
.python-version lists {len(err.versions)} versions:

{listed}

An app runs on one Python: keep exactly one version line (comment lines starting with
'#' are fine), or run:

    pybuildpack pin . {_keep_one(err)}
""",
    )


def _keep_one(err: e.PythonVersionFileMultipleVersions) -> str:
    """The first listed version as written, unless the suggestion had to differ from its
    major (requires-python excludes it, or builds cannot use it)."""
    first = err.versions[0]
    if err.suggested is None or f"{first}.".startswith(f"{err.suggested}."):
        return first
    return str(err.suggested)


@renders(e.PythonVersionFileInvalidEncoding)
def _(err: e.PythonVersionFileInvalidEncoding) -> tuple[str, str]:
    return (
        "Unsupported text encoding in .python-version",
        f"""
.python-version is saved as {err.encoding}. It must be plain UTF-8 (without a
byte order mark); ASCII is fine.

To fix it, run this (it rewrites the file as plain UTF-8):

    pybuildpack pin . {_m(err.suggested)}

Or delete the file and create it again in an editor that saves "UTF-8" (not "UTF-8 with
BOM"). On Windows, avoid creating it with shell redirection such as
'echo {_m(err.suggested)} > .python-version' in PowerShell, which writes UTF-16. If the file keeps
coming back in another encoding, check .gitattributes for a 'working-tree-encoding'.
""",
    )


@renders(e.PythonVersionFileMisspelled)
def _(err: e.PythonVersionFileMisspelled) -> tuple[str, str]:
    return (
        "Misspelled .python-version file name",
        f"""
The app contains a file named '{err.filename}' (quotes added so stray spaces show).
The Python version file must be named exactly '.python-version': a leading dot, a
hyphen, all lowercase, no extension.

Rename it (or, if a correct .python-version also exists, delete the misspelled one so
nobody edits the wrong file):

    git mv '{err.filename}' .python-version
""",
    )


@renders(e.PythonVersionFileUnreadable)
def _(err: e.PythonVersionFileUnreadable) -> tuple[str, str]:
    return (
        "Cannot read .python-version",
        f"""
Reading {err.path} failed: {err.reason}.
Check that it is a regular file you can read (permissions, a broken symlink).
""",
    )


@renders(e.VersionFileNotWritable)
def _(err: e.VersionFileNotWritable) -> tuple[str, str]:
    return (
        "Cannot write .python-version",
        f"Writing {err.path} failed: {err.reason}. Nothing was changed.\n",
    )


@renders(e.PipfileLockOutsideApp)
@renders(e.RuntimeTxtOutsideApp)
@renders(e.VersionFileOutsideApp)
def _(err: e.VersionFileOutsideApp) -> tuple[str, str]:
    return (
        f"{err.filename} leads out of the app directory",
        f"""
{err.filename} is a symbolic link to {err.target}, which is outside the app directory.
Version files are read only from inside the app (what a link elsewhere leads to is not
part of the app, and may not exist where it is built), so it was not read.

{_outside_app_fix(err)}
""",
    )


def _outside_app_fix(err: e.VersionFileOutsideApp) -> str:
    if isinstance(err, e.PipfileLockOutsideApp):
        return (
            "Commit the lock file itself: replace the link with a copy of the file, or run "
            "'pipenv lock' in the app."
        )
    if isinstance(err, e.RuntimeTxtOutsideApp):
        return (
            "runtime.txt is deprecated: replace it with a .python-version file (this deletes "
            f"the link):\n\n    pybuildpack migrate . --to {_m(err.suggested)}"
        )
    return (
        "Delete the link, then write a regular .python-version file:\n\n"
        f"    pybuildpack pin . {_m(err.suggested)}"
    )


# --------------------------------------------------------------------------- runtime.txt


@renders(e.RuntimeTxtInvalidVersion)
def _(err: e.RuntimeTxtInvalidVersion) -> tuple[str, str]:
    return (
        "Invalid Python version in runtime.txt",
        f"""
runtime.txt must contain exactly one line of the form python-{_m(err.suggested)}
or python-{_m(err.suggested)}.0; it contains:

    {err.content or "(nothing)"}

runtime.txt is deprecated, so rather than fix it, switch to .python-version.
{how_to_write_python_version(err.suggested, replacing_runtime_txt=True)}
""",
    )


@renders(e.RuntimeTxtNotSupported)
def _(err: e.RuntimeTxtNotSupported) -> tuple[str, str]:
    return (
        "runtime.txt is not supported",
        f"""
This build uses the Cloud Native Buildpack (fir) rules, which read the Python version
only from .python-version. The app still has a runtime.txt.

{how_to_write_python_version(err.suggested, replacing_runtime_txt=True)}
""",
    )


@renders(e.RuntimeTxtDeprecated)
def _(w: e.RuntimeTxtDeprecated) -> tuple[str, str]:
    return (
        "runtime.txt is deprecated",
        f"""
The Python version was read from runtime.txt. That file is deprecated and will stop
working in a future release (Cloud Native Buildpack builds already reject it).

Switch now. {how_to_write_python_version(w.suggested, replacing_runtime_txt=True)}
""",
    )


# --------------------------------------------------------------------------- Pipfile.lock


@renders(e.PipfileLockInvalidJson)
def _(err: e.PipfileLockInvalidJson) -> tuple[str, str]:
    return (
        "Pipfile.lock is not valid JSON",
        f"""
Reading the Python version from Pipfile.lock failed: {err.detail[:200]}

Regenerate the lock file with 'pipenv lock' and commit it, or state the version in a
.python-version file (which takes precedence over Pipfile.lock).
""",
    )


@renders(e.PipfileLockInvalidVersion)
def _(err: e.PipfileLockInvalidVersion) -> tuple[str, str]:
    return (
        "Invalid Python version in Pipfile.lock",
        f"""
Pipfile.lock's _meta.requires.{err.field} is {err.value}, which is not a version of the
form "{_m(err.suggested)}" or "{_m(err.suggested)}.0" (wildcards and ranges are not supported).

Fix python_version / python_full_version in the [requires] section of your Pipfile and
run 'pipenv lock', or state the version in .python-version, which takes precedence:

{how_to_write_python_version(err.suggested)}
""",
    )


# --------------------------------------------------------------------------- resolution


@renders(e.PythonVersionEol)
def _(err: e.PythonVersionEol) -> tuple[str, str]:
    series = err.requested.series
    when = f" on {_date(err.eol_date)}" if err.eol_date else ""
    if err.eol_date and len(err.eol_date) == 7:
        when = f" in {_date(err.eol_date)}"
    if err.requested.origin is Origin.CACHED:
        why = (
            f"The app does not state a Python version, so this build would reuse the major\n"
            f"version of its previous build, Python {series}. That version reached its\n"
            f"end of life{when} and no longer receives security fixes, so it is not supported."
        )
        fix = how_to_write_python_version(err.suggested)
    else:
        why = (
            f"{_where(err.requested.origin)} asks for Python {err.requested}. Python {series}\n"
            f"reached its end of life{when} and no longer receives security fixes, so it is\n"
            f"not supported. The oldest supported version is {err.oldest_supported}."
        )
        if err.removal_date:
            why += f"\nBuilds of Python {series} stopped on {err.removal_date}."
        fix = (
            f"Upgrade the app, ideally to Python {err.suggested}, and change the version in\n"
            f"{_where(err.requested.origin)}, e.g.:\n\n"
            f"    {set_version_command(err.requested.origin, err.suggested)}\n\n"
            f"Release dates and end-of-life dates: https://devguide.python.org/versions/"
        )
    return f"Python {series} has reached its end of life", f"{why}\n\n{fix}\n"


@renders(e.PythonVersionUnknownMajor)
def _(err: e.PythonVersionUnknownMajor) -> tuple[str, str]:
    series = err.requested.series
    if err.requested.origin is Origin.CACHED:
        why = (
            f"The app does not state a Python version, so this build would reuse the major\n"
            f"version of its previous build, Python {series}, but this pybuildpack release\n"
            f"does not know it. That usually means an older pybuildpack release is building\n"
            f"an app last built by a newer one."
        )
        fix = (
            "Use a current pybuildpack release, or state the version explicitly:\n\n"
            + how_to_write_python_version(err.newest_supported)
        )
    elif err.state == "upcoming":
        why = (
            f"{_where(err.requested.origin)} asks for Python {err.requested}, which is not\n"
            f"released yet: its first release is planned for {err.released}."
        )
        fix = f"Use a released version until then:\n\n    pybuildpack pin . {err.newest_supported}"
        return f"Python {series} is not released yet", f"{why}\n\n{fix}\n"
    elif err.state == "unlisted":
        why = (
            f"{_where(err.requested.origin)} asks for Python {err.requested}. Python {series} was\n"
            f"due for release on {err.released}, but the version catalog in use (dated\n"
            f"{err.catalog_date}) predates that release, so it lists no build of it."
        )
        fix = (
            f"{CATALOG_UPDATE_ADVICE}\n\nOr use a version the catalog knows:\n\n"
            f"    pybuildpack pin . {err.newest_supported}"
        )
        return f"The version catalog predates Python {series}", f"{why}\n\n{fix}\n"
    else:
        why = (
            f"{_where(err.requested.origin)} asks for Python {err.requested}, which this\n"
            f"pybuildpack release does not know. Its version catalog (dated {err.catalog_date})\n"
            f"supports up to Python {err.newest_supported}."
        )
        fix = (
            f"Check that Python {series} has been released (https://www.python.org/downloads/).\n"
            f"If it has, the catalog predates it: {CATALOG_UPDATE_ADVICE_SHORT}\n\n"
            f"Or use a supported version:\n\n    pybuildpack pin . {err.newest_supported}"
        )
    return f"Python {series} is not a known version", f"{why}\n\n{fix}\n"


@renders(e.PythonVersionUnknownPatch)
def _(err: e.PythonVersionUnknownPatch) -> tuple[str, str]:
    where = _where(err.requested.origin)
    if err.source:
        on = f" for {err.platform}" if err.platform else ""
        have = ", ".join(str(v) for v in err.nearest)
        what = f"The {err.source} archive source has no build of Python {err.requested}{on}" + (
            f"; the nearest patches it has are {have}." if have else "."
        )
    elif err.platform:
        what = f"Python {err.requested} exists, but there is no build of it for {err.platform}."
    elif err.source_url:
        what = f"Python {err.requested} is not available from {err.source_url} (not found)."
    else:
        what = f"Python {err.requested} is not a known release."
    latest = f" The newest {err.requested.series} release is {err.latest}." if err.latest else ""
    return (
        f"Python {err.requested} is not available",
        f"""
{where} asks for Python {err.requested}. {what}{latest}

Specify the major version instead, so every build gets the newest available patch:

    {set_version_command(err.requested.origin, err.requested.series)}

(or check the exact version at https://www.python.org/downloads/ and that this
pybuildpack release and its catalog are current).
""",
    )


@renders(e.PythonVersionDeprecated)
def _(w: e.PythonVersionDeprecated) -> tuple[str, str]:
    eol = (
        f"reaches its upstream end of life {_on(w.eol_date)}, after which it gets no more\n"
        f"security fixes"
        if w.eol_date
        else ("is near its end of life")
    )
    removal = f", and builds of it stop on {w.removal_date}" if (w.removal_date) else ""
    if w.origin in (Origin.CACHED, Origin.DEFAULT):
        fix = how_to_write_python_version(w.suggested)
    else:
        fix = (
            f"Upgrade soon: change {_where(w.origin)}, e.g.:\n\n"
            f"    {set_version_command(w.origin, w.suggested)}"
        )
    return (
        f"Python {w.series} is deprecated",
        f"Python {w.series} {eol}{removal}.\n\n{fix}\n",
    )


@renders(e.PythonVersionOutdatedPatch)
def _(w: e.PythonVersionOutdatedPatch) -> tuple[str, str]:
    return (
        f"A newer Python {w.requested.series} patch is available",
        f"""
{_where(w.requested.origin)} pins Python {w.requested}, but {w.latest} is available and
includes security and bug fixes.

Better: specify only the major version, so every build gets the newest patch and this
warning goes away:

    {set_version_command(w.requested.origin, w.requested.series)}
""",
    )


@renders(e.PythonVersionNotSpecified)
def _(w: e.PythonVersionNotSpecified) -> tuple[str, str]:
    if w.origin is Origin.CACHED:
        why = (
            f"The app does not state a Python version, so this build reuses the major\n"
            f"version of its previous build, Python {w.series} (kept in the build cache).\n"
            f"Clearing the build cache would switch the app to the current default."
        )
    else:
        why = (
            f"The app does not state a Python version, so it gets the current default,\n"
            f"Python {w.series}. The default changes over time (new apps and cleared caches\n"
            f"get newer majors), so builds may differ from your local or CI environment."
        )
    look = ""
    if w.lookalikes:
        names = ", ".join(f"'{n}'" for n in w.lookalikes)
        look = f"\nFound {names}, which is not read: the name must be exactly '.python-version'.\n"
    return (
        "No Python version was specified",
        f"""
{why}
{look}
{how_to_write_python_version(w.suggested or w.series)}

If .python-version already exists, check that it is in the root of the app, named in
lowercase, committed to git, and not excluded by .gitignore or .slugignore.
""",
    )


def _read_as(read_as: str | None) -> str:
    return f" (not PEP 440; read as {read_as}, as Poetry does)" if read_as else ""


@renders(e.PythonVersionOutsideRequiresPython)
def _(w: e.PythonVersionOutsideRequiresPython) -> tuple[str, str]:
    fix = (
        f"Change {_where(w.origin)} to a version it allows, e.g.:\n\n"
        f"    {set_version_command(w.origin, w.suggested)}\n\nOr"
        if w.suggested
        else "No supported Python version satisfies it: widen requires-python.\n\nOr"
    )
    return (
        f"Python {w.version} is outside requires-python ({w.requires_python})",
        f"""
The app will get Python {w.version} (from {_where(w.origin)}), but pyproject.toml says
requires-python = "{w.requires_python}"{_read_as(w.read_as)}, which Python {w.version.series}
is outside of. Package installation (Poetry and uv refuse it) or the app may fail.

{fix} adjust requires-python in pyproject.toml if the app does support {w.version.series}.
""",
    )


@renders(e.ConflictingVersionFiles)
def _(w: e.ConflictingVersionFiles) -> tuple[str, str]:
    return (
        "runtime.txt and .python-version disagree",
        f"""
runtime.txt asks for Python {w.runtime_txt} and .python-version for {w.python_version_file}.
Classic (cedar) builds use runtime.txt; Cloud Native (fir) builds reject runtime.txt.

Keep one: delete runtime.txt so every build uses .python-version:

    pybuildpack migrate . --to {w.python_version_file}
""",
    )


@renders(e.PyprojectUnreadable)
def _(w: e.PyprojectUnreadable) -> tuple[str, str]:
    return (
        "pyproject.toml's requires-python is not valid",
        f"{w.detail}\n\nFix pyproject.toml: requires-python takes PEP 440 specifiers, such "
        "as '>=3.12' or '==3.12.*', which pip, uv, Poetry and pybuildpack all read alike.",
    )


# --------------------------------------------------------------------------- platform / misc


@renders(e.CatalogInvalid)
def _(err: e.CatalogInvalid) -> tuple[str, str]:
    return (
        "The version catalog cannot be used",
        f"""
The catalog at {err.path} is invalid: {err.detail}

A catalog is a JSON file in the format of data/catalog.schema.json (docs/catalog.md).
Build a valid one from upstream data with 'pybuildpack catalog update', or unset
--catalog / PYBUILDPACK_CATALOG to use the bundled catalog; 'pybuildpack catalog reset'
forgets a refreshed one.
""",
    )


@renders(e.CatalogSourceInvalid)
def _(err: e.CatalogSourceInvalid) -> tuple[str, str]:
    return (
        "The upstream data cannot be used",
        f"""
{err.path}: {err.detail}

Nothing was installed; the catalog in use is unchanged. Check the source ('pybuildpack
catalog update --help' lists the defaults; --from-dir DIR reads local copies), or try
again later if upstream is being updated.
""",
    )


@renders(e.PythonVersionEolReached)
def _(w: e.PythonVersionEolReached) -> tuple[str, str]:
    ended = f"ended {_on(w.eol_date)}" if len(w.eol_date) == 7 else f"ended on {w.eol_date}"
    stop = (
        f"Builds of Python {w.series} stop on {w.removal_date}: after that date they fail."
        if w.removal_date
        else f"Builds of Python {w.series} will stop soon."
    )
    if w.origin in (Origin.CACHED, Origin.DEFAULT):
        fix = how_to_write_python_version(w.suggested)
    else:
        fix = (
            f"Upgrade now: change {_where(w.origin)}, e.g.:\n\n    pybuildpack pin . {w.suggested}"
        )
    return (
        f"Python {w.series} has reached its end of life",
        f"""
Upstream support for Python {w.series} {ended}: it no longer receives security fixes.
{stop}

{fix}
""",
    )


@renders(e.CatalogFallback)
def _(w: e.CatalogFallback) -> tuple[str, str]:
    return (
        "The refreshed version catalog cannot be used; using the bundled one",
        f"""
The catalog installed by 'pybuildpack catalog refresh' or 'update' at {w.path} is invalid:
{w.detail}

This run uses the bundled catalog (as of {w.bundled_as_of}). Remove the broken one with:

    pybuildpack catalog reset

then, to use newer data again, run 'pybuildpack catalog update'.
""",
    )


@renders(e.CatalogStale)
def _(w: e.CatalogStale) -> tuple[str, str]:
    return (
        f"The version catalog is {w.days} days old",
        f"""
The {w.source} holds facts as of {w.as_of}: newer patch releases, new major versions and
end-of-life changes since then are missing. {CATALOG_UPDATE_ADVICE}
""",
    )


@renders(e.StackUnknown)
def _(err: e.StackUnknown) -> tuple[str, str]:
    return (
        f"Unknown stack '{err.stack}'",
        f"The catalog knows these stacks: {', '.join(err.known) or '(none)'}.\n"
        f"Use one of them, or omit --stack to install a portable build for this machine.\n",
    )


@renders(e.ArchUnsupported)
def _(err: e.ArchUnsupported) -> tuple[str, str]:
    on = f" on {err.stack}" if err.stack else ""
    return (
        f"No Python builds for {err.arch}{on}",
        f"Supported architectures{on}: {', '.join(err.supported)}.\n",
    )


@renders(e.AppDirNotFound)
def _(err: e.AppDirNotFound) -> tuple[str, str]:
    return ("App directory not found", f"{err.path} does not exist or is not a directory.\n")


@renders(e.UsageError)
def _(err: e.UsageError) -> tuple[str, str]:
    return ("Invalid command-line arguments", err.detail)


# --------------------------------------------------------------------------- buildpack


@renders(e.BuildpackInvocationInvalid)
def _(err: e.BuildpackInvocationInvalid) -> tuple[str, str]:
    return (
        "The buildpack was called incorrectly",
        f"{err.detail}\n\nThis is a problem with the build platform's call, not with your app.\n",
    )


@renders(e.StackNotSet)
def _(err: e.StackNotSet) -> tuple[str, str]:
    return (
        "The STACK environment variable is not set",
        """
Classic (cedar) builds need STACK to know which operating system the app runs on
(for example heroku-24). Heroku-style platforms set it; when calling bin/compile
yourself, export it first:

    STACK=heroku-24 bin/compile BUILD_DIR CACHE_DIR ENV_DIR
""",
    )


@renders(e.DuplicatePythonBuildpack)
def _(err: e.DuplicatePythonBuildpack) -> tuple[str, str]:
    return (
        "The Python buildpack ran twice",
        """
A previous buildpack in this build already installed Python into .heroku/python and
exported its environment. Running a second Python buildpack would overwrite it.

Remove the duplicate from the app's buildpack list (e.g. 'heroku buildpacks' lists
them, 'heroku buildpacks:remove' removes one), keeping a single Python buildpack.
""",
    )


@renders(e.ExistingPythonDir)
def _(err: e.ExistingPythonDir) -> tuple[str, str]:
    listing = "\n".join(f"    {n}" for n in err.entries) or "    (empty)"
    return (
        "The app already contains .heroku/python",
        f"""
{err.path} exists before Python was installed. It was either committed to the
app's repository or created by a bin/pre_compile hook. It contains:

{listing}

The buildpack installs Python there itself. Remove it from the repository
(git rm -r --cached .heroku/python), add .heroku/ to .gitignore, and make sure no
hook writes there.
""",
    )


@renders(e.ExistingVenvDir)
def _(err: e.ExistingVenvDir) -> tuple[str, str]:
    return (
        f"The app contains a virtual environment ({err.name})",
        f"""
{err.name}/pyvenv.cfg shows that a virtual environment was committed to the app's
repository. It was made on another machine and does not work here; it also makes
the build slower and the app bigger.

Remove it from the repository and ignore it:

    git rm -r --cached {err.name}
    echo '{err.name}/' >> .gitignore
""",
    )


@renders(e.UnsafeEnvironment)
def _(err: e.UnsafeEnvironment) -> tuple[str, str]:
    listing = "\n".join(f"    {n}" for n in err.names)
    return (
        "Unsafe environment variables are set",
        f"""
These variables change where Python or the package manager installs things, and
would break the build or the app:

{listing}

Unset them (being set at all counts, even to an empty value). If you did not set
them yourself, an earlier buildpack in the build may have.
""",
    )


def _supported_files_note(files: tuple[str, ...]) -> str:
    return ", ".join(files)


@renders(e.PackageManagerNoneFound)
def _(err: e.PackageManagerNoneFound) -> tuple[str, str]:
    listing = "\n".join(f"    {n}" for n in err.files) or "    (nothing)"
    return (
        "No Python package manager files were found",
        f"""
The app root must contain exactly one of: {_supported_files_note(err.supported)}.
It contains:

{listing}

Add the file of the package manager you use, in the top-level directory, spelled
exactly (file names are case-sensitive), committed and not excluded by .gitignore.
An app without dependencies can use an empty requirements.txt.
""",
    )


@renders(e.PackageManagerMultipleFound)
def _(err: e.PackageManagerMultipleFound) -> tuple[str, str]:
    listing = "\n".join(f"    {f} ({pm})" for f, pm in err.found)
    return (
        "More than one Python package manager's files were found",
        f"""
The app root contains the files of several package managers:

{listing}

An app is installed with one package manager. Pick one and delete the other
files (a requirements.txt generated for another tool is a common cause).
""",
    )


@renders(e.PipenvMissingLockfile)
def _(err: e.PipenvMissingLockfile) -> tuple[str, str]:
    return (
        "Pipfile.lock is missing",
        """
The app has a Pipfile but no Pipfile.lock. Builds install exactly what the lock file
says, so it is required. Run 'pipenv lock' and commit Pipfile.lock.
""",
    )


@renders(e.SetupPyOnly)
def _(err: e.SetupPyOnly) -> tuple[str, str]:
    return (
        "setup.py alone is not supported",
        """
The app has a setup.py but no package manager file. To install the app itself with
pip, create a requirements.txt containing the single line:

    --editable .
""",
    )


@renders(e.PackageManagerNotSupported)
def _(err: e.PackageManagerNotSupported) -> tuple[str, str]:
    return (
        f"{err.package_manager} is not supported by {err.generation} builds",
        f"""
Cloud Native Buildpack ({err.generation}) builds support pip (requirements.txt),
Poetry (poetry.lock) and uv (uv.lock). Move the app to one of them, e.g. export
the locked dependencies with 'pipenv requirements > requirements.txt' and delete
Pipfile and Pipfile.lock.
""",
    )


@renders(e.UvPythonVersionFileRequired)
def _(err: e.UvPythonVersionFileRequired) -> tuple[str, str]:
    return (
        "uv apps must state their Python version",
        f"""
The app uses uv (uv.lock) but has no .python-version file. uv projects must state the
version explicitly, so that the build uses the same Python as your machine.

In the root of the app, run:

    uv python pin {err.suggested}

and commit .python-version. A major version (like {err.suggested}) is recommended over
an exact patch: every build then gets the newest patch release.
""",
    )


@renders(e.UvRuntimeTxtNotSupported)
def _(err: e.UvRuntimeTxtNotSupported) -> tuple[str, str]:
    return (
        "runtime.txt is not supported for uv apps",
        f"""
The app uses uv (uv.lock) and states its Python version in runtime.txt, which uv
does not read. Delete runtime.txt, then in the root of the app run:

    uv python pin {err.suggested}

and commit .python-version.
""",
    )


@renders(e.PythonInstallFailed)
def _(err: e.PythonInstallFailed) -> tuple[str, str]:
    return (
        f"Unable to install Python {err.version}",
        f"""
{err.detail}

This may be a temporary problem with the network or the download server: retry the
build. If it keeps failing, check PYBUILDPACK_SOURCE / PYBUILDPACK_MIRROR and that
this pybuildpack release is current.
""",
    )


@renders(e.BundledPipNotFound)
def _(err: e.BundledPipNotFound) -> tuple[str, str]:
    return (
        "The Python runtime has no bundled pip",
        f"""
No pip wheel was found in {err.path}. Every supported CPython ships one; the runtime
archive is probably incomplete. This is a bug in the runtime source: please report it.
""",
    )


@renders(e.PackageManagerInstallFailed)
def _(err: e.PackageManagerInstallFailed) -> tuple[str, str]:
    return (
        f"Unable to install {err.package_manager} {err.version}",
        f"""
{err.detail}

Installing the package manager from the package index failed. This is often a
temporary network problem: retry the build, and check the index (PyPI status page,
or the PIP_INDEX_URL you configured). Builds without network access need the wheel of
{err.package_manager} {err.version} in a folder named by PIP_FIND_LINKS, with
PIP_NO_INDEX=1 (both work as app config vars).
""",
    )


@renders(e.DependencyInstallFailed)
def _(err: e.DependencyInstallFailed) -> tuple[str, str]:
    return (
        f"Unable to install dependencies using {err.package_manager}",
        f"""
'{err.command}' failed (exit status {err.exit_code}). Its output above says why.

Run the same command locally to reproduce it; check that the lock/requirements file
is up to date and committed, and that every dependency supports this Python version.
""",
    )


@renders(e.HookFailed)
def _(err: e.HookFailed) -> tuple[str, str]:
    return (
        f"The bin/{err.hook} hook failed",
        f"bin/{err.hook} exited with status {err.exit_code}; its output above says why.\n"
        f"Fix the script (or remove it) and build again.\n",
    )


@renders(e.CollectstaticFailed)
def _(err: e.CollectstaticFailed) -> tuple[str, str]:
    hint = {
        "syntax-error": "Python reported a SyntaxError in the app's code or settings.",
        "improper-configuration": "Django reported ImproperlyConfigured: check the settings "
        "(STATIC_ROOT must be set, and DJANGO_SETTINGS_MODULE must be importable).",
        "fancy-references": "A CSS file references a file that does not exist (a manifest "
        "storage such as WhiteNoise's checks every url() in CSS).",
        "missing-file": "A file or directory collectstatic needs does not exist (OSError).",
    }.get(err.kind, "Its output above and below says why.")
    return (
        "Django's collectstatic failed",
        f"""
`python {err.manage_py} collectstatic --noinput` exited with status {err.exit_code}.
{hint} Its last lines:

{err.output}

Fix the app (run the same command locally to reproduce it), or build without it: set the
config var DISABLE_COLLECTSTATIC=1 (DEBUG_COLLECTSTATIC=1 shows the command's environment
when it fails).
""",
    )


@renders(e.CollectstaticDisabledFile)
def _(w: e.CollectstaticDisabledFile) -> tuple[str, str]:
    return (
        "The .heroku/collectstatic_disabled file is deprecated",
        """
Django's collectstatic was skipped because the app has the file
.heroku/collectstatic_disabled. Delete the file and set the config var
DISABLE_COLLECTSTATIC=1 instead.
""",
    )


@renders(e.BuildCacheUnusable)
def _(err: e.BuildCacheUnusable) -> tuple[str, str]:
    return ("Not a build cache directory", f"{err.path}: {err.detail}\n")


@renders(e.AppHomeNotLinked)
def _(w: e.AppHomeNotLinked) -> tuple[str, str]:
    return (
        f"Python is not reachable at {w.app_home}/.heroku/python during the build",
        f"""
{w.reason}

Python was installed into {w.build_dir}/.heroku/python and used from there, so
console scripts (gunicorn, ...) have that path in their first line. They work when the
app runs from {w.build_dir}, but not after the app is moved to {w.app_home}.
Set PYBUILDPACK_APP_HOME to the directory the app runs from, and make it writable.
""",
    )


@renders(e.AppHomeBusy)
def _(err: e.AppHomeBusy) -> tuple[str, str]:
    return (
        f"Another build has been using {err.link} for more than {err.seconds:g} seconds",
        f"""
Builds on one machine take turns using {err.link} (the lock is {err.lock}),
so that no build installs into another app's build directory. Another build
still holds it.

Build again when it has finished. If builds are expected to take longer, set
PYBUILDPACK_APP_HOME_WAIT to the number of seconds to wait, or give each build an
APP_HOME of its own with PYBUILDPACK_APP_HOME.
""",
    )


@renders(e.AppHomeLinkChanged)
def _(err: e.AppHomeLinkChanged) -> tuple[str, str]:
    return (
        f"{err.link} was changed during the build",
        f"""
This build made {err.link} point at {err.expected}, but it now points at
{err.found}: something that does not take pybuildpack's lock changed it, so some of
this build's dependencies may have been installed elsewhere. The build cache was
not updated.

Build again, and do not run other builds that write {err.link} at the same time.
""",
    )


# --------------------------------------------------------------------------- provisioning


@renders(e.DownloadsFileInvalid)
def _(err: e.DownloadsFileInvalid) -> tuple[str, str]:
    return (
        "The download metadata cannot be used",
        f"{err.path} is invalid: {err.detail}\n\nFix it, or unset PYBUILDPACK_DOWNLOADS / "
        "--downloads to use the bundled download metadata.",
    )


@renders(e.SourceUnknown)
def _(err: e.SourceUnknown) -> tuple[str, str]:
    return (
        f"Unknown runtime source '{err.source}'",
        f"Use one of: {', '.join(err.known)} (--source or PYBUILDPACK_SOURCE).",
    )


@renders(e.NoDownloadForVersion)
def _(err: e.NoDownloadForVersion) -> tuple[str, str]:
    return (
        f"No known {err.source} download of Python {err.version} for {err.target}",
        f"""
The {err.source} source needs per-version download metadata (release tag, file name,
checksum), and the metadata in use has none for Python {err.version} on {err.target}.

Do one of:

    pybuildpack pin . {err.version.series}

(a major version resolves to a release the metadata knows), or install from another source
(--source heroku), or point --downloads / PYBUILDPACK_DOWNLOADS at metadata that lists it.
""",
    )


@renders(e.ChecksumUnavailable)
def _(err: e.ChecksumUnavailable) -> tuple[str, str]:
    return (
        "No checksum to verify the Python archive against",
        f"""
Every archive is verified before it is installed, but no sha256 is known for {err.url}:
the download metadata has none and {err.sums_url} could not be used ({err.detail}).

Publish a SHA256SUMS file (sha256sum format) next to the archives on your mirror, add the
sha256 to the download metadata, or - only if you trust the network path - pass
--allow-unverified.
""",
    )


@renders(e.ChecksumMismatch)
def _(err: e.ChecksumMismatch) -> tuple[str, str]:
    return (
        "The Python archive failed verification",
        f"""
The sha256 of {err.url} is {err.actual}, but {err.expected} was expected. Nothing was
installed and the download was discarded.

The archive may have been corrupted in transit, or replaced on the server or mirror. Retry
the build; if it fails again, check the mirror's contents against its SHA256SUMS.
""",
    )


@renders(e.DownloadFailed)
def _(err: e.DownloadFailed) -> tuple[str, str]:
    return (
        "Unable to download Python",
        f"""
Downloading {err.url} failed: {err.detail}

This is often temporary (network or server trouble): retry the build. If it persists,
check the URL, your mirror (--mirror / PYBUILDPACK_MIRROR) and network access.
""",
    )


@renders(e.DownloadTimeout)
def _(err: e.DownloadTimeout) -> tuple[str, str]:
    return (
        "Downloading Python timed out",
        f"No data arrived from {err.url} for {err.seconds:g} seconds, even after retries. "
        "Retry the build; if it persists, use a closer mirror (--mirror).",
    )


@renders(e.DownloadConnectionFailed)
def _(err: e.DownloadConnectionFailed) -> tuple[str, str]:
    if err.name_unresolved:
        what = (
            f"The host name {err.host} could not be resolved (DNS), so {err.url} could not "
            "be downloaded."
        )
        fix = "Check the spelling of the host in --mirror / PYBUILDPACK_MIRROR, and DNS access."
    else:
        what = f"Connecting to {err.host} to download {err.url} failed, even after retries."
        fix = (
            "Check that the server (or mirror) is up and reachable from here: network access, "
            "proxy and firewall settings, the port in the URL."
        )
    return ("Cannot connect to the Python download server", f"{what}\n\n{fix}\n\n({err.detail})")


@renders(e.DiskFull)
def _(err: e.DiskFull) -> tuple[str, str]:
    return (
        "No space left on the device",
        f"Installing Python into {err.path} ran out of disk space. Nothing was installed. Free "
        "some space (or clear the download cache: pybuildpack cache clear) and retry.",
    )


@renders(e.UnsafeArchive)
def _(err: e.UnsafeArchive) -> tuple[str, str]:
    return (
        "The Python archive is unsafe to extract",
        f"""
{err.url} contains the entry '{err.member}', which {err.reason}. Runtime archives must only
contain files inside their own directory, so nothing was installed.

Check where the archive comes from (--mirror / PYBUILDPACK_MIRROR); a genuine runtime
archive never contains such entries.
""",
    )


@renders(e.ArchiveCorrupt)
def _(err: e.ArchiveCorrupt) -> tuple[str, str]:
    return (
        "The Python archive cannot be unpacked",
        f"Unpacking {err.url} failed: {err.detail}. Nothing was installed. Retry; if it "
        "persists, the archive on the server is damaged or is not a runtime archive.",
    )


@renders(e.UnpackFailed)
def _(err: e.UnpackFailed) -> tuple[str, str]:
    return (
        "The system tar could not unpack the Python archive",
        f"Unpacking {err.url} with tar failed: {err.detail}. Nothing was installed. Check "
        "that the destination is writable, or unpack in Python instead: "
        "PYBUILDPACK_UNPACKER=python (or --unpacker python).",
    )


@renders(e.BrokenRuntime)
def _(err: e.BrokenRuntime) -> tuple[str, str]:
    output = "\n".join(f"    {line}" for line in err.output.strip().splitlines()[-15:])
    return (
        f"The installed Python {err.version} does not work",
        f"""
After unpacking, '{err.command}' failed:

{output or "    (no output)"}

Nothing was installed. The archive may be built for another system (CPU architecture or
C library), or be incomplete.
""",
    )


@renders(e.InstallUnverified)
def _(w: e.InstallUnverified) -> tuple[str, str]:
    return (
        "Installed Python without verifying its checksum",
        f"{w.url} was installed with --allow-unverified: its contents were not checked "
        "against a known sha256. Publish SHA256SUMS next to your archives to verify them.",
    )


@renders(e.ArchiveTooLarge)
def _(err: e.ArchiveTooLarge) -> tuple[str, str]:
    return (
        "The Python archive is too large",
        f"{err.url} has more {err.what} than the limit of {err.limit:,}. Nothing was "
        "installed. A genuine runtime archive stays far below it; if yours is genuine and "
        f"larger, raise the limit with {err.setting}.",
    )


@renders(e.DestinationUnusable)
def _(err: e.DestinationUnusable) -> tuple[str, str]:
    return (
        "Cannot install Python there",
        f"{err.path}: {err.detail}. Nothing was changed there. Choose a writable --dest (its "
        "folder must be writable too: the runtime is unpacked beside it).",
    )


@renders(e.DownloadCacheUnusable)
def _(err: e.DownloadCacheUnusable) -> tuple[str, str]:
    return (
        "The download cache cannot be used",
        f"{err.path}: {err.detail}. Point --cache-dir / PYBUILDPACK_CACHE_DIR at a writable "
        "folder (deleting the cache folder is always safe).",
    )


@renders(e.LockTimeout)
def _(err: e.LockTimeout) -> tuple[str, str]:
    return (
        "Timed out waiting for another install",
        f"Waited {err.seconds:g} seconds for the lock {err.lock}, held by {err.holder}. If "
        "that install is stuck, stop it; a lock whose process is gone is released by the "
        "kernel. Raise the wait with PYBUILDPACK_LOCK_TIMEOUT (seconds).",
    )


@renders(e.InsecureUrl)
def _(err: e.InsecureUrl) -> tuple[str, str]:
    return (
        "Refusing to download Python over plain http",
        f"{err.url} is not https: anyone on the network path could replace what it serves. "
        "Use an https mirror or a file:// folder. If the network path is trusted (a local "
        "mirror), allow it explicitly with --allow-insecure-http or "
        "PYBUILDPACK_ALLOW_INSECURE_HTTP=1; the archive's sha256 must then be pinned in the "
        "download metadata (--downloads / PYBUILDPACK_DOWNLOADS).",
    )


@renders(e.InsecureChecksum)
def _(err: e.InsecureChecksum) -> tuple[str, str]:
    return (
        "No pinned checksum for a plain-http download",
        f"{err.url} is fetched over plain http (allowed explicitly), so its sha256 must come "
        "from the download metadata (--downloads / PYBUILDPACK_DOWNLOADS), not from a "
        "SHA256SUMS file served by the same mirror. Add the archive's sha256 to the metadata.",
    )


@renders(e.InvalidSetting)
def _(err: e.InvalidSetting) -> tuple[str, str]:
    return (
        f"Invalid {err.name}",
        f"{err.name}={err.value!r} is not valid: expected {err.expected}. Fix or unset it.",
    )


@renders(e.DecompressorUnavailable)
def _(err: e.DecompressorUnavailable) -> tuple[str, str]:
    return (
        "Cannot decompress a .tar.zst archive here",
        f"{err.url} is zstd-compressed, and none of the zstd decoders is available: the "
        "'zstandard' package, Python 3.14's compression.zstd, or the 'zstd' program. "
        "Install one of them, or use a source with .tar.gz archives (--source pbs).",
    )


@renders(e.DownloadTooSlow)
def _(err: e.DownloadTooSlow) -> tuple[str, str]:
    return (
        "Downloading Python took too long",
        f"{err.url} did not finish downloading within {err.seconds:g} seconds. Retry; use a "
        "closer or faster mirror (--mirror), or raise the limit with "
        "PYBUILDPACK_DOWNLOAD_DEADLINE (seconds).",
    )


@renders(e.InstallerInvalid)
def _(err: e.InstallerInvalid) -> tuple[str, str]:
    return (
        "Unknown dependency installer",
        f"""
PYBUILDPACK_INSTALLER is {err.value!r}. It chooses what installs requirements.txt:
'auto' (the default: uv when the file uses only what uv supports, else pip), 'uv' or
'pip'. Set one of these, or unset it.
""",
    )


@renders(e.UvWheelChecksumMismatch)
def _(err: e.UvWheelChecksumMismatch) -> tuple[str, str]:
    return (
        "The uv wheel does not match its pinned checksum",
        f"""
{err.wheel} (from {err.source}) has sha256 {err.actual}, but the buildpack pins
{err.expected} for that file (data/tools.json). The package index, mirror or
PIP_FIND_LINKS folder serves a different file under the same name, so it is not run.
Replace it with the file published on PyPI, or build with PYBUILDPACK_INSTALLER=pip.
""",
    )
