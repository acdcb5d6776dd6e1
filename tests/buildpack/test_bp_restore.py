"""Restoring the build cache: runtime files still as installed are linked from the machine's
runtime store (``provision.store``); everything else is copied from the cache, and no build
file is ever a cache file. The cache links a build's unchanged runtime files to its own
pristine copy (no second copy of the runtime per generation)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from bp_support import ClassicPlatform

from pybuildpack.buildpack import build_cache
from pybuildpack.buildpack.build_cache import (
    RUNTIME_MARKER,
    BuildCache,
    copy_runtime_aside,
    link_tree,
    restore_tree,
    store_files,
)
from pybuildpack.provision.store import Store

SHA = "ab" * 32
FILES = {
    "lib/os.py": "stdlib\n",
    "lib/sub/a.py": "a = 1\n",
    "lib/big.py": "x" * 100,
    "bin/script": "#!/app/bin/python3\n",  # the store copies scripts: builds edit them
}


def all_files(root: Path) -> list[Path]:
    return [Path(d, f) for d, _, names in os.walk(root) for f in names]


def setup(tmp: Path) -> tuple[Path, Path, Path]:
    """A store entry, and a cache whose pristine runtime came from it and whose build tree
    has one runtime file replaced (same size and mtime) and one new file."""
    downloads = tmp / "downloads"
    store = Store(downloads)
    staging = store.new_staging()
    for rel, text in FILES.items():
        p = staging / "runtime" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    store.seal(staging, SHA, {"version": "3.13.0"})
    gen = tmp / "cache" / "gen"
    runtime, python = gen / "runtime", gen / "python"
    shutil.copytree(store.entry(SHA) / "runtime", runtime)  # modes and mtimes kept
    (runtime / RUNTIME_MARKER).write_text(json.dumps({"version": "3.13.0", "sha256": SHA}))
    link_tree(runtime, python)  # the cache's unchanged build files are its runtime's
    big = python / "lib" / "big.py"
    st = big.stat()
    big.unlink()
    big.write_text("y" * 100)  # another file, same size and mtime
    os.chmod(big, st.st_mode)
    os.utime(big, ns=(st.st_atime_ns, st.st_mtime_ns))
    (python / "lib" / "new.py").write_text("new\n")
    return downloads, runtime, python


def test_unchanged_runtime_files_come_from_the_store(tmp_path: Path) -> None:
    downloads, runtime, python = setup(tmp_path)
    store = store_files(downloads, runtime)
    assert store is not None and "bin/script" not in store.files
    dest = tmp_path / "build"
    done = restore_tree(python, dest, runtime=runtime, store=store)
    entry = Store(downloads).entry(SHA) / "runtime"
    assert done.linked == 2 and done.refused == 0
    assert (dest / "lib" / "os.py").samefile(entry / "lib" / "os.py")
    assert (dest / "lib" / "sub" / "a.py").samefile(entry / "lib" / "sub" / "a.py")
    # the replaced file (not the pristine inode), the script and the new file: copies
    assert (dest / "lib" / "big.py").read_text() == "y" * 100
    assert not (dest / "bin" / "script").samefile(entry / "bin" / "script")
    assert (dest / "lib" / "new.py").read_text() == "new\n"
    cache_inodes = {p.stat().st_ino for p in all_files(tmp_path / "cache")}
    assert not {p.stat().st_ino for p in all_files(dest)} & cache_inodes
    assert set(done.snapshot.stamps) == {*FILES, "lib/new.py", RUNTIME_MARKER}


def test_a_store_file_edited_in_place_is_copied_from_the_cache(tmp_path: Path) -> None:
    downloads, runtime, python = setup(tmp_path)
    store = store_files(downloads, runtime)  # read before the edit, as a build would
    victim = Store(downloads).entry(SHA) / "runtime" / "lib" / "sub" / "a.py"
    victim.chmod(0o644)
    with victim.open("a") as f:  # what root can do to a read-only file
        f.write("edited = True\n")
    victim.chmod(0o444)
    dest = tmp_path / "build"
    done = restore_tree(python, dest, runtime=runtime, store=store)
    assert done.linked == 1 and done.refused == 1
    assert (dest / "lib" / "sub" / "a.py").read_text() == "a = 1\n"
    assert not (dest / "lib" / "sub" / "a.py").samefile(victim)


def test_without_a_store_entry_everything_is_copied(tmp_path: Path) -> None:
    downloads, runtime, python = setup(tmp_path)
    Store(downloads).drop(SHA)
    assert store_files(downloads, runtime) is None
    (runtime / RUNTIME_MARKER).write_text("{}")  # no sha256: no entry either
    assert store_files(downloads, runtime) is None
    dest = tmp_path / "build"
    done = restore_tree(python, dest, runtime=runtime, store=None)
    assert done.linked == 0
    assert (dest / "lib" / "os.py").read_text() == "stdlib\n"
    assert all(p.stat().st_nlink == 1 for p in all_files(dest))


def test_a_manifest_path_through_a_symlink_is_never_linked(tmp_path: Path) -> None:
    """Only files below folders the manifest lists as folders are linked."""
    downloads, runtime, _ = setup(tmp_path)
    manifest_path = Store(downloads).entry(SHA) / "manifest.json"
    doc = json.loads(manifest_path.read_text())
    doc["entries"] = [e for e in doc["entries"] if e[0] != "lib/sub"] + [["lib/sub", "l", "."]]
    from pybuildpack.provision.store import _digest

    doc["digest"] = _digest(doc["entries"])
    manifest_path.chmod(0o644)
    manifest_path.write_text(json.dumps(doc))
    store = store_files(downloads, runtime)
    assert store is not None and "lib/sub/a.py" not in store.files and "lib/os.py" in store.files


def test_a_cold_save_links_the_unchanged_runtime_within_the_cache(
    platform: ClassicPlatform,
) -> None:
    """The build tree's files unchanged since the install are linked to the cache's
    pristine runtime, not copied a second time."""
    built, _ = platform.compile({"requirements.txt": ""})
    assert built.code == 0, built.log
    cache = BuildCache(platform.cache_dir)
    runtime, python = cache.runtime_tree(), cache.python_tree()
    assert runtime is not None and python is not None
    assert (python / "RUNTIME").samefile(runtime / "RUNTIME")
    [os_py] = python.glob("lib/python3.*/os.py")
    assert os_py.samefile(runtime / os_py.relative_to(python))


# --------------------------------------------------------------------------- the pristine copy


def installed(tmp: Path) -> tuple[Path, Path, Path]:
    """A store entry and a runtime installed from it as the provisioning layer does: the
    store's files linked, the script copied, a marker added."""
    downloads, _, _ = setup(tmp)
    entry = Store(downloads).entry(SHA) / "runtime"
    dest = tmp / "build" / "python"
    for rel in FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel.startswith("bin/"):
            shutil.copy2(entry / rel, dest / rel)
        else:
            os.link(entry / rel, dest / rel)
    (dest / RUNTIME_MARKER).write_text(json.dumps({"version": "3.13.0", "sha256": SHA}))
    return downloads, entry, dest


