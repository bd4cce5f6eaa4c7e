# shellcheck shell=bash
# Summary: shared functions of the scan scripts: paths, logging, the scan life cycle, running jq and tools.
#
# A scan script sources this file, then calls, in order:
#   scan_begin NAME TARGET       claim reports/security/NAME.json (an "error" placeholder until the scan ends)
#   scan_policy FAIL_ON [MIN_CONFIDENCE [IGNORE_UNFIXED]]   the scan's threshold (jq/policy.jq)
#   scan_run_tool OUT ERR -- CMD...  run the tool within what is left of SCAN_TIMEOUT, its stdout to OUT
#   normalize PROGRAM RAW OUT    the tool's output to findings, with the scan's PROGRAM (scans/NAME/PROGRAM)
#   scan_finish FINDINGS [PROBLEM]   gate the findings with the policy and publish the result, then exit 0/1/2
# or scan_error MESSAGE at any point (publishes an "error" result, exits 2).
# Coverage, recorded at any point between scan_begin and scan_finish (gate.jq turns it into the result):
#   scan_gap ID MESSAGE          something the tool left out (an error unless a suppression entry accepts ID)
#   scan_excluded ITEM RULE      something deliberately not scanned, and the rule that excluded it (listed)
#   scan_coverage INVENTORY SCANNED  how many items the gate computed must be scanned, and how many the tool did
#   scan_gaps_from FILE, scan_excluded_from FILE  the same in bulk, from JSON lines a helper wrote
# Progress, for the gate's progress line (run-gate.sh), at any point:
#   scan_progress PHASE [DONE TOTAL]  what the scan is doing now, and how far it is when it can count (files, batches)
# Exit contract: 0 pass, 1 findings at or over the threshold, 2 the scan could not be completed.
# A scan run on its own (SECURITY_GATE unset; run-gate.sh sets it to the gate's name) also invalidates the gate
# verdicts, Markdown summaries and SARIF files it would contradict (invalidate_gates).
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   PROJECT_DIR=$GATE_ROOT  the tree to scan (GATE_ROOT: this repository), with its own pyproject.toml, uv.lock, .secrets.baseline and suppression file
#   SECURITY_REPORT_DIR=$GATE_ROOT/reports/security  where results, raw outputs, summaries and verdicts go
#   SCAN_TIMEOUT=900  seconds each scan may run, all its tool runs together, before it is stopped and reported as an error
#   SECURITY_SUPPRESSIONS=$PROJECT_DIR/.security-suppressions.json  the reviewed suppression file
#   SECURITY_SECRETS_ADOPTED=$PROJECT_DIR/.security-secrets-adopted.json  the secrets recorded by make secrets-baseline, each accepted where it was (README "Adopting the gate on an old repository")
#   SECURITY_DEBUG=  1: trace the scripts (set -x)

GATE_ROOT=$(cd "${BASH_SOURCE[0]%/*}/../.." && pwd)
readonly GATE_ROOT
readonly JQ_DIR="$GATE_ROOT/jq"
readonly SCANS_DIR="$GATE_ROOT/scans" # one folder per scan: scans/NAME/run.sh and its jq programs
readonly RESULT_SCHEMA_VERSION=1
readonly VERDICT_SCHEMA_VERSION=1 # SECURITY_REPORT_DIR/GATE.verdict.json (README "The verdict file")
# The counts of a result that found nothing (an "error" placeholder), and of a verdict made of such results.
readonly ZERO_COUNTS='{"findings":0,"below_threshold":0,"suppressed":0,"coverage_gaps":0,"accepted_gaps":0,"excluded":0}'
readonly EXIT_PASS=0 EXIT_FAIL=1 EXIT_ERROR=2
readonly JQ_MIN_VERSION=1.6 # jq/*.jq use IN(), which jq 1.5 lacks

[[ -n "${SECURITY_DEBUG:-}" ]] && set -x

# A PROJECT_DIR that is not a directory is reported once the earlier results are cleared (scan_begin, run-gate.sh),
# so that it too ends as an error with nothing left saying pass.
PROJECT_DIR_PROBLEM=""
if ! PROJECT_DIR_RESOLVED=$(cd "${PROJECT_DIR:-$GATE_ROOT}" 2>/dev/null && pwd); then
  PROJECT_DIR_PROBLEM="PROJECT_DIR ${PROJECT_DIR:-} is not a directory"
  PROJECT_DIR_RESOLVED=$GATE_ROOT
