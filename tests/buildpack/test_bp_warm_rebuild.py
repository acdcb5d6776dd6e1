"""Warm rebuilds skip what is provably unchanged, say so, and redo it when it is not."""

from __future__ import annotations

from pathlib import Path

from bp_support import ClassicPlatform
from test_bp_cache_safety import site_packages, wheel

from pybuildpack.buildpack import deps
from pybuildpack.buildpack.build_cache import BuildCache

SKIPPED = "Skipping pip: dependencies restored from the cache as they were"
NOT_SAVED = "Build cache unchanged (same inputs, same files): not saved again"


def setup(platform: ClassicPlatform) -> dict[str, str]:
    house = platform.tmp / "wheels"
    house.mkdir(exist_ok=True)
    wheel(house, "dep_one")
    platform.env["PIP_FIND_LINKS"] = f"{house} {platform.env['PIP_FIND_LINKS']}"
    return {"requirements.txt": "dep_one==1.0\n"}


def test_an_unchanged_rebuild_skips_pip_and_the_save(platform: ClassicPlatform) -> None:
    app = setup(platform)
    built, _ = platform.compile(app)
    assert built.code == 0, built.log
    cache = BuildCache(platform.cache_dir)
    gen = cache.current
    built, build_dir = platform.compile(app)
    assert built.code == 0, built.log
    assert SKIPPED in built.out and "Installing dependencies" not in built.out
    assert NOT_SAVED in built.out
    assert cache.current == gen  # the same generation: nothing written
    assert "dep_one.py" in site_packages(build_dir)  # restored, as installed
    assert platform.report()["dependencies_reused"] is True


def test_changed_inputs_run_pip_again(platform: ClassicPlatform) -> None:
    app = setup(platform)
    assert platform.compile(app)[0].code == 0
    built, _ = platform.compile(app, PIP_UPGRADE="1")  # a PIP_* setting changed
    assert built.code == 0, built.log
    assert "Installing dependencies with pip" in built.out and SKIPPED not in built.out
    assert NOT_SAVED not in built.out  # the fingerprint changed: saved
    built, _ = platform.compile(app, PIP_UPGRADE="1")
    assert SKIPPED in built.out


def test_requirements_with_options_always_run_pip(platform: ClassicPlatform) -> None:
    app = setup(platform)
    app = {"requirements.txt": "-r more.txt\n", "more.txt": "dep_one==1.0\n"}
    for _ in range(2):
        built, build_dir = platform.compile(app)
        assert built.code == 0, built.log
        # uv or pip (PYBUILDPACK_INSTALLER=auto): either way it runs again
        assert "Installing dependencies with " in built.out and SKIPPED not in built.out
    assert "dep_one.py" in site_packages(build_dir)


def test_a_build_that_changes_files_is_saved(platform: ClassicPlatform) -> None:
    app = setup(platform)
    assert platform.compile(app)[0].code == 0
    gen = BuildCache(platform.cache_dir).current
    hook = "#!/bin/sh\nset -e\necho extra > .heroku/python/EXTRA\n"
    built, _ = platform.compile({**app, "bin/post_compile": hook})
    assert built.code == 0, built.log
    assert SKIPPED in built.out and NOT_SAVED not in built.out
    cache = BuildCache(platform.cache_dir)
    assert cache.current != gen
    python = cache.python_tree()
    assert python is not None and (python / "EXTRA").read_text() == "extra\n"


def test_fingerprint_refuses_what_pip_could_resolve_differently(tmp_path: Path) -> None:
    def fp(text: str, **settings: str) -> str | None:
        (tmp_path / "requirements.txt").write_text(text)
        return deps.pip_install_fingerprint(tmp_path, settings)

    assert fp("flask==3.1.3\n# comment\n\ngunicorn>=20 ; python_version >= '3.9'\n")
    assert fp("flask==3.1.3 --hash=sha256:00\n")
    for text in ("-e .\n", "-r other.txt\n", "--upgrade\nflask\n", "./local-dir\n",
                 "pkg @ https://example.com/pkg.whl\n", "git+https://example.com/x\n"):  # fmt: skip
        assert fp(text) is None, text
    assert fp("flask\n", PIP_INDEX_URL="a") != fp("flask\n", PIP_INDEX_URL="b")
    assert fp("flask\n", OTHER="a") == fp("flask\n", OTHER="b")
