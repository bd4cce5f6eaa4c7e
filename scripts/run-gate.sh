#!/usr/bin/env bash
# Summary: run a gate's scans at the same time, print each scan's output as one block, write the summaries.
# Usage: scripts/run-gate.sh GATE SCAN...     (make security-code: scripts/run-gate.sh security-code $(CODE_SCANS))
#
# Every scan runs to its end whatever the others do. The scans start together and run side by side. Writes
# SECURITY_REPORT_DIR/GATE.md (Markdown summary, also appended to GITHUB_STEP_SUMMARY when
# set), SECURITY_REPORT_DIR/GATE.sarif and, last, SECURITY_REPORT_DIR/GATE.verdict.json, the one file that says how
# the run ended (README "Exit contract and the verdict"). Until that last step the verdict says "error", as it
# does after every way out other than a completed run: nothing an earlier run left says pass. In GitHub Actions
# (GITHUB_ACTIONS=true) it also prints the scan errors and findings as annotations (jq/annotations.jq).
# Exit: 0 every scan passed, 1 a scan found something over its threshold, 2 a scan could not be completed or the
# gate itself could not run (130/143 when interrupted); the verdict's exit_code is the same number.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/lib/common.sh"

# Error annotations a run prints in GitHub Actions: GitHub shows 10 error annotations a step and drops the rest.
readonly ANNOTATION_LIMIT=10

GATE=""
RUN_DIR=""
LOCK_PROBLEM=""  # why the report directory could not be locked, for after the earlier results are cleared
VERDICT_DONE=""  # set once this run's verdict (final, or an error saying why) is written
declare -a SCANS=() PIDS=() RESULTS=() # RESULTS: each scan's result file, in SCANS' order

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
  write_error_verdict "$GATE" "the $GATE run was interrupted by SIG$1" "${SCANS[@]}" ||
    rm -f -- "$(verdict_path "$GATE")"
  VERDICT_DONE=1
  printf '%s: interrupted by SIG%s; no scan result of this run says pass\n' "$GATE" "$1" >&2
  rm -rf -- "$RUN_DIR"
  [[ "$1" == INT ]] && exit 130
  exit 143
}

# on_gate_exit: the EXIT trap. A run that ends without writing a verdict (a command failed under set -e, say)
# is an error: the summaries go, the verdict says so, and the exit status is 2 whatever the failed command's was.
# shellcheck disable=SC2329 # invoked by the EXIT trap
on_gate_exit() {
  local rc=$? scan why
  [[ -z "$VERDICT_DONE" ]] || exit "$rc"
  trap - EXIT
  why="the $GATE run stopped unexpectedly (exit $rc) before its verdict"
  printf '%s: error: %s\n' "$GATE" "$why" >&2
  rm -f -- "$SECURITY_REPORT_DIR/$GATE.md" "$SECURITY_REPORT_DIR/$GATE.sarif" 2>/dev/null
  for scan in "${SCANS[@]}"; do
    [[ "$(jq -r '.status' "$SECURITY_REPORT_DIR/$scan.json" 2>/dev/null)" != pass ]] ||
      SCAN_NAME=$scan SCAN_TARGET=$PROJECT_DIR write_error_result "the $scan scan passed, but $why" ||
      SCAN_NAME=$scan forget_result
  done
  write_error_verdict "$GATE" "$why" "${SCANS[@]}" || rm -f -- "$(verdict_path "$GATE")" 2>/dev/null
  [[ -z "$RUN_DIR" ]] || rm -rf -- "$RUN_DIR"
  exit "$EXIT_ERROR"
}

# gate_error MESSAGE: stop the run before its scans: every scan's result and the verdict say "error" with
# MESSAGE, the summaries are removed, exit 2.
gate_error() {
  local scan
  for scan in "${SCANS[@]}"; do
    SCAN_NAME=$scan SCAN_TARGET=$PROJECT_DIR write_error_result "$scan could not be completed: $1" ||
      SCAN_NAME=$scan forget_result
  done
  rm -f -- "$SECURITY_REPORT_DIR/$GATE.md" "$SECURITY_REPORT_DIR/$GATE.sarif"
  write_error_verdict "$GATE" "$1" "${SCANS[@]}" || rm -f -- "$(verdict_path "$GATE")"
  VERDICT_DONE=1
  printf '%s: error: %s\n' "$GATE" "$1" >&2
  [[ -z "$RUN_DIR" ]] || rm -rf -- "$RUN_DIR"
  exit "$EXIT_ERROR"
}

# spoil_in_place MESSAGE: the report directory cannot be written to, but the files an earlier run left in it may
# still be: overwrite the verdict and each scan's result with an "error" saying MESSAGE, and empty the summaries
# and raw outputs, so that none of them says pass. What cannot be written stays; the exit status says error.
spoil_in_place() {
  local scan name file
  for name in "$GATE.md" "$GATE.sarif" "${SCANS[@]/%/.raw.json}"; do
    file="$SECURITY_REPORT_DIR/$name"
    [[ ! -f "$file" || ! -w "$file" ]] || : 2>/dev/null >"$file" || true
  done
  file=$(verdict_path "$GATE")
  [[ ! -f "$file" || ! -w "$file" ]] || error_verdict_json "$GATE" "$1" "${SCANS[@]}" 2>/dev/null >"$file" || true
  for scan in "${SCANS[@]}"; do
    file="$SECURITY_REPORT_DIR/$scan.json"
    [[ ! -f "$file" || ! -w "$file" ]] ||
      SCAN_NAME=$scan SCAN_TARGET=$PROJECT_DIR error_result_json "$scan could not be completed: $1" 2>/dev/null >"$file" ||
      true
  done
}

