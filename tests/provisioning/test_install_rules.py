"""Rules 1 and 5-9 of the security model through ``install_python`` (both unpackers):
staging before the digest, what may be replaced and how, the download cache, deadlines and
locks, plain http, modes and typed errors."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from pybuildpack.errors import PyBuildpackError
from pybuildpack.provision import api
from pybuildpack.provision.api import MARKER
from pybuildpack.provision.store import Store

from . import test_install as _shared
from .archives import compress, dir_entry, fake_archive, fake_runtime_entries, link_entry, tar_bytes
from .loopback import LoopbackServer
from .test_install import V, assert_nothing_installed, install, publish_pbs, run_python

# The same fixtures as test_install: a loopback server (plain http, allowed explicitly),
# every test with both unpackers, quick retries.
server, unpacker, _fast_retries = _shared.server, _shared.unpacker, _shared._fast_retries


def _error(fn: object, *args: object, **kwargs: object) -> PyBuildpackError:
    with pytest.raises(PyBuildpackError) as exc:
        fn(*args, **kwargs)  # type: ignore[operator]
    return exc.value


def test_hostile_archive_with_a_wrong_digest_touches_nothing_outside(
    server: LoopbackServer, tmp_path: Path
) -> None:
    (tmp_path / "victim").write_text("precious")
    entries = [
        dir_entry("python"),
        *fake_runtime_entries(V, "python/"),
        link_entry("python/lib/up", "../../.."),
        link_entry("python/lib/esc", "up/../victim"),
    ]
    pub = publish_pbs(server, tmp_path, compress(tar_bytes(entries), "gz"))
    doc = json.loads(pub.downloads.read_text())
    doc["sources"]["pbs"]["archives"][0]["sha256"] = "1" * 64
    pub.downloads.write_text(json.dumps(doc))
    dest = tmp_path / "box" / "py"
    err = _error(install, pub, dest, tmp_path / "cache")
    assert err.id == "install-python::checksum-mismatch"
    assert (tmp_path / "victim").read_text() == "precious"
    assert_nothing_installed(dest)


# --------------------------------------------------------------------------- rule 5


def test_a_virtualenv_is_never_replaced(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python3").write_text("#!/bin/sh\n")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    err = _error(install, pub, venv, tmp_path / "cache")
    assert err.id == "cli::usage" and MARKER in str(err)
    assert (venv / "pyvenv.cfg").read_text() == "home = /usr/bin\n"


def test_a_marked_runtime_is_replaced_by_exchange(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pybuildpack.provision import atomic

    old = publish_pbs(server, tmp_path, version="3.12.0")
    dest = tmp_path / "py"
    api.install_python(api.PythonVersion.parse("3.12.0"), dest, downloads=old.downloads,
                       arch="amd64", cache_dir=tmp_path / "c", progress=False)  # fmt: skip
    renames: list[tuple[str, str]] = []
    real_rename = os.rename
    monkeypatch.setattr(os, "rename", lambda a, b: (renames.append((a, b)), real_rename(a, b)))
    exchanged: list[bool] = []
    real_exchange = atomic.exchange

    def exchange(a: Path, b: Path) -> bool:
        exchanged.append(real_exchange(a, b))
        return exchanged[-1]

    monkeypatch.setattr(atomic, "exchange", exchange)
    install(publish_pbs(server, tmp_path), dest, tmp_path / "c")
    assert exchanged == [True] and renames == []  # one atomic step, no window
    assert run_python(dest, "--version") == f"Python {V}"


def test_a_kill_between_fallback_renames_is_repaired(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pybuildpack.provision import atomic

    pub = publish_pbs(server, tmp_path)
    dest = tmp_path / "py"
    install(pub, dest, tmp_path / "c")
    monkeypatch.setattr(atomic, "exchange", lambda a, b: False)  # no renameat2 here
    calls = []
    real_rename = os.rename

    def killed(a: object, b: object) -> None:
        calls.append(a)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies between the two renames
        real_rename(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "rename", killed)
    other = tmp_path / "other.json"
    doc = json.loads(pub.downloads.read_text())
    doc["sources"]["pbs"]["archives"][0]["file"] = pub.path.rsplit("/", 1)[1]
    other.write_text(json.dumps(doc))
    (dest / MARKER).write_text(json.dumps({"version": "3.12.0", "sha256": "x"}))
    with pytest.raises(KeyboardInterrupt):
        install(pub, dest, tmp_path / "c")
    monkeypatch.setattr(os, "rename", real_rename)
    assert not dest.exists()  # the window the fallback has...
    olds = list(tmp_path.glob(".py.pybuildpack-old-*"))
    assert olds
    for p in olds:  # ...as left by a process that is gone
        p.rename(p.with_name(p.name.replace(f"-{os.getpid()}-", "-999999-")))
    api.remove_stale_temps(dest)
    assert json.loads((dest / MARKER).read_text())["version"] == "3.12.0"  # old one back


# --------------------------------------------------------------------------- rule 6


def test_a_swapped_cache_entry_is_dropped_and_fetched_again(
    server: LoopbackServer, tmp_path: Path
) -> None:
    pub = publish_pbs(server, tmp_path)
    cache = tmp_path / "cache"
    install(pub, tmp_path / "a", cache)
    (entry,) = [p for p in cache.iterdir() if p.name.startswith(pub.sha256)]
    entry.write_bytes(fake_archive("3.12.0", "pbs"))  # another valid archive
    Store(cache).clear()  # the runtime store would serve it: this tests the archive beneath
    result = install(pub, tmp_path / "b", cache)
    assert result.cache_hit is False and server.hits[pub.path] == 2
    assert run_python(tmp_path / "b", "--version") == f"Python {V}"
    assert entry.read_bytes() == pub.data


def test_a_truncated_cache_entry_is_fetched_again(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path)
    cache = tmp_path / "cache"
    install(pub, tmp_path / "a", cache)
    (entry,) = [p for p in cache.iterdir() if p.name.startswith(pub.sha256)]
    entry.write_bytes(pub.data[: len(pub.data) // 2])
    Store(cache).clear()
    install(pub, tmp_path / "b", cache)
    assert server.hits[pub.path] == 2 and entry.read_bytes() == pub.data


def test_partial_downloads_of_killed_runs_are_removed(
    server: LoopbackServer, tmp_path: Path
) -> None:
    pub = publish_pbs(server, tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    mine = cache / f".{pub.sha256}.{pub.path.rsplit('/', 1)[1]}.abc.part"
    old = cache / ".other.thing.xyz.part"
    mine.write_bytes(b"half")
    old.write_bytes(b"half")
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    install(pub, tmp_path / "py", cache)
    assert not mine.exists() and not old.exists()


# --------------------------------------------------------------------------- rule 7


def test_a_trickling_server_hits_the_deadline(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pub = publish_pbs(server, tmp_path)
    server.faults[pub.path] = ["slow"]
    server.slow_delay = 0.05  # ~10 s for the whole body, data never stalls for long
    monkeypatch.setenv("PYBUILDPACK_DOWNLOAD_DEADLINE", "0.5")
    start = time.monotonic()
    err = _error(install, pub, tmp_path / "py", tmp_path / "cache")
    assert err.id == "install-python::download-too-slow"
    assert time.monotonic() - start < 8
    assert_nothing_installed(tmp_path / "py")


def test_a_lock_wait_times_out_naming_the_holder(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pybuildpack.provision.cache import DownloadCache

    pub = publish_pbs(server, tmp_path)
    cache = DownloadCache(tmp_path / "cache")
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with cache.lock(pub.sha256, "the first install"):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        held.wait(10)
        monkeypatch.setenv("PYBUILDPACK_LOCK_TIMEOUT", "0.3")
        err = _error(install, pub, tmp_path / "py", tmp_path / "cache")
    finally:
        release.set()
        thread.join()
    assert err.id == "install-python::lock-timeout"
    text = " ".join(str(err).split())
    assert f"process {os.getpid()}" in text and "the first install" in text


# --------------------------------------------------------------------------- rule 8


def test_plain_http_is_refused_unless_allowed(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pub = publish_pbs(server, tmp_path)
    monkeypatch.delenv("PYBUILDPACK_ALLOW_INSECURE_HTTP")
    err = _error(install, pub, tmp_path / "py", tmp_path / "cache")
    assert err.id == "install-python::insecure-url"
    assert server.hits[pub.path] == 0 and server.heads[pub.path] == 0
    install(pub, tmp_path / "py", tmp_path / "cache", allow_insecure_http=True)


# --------------------------------------------------------------------------- rule 9


def test_runtime_is_world_readable_under_a_strict_umask(
    server: LoopbackServer, tmp_path: Path
) -> None:
    pub = publish_pbs(server, tmp_path)
    dest = tmp_path / "py"
    old = os.umask(0o077)
    try:
        install(pub, dest, tmp_path / "cache")
    finally:
        os.umask(old)
    assert dest.stat().st_mode & 0o777 == 0o755
    for path in dest.rglob("*"):
        if not path.is_symlink():
            assert path.stat().st_mode & 0o444 == 0o444, path


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_bad_timeouts_are_typed_errors(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    pub = publish_pbs(server, tmp_path)
    monkeypatch.setenv("PYBUILDPACK_HTTP_TIMEOUT", value)
    err = _error(install, pub, tmp_path / "py", tmp_path / "cache")
    assert err.id == "install-python::invalid-setting" and "PYBUILDPACK_HTTP_TIMEOUT" in str(err)


def test_unusable_destination_and_cache_are_typed_errors(
    server: LoopbackServer, tmp_path: Path
) -> None:
    pub = publish_pbs(server, tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    err = _error(install, pub, blocker / "py", tmp_path / "cache")
    assert err.id == "install-python::destination-unusable"
    err = _error(install, pub, tmp_path / "py", blocker / "cache")
    assert err.id == "install-python::cache-unusable"
