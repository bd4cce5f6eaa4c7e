#!/usr/bin/env bash
# Summary: scan what detect-secrets scans for committed secrets with a second engine, kingfisher; every file accounted for.
# Kind: secrets
# Tool: kingfisher https://github.com/mongodb/kingfisher
# Usage: scans/kingfisher/run.sh [--staged]
#
# kingfisher reads what detect-secrets reads: the files of its inventory (scans/detect-secrets/inventory.py) and the
# blobs of the history's range (scans/detect-secrets/history.py range, the same SECRETS_SINCE), each written into
# the run's temporary folder under a number, never under a name from the tree or git (scans/kingfisher/adapter.py).
# It runs with its built-in rules and the gate's own (scans/kingfisher/rules/gate.yml); the root uv.lock, which the
# design keeps from detect-secrets, is read by a run with the uv.lock rule alone (rules/uv-lock.yml). Never
# validated over the network (--no-validate), never updated (--no-update-check; --self-update is never passed), its
# compiled rules kept in the gate's cache (SECURITY_CACHE_DIR/kingfisher-rules). Its limits are off where they can
# be (--max-file-size 0, --no-ignore: its inline directives other than detect-secrets' pragma do not silence it);
# a file its audit record does not list as scanned is a gap naming it. A canary of known-format tokens, built at
# run time, is read with the same settings and rules in every run: a class it misses is an error. kingfisher's
# exit code (0, or 200 with findings) is checked against its report, never trusted alone. No value, fingerprint or
# validation text of kingfisher's is kept: the adapter salts the value's SHA-1 (as detect-secrets' hashed_secret)
# and matches it against .secrets.baseline's audited false positives; .security-suppressions.json accepts a
# finding by its rule id and path[:line] (README, "Suppressing a finding").
# kingfisher's answers on the files and blobs in which it found nothing (or only matches the adapter drops) are kept
# in the scan cache (SECURITY_CACHE, SECURITY_CACHE_DIR: scripts/lib/cache.py, its scan "kingfisher"), keyed by the
# path, git's blob id, the set, kingfisher's version, its arguments, the rule files and the adapter's code: a warm run
# hands kingfisher only the new files and the ones with findings (never cached: read again every run), in runs of at
# most 4,000 files, each run's answers journaled before the next starts (a stopped scan keeps them).
# --staged (scripts/pre-commit.sh): no tree scan; the blobs of the index that differ from HEAD, with the staged
# .secrets.baseline.
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   KINGFISHER_RULE_CACHE=  a folder for kingfisher's compiled rules (a file per rule set and version, no finding in it: compiling costs ~4 CPU s): empty, SECURITY_CACHE_DIR/kingfisher-rules (none with SECURITY_CACHE=off)
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/cache.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/cache.sh"

readonly BASELINE_NAME=.secrets.baseline
readonly DS_DIR="$SCANS_DIR/detect-secrets" # the inventory and the history's range the two engines share
# Every run: no network validation, no update check, every occurrence, no inline directive of kingfisher's own, no
# size limit, JSON on a file; the rules and the rule cache are added per run.
readonly KF_ARGS=(scan --no-validate --no-update-check --no-dedup --no-ignore --max-file-size 0 --format json --quiet)
declare -a RULE_CACHE=() # where kingfisher keeps its compiled rules (rule_cache_args)
declare -a KEY_ARGS=()   # what the cache of kingfisher's answers is keyed on, with the rules (adapter.py kf_cache)
HISTORY_PROBLEM="" # why the history's range cannot be read completely, or empty
RANGE_PID=""

# range_start STAGED: list the range's blobs in the background (history.py range), as detect-secrets does.
range_start() {
  local -a index=()
  [[ "$1" != 1 ]] || index=(--staged)
  python3 -S "$DS_DIR/history.py" range --work "$SCAN_WORK" --since "${SECRETS_SINCE-}" "${index[@]}" \
    >"$SCAN_WORK/range.out" 2>"$SCAN_WORK/range.err" &
  RANGE_PID=$!
  scan_helper "$RANGE_PID"
}

# range_finish: wait for range_start; a range that cannot be read leaves its reason in HISTORY_PROBLEM (and no
# range.json, so that prepare reads the tree alone).
range_finish() {
  local rc=0
  scan_helper_wait "$RANGE_PID" || rc=$?
  ((rc == 0)) && return 0
  HISTORY_PROBLEM="the history cannot be read completely: $(stderr_tail "$SCAN_WORK/range.err")"
  rm -f -- "$SCAN_WORK/history/range.json"
}

# take_inventory: detect-secrets' inventory of the tree, its gaps recorded (its exclusions come through prepare).
take_inventory() {
  local out="$SCAN_WORK/inventory"
  mkdir -p "$out" || scan_error "cannot write to its work directory"
  python3 -S "$DS_DIR/inventory.py" "$out" >"$out/count" 2>"$out/inventory.err" ||
    scan_error "$(head -c 600 "$out/inventory.err" | tr '\n' ' ')"
  scan_gaps_from "$out/gaps.jsonl"
}