fi
PROJECT_DIR=$PROJECT_DIR_RESOLVED
unset PROJECT_DIR_RESOLVED
SECURITY_REPORT_DIR=${SECURITY_REPORT_DIR:-$GATE_ROOT/reports/security}
SCAN_TIMEOUT=${SCAN_TIMEOUT:-900}
SECURITY_SUPPRESSIONS=${SECURITY_SUPPRESSIONS:-$PROJECT_DIR/.security-suppressions.json}
# The secret engines' adapters read it too (scripts/lib/adoption.py: its salt).
SECURITY_SECRETS_ADOPTED=${SECURITY_SECRETS_ADOPTED:-$PROJECT_DIR/.security-secrets-adopted.json}
export PROJECT_DIR SECURITY_REPORT_DIR SCAN_TIMEOUT SECURITY_SUPPRESSIONS SECURITY_SECRETS_ADOPTED
# The Python tools and helpers run in UTF-8 mode whatever the locale, so that a tree reads and is reported the same
# under LC_ALL=C as under a UTF-8 locale: detect-secrets would skip a UTF-8 file it cannot decode, and bandit would
# name a file with "é" in its path wrongly (and two such names alike).
export PYTHONUTF8=1
# This run's hashing key (64 hex digits), which salts every secret's hash the scans write (scripts/lib/cache.py
# run_key): made once a run (the gate's, which its scans inherit), kept in the environment only and written to no
# file, so that no cache and no artifact lets anyone test a guess against a salted hash (docs/workflow.md, "Caches").
if [[ ! "${SECURITY_RUN_KEY:-}" =~ ^[0-9a-f]{64}$ ]]; then
  SECURITY_RUN_KEY=$(od -An -tx1 -N32 /dev/urandom 2>/dev/null | tr -d ' \n') || SECURITY_RUN_KEY=""
fi
export SECURITY_RUN_KEY

SCAN_NAME=""
SCAN_DIR="" # scans/SCAN_NAME: the scan's own programs
SCAN_TARGET=""
SCAN_POLICY="" # set by policy_ready (from scan_policy's jq run), read by scan_finish
POLICY_PID=""  # scan_policy's jq run in the background
SCAN_WORK=""
SCAN_TOOL_PID=""
SCAN_DEADLINE="" # SECONDS at which the scan's SCAN_TIMEOUT runs out (scan_begin)
SCAN_TOOL_VERSION="" # the tool's version, when tool_version cannot read it (see there)
declare -a SCAN_HELPER_PIDS=()
SUPPRESSIONS_PID="" # the suppression file's check running in the background (suppressions_start)

# log MESSAGE...: a line on stderr, prefixed with the scan's name.
log() {
  printf '[%s] %s\n' "${SCAN_NAME:-security}" "$*" >&2
}

# json_string TEXT: TEXT as a JSON string literal, without jq (used when jq itself is the problem).
json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//[[:cntrl:]]/ }
  printf '"%s"' "$s"
}

# now_utc: the current time, ISO 8601 in UTC (bash's own strftime: no process).
now_utc() {
  TZ=UTC0 printf '%(%Y-%m-%dT%H:%M:%SZ)T' -1
}

# today_utc: today's date in UTC, YYYY-MM-DD.
today_utc() {
  TZ=UTC0 printf '%(%Y-%m-%d)T' -1
}

# publish FILE DEST: copy FILE onto DEST atomically (write_atomically). Returns non-zero, DEST untouched, when the
# copy cannot be written (the disk is full or read-only).
publish() {
  write_atomically "$2" <"$1"
}

# result_path: where this scan's result lives.
result_path() {
  printf '%s/%s.json' "$SECURITY_REPORT_DIR" "$SCAN_NAME"
}

# scan_names: the scans there are, one name a line: every folder scans/NAME that holds a run.sh. A scan is
# found by its name; nothing else lists them (the Makefile's CODE_SCANS and DOCKER_SCANS pick a gate's).
scan_names() {
  local run
  for run in "$SCANS_DIR"/*/run.sh; do
    [[ -f "$run" ]] || continue
    run=${run%/run.sh}
    printf '%s\n' "${run##*/}"
  done
}

