#!/usr/bin/env bash
# Summary: run a gate's scans at the same time, print each scan's output as one block, write the summaries.
# Usage: scripts/run-gate.sh GATE SCAN...     e.g. scripts/run-gate.sh security-code pip-audit bandit detect-secrets
#
# Every scan runs to its end whatever the others do. The scans start together; a tool run that spreads over
# every core (bandit split into processes, detect-secrets' pool) takes the cores in turn with the others
# (SECURITY_CORES_LOCK, see take_cores in scripts/lib/common.sh): on two cores that measured faster and steadier
# than both at once. Writes SECURITY_REPORT_DIR/GATE.md (Markdown summary, also appended to GITHUB_STEP_SUMMARY when
# set) and SECURITY_REPORT_DIR/GATE.sarif.
# Exit: 0 every scan passed, 1 a scan found something over its threshold, 2 a scan could not be completed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/lib/common.sh"

GATE=""
RUN_DIR=""
declare -a SCANS=() PIDS=()

# stop_scans SIGNAL: on an interruption, stop every running scan (each stops its tool and leaves an "error"
# result), turn the results of scans that had already passed into errors and remove the summaries: an
# interrupted run says pass nowhere. Then exit non-zero.
# shellcheck disable=SC2329 # invoked by the INT and TERM traps
stop_scans() {
  local pid scan status message
  trap - INT TERM
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -f -- "$SECURITY_REPORT_DIR/$GATE.md" "$SECURITY_REPORT_DIR/$GATE.sarif"
  for scan in "${SCANS[@]}"; do
    status=$(jq -r '.status' "$SECURITY_REPORT_DIR/$scan.json" 2>/dev/null) || status=unreadable
    case "$status" in
      fail) continue ;; # its findings are real, interrupted or not
      pass) message="the $scan scan passed, but the $GATE run was interrupted by SIG$1 before every scan finished" ;;
      *)
        message=$(jq -r '.error // "no message"' "$SECURITY_REPORT_DIR/$scan.json" 2>/dev/null) || message="no result"
        [[ "$message" == *"interrupted by SIG"* ]] && continue
        message="the $GATE run was interrupted by SIG$1 while $scan ran (it reported: $message)"
        ;;
    esac
    SCAN_NAME=$scan SCAN_TARGET=$PROJECT_DIR write_error_result "$message" || SCAN_NAME=$scan forget_result
  done
  printf '%s: interrupted by SIG%s; no scan result of this run says pass\n' "$GATE" "$1" >&2
  rm -rf -- "$RUN_DIR"
  [[ "$1" == INT ]] && exit 130
  exit 143
}

# lock_reports: hold the report directory for this run, so two runs at once never mix their results.
lock_reports() {
  mkdir -p "$SECURITY_REPORT_DIR" 2>/dev/null && [[ -w "$SECURITY_REPORT_DIR" ]] || {
    printf '%s: error: the report directory %s is not writable\n' "$GATE" "$SECURITY_REPORT_DIR" >&2
    exit "$EXIT_ERROR"
  }
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$SECURITY_REPORT_DIR/.lock"
  if ! flock -n 9; then
    printf '%s: another run is writing to %s; waiting for it to finish\n' "$GATE" "$SECURITY_REPORT_DIR" >&2
    flock 9
  fi
}

# clear_previous_results: before anything else can fail, replace each scan's result with an "error" placeholder
# and remove the gate's summaries, so that no earlier run's "pass" can be read as this run's result.
clear_previous_results() {
  local scan unwritable=""
  rm -f -- "$SECURITY_REPORT_DIR/$GATE.md" "$SECURITY_REPORT_DIR/$GATE.sarif"
  for scan in "${SCANS[@]}"; do
    rm -f -- "$SECURITY_REPORT_DIR/$scan.raw.json"
    SCAN_NAME=$scan SCAN_TARGET=$PROJECT_DIR \
      write_error_result "the $scan scan did not complete (not started, interrupted or crashed)" ||
      { SCAN_NAME=$scan forget_result; unwritable=1; }
  done
  SCAN_NAME=""
  if [[ -n "$unwritable" ]]; then
    printf '%s: error: cannot write to the report directory %s (full or read-only)\n' "$GATE" "$SECURITY_REPORT_DIR" >&2
    rm -rf -- "$RUN_DIR"
    exit "$EXIT_ERROR"
  fi
}

# check_jq: stop with every scan's result saying why, unless jq can run the gate's programs.
check_jq() {
  local problem scan
  problem=$(jq_problem)
  [[ -n "$problem" ]] || return 0
  for scan in "${SCANS[@]}"; do
    SCAN_NAME=$scan SCAN_TARGET=$PROJECT_DIR write_error_result "$scan could not be completed: $problem" || true
  done
  printf '%s: error: %s\n' "$GATE" "$problem" >&2
  rm -rf -- "$RUN_DIR"
  exit "$EXIT_ERROR"
}

