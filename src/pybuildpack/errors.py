"""Every expected failure and warning, as a typed value with a stable id.

The *words* users read are not here: ``messages.py`` maps each type to its message in one
place. Code raises these errors (or returns these warnings) with the facts needed to explain
them; interfaces (CLI, classic buildpack, CNB) render them through ``messages.render``.

Ids are stable API: scripts, CI and JSON consumers match on them. Never rename one.
"""

from __future__ import annotations

from pybuildpack._record import dataclass, field
from pybuildpack.version import MajorVersion, Origin, PythonVersion, RequestedVersion

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import ClassVar


def _describe(cls: type) -> None:
    """Give a class without a docstring one naming its id (help() and tools show it)."""
    if not cls.__doc__:
        cls.__doc__ = f"{cls.__name__} [{getattr(cls, 'id', '')}]"


class PyBuildpackError(Exception):
    """Base class of every failure a user can cause or fix. Never shown as a traceback."""

    id: ClassVar[str] = "internal-error"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _describe(cls)

    def __repr__(self) -> str:
        # one shared repr instead of one per error class
        shown = [
            f"{f.name}={getattr(self, f.name)!r}" for f in getattr(self, "__record_fields__", ())
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    def __str__(self) -> str:  # pragma: no cover - exercised through messages tests
        from pybuildpack.messages import render

        return render(self).text


@dataclass(frozen=True)
class BuildWarning:
    """Base class of warnings: the build goes on, but the user should act."""

    id: ClassVar[str] = "warning"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        _describe(cls)


# Diagnostics are records (``pybuildpack._record``): errors ``eq=False, repr=False``
# (exceptions compare by identity), warnings ``frozen=True`` (values).


# --------------------------------------------------------------------------- .python-version


@dataclass(eq=False, repr=False)
class PythonVersionFileInvalidVersion(PyBuildpackError):
    id: ClassVar[str] = "python-version-file::invalid-version"
    line: str
    hint: str | None = None  # a targeted explanation of the likely mistake
    suggested: MajorVersion | None = None  # filled by the reader: the catalog default
    # Every problem at once: the other invalid lines, and all the version lines (more than
    # one is the multiple-versions problem the user would meet next).
    other_invalid: tuple[str, ...] = ()
    all_lines: tuple[str, ...] = ()


@dataclass(eq=False, repr=False)
class PythonVersionFileNoVersion(PyBuildpackError):
    id: ClassVar[str] = "python-version-file::no-version"
    suggested: MajorVersion | None = None  # filled by the reader: the catalog default


@dataclass(eq=False, repr=False)
class PythonVersionFileMultipleVersions(PyBuildpackError):
    id: ClassVar[str] = "python-version-file::multiple-versions"
    versions: tuple[str, ...]
    suggested: MajorVersion | None = None  # filled by the reader: the catalog default


@dataclass(eq=False, repr=False)
class PythonVersionFileInvalidEncoding(PyBuildpackError):
    id: ClassVar[str] = "python-version-file::invalid-encoding"
    encoding: str  # human description, e.g. "UTF-8 with a byte order mark (BOM)"
    suggested: MajorVersion | None = None  # filled by the reader: the catalog default


@dataclass(eq=False, repr=False)
class PythonVersionFileMisspelled(PyBuildpackError):
    id: ClassVar[str] = "python-version-file::misspelled"
    filename: str
    suggested: MajorVersion | None = None  # filled by the reader: the catalog default


@dataclass(eq=False, repr=False)
class PythonVersionFileUnreadable(PyBuildpackError):
    id: ClassVar[str] = "python-version-file::unreadable"
    path: str
    reason: str


@dataclass(eq=False, repr=False)
class VersionFileNotWritable(PyBuildpackError):
    """``pin``/``migrate`` could not write .python-version."""

    id: ClassVar[str] = "python-version-file::not-writable"
    path: str
    reason: str


@dataclass(eq=False, repr=False)
class VersionFileOutsideApp(PyBuildpackError):
    """A version file is a symbolic link leading out of the app directory: it is neither
    read (its content is never shown) nor written through."""

    id: ClassVar[str] = "python-version-file::outside-app"
    filename: str  # e.g. ".python-version"
    target: str  # where the link leads (the link's text, not the content)
    suggested: MajorVersion | None = None  # filled by the reader: the version to write


@dataclass(eq=False, repr=False)
class RuntimeTxtOutsideApp(VersionFileOutsideApp):
    id: ClassVar[str] = "runtime-txt::outside-app"


@dataclass(eq=False, repr=False)
class PipfileLockOutsideApp(VersionFileOutsideApp):
    id: ClassVar[str] = "pipfile-lock::outside-app"


# --------------------------------------------------------------------------- runtime.txt


@dataclass(eq=False, repr=False)
class RuntimeTxtInvalidVersion(PyBuildpackError):
    id: ClassVar[str] = "runtime-txt::invalid-version"
    content: str
    suggested: MajorVersion | None = None  # filled by the reader: the catalog default


@dataclass(eq=False, repr=False)
class RuntimeTxtNotSupported(PyBuildpackError):
    """Fir: runtime.txt is no longer read at all; its presence is an error."""

    id: ClassVar[str] = "runtime-txt::not-supported"
    suggested: MajorVersion  # what to put in .python-version instead


@dataclass(frozen=True)
class RuntimeTxtDeprecated(BuildWarning):
    id: ClassVar[str] = "runtime-txt::deprecated"
    suggested: MajorVersion  # the major to write into .python-version


# --------------------------------------------------------------------------- Pipfile.lock


@dataclass(eq=False, repr=False)
class PipfileLockInvalidJson(PyBuildpackError):
    id: ClassVar[str] = "pipfile-lock::invalid-json"
    detail: str
    suggested: MajorVersion | None = None  # filled by the reader: the catalog default


@dataclass(eq=False, repr=False)
class PipfileLockInvalidVersion(PyBuildpackError):
    id: ClassVar[str] = "pipfile-lock::invalid-version"
    field: str
    value: str
    suggested: MajorVersion | None = None  # filled by the reader: the catalog default


# --------------------------------------------------------------------------- resolution


@dataclass(eq=False, repr=False)
class PythonVersionEol(PyBuildpackError):
    id: ClassVar[str] = "python-version::eol"
    requested: RequestedVersion
    oldest_supported: MajorVersion
    suggested: MajorVersion
    eol_date: str | None = None  # from the catalog, when the catalog knows the major
    removal_date: str | None = None  # when builds stopped (status by date: removed)


@dataclass(eq=False, repr=False)
class PythonVersionUnknownMajor(PyBuildpackError):
    id: ClassVar[str] = "python-version::unknown-major"
    requested: RequestedVersion
    newest_supported: MajorVersion
    catalog_date: str
    # The catalog knows the major's release date but no release of it: "upcoming" (the date
    # is still ahead) or "unlisted" (the date has passed: the catalog predates the release).
    released: str | None = None
    state: str | None = None


@dataclass(eq=False, repr=False)
class PythonVersionUnknownPatch(PyBuildpackError):
    id: ClassVar[str] = "python-version::unknown-patch"
    requested: RequestedVersion
    latest: PythonVersion | None
    platform: str | None = None  # e.g. "heroku-24 arm64" when availability is the reason
    source_url: str | None = None  # set when a download answered "not found"
    source: str | None = None  # the archive source lacking it (resolve with a known source)
    nearest: tuple[PythonVersion, ...] = ()  # the closest patches that source has


@dataclass(frozen=True)
class PythonVersionDeprecated(BuildWarning):
    id: ClassVar[str] = "python-version::deprecated"
    series: MajorVersion
    origin: Origin
    eol_date: str | None
    removal_date: str | None
    suggested: MajorVersion


@dataclass(frozen=True)
class PythonVersionOutdatedPatch(BuildWarning):
    id: ClassVar[str] = "python-version::outdated-patch"
    requested: RequestedVersion
    latest: PythonVersion


@dataclass(frozen=True)
class PythonVersionNotSpecified(BuildWarning):
    id: ClassVar[str] = "python-version::not-specified"
    origin: Origin  # DEFAULT or CACHED
    series: MajorVersion
    # names in the app root that look like a version file but are not one (case variants etc.)
    lookalikes: tuple[str, ...] = field(default=())
    suggested: MajorVersion | None = None  # the major to write; None: ``series``


@dataclass(frozen=True)
class PythonVersionOutsideRequiresPython(BuildWarning):
    id: ClassVar[str] = "python-version::outside-requires-python"
    version: PythonVersion
    requires_python: str
    origin: Origin
    suggested: MajorVersion | None  # newest supported major that satisfies requires-python
    read_as: str | None = None  # a bare "3.12.*" is not PEP 440: read as "==3.12.*"


@dataclass(frozen=True)
class ConflictingVersionFiles(BuildWarning):
    """Both runtime.txt and .python-version state a version, and they disagree."""

    id: ClassVar[str] = "python-version::conflicting-files"
    runtime_txt: str
    python_version_file: str


@dataclass(frozen=True)
class PyprojectUnreadable(BuildWarning):
    id: ClassVar[str] = "pyproject::invalid"
    detail: str


# --------------------------------------------------------------------------- platform / catalog


@dataclass(eq=False, repr=False)
class CatalogInvalid(PyBuildpackError):
    id: ClassVar[str] = "catalog::invalid"
    path: str
    detail: str


@dataclass(eq=False, repr=False)
class CatalogSourceInvalid(PyBuildpackError):
    """Upstream data for ``catalog update`` cannot be fetched or used."""

    id: ClassVar[str] = "catalog::invalid-source"
    path: str
    detail: str


@dataclass(frozen=True)
class PythonVersionEolReached(BuildWarning):
    """The major's end of life has passed; builds still work until its removal date."""

    id: ClassVar[str] = "python-version::eol-reached"
    series: MajorVersion
    origin: Origin
    eol_date: str
    removal_date: str | None
    suggested: MajorVersion


@dataclass(frozen=True)
class CatalogFallback(BuildWarning):
    """A refreshed catalog could not be used; the bundled one is used instead."""

    id: ClassVar[str] = "catalog::fallback"
    path: str
    detail: str
    bundled_as_of: str


@dataclass(frozen=True)
class CatalogStale(BuildWarning):
    """The catalog's facts are older than the policy's ``stale_after_days`` (a notice)."""

    id: ClassVar[str] = "catalog::stale"
    source: str
    as_of: str
    days: int


@dataclass(eq=False, repr=False)
class StackUnknown(PyBuildpackError):
    id: ClassVar[str] = "stack::unknown"
    stack: str
    known: tuple[str, ...]


@dataclass(eq=False, repr=False)
class ArchUnsupported(PyBuildpackError):
    id: ClassVar[str] = "platform::unsupported-arch"
    arch: str
    stack: str | None
    supported: tuple[str, ...]


@dataclass(eq=False, repr=False)
class AppDirNotFound(PyBuildpackError):
    id: ClassVar[str] = "app-dir::not-found"
    path: str


@dataclass(eq=False, repr=False)
class UsageError(PyBuildpackError):
    """Bad command-line input that argparse itself cannot catch."""

    id: ClassVar[str] = "cli::usage"
    detail: str


# ---- buildpack


@dataclass(eq=False, repr=False)
class BuildpackInvocationInvalid(PyBuildpackError):
    """The platform called a buildpack entry point wrongly (missing argument or env var)."""

    id: ClassVar[str] = "buildpack::invalid-invocation"
    detail: str


@dataclass(eq=False, repr=False)
class StackNotSet(PyBuildpackError):
    id: ClassVar[str] = "checks::stack::missing"


@dataclass(eq=False, repr=False)
class DuplicatePythonBuildpack(PyBuildpackError):
    id: ClassVar[str] = "checks::duplicate-python-buildpack"


@dataclass(eq=False, repr=False)
class ExistingPythonDir(PyBuildpackError):
    id: ClassVar[str] = "checks::existing-python-dir"
    path: str
    entries: tuple[str, ...]  # a few names found inside, to help the user recognise it


@dataclass(eq=False, repr=False)
class ExistingVenvDir(PyBuildpackError):
    id: ClassVar[str] = "checks::existing-venv-dir"
    name: str  # ".venv" or "venv"


@dataclass(eq=False, repr=False)
class UnsafeEnvironment(PyBuildpackError):
    id: ClassVar[str] = "checks::unsafe-env-vars"
    names: tuple[str, ...]


@dataclass(eq=False, repr=False)
class PackageManagerNoneFound(PyBuildpackError):
    id: ClassVar[str] = "package-manager::none-found"
    files: tuple[str, ...]  # what the app root contains, to compare against
    supported: tuple[str, ...]  # the lock/requirements files this generation reads


@dataclass(eq=False, repr=False)
class PackageManagerMultipleFound(PyBuildpackError):
    id: ClassVar[str] = "package-manager::multiple-found"
    found: tuple[tuple[str, str], ...]  # (file, package manager), fixed order


@dataclass(eq=False, repr=False)
class PipenvMissingLockfile(PyBuildpackError):
    id: ClassVar[str] = "package-manager::pipenv-missing-lockfile"


@dataclass(eq=False, repr=False)
class SetupPyOnly(PyBuildpackError):
    id: ClassVar[str] = "package-manager::setup-py-only"


@dataclass(eq=False, repr=False)
class PackageManagerNotSupported(PyBuildpackError):
    """A package manager this generation does not support (Pipenv on fir)."""

    id: ClassVar[str] = "package-manager::not-supported"
    package_manager: str
    generation: str


@dataclass(eq=False, repr=False)
class UvPythonVersionFileRequired(PyBuildpackError):
    id: ClassVar[str] = "python-version-file::not-found"
    suggested: MajorVersion


@dataclass(eq=False, repr=False)
class UvRuntimeTxtNotSupported(RuntimeTxtNotSupported):
    """The uv variant of ``RuntimeTxtNotSupported`` (same id): its fix uses ``uv python pin``."""


@dataclass(eq=False, repr=False)
class PythonInstallFailed(PyBuildpackError):
    """Installing the runtime failed for a reason the provisioning layer did not type."""

    id: ClassVar[str] = "install-python"
    version: PythonVersion
    detail: str


@dataclass(eq=False, repr=False)
class BundledPipNotFound(PyBuildpackError):
    id: ClassVar[str] = "internal-error::bundled-pip-not-found"
    path: str


@dataclass(eq=False, repr=False)
class PackageManagerInstallFailed(PyBuildpackError):
    id: ClassVar[str] = "install-package-manager"
    package_manager: str
    version: str
    detail: str  # last lines of the tool's output


@dataclass(eq=False, repr=False)
class DependencyInstallFailed(PyBuildpackError):
    id: ClassVar[str] = "install-dependencies"
    package_manager: str
    command: str
    exit_code: int


@dataclass(eq=False, repr=False)
class HookFailed(PyBuildpackError):
    id: ClassVar[str] = "hooks::failed"
    hook: str  # "pre_compile" or "post_compile"
    exit_code: int


@dataclass(eq=False, repr=False)
class BuildCacheUnusable(PyBuildpackError):
    """`pybuildpack cache` pointed at something that is not a build cache directory."""

    id: ClassVar[str] = "cache::not-a-cache-dir"
    path: str
    detail: str


@dataclass(frozen=True)
class AppHomeNotLinked(BuildWarning):
    """The runtime could not be made reachable at APP_HOME/.heroku/python during the build."""

    id: ClassVar[str] = "buildpack::app-home-not-linked"
    app_home: str
    build_dir: str
    reason: str


@dataclass(eq=False, repr=False)
class AppHomeBusy(PyBuildpackError):
    """Another build held APP_HOME/.heroku/python for longer than this build would wait."""

    id: ClassVar[str] = "buildpack::app-home-busy"
    link: str
    lock: str
    seconds: float


@dataclass(eq=False, repr=False)
class AppHomeLinkChanged(PyBuildpackError):
    """APP_HOME/.heroku/python was repointed during the build by something else."""

    id: ClassVar[str] = "buildpack::app-home-link-changed"
    link: str
    expected: str
    found: str


# ---- provisioning


@dataclass(eq=False, repr=False)
class DownloadsFileInvalid(PyBuildpackError):
    id: ClassVar[str] = "install-python::invalid-downloads-file"
    path: str
    detail: str


@dataclass(eq=False, repr=False)
class SourceUnknown(PyBuildpackError):
    id: ClassVar[str] = "install-python::unknown-source"
    source: str
    known: tuple[str, ...]


@dataclass(eq=False, repr=False)
class NoDownloadForVersion(PyBuildpackError):
    """The source needs per-version metadata (e.g. a release tag) that the data lacks."""

    id: ClassVar[str] = "install-python::no-download"
    version: PythonVersion
    source: str
    target: str


@dataclass(eq=False, repr=False)
class ChecksumUnavailable(PyBuildpackError):
    id: ClassVar[str] = "install-python::checksum-unavailable"
    url: str
    sums_url: str
    detail: str


@dataclass(eq=False, repr=False)
class ChecksumMismatch(PyBuildpackError):
    id: ClassVar[str] = "install-python::checksum-mismatch"
    url: str
    expected: str
    actual: str


@dataclass(eq=False, repr=False)
class DownloadFailed(PyBuildpackError):
    id: ClassVar[str] = "install-python::download-failed"
    url: str
    detail: str


@dataclass(eq=False, repr=False)
class DownloadTimeout(PyBuildpackError):
    id: ClassVar[str] = "install-python::timeout"
    url: str
    seconds: float


@dataclass(eq=False, repr=False)
class DownloadConnectionFailed(PyBuildpackError):
    """No connection to the download server: refused, unreachable, or its name unknown."""

    id: ClassVar[str] = "install-python::connection-failed"
    url: str
    host: str
    name_unresolved: bool  # DNS found no address for ``host``
    detail: str


@dataclass(eq=False, repr=False)
class DiskFull(PyBuildpackError):
    id: ClassVar[str] = "install-python::disk-full"
    path: str


@dataclass(eq=False, repr=False)
class UnsafeArchive(PyBuildpackError):
    id: ClassVar[str] = "install-python::unsafe-archive"
    url: str
    member: str
    reason: str


@dataclass(eq=False, repr=False)
class ArchiveCorrupt(PyBuildpackError):
    id: ClassVar[str] = "install-python::corrupt-archive"
    url: str
    detail: str


@dataclass(eq=False, repr=False)
class UnpackFailed(PyBuildpackError):
    """The system tar failed for a reason other than a full disk."""

    id: ClassVar[str] = "install-python::unpack-failed"
    url: str
    detail: str


@dataclass(eq=False, repr=False)
class BrokenRuntime(PyBuildpackError):
    id: ClassVar[str] = "install-python::broken-runtime"
    version: PythonVersion
    command: str
    output: str


@dataclass(frozen=True)
class InstallUnverified(BuildWarning):
    id: ClassVar[str] = "install-python::unverified"
    url: str


# ---- provisioning: the security model (docs/provisioning.md)


@dataclass(eq=False, repr=False)
class ArchiveTooLarge(PyBuildpackError):
    """An archive exceeds a cap on unpacked bytes or member count."""

    id: ClassVar[str] = "install-python::archive-too-large"
    url: str
    what: str  # "unpacked bytes", "members", "download bytes"
    limit: int
    setting: str  # the variable that raises the cap


@dataclass(eq=False, repr=False)
class DestinationUnusable(PyBuildpackError):
    id: ClassVar[str] = "install-python::destination-unusable"
    path: str
    detail: str


@dataclass(eq=False, repr=False)
class DownloadCacheUnusable(PyBuildpackError):
    id: ClassVar[str] = "install-python::cache-unusable"
    path: str
    detail: str


@dataclass(eq=False, repr=False)
class LockTimeout(PyBuildpackError):
    id: ClassVar[str] = "install-python::lock-timeout"
    lock: str
    seconds: float
    holder: str  # who holds it, as far as known


@dataclass(eq=False, repr=False)
class InsecureUrl(PyBuildpackError):
    """A plain-http archive or checksum URL, not explicitly allowed."""

    id: ClassVar[str] = "install-python::insecure-url"
    url: str


@dataclass(eq=False, repr=False)
class InsecureChecksum(PyBuildpackError):
    """Plain http is allowed, but the archive's sha256 is not pinned in the metadata."""

    id: ClassVar[str] = "install-python::insecure-checksum"
    url: str


@dataclass(eq=False, repr=False)
class InvalidSetting(PyBuildpackError):
    id: ClassVar[str] = "install-python::invalid-setting"
    name: str
    value: str
    expected: str


@dataclass(eq=False, repr=False)
class DecompressorUnavailable(PyBuildpackError):
    id: ClassVar[str] = "install-python::zstd-unavailable"
    url: str


@dataclass(eq=False, repr=False)
class DownloadTooSlow(PyBuildpackError):
    """The whole download did not finish within the deadline (a trickling server)."""

    id: ClassVar[str] = "install-python::download-too-slow"
    url: str
    seconds: float


@dataclass(eq=False, repr=False)
class CollectstaticFailed(PyBuildpackError):
    """``manage.py collectstatic --noinput`` failed (classic builds of Django apps)."""

    id: ClassVar[str] = "collectstatic::failed"
    kind: str  # syntax-error, improper-configuration, fancy-references, missing-file, other
    manage_py: str  # relative to the app root
    exit_code: int
    output: str  # the command's last lines


@dataclass(frozen=True)
class CollectstaticDisabledFile(BuildWarning):
    """The app disables collectstatic with the old ``.heroku/collectstatic_disabled`` file."""

    id: ClassVar[str] = "collectstatic::disabled-file"


@dataclass(eq=False, repr=False)
class InstallerInvalid(PyBuildpackError):
    """``PYBUILDPACK_INSTALLER`` is not ``pip``, ``uv`` or ``auto``."""

    id: ClassVar[str] = "install-dependencies::invalid-installer"
    value: str


@dataclass(eq=False, repr=False)
class UvWheelChecksumMismatch(PyBuildpackError):
    """The uv wheel found (index, mirror or PIP_FIND_LINKS) is not the pinned file."""

    id: ClassVar[str] = "install-package-manager::checksum-mismatch"
    wheel: str
    expected: str
    actual: str
    source: str  # where the wheel came from
