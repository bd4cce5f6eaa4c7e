#!/usr/bin/env bash
# Summary: install what the gate needs: uv (when the pinned version is not on PATH) and every tool in uv.lock.
# Usage: scripts/bootstrap.sh
#
# uv comes from PyPI at the version and hashes in scripts/uv-requirements.txt, into .tools/uv. The tools come
# from uv.lock (`uv sync --frozen`, hashes checked by uv) into .venv: the same versions on every machine.
set -euo pipefail

ROOT=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)
readonly ROOT
readonly UV_HOME="$ROOT/.tools/uv"

# find_python: a Python 3.11 or newer, for installing uv.
find_python() {
  local candidate
  for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      printf '%s' "$candidate"
      return 0
    fi
  done
  printf 'bootstrap: Python 3.11 or newer is needed and was not found on PATH\n' >&2
  return 1
}

# pinned_uv_version: the uv version scripts/uv-requirements.txt pins.
pinned_uv_version() {
  sed -n 's/^uv==\([^ ]*\).*/\1/p' "$ROOT/scripts/uv-requirements.txt"
}

# ensure_uv: print the uv to use: the one on PATH when it is the pinned version, else the pinned one,
# installed into .tools/uv when it is not there yet.
ensure_uv() {
  local python pinned found
  pinned=$(pinned_uv_version)
  if command -v uv >/dev/null 2>&1; then
    found=$(uv --version 2>/dev/null | cut -d' ' -f2)
    if [[ "$found" == "$pinned" ]]; then
      command -v uv
      return 0
    fi
  fi
  if [[ "$("$UV_HOME/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" != "$pinned" ]]; then
    python=$(find_python)
    printf 'bootstrap: installing uv %s from PyPI (scripts/uv-requirements.txt, hash-checked) into .tools/uv\n' "$pinned" >&2
    rm -rf -- "$UV_HOME"
    "$python" -m venv "$UV_HOME" >&2
    "$UV_HOME/bin/pip" install --quiet --disable-pip-version-check --require-hashes --only-binary :all: \
      -r "$ROOT/scripts/uv-requirements.txt" >&2
  fi
  printf '%s' "$UV_HOME/bin/uv"
}

main() {
  local uv
  command -v jq >/dev/null 2>&1 || { printf 'bootstrap: jq is needed (apt install jq / brew install jq)\n' >&2; exit 2; }
  command -v git >/dev/null 2>&1 || { printf 'bootstrap: git is needed\n' >&2; exit 2; }
  uv=$(ensure_uv)
  printf 'bootstrap: installing the locked tools into .venv (uv sync --frozen)\n' >&2
  (cd "$ROOT" && "$uv" sync --frozen --quiet)
}

main "$@"