# run_scans: start every scan in the background, its output to RUN_DIR/SCAN.log and its exit status to SCAN.rc.
# The scan scripts are this shell's own children, so that stop_scans' TERM reaches them (and so their tools).
run_scans() {
  local scan i rc
  for scan in "${SCANS[@]}"; do
    "$SCANS_DIR/$scan/run.sh" >"$RUN_DIR/$scan.log" 2>&1 &
    PIDS+=($!)
  done
  for i in "${!SCANS[@]}"; do
    rc=0
    wait "${PIDS[i]}" || rc=$?
    printf '%s\n' "$rc" >"$RUN_DIR/${SCANS[i]}.rc"
  done
}

# scan_exit SCAN: the scan's exit status, cross-checked with the status in its result file: they must agree,
# and a missing or unreadable result is an error.
scan_exit() {
  local scan=$1 rc status
  rc=$(cat "$RUN_DIR/$scan.rc" 2>/dev/null) || rc=2
  status=$(jq -r '.status' "$SECURITY_REPORT_DIR/$scan.json" 2>/dev/null) || status=unreadable
  case "$rc:$status" in
    0:pass | 1:fail) printf '%s' "$rc" ;;
    *:error) printf '2' ;;
    *)
      printf '%s: error: %s exited %s but its result says %s\n' "$GATE" "$scan" "$rc" "$status" >&2
      printf '2'
      ;;
  esac
}

# gate_status: the gate's exit status from the scans' statuses (an error outranks a failure).
gate_status() {
  local scan rc worst=0
  for scan in "${SCANS[@]}"; do
    rc=$(scan_exit "$scan")
    case "$rc" in
      0) ;;
      1) ((worst == 0)) && worst=1 ;;
      *) worst=2 ;;
    esac
  done
  printf '%s' "$worst"
}

# write_summaries STATUS: the Markdown summary and the SARIF file of this gate's results.
write_summaries() {
  local -a results=()
  local scan md
  for scan in "${SCANS[@]}"; do
    results+=("$SECURITY_REPORT_DIR/$scan.json")
  done
  md="$RUN_DIR/summary.md"
  if jq -r -s -L "$JQ_DIR" --arg gate "$GATE" -f "$JQ_DIR/summary.jq" "${results[@]}" >"$md" &&
    publish "$md" "$SECURITY_REPORT_DIR/$GATE.md"; then
    if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
      cat "$md" >>"$GITHUB_STEP_SUMMARY" || printf '%s: could not append to GITHUB_STEP_SUMMARY\n' "$GATE" >&2
    fi
  else
    printf '%s: error: could not write the Markdown summary\n' "$GATE" >&2
    return 1
  fi
  if [[ -f "$JQ_DIR/sarif.jq" ]]; then
    if ! jq -s -L "$JQ_DIR" -f "$JQ_DIR/sarif.jq" "${results[@]}" >"$RUN_DIR/gate.sarif"; then
      printf '%s: error: could not write the SARIF file\n' "$GATE" >&2
      return 1
    fi
    publish "$RUN_DIR/gate.sarif" "$SECURITY_REPORT_DIR/$GATE.sarif" || {
      printf '%s: error: could not write the SARIF file to %s\n' "$GATE" "$SECURITY_REPORT_DIR" >&2
      return 1
    }
  fi
}

main() {
  local scan status
  GATE=${1:?usage: run-gate.sh GATE SCAN...}
  shift
  SCANS=("$@")
  ((${#SCANS[@]} > 0)) || { printf 'usage: run-gate.sh GATE SCAN...\n' >&2; exit "$EXIT_ERROR"; }
  lock_reports
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/$GATE.XXXXXX")
  trap 'stop_scans INT' INT
  trap 'stop_scans TERM' TERM
  clear_previous_results
  check_jq
  printf '%s: running %s on %s\n' "$GATE" "${SCANS[*]}" "$PROJECT_DIR"
  export SECURITY_CORES_LOCK="$RUN_DIR/cores.lock"
  run_scans
  for scan in "${SCANS[@]}"; do
    printf '\n'
    cat "$RUN_DIR/$scan.log"
  done
  status=$(gate_status)
  write_summaries || status=$EXIT_ERROR
  rm -rf -- "$RUN_DIR"
  printf '\n%s: %s (results in %s)\n' "$GATE" \
    "$(case "$status" in 0) printf 'PASS' ;; 1) printf 'FAIL' ;; *) printf 'ERROR' ;; esac)" "$SECURITY_REPORT_DIR"
  exit "$status"
}

main "$@"
