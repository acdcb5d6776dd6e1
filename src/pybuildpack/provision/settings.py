"""Provisioning settings read from ``PYBUILDPACK_*`` environment variables.

Every value is checked: a number that is not finite and positive (``0``, ``-1``, ``nan``,
``inf``) is an ``InvalidSetting`` error naming the variable, never a silent default nor a
crash.
"""

from __future__ import annotations

import math
import os

from pybuildpack.errors import InvalidSetting, UsageError

TIMEOUT_ENV = "PYBUILDPACK_HTTP_TIMEOUT"
RETRIES_ENV = "PYBUILDPACK_HTTP_RETRIES"
DEADLINE_ENV = "PYBUILDPACK_DOWNLOAD_DEADLINE"
LOCK_TIMEOUT_ENV = "PYBUILDPACK_LOCK_TIMEOUT"
MAX_BYTES_ENV = "PYBUILDPACK_MAX_UNPACKED_BYTES"
MAX_MEMBERS_ENV = "PYBUILDPACK_MAX_MEMBERS"
ALLOW_HTTP_ENV = "PYBUILDPACK_ALLOW_INSECURE_HTTP"
UNPACKER_ENV = "PYBUILDPACK_UNPACKER"
UNPACKERS = ("auto", "tar", "python")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None or not value.strip() else value.strip()


def positive_float(name: str, default: float) -> float:
    """A finite number of seconds > 0."""
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise InvalidSetting(name=name, value=value, expected="a finite number greater than 0")
    return number


def count(name: str, default: int, *, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (underscores allowed: ``4_000_000_000``)."""
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value.replace("_", ""), 10)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise InvalidSetting(name=name, value=value, expected=f"a whole number >= {minimum}")
    return number


def flag(name: str) -> bool:
    value = _raw(name)
    if value is None or value.lower() in _FALSE:
        return False
    if value.lower() in _TRUE:
        return True
    raise InvalidSetting(name=name, value=value, expected="1 or 0 (true/false, yes/no)")


def http_timeout() -> float:
    return positive_float(TIMEOUT_ENV, 30.0)


def http_retries() -> int:
    return count(RETRIES_ENV, 4, minimum=0)


def download_deadline() -> float:
    return positive_float(DEADLINE_ENV, 1800.0)


def lock_timeout() -> float:
    return positive_float(LOCK_TIMEOUT_ENV, 900.0)


def max_unpacked_bytes() -> int:
    return count(MAX_BYTES_ENV, 8 << 30)


def max_members() -> int:
    return count(MAX_MEMBERS_ENV, 500_000)


def allow_insecure_http() -> bool:
    return flag(ALLOW_HTTP_ENV)


def unpacker_choice(choice: str | None = None) -> str:
    """``choice`` (default: ``PYBUILDPACK_UNPACKER``, else ``auto``), checked."""
    choice = (choice or os.environ.get(UNPACKER_ENV) or "auto").strip().lower()
    if choice not in UNPACKERS:
        raise UsageError(detail=f"{UNPACKER_ENV}={choice!r} is not one of: {', '.join(UNPACKERS)}")
    return choice