# write_atomically DEST: stdin to DEST through a temporary file beside it, so readers never see half a file.
# Returns non-zero, DEST untouched, when it cannot be written (the disk is full or read-only).
write_atomically() {
  local tmp dir=.
  [[ "$1" != */* ]] || dir=${1%/*}
  tmp=$(mktemp "${dir:-/}/.${1##*/}.XXXXXX" 2>/dev/null) || return 1
  if cat >"$tmp" && mv -f "$tmp" "$1"; then
    return 0
  fi
  rm -f -- "$tmp"
  return 1
}

# tool_of SCAN: "NAME URI" from the "# Tool: NAME URI" line of scans/SCAN/run.sh's header (the tool the scan runs
# and where its documentation is); nothing when there is none.
tool_of() {
  local line
  [[ -r "$SCANS_DIR/$1/run.sh" ]] || return 0
  while IFS= read -r line; do
    [[ "$line" == "# Tool:"* ]] || continue
    line=${line#"# Tool:"}
    printf '%s\n' "${line#"${line%%[! ]*}"}"
    return 0
  done <"$SCANS_DIR/$1/run.sh"
  return 0
}

# scan_kind SCAN: KIND from the "# Kind: KIND" line of scans/SCAN/run.sh's header ("secrets": a secret engine, whose
# findings the gate shows once per secret across engines, jq/dedupe.jq); nothing when there is none.
scan_kind() {
  local line
  [[ -r "$SCANS_DIR/$1/run.sh" ]] || return 0
  while IFS= read -r line; do
    [[ "$line" == "#"* ]] || return 0
    [[ "$line" == "# Kind:"* ]] || continue
    line=${line#"# Kind:"}
    printf '%s\n' "${line//[[:space:]]/}"
    return 0
  done <"$SCANS_DIR/$1/run.sh"
  return 0
}

# gate_result OUT ERROR FINDINGS SUPPRESSIONS GAPS EXCLUDED COVERAGE [POLICY [TOOL_VERSION [EXTRA]]]: SCAN_NAME's
# result as jq/gate.jq builds it, into OUT: from these files (FINDINGS, SUPPRESSIONS, COVERAGE hold one JSON value
# each, GAPS and EXCLUDED one a line), POLICY (JSON, default null), the version of the tool that answered (default
# unknown) and EXTRA (a JSON object of fields the scan adds, SCAN_RESULT_EXTRA). Returns jq's status, its errors on
# stderr.
gate_result() {
  local out=$1 error=$2 tool_name tool_uri
  local -a extra=()
  # EXTRA reaches jq through a file (bash's printf is a builtin: no command line holds it), never as an argument:
  # it may be longer than the 128 KiB one argument may hold.
  if [[ -n "${10:-}" ]]; then
    printf '%s\n' "${10}" >"$out.extra" || return 1
    extra=(--slurpfile extra "$out.extra")
  fi
  read -r tool_name tool_uri < <(tool_of "$SCAN_NAME") || true
  # SECURITY_SECRETS_ADOPTING (set by scripts/secrets-baseline.sh only) keeps each finding's adoption fingerprint.
  [[ -z "${SECURITY_SECRETS_ADOPTING:-}" ]] || extra+=(--arg adopting 1)
  run_jq "$out" -n -f "$JQ_DIR/gate.jq" "${extra[@]}" \
    --arg scan "$SCAN_NAME" --arg target "$SCAN_TARGET" --arg today "$(today_utc)" \
    --arg finished_at "$(now_utc)" --arg error "$error" --argjson schema_version "$RESULT_SCHEMA_VERSION" \
    --arg tool_name "$tool_name" --arg tool_uri "$tool_uri" --arg tool_version "${9:-}" --argjson policy "${8:-null}" \
    --slurpfile findings "$3" --slurpfile suppressions "$4" --slurpfile gaps "$5" --slurpfile excluded "$6" \
    --slurpfile coverage "$7"
}

# error_result_json MESSAGE: the "error" result gate.jq gives with no findings (less its tool), built without jq.
# FALLBACK ONLY, for when jq itself cannot run (missing, too old, broken) or TMPDIR is unwritable: every other
# result, an "error" one too, comes from gate.jq (write_error_result).
error_result_json() {
  printf '{"schema_version":%s,"scan":%s,"status":"error","error":%s,"target":%s,"policy":null,%s%s%s}\n' \
    "$RESULT_SCHEMA_VERSION" "$(json_string "$SCAN_NAME")" "$(json_string "$1")" "$(json_string "$SCAN_TARGET")" \
    '"findings":[],"below_threshold":[],"suppressed":[],"expired_suppressions":[],"coverage_gaps":[],"accepted_gaps":[],"excluded":[],"coverage":null,' \
    "\"counts\":$ZERO_COUNTS," "\"finished_at\":$(json_string "$(now_utc)")"
}

# write_error_result MESSAGE: publish SCAN_NAME's result with status "error", MESSAGE and no findings, built by
# gate.jq like every result (error_result_json when jq cannot run). Needs no SCAN_WORK: run-gate.sh uses it too.
# Returns non-zero when it cannot be written.
write_error_result() {
  local built rc=0
  built=$(mktemp "${TMPDIR:-/tmp}/security-error.XXXXXX" 2>/dev/null) || built=""
  if [[ -n "$built" ]] && printf '[]\n' >"$built.none" 2>/dev/null &&
    gate_result "$built" "$1" "$built.none" "$built.none" /dev/null /dev/null /dev/null 2>/dev/null; then
    write_atomically "$(result_path)" <"$built" || rc=1
  else
    error_result_json "$1" | write_atomically "$(result_path)" || rc=1
  fi
  [[ -z "$built" ]] || rm -f -- "$built" "$built.none"
  return "$rc"
}

# verdict_path GATE: where a gate run's verdict lives.
verdict_path() {
  printf '%s/%s.verdict.json' "$SECURITY_REPORT_DIR" "$1"
}

# error_verdict_json GATE MESSAGE [SCAN...]: GATE's verdict "error" (exit code 2) with MESSAGE, each SCAN listed
# as an error, built without jq (jq may be the problem).
error_verdict_json() {
  local gate=$1 msg=$2 scans="" scan
  shift 2
  for scan in "$@"; do
    scans+="${scans:+,}{\"scan\":$(json_string "$scan"),\"status\":\"error\",\"error\":$(json_string "$msg"),"
    scans+="\"counts\":$ZERO_COUNTS,\"result\":$(json_string "$scan.json")}"
  done
  printf '{"schema_version":%s,"gate":%s,"verdict":"error","exit_code":%s,"error":%s,"scans":[%s],%s%s}\n' \
    "$VERDICT_SCHEMA_VERSION" "$(json_string "$gate")" "$EXIT_ERROR" "$(json_string "$msg")" "$scans" \
    "\"counts\":$ZERO_COUNTS,\"reports\":{\"summary\":null,\"sarif\":null}," \
    "\"finished_at\":$(json_string "$(now_utc)")"
}

# write_error_verdict GATE MESSAGE [SCAN...]: publish error_verdict_json as GATE's verdict. Returns non-zero when
# it cannot be written.
write_error_verdict() {
  error_verdict_json "$@" | write_atomically "$(verdict_path "$1")"
}

# gate_may_list_scan GATE: false only when GATE's verdict is readable and does not list SCAN_NAME (so a scan run
# on its own leaves another gate's verdict alone); true when it lists it, or cannot be read (fail closed).
gate_may_list_scan() {
  local rc=0
  [[ -f "$(verdict_path "$1")" ]] || return 0
  jq -e --arg scan "$SCAN_NAME" 'any(.scans[]; .scan == $scan) | not' "$(verdict_path "$1")" >/dev/null 2>&1 || rc=$?
  ((rc != 0))
}

# invalidate_gates: for a scan run on its own, which replaces a result that gate runs summarized: every gate in
# the report directory whose verdict lists this scan (or cannot be read) loses its Markdown summary and SARIF
# file, and its verdict becomes an "error" saying why. Run by run-gate.sh (SECURITY_GATE set), it does nothing.
invalidate_gates() {
  local file gate
  [[ -z "${SECURITY_GATE:-}" ]] || return 0
  for file in "$SECURITY_REPORT_DIR"/*.verdict.json "$SECURITY_REPORT_DIR"/*.md "$SECURITY_REPORT_DIR"/*.sarif; do
    [[ -f "$file" ]] || continue
    gate=${file##*/}
    gate=${gate%.verdict.json}
    gate=${gate%.md}
    gate=${gate%.sarif}
    gate_may_list_scan "$gate" || continue
    rm -f -- "$SECURITY_REPORT_DIR/$gate.md" "$SECURITY_REPORT_DIR/$gate.sarif"
    write_error_verdict "$gate" "the $SCAN_NAME scan was run on its own after this $gate run, so the gate's \
summaries no longer match the results: run the gate again for its verdict" || rm -f -- "$(verdict_path "$gate")"
    log "the $gate verdict, summary and SARIF no longer match the results: marked as an error"
  done
}

# forget_result: remove SCAN_NAME's result and raw output, for when not even an "error" result can be written.
forget_result() {
  rm -f -- "$(result_path)" "$SECURITY_REPORT_DIR/$SCAN_NAME.raw.json"
}

# jq_problem: why the jq on PATH cannot run the gate's programs (missing, or older than JQ_MIN_VERSION), as one
# line; nothing when it can. Checked up front, so an old jq is named instead of failing obscurely later.
jq_problem() {
  local version
  if ! command -v jq >/dev/null 2>&1; then
    printf 'jq was not found on PATH (the gate needs jq %s or later)\n' "$JQ_MIN_VERSION"
    return 0
  fi
  version=$(jq --version 2>/dev/null) || version=""
  if [[ "$version" =~ ^jq-([0-9]+)\.([0-9]+) ]]; then
    if ((BASH_REMATCH[1] < 1 || (BASH_REMATCH[1] == 1 && BASH_REMATCH[2] < 6))); then
      printf 'jq %s is too old: the gate needs jq %s or later\n' "${version#jq-}" "$JQ_MIN_VERSION"
    fi
  elif ! jq -n -e '1 | IN(1)' >/dev/null 2>&1; then
    printf "jq (version '%s') cannot run the gate's programs: the gate needs jq %s or later\n" \
      "$version" "$JQ_MIN_VERSION"
  fi
  return 0
}

# on_signal SIGNAL: stop the running tool, leave the "error" placeholder in place, exit non-zero.
on_signal() {
  local sig=$1
  if [[ -n "$SCAN_TOOL_PID" ]]; then
    kill -TERM "$SCAN_TOOL_PID" 2>/dev/null || true
    wait "$SCAN_TOOL_PID" 2>/dev/null || true
  fi
  trap - EXIT
  write_error_result "the $SCAN_NAME scan was interrupted by SIG$sig before it finished" 2>/dev/null || true
  log "interrupted by SIG$sig: no result for this run"
  cleanup_work
  [[ "$sig" == INT ]] && exit 130
  exit 143
}

# scan_helper PID: a background process the scan started for its tool (a local service, say); it is stopped
# with the work directory, on every way out of the scan.
scan_helper() {
  SCAN_HELPER_PIDS+=("$1")
}

# scan_helper_wait PID: wait for the helper PID (scan_helper) to end, with its exit status; it is no longer stopped
# at the end of the scan (its PID may by then belong to another process).
scan_helper_wait() {
  local pid rc=0
  local -a kept=()
  wait "$1" || rc=$?
  for pid in "${SCAN_HELPER_PIDS[@]}"; do
    [[ "$pid" == "$1" ]] || kept+=("$pid")
  done
  SCAN_HELPER_PIDS=("${kept[@]}")
  return "$rc"
}

# cleanup_work: stop the scan's helpers and remove its private work directory.
cleanup_work() {
  local pid
  for pid in "${SCAN_HELPER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    wait "$pid" 2>/dev/null || true
  done
  SCAN_HELPER_PIDS=()
  [[ -n "$SCAN_WORK" && -d "$SCAN_WORK" ]] && rm -rf -- "$SCAN_WORK"
  return 0
}

# on_exit: a scan script that ends without scan_finish or scan_error crashed: say so.
on_exit() {
  local rc=$?
  log "the scan script stopped unexpectedly (exit $rc): no result"
  write_error_result "the $SCAN_NAME scan script stopped unexpectedly (exit $rc)" 2>/dev/null || true
  cleanup_work
  exit "$EXIT_ERROR"
}

# scan_progress PHASE [DONE TOTAL]: say what the scan is doing, for run-gate.sh's progress line: the line
# "PHASE<TAB>DONE<TAB>TOTAL" replaces SECURITY_PROGRESS_FILE (set by scan_begin when the gate gave a
# SECURITY_PROGRESS_DIR; a Python helper advances DONE with scripts/lib/progress.py). A view only: never fails.
scan_progress() {
  [[ -n "${SECURITY_PROGRESS_FILE:-}" ]] || return 0
  { printf '%s\t%s\t%s\n' "$1" "${2:-}" "${3:-}" >"$SECURITY_PROGRESS_FILE.$$" &&
    mv -f "$SECURITY_PROGRESS_FILE.$$" "$SECURITY_PROGRESS_FILE"; } 2>/dev/null || true
}

# scan_begin NAME TARGET: start a scan; replaces any earlier result with an "error: did not complete" placeholder.
scan_begin() {
  SCAN_NAME=$1
  SECURITY_PROGRESS_FILE=""
  [[ -z "${SECURITY_PROGRESS_DIR:-}" ]] || SECURITY_PROGRESS_FILE="$SECURITY_PROGRESS_DIR/$SCAN_NAME"
  export SECURITY_PROGRESS_FILE
  SCAN_DIR="$SCANS_DIR/$SCAN_NAME"
  SCAN_TARGET=$2
  if ! mkdir -p "$SECURITY_REPORT_DIR" 2>/dev/null || [[ ! -w "$SECURITY_REPORT_DIR" ]]; then
    log "error: the report directory $SECURITY_REPORT_DIR is not writable"
    exit "$EXIT_ERROR"
  fi
  trap on_exit EXIT
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
  # An earlier result is replaced by a placeholder that says "error" until this run ends; with none, there is
  # nothing that could be read as this run's (a missing result is an error to every reader). Under run-gate.sh
  # (SECURITY_GATE) the gate has just written that placeholder.
  if [[ -z "${SECURITY_GATE:-}" && -e "$(result_path)" ]] &&
    ! write_error_result "the $SCAN_NAME scan did not complete (still running, interrupted or crashed)"; then
    forget_result
    invalidate_gates
    log "error: cannot write to the report directory $SECURITY_REPORT_DIR (full or read-only): no result for this run"
    trap - EXIT
    exit "$EXIT_ERROR"
  fi
  rm -f -- "$SECURITY_REPORT_DIR/$SCAN_NAME.raw.json"
  invalidate_gates
  [[ -z "$PROJECT_DIR_PROBLEM" ]] || scan_error "$PROJECT_DIR_PROBLEM"
  SCAN_WORK=$(mktemp -d "${TMPDIR:-/tmp}/security-$SCAN_NAME.XXXXXX" 2>/dev/null) ||
    scan_error "cannot create a temporary folder in ${TMPDIR:-/tmp} (TMPDIR): does it exist, with space to write?"
  local problem
  problem=$(jq_problem)
  [[ -z "$problem" ]] || scan_error "$problem"
  [[ "$SCAN_TIMEOUT" =~ ^[1-9][0-9]*$ ]] ||
    scan_error "SCAN_TIMEOUT must be a whole number of seconds above 0, not '$SCAN_TIMEOUT'"
  SCAN_DEADLINE=$((SECONDS + SCAN_TIMEOUT)) # the whole scan's: each tool run gets what is left of it
  suppressions_start
}

# scan_error MESSAGE: publish an "error" result and exit 2.
scan_error() {
  local msg="$SCAN_NAME could not be completed: $1"
  trap - EXIT
  if write_error_result "$msg"; then
    report_result "$(result_path)" && { cleanup_work; exit "$EXIT_ERROR"; }
  else
    log "error: could not write the result file either"
  fi
  printf '%s: ERROR - %s\n' "$SCAN_NAME" "$(printf '%s' "$msg" | tr '\000-\037' ' ')"
  cleanup_work
  exit "$EXIT_ERROR"
}

# require_command NAME: error out when NAME is not on PATH.
require_command() {
  command -v "$1" >/dev/null 2>&1 ||
    scan_error "'$1' was not found on PATH (run 'make setup', or put it on PATH)"
}

# find_timeout: set TIMEOUT_CMD to coreutils' timeout (GNU timeout, or gtimeout on macOS with coreutils).
find_timeout() {
  if command -v timeout >/dev/null 2>&1; then
    TIMEOUT_CMD=timeout
  elif command -v gtimeout >/dev/null 2>&1; then
    TIMEOUT_CMD=gtimeout
  else
    scan_error "coreutils 'timeout' is needed to bound the scan's run time and was not found"
  fi
}

# stderr_tail FILE: what a tool's stderr says went wrong, on one line, for an error message: its last lines
# that look like an error (a Python traceback ends in a bare exception name), else its last lines.
stderr_tail() {
  local lines
  lines=$(grep -E '(Error|Exception|ERROR|error|Timeout|refused|FATAL|fatal)' "$1" 2>/dev/null | tail -n 3) ||
    lines=$(tail -n 5 "$1" 2>/dev/null) || lines=""
  printf '%s' "$lines" | tr -s '\n\t' '  ' | cut -c1-600
}

# scan_run_tool OUT ERR [--name NAME] [--exit CODE] -- CMD...: run CMD, within what is left of the scan's
# SCAN_TIMEOUT, with stdout to OUT and
# stderr to ERR. Returns the tool's exit status; a timeout or a death by signal is a scan error (exits 2) naming
# NAME (default: CMD's own name; a helper that runs the tool for us passes the tool's name). --exit CODE: a status
# above 128 that the tool itself exits with (kingfisher's 200, findings), returned rather than read as a signal.
scan_run_tool() {
  local out=$1 err=$2 name="" rc started left own=""
  shift 2
  while [[ "$1" != -- ]]; do
    case "$1" in
      --name) name=$2 && shift ;;
      --exit) own=$2 && shift ;;
    esac
    shift
  done
  shift
  name=${name:-$1}
  find_timeout
  started=$SECONDS
  left=$SCAN_DEADLINE
  [[ -n "$left" ]] || left=$((SECONDS + SCAN_TIMEOUT)) # a helper run before scan_begin set the deadline
  left=$((left - SECONDS))
  ((left > 0)) || scan_error "$name could not start: the scan did not finish within SCAN_TIMEOUT=${SCAN_TIMEOUT}s (the whole scan's limit)"
  "$TIMEOUT_CMD" --kill-after=10 "$left" "$@" >"$out" 2>"$err" </dev/null &
  SCAN_TOOL_PID=$!
  rc=0
  wait "$SCAN_TOOL_PID" || rc=$?
  SCAN_TOOL_PID=""
  # timeout exits 124 when the tool stopped at its TERM, 137 when it needed a KILL; 137 before the time was up
  # is a tool killed by someone else (the OOM killer, say).
  if ((rc == 124 || (rc == 137 && SECONDS - started >= left))); then
    scan_error "$name did not finish within SCAN_TIMEOUT=${SCAN_TIMEOUT}s (the whole scan's limit)"
  fi
  if ((rc > 128)) && [[ "$rc" != "$own" ]]; then
    scan_error "$name was killed by signal $((rc - 128)): $(stderr_tail "$err")"
  fi
  return "$rc"
}

