#!/usr/bin/env bash
# Summary: run one of the gate's code scans on what is about to be committed (the staged content), for pre-commit.
# Usage: scripts/pre-commit.sh SCAN        e.g. scripts/pre-commit.sh detect-secrets (.pre-commit-config.yaml)
#
# detect-secrets reads only what the commit changes: the staged blobs that differ from HEAD, straight from git's
# object store (scans/detect-secrets/run.sh --staged), with the staged .secrets.baseline and suppression file; a
# finding names the staged path and line. The other scans need a tree: every file of the index (the one `git commit`
# is writing, GIT_INDEX_FILE included) is exported as staged into a temporary tree, which becomes a repository of
# its own holding exactly those files; scans/SCAN/run.sh runs there. Unstaged edits and untracked files are not
# what is committed, so they are not scanned. The scan is the gate's own: the locked tools of this repository's
# .venv, the staged pyproject.toml, .secrets.baseline and suppression file, and this repository's scan cache
# (SECURITY_CACHE_DIR, keyed by git's blob id), so unchanged content is answered from it.
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

# export_index DIR: the staged content of every file, as a git repository of its own in DIR/tree.
export_index() {
  local dir=$1
  mkdir "$dir/tree"
  git checkout-index --all --prefix="$dir/tree/"
  # From here on, git must see the exported tree, not the repository being committed to.
  unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_PREFIX
  git -C "$dir/tree" init --quiet
  git -C "$dir/tree" add --all --force
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
  export_index "$TREE"
  PROJECT_DIR="$TREE/tree" SECURITY_REPORT_DIR="$TREE/reports" "$ROOT/scans/$scan/run.sh"
}

main "$@"
