#!/usr/bin/env bash
# Summary: scan the project's Python code with bandit; any finding at or over the threshold fails.
# Tool: bandit https://github.com/PyCQA/bandit
# Usage: scans/bandit/run.sh
#
# Scans BANDIT_TARGETS (relative to PROJECT_DIR) with [tool.bandit] from the project's pyproject.toml.
# BANDIT_SEVERITY and BANDIT_CONFIDENCE (low, medium, high) set the threshold.
# Files bandit could not parse make the scan an error. `# nosec BXXX` is honoured by bandit itself.
# Files whose content, bandit version and [tool.bandit] are unchanged since an earlier run are answered from
# the scan cache (SECURITY_CACHE, SECURITY_CACHE_DIR; scripts/lib/cache.sh); the others are split over up to
# BANDIT_JOBS bandit processes. The merged report is
# the one `bandit -r BANDIT_TARGETS` gives. Without python3 3.9+, or with a .bandit file in the targets, bandit
# runs once over the targets as it is.
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   BANDIT_TARGETS=apps config  what bandit scans, relative to PROJECT_DIR; a missing target is an error
#   BANDIT_SEVERITY=low  the least severity that fails (low, medium, high); findings below are listed as information
#   BANDIT_CONFIDENCE=low  the least confidence that fails (low, medium, high)
#   BANDIT_JOBS=0  bandit processes sharing a large file list (0: one per core, when there are enough files; 1: one)
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/cache.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/cache.sh"

BANDIT_TARGETS=${BANDIT_TARGETS:-apps config}
BANDIT_SEVERITY=${BANDIT_SEVERITY:-low}
BANDIT_CONFIDENCE=${BANDIT_CONFIDENCE:-low}
BANDIT_JOBS=${BANDIT_JOBS:-0}
declare -a BANDIT_ARGS=()
REPORT=""   # the (sanitized) report of this run, in bandit -r's shape
PROBLEMS="" # what went wrong beside the report's own errors

# bandit_policy: the scan's policy from BANDIT_SEVERITY and BANDIT_CONFIDENCE (bandit grades low, medium, high).
bandit_policy() {
  local setting value
  for setting in BANDIT_SEVERITY BANDIT_CONFIDENCE; do
    value=${!setting}
    case "${value^^}" in
      LOW | MEDIUM | HIGH) ;;
      *) scan_error "$setting must be low, medium or high, not '$value'" ;;
    esac
  done
  scan_policy "$BANDIT_SEVERITY+" "$BANDIT_CONFIDENCE"
}

# check_report RAW ERR RC OUT: a bandit report checked against its exit status RC and sanitized into OUT.
# Sets PROBLEMS when bandit exited 1 (findings) without reporting any.
check_report() {
  local raw=$1 err=$2 rc=$3 out=$4
  ((rc <= 128)) || scan_error "bandit was killed by signal $((rc - 128)): $(stderr_tail "$err")"
  # bandit exits 1 when it found issues and also when it broke: only its JSON tells which.
  ((rc == 0 || rc == 1)) || scan_error "bandit exited $rc: $(stderr_tail "$err")"
  require_json "$raw" "bandit's output (exit $rc: $(stderr_tail "$err"))"
  run_jq "$out" -f "$SCAN_DIR/sanitize.jq" "$raw" || scan_error "bandit's output has an unexpected shape"
  if ((rc == 1)) && jq -e '.results == [] and .errors == []' "$raw" >/dev/null 2>&1; then
    PROBLEMS="bandit exited 1 without reporting a finding: $(stderr_tail "$err")"
  fi
  return 0
}

# run_plain TARGETS...: one `bandit -r` over the targets; its sanitized report in SCAN_WORK/raw-sanitized.json.
run_plain() {
  local raw="$SCAN_WORK/bandit.json" err="$SCAN_WORK/bandit.err" rc=0
  [[ -n "$CACHE_NOTE" ]] || CACHE_NOTE="bandit ran once over the targets"
  CACHE_DIR=""
  scan_run_tool "$raw" "$err" -- bandit -r "${BANDIT_ARGS[@]}" -- "$@" || rc=$?
  check_report "$raw" "$err" "$rc" "$SCAN_WORK/raw-sanitized.json"
  REPORT="$SCAN_WORK/raw-sanitized.json"
  cache_stats 0 null
}

# run_chunks COUNT: bandit on each of the plan's COUNT chunks, JOBS at a time (cache_adapter.py run-chunks), all under
# SCAN_TIMEOUT; then each chunk's report checked. A single chunk runs bandit directly.
run_chunks() {
  local chunks=$1 i rc=0
  local -a files
  if ((chunks == 1)); then
    mapfile -d '' files <"$SCAN_WORK/chunk-0.args"
    scan_run_tool "$SCAN_WORK/chunk-0.json" "$SCAN_WORK/chunk-0.err" -- bandit "${BANDIT_ARGS[@]}" -- "${files[@]}" ||
      rc=$?
    printf '%s\n' "$rc" >"$SCAN_WORK/chunk-0.rc"
  else
    scan_run_tool "$SCAN_WORK/chunks.out" "$SCAN_WORK/chunks.err" --name bandit -- \
      python3 -S "$SCAN_DIR/cache_adapter.py" run-chunks --work "$SCAN_WORK" -- bandit "${BANDIT_ARGS[@]}" -- || rc=$?
    ((rc == 0)) || scan_error "bandit's processes could not be run (exit $rc): $(stderr_tail "$SCAN_WORK/chunks.err")"
  fi
  for ((i = 0; i < chunks; i++)); do
    rc=$(cat "$SCAN_WORK/chunk-$i.rc" 2>/dev/null) || scan_error "bandit process $i left no exit status"
    check_report "$SCAN_WORK/chunk-$i.json" "$SCAN_WORK/chunk-$i.err" "$rc" "$SCAN_WORK/chunk-$i.sanitized.json"
  done
}

