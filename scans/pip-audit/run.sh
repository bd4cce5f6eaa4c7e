#!/usr/bin/env bash
# Summary: audit every pinned dependency with pip-audit, against a service proven to answer; any known vulnerability fails.
# Tool: pip-audit https://github.com/pypa/pip-audit
# Usage: scans/pip-audit/run.sh
# Staged: uv.lock pyproject.toml all-if=PIP_AUDIT_REQUIREMENTS
#
# The gate computes the inventory itself (scans/pip-audit/inventory.py): every (name, version) in the project's
# uv.lock, every fork, markers ignored; or, when PIP_AUDIT_REQUIREMENTS names requirements files (space-separated,
# relative to PROJECT_DIR), every pin in them and in the files they include with -r/-c. pip-audit audits exactly
# that (flat name==version files, one per fork, no resolution, no pip, --strict: a dependency it cannot audit
# stops it) and every entry must come back audited.
# A git, URL, path or editable source is a coverage gap "not-auditable:NAME" unless a suppression entry accepts it.
# The canary PIP_AUDIT_CANARY (NAME==VERSION), a release with long-published advisories, is audited
# alongside and never reported as a finding: no vulnerability for it, or a pip-audit warning that it dropped a
# record, is an error. PIP_AUDIT_OSV_URL selects an OSV-API service at that URL (else PyPI's);
# PIP_AUDIT_ADVISORY_DB instead serves a local advisory database for the scan (scans/pip-audit/mirror.sh);
# PIP_AUDIT_CACHE_DIR is pip-audit's HTTP cache; PIP_AUDIT_TIMEOUT its socket timeout in seconds.
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   PIP_AUDIT_REQUIREMENTS=  space-separated requirements files (exact pins) to audit instead of uv.lock
#   PIP_AUDIT_OSV_URL=  full URL of an OSV-API query endpoint (unset: pip-audit's own PyPI service)
#   PIP_AUDIT_CACHE_DIR=  pip-audit's HTTP cache (unset: pip's; CI persists it)
#   PIP_AUDIT_TIMEOUT=30  pip-audit's socket timeout, in seconds
#   PIP_AUDIT_CANARY=pycrypto==2.6.1  NAME==VERSION the service must report vulnerable before its empty answers are trusted
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/common.sh"
# shellcheck source=scans/pip-audit/mirror.sh
source "${BASH_SOURCE[0]%/*}/mirror.sh"

# pip-audit's warnings that say nothing about what it audited (nudges about its flags, a cache it cannot use).
# Any other WARNING or ERROR line (a record it skipped or could not parse) makes the scan an error.
readonly BENIGN_WARNINGS='^WARNING:pip_audit\._cli:(--no-deps is supported|Consider using a tool like)|performance may be degraded'

PIP_AUDIT_REQUIREMENTS=${PIP_AUDIT_REQUIREMENTS:-}
# The canary's default, pycrypto 2.6.1: its last release (2013), with advisories published in 2017 and 2018
# (PYSEC-2017-94, PYSEC-2018-97) and never fixed; a name a project is unlikely to pin, so it rides along in the
# first audit file at the cost of one more query.
PIP_AUDIT_CANARY=${PIP_AUDIT_CANARY:-pycrypto==2.6.1}
PIP_AUDIT_OSV_URL=${PIP_AUDIT_OSV_URL:-}
PIP_AUDIT_CACHE_DIR=${PIP_AUDIT_CACHE_DIR:-}
PIP_AUDIT_TIMEOUT=${PIP_AUDIT_TIMEOUT:-30}
PYTHON="" # the interpreter that runs pip-audit (it has the parsers inventory.py uses), else python3

# tool_error ERR: what pip-audit's stderr says went wrong, without its logger's prefix (ERROR:pip_audit._cli:).
tool_error() {
  stderr_tail "$1" | sed -E 's/(ERROR|WARNING|CRITICAL):pip_audit[._a-z]*://g'
}

