# Sourced by bin/compile, bin/report and bin/build (POSIX sh). Sets up pybuildpack's own
# runner and runs a buildpack phase with it. No venv, no pip: see docs/buildpack.md.
#
# The shim sets BP_DIR (the buildpack), RUNNER_DIR (a directory in the build cache, or
# empty) and BP_ENV_DIR (classic config vars, or empty) before sourcing this file.
#
# Which Python runs pybuildpack:
#   1. $PYBUILDPACK_PYTHON, used as given (an unusable one is an error);
#   2. python3, python3.14 ... python3.10 on PATH: the first >= 3.10 with zlib and OpenSSL;
#   3. the runner CPython kept in RUNNER_DIR by an earlier build;
#   4. else that CPython is fetched (pinned in bin/support/runner.lock, sha256-verified).
# pybuildpack's dependencies are pure-Python wheels pinned in the same lock and put on
# sys.path by bin/support/entry.py. The interpreter runs isolated (-I -S): the app's
# PYTHONPATH, PYTHONHOME, user site and site-packages never reach it.

PYBUILDPACK_LOCK=$BP_DIR/bin/support/runner.lock
PYBUILDPACK_PBS_BASE=https://github.com/astral-sh/python-build-standalone/releases/download
# The compiled parts pybuildpack needs (OpenSSL for https and sha256, zlib): importing them,
# rather than ssl and hashlib, keeps this check at ~2 ms over the interpreter's start.
PYBUILDPACK_PY_CHECK='import sys
if sys.version_info < (3, 10):
    sys.exit(1)
import _hashlib, _ssl, zlib, zipimport'

pybuildpack_die() {
  for line in "$@"; do
    printf ' !     %s\n' "$line" >&2
  done
  exit 1
}

pybuildpack_show() {  # indent a failing command's own output
  [ -s "$1" ] || return 0
  sed 's/^/ !       /' "$1" >&2
}

# A bootstrap setting: the environment first, then a classic config var file in ENV_DIR.
# Only the fixed names below are ever passed, so the eval sees no outside text.
pybuildpack_config() {
  eval "pybuildpack_value=\${$1:-}"
  if [ -z "$pybuildpack_value" ] && [ -n "${BP_ENV_DIR:-}" ] && [ -f "$BP_ENV_DIR/$1" ]; then
    pybuildpack_value=$(cat "$BP_ENV_DIR/$1")
  fi
  printf '%s' "$pybuildpack_value"
}

pybuildpack_py_ok() {
  "$1" -I -S -B -c "$PYBUILDPACK_PY_CHECK" >/dev/null 2>&1
}

pybuildpack_sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  elif command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
  else
    return 1
  fi
}

# pybuildpack_fetch URL DEST LOG: curl or wget (or a copy for a local mirror).
pybuildpack_fetch() {
  case $1 in
    file://*) cp "${1#file://}" "$2" 2>"$3" ;;
    /*) cp "$1" "$2" 2>"$3" ;;
    *)
      if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 --connect-timeout 20 --max-time 1800 -o "$2" "$1" 2>"$3"
      elif command -v wget >/dev/null 2>&1; then
        wget -q -T 20 -t 3 -O "$2" "$1" 2>"$3"
      else
        echo "neither curl nor wget is installed" >"$3"
        return 1
      fi
      ;;
  esac
}

# The pinned runner CPython for this machine: sets RUNNER_URL, RUNNER_SHA256, RUNNER_FILE.
pybuildpack_runner_pin() {
  machine=$(uname -m)
  RUNNER_URL=$(pybuildpack_config PYBUILDPACK_RUNNER_PYTHON_URL)
  RUNNER_SHA256=$(pybuildpack_config PYBUILDPACK_RUNNER_PYTHON_SHA256)
  if [ -n "$RUNNER_URL" ] || [ -n "$RUNNER_SHA256" ]; then
    if [ -z "$RUNNER_URL" ] || [ -z "$RUNNER_SHA256" ]; then
      pybuildpack_die "PYBUILDPACK_RUNNER_PYTHON_URL and PYBUILDPACK_RUNNER_PYTHON_SHA256 go" \
        "together: a runner CPython of your own needs its URL and its sha256."
    fi
    RUNNER_FILE=${RUNNER_URL##*/}
    return 0
  fi
  while read -r kind arch _version release file sha rest; do
    if [ "$kind" = python ] && [ "$arch" = "$machine" ]; then
      base=$(pybuildpack_config PYBUILDPACK_RUNNER_MIRROR)
      [ -n "$base" ] || base=$(pybuildpack_config PYBUILDPACK_MIRROR)
      [ -n "$base" ] || base=$PYBUILDPACK_PBS_BASE
      RUNNER_URL=${base%/}/$release/$file
      RUNNER_SHA256=$sha
      RUNNER_FILE=$file
      return 0
    fi
  done <"$PYBUILDPACK_LOCK"
  pybuildpack_die "This build image has no Python >= 3.10, and pybuildpack has no runner" \
    "CPython for this machine ($machine). Install python3 (3.10 or newer) in the" \
    "build image, or set PYBUILDPACK_PYTHON to one."
}