# rule_cache_args: where kingfisher keeps its compiled rules (KINGFISHER_RULE_CACHE; else the gate's cache, or none
# when the cache is off), in the array RULE_CACHE.
rule_cache_args() {
  if [[ -n "${KINGFISHER_RULE_CACHE:-}" ]]; then
    RULE_CACHE=(--rule-cache-dir "$KINGFISHER_RULE_CACHE")
    return 0
  fi
  case "$SECURITY_CACHE" in
    on) RULE_CACHE=(--rule-cache-dir "$SECURITY_CACHE_DIR/kingfisher-rules") ;;
    off) RULE_CACHE=(--no-rule-cache) ;;
    *) scan_error "SECURITY_CACHE must be on or off, not '$SECURITY_CACHE'" ;;
  esac
}

# kingfisher_run SET RUN LIST: kingfisher on the inputs listed in LIST (NUL-separated, relative to the SET's folder
# WORK/kf/SET), its JSON report in WORK/kf/out/RUN.json; the main set with the built-in rules and the gate's, the
# lock set with the uv.lock rule alone. An exit other than 0 (nothing found) or 200 (findings), an error it logged,
# or an exit code its report contradicts is an error.
kingfisher_run() {
  local kind=$1 run=$2 list=$3 rc=0 out="$SCAN_WORK/kf/out/$2.json" err="$SCAN_WORK/kf/out/$2.err"
  local -a names rules
  if [[ "$kind" == lock ]]; then
    rules=(--load-builtins false --rules-path "$SCAN_DIR/rules/uv-lock.yml")
  else
    rules=(--rules-path "$SCAN_DIR/rules/gate.yml")
  fi
  mapfile -d '' names <"$list"
  ((${#names[@]} > 0)) || scan_error "kingfisher's $kind run has nothing to read (the canary is missing)"
  scan_run_tool /dev/null "$err" --name kingfisher --exit 200 -- env -C "$SCAN_WORK/kf/$kind" kingfisher \
    "${KF_ARGS[@]}" "${rules[@]}" "${RULE_CACHE[@]}" --output "$out" -- "${names[@]}" || rc=$?
  ((rc == 0 || rc == 200)) || scan_error "kingfisher exited $rc: $(stderr_tail "$err")"
  ! grep -q -E '(^| )(ERROR|error:|Error:)' "$err" ||
    scan_error "kingfisher logged an error (it may have left something unread): $(stderr_tail "$err")"
  require_json "$out" "kingfisher's report"
  # Its exit code must say what its report says: 200 with findings, 0 without.
  case "$(jq -r --argjson rc "$rc" 'if (.findings | type) != "array" or (.audit | type) != "object" then "shape"
    elif (.findings | length > 0) == ($rc == 200) then "agree" else "disagree" end' "$out")" in
    agree) ;;
    disagree) scan_error "kingfisher's exit code ($rc) and its report's findings disagree" ;;
    *) scan_error "kingfisher's output has an unexpected shape: its report lacks its findings or audit record" ;;
  esac
}

# run_kingfisher: kingfisher on each set's folders of numbered files (adapter.py prepare), one input a folder, a
# run a chunk of folders (WORK/kf/batches/SET-K), each run's answers kept in the cache's journal before the next
# starts (adapter.py absorb: a scan stopped by its timeout keeps what it finished); then, for the folders its audit
# record does not show read whole (adapter.py check), on each of their files.
run_kingfisher() {
  local kind out="$SCAN_WORK/check.out" count recheck batch run
  rule_cache_args
  for kind in main lock; do
    for batch in "$SCAN_WORK/kf/batches/$kind"-*; do
      [[ -f "$batch" ]] || scan_error "kingfisher's $kind run has nothing to read (the canary is missing)"
      run=${batch##*/}
      kingfisher_run "$kind" "$run" "$batch"
      python3 -S "$SCAN_DIR/adapter.py" absorb --work "$SCAN_WORK" --run "$run" "${KEY_ARGS[@]}" >"$out" 2>"$out.err" ||
        scan_error "kingfisher's output has an unexpected shape: $(stderr_tail "$out.err")"
    done
  done
  python3 -S "$SCAN_DIR/adapter.py" check --work "$SCAN_WORK" >"$out" 2>"$out.err" ||
    scan_error "kingfisher's output has an unexpected shape: $(stderr_tail "$out.err")"
  read -r count <"$out" || scan_error "the adapter gave no count"
  ((count == 0)) || log "$count file(s) in folders kingfisher did not read whole: read one by one"
  for recheck in "$SCAN_WORK"/kf/rechecks/*; do
    [[ -f "$recheck" ]] || continue
    kind=${recheck##*/}
    kingfisher_run "${kind%-*}" "recheck-${recheck##*/}" "$recheck"
  done
}

