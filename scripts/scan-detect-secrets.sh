#!/usr/bin/env bash
# Summary: scan every file of the project for committed secrets with detect-secrets.
# Usage: scripts/scan-detect-secrets.sh
#
# Scans the files git tracks and the untracked ones it does not ignore, except .env.sample, uv.lock, the
# baseline itself and symlinks. The project's .secrets.baseline (when it has one) supplies detect-secrets'
# settings and the audited false positives: a secret not in it, or audited there as a true secret, fails.
# `# pragma: allowlist secret` is honoured by detect-secrets itself. No secret value is ever printed or kept.
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/lib/common.sh"

readonly BASELINE_NAME=.secrets.baseline
readonly EXCLUDED_NAMES=(.env.sample uv.lock "$BASELINE_NAME")
readonly UNWRITTEN=not-written-by-this-run

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

# baseline_copy OUT: a working copy of the project's baseline, marked so a run that did not rewrite it shows.
baseline_copy() {
  local out=$1
  require_json "$BASELINE_NAME" "the baseline $PROJECT_DIR/$BASELINE_NAME"
  jq --arg mark "$UNWRITTEN" '.generated_at = $mark' "$BASELINE_NAME" >"$out" ||
    scan_error "the baseline $PROJECT_DIR/$BASELINE_NAME could not be read"
}

main() {
  local list raw err rc committed
  local -a files
  scan_begin detect-secrets "$PROJECT_DIR"
  require_command detect-secrets
  require_command git
  cd "$PROJECT_DIR"

  list="$SCAN_WORK/files"
  list_files "$list"
  mapfile -d '' files <"$list"
  raw="$SCAN_WORK/detect-secrets.json"
  err="$SCAN_WORK/detect-secrets.err"
  committed="$SCAN_WORK/baseline-committed.json"
  rc=0
  if [[ -e "$BASELINE_NAME" ]]; then
    baseline_copy "$raw"
    cp "$BASELINE_NAME" "$committed"
    if ((${#files[@]} > 0)); then
      scan_run_tool /dev/null "$err" -- detect-secrets scan --baseline "$raw" -- "${files[@]}" || rc=$?
    else
      jq '.results = {}' "$raw" >"$raw.empty" && mv "$raw.empty" "$raw"
    fi
  else
    printf '{"results": {}}\n' >"$committed"
    if ((${#files[@]} > 0)); then
      scan_run_tool "$raw" "$err" -- detect-secrets scan -- "${files[@]}" || rc=$?
    else
      printf '{"results": {}}\n' >"$raw"
    fi
  fi
  ((rc == 0)) || scan_error "detect-secrets exited $rc: $(stderr_tail "$err")"
  require_json "$raw" "detect-secrets' output"
  if ((${#files[@]} > 0)) && [[ -e "$BASELINE_NAME" ]] &&
    jq -e --arg mark "$UNWRITTEN" '.generated_at == $mark' "$raw" >/dev/null; then
    scan_error "detect-secrets exited 0 without writing its results"
  fi
  keep_raw "$raw"
  normalize normalize-detect-secrets.jq "$raw" "$SCAN_WORK/findings.json" --slurpfile baseline "$committed"
  scan_finish "$SCAN_WORK/findings.json" '{"fail_on": ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"], "min_confidence": null, "count_unfixed": true}'
}

main "$@"