# run_jq OUT ARGS...: run jq with the project's jq library path; its output to OUT. Returns jq's status.
run_jq() {
  local out=$1
  shift
  jq -L "$JQ_DIR" "$@" >"$out"
}

# require_json FILE WHAT: error out unless FILE holds exactly one JSON value.
require_json() {
  local file=$1 what=$2
  if [[ ! -s "$file" ]] || ! grep -q '[^[:space:]]' "$file" 2>/dev/null; then
    scan_error "$what is empty or missing"
  fi
  jq -e -n '[inputs] | length == 1' "$file" >/dev/null 2>&1 ||
    scan_error "$what is not valid JSON (truncated or garbage)"
}

# suppressions_start: check the suppression file in the background (SUPPRESSIONS_PID: it needs nothing the scan
# makes, so it runs beside the scan's own work) into SCAN_WORK/suppressions.json; load_suppressions waits for it.
suppressions_start() {
  local names
  [[ -e "$SECURITY_SUPPRESSIONS" ]] || return 0
  names=$(scan_names)
  run_jq "$SCAN_WORK/suppressions.json" -n -f "$JQ_DIR/suppressions.jq" --arg scans "${names//$'\n'/ }" \
    "$SECURITY_SUPPRESSIONS" 2>"$SCAN_WORK/suppressions.err" &
  SUPPRESSIONS_PID=$!
  scan_helper "$SUPPRESSIONS_PID"
}

