# shellcheck shell=bash
# Summary: the offline advisory mirror for the pip-audit scan (source after common.sh; scripts/advisory-mirror.py
# does the serving).
#
# PIP_AUDIT_ADVISORY_DB=<path> (a clone of pypa/advisory-database as cloned, a folder of OSV records, or OSV's
# PyPI all.zip as downloaded): the scan serves it with the OSV query API on 127.0.0.1 (a free port) for as long
# as it runs, and points pip-audit at it. PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS (read by the mirror) is how old its
# snapshot may be; an older one is an error. The scan script calls:
#   mirror_start     when PIP_AUDIT_ADVISORY_DB is set: start the mirror, wait until it answers, set
#                    PIP_AUDIT_OSV_URL to it and SCAN_RESULT_EXTRA to the snapshot that answers
#   mirror_answers   the file of advisories the mirror answered (JSON lines {id, aliases, security_severity})
# The mirror is stopped with the scan's work directory (cleanup_work), on every exit and interruption; it also
# stops by itself when this scan's process is gone.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   PIP_AUDIT_ADVISORY_DB=  a local advisory database (a pypa/advisory-database clone, OSV records or all.zip) served to pip-audit
#   PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS=7  how old that snapshot may be, in days (the default is scripts/advisory-mirror.py's)

PIP_AUDIT_ADVISORY_DB=${PIP_AUDIT_ADVISORY_DB:-}
readonly MIRROR_START_TIMEOUT=120 # seconds to load the records (about 3 s of CPU for all of pypa's)

# mirror_python: the interpreter of the locked pip-audit (it has packaging and PyYAML), else python3.
mirror_python() {
  local path first
  path=$(command -v pip-audit) && IFS= read -r first <"$path" 2>/dev/null &&
    [[ "$first" =~ ^#!(/[^[:space:]]*/python[0-9.]*)$ && -x "${BASH_REMATCH[1]}" ]] &&
    { printf '%s' "${BASH_REMATCH[1]}"; return 0; }
  printf 'python3'
}

# mirror_start: see the header. Errors (no such source, unreadable or too old, no answer in time) end the scan.
mirror_start() {
  local ready="$SCAN_WORK/mirror.ready" err="$SCAN_WORK/mirror.err" waited=0 pid
  : >"$SCAN_WORK/mirror.answers"
  [[ -n "$PIP_AUDIT_ADVISORY_DB" ]] || return 0
  [[ -z "$PIP_AUDIT_OSV_URL" ]] ||
    scan_error "PIP_AUDIT_ADVISORY_DB and PIP_AUDIT_OSV_URL are both set: choose the local mirror or the service"
  [[ -e "$PIP_AUDIT_ADVISORY_DB" ]] || scan_error "PIP_AUDIT_ADVISORY_DB $PIP_AUDIT_ADVISORY_DB does not exist"
  "$(mirror_python)" "$GATE_ROOT/scripts/advisory-mirror.py" "$PIP_AUDIT_ADVISORY_DB" --ready-file "$ready" \
    --answers "$SCAN_WORK/mirror.answers" --parent "$$" \
    </dev/null >/dev/null 2>"$err" &
  pid=$!
  scan_helper "$pid"
  until [[ -s "$ready" ]]; do
    kill -0 "$pid" 2>/dev/null ||
      scan_error "the advisory mirror of $PIP_AUDIT_ADVISORY_DB could not start: $(mirror_error "$err")"
    ((waited++ < MIRROR_START_TIMEOUT * 10)) ||
      scan_error "the advisory mirror of $PIP_AUDIT_ADVISORY_DB did not answer within ${MIRROR_START_TIMEOUT}s"
    sleep 0.1
  done
  PIP_AUDIT_OSV_URL=$(jq -er '.url' "$ready") || scan_error "the advisory mirror wrote no URL"
  # shellcheck disable=SC2034 # read by scan_finish (common.sh)
  SCAN_RESULT_EXTRA=$(jq -c '{advisory_snapshot: .snapshot}' "$ready") ||
    scan_error "the advisory mirror wrote no snapshot"
  log "advisories from $(jq -r '.snapshot | "\(.commit // .source) of \(.date) (\(.age_days) days old)"' "$ready")"
}

# mirror_error ERR: the mirror's reason for refusing, from its stderr.
mirror_error() {
  local reason
  reason=$(grep -m1 'advisory-mirror: refused: ' "$1" 2>/dev/null) || reason=""
  if [[ -n "$reason" ]]; then
    printf '%s' "${reason#advisory-mirror: refused: }"
  else
    stderr_tail "$1"
  fi
}

# mirror_answers: the file of the advisories the mirror answered during this scan (empty without a mirror).
mirror_answers() {
  printf '%s' "$SCAN_WORK/mirror.answers"
}
