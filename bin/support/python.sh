# Sourced by bin/detect, bin/compile, bin/release, bin/report and bin/build (POSIX sh).
# Finds a Python >= 3.10 that can run pybuildpack, then runs the buildpack phase with it:
#   1. $PYBUILDPACK_PYTHON (used as given; an unusable one is an error, not skipped)
#   2. a venv made for pybuildpack: $BP_DIR/.venv, else $RUNNER_DIR/venv (in the build cache)
#   3. python3, python3.14 ... python3.10 on PATH, if they can import pybuildpack's deps
#   4. a new venv (2.) made from the first Python >= 3.10 on PATH, deps from the package index
# pybuildpack runs with -E, so the app's PYTHONHOME/PYTHONPATH never affect it.

PYBUILDPACK_CHECK='import sys
assert sys.version_info >= (3, 10)
sys.path.insert(0, sys.argv[1])
import packaging.specifiers, urllib3, zstandard, platformdirs, filelock
if sys.version_info < (3, 11):
    import tomli'

pybuildpack_usable() {
  "$1" -E -c "$PYBUILDPACK_CHECK" "$BP_DIR/src" >/dev/null 2>&1
}

pybuildpack_find_python() {
  if [ -n "${PYBUILDPACK_PYTHON:-}" ]; then
    if pybuildpack_usable "$PYBUILDPACK_PYTHON"; then
      PY=$PYBUILDPACK_PYTHON
      return 0
    fi
    echo " !     PYBUILDPACK_PYTHON=$PYBUILDPACK_PYTHON cannot run pybuildpack: it must be" >&2
    echo " !     Python >= 3.10 with pybuildpack's dependencies (bin/support/requirements.txt)." >&2
    return 1
  fi
  for candidate in "$BP_DIR/.venv/bin/python" ${RUNNER_DIR:+"$RUNNER_DIR/venv/bin/python"}; do
    if [ -x "$candidate" ] && pybuildpack_usable "$candidate"; then
      PY=$candidate
      return 0
    fi
  done
  for name in python3 python3.14 python3.13 python3.12 python3.11 python3.10; do
    candidate=$(command -v "$name" 2>/dev/null) || continue
    if pybuildpack_usable "$candidate"; then
      PY=$candidate
      return 0
    fi
  done
  [ -z "${PYBUILDPACK_NO_VENV:-}" ] || return 1
  pybuildpack_make_venv
}

pybuildpack_make_venv() {
  base=
  for name in python3 python3.14 python3.13 python3.12 python3.11 python3.10; do
    candidate=$(command -v "$name" 2>/dev/null) || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      base=$candidate
      break
    fi
  done
  if [ -z "$base" ]; then
    echo " !     pybuildpack needs Python >= 3.10 to run, and none was found on PATH." >&2
    echo " !     Install python3 (3.10 or newer) in the build image, or set" >&2
    echo " !     PYBUILDPACK_PYTHON to a Python with pybuildpack's dependencies." >&2
    return 1
  fi
  if [ -w "$BP_DIR" ]; then
    venv=$BP_DIR/.venv
  elif [ -n "${RUNNER_DIR:-}" ]; then
    venv=$RUNNER_DIR/venv
  else
    echo " !     $base lacks pybuildpack's dependencies, and there is nowhere writable to" >&2
    echo " !     make a venv for them. Set PYBUILDPACK_PYTHON to a Python that has them" >&2
    echo " !     (pip install -r $BP_DIR/bin/support/requirements.txt)." >&2
    return 1
  fi
  echo "-----> Preparing pybuildpack (a venv with its dependencies in $venv)" >&2
  rm -rf "$venv.tmp"
  if "$base" -m venv "$venv.tmp" >/dev/null &&
    "$venv.tmp/bin/python" -m pip install --quiet --disable-pip-version-check \
      -r "$BP_DIR/bin/support/requirements.txt" >&2; then
    rm -rf "$venv"
    mv "$venv.tmp" "$venv"
    PY=$venv/bin/python
    pybuildpack_usable "$PY" && return 0
  fi
  rm -rf "$venv.tmp"
  echo " !     Could not install pybuildpack's dependencies into a venv. Check network" >&2
  echo " !     access to the package index, or set PYBUILDPACK_PYTHON." >&2
  return 1
}

pybuildpack_run() {
  PY=
  if ! pybuildpack_find_python; then
    exit 1
  fi
  exec "$PY" -E "$BP_DIR/bin/support/entry.py" "$@"
}