class StartLater:
    """threading.Thread, except that the target runs when joined (deterministic tests)."""

    def __init__(self, target: Any, daemon: bool = False) -> None:
        self.target = target

    def start(self) -> None:
        pass

    def join(self) -> None:
        self.target()


def test_the_pristine_copy_takes_store_files_from_the_store(tmp_path: Path) -> None:
    downloads, entry, dest = installed(tmp_path)
    stamps_before = {rel: os.lstat(dest / rel) for rel in FILES}
    job = copy_runtime_aside(dest, tmp_path / "pristine", store_files(downloads, dest))
    assert job.thread is not None  # the store's files are copied in the background
    # the build may now change its tree: the copy is of the runtime as installed
    (dest / "lib" / "os.py").unlink()
    (dest / "lib" / "os.py").write_text("replaced by the build\n")
    assert job.finish()
    pristine = tmp_path / "pristine"
    for rel in FILES:
        got, want = pristine / rel, entry / rel
        assert got.read_bytes() == want.read_bytes(), rel
        assert (got.stat().st_mode, got.stat().st_mtime_ns) == (
            want.stat().st_mode,
            want.stat().st_mtime_ns,
        )
        assert not got.samefile(want) and not got.samefile(dest / rel)
        st = stamps_before[rel]
        assert job.snapshot.stamps[rel][:3] == (st.st_ino, st.st_size, st.st_mtime_ns)
    assert json.loads((pristine / RUNTIME_MARKER).read_text())["sha256"] == SHA


def test_a_store_file_changed_during_the_build_means_no_pristine_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads, entry, dest = installed(tmp_path)
    monkeypatch.setattr(build_cache.threading, "Thread", StartLater)
    job = copy_runtime_aside(dest, tmp_path / "pristine", store_files(downloads, dest))
    victim = entry / "lib" / "os.py"
    victim.chmod(0o644)
    with victim.open("a") as f:  # root, in place, through the build tree's link
        f.write("# edited\n")
    assert not job.finish()
    assert job.changed == "lib/os.py"


def test_without_the_store_the_pristine_copy_is_made_at_once(tmp_path: Path) -> None:
    _, _, dest = installed(tmp_path)
    job = copy_runtime_aside(dest, tmp_path / "pristine", None)
    assert job.thread is None and job.finish()
    assert (tmp_path / "pristine" / "lib" / "os.py").read_text() == "stdlib\n"
