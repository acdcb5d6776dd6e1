"""``pybuildpack catalog``: show the catalog in use, refresh it, or reset to the bundled one."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from pybuildpack.catalog import (
    Catalog,
    load_bundled_catalog,
    load_catalog,
    parse_catalog_text,
    refreshed_catalog_path,
)
from pybuildpack.cli import add_common_options
from pybuildpack.errors import CatalogInvalid, UsageError
from pybuildpack.output import Output

HELP = """\
The version catalog says which Python versions exist, their status, newest patches and
end-of-life dates. One ships with pybuildpack (dated); a newer one can be installed
without upgrading pybuildpack:

  pybuildpack catalog refresh https://example.org/pybuildpack-catalog.json
  pybuildpack catalog refresh ./catalog.json        (a file, e.g. in an air-gapped setup)

A refreshed catalog is used while it is at least as new as the bundled one (upgrading
pybuildpack to a release with newer data wins). --catalog / PYBUILDPACK_CATALOG override
both for a single run.
"""

MAX_BYTES = 5 * 1024 * 1024


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "catalog",
        help="show, refresh or reset the version catalog",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csub = p.add_subparsers(dest="catalog_command", metavar="ACTION", required=True)
    show = csub.add_parser("show", help="which catalog is in use, and its date")
    add_common_options(show)
    show.set_defaults(func=run_show)
    refresh = csub.add_parser("refresh", help="install a newer catalog from a URL or file")
    refresh.add_argument("source", metavar="URL_OR_FILE")
    refresh.add_argument("--force", action="store_true", help="accept an older catalog too")
    add_common_options(refresh)
    refresh.set_defaults(func=run_refresh)
    reset = csub.add_parser("reset", help="forget a refreshed catalog; use the bundled one")
    add_common_options(reset)
    reset.set_defaults(func=run_reset)


def _summary(catalog: Catalog) -> dict[str, str]:
    return {
        "source": catalog.source,
        "as_of": catalog.as_of,
        "default": str(catalog.default_major),
        "supported": f"{catalog.oldest_supported}-{catalog.newest_supported}",
    }


def run_show(args: argparse.Namespace, out: Output) -> int:
    catalog = load_catalog(args.catalog)
    info = _summary(catalog)
    out.result(
        f"{info['source']} (as of {info['as_of']}): supports {info['supported']}, "
        f"default {info['default']}"
    )
    out.emit_json(info)
    return 0


def fetch_text(source: str) -> str:
    """The text at ``source``: an http(s):// or file:// URL, or a local path."""
    parsed = urlparse(source)
    if parsed.scheme in ("http", "https"):
        import urllib3

        http = urllib3.PoolManager(
            retries=urllib3.Retry(
                total=3, backoff_factor=0.5, status_forcelist=(500, 502, 503, 504)
            ),
            timeout=urllib3.Timeout(connect=10, read=30),
        )
        try:
            resp = http.request("GET", source, preload_content=False)
        except urllib3.exceptions.HTTPError as exc:
            raise CatalogInvalid(path=source, detail=f"download failed: {exc}") from None
        try:
            if resp.status != 200:
                raise CatalogInvalid(path=source, detail=f"download failed: HTTP {resp.status}")
            data = resp.read(MAX_BYTES + 1)
        finally:
            resp.release_conn()
    else:
        path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(source)
        if parsed.scheme not in ("", "file"):
            raise UsageError(
                detail=f"unsupported URL scheme {parsed.scheme!r}: use http(s), file or a path"
            )
        try:
            with path.open("rb") as f:
                data = f.read(MAX_BYTES + 1)
        except OSError as exc:
            raise CatalogInvalid(
                path=source, detail=f"cannot be read: {exc.strerror or exc}"
            ) from None
    if len(data) > MAX_BYTES:
        raise CatalogInvalid(path=source, detail=f"larger than {MAX_BYTES} bytes; not a catalog")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CatalogInvalid(path=source, detail="not UTF-8 text") from None


def run_refresh(args: argparse.Namespace, out: Output) -> int:
    text = fetch_text(args.source)
    new = parse_catalog_text(text, source=args.source)  # validate before installing
    current = load_catalog()
    if new.as_of < current.as_of and not args.force:
        raise CatalogInvalid(
            path=args.source,
            detail=f"it is dated {new.as_of}, older than the catalog in use ({current.as_of}, "
            f"{current.source}); use --force to install it anyway",
        )
    target = refreshed_catalog_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".catalog.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    installed = parse_catalog_text(target.read_text("utf-8"), source=str(target))
    out.info(out.style(f"Installed catalog dated {installed.as_of} at {target}", "green"))
    out.result(str(target))
    out.emit_json({"installed": str(target), **_summary(installed)})
    return 0


def run_reset(args: argparse.Namespace, out: Output) -> int:
    target = refreshed_catalog_path()
    existed = target.exists()
    target.unlink(missing_ok=True)
    bundled = load_bundled_catalog()
    out.info(
        ("Removed " + str(target) if existed else "No refreshed catalog to remove")
        + f"; using the bundled catalog (as of {bundled.as_of})."
    )
    out.emit_json({"removed": str(target) if existed else None, **_summary(bundled)})
    return 0
