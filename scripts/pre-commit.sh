#!/usr/bin/env bash
# Summary: run the gate's scans on what is about to be committed (the staged content), for pre-commit.
# Usage: scripts/pre-commit.sh [UNIT...]   (.pre-commit-config.yaml: no UNIT, every unit that scans staged content)
#
# No scan is named here: each unit under scans/ says in its run.sh header how it scans staged content
# (docs/pre-commit.md, "How a unit joins the hook"):
# - its "# Usage:" line lists --staged and it has no "# Staged:" line: it runs as `run.sh --staged` in the
#   repository being committed to and reads the staged blobs that differ from HEAD out of the index itself;
# - a "# Staged: WORD..." line: what it needs of the index is exported into a temporary tree, a git repository of
#   its own, where it runs (with --staged when its Usage line lists it). Each WORD is `changed` (the staged files
#   that differ from HEAD; every staged file before the first commit), `all-if=VAR` (every staged file when the
#   variable VAR is set), or a path (that staged file, when the index holds one). A commit that changes one of the
#   named paths of a unit that reads `changed` can change what every file is scanned for (its settings): every
#   staged file is exported, and the unit runs as the gate runs it, without --staged. A unit that does not read
#   `changed` runs only when the commit changes one of its paths or the gate's own settings (below);
# - neither: the unit is not part of the hook.
# Every path of the index that becomes a file is checked first (scripts/lib/git_paths.py). Every unit gets the
# staged suppression file and adopted secrets' file (SECURITY_SUPPRESSIONS, SECURITY_SECRETS_ADOPTED: none when
# none is staged), the locked tools of this repository's .venv (its "# Tool:" must be installed there) and this
# repository's scan cache (SECURITY_CACHE_DIR). Unstaged edits and untracked files are not what is committed, so
# they are not scanned. The units run at the same time, each one's results in a temporary report folder; each
# one's output (its verdict and findings, never a secret's value) is printed when it ends, in order.
# SKIP (pre-commit's own variable: comma-separated names) skips the units it names, saying so.
# Exit: 0 every unit passed, 1 findings (and no error), 2 a unit could not be completed or the hook could not
# start one: anything but 0 blocks the commit.
set -euo pipefail

ROOT=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)
readonly ROOT
readonly SCANS="$ROOT/scans"
# The gate's own settings every unit reads, relative to the project (scripts/lib/common.sh's defaults of
# SECURITY_SUPPRESSIONS and SECURITY_SECRETS_ADOPTED; tests/test_precommit.py checks that they agree).
readonly SUPPRESSIONS_NAME=.security-suppressions.json ADOPTED_NAME=.security-secrets-adopted.json
readonly SETTINGS=("$SUPPRESSIONS_NAME" "$ADOPTED_NAME")
# git's variables for the repository being committed to: an exported tree is a repository of its own.
readonly GIT_VARS=(GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
  GIT_PREFIX)
WORK=""
TOPLEVEL="" # the repository being committed to
declare -a PIDS=()      # the units running (run_unit), in order; an ended one's entry is emptied
declare -A CHANGED=()   # the staged paths that differ from HEAD (changed_paths; listed when a unit exports), as keys
declare -a CHANGED_LIST=()

# cleanup: stop the units still running, then remove the exported trees and reports.
# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    [[ -z "$pid" ]] || kill -TERM "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [[ -z "$WORK" ]] || rm -rf -- "$WORK"
}

# die MESSAGE: the hook cannot run: say why, exit 2.
die() {
  printf 'pre-commit: %s\n' "$*" >&2
  exit 2
}

# read_header UNIT: from scans/UNIT/run.sh's header (its first block of comment lines): TOOL, the first word of its
# "# Tool:" line; FLAG, "--staged" when its "# Usage:" line lists that option (else empty); DECLARED, 1 when it has
# a "# Staged:" line, whose words are then in WORDS.
read_header() {
  local line
  TOOL="" FLAG="" DECLARED=0 WORDS=()
  while IFS= read -r line; do
    [[ "$line" == "#"* ]] || break
    case "$line" in
      "# Tool:"*) read -r TOOL _ <<<"${line#"# Tool:"}" ;;
      "# Usage:"*) [[ ! "$line" =~ [^-[:alnum:]]--staged([^-[:alnum:]]|$) ]] || FLAG=--staged ;;
      "# Staged:"*) DECLARED=1 && read -r -a WORDS <<<"${line#"# Staged:"}" ;;
    esac
  done <"$SCANS/$1/run.sh"
}

