#!/usr/bin/env bash
# Summary: record every current finding of the secret engines, in the tree and the history (SECRETS_SINCE), in the
# reviewed file of adopted secrets (SECURITY_SECRETS_ADOPTED), so that the next run passes and only new ones fail.
# Usage: scripts/secrets-baseline.sh     (make secrets-baseline; SECRETS_SINCE=all for the whole history)
#
# Runs the gate (scripts/run-gate.sh) with the secret engines only (the units whose run.sh says `# Kind: secrets`)
# into a temporary report folder, the adoption file replaced by one with its salt and no entry
# (SECURITY_SECRETS_ADOPTING: each engine's adapter then computes every finding's fingerprint,
# scripts/lib/adoption.py, and the results keep them), and writes the file from their findings
# (jq/adopt-write.jq): one entry per secret and place, with its engines, types, fingerprint, commit (null: the tree),
# path, line, a reason to review and, for the whole file, an expiry. A secret that .security-suppressions.json or
# .secrets.baseline already accepts is left to them. An earlier file's salt, reasons and entries' own expiries are
# kept for the secrets still found at the same place; its entries no longer found are dropped. A run that does not
# complete (a coverage gap, a range it cannot read) writes nothing.
# Exit: 0 the file was written, 2 it was not (nothing changed).
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   SECRETS_ADOPT_DAYS=90  days until a newly written adoption file expires (its "expires"; an earlier file's later expiry is kept)
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/lib/common.sh"

SECRETS_ADOPT_DAYS=${SECRETS_ADOPT_DAYS:-90}
TMP_DIR=""

# fail MESSAGE: say why nothing was written, exit 2.
fail() {
  printf 'secrets-baseline: error: %s\n' "$1" >&2
  exit "$EXIT_ERROR"
}

# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
  [[ -z "$TMP_DIR" ]] || rm -rf -- "$TMP_DIR"
}

# old_salt FILE: the salt of an existing adoption file (validated as the gate does, jq/adopted.jq), or nothing when
# there is none; a file the gate would refuse is an error.
old_salt() {
  local file=$1 names
  [[ -e "$file" ]] || return 0
  names=$(secret_scan_names)
  jq -n -L "$JQ_DIR" -f "$JQ_DIR/adopted.jq" --arg scans "$names" --arg scan "" "$file" >/dev/null \
    2>"$TMP_DIR/old.err" || fail "$file is malformed ($(jq_error_text "$TMP_DIR/old.err")): fix it, or remove it"
  jq -r '.salt' "$file"
}

# expiry OLD_FILE: the new file's expiry: SECRETS_ADOPT_DAYS from today, or the earlier file's when that is later.
expiry() {
  local days new old=""
  [[ "$SECRETS_ADOPT_DAYS" =~ ^[0-9]{1,4}$ ]] || fail "SECRETS_ADOPT_DAYS must be a number of days, not '$SECRETS_ADOPT_DAYS'"
  days=$((10#$SECRETS_ADOPT_DAYS))
  new=$(TZ=UTC0 printf '%(%Y-%m-%d)T' "$((EPOCHSECONDS + days * 86400))")
  [[ ! -e "$1" ]] || old=$(jq -r '.expires' "$1")
  if [[ -n "$old" && "$old" > "$new" ]]; then printf '%s' "$old"; else printf '%s' "$new"; fi
}

main() {
  local scans salt expires today rc=0 scan
  local -a results=()
  scans=$(secret_scan_names)
  [[ -n "$scans" ]] || fail "no scan says '# Kind: secrets' in its run.sh"
  [[ -z "$PROJECT_DIR_PROBLEM" ]] || fail "$PROJECT_DIR_PROBLEM"
  TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/secrets-baseline.XXXXXX") || fail "cannot make a temporary folder"
  trap cleanup EXIT
  salt=$(old_salt "$SECURITY_SECRETS_ADOPTED")
  [[ -n "$salt" ]] || salt=$(python3 -S "$GATE_ROOT/scripts/lib/adoption.py") || fail "cannot make a salt"
  today=$(today_utc)
  expires=$(expiry "$SECURITY_SECRETS_ADOPTED")
  jq -n --arg salt "$salt" --arg today "$today" --arg expires "$expires" \
    '{generated_at: $today, kdf: "scrypt-n2048-r8-p1", salt: $salt, expires: $expires, entries: []}' \
    >"$TMP_DIR/empty.json" || fail "cannot write to $TMP_DIR"
  # shellcheck disable=SC2086 # scans: the secret scans' names, one word each (scan_names)
  SECURITY_SECRETS_ADOPTING="$TMP_DIR/empty.json" SECURITY_REPORT_DIR="$TMP_DIR/reports" \
    GITHUB_STEP_SUMMARY="" GITHUB_ACTIONS="" "$GATE_ROOT/scripts/run-gate.sh" secrets-baseline $scans || rc=$?
  ((rc == EXIT_PASS || rc == EXIT_FAIL)) || fail "the secret scans did not complete (exit $rc): nothing was written"
  for scan in $scans; do
    results+=("$TMP_DIR/reports/$scan.json")
  done
  if [[ -e "$SECURITY_SECRETS_ADOPTED" ]]; then
    cp -- "$SECURITY_SECRETS_ADOPTED" "$TMP_DIR/old.json" || fail "cannot read $SECURITY_SECRETS_ADOPTED"
  else
    : >"$TMP_DIR/old.json"
  fi
  cat -- "${results[@]}" >"$TMP_DIR/results.json" || fail "cannot read the secret scans' results"
  jq -n -L "$JQ_DIR" -f "$JQ_DIR/adopt-write.jq" --slurpfile results "$TMP_DIR/results.json" \
    --slurpfile old "$TMP_DIR/old.json" --arg salt "$salt" --arg today "$today" --arg expires "$expires" \
    --arg since "${SECRETS_SINCE:-}" >"$TMP_DIR/adopted.json" 2>"$TMP_DIR/write.err" ||
    fail "$(jq_error_text "$TMP_DIR/write.err")"
  write_atomically "$SECURITY_SECRETS_ADOPTED" <"$TMP_DIR/adopted.json" || fail "cannot write $SECURITY_SECRETS_ADOPTED"
  printf 'secrets-baseline: %s entries in %s (expires %s): review each reason, then commit the file\n' \
    "$(jq '.entries | length' "$TMP_DIR/adopted.json")" "$SECURITY_SECRETS_ADOPTED" "$expires"
}

main "$@"
