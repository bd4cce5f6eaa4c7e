#!/usr/bin/env bash
# Summary: run one of the gate's code scans on what is about to be committed (the staged content), for pre-commit.
# Usage: scripts/pre-commit.sh SCAN        e.g. scripts/pre-commit.sh detect-secrets (.pre-commit-config.yaml)
#
# Each hook reads what the commit changes, never an export of the whole index:
# - detect-secrets: the staged blobs that differ from HEAD, straight from git's object store
#   (scans/detect-secrets/run.sh --staged), with the staged .secrets.baseline and suppression file.
# - bandit: the staged files that differ from HEAD (`git diff-index --cached`; every staged file before the first
#   commit) are exported with the staged pyproject.toml and suppression file into a temporary tree, a repository
#   of its own, where scans/bandit/run.sh --staged scans the Python files among them (none: it passes, saying so).
#   A staged change to pyproject.toml ([tool.bandit]) can change what every file is scanned for: then every staged
#   file is exported.
# - pip-audit: the staged uv.lock, pyproject.toml and suppression file are exported (with PIP_AUDIT_REQUIREMENTS,
#   whose files may include others, every staged file), and scans/pip-audit/run.sh audits the lock as the gate does.
# Unstaged edits and untracked files are not what is committed, so they are not scanned. The scan is the gate's
# own: the locked tools of this repository's .venv, the staged settings and suppression file, and this
# repository's scan cache (SECURITY_CACHE_DIR, keyed by git's blob id), so content seen before is answered from it.
# Results go to a temporary report folder; the scan prints its verdict and findings (never a secret's value).
# Exit: the scan's own, 0 pass, 1 findings, 2 the scan could not be completed: anything but 0 blocks the commit.
set -euo pipefail

ROOT=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)
readonly ROOT
TREE=""

# cleanup: remove the exported tree and its reports.
# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
  [[ -z "$TREE" ]] || rm -rf -- "$TREE"
}

# changed_paths: the staged paths that differ from HEAD, NUL-separated (added, copied, modified, renamed to, type
# changed; a deletion leaves nothing to scan); before the first commit, every staged path.
changed_paths() {
  if git rev-parse --verify --quiet HEAD >/dev/null; then
    git diff-index --cached --name-only -z --no-renames --diff-filter=ACMRT HEAD
  else
    git ls-files -z
  fi
}

# export_staged DIR PATH...: the staged content of the named paths (each one the index holds; none named: the whole
# index), as a git repository of its own in DIR/tree.
export_staged() {
  local dir=$1
  shift
  mkdir "$dir/tree"
  # A path of the index is data (scripts/lib/git_paths.py): one that could leave DIR/tree is refused before any is
  # written.
  if (($# == 0)); then
    git ls-files -z | python3 -S "$ROOT/scripts/lib/git_paths.py" check "the index"
  else
    printf '%s\0' "$@" | python3 -S "$ROOT/scripts/lib/git_paths.py" check "the index"
  fi
  if (($# == 0)); then
    git checkout-index --all --prefix="$dir/tree/"
  else
    printf '%s\0' "$@" | git checkout-index -z --stdin --prefix="$dir/tree/"
  fi
  # From here on, git must see the exported tree, not the repository being committed to.
  unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_PREFIX
  git -C "$dir/tree" init --quiet
  git -C "$dir/tree" add --all --force
}

# staged_paths_for SCAN: the paths to export for SCAN, NUL-separated, each one the index holds (nothing: the whole
# index): the settings files SCAN reads, and for bandit the staged paths that differ from HEAD.
staged_paths_for() {
  local path
  local -a changed=() settings=(pyproject.toml .security-suppressions.json)
  case "$1" in
    bandit)
      mapfile -d '' changed < <(changed_paths)
      for path in "${changed[@]}"; do
        # A staged change to bandit's settings can change what every file is scanned for: the whole index.
        [[ "$path" != pyproject.toml ]] || return 0
      done
      ;;
    pip-audit)
      # Requirement files may include others anywhere in the tree: the whole index.
      [[ -z "${PIP_AUDIT_REQUIREMENTS:-}" ]] || return 0
      settings+=(uv.lock)
      ;;
  esac
  for path in "${settings[@]}"; do
    git cat-file -e ":$path" 2>/dev/null && printf '%s\0' "$path"
  done
  for path in "${changed[@]}"; do
    [[ "$path" == .security-suppressions.json ]] || printf '%s\0' "$path" # (pyproject.toml: whole index, above)
  done
}

# staged_secrets DIR: detect-secrets on the staged blobs that differ from HEAD, in the repository being committed
# to, with its staged suppression file (none when none is staged).
staged_secrets() {
  local dir=$1 project suppressions="$1/suppressions.json"
  project=$(git rev-parse --show-toplevel)
  if git cat-file -e :.security-suppressions.json 2>/dev/null; then
    git cat-file blob :.security-suppressions.json >"$suppressions"
  fi
  PROJECT_DIR=$project SECURITY_REPORT_DIR="$dir/reports" SECURITY_SUPPRESSIONS=$suppressions \
    "$ROOT/scans/detect-secrets/run.sh" --staged
}

main() {
  local scan=${1:?usage: scripts/pre-commit.sh SCAN}
  [[ -x "$ROOT/scans/$scan/run.sh" ]] || { printf 'pre-commit: no scan named %s\n' "$scan" >&2; exit 2; }
  [[ -x "$ROOT/.venv/bin/$scan" ]] ||
    { printf "pre-commit: the locked %s is not installed: run 'make setup'\n" "$scan" >&2; exit 2; }
  export PATH="$ROOT/.venv/bin:$ROOT/.tools/uv/bin:$PATH"
  TREE=$(mktemp -d "${TMPDIR:-/tmp}/pre-commit-$scan.XXXXXX")
  trap cleanup EXIT
  if [[ "$scan" == detect-secrets ]]; then
    staged_secrets "$TREE"
    return
  fi
  local -a paths args=()
  mapfile -d '' paths < <(staged_paths_for "$scan")
  export_staged "$TREE" "${paths[@]}"
  # bandit on a part of the tree (--staged): a target the commit does not touch, or no Python file to scan, passes.
  [[ "$scan" != bandit ]] || ((${#paths[@]} == 0)) || args=(--staged)
  PROJECT_DIR="$TREE/tree" SECURITY_REPORT_DIR="$TREE/reports" "$ROOT/scans/$scan/run.sh" "${args[@]}"
}

main "$@"
