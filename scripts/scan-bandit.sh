#!/usr/bin/env bash
# Summary: scan the project's Python code with bandit; any finding at or over the threshold fails.
# Usage: scripts/scan-bandit.sh
#
# Scans BANDIT_TARGETS (default "apps config", relative to PROJECT_DIR) with [tool.bandit] from the project's
# pyproject.toml. BANDIT_SEVERITY and BANDIT_CONFIDENCE (low, medium, high; default low = all) set the threshold.
# Files bandit could not parse make the scan an error. `# nosec BXXX` is honoured by bandit itself.
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/lib/common.sh"

BANDIT_TARGETS=${BANDIT_TARGETS:-apps config}
BANDIT_SEVERITY=${BANDIT_SEVERITY:-low}
BANDIT_CONFIDENCE=${BANDIT_CONFIDENCE:-low}

# level_policy SEVERITY CONFIDENCE OUT: the gate policy for the given minimum levels, written to OUT.
level_policy() {
  local out=$3 severity confidence
  severity=$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')
  confidence=$(printf '%s' "$2" | tr '[:lower:]' '[:upper:]')
  case "$severity" in LOW | MEDIUM | HIGH) ;; *) scan_error "BANDIT_SEVERITY must be low, medium or high, not '$1'" ;; esac
  case "$confidence" in LOW | MEDIUM | HIGH) ;; *) scan_error "BANDIT_CONFIDENCE must be low, medium or high, not '$2'" ;; esac
  jq -cn --arg s "$severity" --arg c "$confidence" -L "$JQ_DIR" \
    'include "lib"; {fail_on: [severities[] | select(severity_rank >= ($s | severity_rank))], min_confidence: $c, count_unfixed: true}' \
    >"$out" || scan_error "could not build the policy"
}

main() {
  local -a targets args
  local target raw err rc policy problems
  scan_begin bandit "$PROJECT_DIR"
  require_command bandit
  level_policy "$BANDIT_SEVERITY" "$BANDIT_CONFIDENCE" "$SCAN_WORK/policy.json"
  policy=$(cat "$SCAN_WORK/policy.json")

  read -r -a targets <<<"$BANDIT_TARGETS"
  ((${#targets[@]} > 0)) || scan_error "BANDIT_TARGETS is empty"
  for target in "${targets[@]}"; do
    [[ -e "$PROJECT_DIR/$target" ]] ||
      scan_error "target '$target' does not exist in $PROJECT_DIR (set BANDIT_TARGETS to the project's code)"
  done

  args=(-r -f json -q)
  [[ -f "$PROJECT_DIR/pyproject.toml" ]] && args+=(-c pyproject.toml)
  raw="$SCAN_WORK/bandit.json"
  err="$SCAN_WORK/bandit.err"
  rc=0
  cd "$PROJECT_DIR"
  scan_run_tool "$raw" "$err" -- bandit "${args[@]}" -- "${targets[@]}" || rc=$?
  # bandit exits 1 when it found issues and also when it broke: only its JSON tells which.
  ((rc == 0 || rc == 1)) || scan_error "bandit exited $rc: $(stderr_tail "$err")"
  require_json "$raw" "bandit's output (exit $rc: $(stderr_tail "$err"))"

  run_jq "$SCAN_WORK/raw-sanitized.json" -f "$JQ_DIR/sanitize-bandit.jq" "$raw" ||
    scan_error "bandit's output has an unexpected shape"
  keep_raw "$SCAN_WORK/raw-sanitized.json"
  normalize normalize-bandit.jq "$raw" "$SCAN_WORK/findings.json"
  problems=$(jq -r -f "$JQ_DIR/problems-bandit.jq" "$raw") || scan_error "could not read bandit's errors"
  if ((rc == 1)) && [[ -z "$problems" ]] && jq -e '.results == []' "$raw" >/dev/null; then
    problems="bandit exited 1 without reporting a finding: $(stderr_tail "$err")"
  fi
  scan_finish "$SCAN_WORK/findings.json" "$policy" "$problems"
}

main "$@"
