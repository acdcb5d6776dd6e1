"""build_cache.copy_files: many files are copied (or linked) by two processes, as one would."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pybuildpack.buildpack import build_cache


def pairs_for(tmp: Path, n: int) -> list[tuple[str, str]]:
    src, dst = tmp / "src", tmp / "dst"
    src.mkdir()
    dst.mkdir()
    out = []
    for i in range(n):
        f = src / f"f{i}"
        f.write_bytes(f"file {i}\n".encode() * (i % 7))
        f.chmod(0o755 if i % 3 == 0 else 0o644)
        os.utime(f, ns=(1_000_000_000 * i, 1_000_000_000 * i + 17))
        out.append((str(f), str(dst / f"f{i}")))
    return out


def same(pairs: list[tuple[str, str]]) -> None:
    for s, t in pairs:
        a, b = os.lstat(s), os.lstat(t)
        assert Path(t).read_bytes() == Path(s).read_bytes(), t
        assert (a.st_mode, a.st_mtime_ns) == (b.st_mode, b.st_mtime_ns), t
        assert a.st_ino != b.st_ino


def test_many_files_are_copied_by_two_processes_as_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forks = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    pairs = pairs_for(tmp_path, build_cache.PARALLEL_COPIES + 1)
    build_cache.copy_files(pairs)
    assert len(forks) == 1
    same(pairs)


def test_a_failure_in_the_child_is_raised_after_it_ended(tmp_path: Path) -> None:
    pairs = pairs_for(tmp_path, build_cache.PARALLEL_COPIES + 1)
    pairs[-1] = (pairs[-1][0], str(tmp_path / "missing-folder" / "x"))  # the child's half
    with pytest.raises(OSError, match="FileNotFoundError"):
        build_cache.copy_files(pairs)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left behind
    same(pairs[: len(pairs) // 2])  # the parent's half was copied


def test_no_fork_while_another_thread_runs_or_for_few_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_fork() -> int:
        raise AssertionError("forked")

    monkeypatch.setattr(os, "fork", no_fork)
    (tmp_path / "few").mkdir()
    few = pairs_for(tmp_path / "few", build_cache.PARALLEL_COPIES - 1)
    build_cache.copy_files(few)
    same(few)
    (tmp_path / "many").mkdir()
    many = pairs_for(tmp_path / "many", build_cache.PARALLEL_COPIES + 1)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        build_cache.copy_files(many)
    finally:
        stop.set()
        other.join()
    same(many)


@pytest.mark.parametrize("n", [10, build_cache.PARALLEL_COPIES + 1], ids=["alone", "forked"])
def test_links_share_the_origin_and_fall_back_to_copying_the_source(tmp_path: Path, n: int) -> None:
    """A link target gets the origin's inode; where the link fails (no origin), a copy of
    the source: in one process and in two."""
    pairs = pairs_for(tmp_path, n)
    origins = tmp_path / "origins"
    origins.mkdir()
    links = []
    for i, (s, t) in enumerate(pairs[: n // 2]):
        origin = origins / f"o{i}"
        if i % 5:  # every fifth origin is missing
            origin.write_bytes(Path(s).read_bytes())
        links.append((str(origin), t, s))
    copies = pairs[n // 2 :]
    build_cache.copy_files(copies, links)
    same(copies)
    for origin, t, s in links:
        if Path(origin).exists():
            assert os.lstat(t).st_ino == os.lstat(origin).st_ino, t
        else:
            same([(s, t)])
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left behind
