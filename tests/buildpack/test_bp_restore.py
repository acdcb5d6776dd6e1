"""Restoring the build cache: runtime files still as installed are linked from the machine's
runtime store (``provision.store``); everything else is copied from the cache, and no build
file is ever a cache file. The cache links a build's unchanged runtime files to its own
pristine copy (no second copy of the runtime per generation)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from bp_support import ClassicPlatform

from pybuildpack.buildpack.build_cache import (
    RUNTIME_MARKER,
    BuildCache,
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
