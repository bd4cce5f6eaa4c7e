#!/usr/bin/env bash
# Summary: scan the project's Python code with bandit; any finding at or over the threshold fails.
# Tool: bandit https://github.com/PyCQA/bandit
# Usage: scans/bandit/run.sh [--staged]
# Staged: changed pyproject.toml
#
# Scans the Python files under BANDIT_TARGETS (relative to PROJECT_DIR) with [tool.bandit] from the project's
# pyproject.toml. BANDIT_SEVERITY and BANDIT_CONFIDENCE (low, medium, high) set the threshold. The gate lists
# the files (scans/bandit/cache_adapter.py plan): every *.py and *.pyw file (bandit's default include, with or
# without [tool.bandit]) and whatever its include adds; exclude_dirs matches whole path components, and each
# file include or exclude_dirs leaves out is listed in the result with its rule, as are the `# nosec` lines and
# the skips/tests selection; bandit gets explicit files and the settings less exclude_dirs. Each [tool.bandit]
# setting that narrows bandit below its defaults (skips, tests, exclude_dirs, an include without *.py or *.pyw,
# any test's settings) is a coverage gap "narrowed:tool.bandit.SETTING[:WHAT]" naming what it leaves out,
# unless a suppression entry accepts it. A file bandit did not
# scan (its metrics), or on which one of its tests crashed ("Bandit internal error"), is a coverage gap naming
# it; files bandit could not parse make the scan an error; so do a .bandit file in the targets (bandit reads it
# only when it walks folders itself), a symlink in them through which bandit would read outside the project, and
# an empty file list. A .git folder is not walked (git's storage; bandit's own default excludes it too).
# `# nosec BXXX` is honoured by bandit itself.
# Files whose content (git's blob id: from the index for a tracked file the work tree has not modified, without
# reading it), bandit version and [tool.bandit] are unchanged since an earlier run are answered from
# the scan cache (SECURITY_CACHE, SECURITY_CACHE_DIR; scripts/lib/cache.sh); the others are split over up to
# BANDIT_JOBS bandit processes. The merged report has the shape of `bandit -r`'s. Needs python3 3.11 or later
# (tomllib) to list the files.
# --staged (scripts/pre-commit.sh, on an export of the files a commit changes): a target that is not there, and no
# Python file to scan, are no error (the commit changes none): the scan passes with what there is.
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
STAGED="" # set by --staged: an export of the files a commit changes (scripts/pre-commit.sh)
declare -a BANDIT_ARGS=() # bandit's options for this run
declare -a KEY_ARGS=()    # the same as the project states them (pyproject.toml, not this run's copy), for the cache key
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
  scan_policy "$BANDIT_SEVERITY+" "$BANDIT_CONFIDENCE" # both checked above: policy.jq runs in the background
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