# load_suppressions OUT: the validated suppression entries of this scan's project as a JSON array in OUT
# (suppressions_start's, or checked now); a file that is not valid JSON or not the expected shape is a scan error.
load_suppressions() {
  local out=$1 err="$SCAN_WORK/suppressions.err" rc=0
  [[ -n "$SUPPRESSIONS_PID" ]] || suppressions_start
  if [[ -n "$SUPPRESSIONS_PID" ]]; then
    scan_helper_wait "$SUPPRESSIONS_PID" || rc=$?
    SUPPRESSIONS_PID=""
  else
    printf '[]\n' >"$SCAN_WORK/suppressions.json"
  fi
  # Only when jq failed is the file checked as JSON (require_json), to say which failure it is.
  if ((rc != 0)); then
    require_json "$SECURITY_SUPPRESSIONS" "the suppression file $SECURITY_SUPPRESSIONS"
    scan_error "the suppression file $SECURITY_SUPPRESSIONS is malformed: $(jq_error_text "$err")"
  fi
  load_adopted
  [[ "$out" == "$SCAN_WORK/suppressions.json" ]] || cp -- "$SCAN_WORK/suppressions.json" "$out" ||
    scan_error "cannot write to its work directory"
}

# secret_scan_names: the scans that are secret engines (scan_kind secrets), space-separated.
secret_scan_names() {
  local scan names=""
  while IFS= read -r scan; do
    [[ "$(scan_kind "$scan")" != secrets ]] || names+="${names:+ }$scan"
  done < <(scan_names)
  printf '%s' "$names"
}

