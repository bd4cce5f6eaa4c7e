#!/usr/bin/env bash
# Summary: scan every file of the project for committed secrets with detect-secrets.
# Tool: detect-secrets https://github.com/Yelp/detect-secrets
# Usage: scans/detect-secrets/run.sh
#
# Scans the files git tracks and the untracked ones it does not ignore, except .env.sample, uv.lock, the
# baseline itself and symlinks. The project's .secrets.baseline (when it has one) supplies detect-secrets'
# settings and the audited false positives: a secret not in it, or audited there as a true secret, fails.
# `# pragma: allowlist secret` is honoured by detect-secrets itself. No secret value is ever printed or kept.
# Files whose content, baseline entries, detect-secrets version and settings are unchanged since an earlier run
# are answered from the scan cache (SECURITY_CACHE, SECURITY_CACHE_DIR; scripts/lib/cache.sh): detect-secrets
# scans the others, and the report is the one a scan of every file gives. detect-secrets runs through
# scans/detect-secrets/batched-pool.py, which hands its worker processes a few files at a time instead of one.
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/cache.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/cache.sh"

readonly BASELINE_NAME=.secrets.baseline
readonly EXCLUDED_NAMES=(.env.sample uv.lock "$BASELINE_NAME")
readonly UNWRITTEN=not-written-by-this-run
# --no-verify: never send a found secret to its provider to check it (detect-secrets does by default, and then
# drops the ones the provider calls invalid): results must not depend on the network, nor secrets leave.
readonly SCAN_ARGS=(scan --no-verify)
declare -a DS_RUN=()
DS_PYTHON="" # detect-secrets' interpreter when it is a Python entry point (python_of), else empty

