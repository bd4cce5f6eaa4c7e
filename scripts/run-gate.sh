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
# Output: each scan's block as soon as that scan ends, whole, in the order the scans end; the verdict line last.
# While scans run, progress (each running scan, what it is doing, how many files it has done when it can count
# them, the time since the scans started; common.sh scan_progress): when stdout is a terminal (TERM not dumb),
# one status line rewritten in place every second and erased before anything else is printed; otherwise (CI, a
# pipe, a file) a plain line every SECURITY_PROGRESS_SECONDS, none for a run that ends sooner.
# Exit: 0 every scan passed, 1 a scan found something over its threshold, 2 a scan could not be completed or the
# gate itself could not run (130/143 when interrupted); the verdict's exit_code is the same number.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   SECURITY_PROGRESS_SECONDS=30  seconds between two progress lines when stdout is no terminal (0: no progress at all, on a terminal neither)
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/lib/common.sh"

# Seconds between two redraws of the status line on a terminal; the most the progress loop sleeps otherwise (a
# scan that ends wakes it at once).
readonly TERMINAL_REDRAW=1 LONGEST_TICK=5

GATE=""
RUN_DIR=""
LOCK_PROBLEM=""  # why the report directory could not be locked, for after the earlier results are cleared
VERDICT_DONE=""  # set once this run's verdict (final, or an error saying why) is written
declare -a SCANS=() PIDS=() RESULTS=() # RESULTS: each scan's result file, in SCANS' order
declare -a REPORTED=() # what the reports are made from: RESULTS, or their view with one finding per secret (dedupe_results)
declare -A RUNNING=() # the scans still running: pid -> scan (run_scans)
SECURITY_PROGRESS_SECONDS=${SECURITY_PROGRESS_SECONDS:-30}
PROGRESS="" # how progress is shown: terminal, lines or off (progress_setup)
STATUS_SHOWN="" # set while the status line is on the terminal
BLOCK_ENDED="" # set when a block was the last thing printed (a plain progress line then starts a paragraph)
BLOCK_OPEN="" # set while a block is being printed (an interruption then ends its line)
TICKER_PID="" # the sleep that wakes the progress loop
STARTED=0 NEXT_LINE=0 # when the scans started, and when the next plain progress line is due (seconds after)

