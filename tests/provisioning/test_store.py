"""The runtime store: unpacked runtimes kept read-only by archive sha256, hard-linked into
new destinations, never written through, checked on use and rebuilt when damaged."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import py_compile
import stat
from pathlib import Path

import pytest

from pybuildpack.errors import PyBuildpackError
from pybuildpack.provision import store as store_module
from pybuildpack.provision.api import MARKER
from pybuildpack.provision.relocate import fix_shebangs
from pybuildpack.provision.store import MANIFEST, Store

from . import test_install as _shared
from .archives import compress, dir_entry, fake_runtime_entries, file_entry, link_entry, tar_bytes
from .loopback import LoopbackServer
from .test_install import Published, V, install, publish_pbs, run_python

server, unpacker, _fast_retries = _shared.server, _shared.unpacker, _shared._fast_retries

MINOR = "python3.12"


def runtime_archive() -> bytes:
    """A fake runtime with the kinds of files builds touch: a pip script, a .pth file,
    sysconfig data, a module with its bytecode, a package pip could replace."""
    p = "python/"
    entries = [
        dir_entry("python"),
        *fake_runtime_entries(V, p),
        file_entry(f"{p}bin/pip3", b"#!/build/prefix/bin/python3\nimport pip\n", 0o755),
        file_entry(f"{p}lib/{MINOR}/_sysconfigdata__linux_x86_64-linux-gnu.py", b"x = 1\n"),
        dir_entry(f"{p}lib/{MINOR}/__pycache__"),
        file_entry(f"{p}lib/{MINOR}/__pycache__/os.cpython-312.pyc", b"old bytecode"),
        dir_entry(f"{p}lib/{MINOR}/site-packages"),
        file_entry(f"{p}lib/{MINOR}/site-packages/distutils-precedence.pth", b"import os\n"),
        dir_entry(f"{p}lib/{MINOR}/site-packages/pkg"),
        file_entry(f"{p}lib/{MINOR}/site-packages/pkg/__init__.py", b"VERSION = 1\n"),
        link_entry(f"{p}lib/{MINOR}/site-packages/pkg/alias.py", "__init__.py"),
    ]
    return compress(tar_bytes(entries), "gz")


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything about a tree that a write could change: contents, modes, sizes, times."""
    out: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISREG(st.st_mode):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[rel] = ("file", digest, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
        elif stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path))
        else:
            out[rel] = ("dir", st.st_mode)
    return out


@pytest.fixture
def published(server: LoopbackServer, tmp_path: Path) -> Published:
    return publish_pbs(server, tmp_path, runtime_archive())


def entry_of(cache: Path, pub: Published) -> Path:
    return Store(cache).entry(pub.sha256)