# run_planned CONFIG TARGETS...: the files the gate has bandit scan (cache_adapter.py plan: the targets' Python
# files less [tool.bandit] exclude_dirs, matched by whole path components), answered from the cache or scanned
# in parallel chunks of explicit files, merged into REPORT. Records the exclusions, the `# nosec` lines and
# test selection, the coverage, and as gaps the files bandit did not scan and the tests that crashed in it.
run_planned() {
  local config=$1 out="$SCAN_WORK/plan.out" rc=0 files hits todo chunks jobs merged inventory scanned
  shift
  cache_args bandit
  local -a empty=()
  [[ -z "$STAGED" ]] || empty=(--empty-ok)
  cache_helper "$out" plan "${CACHE_ARGS[@]}" --tool-args "${KEY_ARGS[*]}" --config "$config" \
    --jobs "$BANDIT_JOBS" "${empty[@]}" -- "$@" || rc=$?
  ((rc == 0)) || scan_error "$(head -c 600 "$out.err" | tr '\n' ' ')"
  read -r files hits todo chunks jobs merged <"$out" || scan_error "the scan cache gave no plan"
  scan_progress "scanning files" "$hits" "$files" # cache_adapter.py run-chunks counts each chunk's files done
  scan_excluded_from "$SCAN_WORK/bandit-excluded.jsonl"
  scan_gaps_from "$SCAN_WORK/bandit-narrowing.jsonl"
  if [[ "$merged" != merged ]]; then # the cache did not answer every file: bandit runs, then the merge
    run_chunks "$chunks"
    rc=0
    cache_helper "$SCAN_WORK/merge.out" merge --work "$SCAN_WORK" --tool-args "${KEY_ARGS[*]}" \
      --config "$config" || rc=$?
    ((rc != 2)) || scan_error "bandit's output has an unexpected shape: $(stderr_tail "$SCAN_WORK/merge.out.err")"
    ((rc == 0)) || scan_error "the scan cache failed: $(stderr_tail "$SCAN_WORK/merge.out.err")"
  fi
  log "$(plan_text "$files" "$hits" "$todo" "$chunks" "$jobs")"
  scan_gaps_from "$SCAN_WORK/bandit-gaps.jsonl"
  read -r inventory scanned <"$SCAN_WORK/bandit-coverage.txt" || scan_error "the scan cache gave no coverage"
  scan_coverage "$inventory" "$scanned"
  cache_stats_from_plan
  REPORT="$SCAN_WORK/merged.json"
}

main() {
  local -a targets present=()
  local target config errors
  scan_begin bandit "$PROJECT_DIR"
  require_command bandit
  bandit_policy

  case "${1:-}" in
    --staged) STAGED=1 ;;
    "") ;;
    *) scan_error "unknown argument '$1' (usage: scans/bandit/run.sh [--staged])" ;;
  esac
  read -r -a targets <<<"$BANDIT_TARGETS"
  ((${#targets[@]} > 0)) || scan_error "BANDIT_TARGETS is empty"
  for target in "${targets[@]}"; do
    [[ -e "$PROJECT_DIR/$target" || -n "$STAGED" ]] ||
      scan_error "target '$target' does not exist in $PROJECT_DIR (set BANDIT_TARGETS to the project's code)"
    [[ -e "$PROJECT_DIR/$target" ]] && present+=("$target")
  done
  if ((${#present[@]} == 0)); then # --staged: the commit changes nothing under BANDIT_TARGETS
    log "the staged change touches no file under BANDIT_TARGETS ($BANDIT_TARGETS): nothing to scan"
    scan_coverage 0 0
    printf '[]\n' >"$SCAN_WORK/findings.json"
    scan_finish "$SCAN_WORK/findings.json"
  fi
  targets=("${present[@]}")

  # The cache keys on the settings as the project states them; bandit reads them from the plan's copy.
  KEY_ARGS=(-f json -q)
  BANDIT_ARGS=(-f json -q)
  config=""
  if [[ -f "$PROJECT_DIR/pyproject.toml" ]]; then
    KEY_ARGS+=(-c pyproject.toml)
    BANDIT_ARGS+=(-c "$SCAN_WORK/bandit-config.yaml")
    config=pyproject.toml
  fi
  [[ "$BANDIT_JOBS" =~ ^[0-9]+$ ]] || scan_error "BANDIT_JOBS must be a number of processes, not '$BANDIT_JOBS'"
  cd "$PROJECT_DIR"
  cache_python || scan_error "python3 3.11 or later is needed to list the files bandit must scan"
  cache_begin bandit
  run_planned "$config" "${targets[@]}"
  keep_raw "$REPORT"
  normalize normalize.jq "$REPORT" "$SCAN_WORK/findings.json"
  errors=$(cat "$SCAN_WORK/bandit-problems.txt") || scan_error "could not read bandit's errors"
  [[ -n "$PROBLEMS" && -n "$errors" ]] && PROBLEMS+="; "
  scan_finish "$SCAN_WORK/findings.json" "$PROBLEMS$errors"
}

main "$@"