# stop_scans SIGNAL: on an interruption, stop every running scan (each stops its tool and leaves an "error"
# result), turn the results of scans that had already passed into errors and remove the summaries: an
# interrupted run says pass nowhere. Then exit non-zero.
# shellcheck disable=SC2329 # invoked by the INT and TERM traps
stop_scans() {
  local scan status message
  trap - INT TERM
  end_scans
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

# end_scans: stop the progress line and every scan still running (TERM: each stops its tool and leaves an "error"
# result), and wait for them: a scan the gate no longer waits for must not write a pass after the gate's verdict.
end_scans() {
  local pid
  progress_stop
  for pid in "${!RUNNING[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  RUNNING=()
}

# on_gate_exit: the EXIT trap. A run that ends without writing a verdict (a command failed under set -e, say)
# is an error: the scans still running are stopped, the summaries go, the verdict says so, and the exit status is
# 2 whatever the failed command's was.
# shellcheck disable=SC2329 # invoked by the EXIT trap
on_gate_exit() {
  local rc=$? scan why
  progress_stop
  [[ -z "$VERDICT_DONE" ]] || exit "$rc"
  trap - EXIT
  end_scans
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

# gate_error MESSAGE: stop the run (and the scans still running): every scan's result and the verdict say "error"
# with MESSAGE, the summaries are removed, exit 2.
gate_error() {
  local scan
  end_scans
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
  # The scans' placeholders, built without jq (error_result_json: each scan replaces its own as it ends); each one
  # that cannot be written is removed.
  for scan in "${SCANS[@]}"; do
    rm -f -- "$SECURITY_REPORT_DIR/$scan.raw.json"
    SCAN_NAME=$scan SCAN_TARGET=$PROJECT_DIR \
      error_result_json "the $scan scan did not complete (not started, interrupted or crashed)" |
      SCAN_NAME=$scan write_atomically "$SECURITY_REPORT_DIR/$scan.json" ||
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

# progress_setup: how progress is shown (PROGRESS: a status line when stdout is a terminal that can erase a line,
# i.e. whose TERM is not dumb), and SECURITY_PROGRESS_DIR, where the scans write what they are
# doing (common.sh scan_progress). A SECURITY_PROGRESS_SECONDS that is no whole number stops the run.
progress_setup() {
  [[ "$SECURITY_PROGRESS_SECONDS" =~ ^[0-9]+$ ]] ||
    gate_error "SECURITY_PROGRESS_SECONDS must be a whole number of seconds (0: no progress), not '$SECURITY_PROGRESS_SECONDS'"
  SECURITY_PROGRESS_SECONDS=$((10#$SECURITY_PROGRESS_SECONDS))
  if ((SECURITY_PROGRESS_SECONDS == 0)); then
    PROGRESS=off
  elif [[ -t 1 && "${TERM:-}" != dumb ]]; then
    PROGRESS=terminal
  else
    PROGRESS=lines
  fi
  mkdir "$RUN_DIR/progress" || gate_error "cannot write to its temporary folder $RUN_DIR"
  export SECURITY_PROGRESS_DIR="$RUN_DIR/progress"
}

# elapsed SECONDS: "42s", "3m07s".
elapsed() {
  if (($1 < 60)); then printf '%ss' "$1"; else printf '%sm%02ds' "$(($1 / 60))" "$(($1 % 60))"; fi
}

# progress_text SCAN...: each SCAN with what it said it is doing, e.g. "bandit (scanning files 120/885), pip-audit".
progress_text() {
  local scan phase count total text=""
  for scan in "$@"; do
    phase="" count="" total=""
    [[ ! -f "$SECURITY_PROGRESS_DIR/$scan" ]] ||
      IFS=$'\t' read -r phase count total <"$SECURITY_PROGRESS_DIR/$scan" 2>/dev/null || true
    phase=${phase//[[:cntrl:]]/ }
    text+="${text:+, }$scan"
    [[ -z "$phase" ]] && continue
    text+=" ($phase"
    [[ "$count" =~ ^[0-9]+$ && "$total" =~ ^[0-9]+$ ]] && text+=" $count/$total"
    text+=")"
  done
  printf '%s' "$text"
}

# progress_show SCAN...: the progress of the running SCANs: the status line redrawn (terminal), or a plain line
# when one is due (lines).
progress_show() {
  local now=$((SECONDS - STARTED)) line columns
  case "$PROGRESS" in
    terminal)
      line="$GATE $(elapsed "$now"): $(progress_text "$@")" # short: the line is cut at the terminal's width
      columns=$(stty size <&1 2>/dev/null) && columns=${columns#* } || columns=80
      [[ "$columns" =~ ^[0-9]+$ ]] && ((columns > 1)) || columns=80
      STATUS_SHOWN=1 # first: an interruption's trap may run as soon as the line is out
      printf '\r\033[K%s' "${line:0:columns-1}"
      ;;
    lines)
      ((now >= NEXT_LINE)) || return 0
      [[ -z "$BLOCK_ENDED" ]] || printf '\n'
      printf '%s: still running after %s: %s\n' "$GATE" "$(elapsed "$now")" "$(progress_text "$@")"
      BLOCK_ENDED=""
      NEXT_LINE=$((now + SECURITY_PROGRESS_SECONDS))
      ;;
  esac
}

# progress_erase: take the status line off the terminal, so that what is printed next starts on a clean line.
progress_erase() {
  [[ -n "$STATUS_SHOWN" ]] || return 0
  printf '\r\033[K'
  STATUS_SHOWN=""
}

# ticker_start: a sleep in the background whose end wakes the progress loop (wait -n): every TERMINAL_REDRAW
# seconds on a terminal, else when the next plain line is due (at most LONGEST_TICK seconds away).
ticker_start() {
  local seconds=$TERMINAL_REDRAW
  if [[ "$PROGRESS" != terminal ]]; then
    seconds=$LONGEST_TICK
    [[ "$PROGRESS" != lines ]] || ((NEXT_LINE - (SECONDS - STARTED) >= seconds)) ||
      seconds=$((NEXT_LINE - (SECONDS - STARTED)))
    ((seconds > 0)) || seconds=1
  fi
  sleep "$seconds" &
  TICKER_PID=$!
}

# progress_stop: stop the ticker and erase the status line (the end of the scans, an interruption, a crash); end
# the line of a block an interruption cut short.
progress_stop() {
  if [[ -n "$TICKER_PID" ]]; then
    kill "$TICKER_PID" 2>/dev/null || true
    wait "$TICKER_PID" 2>/dev/null || true
    TICKER_PID=""
  fi
  progress_erase
  [[ -z "$BLOCK_OPEN" ]] || printf '\n'
  BLOCK_OPEN=""
}

# print_block SCAN: the scan's output as one block, the status line erased first. In GitHub Actions, between
# ::stop-commands:: and an unguessable token of its own, so that nothing a scanned file or a tool wrote can pass
# for a workflow command.
print_block() {
  local token=""
  progress_erase
  if [[ "${GITHUB_ACTIONS:-}" == true ]]; then
    token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    [[ "$token" =~ ^[0-9a-f]{32}$ ]] || gate_error "could not read a random token for ::stop-commands::"
    printf '::stop-commands::%s\n' "$token"
  fi
  printf '\n'
  BLOCK_OPEN=1
  cat "$RUN_DIR/$1.log"
  BLOCK_OPEN=""
  [[ -z "$token" ]] || printf '::%s::\n' "$token"
  BLOCK_ENDED=1
}

# run_scans: start every scan in the background, its output to RUN_DIR/SCAN.log; as each ends, its exit status
# to SCAN.rc and its block printed (print_block), in the order they end; progress in between (progress_show).
# The scan scripts are this shell's own children, so that stop_scans' TERM reaches them (and so their tools).
run_scans() {
  local scan pid rc
  local -a still
  for scan in "${SCANS[@]}"; do
    "$SCANS_DIR/$scan/run.sh" >"$RUN_DIR/$scan.log" 2>&1 &
    PIDS+=($!)
    RUNNING[$!]=$scan
  done
  STARTED=$SECONDS
  NEXT_LINE=$SECURITY_PROGRESS_SECONDS
  ticker_start
  while ((${#RUNNING[@]} > 0)); do
    wait -n 2>/dev/null || true # a scan or the ticker ended (or a trapped signal came)
    for pid in "${PIDS[@]}"; do # in SCANS' order: scans that end together print in that order
      [[ -n "${RUNNING[$pid]:-}" ]] || continue
      ! kill -0 "$pid" 2>/dev/null || continue
      scan=${RUNNING[$pid]}
      unset "RUNNING[$pid]"
      rc=0
      wait "$pid" || rc=$?
      printf '%s\n' "$rc" >"$RUN_DIR/$scan.rc"
      print_block "$scan"
    done
    ((${#RUNNING[@]} > 0)) || break
    ! kill -0 "$TICKER_PID" 2>/dev/null || continue
    wait "$TICKER_PID" 2>/dev/null || true
    still=()
    for pid in "${PIDS[@]}"; do
      [[ -z "${RUNNING[$pid]:-}" ]] || still+=("${RUNNING[$pid]}")
    done
    progress_show "${still[@]}"
    ticker_start
  done
  progress_stop
}

# scan_exit SCAN [STATUS]: the scan's exit status, cross-checked with the status in its result file (STATUS when
# already read): they must agree, and a missing or unreadable result is an error.
scan_exit() {
  local scan=$1 rc status=${2:-}
  rc=$(cat "$RUN_DIR/$scan.rc" 2>/dev/null) || rc=2
  [[ -n "$status" ]] || status=$(jq -r '.status' "$SECURITY_REPORT_DIR/$scan.json" 2>/dev/null) || status=unreadable
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
  local scan file status rc worst=0
  local -A statuses=()
  # Every result's status in one jq run, by file; a file that gives none, or more than one, is read on its own.
  while IFS=$'\t' read -r file status; do
    if [[ -n "${statuses[$file]+set}" ]]; then statuses[$file]=""; else statuses[$file]=$status; fi
  done < <(jq -r '"\(input_filename)\t\(.status)"' "${RESULTS[@]}" 2>/dev/null)
  for scan in "${SCANS[@]}"; do
    rc=$(scan_exit "$scan" "${statuses[$SECURITY_REPORT_DIR/$scan.json]:-}")
    case "$rc" in
      0) ;;
      1) ((worst == 0)) && worst=1 ;;
      *) worst=2 ;;
    esac
  done
  printf '%s' "$worst"
}

# secret_scans: the gate's scans that are secret engines (scan_kind secrets), space-separated.
secret_scans() {
  local scan names=""
  for scan in "${SCANS[@]}"; do
    [[ "$(scan_kind "$scan")" != secrets ]] || names+="${names:+ }$scan"
  done
  printf '%s' "$names"
}

# dedupe_results: the results as the reports show them, a secret that two secret engines report at one place once
# (jq/dedupe.jq), one a line in RUN_DIR/reported.jsonl, which REPORTED then names. With no secret scan, the results
# themselves.
dedupe_results() {
  local engines
  REPORTED=("${RESULTS[@]}")
  engines=$(secret_scans)
  [[ -n "$engines" ]] || return 0
  jq -c -s -L "$JQ_DIR" --arg engines "$engines" -f "$JQ_DIR/dedupe.jq" "${RESULTS[@]}" >"$RUN_DIR/reported.jsonl" || {
    printf '%s: error: could not merge the secret engines'"'"' findings\n' "$GATE" >&2
    return 1
  }
  REPORTED=("$RUN_DIR/reported.jsonl")
}

# append_step_summary FILE: FILE appended to GITHUB_STEP_SUMMARY when the step's summary then stays within GitHub's
# limit (jq/lib.jq; summary.jq keeps within it, but an earlier part of the step may have written some), else a
# line saying where the summary is while that fits: GitHub drops a step summary over its limit whole.
append_step_summary() {
  local limit size have pointer
  limit=$(jq -n -L "$JQ_DIR" 'include "lib"; github_limits.step_summary_bytes' 2>/dev/null) || limit=""
  [[ "$limit" =~ ^[0-9]+$ ]] || { printf '%s: could not read the step summary limit\n' "$GATE" >&2; return 0; }
  size=$(wc -c <"$1")
  have=0
  [[ ! -f "$GITHUB_STEP_SUMMARY" ]] || have=$(wc -c <"$GITHUB_STEP_SUMMARY") || have=$limit
  if ((have + size <= limit)); then
    cat "$1" >>"$GITHUB_STEP_SUMMARY" || printf '%s: could not append to GITHUB_STEP_SUMMARY\n' "$GATE" >&2
    return 0
  fi
  printf "%s: the summary (%s bytes) would take the step summary (%s bytes) past GitHub's limit of %s bytes; it is %s.md in the reports\n" \
    "$GATE" "$size" "$have" "$limit" "$GATE" >&2
  pointer="## Security gate \`$GATE\`"$'\n\n'"The summary ($size bytes) would take this step summary past GitHub's limit"
  pointer+=" of $limit bytes: it is $GATE.md in the $GATE artifact."
  ((have + ${#pointer} + 1 > limit)) || printf '%s\n' "$pointer" >>"$GITHUB_STEP_SUMMARY" ||
    printf '%s: could not append to GITHUB_STEP_SUMMARY\n' "$GATE" >&2
}

# write_summaries: the Markdown summary and the SARIF file of this gate's results (the two jq runs side by side).
write_summaries() {
  local md sarif_pid sarif_rc=0
  md="$RUN_DIR/summary.md"
  dedupe_results || return 1
  jq -s -L "$JQ_DIR" -f "$JQ_DIR/sarif.jq" "${REPORTED[@]}" >"$RUN_DIR/gate.sarif" &
  sarif_pid=$!
  if jq -r -s -L "$JQ_DIR" --arg gate "$GATE" -f "$JQ_DIR/summary.jq" "${REPORTED[@]}" >"$md" &&
    publish "$md" "$SECURITY_REPORT_DIR/$GATE.md"; then
    [[ -z "${GITHUB_STEP_SUMMARY:-}" ]] || append_step_summary "$md"
  else
    wait "$sarif_pid" || true
    printf '%s: error: could not write the Markdown summary\n' "$GATE" >&2
    return 1
  fi
  wait "$sarif_pid" || sarif_rc=$?
  if ((sarif_rc != 0)); then
    printf '%s: error: could not write the SARIF file\n' "$GATE" >&2
    return 1
  fi
  publish "$RUN_DIR/gate.sarif" "$SECURITY_REPORT_DIR/$GATE.sarif" || {
    printf '%s: error: could not write the SARIF file to %s\n' "$GATE" "$SECURITY_REPORT_DIR" >&2
    return 1
  }
}

# annotate: in GitHub Actions (GITHUB_ACTIONS=true), each scan error and (up to GitHub's limit, jq/lib.jq) each
# finding over the threshold as an annotation on its file and line (jq/annotations.jq). A view of the results:
# when it cannot be made, that is said and the verdict stands.
annotate() {
  [[ "${GITHUB_ACTIONS:-}" == true ]] || return 0
  ((${#REPORTED[@]} > 0)) || REPORTED=("${RESULTS[@]}")
  if jq -r -s -L "$JQ_DIR" -f "$JQ_DIR/annotations.jq" --arg gate "$GATE" "${REPORTED[@]}" \
    >"$RUN_DIR/annotations" 2>"$RUN_DIR/annotations.err"; then
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
  progress_setup
  printf '%s: running %s on %s\n' "$GATE" "${SCANS[*]}" "$PROJECT_DIR"
  run_scans
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