# lock_reports: hold the report directory for this run, so two runs at once never mix their results. A report
# directory that cannot be written stops the run (nothing could be kept); a lock that cannot be taken is
# LOCK_PROBLEM, reported once the earlier results are cleared.
lock_reports() {
  local lock="$SECURITY_REPORT_DIR/.lock"
  mkdir -p "$SECURITY_REPORT_DIR" 2>/dev/null && [[ -w "$SECURITY_REPORT_DIR" ]] || {
    [[ ! -d "$SECURITY_REPORT_DIR" ]] || spoil_in_place "the report directory $SECURITY_REPORT_DIR is not writable"
    printf '%s: error: the report directory %s is not writable\n' "$GATE" "$SECURITY_REPORT_DIR" >&2
    exit "$EXIT_ERROR"
  }
  command -v flock >/dev/null 2>&1 || return 0
  if [[ -d "$lock" ]] || ! { exec 9>"$lock"; } 2>/dev/null; then
    LOCK_PROBLEM="cannot open the lock file $lock (a directory, or not writable): remove it and run again"
    return 0
  fi
  if ! flock -n 9; then
    printf '%s: another run is writing to %s; waiting for it to finish\n' "$GATE" "$SECURITY_REPORT_DIR" >&2
    flock 9 || LOCK_PROBLEM="cannot lock $lock"
  fi
}

# make_run_dir: RUN_DIR, this run's temporary folder (in TMPDIR).
make_run_dir() {
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/$GATE.XXXXXX" 2>/dev/null) ||
    gate_error "cannot create a temporary folder in ${TMPDIR:-/tmp} (TMPDIR): does it exist, with space to write?"
}

# clear_previous_results: before anything else can fail, replace each scan's result and the verdict with "error"
# placeholders and remove the gate's summaries, so that no earlier run's "pass" can be read as this run's result.
clear_previous_results() {
  local scan unwritable=""
  rm -f -- "$SECURITY_REPORT_DIR/$GATE.md" "$SECURITY_REPORT_DIR/$GATE.sarif"
  write_error_verdict "$GATE" "the $GATE run did not complete (still running, interrupted or crashed)" "${SCANS[@]}" ||
    { rm -f -- "$(verdict_path "$GATE")"; unwritable=1; }
  for scan in "${SCANS[@]}"; do
    rm -f -- "$SECURITY_REPORT_DIR/$scan.raw.json"
    SCAN_NAME=$scan SCAN_TARGET=$PROJECT_DIR \
      write_error_result "the $scan scan did not complete (not started, interrupted or crashed)" ||
      { SCAN_NAME=$scan forget_result; unwritable=1; }
  done
  if [[ -n "$unwritable" ]]; then
    VERDICT_DONE=1 # none can be written
    printf '%s: error: cannot write to the report directory %s (full or read-only)\n' "$GATE" "$SECURITY_REPORT_DIR" >&2
    exit "$EXIT_ERROR"
  fi
}