# exit_error RC ERR: the error message for pip-audit exiting RC without a report. PyPI's JSON API answering
# "not found" for a locked dependency almost always means the service, not the package, is the problem.
exit_error() {
  local rc=$1 err=$2 message
  message=$(tool_error "$err")
  if [[ -z "$PIP_AUDIT_OSV_URL" && "$message" == *"Dependency not found on PyPI"* ]]; then
    printf '%s' "the vulnerability service could not be reached or answered nothing: PyPI's JSON API said" \
      " 'not found' for a locked dependency (${message##*could not be audited: }), which is almost never the" \
      " package's fault. Point the gate at an OSV service with PIP_AUDIT_OSV_URL, or at a local advisory" \
      " database with PIP_AUDIT_ADVISORY_DB (docs/advisory-mirror.md)"
  else
    printf 'exited %s without a report: %s' "$rc" "$message"
  fi
}

# take_inventory OUT: inventory.py's inventory of the project in OUT, its audit files beside it.
take_inventory() {
  local out=$1 err="$SCAN_WORK/inventory.err"
  local -a source
  if [[ -n "$PIP_AUDIT_REQUIREMENTS" ]]; then
    read -r -a source <<<"$PIP_AUDIT_REQUIREMENTS"
    source=(requirements "${source[@]}")
  else
    [[ -f uv.lock ]] || scan_error "$PROJECT_DIR has no uv.lock (lock it with 'uv lock', or set PIP_AUDIT_REQUIREMENTS)"
    source=(lock)
  fi
  "$PYTHON" "$SCAN_DIR/inventory.py" "$SCAN_WORK" "$PIP_AUDIT_CANARY" "${source[@]}" >"$out" 2>"$err" ||
    scan_error "$(stderr_tail "$err")"
  require_json "$out" "the inventory"
}

# record_coverage: the inventory's sources no service can audit as gaps, its exclusions as such (inventory.py
# writes both as JSON lines).
record_coverage() {
  scan_gaps_from "$SCAN_WORK/inventory-gaps.jsonl"
  scan_excluded_from "$SCAN_WORK/inventory-excluded.jsonl"
}