# Fetch, verify and unpack the runner CPython into RUNNER_DIR/python.
pybuildpack_install_runner() {
  if [ -z "${RUNNER_DIR:-}" ]; then
    pybuildpack_die "This build image has no Python >= 3.10, and this phase has no build" \
      "cache to keep pybuildpack's own CPython in. Install python3 (3.10 or newer) in" \
      "the build image, or set PYBUILDPACK_PYTHON to one."
  fi
  pybuildpack_runner_pin
  started=$(date +%s)
  echo "-----> Setting up pybuildpack's own Python (no Python >= 3.10 on this image)" >&2
  echo "       Fetching $RUNNER_URL" >&2
  mkdir -p "$RUNNER_DIR" || pybuildpack_die "Cannot create $RUNNER_DIR for pybuildpack's runner."
  work=$RUNNER_DIR/.new-$$
  rm -rf "$work"
  mkdir "$work"
  if ! pybuildpack_fetch "$RUNNER_URL" "$work/$RUNNER_FILE" "$work/log"; then
    pybuildpack_show "$work/log"
    rm -rf "$work"
    pybuildpack_die "Could not download pybuildpack's own CPython from $RUNNER_URL." \
      "This image has no Python >= 3.10, so pybuildpack fetches one (with curl or wget)." \
      "Offline? Point PYBUILDPACK_RUNNER_MIRROR at a mirror holding" \
      "RELEASE/$RUNNER_FILE, or install python3 (3.10 or newer) in the build image."
  fi
  if ! actual=$(pybuildpack_sha256 "$work/$RUNNER_FILE"); then
    rm -rf "$work"
    pybuildpack_die "Cannot verify pybuildpack's own CPython: none of sha256sum, shasum or" \
      "openssl is installed. Install coreutils, or python3 (3.10 or newer)."
  fi
  if [ "$actual" != "$RUNNER_SHA256" ]; then
    rm -rf "$work"
    pybuildpack_die "pybuildpack's own CPython from $RUNNER_URL failed verification:" \
      "expected sha256 $RUNNER_SHA256," "got      sha256 $actual." \
      "The mirror serves a different file; nothing from it was used."
  fi
  mkdir "$work/tree"
  case $RUNNER_FILE in
    *.tar.zst | *.tzst)
      (zstd -dc "$work/$RUNNER_FILE" | tar -xf - -C "$work/tree" --no-same-owner) \
        >"$work/log" 2>&1
      ;;
    *) tar -xzf "$work/$RUNNER_FILE" -C "$work/tree" --no-same-owner >"$work/log" 2>&1 ;;
  esac || {
    pybuildpack_show "$work/log"
    rm -rf "$work"
    pybuildpack_die "Could not unpack pybuildpack's own CPython ($RUNNER_FILE) with tar." \
      "The image needs tar with gzip (or zstd for .tar.zst)."
  }
  if ! pybuildpack_py_ok "$work/tree/python/bin/python3"; then
    "$work/tree/python/bin/python3" -I -S -B -c "$PYBUILDPACK_PY_CHECK" >"$work/log" 2>&1
    pybuildpack_show "$work/log"
    rm -rf "$work"
    pybuildpack_die "pybuildpack's own CPython ($RUNNER_FILE) does not run on this image."
  fi
  printf '%s\n' "$RUNNER_SHA256" >"$work/tree/python/.pybuildpack-runner"
  rm -rf "$RUNNER_DIR/python.old"
  [ ! -e "$RUNNER_DIR/python" ] || mv "$RUNNER_DIR/python" "$RUNNER_DIR/python.old"
  mv "$work/tree/python" "$RUNNER_DIR/python"
  rm -rf "$work" "$RUNNER_DIR/python.old"
  echo "       Done in $(($(date +%s) - started)) s; kept in the build cache for later builds" >&2
  PY=$RUNNER_DIR/python/bin/python3
}

pybuildpack_find_python() {
  explicit=$(pybuildpack_config PYBUILDPACK_PYTHON)
  if [ -n "$explicit" ]; then
    if pybuildpack_py_ok "$explicit"; then
      PY=$explicit
      PY_SITE=--own-site
      return 0
    fi
    pybuildpack_die "PYBUILDPACK_PYTHON=$explicit cannot run pybuildpack: it must be a" \
      "Python >= 3.10 (with zlib and OpenSSL: _ssl, _hashlib)."
  fi
  for name in python3 python3.14 python3.13 python3.12 python3.11 python3.10; do
    candidate=$(command -v "$name" 2>/dev/null) || continue
    if pybuildpack_py_ok "$candidate"; then
      PY=$candidate
      return 0
    fi
  done
  if [ -n "${RUNNER_DIR:-}" ] && [ -f "$RUNNER_DIR/python/.pybuildpack-runner" ]; then
    pybuildpack_runner_pin
    if [ "$(cat "$RUNNER_DIR/python/.pybuildpack-runner")" = "$RUNNER_SHA256" ] &&
      pybuildpack_py_ok "$RUNNER_DIR/python/bin/python3"; then
      PY=$RUNNER_DIR/python/bin/python3
      return 0
    fi
  fi
  pybuildpack_install_runner
}

pybuildpack_run() {
  PY=
  PY_SITE=
  pybuildpack_find_python
  wheels=$(pybuildpack_config PYBUILDPACK_RUNNER_WHEELS)
  # Bytecode goes to the build cache, or nowhere: never into the buildpack directory.
  # entry.py sends the bytecode of pybuildpack's own modules there (-B for the rest).
  if [ -n "${RUNNER_DIR:-}" ] && mkdir -p "$RUNNER_DIR/pycache" 2>/dev/null; then
    set -- -B "$BP_DIR/bin/support/entry.py" \
      --runner-dir "$RUNNER_DIR" --wheels "$wheels" $PY_SITE "$@"
  else
    set -- -B "$BP_DIR/bin/support/entry.py" --wheels "$wheels" $PY_SITE "$@"
  fi
  if [ -n "$PY_SITE" ]; then
    exec "$PY" -I "$@"
  fi
  exec "$PY" -I -S "$@"
}
