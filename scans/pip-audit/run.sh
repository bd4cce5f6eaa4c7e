#!/usr/bin/env bash
# Summary: audit the project's locked dependencies with pip-audit; any known vulnerability fails.
# Tool: pip-audit https://github.com/pypa/pip-audit
# Usage: scans/pip-audit/run.sh
#
# Audits exactly the set pinned in the project's uv.lock (exported with hashes, markers dropped so that every
# platform's pins are audited, no resolution, no pip), or the requirements files named in
# PIP_AUDIT_REQUIREMENTS (space-separated, relative to PROJECT_DIR). Runs with --strict: a dependency that
# could not be audited is an error, never a pass. PIP_AUDIT_OSV_URL selects an OSV-API service at that URL;
# PIP_AUDIT_ADVISORY_DB instead serves a local advisory database for the scan (scans/pip-audit/mirror.sh);
# PIP_AUDIT_CACHE_DIR is pip-audit's HTTP cache; PIP_AUDIT_TIMEOUT its socket timeout in seconds.
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   PIP_AUDIT_REQUIREMENTS=  space-separated requirements files (exact pins) to audit instead of uv.lock
#   PIP_AUDIT_OSV_URL=  full URL of an OSV-API query endpoint (unset: pip-audit's own PyPI service)
#   PIP_AUDIT_CACHE_DIR=  pip-audit's HTTP cache (unset: pip's; CI persists it)
#   PIP_AUDIT_TIMEOUT=30  pip-audit's socket timeout, in seconds
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/common.sh"
# shellcheck source=scans/pip-audit/mirror.sh
source "${BASH_SOURCE[0]%/*}/mirror.sh"

PIP_AUDIT_REQUIREMENTS=${PIP_AUDIT_REQUIREMENTS:-}
PIP_AUDIT_OSV_URL=${PIP_AUDIT_OSV_URL:-}
PIP_AUDIT_CACHE_DIR=${PIP_AUDIT_CACHE_DIR:-}
PIP_AUDIT_TIMEOUT=${PIP_AUDIT_TIMEOUT:-30}

# export_lock OUT: uv.lock's full pinned set as a hashed requirements file, environment markers dropped.
export_lock() {
  local out=$1 err="$SCAN_WORK/uv-export.err"
  [[ -f uv.lock ]] || scan_error "$PROJECT_DIR has no uv.lock (lock it with 'uv lock', or set PIP_AUDIT_REQUIREMENTS)"
  [[ -f pyproject.toml ]] || scan_error "$PROJECT_DIR has uv.lock but no pyproject.toml"
  require_command uv
  UV_OFFLINE=1 uv export --frozen --format requirements-txt --all-groups --all-extras --no-emit-project \
    --no-header --no-annotate --quiet >"$out.marked" 2>"$err" ||
    scan_error "uv could not export uv.lock: $(stderr_tail "$err")"
  sed -E 's/^([A-Za-z0-9][^ ;]*==[^ ;]+) ; [^\\]*/\1 /' "$out.marked" >"$out"
}

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
      " database with PIP_AUDIT_ADVISORY_DB (README: Offline advisory mirror)"
  else
    printf 'exited %s without a report: %s' "$rc" "$message"
  fi
}

# pinned_count FILE: how many requirements FILE pins.
pinned_count() {
  grep -cE '^[A-Za-z0-9][^ ]*==' "$1" || true
}

main() {
  local raw err rc expected problems lockfile
  local -a args files
  scan_begin pip-audit "$PROJECT_DIR"
  scan_policy UNKNOWN+ # pip-audit grades no severity: every known vulnerability fails
  require_command pip-audit
  cd "$PROJECT_DIR"

  args=(--strict --disable-pip --progress-spinner off --format json --desc on --aliases on
    --timeout "$PIP_AUDIT_TIMEOUT")
  if [[ -n "$PIP_AUDIT_REQUIREMENTS" ]]; then
    read -r -a files <<<"$PIP_AUDIT_REQUIREMENTS"
    for lockfile in "${files[@]}"; do
      [[ -f "$lockfile" ]] || scan_error "requirements file '$lockfile' (PIP_AUDIT_REQUIREMENTS) not found in $PROJECT_DIR"
      args+=(-r "$lockfile")
    done
    args+=(--no-deps)
    lockfile=${files[0]}
    expected=0
  else
    export_lock "$SCAN_WORK/requirements.txt"
    args+=(-r "$SCAN_WORK/requirements.txt" --require-hashes)
    lockfile=uv.lock
    expected=$(pinned_count "$SCAN_WORK/requirements.txt")
    ((expected > 0)) || scan_error "uv.lock pins no dependencies"
  fi
  mirror_start
  # The service is always named, so that pip-audit's own PIP_AUDIT_VULNERABILITY_SERVICE cannot change it.
  if [[ -n "$PIP_AUDIT_OSV_URL" ]]; then
    args+=(--vulnerability-service osv --osv-url "$PIP_AUDIT_OSV_URL")
  else
    args+=(--vulnerability-service pypi)
  fi
  [[ -n "$PIP_AUDIT_CACHE_DIR" ]] && args+=(--cache-dir "$PIP_AUDIT_CACHE_DIR")

  raw="$SCAN_WORK/pip-audit.json"
  err="$SCAN_WORK/pip-audit.err"
  rc=0
  scan_run_tool "$SCAN_WORK/pip-audit.out" "$err" -- pip-audit "${args[@]}" --output "$raw" || rc=$?
  # pip-audit exits 1 both for "vulnerabilities found" and for its own failures: only the JSON tells.
  ((rc == 0 || rc == 1)) || scan_error "exited $rc: $(tool_error "$err")"
  [[ -s "$raw" ]] || scan_error "$(exit_error "$rc" "$err")"
  require_json "$raw" "pip-audit's report"
  keep_raw "$raw"
  normalize normalize.jq "$raw" "$SCAN_WORK/findings.json" --arg lockfile "$lockfile" \
    --slurpfile advisories "$(mirror_answers)"
  problems=$(jq -r --argjson expected "$expected" -f "$SCAN_DIR/problems.jq" "$raw") ||
    scan_error "could not read pip-audit's skipped dependencies"
  if ((rc == 1)) && [[ -z "$problems" ]] && jq -e '[.dependencies[].vulns[]?] == []' "$raw" >/dev/null; then
    problems="exited 1 without reporting a vulnerability: $(tool_error "$err")"
  fi
  scan_finish "$SCAN_WORK/findings.json" "$problems"
}

main "$@"