# audit BATCH REPORT PROBLEMS: pip-audit over one audit file; its warnings and inconsistencies appended to PROBLEMS
# (a line each).
audit() {
  local batch=$1 report=$2 problems=$3 err="$2.err" rc=0 listed
  local -a args=(--strict --disable-pip --no-deps --progress-spinner off --format json --desc on --aliases on
    --timeout "$PIP_AUDIT_TIMEOUT" -r "$batch" --output "$report")
  # The service is always named, so that pip-audit's own PIP_AUDIT_VULNERABILITY_SERVICE cannot change it.
  if [[ -n "$PIP_AUDIT_OSV_URL" ]]; then
    args+=(--vulnerability-service osv --osv-url "$PIP_AUDIT_OSV_URL")
  else
    args+=(--vulnerability-service pypi)
  fi
  [[ -n "$PIP_AUDIT_CACHE_DIR" ]] && args+=(--cache-dir "$PIP_AUDIT_CACHE_DIR")
  # PIP_AUDIT_LOGLEVEL=INFO: a caller's quieter level would hide the warnings read below.
  scan_run_tool "$report.out" "$err" --name pip-audit -- env PIP_AUDIT_LOGLEVEL=INFO pip-audit "${args[@]}" || rc=$?
  # pip-audit exits 1 both for "vulnerabilities found" and for its own failures: only the JSON tells.
  ((rc == 0 || rc == 1)) || scan_error "exited $rc: $(tool_error "$err")"
  [[ -s "$report" ]] || scan_error "$(exit_error "$rc" "$err")"
  # One jq run: is the report one JSON value, and does it list a vulnerability (exit 1 must mean it does)? A report
  # of another shape is merge.jq's to name.
  listed=$(jq -n -r '[inputs] | if length != 1 then "invalid"
    elif (try ([.[0].dependencies[]?.vulns[]?] == []) catch false) then "none" else "some" end' "$report" 2>/dev/null) ||
    listed=invalid
  [[ "$listed" != invalid ]] || require_json "$report" "pip-audit's report" # names what is wrong
  [[ "$listed" != invalid ]] || scan_error "pip-audit's report is not valid JSON (truncated or garbage)"
  { grep -E '^(WARNING|ERROR|CRITICAL):' "$err" || true; } | { grep -vE "$BENIGN_WARNINGS" || true; } |
    sort -u | sed -E 's/^(WARNING|ERROR|CRITICAL):pip_audit[._a-z]*:/pip-audit warned (a record it dropped or could not read?): /' >>"$problems"
  if ((rc == 1)) && [[ "$listed" == none ]]; then
    printf 'pip-audit exited 1 without reporting a vulnerability: %s\n' "$(tool_error "$err")" >>"$problems"
  fi
}

# canary_answer: what the OSV service answers for the canary, when pip-audit saw no vulnerability for it.
canary_answer() {
  [[ -n "$PIP_AUDIT_OSV_URL" ]] || return 0
  "$PYTHON" "$SCAN_DIR/osv-answer.py" "$PIP_AUDIT_OSV_URL" "$PIP_AUDIT_CANARY" "$PIP_AUDIT_TIMEOUT" 2>&1 || true
}

# joined FILE: FILE's lines as one, separated by "; ".
joined() {
  local -a lines
  mapfile -t lines <"$1"
  ((${#lines[@]} > 0)) || return 0
  printf '%s' "${lines[0]}"
  ((${#lines[@]} == 1)) || printf '; %s' "${lines[@]:1}"
}

main() {
  local inventory batch k=0 report raw problems inventory_count audited canary_silent tally
  local -a reports=()
  scan_begin pip-audit "$PROJECT_DIR"
  scan_policy UNKNOWN+ # pip-audit grades no severity: every known vulnerability fails
  require_command pip-audit
  cd "$PROJECT_DIR"
  PYTHON=$(mirror_python)

  inventory="$SCAN_WORK/inventory.json"
  take_inventory "$inventory"
  record_coverage
  mirror_start
  problems="$SCAN_WORK/problems.txt"
  : >"$problems"
  while IFS= read -r batch; do
    k=$((k + 1))
    report="$SCAN_WORK/report-$k.json"
    scan_progress "auditing dependencies"
    audit "$SCAN_WORK/$batch" "$report" "$problems"
    reports+=("$report")
  done < <(jq -r '.batches[]' "$inventory")
  ((k > 0)) || scan_error "the inventory gave pip-audit nothing to audit"

  raw="$SCAN_WORK/pip-audit.json"
  run_jq "$raw" -n -f "$SCAN_DIR/merge.jq" --slurpfile inventory "$inventory" "${reports[@]}" 2>"$SCAN_WORK/merge.err" ||
    scan_error "pip-audit's report has an unexpected shape: $(jq_error_text "$SCAN_WORK/merge.err")"
  keep_raw "$raw"
  normalize normalize.jq "$raw" "$SCAN_WORK/findings.json" --slurpfile inventory "$inventory" \
    --slurpfile advisories "$(mirror_answers)"
  jq -r -f "$SCAN_DIR/problems.jq" --slurpfile inventory "$inventory" "$raw" >>"$problems" ||
    scan_error "could not check pip-audit's report against the inventory"
  tally="$SCAN_WORK/tally.txt"
  jq -r -f "$SCAN_DIR/tally.jq" --slurpfile inventory "$inventory" --argjson extra "${SCAN_RESULT_EXTRA:-"{}"}" \
    "$raw" >"$tally" || scan_error "could not count the inventory and what pip-audit audited"
  { read -r inventory_count audited canary_silent && read -r SCAN_RESULT_EXTRA; } <"$tally" ||
    scan_error "could not count the inventory and what pip-audit audited"
  if [[ "$canary_silent" == true ]]; then
    canary_answer >>"$problems" || scan_error "could not write to its work directory"
  fi
  scan_coverage "$inventory_count" "$audited"
  scan_finish "$SCAN_WORK/findings.json" "$(joined "$problems")"
}

main "$@"
