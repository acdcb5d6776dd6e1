"""Classic (cedar) builds: sticky versions, cache reuse and invalidation, atomic saves."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bp_support import ClassicPlatform, local_series

from pybuildpack.buildpack.build_cache import BuildCache
from pybuildpack.cli import main as cli_main

REQS = {"requirements.txt": ""}


def older() -> str:
    return local_series()[0]


def newer() -> str:
    return local_series()[-1]  # the test catalog's default major


def runtime_file(platform: ClassicPlatform) -> Path:
    gen = BuildCache(platform.cache_dir).runtime_tree()
    assert gen is not None
    return gen / "RUNTIME"


def test_first_build_uses_default_and_records_everything(platform: ClassicPlatform) -> None:
    built, build_dir = platform.compile(REQS)
    assert built.code == 0, built.log
    assert f"No Python version was specified. Using the default: Python {newer()}" in built.out
    assert "Warning: No Python version was specified" in built.err
    report = platform.report()
    assert report["python_version_origin"] == "default"
    assert report["python_version_major"] == newer()
    assert report["cache_status"] == "empty"
    assert report["package_manager"] == "pip"
    assert report["python_version_pinned"] is False
    assert "total_duration" in report and "failure_reason" not in report
    state = BuildCache(platform.cache_dir).state()
    assert state is not None and state.stack == "heroku-24" and state.arch == "amd64"
    assert (platform.cache_dir / ".heroku" / "python-version").read_text() == (
        f"python-{state.python_version}\n"
    )
    assert (build_dir / ".heroku" / "python" / "RUNTIME").is_file()
    assert len(platform.installer.calls) == 1


def test_sticky_major_across_builds(platform: ClassicPlatform) -> None:
    built, _ = platform.compile({**REQS, ".python-version": f"{older()}\n"})
    assert built.code == 0, built.log
    first = platform.report()["python_version"]
    # The app stops stating a version: the default is newer(), but the cache keeps older().
    built, _ = platform.compile(REQS)
    assert built.code == 0, built.log
    assert (
        f"No Python version was specified. Using the same major version as the last build: "
        f"Python {older()}" in built.out
    )
    report = platform.report()
    assert report["python_version_origin"] == "cached"
    assert report["python_version"] == first
    assert report["cache_status"] == "reused"
    assert len(platform.installer.calls) == 1  # nothing installed the second time


def test_stated_version_overrides_the_cache(platform: ClassicPlatform) -> None:
    assert platform.compile({**REQS, ".python-version": f"{older()}\n"})[0].code == 0
    old = platform.report()["python_version"]
    built, build_dir = platform.compile({**REQS, ".python-version": f"{newer()}\n"})
    assert built.code == 0, built.log
    new = platform.report()["python_version"]
    assert new.startswith(newer() + ".")
    assert "Discarding cache since:" in built.out
    assert f"The Python version has changed from {old} to {new}" in built.out
    assert platform.report()["cache_status"] == "discarded"
    assert len(platform.installer.calls) == 2
    assert (build_dir / ".heroku" / "python" / "RUNTIME").read_text().startswith(newer())


def test_cache_clear_drops_the_sticky_version(platform: ClassicPlatform, capsys: object) -> None:
    assert platform.compile({**REQS, ".python-version": f"{older()}\n"})[0].code == 0
    assert cli_main(["cache", "clear", str(platform.cache_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert out["dropped_sticky_version"].startswith(older())
    assert ".heroku/pybuildpack" in out["removed"]
    assert BuildCache(platform.cache_dir).sticky_version() is None
    built, _ = platform.compile(REQS)
    assert built.code == 0, built.log
    assert platform.report()["python_version_origin"] == "default"
    assert platform.report()["python_version_major"] == newer()
    assert platform.report()["cache_status"] == "empty"


def test_empty_cache_dir_means_no_sticky_version(platform: ClassicPlatform) -> None:
    assert platform.compile({**REQS, ".python-version": f"{older()}\n"})[0].code == 0
    for child in platform.cache_dir.iterdir():  # the platform purged the cache
        import shutil

        shutil.rmtree(child)
    built, _ = platform.compile(REQS)
    assert built.code == 0
    assert platform.report()["python_version_major"] == newer()


def test_stack_change_discards_the_cache_but_keeps_the_sticky_major(
    platform: ClassicPlatform,
) -> None:
    built, _ = platform.compile({**REQS, ".python-version": f"{older()}\n"}, STACK="heroku-22")
    assert built.code == 0, built.log
    built, _ = platform.compile(REQS, STACK="heroku-24")
    assert built.code == 0, built.log
    assert "Discarding cache since:" in built.out
    assert "The stack has changed from heroku-22 to heroku-24" in built.out
    assert "Python version has changed" not in built.out  # same major, same latest patch
    assert platform.report()["python_version_major"] == older()
    assert platform.report()["cache_status"] == "discarded"
    assert [c["stack"] for c in platform.installer.calls] == ["heroku-22", "heroku-24"]


def test_arch_change_is_a_reason_too(platform: ClassicPlatform) -> None:
    assert platform.compile(REQS)[0].code == 0
    built, _ = platform.compile(REQS, PYBUILDPACK_ARCH="arm64")
    # heroku-24 has arm64 in the catalog; the fake installer ignores the arch
    assert built.code == 0, built.log
    assert "The CPU architecture has changed from amd64 to arm64" in built.out


def test_warm_rebuild_reuses_runtime_without_reinstalling(platform: ClassicPlatform) -> None:
    built, _ = platform.compile(REQS)
    assert built.code == 0, built.log
    before = os.stat(runtime_file(platform))
    built, second_dir = platform.compile(REQS)
    assert built.code == 0, built.log
    assert "Using cached Python" in built.out and "Installing Python" not in built.out
    assert len(platform.installer.calls) == 1
    after = os.stat(runtime_file(platform))
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # the new build dir's runtime is a copy of the cached one (not a re-extraction), and a
    # file of its own: nothing the build does to it reaches the cache
    copied = second_dir / ".heroku" / "python" / "RUNTIME"
    assert copied.read_bytes() == runtime_file(platform).read_bytes()
    assert os.stat(copied).st_ino != before.st_ino
    assert platform.report()["cache_status"] == "reused"


def test_dependency_change_keeps_the_runtime(platform: ClassicPlatform) -> None:
    assert platform.compile(REQS)[0].code == 0
    built, _ = platform.compile({"requirements.txt": "# now with a comment\n"})
    assert built.code == 0, built.log
    assert "Discarding cached dependencies since:" in built.out
    assert "The dependency files have changed" in built.out
    assert "Using cached Python" in built.out
    assert len(platform.installer.calls) == 1
    assert platform.report()["cache_status"] == "runtime-reused"


def test_failed_build_leaves_the_previous_cache_intact(platform: ClassicPlatform) -> None:
    assert platform.compile(REQS)[0].code == 0
    cache = BuildCache(platform.cache_dir)
    gen, state = cache.current, cache.state()
    built, _ = platform.compile({"requirements.txt": "no-such-package-xyz==1.0\n"})
    assert built.code == 1
    assert "[install-dependencies]" in built.err
    assert "Traceback" not in built.log
    assert cache.current == gen and cache.state() == state
    report = platform.report()
    assert report["failure_reason"] == "install-dependencies"
    assert report["failure_detail"] == report.get("dependency_installer", "pip")


def test_interrupted_save_leaves_the_previous_cache_intact(
    platform: ClassicPlatform, monkeypatch: object
) -> None:
    assert platform.compile(REQS)[0].code == 0
    cache = BuildCache(platform.cache_dir)
    gen, state = cache.current, cache.state()

    import pybuildpack.buildpack.build_cache as bc

    def failing(src: Path, dst: Path, snapshot: object) -> None:
        assert dst.parent.name.startswith(".staging-") and dst.name == "python"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bc, "save_tree", failing)  # type: ignore[attr-defined]
    built, _ = platform.compile({"requirements.txt": "# changed\n"})
    assert built.code == 1
    assert cache.current == gen and cache.state() == state
    assert not list((platform.cache_dir / ".heroku" / "pybuildpack").glob(".staging-*"))


def test_legacy_heroku_cache_gives_the_sticky_major(platform: ClassicPlatform) -> None:
    legacy = platform.cache_dir / ".heroku" / "python-version"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(f"python-{older()}.0\n")
    built, _ = platform.compile(REQS)
    assert built.code == 0, built.log
    assert platform.report()["python_version_origin"] == "cached"
    assert platform.report()["python_version_major"] == older()


def test_cache_info(platform: ClassicPlatform, capsys: object) -> None:
    assert platform.compile(REQS)[0].code == 0
    assert cli_main(["cache", "info", str(platform.cache_dir), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
    assert info["sticky_major"] == newer()
    assert info["state"]["package_manager"] == "pip"
    assert info["bytes"]["generation"] > 0
