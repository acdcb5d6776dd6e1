"""HTTP(S) and file:// reads as streams, with timeouts and retries.

Connection failures and 5xx answers are retried with exponential backoff by urllib3 before
any byte is returned; a body cut short raises ``Transient`` so the caller can restart the
whole download (and whatever consumed it) from scratch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

from pybuildpack._record import dataclass
from pybuildpack.errors import (
    ArchiveTooLarge,
    DownloadFailed,
    DownloadTimeout,
    DownloadTooSlow,
    InsecureUrl,
)
from pybuildpack.provision import settings

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    from typing import BinaryIO, Protocol

    class Readable(Protocol):
        def read(self, n: int = -1, /) -> bytes: ...


TIMEOUT_ENV = settings.TIMEOUT_ENV
RETRIES_ENV = settings.RETRIES_ENV
CHUNK = 1024 * 1024


class Transient(Exception):
    """A download failed in a way that retrying may fix (body cut short, reset)."""


class NotFound(Exception):
    """The server says the file does not exist (HTTP 404 or 403)."""


@dataclass
class Opened:
    stream: Readable
    length: int | None


def timeout_seconds() -> float:
    return settings.http_timeout()


def retries() -> int:
    return settings.http_retries()


_POOL = None


def _pool():  # type: ignore[no-untyped-def]
    global _POOL
    if _POOL is None:
        import urllib3

        _POOL = urllib3.PoolManager(
            retries=urllib3.Retry(
                total=retries(),
                connect=retries(),
                read=retries(),
                status=retries(),
                backoff_factor=0.2,
                backoff_max=5.0,
                status_forcelist=(429, 500, 502, 503, 504),
                allowed_methods=frozenset({"GET"}),
                raise_on_status=False,
            ),
            timeout=urllib3.Timeout(connect=min(10.0, timeout_seconds()), read=timeout_seconds()),
        )
    return _POOL


class _ResponseReader:
    """A urllib3 response as a plain ``read(n)`` stream; a short body raises ``Transient``.

    The whole body must arrive within the download deadline, and may not exceed the cap
    on unpacked bytes (an endless body is refused, not read forever)."""

    def __init__(self, response, url: str) -> None:  # type: ignore[no-untyped-def]
        import time

        self._response = response
        self._url = url
        self._clock = time.monotonic
        self._deadline_seconds = settings.download_deadline()
        self._deadline = self._clock() + self._deadline_seconds
        self._limit = settings.max_unpacked_bytes()
        self._count = 0

    def read(self, n: int = -1, /) -> bytes:
        import urllib3

        if self._clock() > self._deadline:
            raise DownloadTooSlow(url=self._url, seconds=self._deadline_seconds)
        try:
            # read1: whatever has arrived (up to n), so a trickling body cannot hold a
            # read past the deadline the way read(n), which waits for all n bytes, would.
            reader = getattr(self._response, "read1", None)
            if reader is not None and n > 0:
                data = reader(n)
            else:
                data = self._response.read(n if n >= 0 else None)
            self._count += len(data)
            if self._count > self._limit:
                raise ArchiveTooLarge(
                    url=self._url,
                    what="downloaded bytes",
                    limit=self._limit,
                    setting=settings.MAX_BYTES_ENV,
                )
            return data
        except urllib3.exceptions.ReadTimeoutError:
            raise DownloadTimeout(url=self._url, seconds=timeout_seconds()) from None
        except (
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.IncompleteRead,
            OSError,
        ) as exc:
            raise Transient(f"the download was cut short: {exc}") from None


def _local_path(url: str) -> Path | None:
    """The file a ``file://`` URL or a plain path names; None for any other scheme."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(url) if parsed.scheme == "" else None


@contextmanager
def open_url(url: str, *, allow_http: bool = False) -> Iterator[Opened]:
    """Open ``url`` (http, https or file) for streaming reads."""
    parsed = urlparse(url)
    path = _local_path(url)
    if path is not None:
        try:
            f: BinaryIO = path.open("rb")
        except FileNotFoundError:
            raise NotFound(url) from None
        except OSError as exc:
            raise DownloadFailed(url=url, detail=exc.strerror or str(exc)) from None
        with f:
            yield Opened(stream=f, length=os.fstat(f.fileno()).st_size)
        return
    if parsed.scheme not in ("http", "https"):
        raise DownloadFailed(url=url, detail=f"unsupported URL scheme {parsed.scheme!r}")
    check_transport(url, allow_http)
    import urllib3

    try:
        response = _pool().request("GET", url, preload_content=False, decode_content=False)
    except urllib3.exceptions.MaxRetryError as exc:
        reason = exc.reason
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            # Before the timeout check: urllib3 derives refused connections and DNS
            # failures from its connect-timeout error, although nothing timed out.
            from pybuildpack.errors import DownloadConnectionFailed

            raise DownloadConnectionFailed(
                url=url,
                host=urlparse(url).hostname or url,
                name_unresolved=isinstance(reason, urllib3.exceptions.NameResolutionError),
                detail=str(reason),
            ) from None
        if isinstance(
            reason, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError)
        ):
            raise DownloadTimeout(url=url, seconds=timeout_seconds()) from None
        raise DownloadFailed(url=url, detail=str(reason or exc)) from None
    except urllib3.exceptions.HTTPError as exc:
        raise DownloadFailed(url=url, detail=str(exc)) from None
    try:
        final = response.geturl() or url
        if final != url:
            check_transport(final, allow_http)  # no redirect from https down to plain http
        if response.status in (403, 404):
            raise NotFound(url)
        if response.status != 200:
            raise DownloadFailed(url=url, detail=f"HTTP {response.status} (after retries)")
        length = response.headers.get("Content-Length")
        yield Opened(
            stream=_ResponseReader(response, url),
            length=int(length) if length and length.isdigit() else None,
        )
    finally:
        response.release_conn()


def check_transport(url: str, allow_http: bool = False) -> None:
    """Refuse a plain-http URL unless allowed (``allow_http``, or
    ``PYBUILDPACK_ALLOW_INSECURE_HTTP``)."""
    if urlparse(url).scheme == "http" and not (allow_http or settings.allow_insecure_http()):
        raise InsecureUrl(url=url)


def exists(url: str, *, allow_http: bool = False) -> bool | None:
    """Whether ``url`` names an existing file: a file check, or an HTTP HEAD request.
    None when it cannot be told (network trouble, an odd status): callers then carry on."""
    path = _local_path(url)
    if path is not None:
        return path.is_file()
    if urlparse(url).scheme not in ("http", "https"):
        return None
    check_transport(url, allow_http)
    import urllib3

    try:
        response = _pool().request("HEAD", url, preload_content=False)
    except urllib3.exceptions.HTTPError:
        return None
    try:
        if response.status in (403, 404):
            return False
        return True if response.status == 200 else None
    finally:
        response.release_conn()


def read_small(url: str, limit: int = 1024 * 1024, *, allow_http: bool = False) -> bytes:
    """A small file (like SHA256SUMS) in full. Raises ``NotFound``/``DownloadFailed``."""
    for attempt in range(retries() + 1):
        try:
            with open_url(url, allow_http=allow_http) as opened:
                data = opened.stream.read(limit + 1)
                return data[:limit]
        except Transient as exc:
            if attempt == retries():
                raise DownloadFailed(url=url, detail=str(exc)) from None
    raise AssertionError("unreachable")
