"""bin/pre_compile and bin/post_compile run as on Heroku: with BUILD_DIR, CACHE_DIR and
ENV_DIR set, under their own #! interpreter whether or not they are executable, and under
bash when they have no #! line. (A failing pre_compile ends the build before anything is
installed, which lets these tests run without a Python runtime to install.)"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from pybuildpack.buildpack import classic
from pybuildpack.buildpack.build_data import read_report
from pybuildpack.buildpack.log import BuildLog


def compile_with_hook(tmp_path: Path, hook: str, *, executable: bool) -> tuple[int, str, Path]:
    build = tmp_path / "build"
    (build / "bin").mkdir(parents=True)
    (build / "requirements.txt").write_text("")
    script = build / "bin" / "pre_compile"
    script.write_text(hook)
    script.chmod(0o755 if executable else 0o644)
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "SOME_APP_CONFIG_VAR").write_text("1")
    cache = tmp_path / "cache"
    out = io.StringIO()
    environ = {"STACK": "heroku-24", "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)}
    code = classic.compile(
        build, cache, env_dir, environ=environ, log=BuildLog(out=out, err=io.StringIO())
    )
    return code, out.getvalue(), cache


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("executable", [True, False])
def test_pre_compile_gets_build_cache_and_env_dirs(tmp_path: Path, executable: bool) -> None:
    """Heroku's own fixture: a bash hook, committed without the executable bit, printing
    its environment (then failing, so the build stops here)."""
    hook = (
        "#!/usr/bin/env bash\nset -euo pipefail\n"
        'echo "build=$BUILD_DIR cache=$CACHE_DIR env=$ENV_DIR var=$SOME_APP_CONFIG_VAR"\n'
        'echo "shell=${BASH_VERSION:+bash}"\nexit 3\n'
    )
    code, out, cache = compile_with_hook(tmp_path, hook, executable=executable)
    assert code == 1
    build = (tmp_path / "build").resolve()
    assert f"build={build} cache={cache.resolve()} env={(tmp_path / 'env').resolve()} var=1" in out
    assert "shell=bash" in out
    assert read_report(cache)["failure_reason"] == "hooks::failed"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_hook_without_a_shebang_runs_under_bash(tmp_path: Path) -> None:
    hook = 'if [[ -n "${BASH_VERSION:-}" ]]; then echo ran-by-bash; fi\nexit 1\n'
    code, out, _ = compile_with_hook(tmp_path, hook, executable=False)
    assert code == 1 and "ran-by-bash" in out


@pytest.mark.skipif(shutil.which("python3") is None, reason="needs python3 on PATH")
def test_a_hook_runs_under_its_own_interpreter_even_when_not_executable(tmp_path: Path) -> None:
    hook = "#!/usr/bin/env python3\nimport sys\nprint('ran-by-python')\nsys.exit(2)\n"
    code, out, _ = compile_with_hook(tmp_path, hook, executable=False)
    assert code == 1 and "ran-by-python" in out


def test_hook_command_reads_the_shebang_as_the_kernel_does(tmp_path: Path) -> None:
    script = tmp_path / "hook"
    script.write_text("#!/bin/sh -e\necho\n")
    assert classic.hook_command(script) == ["/bin/sh", "-e", str(script)]
    script.write_text("echo no shebang\n")
    assert classic.hook_command(script)[1:] == [str(script)]
    assert Path(classic.hook_command(script)[0]).name in ("bash", "sh")