# plan_text FILES HITS TODO CHUNKS JOBS: what this run did, in words, e.g. "12 files: 10 from the cache, 2 scanned
# by 1 bandit process" or "12 files: all 12 from the cache, bandit did not run".
plan_text() {
  local count=$1 hits=$2 todo=$3 chunks=$4 jobs=$5
  if ((todo == 0)); then
    printf '%s: all %s from the cache, bandit did not run' "$(plural "$count" file)" "$hits"
    return 0
  fi
  printf '%s: %s from the cache, %s scanned by %s' "$(plural "$count" file)" "$hits" "$todo" \
    "$(plural "$chunks" "bandit process" "bandit processes")"
  ((chunks == 1)) || printf ', %s at a time' "$jobs"
}

# plural COUNT WORD [PLURAL]: "1 file", "2 files" (PLURAL defaults to WORD + s).
plural() {
  if (($1 == 1)); then printf '1 %s' "$2"; else printf '%s %s' "$1" "${3:-$2s}"; fi
}

# run_parallel CONFIG TARGETS...: the files bandit -r would scan, answered from the cache or scanned in
# parallel chunks, merged into REPORT. Leaves REPORT empty when only the plain run is exact here.
run_parallel() {
  local config=$1 out="$SCAN_WORK/plan.out" rc=0 files hits todo chunks jobs
  shift
  cache_args bandit
  cache_helper "$out" plan "${CACHE_ARGS[@]}" --tool-args "${BANDIT_ARGS[*]}" --config "$config" \
    --jobs "$BANDIT_JOBS" -- "$@" || rc=$?
  if ((rc == 3)); then
    CACHE_NOTE="bandit ran once over the targets: $(head -n 1 "$out")"
    return 0
  fi
  ((rc == 0)) || scan_error "the scan cache failed: $(stderr_tail "$out.err")"
  read -r files hits todo chunks jobs <"$out" || scan_error "the scan cache gave no plan"
  ((chunks == 0)) || run_chunks "$chunks"
  rc=0
  cache_helper "$SCAN_WORK/merge.out" merge --work "$SCAN_WORK" --tool-args "${BANDIT_ARGS[*]}" \
    --config "$config" || rc=$?
  ((rc != 2)) || scan_error "bandit's output has an unexpected shape: $(stderr_tail "$SCAN_WORK/merge.out.err")"
  ((rc == 0)) || scan_error "the scan cache failed: $(stderr_tail "$SCAN_WORK/merge.out.err")"
  log "$(plan_text "$files" "$hits" "$todo" "$chunks" "$jobs")"
  cache_stats_from_plan
  REPORT="$SCAN_WORK/merged.json"
}

main() {
  local -a targets
  local target config errors
  scan_begin bandit "$PROJECT_DIR"
  require_command bandit
  bandit_policy

  read -r -a targets <<<"$BANDIT_TARGETS"
  ((${#targets[@]} > 0)) || scan_error "BANDIT_TARGETS is empty"
  for target in "${targets[@]}"; do
    [[ -e "$PROJECT_DIR/$target" ]] ||
      scan_error "target '$target' does not exist in $PROJECT_DIR (set BANDIT_TARGETS to the project's code)"
  done
  # bandit reads a symlinked file wherever it points: never outside the project.
  target=$(links_out_of_tree "${targets[@]/#/$PROJECT_DIR/}")
  [[ -z "$target" ]] ||
    scan_error "symlinks in BANDIT_TARGETS point outside the project, and bandit would read through them: $target"

  BANDIT_ARGS=(-f json -q)
  config=""
  if [[ -f "$PROJECT_DIR/pyproject.toml" ]]; then
    BANDIT_ARGS+=(-c pyproject.toml)
    config=pyproject.toml
  fi
  [[ "$BANDIT_JOBS" =~ ^[0-9]+$ ]] || scan_error "BANDIT_JOBS must be a number of processes, not '$BANDIT_JOBS'"
  cd "$PROJECT_DIR"
  cache_begin bandit
  # Not `cache_python && run_parallel`: set -e would be off inside run_parallel.
  if cache_python; then
    run_parallel "$config" "${targets[@]}"
  fi
  [[ -n "$REPORT" ]] || run_plain "${targets[@]}"
  keep_raw "$REPORT"
  normalize normalize.jq "$REPORT" "$SCAN_WORK/findings.json"
  errors=$(jq -r -f "$SCAN_DIR/problems.jq" "$REPORT") || scan_error "could not read bandit's errors"
  [[ -n "$PROBLEMS" && -n "$errors" ]] && PROBLEMS+="; "
  scan_finish "$SCAN_WORK/findings.json" "$PROBLEMS$errors"
}

main "$@"
