# shellcheck shell=bash
# Summary: the per-file scan cache of bandit and detect-secrets, for their scan scripts (source after common.sh).
#
# SECURITY_CACHE turns the cache on or off; SECURITY_CACHE_DIR is the one directory it lives in (one file per
# scan), which CI may persist. The entries
# and their keys are described in scripts/lib/cache.py (the cache itself); what is cached for a tool, and how
# its full report is rebuilt, is in the scan's adapter, SCAN_DIR/cache_adapter.py. A scan script calls:
#   cache_begin TOOL            settle whether this run uses the cache and how the tool is identified
#   cache_args DIST             the adapter's options for this run, in CACHE_ARGS
#   cache_helper OUT CMD ARGS   run the scan's cache_adapter.py CMD ARGS, stdout to OUT; returns its exit status
#   cache_stats HITS MISSES     the result's optional "cache" field (SCAN_RESULT_EXTRA, read by scan_finish)
#   cache_stats_from_plan       the same field as the helper's plan counted it
# The cache is never trusted blindly: an entry that is unreadable, malformed or for other content, another
# tool version or another configuration is a miss, and the file is scanned again.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   SECURITY_CACHE=on  off: scan every file afresh, read and write no cache
#   SECURITY_CACHE_DIR=$GATE_ROOT/.cache/security  the one directory of the per-file scan cache (relative: to where the gate started; CI persists it)

SECURITY_CACHE=${SECURITY_CACHE:-on}
SECURITY_CACHE_DIR=${SECURITY_CACHE_DIR:-$GATE_ROOT/.cache/security}
# A relative directory is relative to where the gate was started (the scan scripts cd to PROJECT_DIR).
[[ "$SECURITY_CACHE_DIR" == /* ]] || SECURITY_CACHE_DIR="$PWD/$SECURITY_CACHE_DIR"
export SECURITY_CACHE SECURITY_CACHE_DIR

CACHE_DIR=""
CACHE_TOOL_ID=""
CACHE_TOOL_PYTHON=""
CACHE_NOTE=""
declare -a CACHE_ARGS=()
# shellcheck disable=SC2034 # read by scan_finish (common.sh)
SCAN_RESULT_EXTRA=""

CACHE_PYTHON_OK=""

# cache_python: succeed when python3 (3.9 or later) can run the cache helper.
cache_python() {
  if [[ -z "$CACHE_PYTHON_OK" ]]; then
    CACHE_PYTHON_OK=no
    command -v python3 >/dev/null 2>&1 &&
      python3 -S -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null && CACHE_PYTHON_OK=yes
  fi
  [[ "$CACHE_PYTHON_OK" == yes ]]
}

# python_of TOOL: the interpreter of TOOL when TOOL is a Python entry point (#!/path/to/pythonX.Y); else fails.
python_of() {
  local path first interp
  path=$(command -v "$1") || return 1
  first=""
  IFS= read -r first <"$path" 2>/dev/null || true
  interp=${first#\#!}
  [[ "$first" == '#!/'* && "$interp" =~ ^/[^[:space:]]*/python[0-9.]*$ && -x "$interp" ]] || return 1
  printf '%s' "$interp"
}

# cache_begin TOOL: check SECURITY_CACHE and settle how the tool is identified. A Python entry point is read
# by the cache helper from inside its interpreter (CACHE_TOOL_PYTHON: its version, plugins, Python); any other
# TOOL by its `TOOL --version` output (CACHE_TOOL_ID). Sets CACHE_DIR ("" = off) and CACHE_NOTE (why off).
cache_begin() {
  local tool=$1 out rc=0
  case "$SECURITY_CACHE" in
    on) ;;
    off)
      CACHE_NOTE="SECURITY_CACHE=off"
      return 0
      ;;
    *) scan_error "SECURITY_CACHE must be on or off, not '$SECURITY_CACHE'" ;;
  esac
  if ! cache_python; then
    CACHE_NOTE="python3 (3.9 or later) is not on PATH"
    return 0
  fi
  if ! CACHE_TOOL_PYTHON=$(python_of "$tool"); then
    CACHE_TOOL_PYTHON=""
    out="$SCAN_WORK/$tool.version"
    scan_run_tool "$out" "$out.err" -- "$tool" --version || rc=$?
    if ((rc != 0)) || ! grep -q '[^[:space:]]' "$out"; then
      CACHE_NOTE="'$tool --version' failed (exit $rc), so results cannot be tied to a tool version"
      return 0
    fi
    CACHE_TOOL_ID=$(cat "$out")
  fi
  CACHE_DIR=$SECURITY_CACHE_DIR
}

# cache_args TOOL: the cache helper's options for this run (in the array CACHE_ARGS).
cache_args() {
  # shellcheck disable=SC2034 # read by the scan scripts
  CACHE_ARGS=(--work "$SCAN_WORK" --cache-dir "$CACHE_DIR" --note "$CACHE_NOTE" --tool-id "$CACHE_TOOL_ID"
    --tool-python "$CACHE_TOOL_PYTHON" --dist "$1")
}

# cache_helper OUT COMMAND ARGS...: run the scan's cache adapter (SCAN_DIR/cache_adapter.py) with stdout to OUT
# and stderr to OUT.err; its exit status.
# What it says on stderr when it succeeds (the cache could not be written, say) is logged.
cache_helper() {
  local out=$1 rc=0
  shift
  python3 -S "$SCAN_DIR/cache_adapter.py" "$@" >"$out" 2>"$out.err" || rc=$?
  if ((rc == 0)) && [[ -s "$out.err" ]]; then
    log "$(head -n 3 "$out.err")"
  fi
  return "$rc"
}

# cache_stats HITS MISSES: set SCAN_RESULT_EXTRA to the result's "cache" field, for a run without the helper.
cache_stats() {
  SCAN_RESULT_EXTRA=$(printf '{"cache":{"enabled":%s,"hits":%s,"misses":%s,"note":%s}}' \
    "$([[ -n "$CACHE_DIR" ]] && echo true || echo false)" "$1" "$2" \
    "$(if [[ -n "$CACHE_NOTE" ]]; then json_string "$CACHE_NOTE"; else echo null; fi)")
}

# cache_stats_from_plan: SCAN_RESULT_EXTRA as the cache helper's plan wrote it.
cache_stats_from_plan() {
  # shellcheck disable=SC2034 # read by scan_finish (common.sh)
  SCAN_RESULT_EXTRA=$(cat "$SCAN_WORK/cache-stats.json") || scan_error "the scan cache wrote no statistics"
}
