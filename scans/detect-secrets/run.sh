#!/usr/bin/env bash
# Summary: scan every file of the project for committed secrets with detect-secrets; every file accounted for.
# Kind: secrets
# Tool: detect-secrets https://github.com/Yelp/detect-secrets
# Usage: scans/detect-secrets/run.sh [--staged]
#
# The inventory (scans/detect-secrets/inventory.py) is every file git lists, tracked or untracked and not
# ignored, less .env.sample, uv.lock and .secrets.baseline at the project root and deleted files, each listed in
# the result as excluded with its rule; a submodule or a nested git repository is a coverage gap naming it, and an
# empty inventory an error. A symlink is never followed: its target's text (os.readlink, in the history git's
# mode 120000 blob) is scanned as the content of a one-line file, written into the work folder under a number
# (links_scan), and a finding names the link. detect-secrets runs in UTF-8 mode whatever the locale (common.sh),
# widened (scans/detect-secrets/widen.py: its filters that skip files by name are off, YAML and config files are
# scanned as raw lines too, and every file it reads is recorded); a listed file it did not read is a gap naming
# it, or excluded when it is binary. The project's .secrets.baseline (when it has one) supplies the settings
# and the audited false positives: a secret not in it, audited there as a true secret, or not audited at all
# fails; a baseline that narrows the scan (scans/detect-secrets/narrowing.py) is a gap per narrowing.
# `# pragma: allowlist secret` is honoured by detect-secrets itself. No secret value is ever printed or kept,
# and no unsalted hash of one outside the run's temporary folder (scans/detect-secrets/cache_adapter.py salts
# them with scripts/lib/cache.py's secret).
# Files whose content, baseline entries, detect-secrets version and settings are unchanged since an earlier run
# are answered from the scan cache (SECURITY_CACHE, SECURITY_CACHE_DIR; scripts/lib/cache.sh): detect-secrets
# scans the others, and the report is the one a scan of every file gives. detect-secrets runs through
# scans/detect-secrets/batched-pool.py, which hands its worker processes a few files at a time instead of one.
# History: the scan also reads every blob the commits of a range introduce, merge commits' own resolutions
# included, out of git (scans/detect-secrets/history.py: which commits, which blobs, what makes a range
# incomplete), through the same detect-secrets, widening and baseline, and the same cache (keyed by git's blob
# id). Its findings (scans/detect-secrets/history.jq) name the commit, the path in that commit and the line; the
# same secret in many commits is one finding, and one the tree scan reports is not reported again. The result's
# "history" field records the range, its commits and the blobs read. A range that cannot be read completely (an
# unknown SECRETS_SINCE, a shallow clone missing some of its commits) makes the scan an error that still lists
# the tree's findings.
# Canary (scans/detect-secrets/canary.py): beside every run, the same detect-secrets, run as the scan runs it with the
# same baseline settings, reads a canary of one known-format token per plugin class, built at run time, in its own
# folder (never a finding, never coverage); a plugin not enabled or not firing on it is an error naming the class.
# --staged (scripts/pre-commit.sh): no tree scan; the blobs of the index that differ from HEAD, with the staged
# .secrets.baseline, as the history scan reads a commit's.
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   SECRETS_SINCE=  the history to read: empty, the commits git push would send (HEAD's commits on no remote-tracking ref; every commit without remotes); REV, the commits reachable from HEAD and not from REV (a REV that is not an ancestor: every commit since their merge base); all, every commit
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/cache.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/cache.sh"

readonly BASELINE_NAME=.secrets.baseline
readonly UNWRITTEN=not-written-by-this-run
readonly PLACEHOLDERS="$GATE_ROOT/scripts/lib/placeholders.py" # widen.py's filters: in the cache's key too
# --no-verify: never send a found secret to its provider to check it (detect-secrets does by default, and then
# drops the ones the provider calls invalid): results must not depend on the network, nor secrets leave.
readonly SCAN_ARGS=(scan --no-verify)
declare -a DS_RUN=()  # scan_run_tool's options and the command, up to the files (detect_secrets_run)
declare -a DS_TAIL=() # the files as arguments, for a detect-secrets that is not a Python entry point
INVENTORY=0           # the number of files to scan (take_inventory)
KEY_ARGS=""           # what of the gate's own settings the cache keys on: SCAN_ARGS and widen.py's content
DS_PYTHON="" # detect-secrets' interpreter when it is a Python entry point (python_of), else empty
NARROWING_PID="" # the baseline's narrowing check running in the background (narrowing_start)
HISTORY_PROBLEM="" # why the history's range cannot be read completely (history_range_finish), or empty
RANGE_PID=""       # history.py range running in the background (history_range_start)
declare -a MERGE_ARGS=() # cache_merge's options that cache_plan also takes (it merges when nothing is left to read)
PLAN_MERGED=""     # "merged" when cache_plan merged (the cache answered every file)
CANARY_PID=""      # canary.py running in the background (canary_start)
CANARY_PROBLEM=""  # what detect-secrets missed of its canary (canary_finish), or empty
SECRETS_SINCE=${SECRETS_SINCE:-}

# take_inventory OUT_DIR: the files to scan in OUT_DIR/files (NUL-separated, relative to the project), their
# number in INVENTORY; the exclusions and gaps recorded. No file to scan is an error.
take_inventory() {
  local out=$1
  mkdir -p "$out" || scan_error "cannot write to its work directory"
  python3 -S "$SCAN_DIR/inventory.py" "$out" >"$out/count" 2>"$out/inventory.err" ||
    scan_error "$(head -c 600 "$out/inventory.err" | tr '\n' ' ')"
  INVENTORY=$(cat "$out/count")
  scan_excluded_from "$out/excluded.jsonl"
  scan_gaps_from "$out/gaps.jsonl"
  ((INVENTORY > 0)) || scan_error "there is nothing to scan: git lists no file in $PROJECT_DIR that the gate may scan \
(are they all ignored, by this repository or by one that encloses it?)"
}

# narrowing_start BASELINE: judge, in the background (NARROWING_PID), how the committed baseline narrows
# detect-secrets' defaults (it imports detect-secrets, which takes a while; the inventory and the cache plan
# need not wait for it).
narrowing_start() {
  local baseline=$1 out="$SCAN_WORK/narrowing.jsonl"
  [[ -n "$DS_PYTHON" ]] || return 0
  "$DS_PYTHON" "$SCAN_DIR/narrowing.py" "$baseline" >"$out" 2>"$out.err" &
  NARROWING_PID=$!
  scan_helper "$NARROWING_PID"
}

# narrowing_finish: each way the baseline narrows the scan (narrowing_start), as a gap.
narrowing_finish() {
  local out="$SCAN_WORK/narrowing.jsonl"
  [[ -n "$NARROWING_PID" ]] || return 0
  scan_helper_wait "$NARROWING_PID" ||
    scan_error "could not judge how .secrets.baseline sets detect-secrets up: $(stderr_tail "$out.err")"
  scan_gaps_from "$out"
}

# canary_start BASELINE: in the background (CANARY_PID), detect-secrets run as the scan runs it (batched-pool.py,
# widen.py, SCAN_ARGS), with BASELINE's settings (none: its defaults), on scans/detect-secrets/canary.py's canary of
# known-format tokens, one per plugin class, in SCAN_WORK/canary (never a finding, never coverage). A detect-secrets
# that is not a Python entry point cannot be run so: its gap unverified:detect-secrets says so.
canary_start() {
  local baseline=$1 dir="$SCAN_WORK/canary" left
  local -a run=()
  [[ -n "$DS_PYTHON" ]] || return 0
  mkdir -p "$dir/read" || scan_error "cannot write to its work directory"
  # One worker process (-c 1): the same scan of each file, without a pool of every core for a few small files.
  run=("$DS_PYTHON" "$SCAN_DIR/batched-pool.py" --record "$dir/read" --chdir "$dir/files"
    "$(command -v detect-secrets)" -c 1 "${SCAN_ARGS[@]}")
  left=$((SCAN_DEADLINE - SECONDS))
  python3 -S "$SCAN_DIR/canary.py" --work "$dir" ${baseline:+--baseline "$baseline"} --timeout "$left" -- \
    "${run[@]}" >"$dir.out" 2>"$dir.err" &
  CANARY_PID=$!
  scan_helper "$CANARY_PID"
}

# canary_finish: wait for canary_start; the plugins that did not fire on their canary, or are not enabled, in
# CANARY_PROBLEM (one sentence each, naming detect-secrets and the class); the plugins it cannot prove as gaps.
canary_finish() {
  local dir="$SCAN_WORK/canary" problem
  local -a problems=()
  [[ -n "$CANARY_PID" ]] || return 0
  scan_helper_wait "$CANARY_PID" || scan_error "could not run detect-secrets' canary: $(stderr_tail "$dir.err")"
  CANARY_PID=""
  scan_gaps_from "$dir/gaps.jsonl"
  mapfile -t problems <"$dir/problems" || scan_error "cannot read the result of detect-secrets' canary"
  for problem in "${problems[@]}"; do
    CANARY_PROBLEM+="${CANARY_PROBLEM:+; }$problem"
  done
}

# account_for LIST SCANNED BASELINE: the listed files detect-secrets did not read (SCANNED holds the ones it
# did): binary ones excluded, any other a gap naming it and why (scans/detect-secrets/unscannable.py).
account_for() {
  local list=$1 scanned=$2 baseline=$3 missing="$SCAN_WORK/unread" listing="$SCAN_WORK/unscannable.json"
  [[ -s "$list" ]] || return 0 # nothing was to be read (the cache answered every file)
  python3 -S -c 'import sys
listed = [x for x in open(sys.argv[1], "rb").read().split(b"\0") if x]
read = set(open(sys.argv[2], "rb").read().split(b"\0"))
sys.stdout.buffer.write(b"".join(x + b"\0" for x in listed if x not in read))' "$list" "$scanned" >"$missing" ||
    scan_error "could not compare the files detect-secrets read with the inventory"
  [[ -s "$missing" ]] || return 0
  "$DS_PYTHON" "$SCAN_DIR/unscannable.py" "$missing" ${baseline:+"$baseline"} \
    >"$listing" 2>"$listing.err" || scan_error "could not tell why detect-secrets did not read some files: $(stderr_tail "$listing.err")"
  require_json "$listing" "the list of files detect-secrets did not read"
  run_jq "$SCAN_WORK/unread.json" -f "$SCAN_DIR/unread.jq" "$listing" ||
    scan_error "could not read the list of files detect-secrets did not read"
  if ! jq -c '.gaps[]' "$SCAN_WORK/unread.json" >"$SCAN_WORK/unread-gaps.jsonl" ||
    ! jq -c '.excluded[]' "$SCAN_WORK/unread.json" >"$SCAN_WORK/unread-excluded.jsonl"; then
    scan_error "could not read the list of files detect-secrets did not read"
  fi
  scan_gaps_from "$SCAN_WORK/unread-gaps.jsonl"
  scan_excluded_from "$SCAN_WORK/unread-excluded.jsonl"
}

# baseline_copy OUT: a working copy of the project's baseline, marked so a run that did not rewrite it shows.
baseline_copy() {
  local out=$1
  require_json "$BASELINE_NAME" "the baseline $PROJECT_DIR/$BASELINE_NAME"
  jq --arg mark "$UNWRITTEN" '.generated_at = $mark' "$BASELINE_NAME" >"$out" ||
    scan_error "the baseline $PROJECT_DIR/$BASELINE_NAME could not be read"
}

# cache_plan LIST COMMITTED: look the listed files up in the cache (none when it is off); the ones to scan
# in SCAN_WORK/todo, the result's "cache" field set, the answered files an earlier run excluded unread (binary,
# a baseline filter) listed as excluded again.
cache_plan() {
  local list=$1 committed=$2 out="$SCAN_WORK/plan.out" rc=0 files hits misses
  cache_args detect-secrets
  # When the cache answers every file, the plan merges too (cache_merge's options): PLAN_MERGED is then "merged".
  cache_helper "$out" plan "${CACHE_ARGS[@]}" --tool-args "$KEY_ARGS" --baseline "$committed" --list "$list" \
    --merge-if-answered "${MERGE_ARGS[@]}" || rc=$?
  ((rc == 0)) || scan_error "$(head -c 600 "$out.err" | tr '\n' ' ')"
  read -r files hits misses PLAN_MERGED <"$out" || scan_error "the scan cache gave no plan"
  scan_progress "scanning files" "$hits" "$files" # batched-pool.py counts each file done
  log "$files file(s): $hits from the cache, $misses scanned"
  cache_stats_from_plan
  scan_excluded_from "$SCAN_WORK/cached-excluded.jsonl"
}

# cache_merge RAW WORK_BASELINE COMMITTED SCANNED: detect-secrets' report on the scanned files (RAW) and the
# cached entries as one report, every hashed_secret salted, in SCAN_WORK/merged.json, and the committed baseline
# salted alike in SCAN_WORK/baseline-salted.json; the fresh entries of the files it read (SCANNED) stored, and
# the exclusions of those it did not read (account_for).
cache_merge() {
  local raw=$1 work_baseline=$2 committed=$3 scanned=$4 out="$SCAN_WORK/merge.out" rc=0
  cache_helper "$out" merge --work "$SCAN_WORK" --tool-args "$KEY_ARGS" --baseline "$committed" --fresh "$raw" \
    --work-baseline "$work_baseline" --scanned "$scanned" --unread-excluded "$SCAN_WORK/unread-excluded.jsonl" \
    "${MERGE_ARGS[@]}" || rc=$?
  ((rc != 2)) || scan_error "detect-secrets' output has an unexpected shape: $(stderr_tail "$out.err")"
  ((rc == 0)) || scan_error "the scan cache failed: $(stderr_tail "$out.err")"
}

# links_scan BASELINE: detect-secrets on the symlinks' target text the cache did not answer (SCAN_WORK/todo-links:
# their numbers in the inventory's symlinks folder, read there, never through the link), its report in
# SCAN_WORK/links-report.json and what it read in SCAN_WORK/links-read.list (cache_adapter.py merge maps both back
# to the links' paths).
links_scan() {
  local baseline=$1 out="$SCAN_WORK/links-report.json" err="$SCAN_WORK/links.err"
  local record="$SCAN_WORK/links-read"
  local -a names
  mkdir -p "$record" || scan_error "cannot write to its work directory"
  DS_TAIL=()
  if [[ -n "$DS_PYTHON" ]]; then
    DS_RUN=(--name detect-secrets -- "$DS_PYTHON" "$SCAN_DIR/batched-pool.py" --record "$record" --files-from
      "$SCAN_WORK/todo-links" --chdir "$SCAN_WORK/inventory/symlinks" "$(command -v detect-secrets)" "${SCAN_ARGS[@]}")
  else
    # Not a Python entry point: what it read cannot be told (the gap unverified:detect-secrets says so).
    mapfile -d '' names <"$SCAN_WORK/todo-links"
    DS_RUN=(--name detect-secrets -- env -C "$SCAN_WORK/inventory/symlinks" "$(command -v detect-secrets)"
      "${SCAN_ARGS[@]}")
    DS_TAIL=(-- "${names[@]}")
    cp "$SCAN_WORK/todo-links" "$record/all" || scan_error "cannot write to its work directory"
  fi
  if [[ -n "$baseline" ]]; then
    cp "$SCAN_WORK/baseline-links.json" "$out" || scan_error "cannot write to its work directory"
  fi
  ds_report "$out" "$baseline" "$err" "the symlinks' target text"
  cat "$record"/* >"$SCAN_WORK/links-read.list" 2>/dev/null || : >"$SCAN_WORK/links-read.list"
}

# detect_secrets_run LIST RECORD: in the array DS_RUN, scan_run_tool's options and command for detect-secrets
# on the files in LIST, in UTF-8 mode. A Python entry point runs under scans/detect-secrets/batched-pool.py
# (widened, recording the files it reads in the folder RECORD, the files read from LIST, its worker processes
# handed files a few at a time); any other detect-secrets gets the files as
# arguments, and what it read cannot be told (a gap).
detect_secrets_run() {
  local list=$1 record=$2
  local -a files
  DS_RUN=(--name detect-secrets --)
  if [[ -n "$DS_PYTHON" ]]; then
    DS_RUN+=("$DS_PYTHON" "$SCAN_DIR/batched-pool.py" --record "$record" --files-from "$list"
      "$(command -v detect-secrets)" "${SCAN_ARGS[@]}")
  else
    mapfile -d '' files <"$list"
    DS_RUN+=(detect-secrets "${SCAN_ARGS[@]}")
    DS_TAIL=(-- "${files[@]}")
    scan_gap "unverified:detect-secrets" "detect-secrets on PATH is not a Python entry point, so the gate cannot \
tell which files it read nor run its canary (run 'make setup')"
  fi
}

# ds_report OUT BASELINE ERR WHAT: run DS_RUN (then DS_TAIL) for its report in OUT: with BASELINE non-empty, OUT
# holds the working baseline (generated_at UNWRITTEN), which detect-secrets rewrites in place; else its output. An
# exit other than 0, a report that is not one JSON value, or a working baseline it left unwritten is an error
# naming WHAT (what it read, or empty).
ds_report() {
  local out=$1 baseline=$2 err=$3 what=${4:+ on $4} rc=0
  if [[ -n "$baseline" ]]; then
    scan_run_tool /dev/null "$err" "${DS_RUN[@]}" --baseline "$out" "${DS_TAIL[@]}" || rc=$?
  else
    scan_run_tool "$out" "$err" "${DS_RUN[@]}" "${DS_TAIL[@]}" || rc=$?
  fi
  ((rc == 0)) || scan_error "detect-secrets exited $rc$what: $(stderr_tail "$err")"
  require_json "$out" "detect-secrets' output$what"
  if [[ -n "$baseline" ]] && jq -e --arg mark "$UNWRITTEN" '.generated_at == $mark' "$out" >/dev/null; then
    scan_error "detect-secrets exited 0 without writing its results$what"
  fi
}

# history_range_start STAGED: resolve the range to read (SECRETS_SINCE, or the index when STAGED is 1) and list the
# blobs its commits introduce, in the background (RANGE_PID: it needs only git, so it runs beside the inventory);
# history_range_finish waits for it.
history_range_start() {
  local -a index=()
  [[ "$1" != 1 ]] || index=(--staged)
  python3 -S "$SCAN_DIR/history.py" range --work "$SCAN_WORK" --since "$SECRETS_SINCE" "${index[@]}" \
    >"$SCAN_WORK/history-range.out" 2>"$SCAN_WORK/history-range.out.err" &
  RANGE_PID=$!
  scan_helper "$RANGE_PID"
}

# history_range_finish: wait for history_range_start; a range that cannot be read completely leaves its reason in
# HISTORY_PROBLEM.
history_range_finish() {
  local out="$SCAN_WORK/history-range.out" rc=0
  scan_helper_wait "$RANGE_PID" || rc=$?
  ((rc == 0)) || HISTORY_PROBLEM="the history cannot be read completely: $(stderr_tail "$out.err")"
  ((rc == 0 || rc == 2)) || HISTORY_PROBLEM="the history's range could not be listed (exit $rc): $(stderr_tail "$out.err")"
  return 0
}

# history_scan BASELINE TREE_REPORT STAGED: the blobs of the range (history_range_start), from the cache, from this run's
# tree scan or through detect-secrets; their findings in SCAN_WORK/history-findings.json (history.jq), the range
# and what was read in SCAN_WORK/history/coverage.json; the cache saved with the tree's entries (or, STAGED, with
# every entry it held).
history_scan() {
  local baseline=$1 tree_report=$2 from_index=$3 dir="$SCAN_WORK/history" out="$SCAN_WORK/history.out"
  local blobs hits deferred misses chunks err="$SCAN_WORK/history-ds.err" raw="$SCAN_WORK/history/detect-secrets.json"
  local -a mode=()
  [[ "$from_index" != 1 ]] || mode=(--staged --carry)
  cache_args detect-secrets
  # The plan writes out every blob to read: within what is left of SCAN_TIMEOUT, as a tool run is.
  scan_run_tool "$out" "$out.err" --name "the history's plan (writing its blobs)" -- python3 -S \
    "$SCAN_DIR/history.py" plan "${CACHE_ARGS[@]}" --tool-args "$KEY_ARGS" --baseline "$baseline" \
    --tree-kept "$SCAN_WORK/tree-kept.json" "${mode[@]:0:1}" ||
    scan_error "could not plan the history's scan: $(stderr_tail "$out.err")"
  read -r blobs hits deferred misses chunks <"$out" || scan_error "the history's scan gave no plan"
  log "history: $blobs blob(s): $hits from the cache, $deferred from the tree scan, $misses scanned"
  # Nothing to read: history.py plan merged too (it says "merged"). Else detect-secrets reads the blobs, a chunk at
  # a time (each chunk's answers kept in the cache before the next starts), and history.py merges.
  if [[ "$chunks" != merged ]]; then
    mkdir -p "$dir/read" || scan_error "cannot write to its work directory"
    if [[ -s "$dir/todo" && -n "$DS_PYTHON" ]]; then
      scan_progress "scanning the history's blobs" 0 "$misses" # batched-pool.py counts each blob done
      history_chunks "$baseline" "$chunks"
    elif [[ -s "$dir/todo" ]]; then
      # Not a Python entry point: what it read cannot be told (the tree's gap unverified:detect-secrets says so);
      # it gets the blobs as arguments, from their folder, and every one counts as read.
      local -a names
      mapfile -d '' names <"$dir/todo"
      DS_RUN=(--name detect-secrets -- env -C "$dir/blobs" "$(command -v detect-secrets)" "${SCAN_ARGS[@]}")
      cp "$dir/todo" "$dir/read/all"
      [[ "$from_index" != 1 ]] || scan_gap "unverified:detect-secrets" "detect-secrets on PATH is not a Python \
entry point, so the gate cannot tell which files it read nor run its canary (run 'make setup')"
      DS_TAIL=(-- "${names[@]}")
      if [[ -n "$baseline" ]]; then
        cp "$dir/baseline-work.json" "$raw" || scan_error "cannot write to its work directory"
      fi
      ds_report "$raw" "$baseline" "$err" "the history's blobs"
    fi
    cat "$dir/read"/* >"$dir/read.list" 2>/dev/null || : >"$dir/read.list"
    python3 -S "$SCAN_DIR/history.py" merge "${CACHE_ARGS[@]}" --tool-args "$KEY_ARGS" --baseline "$baseline" \
      --fresh "$raw" --scanned "$dir/read.list" --tree-kept "$SCAN_WORK/tree-kept.json" "${mode[@]:1}" \
      >"$out" 2>"$out.err" || scan_error "could not merge the history's scan: $(stderr_tail "$out.err")"
  fi
  [[ ! -s "$out.err" ]] || log "$(head -n 3 "$out.err")"
  history_report "$tree_report"
}

# history_chunks BASELINE CHUNKS: detect-secrets on each chunk of the history's blobs (WORK/history/todo.N, N below
# CHUNKS), each within what is left of SCAN_TIMEOUT; after each, history.py absorb keeps its answers (in the cache's
# journal, and for the merge): a scan stopped by its timeout keeps every chunk it finished, and the next run
# continues from there.
history_chunks() {
  local baseline=$1 chunks=$2 dir="$SCAN_WORK/history" n report err="$SCAN_WORK/history-ds.err"
  local out="$SCAN_WORK/history-absorb.out"
  for ((n = 0; n < chunks; n++)); do
    mkdir -p "$dir/read.$n" || scan_error "cannot write to its work directory"
    DS_RUN=(--name detect-secrets -- "$DS_PYTHON" "$SCAN_DIR/batched-pool.py" --record "$dir/read.$n" --files-from \
      "$dir/todo.$n" --chdir "$dir/blobs" "$(command -v detect-secrets)" "${SCAN_ARGS[@]}")
    DS_TAIL=()
    report="$dir/report.$n.json"
    if [[ -n "$baseline" ]]; then
      cp "$dir/baseline-work.json" "$report" || scan_error "cannot write to its work directory"
    fi
    ds_report "$report" "$baseline" "$err" "the history's blobs"
    cat "$dir/read.$n"/* >"$dir/read.$n.list" 2>/dev/null || : >"$dir/read.$n.list"
    python3 -S "$SCAN_DIR/history.py" absorb "${CACHE_ARGS[@]}" --tool-args "$KEY_ARGS" --baseline "$baseline" \
      --chunk "$n" --fresh "$report" --scanned "$dir/read.$n.list" >"$out" 2>"$out.err" ||
      scan_error "could not keep the history's answers: $(stderr_tail "$out.err")"
  done
}

# staged_scan BASELINE: the hook's scan of the staged blobs in one process of detect-secrets' own Python (history.py
# staged: range, plan, detect-secrets, merge), then history_report.
staged_scan() {
  local baseline=$1 out="$SCAN_WORK/history.out" rc=0
  cache_args detect-secrets
  scan_run_tool "$out" "$out.err" --name detect-secrets -- "$DS_PYTHON" "$SCAN_DIR/history.py" staged \
    "${CACHE_ARGS[@]}" --tool-args "$KEY_ARGS" --scan-args "${SCAN_ARGS[*]}" --baseline "$baseline" || rc=$?
  ((rc == 0)) || scan_error "could not scan the staged blobs: $(stderr_tail "$out.err")"
  [[ ! -s "$out.err" ]] || log "$(head -n 3 "$out.err")"
  history_report "$SCAN_WORK/tree-empty.json"
}

# history_report TREE_REPORT: the history's gaps and exclusions recorded, its findings in
# SCAN_WORK/history-findings.json (history.jq, against the salted baseline and the tree's report).
history_report() {
  local tree_report=$1 dir="$SCAN_WORK/history"
  [[ ! -s "$dir/gaps.jsonl" ]] || scan_gaps_from "$dir/gaps.jsonl"
  [[ ! -s "$dir/unread-gaps.jsonl" ]] || scan_gaps_from "$dir/unread-gaps.jsonl"
  # The history's exclusions the tree's list does not already hold (history.py plan leaves those out).
  [[ ! -s "$dir/excluded.jsonl" ]] || scan_excluded_from "$dir/excluded.jsonl"
  normalize history.jq "$dir/occurrences.json" "$SCAN_WORK/history-findings.json" \
    --slurpfile baseline "$dir/baseline-salted.json" --slurpfile tree "$tree_report"
}

# history_extra: the result's "history" field (history.py's coverage) added to SCAN_RESULT_EXTRA.
history_extra() {
  local extra
  if [[ -z "${SCAN_RESULT_EXTRA:-}" || "$SCAN_RESULT_EXTRA" == "{}" ]]; then
    # Nothing to merge with (the hook): the record as history.py wrote it, read without a jq run.
    read -r -d '' extra <"$SCAN_WORK/history/coverage.json" || [[ -n "$extra" ]] ||
      scan_error "could not read the history's coverage"
  else
    # Through files, never an argument: the coverage may be long.
    printf '%s\n' "$SCAN_RESULT_EXTRA" >"$SCAN_WORK/extra-base.json" || scan_error "cannot write to its work directory"
    extra=$(jq -c -s '.[0] + .[1]' "$SCAN_WORK/extra-base.json" "$SCAN_WORK/history/coverage.json") ||
      scan_error "could not read the history's coverage"
  fi
  SCAN_RESULT_EXTRA=$extra
}

# log_dropped: how many of detect-secrets' matches widen.py dropped as placeholders or lock-file digests (it appends a
# line naming why to each RECORD.dropped; never the value), in the log.
log_dropped() {
  local count
  count=$({ cat "$SCAN_WORK"/read.dropped "$SCAN_WORK"/history/read*.dropped 2>/dev/null || :; } | wc -l) || count=0
  ((count == 0)) || log "$count match(es) dropped (documented placeholders, lock-file digests: scripts/lib/placeholders.py)"
}

# keep_raw_report MERGED: the merged report kept beside the result (keep_raw), without the adoption fingerprints
# the adapters add when the project has an adoption file (common.sh adopted_file): those stay in SCAN_WORK.
keep_raw_report() {
  local merged=$1
  if [[ -e "$(adopted_file)" ]]; then
    jq 'del(.results[][]?.adoption)' "$merged" >"$SCAN_WORK/raw-kept.json" ||
      scan_error "could not write the raw report without its adoption fingerprints"
    merged="$SCAN_WORK/raw-kept.json"
  fi
  keep_raw "$merged"
}

# staged_main: the pre-commit hook's scan (--staged): the index's blobs that differ from HEAD, with the staged
# baseline, and no tree scan.
staged_main() {
  local committed="$SCAN_WORK/baseline-committed.json" baseline=""
  if git cat-file -e ":$BASELINE_NAME" 2>/dev/null; then
    git cat-file blob ":$BASELINE_NAME" >"$committed" || scan_error "cannot read the staged $BASELINE_NAME"
    require_json "$committed" "the staged baseline $BASELINE_NAME"
    baseline=$committed
    narrowing_start "$committed"
  else
    printf '{"results": {}}\n' >"$committed"
  fi
  canary_start "$baseline"
  cache_begin detect-secrets
  printf '{"results": {}}\n' >"$SCAN_WORK/tree-empty.json"
  if [[ -n "$DS_PYTHON" ]]; then
    staged_scan "$baseline"
  else
    history_range_start 1
    history_range_finish
    [[ -z "$HISTORY_PROBLEM" ]] || scan_error "$HISTORY_PROBLEM"
    history_scan "$baseline" "$SCAN_WORK/tree-empty.json" 1
  fi
  narrowing_finish
  SCAN_RESULT_EXTRA='{}'
  history_extra
  # The staged blobs to read, and the ones detect-secrets read (history.py: binary ones are excluded, the others named).
  mv -f "$SCAN_WORK/history/gate-coverage.json" "$SCAN_WORK/coverage.json" ||
    scan_error "could not read the history's coverage"
  canary_finish
  log_dropped
  scan_finish "$SCAN_WORK/history-findings.json" "$CANARY_PROBLEM"
}

main() {
  local list raw err committed baseline="" record todo scanned
  scan_begin detect-secrets "$PROJECT_DIR"
  scan_policy UNKNOWN+ # every secret not audited as a false positive fails
  require_command detect-secrets
  require_command git
  cd "$PROJECT_DIR"
  cache_python || scan_error "python3 3.9 or later is needed to list the files detect-secrets must scan"
  DS_PYTHON=$(python_of detect-secrets) || DS_PYTHON=""
  KEY_ARGS="${SCAN_ARGS[*]} widen.py:$(cksum <"$SCAN_DIR/widen.py") placeholders.py:$(cksum <"$PLACEHOLDERS")" ||
    scan_error "cannot read $SCAN_DIR/widen.py or $PLACEHOLDERS"
  case "${1:-}" in
    --staged) staged_main ;;
    "") ;;
    *) scan_error "unknown argument '$1' (usage: scans/detect-secrets/run.sh [--staged])" ;;
  esac
  history_range_start 0

  raw="$SCAN_WORK/detect-secrets.json"
  err="$SCAN_WORK/detect-secrets.err"
  committed="$SCAN_WORK/baseline-committed.json"
  if [[ -e "$BASELINE_NAME" ]]; then
    baseline_copy "$raw"
    cp "$BASELINE_NAME" "$committed" || scan_error "cannot copy $BASELINE_NAME to its work directory"
    baseline=$committed
    narrowing_start "$committed"
  else
    printf '{"results": {}}\n' >"$committed"
  fi
  canary_start "$baseline"
  take_inventory "$SCAN_WORK/inventory"
  list="$SCAN_WORK/inventory/files"
  cache_begin detect-secrets
  history_range_finish
  # With a history to read, the history scan saves the cache, with the tree's entries and its own.
  [[ -n "$HISTORY_PROBLEM" ]] || MERGE_ARGS+=(--keep-to "$SCAN_WORK/tree-kept.json")
  MERGE_ARGS+=(--work-baseline "$raw")
  cache_plan "$list" "$baseline"
  narrowing_finish
  todo="$SCAN_WORK/todo"
  record="$SCAN_WORK/read"
  mkdir -p "$record" || scan_error "cannot write to its work directory"
  if [[ "$PLAN_MERGED" != merged && -s "$todo" ]]; then
    DS_TAIL=()
    detect_secrets_run "$todo" "$record"
    ds_report "$raw" "$baseline" "$err" ""
  fi
  if [[ "$PLAN_MERGED" != merged ]]; then
    [[ ! -s "$SCAN_WORK/todo-links" ]] || links_scan "$baseline"
    cat "$record"/* >"$SCAN_WORK/read.list" 2>/dev/null || : >"$SCAN_WORK/read.list"
    [[ -z "$DS_PYTHON" ]] || account_for "$todo" "$SCAN_WORK/read.list" "$baseline"
    cache_merge "$raw" "$raw" "$baseline" "$SCAN_WORK/read.list"
    scan_gaps_from "$SCAN_WORK/links-unread.jsonl"
  fi
  keep_raw_report "$SCAN_WORK/merged.json"
  read -r _ scanned <"$SCAN_WORK/ds-coverage.txt" || scan_error "the scan cache gave no coverage"
  scan_coverage "$INVENTORY" "$scanned"
  normalize normalize.jq "$SCAN_WORK/merged.json" "$SCAN_WORK/tree-findings.json" --slurpfile baseline "$SCAN_WORK/baseline-salted.json"
  canary_finish
  if [[ -n "$HISTORY_PROBLEM" ]]; then
    scan_finish "$SCAN_WORK/tree-findings.json" "$HISTORY_PROBLEM${CANARY_PROBLEM:+; $CANARY_PROBLEM}"
  fi
  history_scan "$baseline" "$SCAN_WORK/merged.json" 0
  history_extra
  jq -s 'add' "$SCAN_WORK/tree-findings.json" "$SCAN_WORK/history-findings.json" >"$SCAN_WORK/findings.json" ||
    scan_error "could not join the tree's and the history's findings"
  log_dropped
  scan_finish "$SCAN_WORK/findings.json" "$CANARY_PROBLEM"
}

main "$@"