def test_a_new_destination_is_linked_from_the_store(
    server: LoopbackServer, published: Published, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = install(published, tmp_path / "a", cache)
    assert first.cache_hit is False
    entry = entry_of(cache, published) / "runtime"
    second = install(published, tmp_path / "b", cache)
    assert second.cache_hit is True and second.bytes == 0
    assert server.hits[published.path] == 1
    b = tmp_path / "b"
    assert run_python(b, "--version") == f"Python {V}"
    module = f"lib/{MINOR}/os.py"
    assert (b / module).stat().st_ino == (entry / module).stat().st_ino  # a hard link
    assert stat.S_IMODE((entry / module).stat().st_mode) == 0o444  # read-only in the store
    for copied in ("bin/pip3", f"lib/{MINOR}/site-packages/distutils-precedence.pth"):
        assert (b / copied).stat().st_ino != (entry / copied).stat().st_ino
        assert (b / copied).stat().st_mode & 0o200  # a private, writable copy
    assert (b / "bin/pip3").read_bytes().startswith(b"#!/bin/sh")  # relocated once, in store
    assert os.readlink(b / f"lib/{MINOR}/site-packages/pkg/alias.py") == "__init__.py"
    assert json.loads((b / MARKER).read_text())["sha256"] == published.sha256
    assert not (entry / MARKER).exists()  # each destination has its own marker
    assert stat.S_IMODE(b.stat().st_mode) == 0o755
    assert stat.S_IMODE((b / "lib").stat().st_mode) == 0o755


def test_what_a_build_does_to_the_runtime_never_reaches_the_store(
    published: Published, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    install(published, tmp_path / "a", cache)
    entry = entry_of(cache, published)
    before = snapshot(entry)
    dest = tmp_path / "b"
    install(published, dest, cache)
    lib = dest / "lib" / MINOR
    # Relocation again (as after pip writes scripts), and in-place edits of the files
    # builds edit: shebangs, sysconfig data, .pth files (`>>`, `sed`-like rewrites).
    fix_shebangs(dest)
    with open(dest / "bin" / "pip3", "r+b") as f:
        f.write(b"#!/app/.heroku/python/bin/python3\n")
    edits = ("_sysconfigdata__linux_x86_64-linux-gnu.py", "site-packages/distutils-precedence.pth")
    for edited in edits:
        with open(lib / edited, "ab") as f:
            f.write(b"# edited in place\n")
    # Bytecode written as Python writes it (temporary name, then rename).
    py_compile.compile(str(lib / "os.py"), cfile=str(lib / "__pycache__" / "os.cpython-312.pyc"))
    # pip: replacing a package's file (unlink, then create), uninstalling (move away).
    init = lib / "site-packages" / "pkg" / "__init__.py"
    init.unlink()
    init.write_text("VERSION = 2\n")
    (lib / "site-packages" / "pkg").rename(tmp_path / "stash")
    (lib / "site-packages" / "new.py").write_text("x = 1\n")
    assert snapshot(entry) == before
    # ...and the store still passes its check: the next install links from it.
    third = install(published, tmp_path / "c", cache)
    assert third.cache_hit is True and snapshot(entry) == before
    restored = tmp_path / "c" / "lib" / MINOR / "site-packages" / "pkg" / "__init__.py"
    assert restored.read_text() == "VERSION = 1\n"


def _write_in_place(entry: Path) -> None:
    target = entry / "runtime" / "lib" / MINOR / "os.py"
    os.chmod(target, 0o644)  # as a careless root would; a user gets "Permission denied"
    with open(target, "r+b") as f:
        f.write(b"tampered")
    os.chmod(target, 0o444)


def _truncate(entry: Path) -> None:
    target = entry / "runtime" / "lib" / MINOR / "os.py"
    os.chmod(target, 0o644)
    os.truncate(target, 3)
    os.chmod(target, 0o444)


def _delete_file(entry: Path) -> None:
    (entry / "runtime" / "lib" / MINOR / "site-packages" / "pkg" / "__init__.py").unlink()


def _chmod(entry: Path) -> None:
    os.chmod(entry / "runtime" / "lib" / MINOR / "os.py", 0o666)


def _garble_manifest(entry: Path) -> None:
    (entry / MANIFEST).write_text((entry / MANIFEST).read_text()[:-40])


def _no_manifest(entry: Path) -> None:  # as a partial entry would be
    (entry / MANIFEST).unlink()


def _escaping_symlink(entry: Path) -> None:
    data = json.loads((entry / MANIFEST).read_text())
    data["entries"].append(["bin/evil", "l", "../../../outside"])
    data["digest"] = store_module._digest(data["entries"])
    (entry / MANIFEST).write_text(json.dumps(data))


@pytest.mark.parametrize(
    "damage",
    [_write_in_place, _truncate, _delete_file, _chmod, _garble_manifest, _no_manifest,
     _escaping_symlink],
)  # fmt: skip
def test_a_damaged_store_entry_is_detected_and_rebuilt(
    server: LoopbackServer, published: Published, tmp_path: Path, damage: object
) -> None:
    cache = tmp_path / "cache"
    install(published, tmp_path / "a", cache)
    entry = entry_of(cache, published)
    good = {k: v[:4] for k, v in snapshot(entry / "runtime").items()}
    damage(entry)  # type: ignore[operator]
    result = install(published, tmp_path / "b", cache)
    assert result.cache_hit is True  # rebuilt from the verified archive in the cache
    assert server.hits[published.path] == 1
    rebuilt = snapshot(entry / "runtime")
    assert {k: v[:4] for k, v in rebuilt.items() if v[0] != "file"} == {
        k: v for k, v in good.items() if v[0] != "file"
    }
    assert {k: v[1] for k, v in rebuilt.items() if v[0] == "file"} == {
        k: v[1] for k, v in good.items() if v[0] == "file"
    }
    b = tmp_path / "b"
    assert (b / "lib" / MINOR / "os.py").read_bytes() == b"# stdlib stand-in\n" * 200
    assert not (b / "bin" / "evil").exists()


def test_links_that_fail_fall_back_to_copies(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    install(published, tmp_path / "a", cache)

    def cross_device(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    result = install(published, tmp_path / "b", cache)
    assert result.cache_hit is True
    b = tmp_path / "b"
    module = b / "lib" / MINOR / "os.py"
    assert module.stat().st_nlink == 1 and stat.S_IMODE(module.stat().st_mode) == 0o644
    assert stat.S_IMODE((b / "bin" / MINOR).stat().st_mode) == 0o755
    assert run_python(b, "--version") == f"Python {V}"


def test_store_staging_of_killed_runs_is_removed(published: Published, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stale = cache / "store" / ".staging-999999-abc"
    (stale / "runtime").mkdir(parents=True)
    install(published, tmp_path / "a", cache)
    assert not stale.exists()
    assert sorted(p.name for p in (cache / "store").iterdir()) == [published.sha256]


def test_unverified_installs_make_no_store_entry(server: LoopbackServer, tmp_path: Path) -> None:
    pub = publish_pbs(server, tmp_path, runtime_archive(), sha_in_metadata=False)
    cache = tmp_path / "cache"
    install(pub, tmp_path / "a", cache, allow_unverified=True)
    assert not (cache / "store").exists() or not any((cache / "store").iterdir())


def test_a_broken_runtime_makes_no_store_entry(server: LoopbackServer, tmp_path: Path) -> None:
    from .archives import fake_archive

    pub = publish_pbs(server, tmp_path, fake_archive("3.12.0", "pbs"))  # says 3.12.0, not V
    cache = tmp_path / "cache"
    with pytest.raises(PyBuildpackError) as info:
        install(pub, tmp_path / "a", cache)
    assert info.value.id == "install-python::broken-runtime"
    assert [p.name for p in (cache / "store").iterdir()] == []
