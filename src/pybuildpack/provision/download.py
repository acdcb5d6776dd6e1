"""HTTP(S) and file:// reads as streams, with timeouts and retries.

Connection failures and HTTP 429/5xx answers are retried with exponential backoff before
any byte is returned; a body cut short raises ``Transient`` so the caller can restart the
whole download (and whatever consumed it) from scratch. Redirects are followed (at most
``_MAX_REDIRECTS``), each target checked like the URL itself (no https -> http) before it
is requested.

The standard library's ``http.client`` speaks HTTP, with ``ssl``'s default context for
https (the system's certificates, host names checked). ``urllib3``, which did it before,
cost about 25 ms of imports before the first byte of every download.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from pybuildpack._record import dataclass
from pybuildpack.errors import (
    ArchiveTooLarge,
    DownloadConnectionFailed,
    DownloadFailed,
    DownloadTimeout,
    DownloadTooSlow,
    InsecureUrl,
)
from pybuildpack.provision import settings

TYPE_CHECKING = False  # typing is imported by type checkers only (start-up time)
if TYPE_CHECKING:
    import http.client
    import ssl
    from typing import BinaryIO, Protocol

    class Readable(Protocol):
        def read(self, n: int = -1, /) -> bytes: ...


TIMEOUT_ENV = settings.TIMEOUT_ENV
RETRIES_ENV = settings.RETRIES_ENV
CHUNK = 1024 * 1024

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
# http.client adds Host and "Accept-Encoding: identity" (the archive's bytes, as they are).
_HEADERS = {"User-Agent": "pybuildpack", "Accept": "*/*"}


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


_TLS: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _TLS
    if _TLS is None:
        import ssl

        _TLS = ssl.create_default_context()
    return _TLS


def _backoff(retry: int) -> None:
    """Wait before retry number ``retry`` (1, 2, ...): not before the first, then 0.4 s,
    0.8 s, ..., at most 5 s."""
    if retry > 1:
        time.sleep(min(5.0, 0.2 * 2 ** (retry - 1)))


def _attempt(
    method: str, url: str
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse | None, Exception | None]:
    """One request: its connection, and its response or the typed error that stopped it.
    Connecting may take ``min(10, timeout)`` seconds; every later read ``timeout``."""
    import http.client

    parsed = urlparse(url)
    host = parsed.hostname or ""
    timeout = timeout_seconds()
    conn: http.client.HTTPConnection
    if parsed.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, parsed.port, timeout=min(10.0, timeout), context=_tls_context()
        )
    else:
        conn = http.client.HTTPConnection(host, parsed.port, timeout=min(10.0, timeout))
    try:
        conn.connect()
    except TimeoutError:
        return conn, None, DownloadTimeout(url=url, seconds=timeout)
    except OSError as exc:
        import socket

        if parsed.scheme == "https":
            import ssl

            if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):  # not a refusal
                return conn, None, DownloadFailed(url=url, detail=str(exc))
        return (
            conn,
            None,
            DownloadConnectionFailed(
                url=url,
                host=host or url,
                name_unresolved=isinstance(exc, socket.gaierror),
                detail=str(exc),
            ),
        )
    try:
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        target = parsed.path or "/"
        conn.request(
            method, f"{target}?{parsed.query}" if parsed.query else target, headers=_HEADERS
        )
        return conn, conn.getresponse(), None
    except TimeoutError:
        return conn, None, DownloadTimeout(url=url, seconds=timeout)
    except (OSError, http.client.HTTPException) as exc:
        return conn, None, DownloadFailed(url=url, detail=str(exc) or type(exc).__name__)


def _request(
    method: str, url: str, allow_http: bool
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """The response to ``method url``: redirects followed, connection errors (and, for GET,
    429/5xx answers) retried ``PYBUILDPACK_HTTP_RETRIES`` times with backoff; after the
    last retry, the last answer is returned or the last error raised. The caller closes
    the connection."""
    retry = 0
    redirects = 0
    while True:
        conn, response, failure = _attempt(method, url)
        if response is not None:
            location = response.getheader("Location")
            if response.status in _REDIRECT_STATUS and location:
                conn.close()
                redirects += 1
                if redirects > _MAX_REDIRECTS:
                    raise DownloadFailed(url=url, detail=f"more than {_MAX_REDIRECTS} redirects")
                url = urljoin(url, location)
                check_transport(url, allow_http)  # no redirect from https down to plain http
                continue
            if not (method == "GET" and response.status in _RETRY_STATUS and retry < retries()):
                return conn, response
        conn.close()
        if failure is not None and retry >= retries():
            raise failure
        retry += 1
        _backoff(retry)


class _ResponseReader:
    """An HTTP response as a plain ``read(n)`` stream; a short body raises ``Transient``.

    The whole body must arrive within the download deadline, and may not exceed the cap
    on unpacked bytes (an endless body is refused, not read forever)."""

    def __init__(self, response: http.client.HTTPResponse, url: str) -> None:
        self._response = response
        self._url = url
        self._clock = time.monotonic
        self._deadline_seconds = settings.download_deadline()
        self._deadline = self._clock() + self._deadline_seconds
        self._limit = settings.max_unpacked_bytes()
        self._count = 0

    def read(self, n: int = -1, /) -> bytes:
        import http.client

        if self._clock() > self._deadline:
            raise DownloadTooSlow(url=self._url, seconds=self._deadline_seconds)
        try:
            # read1: whatever has arrived (up to n), so a trickling body cannot hold a
            # read past the deadline the way read(n), which waits for all n bytes, would.
            data = self._response.read1(n) if n > 0 else self._response.read()
        except TimeoutError:
            raise DownloadTimeout(url=self._url, seconds=timeout_seconds()) from None
        except (http.client.HTTPException, OSError) as exc:
            raise Transient(f"the download was cut short: {exc!r}") from None
        if not data and n != 0 and self._response.length:
            # The connection ended before the Content-Length it announced.
            raise Transient(f"the download was cut short ({self._response.length:,} bytes missing)")
        self._count += len(data)
        if self._count > self._limit:
            raise ArchiveTooLarge(
                url=self._url,
                what="downloaded bytes",
                limit=self._limit,
                setting=settings.MAX_BYTES_ENV,
            )
        return data


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
    conn, response = _request("GET", url, allow_http)
    try:
        if response.status in (403, 404):
            raise NotFound(url)
        if response.status != 200:
            raise DownloadFailed(url=url, detail=f"HTTP {response.status} (after retries)")
        length = response.getheader("Content-Length")
        yield Opened(
            stream=_ResponseReader(response, url),
            length=int(length) if length and length.isdigit() else None,
        )
    finally:
        response.close()
        conn.close()


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
    try:
        conn, response = _request("HEAD", url, allow_http)
    except (DownloadFailed, DownloadTimeout, DownloadConnectionFailed, InsecureUrl):
        return None
    try:
        if response.status in (403, 404):
            return False
        return True if response.status == 200 else None
    finally:
        response.close()
        conn.close()


def read_small(url: str, limit: int = 1024 * 1024, *, allow_http: bool = False) -> bytes:
    """A small file (like SHA256SUMS) in full, at most ``limit`` bytes. Raises
    ``NotFound``/``DownloadFailed``."""
    for attempt in range(retries() + 1):
        try:
            with open_url(url, allow_http=allow_http) as opened:
                parts: list[bytes] = []
                size = 0
                while size <= limit and (data := opened.stream.read(limit + 1 - size)):
                    parts.append(data)
                    size += len(data)
                return b"".join(parts)[:limit]
        except Transient as exc:
            if attempt == retries():
                raise DownloadFailed(url=url, detail=str(exc)) from None
    raise AssertionError("unreachable")