# kingfisher_version: kingfisher's version from its --version ("kingfisher 2.14.0"), for the result.
kingfisher_version() {
  local line
  line=$(kingfisher --version 2>/dev/null) || scan_error "'kingfisher --version' failed: is it installed whole?"
  SCAN_TOOL_VERSION=${line##* }
}

# baseline_of STAGED: the committed (or staged) .secrets.baseline copied into the work folder; its path in
# BASELINE, empty when there is none.
baseline_of() {
  BASELINE=""
  if [[ "$1" == 1 ]]; then
    git cat-file -e ":$BASELINE_NAME" 2>/dev/null || return 0
    git cat-file blob ":$BASELINE_NAME" >"$SCAN_WORK/baseline.json" || scan_error "cannot read the staged $BASELINE_NAME"
  else
    [[ -e "$BASELINE_NAME" ]] || return 0
    cp -- "$BASELINE_NAME" "$SCAN_WORK/baseline.json" || scan_error "cannot copy $BASELINE_NAME to its work directory"
  fi
  require_json "$SCAN_WORK/baseline.json" "the baseline $BASELINE_NAME"
  BASELINE="$SCAN_WORK/baseline.json"
}

main() {
  local staged=0 mode=tree count deferred left out inventory scanned dropped problem=""
  scan_begin kingfisher "$PROJECT_DIR"
  scan_policy UNKNOWN+ # every secret not audited as a false positive fails
  require_command kingfisher
  require_command git
  cd "$PROJECT_DIR"
  cache_python || scan_error "python3 3.9 or later is needed to list the files kingfisher must scan"
  case "${1:-}" in
    --staged) staged=1 mode=staged ;;
    "") ;;
    *) scan_error "unknown argument '$1' (usage: scans/kingfisher/run.sh [--staged])" ;;
  esac
  range_start "$staged"
  kingfisher_version
  [[ "$staged" == 1 ]] || take_inventory
  baseline_of "$staged"
  range_finish
  [[ -z "$HISTORY_PROBLEM" || "$staged" != 1 ]] || scan_error "$HISTORY_PROBLEM"
  out="$SCAN_WORK/prepare.out"
  scan_progress "writing the files to read"
  KEY_ARGS=(--cache-dir "$([[ "$SECURITY_CACHE" != on ]] || printf '%s' "$SECURITY_CACHE_DIR")"
    --tool-id "kingfisher $SCAN_TOOL_VERSION" --tool-args "${KF_ARGS[*]}")
  # Half of what is left of SCAN_TIMEOUT to write the history's blobs: kingfisher then reads what was written, and
  # its answers are kept, so that a history too long for the timeout converges over runs.
  python3 -S "$SCAN_DIR/adapter.py" prepare --work "$SCAN_WORK" --mode "$mode" "${KEY_ARGS[@]}" \
    --budget "$(((SCAN_DEADLINE - SECONDS) / 2 + 1))" >"$out" 2>"$out.err" ||
    scan_error "could not write the files kingfisher reads: $(stderr_tail "$out.err")"
  read -r count deferred left <"$out" || scan_error "the adapter gave no count"
  ((left == 0)) || HISTORY_PROBLEM="${HISTORY_PROBLEM:+$HISTORY_PROBLEM; }$left of the history's blob(s) were not read \
within SCAN_TIMEOUT=${SCAN_TIMEOUT}s (the whole scan's limit): the next run continues from the answers this one kept"
  ((deferred == 0)) || log "$deferred of the history's blob(s) are the tree's files: read there"
  [[ "$staged" == 1 ]] || ((count > 0)) || scan_error "there is nothing to scan: git lists no file in $PROJECT_DIR \
that the gate may scan (are they all ignored, by this repository or by one that encloses it?)"
  scan_excluded_from "$SCAN_WORK/kf/excluded.jsonl"
  scan_progress "scanning files"
  run_kingfisher
  out="$SCAN_WORK/report.out"
  python3 -S "$SCAN_DIR/adapter.py" report --work "$SCAN_WORK" --baseline "$BASELINE" "${KEY_ARGS[@]}" \
    >"$out" 2>"$out.err" ||
    scan_error "kingfisher's output has an unexpected shape: $(stderr_tail "$out.err")"
  read -r inventory scanned dropped <"$out" || scan_error "the adapter gave no coverage"
  log "$inventory file(s) and blob(s), $scanned read by kingfisher or answered by the cache; $dropped match(es) \
dropped (placeholders, digests, allowlisted)"
  [[ ! -s "$out.err" ]] || log "$(head -n 3 "$out.err")"
  cache_stats_from_plan
  scan_gaps_from "$SCAN_WORK/kf/gaps.jsonl"
  scan_coverage "$inventory" "$scanned"
  keep_raw "$SCAN_WORK/kf/sanitized.json"
  normalize normalize.jq "$SCAN_WORK/kf/findings.json" "$SCAN_WORK/findings.json"
  if [[ -s "$SCAN_WORK/kf/problems" ]]; then
    problem=$(head -n 5 "$SCAN_WORK/kf/problems" | tr '\n' ';')
    problem=${problem%;}
  fi
  [[ -z "$HISTORY_PROBLEM" ]] || problem="${problem:+$problem; }$HISTORY_PROBLEM"
  scan_finish "$SCAN_WORK/findings.json" "$problem"
}

main "$@"