# adopted_file: the adopted secrets' file the scans read: SECURITY_SECRETS_ADOPTING's (make secrets-baseline: the
# salt and no entry) when set, else SECURITY_SECRETS_ADOPTED.
adopted_file() {
  printf '%s' "${SECURITY_SECRETS_ADOPTING:-$SECURITY_SECRETS_ADOPTED}"
}

# load_adopted: for a secret engine (scan_kind secrets), its share of the adopted secrets (adopted_file, validated
# by jq/adopted.jq) added to SCAN_WORK/suppressions.json, where gate.jq applies them as it applies suppression
# entries (expired: the scan fails; matching nothing: listed as unused). A file that is not valid JSON or not the
# expected shape is a scan error.
load_adopted() {
  local err="$SCAN_WORK/adopted.err" names file
  file=$(adopted_file)
  [[ -e "$file" && "$(scan_kind "$SCAN_NAME")" == secrets ]] || return 0
  names=$(secret_scan_names)
  if ! run_jq "$SCAN_WORK/adopted.json" -n -f "$JQ_DIR/adopted.jq" --arg scans "$names" --arg scan "$SCAN_NAME" \
    "$file" 2>"$err"; then
    require_json "$file" "the adopted secrets' file $file"
    scan_error "the adopted secrets' file $file is malformed: $(jq_error_text "$err")"
  fi
  if ! jq -s 'add' "$SCAN_WORK/suppressions.json" "$SCAN_WORK/adopted.json" >"$SCAN_WORK/suppressions-all.json" \
    2>"$err" || ! mv -f -- "$SCAN_WORK/suppressions-all.json" "$SCAN_WORK/suppressions.json"; then
    scan_error "could not join the adopted secrets to the suppression entries: $(jq_error_text "$err")"
  fi
}

