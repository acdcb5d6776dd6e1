"""Django's ``collectstatic`` after the dependencies are installed (classic builds).

Runs ``python manage.py collectstatic --noinput`` when Django is importable in the runtime
and the app has a ``manage.py`` (the shallowest one at most three levels deep, as a
``find -maxdepth 3 -type f`` would find it). ``DISABLE_COLLECTSTATIC`` set to anything but
``0`` skips it, and so does the deprecated ``.heroku/collectstatic_disabled`` file (with a
warning). A failure fails the build with ``collectstatic::failed``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pybuildpack.buildpack.build_data import BuildData
from pybuildpack.buildpack.log import BuildLog
from pybuildpack.errors import CollectstaticDisabledFile, CollectstaticFailed

MAX_DEPTH = 3  # manage.py at the root is depth 1
# Lines of collectstatic's output not worth a build log line each.
_QUIET_PREFIXES = ("Copying ", "Post-processed ")


def find_manage_py(app_dir: Path) -> str | None:
    """The app's ``manage.py`` relative to ``app_dir``: shallowest first, then by path.
    Symbolic links (to files or directories) are not followed."""
    found: list[tuple[int, str]] = []
    for dirpath, dirnames, filenames in os.walk(app_dir):
        rel = Path(dirpath).relative_to(app_dir)
        depth = len(rel.parts) + 1  # of the files in this directory
        if depth >= MAX_DEPTH:
            dirnames[:] = []
        else:
            dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
        if "manage.py" in filenames:
            path = Path(dirpath) / "manage.py"
            if not path.is_symlink() and path.is_file():
                found.append((depth, (rel / "manage.py").as_posix()))
    return min(found)[1] if found else None


def django_installed(
    python: Path, env: Mapping[str, str], cwd: Path, site: Path | None = None
) -> bool:
    """Whether the runtime's Python finds a ``django`` module (``find_spec``, run in it).

    ``site``: that Python's site-packages, which its ``sys.path`` always holds (the site
    module adds it; no setting of the build removes it). A ``django`` package there answers
    yes without starting Python (~10 ms of every Django build); any other answer comes from
    Python itself (``PYTHONPATH``, ``.pth`` files and import hooks count there)."""
    if site is not None and (site / "django" / "__init__.py").is_file():
        return True
    probe = "import importlib.util, sys; sys.exit(importlib.util.find_spec('django') is None)"
    try:
        proc = subprocess.run(
            [str(python), "-c", probe], env=dict(env), cwd=cwd, capture_output=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def failure_kind(output: str) -> str:
    """What went wrong, from the command's output (a stable word for the build report)."""
    for needle, kind in (
        ("SyntaxError", "syntax-error"),
        ("ImproperlyConfigured", "improper-configuration"),
        ("The CSS file", "fancy-references"),
        ("OSError", "missing-file"),
    ):
        if needle in output:
            return kind
    return "other"


def collectstatic(
    app_dir: Path,
    python: Path,
    env: Mapping[str, str],
    log: BuildLog,
    data: BuildData,
    site: Path | None = None,
) -> None:
    """Run collectstatic when it applies; record ``django_collectstatic`` in the report.
    ``site``: the runtime's site-packages, if known (``django_installed``)."""
    if (app_dir / ".heroku" / "collectstatic_disabled").exists():
        log.step("Skipping Django collectstatic: the file .heroku/collectstatic_disabled exists")
        log.warning(CollectstaticDisabledFile())
        data.set("django_collectstatic", "disabled-file")
        return
    if env.get("DISABLE_COLLECTSTATIC", "0") not in ("", "0"):
        log.step("Skipping Django collectstatic: DISABLE_COLLECTSTATIC is set")
        data.set("django_collectstatic", "disabled-env-var")
        return
    if not django_installed(python, env, app_dir, site):
        return
    manage = find_manage_py(app_dir)
    if manage is None:
        log.step("Skipping Django collectstatic: no manage.py found")
        data.set("django_collectstatic", "skipped-no-manage-py")
        return
    data.set("django_collectstatic", "enabled")
    log.step(f"$ python {manage} collectstatic --noinput")
    run_env = {**env, "PYTHONPATH": env.get("PYTHONPATH") or "."}
    with data.timed("django_collectstatic"):
        proc = subprocess.Popen(
            [str(python), manage, "collectstatic", "--noinput", "--traceback"],
            cwd=app_dir,
            env=run_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:
            seen.append(line.rstrip("\n"))
            if line.strip() and not line.startswith(_QUIET_PREFIXES):
                log.lines([line])
        code = proc.wait()
    if code == 0:
        return
    if env.get("DEBUG_COLLECTSTATIC") == "1":
        log.info("Environment collectstatic ran with (DEBUG_COLLECTSTATIC=1):")
        log.lines([f"{k}={v}\n" for k, v in sorted(run_env.items())])
    shown = [s for s in seen if s.strip()][-20:]
    raise CollectstaticFailed(
        kind=failure_kind("\n".join(seen)),
        manage_py=manage,
        exit_code=code,
        output="\n".join(shown) or "(no output)",
    )