# list_files OUT: the NUL-separated files to scan, relative to the project (run from PROJECT_DIR).
list_files() {
  local out=$1 file name excluded skip
  local -a files
  git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    scan_error "$PROJECT_DIR is not a git repository: the files to scan are git's tracked and untracked files"
  mapfile -d '' files < <(git ls-files -z --cached --others --exclude-standard --deduplicate) ||
    scan_error "git could not list the project's files"
  : >"$out"
  for file in "${files[@]}"; do
    name=${file##*/}
    skip=""
    for excluded in "${EXCLUDED_NAMES[@]}"; do
      [[ "$name" == "$excluded" ]] && skip=1
    done
    # Symlinks are not followed (they may point out of the tree); deleted files have nothing to scan.
    [[ -z "$skip" && -f "$file" && ! -L "$file" ]] && printf '%s\0' "$file" >>"$out"
  done
  return 0
}

# unscannable LIST BASELINE OUT: in OUT, a message naming the listed files detect-secrets would skip without a
# word (unreadable, or text that is not UTF-8), or nothing when it can read them all.
unscannable() {
  local list=$1 baseline=$2 out=$3 listing="$SCAN_WORK/unscannable.json"
  "${DS_PYTHON:-python3}" "$GATE_ROOT/scripts/lib/unscannable.py" "$list" ${baseline:+"$baseline"} >"$listing" 2>"$listing.err" ||
    scan_error "could not check which files detect-secrets can read: $(stderr_tail "$listing.err")"
  jq -r -f "$SCAN_DIR/problems.jq" "$listing" >"$out" ||
    scan_error "could not read the list of files detect-secrets cannot read"
}

# baseline_copy OUT: a working copy of the project's baseline, marked so a run that did not rewrite it shows.
baseline_copy() {
  local out=$1
  require_json "$BASELINE_NAME" "the baseline $PROJECT_DIR/$BASELINE_NAME"
  jq --arg mark "$UNWRITTEN" '.generated_at = $mark' "$BASELINE_NAME" >"$out" ||
    scan_error "the baseline $PROJECT_DIR/$BASELINE_NAME could not be read"
}

# cache_plan LIST COMMITTED: look the listed files up in the cache; the ones to scan in SCAN_WORK/todo, the
# result's "cache" field set. Returns non-zero when the cache cannot be used here (CACHE_NOTE says why).
cache_plan() {
  local list=$1 committed=$2 out="$SCAN_WORK/plan.out" rc=0 files hits misses
  cache_args detect-secrets
  cache_helper "$out" plan "${CACHE_ARGS[@]}" --tool-args "${SCAN_ARGS[*]}" --baseline "$committed" --list "$list" || rc=$?
  if ((rc == 3)); then
    CACHE_NOTE="not used: $(head -n 1 "$out")"
    CACHE_DIR=""
    return 1
  fi
  ((rc == 0)) || scan_error "the scan cache failed: $(stderr_tail "$out.err")"
  read -r files hits misses <"$out" || scan_error "the scan cache gave no plan"
  log "$files file(s): $hits from the cache, $misses scanned"
  cache_stats_from_plan
}

# cache_merge RAW WORK_BASELINE COMMITTED: detect-secrets' report on the scanned files (RAW) and the cached
# entries as one report, in SCAN_WORK/merged.json; the fresh entries stored.
cache_merge() {
  local raw=$1 work_baseline=$2 committed=$3 out="$SCAN_WORK/merge.out" rc=0
  cache_helper "$out" merge --work "$SCAN_WORK" --tool-args "${SCAN_ARGS[*]}" --baseline "$committed" --fresh "$raw" \
    --work-baseline "$work_baseline" || rc=$?
  ((rc != 2)) || scan_error "detect-secrets' output has an unexpected shape: $(stderr_tail "$out.err")"
  ((rc == 0)) || scan_error "the scan cache failed: $(stderr_tail "$out.err")"
}

# detect_secrets_run: in the array DS_RUN, scan_run_tool's options and command for detect-secrets. A Python entry
# point runs under scans/detect-secrets/batched-pool.py (the same tool and arguments, its worker processes handed
# files a few at a time).
detect_secrets_run() {
  DS_RUN=(--name detect-secrets)
  if [[ -n "$DS_PYTHON" ]]; then
    DS_RUN+=(-- "$DS_PYTHON" "$GATE_ROOT/scans/detect-secrets/batched-pool.py" "$(command -v detect-secrets)")
  else
    DS_RUN+=(-- detect-secrets)
  fi
}

main() {
  local list raw err rc committed baseline="" planned
  local -a files
  scan_begin detect-secrets "$PROJECT_DIR"
  scan_policy UNKNOWN+ # every secret not audited as a false positive fails
  require_command detect-secrets
  require_command git
  cd "$PROJECT_DIR"
  DS_PYTHON=$(python_of detect-secrets) || DS_PYTHON=""

  list="$SCAN_WORK/files"
  list_files "$list"
  raw="$SCAN_WORK/detect-secrets.json"
  err="$SCAN_WORK/detect-secrets.err"
  committed="$SCAN_WORK/baseline-committed.json"
  if [[ -e "$BASELINE_NAME" ]]; then
    baseline_copy "$raw"
    cp "$BASELINE_NAME" "$committed"
    baseline=$committed
  else
    printf '{"results": {}}\n' >"$committed"
  fi
  unscannable "$list" "$baseline" "$SCAN_WORK/problems"
  planned=""
  if [[ -s "$list" ]]; then
    cache_begin detect-secrets
    if [[ -n "$CACHE_DIR" ]] && cache_plan "$list" "$baseline"; then
      list="$SCAN_WORK/todo"
      planned=1
    fi
  fi
  mapfile -d '' files <"$list"
  [[ -n "$planned" ]] || cache_stats 0 "${#files[@]}"
  detect_secrets_run
  rc=0
  if [[ -n "$baseline" ]]; then
    if ((${#files[@]} > 0)); then
      scan_run_tool /dev/null "$err" "${DS_RUN[@]}" "${SCAN_ARGS[@]}" --baseline "$raw" -- "${files[@]}" || rc=$?
    else
      jq '.results = {}' "$raw" >"$raw.empty" && mv "$raw.empty" "$raw"
    fi
  else
    if ((${#files[@]} > 0)); then
      scan_run_tool "$raw" "$err" "${DS_RUN[@]}" "${SCAN_ARGS[@]}" -- "${files[@]}" || rc=$?
    else
      printf '{"results": {}}\n' >"$raw"
    fi
  fi
  ((rc == 0)) || scan_error "detect-secrets exited $rc: $(stderr_tail "$err")"
  require_json "$raw" "detect-secrets' output"
  if ((${#files[@]} > 0)) && [[ -n "$baseline" ]] &&
    jq -e --arg mark "$UNWRITTEN" '.generated_at == $mark' "$raw" >/dev/null; then
    scan_error "detect-secrets exited 0 without writing its results"
  fi
  if [[ -n "$planned" ]]; then
    cache_merge "$raw" "$raw" "$baseline"
    raw="$SCAN_WORK/merged.json"
  fi
  keep_raw "$raw"
  normalize normalize.jq "$raw" "$SCAN_WORK/findings.json" --slurpfile baseline "$committed"
  scan_finish "$SCAN_WORK/findings.json" "$(cat "$SCAN_WORK/problems")"
}

main "$@"