# jq_error_text FILE: the message of a jq error() call, without jq's decorations.
jq_error_text() {
  sed -e 's/^jq: error (at [^)]*): //' -e 's/ (not a string)$//' "$1" | head -n 3 | tr '\n' ' '
}

# normalize PROGRAM RAW OUT [ARGS...]: run the scan's normalize PROGRAM (in SCAN_DIR) on RAW; a jq failure is a scan error
# (and an output that is not one list of findings is one in gate.jq).
normalize() {
  local program=$1 raw=$2 out=$3 err
  shift 3
  err="$SCAN_WORK/normalize.err"
  run_jq "$out" -f "$SCAN_DIR/$program" "$@" "$raw" 2>"$err" ||
    scan_error "the tool's output has an unexpected shape: $(jq_error_text "$err")"
}

# scan_policy FAIL_ON [MIN_CONFIDENCE [IGNORE_UNFIXED]]: build the scan's policy with jq/policy.jq (FAIL_ON like
# "HIGH+" or "MEDIUM,HIGH"; IGNORE_UNFIXED true or false), in the background (POLICY_PID: it needs nothing the
# scan makes); policy_ready waits for it. A scan whose policy comes from the user's settings calls policy_ready
# at once, so a wrong setting stops it before its tool runs.
scan_policy() {
  run_jq "$SCAN_WORK/policy.json" -c -n -f "$JQ_DIR/policy.jq" --arg fail_on "$1" --arg min_confidence "${2:-}" \
    --arg ignore_unfixed "${3:-false}" 2>"$SCAN_WORK/policy.err" &
  POLICY_PID=$!
  scan_helper "$POLICY_PID"
}

# policy_ready: the policy scan_policy built, in SCAN_POLICY; an invalid one is a scan error, and so is none.
policy_ready() {
  [[ -z "$SCAN_POLICY" ]] || return 0
  [[ -n "$POLICY_PID" ]] || scan_error "the scan script set no policy (scan_policy)"
  scan_helper_wait "$POLICY_PID" || scan_error "invalid policy: $(jq_error_text "$SCAN_WORK/policy.err")"
  POLICY_PID=""
  SCAN_POLICY=$(<"$SCAN_WORK/policy.json")
  [[ -n "$SCAN_POLICY" ]] || scan_error "invalid policy: policy.jq wrote none"
}