# check_jq: stop with every scan's result saying why, unless jq can run the gate's programs.
check_jq() {
  local problem
  problem=$(jq_problem)
  [[ -z "$problem" ]] || gate_error "$problem"
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

# write_summaries: the Markdown summary and the SARIF file of this gate's results.
write_summaries() {
  local md
  md="$RUN_DIR/summary.md"
  if jq -r -s -L "$JQ_DIR" --arg gate "$GATE" -f "$JQ_DIR/summary.jq" "${RESULTS[@]}" >"$md" &&
    publish "$md" "$SECURITY_REPORT_DIR/$GATE.md"; then
    if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
      cat "$md" >>"$GITHUB_STEP_SUMMARY" || printf '%s: could not append to GITHUB_STEP_SUMMARY\n' "$GATE" >&2
    fi
  else
    printf '%s: error: could not write the Markdown summary\n' "$GATE" >&2
    return 1
  fi
  if ! jq -s -L "$JQ_DIR" -f "$JQ_DIR/sarif.jq" "${RESULTS[@]}" >"$RUN_DIR/gate.sarif"; then
    printf '%s: error: could not write the SARIF file\n' "$GATE" >&2
    return 1
  fi
  publish "$RUN_DIR/gate.sarif" "$SECURITY_REPORT_DIR/$GATE.sarif" || {
    printf '%s: error: could not write the SARIF file to %s\n' "$GATE" "$SECURITY_REPORT_DIR" >&2
    return 1
  }
}

# print_scan_logs: each scan's output as one block. In GitHub Actions, between ::stop-commands:: and its
# unguessable token, so that nothing a scanned file or a tool wrote can pass for a workflow command.
print_scan_logs() {
  local scan token=""
  if [[ "${GITHUB_ACTIONS:-}" == true ]]; then
    token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    [[ "$token" =~ ^[0-9a-f]{32}$ ]] || gate_error "could not read a random token for ::stop-commands::"
    printf '::stop-commands::%s\n' "$token"
  fi
  for scan in "${SCANS[@]}"; do
    printf '\n'
    cat "$RUN_DIR/$scan.log"
  done
  [[ -z "$token" ]] || printf '::%s::\n' "$token"
}

# annotate: in GitHub Actions (GITHUB_ACTIONS=true), each scan error and (up to ANNOTATION_LIMIT in all) each
# finding over the threshold as an annotation on its file and line (jq/annotations.jq). A view of the results:
# when it cannot be made, that is said and the verdict stands.
annotate() {
  [[ "${GITHUB_ACTIONS:-}" == true ]] || return 0
  if jq -r -s -L "$JQ_DIR" -f "$JQ_DIR/annotations.jq" --arg gate "$GATE" --argjson limit "$ANNOTATION_LIMIT" \
    "${RESULTS[@]}" >"$RUN_DIR/annotations" 2>"$RUN_DIR/annotations.err"; then
    cat "$RUN_DIR/annotations"
  else
    printf '%s: could not write the annotations: %s\n' "$GATE" "$(jq_error_text "$RUN_DIR/annotations.err")" >&2
  fi
}

# write_verdict STATUS: the verdict of this run (jq/verdict.jq), published last; an error verdict saying why
# when it cannot be built. Returns non-zero when the run's verdict is not STATUS.
write_verdict() {
  local status=$1 error summary=null sarif=null
  [[ ! -f "$SECURITY_REPORT_DIR/$GATE.md" ]] || summary="\"$GATE.md\""
  [[ ! -f "$SECURITY_REPORT_DIR/$GATE.sarif" ]] || sarif="\"$GATE.sarif\""
  error=$(sed "s/^$GATE: error: //" "$RUN_DIR/gate.err" | tr '\n' ' ' | sed 's/ *$//')
  if jq -s -L "$JQ_DIR" -f "$JQ_DIR/verdict.jq" --arg gate "$GATE" --argjson exit_code "$status" \
    --arg error "$error" --argjson summary "$summary" --argjson sarif "$sarif" --arg finished_at "$(now_utc)" \
    --argjson schema_version "$VERDICT_SCHEMA_VERSION" "${RESULTS[@]}" >"$RUN_DIR/verdict.json" 2>"$RUN_DIR/verdict.err" &&
    publish "$RUN_DIR/verdict.json" "$(verdict_path "$GATE")"; then
    VERDICT_DONE=1
    return 0
  fi
  error="could not write the verdict: $(jq_error_text "$RUN_DIR/verdict.err")"
  printf '%s: error: %s\n' "$GATE" "$error" >&2
  write_error_verdict "$GATE" "$error" "${SCANS[@]}" || rm -f -- "$(verdict_path "$GATE")"
  VERDICT_DONE=1
  return 1
}

main() {
  local status
  (($# >= 2)) || { printf 'usage: run-gate.sh GATE SCAN...\n' >&2; exit "$EXIT_ERROR"; }
  GATE=$1
  shift
  SCANS=("$@")
  RESULTS=("${SCANS[@]/#/$SECURITY_REPORT_DIR/}")
  RESULTS=("${RESULTS[@]/%/.json}")
  export SECURITY_GATE=$GATE # the scans it runs leave the gate's own files to it (invalidate_gates)
  lock_reports # before the traps: while it waits, the files are another run's
  trap on_gate_exit EXIT
  trap 'stop_scans INT' INT
  trap 'stop_scans TERM' TERM
  clear_previous_results
  [[ -z "$LOCK_PROBLEM" ]] || gate_error "$LOCK_PROBLEM"
  [[ -z "$PROJECT_DIR_PROBLEM" ]] || gate_error "$PROJECT_DIR_PROBLEM"
  make_run_dir
  check_jq
  printf '%s: running %s on %s\n' "$GATE" "${SCANS[*]}" "$PROJECT_DIR"
  run_scans
  print_scan_logs
  status=$(gate_status 2>"$RUN_DIR/gate.err")
  if write_summaries 2>"$RUN_DIR/summaries.err"; then
    cat "$RUN_DIR/summaries.err" >&2
  else
    status=$EXIT_ERROR
    cat "$RUN_DIR/summaries.err" >>"$RUN_DIR/gate.err"
  fi
  cat "$RUN_DIR/gate.err" >&2
  annotate
  write_verdict "$status" || status=$EXIT_ERROR
  rm -rf -- "$RUN_DIR"
  printf '\n%s: %s (results in %s)\n' "$GATE" \
    "$(case "$status" in 0) printf 'PASS' ;; 1) printf 'FAIL' ;; *) printf 'ERROR' ;; esac)" "$SECURITY_REPORT_DIR"
  exit "$status"
}

main "$@"