# hook_units: the units that scan staged content (read_header: a --staged option or a "# Staged:" line), one a line.
hook_units() {
  local run unit
  for run in "$SCANS"/*/run.sh; do
    [[ -f "$run" ]] || continue
    unit=${run%/run.sh}
    unit=${unit##*/}
    read_header "$unit"
    [[ -z "$FLAG" && "$DECLARED" == 0 ]] || printf '%s\n' "$unit"
  done
}

# changed_paths: the staged paths that differ from HEAD (added, copied, modified, renamed to, type changed; a
# deletion leaves nothing to scan), NUL-separated; before the first commit, every staged path.
changed_paths() {
  if git rev-parse --verify --quiet HEAD >/dev/null; then
    git diff-index --cached --name-only -z --no-renames --diff-filter=ACMRT HEAD
  else
    git ls-files -z
  fi
}

# staged_settings: the gate's own settings (SETTINGS) as staged, into WORK/.settings/ (absent when not staged).
staged_settings() {
  local entry blob stage name
  mkdir "$WORK/.settings"
  git --literal-pathspecs ls-files -s -z -- "${SETTINGS[@]}" >"$WORK/.settings.list" ||
    die "cannot list the staged ${SETTINGS[*]}"
  # Each entry: "MODE BLOB STAGE<TAB>PATH"; only the files themselves (not what a folder of that name holds).
  while IFS= read -r -d '' entry; do
    name=${entry#*$'\t'}
    read -r _ blob stage <<<"${entry%%$'\t'*}"
    [[ "$stage" == 0 && ("$name" == "$SUPPRESSIONS_NAME" || "$name" == "$ADOPTED_NAME") ]] || continue
    git cat-file blob "$blob" >"$WORK/.settings/$name" || die "cannot read the staged $name"
  done <"$WORK/.settings.list"
}

# plan_export UNIT: for a unit with a "# Staged:" line (WORDS), what to export: PATHS, or WHOLE=1 for every staged file;
# RUN=0 when it has nothing to do (it does not read `changed`, and the commit changes none of its paths, NAMED, nor
# the gate's own settings).
plan_export() {
  local word var reads_changed=0 named_changed=0 settings_changed=0
  PATHS=() NAMED=() WHOLE=0 RUN=1
  for word in "${WORDS[@]}"; do
    case "$word" in
      changed) reads_changed=1 ;;
      all-if=*)
        var=${word#all-if=}
        [[ "$var" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "'$word' in a # Staged: line names no variable"
        [[ -z "${!var:-}" ]] || WHOLE=1
        ;;
      *) NAMED+=("$word") ;;
    esac
  done
  for word in "${NAMED[@]}"; do
    [[ -z "${CHANGED[$word]+set}" ]] || named_changed=1
  done
  for word in "${SETTINGS[@]}"; do
    [[ -z "${CHANGED[$word]+set}" ]] || settings_changed=1
  done
  if ((reads_changed)); then
    ((named_changed == 0)) || WHOLE=1
  elif ((WHOLE == 0 && named_changed == 0 && settings_changed == 0)); then
    RUN=0
  fi
  ((WHOLE == 0 && RUN == 1)) || return 0
  if ((${#NAMED[@]} > 0)); then
    git --literal-pathspecs ls-files -z -- "${NAMED[@]}" >"$WORK/$1/named" ||
      die "cannot list the staged ${NAMED[*]}"
    mapfile -d '' PATHS <"$WORK/$1/named"
  fi
  ((reads_changed == 0)) || PATHS+=("${CHANGED_LIST[@]}")
}

# export_staged DIR: the staged content of PATHS (WHOLE=1: of every staged file) as a git repository of its own
# in DIR.
export_staged() {
  local dir=$1
  mkdir "$dir"
  # A path of the index is data (scripts/lib/git_paths.py): one that could leave DIR is refused before any is written.
  if ((WHOLE)); then
    git ls-files -z | python3 -S "$ROOT/scripts/lib/git_paths.py" check "the index"
    git checkout-index --all --prefix="$dir/"
  elif ((${#PATHS[@]} > 0)); then
    printf '%s\0' "${PATHS[@]}" | python3 -S "$ROOT/scripts/lib/git_paths.py" check "the index"
    printf '%s\0' "${PATHS[@]}" | git checkout-index -z --stdin --prefix="$dir/"
  fi
  # From here on, git must see the exported tree, not the repository being committed to.
  unset "${GIT_VARS[@]}"
  git -C "$dir" init --quiet
  git -C "$dir" add --all --force
}

# run_unit UNIT: the unit's scan of the staged content (its header: read_header), its output on stdout; becomes the
# unit's run.sh (exec), so that stopping this process stops the scan.
run_unit() {
  local unit=$1
  local -a args=()
  read_header "$unit"
  [[ -z "$FLAG" ]] || args=("$FLAG")
  export SECURITY_REPORT_DIR="$WORK/$unit/reports" SECURITY_SUPPRESSIONS="$WORK/.settings/$SUPPRESSIONS_NAME"
  export SECURITY_SECRETS_ADOPTED="$WORK/.settings/$ADOPTED_NAME"
  mkdir "$WORK/$unit"
  ((DECLARED == 1)) || PROJECT_DIR=$TOPLEVEL exec "$SCANS/$unit/run.sh" "${args[@]}"
  plan_export "$unit"
  if ((RUN == 0)); then
    printf '%s: not run: the commit changes none of %s\n' "$unit" "${NAMED[*]} ${SETTINGS[*]}"
    exit 0
  fi
  ((WHOLE == 0)) || args=()
  export_staged "$WORK/$unit/tree"
  PROJECT_DIR="$WORK/$unit/tree" exec "$SCANS/$unit/run.sh" "${args[@]}"
}

# skipped UNIT: whether SKIP (comma-separated, as pre-commit reads it) names UNIT.
skipped() {
  local name
  local -a names
  IFS=, read -r -a names <<<"${SKIP:-}"
  for name in "${names[@]}"; do
    name=${name#"${name%%[![:space:]]*}"}
    [[ "${name%"${name##*[![:space:]]}"}" != "$1" ]] || return 0
  done
  return 1
}

main() {
  local unit path rc worst=0 i exporting=0
  local -a units=("$@")
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/pre-commit.XXXXXX") || die "cannot create a temporary folder (TMPDIR)"
  trap cleanup EXIT
  if ((${#units[@]} == 0)); then
    hook_units >"$WORK/.units" || die "cannot read the units' headers (scans/*/run.sh)"
    mapfile -t units <"$WORK/.units"
  fi
  for unit in "${units[@]}"; do
    [[ "$unit" =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ && -x "$SCANS/$unit/run.sh" ]] ||
      die "no scan named $unit (scans/NAME/run.sh)"
    read_header "$unit"
    [[ -n "$FLAG" || "$DECLARED" == 1 ]] || die "$unit does not say how it scans staged content (docs/pre-commit.md)"
    ! skipped "$unit" || continue
    ((DECLARED == 0)) || exporting=1
    [[ -n "$TOOL" ]] || die "$unit names no tool (its # Tool: line)"
    [[ -x "$ROOT/.venv/bin/$TOOL" ]] || die "the locked $TOOL is not installed: run 'make setup'"
  done
  export PATH="$ROOT/.venv/bin:$ROOT/.tools/uv/bin:$PATH"
  TOPLEVEL=$(git rev-parse --show-toplevel) || die "not in a git repository"
  staged_settings
  if ((exporting)); then
    changed_paths >"$WORK/.changed" || die "cannot list the staged changes"
    mapfile -d '' CHANGED_LIST <"$WORK/.changed"
    for path in "${CHANGED_LIST[@]}"; do
      CHANGED[$path]=1
    done
  fi
  for unit in "${units[@]}"; do
    if skipped "$unit"; then
      printf '%s: skipped (SKIP)\n' "$unit" >"$WORK/$unit.log"
      PIDS+=("")
      continue
    fi
    run_unit "$unit" >"$WORK/$unit.log" 2>&1 &
    PIDS+=("$!")
  done
  for i in "${!units[@]}"; do
    rc=0
    [[ -z "${PIDS[i]}" ]] || wait "${PIDS[i]}" || rc=$?
    PIDS[i]=""
    cat -- "$WORK/${units[i]}.log"
    # 0 pass, 1 findings; anything else (2, or a unit that died) is an error.
    if ((rc == 1)); then
      ((worst == 2)) || worst=1
    elif ((rc != 0)); then
      worst=2
    fi
  done
  return "$worst"
}

main "$@"