# tool_version: the version of the scan's tool (named by its "# Tool:" line, else like the scan) from its installed metadata,
# without running it: a Python entry point's dist-info folder. Nothing when unknown; a scan whose tool is no
# Python entry point sets SCAN_TOOL_VERSION itself.
tool_version() {
  local tool path first found dist
  read -r tool _ < <(tool_of "$SCAN_NAME") || true
  tool=${tool:-$SCAN_NAME}
  dist=${tool//-/_}
  path=$(command -v "$tool" 2>/dev/null) || return 0
  IFS= read -r first <"$path" 2>/dev/null || return 0
  [[ "$first" =~ ^#!(/[^[:space:]]*)/bin/python[0-9.]*$ ]] || return 0
  for found in "${BASH_REMATCH[1]}"/lib/python*/site-packages/"$dist"-*.dist-info; do
    [[ -d "$found" ]] || continue
    found=${found##*/"$dist"-}
    printf '%s' "${found%.dist-info}"
    return 0
  done
}

# scan_finish FINDINGS [PROBLEM]: gate FINDINGS with the scan's policy (scan_policy) and the suppression file,
# publish the result, report it, exit. A non-empty PROBLEM (what the tool could not scan) makes the result an
# error that still lists the findings.
scan_finish() {
  local findings=$1 problem=${2:-} supp result err status version
  policy_ready
  scan_progress "applying the policy"
  supp="$SCAN_WORK/suppressions.json"
  load_suppressions "$supp"
  result="$SCAN_WORK/result.json"
  err="$SCAN_WORK/gate.err"
  { : >>"$SCAN_WORK/gaps.jsonl" && : >>"$SCAN_WORK/excluded.jsonl"; } || scan_error "cannot write to its work directory"
  [[ -s "$SCAN_WORK/coverage.json" ]] || printf 'null\n' >"$SCAN_WORK/coverage.json"
  version=${SCAN_TOOL_VERSION:-}
  [[ -n "$version" ]] || version=$(tool_version)
  # With the optional fields a scan adds to its result (a JSON object in SCAN_RESULT_EXTRA, e.g. its cache statistics).
  gate_result "$result" "$problem" "$findings" "$supp" "$SCAN_WORK/gaps.jsonl" "$SCAN_WORK/excluded.jsonl" \
    "$SCAN_WORK/coverage.json" "$SCAN_POLICY" "$version" "${SCAN_RESULT_EXTRA:-}" 2>"$err" ||
    scan_error "applying the gate failed: $(jq_error_text "$err")"
  # The report's first line is the verdict line, "SCAN: PASS|FAIL|ERROR[ - ...]" (report.jq): the status, read
  # without another jq run over the result.
  report_result "$result" >"$SCAN_WORK/report.txt" || scan_error "the gate wrote a result that cannot be read"
  IFS= read -r status <"$SCAN_WORK/report.txt" || scan_error "the gate wrote no status"
  status=${status#"$SCAN_NAME: "}
  status=${status%% *}
  trap - EXIT
  if ! publish "$result" "$(result_path)"; then
    log "error: cannot write the result to the report directory $SECURITY_REPORT_DIR (full or read-only)"
    cleanup_work
    exit "$EXIT_ERROR"
  fi
  cat -- "$SCAN_WORK/report.txt"
  cleanup_work
  case "$status" in
    PASS) exit "$EXIT_PASS" ;;
    FAIL) exit "$EXIT_FAIL" ;;
    *) exit "$EXIT_ERROR" ;;
  esac
}

# scan_gap ID MESSAGE: record that the tool left something out. ID is stable and reviewable, "KIND:SUBJECT"
# (e.g. "not-auditable:mypkg", "not-scanned:apps/x.py"); a suppression entry with this scan and ID accepts it,
# otherwise the scan is an error naming MESSAGE. MESSAGE names what was left out and why, never a secret value.
scan_gap() {
  jq -cn --arg id "$1" --arg message "$2" '{id: $id, message: $message}' >>"$SCAN_WORK/gaps.jsonl" ||
    scan_error "could not record a coverage gap ($1)"
}

# scan_excluded ITEM RULE: record that ITEM (a file, a package) was deliberately not scanned because of RULE.
scan_excluded() {
  jq -cn --arg item "$1" --arg rule "$2" '{item: $item, rule: $rule}' >>"$SCAN_WORK/excluded.jsonl" ||
    scan_error "could not record an exclusion ($1)"
}

# scan_gaps_from FILE: record the gaps in FILE, one {"id", "message"} object a line (what a helper found in bulk),
# as scan_gap records each (gate.jq checks their shape, once for all).
scan_gaps_from() {
  cat -- "$1" >>"$SCAN_WORK/gaps.jsonl" || scan_error "could not record the coverage gaps in ${1##*/}"
}

# scan_excluded_from FILE: record the exclusions in FILE, one {"item", "rule"} object a line, as scan_excluded
# records each (gate.jq checks their shape, once for all).
scan_excluded_from() {
  cat -- "$1" >>"$SCAN_WORK/excluded.jsonl" || scan_error "could not record the exclusions in ${1##*/}"
}

# scan_coverage INVENTORY SCANNED: how many items the gate computed must be scanned, and how many the tool
# reports it scanned.
scan_coverage() {
  [[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ ]] || scan_error "scan_coverage takes two counts, not '$1' '$2'"
  printf '{"inventory":%s,"scanned":%s}\n' "$1" "$2" >"$SCAN_WORK/coverage.json" ||
    scan_error "could not record the scan's coverage"
}

# keep_raw FILE: keep the tool's (sanitized) raw output beside the result.
keep_raw() {
  publish "$1" "$SECURITY_REPORT_DIR/$SCAN_NAME.raw.json" ||
    scan_error "cannot write $SCAN_NAME.raw.json to the report directory $SECURITY_REPORT_DIR (full or read-only)"
}

# report_result RESULT: print the scan's verdict and findings for a terminal.
report_result() {
  jq -r -L "$JQ_DIR" -f "$JQ_DIR/report.jq" "$1"
}
