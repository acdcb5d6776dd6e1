"""HTTP(S) and file:// reads as streams, with timeouts and retries.

Connection failures and 5xx answers are retried with exponential backoff by urllib3 before
any byte is returned; a body cut short raises ``Transient`` so the caller can restart the
whole download (and whatever consumed it) from scratch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import unquote, urlparse

from pybuildpack.errors import DownloadFailed, DownloadTimeout

TIMEOUT_ENV = "PYBUILDPACK_HTTP_TIMEOUT"
RETRIES_ENV = "PYBUILDPACK_HTTP_RETRIES"
CHUNK = 1024 * 1024


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class Transient(Exception):
    """A download failed in a way that retrying may fix (body cut short, reset)."""


class NotFound(Exception):
    """The server says the file does not exist (HTTP 404 or 403)."""


@dataclass
class Opened:
    stream: Readable
    length: int | None


def timeout_seconds() -> float:
    try:
        return float(os.environ.get(TIMEOUT_ENV, "30"))
    except ValueError:
        return 30.0


def retries() -> int:
    try:
        return max(0, int(os.environ.get(RETRIES_ENV, "4")))
    except ValueError:
        return 4


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
    """A urllib3 response as a plain ``read(n)`` stream; a short body raises ``Transient``."""

    def __init__(self, response, url: str) -> None:  # type: ignore[no-untyped-def]
        self._response = response
        self._url = url

    def read(self, n: int = -1, /) -> bytes:
        import urllib3

        try:
            return self._response.read(n if n >= 0 else None)
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
def open_url(url: str) -> Iterator[Opened]:
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


def exists(url: str) -> bool | None:
    """Whether ``url`` names an existing file: a file check, or an HTTP HEAD request.
    None when it cannot be told (network trouble, an odd status): callers then carry on."""
    path = _local_path(url)
    if path is not None:
        return path.is_file()
    if urlparse(url).scheme not in ("http", "https"):
        return None
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


def read_small(url: str, limit: int = 1024 * 1024) -> bytes:
    """A small file (like SHA256SUMS) in full. Raises ``NotFound``/``DownloadFailed``."""
    for attempt in range(retries() + 1):
        try:
            with open_url(url) as opened:
                data = opened.stream.read(limit + 1)
                return data[:limit]
        except Transient as exc:
            if attempt == retries():
                raise DownloadFailed(url=url, detail=str(exc)) from None
    raise AssertionError("unreachable")
