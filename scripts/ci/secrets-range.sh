#!/usr/bin/env bash
# Summary: in the workflow's code job, choose the commits the secret scan reads (SECRETS_SINCE) for this event and
# fetch just the history that range needs into the shallow checkout.
# Usage: scripts/ci/secrets-range.sh      (.github/workflows/security.yml, before `make security-code`)
#
# Reads what the workflow passes from the event (docs/workflow.md, "The commits the secret scan reads"):
#   GITHUB_EVENT_NAME  pull_request, push or schedule (set by GitHub Actions)
#   PR_HEAD_SHA, PR_BASE_SHA  a pull request's head and base commits
#   PUSH_BEFORE, PUSH_FORCED  a push's previous tip of the branch, and whether the push was forced
#   GIT_FETCH_TOKEN  the job's token, handed to git for these fetches only (never stored in .git/config)
# and prints `since=REV` (a commit, or `all`) to GITHUB_OUTPUT and to stdout:
#   pull_request  the merge commit's first parent (the base the merge ref was made from): the pull request's
#                 commits and the merge's own resolution; PR_BASE_SHA when HEAD is not that merge commit
#   push          PUSH_BEFORE; `all` for a new branch (no previous tip) and for a force-push (the previous tip may
#                 be no ancestor: reading everything reads more, never less)
#   otherwise     `all` (the daily run: all of main's history, most of it answered by the scan cache)
# Then fetches: for a commit, deeper (2, 8, 32, ... commits from HEAD and from that commit) until no commit of the
# range is a shallow boundary, then stops; for `all`, the whole history. A fetch that fails exits 1 once `since`
# is written: the gate then finds the range incomplete and says so (an error, never a pass over less).
set -euo pipefail

readonly NO_COMMIT=0000000000000000000000000000000000000000
# Past this depth the history is fetched whole.
readonly MAX_DEPTH=4096

# git_remote ARGS...: git with the job's token as an HTTP header for this one command (as actions/checkout sends
# it), when there is a token; nothing is written to .git/config.
git_remote() {
  local header
  if [[ -n "${GIT_FETCH_TOKEN:-}" ]]; then
    header=$(printf 'x-access-token:%s' "$GIT_FETCH_TOKEN" | base64 | tr -d '\n')
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL:-https://github.com}/.extraheader" \
      GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $header" git "$@"
  else
    git "$@"
  fi
}

# is_shallow: whether the checkout lacks part of its history.
is_shallow() {
  [[ "$(git rev-parse --is-shallow-repository)" == true ]]
}

# pull_request_base: the commit a pull request's range starts after (see the header).
pull_request_base() {
  local head parents
  head=$(git rev-parse HEAD)
  if is_shallow; then
    git_remote fetch --quiet --no-tags --depth=2 origin "$head" || return 1
  fi
  read -r -a parents <<<"$(git rev-list --parents -n 1 HEAD | cut -d' ' -f2-)"
  if ((${#parents[@]} == 2)) && [[ "${parents[1]}" == "${PR_HEAD_SHA:-}" ]]; then
    printf '%s' "${parents[0]}"
  elif [[ -n "${PR_BASE_SHA:-}" ]]; then
    printf '%s' "$PR_BASE_SHA"
  else
    printf 'all'
  fi
}

# choose_since: SECRETS_SINCE for this event.
choose_since() {
  case "${GITHUB_EVENT_NAME:-}" in
    pull_request) pull_request_base ;;
    push)
      if [[ -z "${PUSH_BEFORE:-}" || "$PUSH_BEFORE" == "$NO_COMMIT" || "${PUSH_FORCED:-}" == true ]]; then
        printf 'all'
      else
        printf '%s' "$PUSH_BEFORE"
      fi
      ;;
    *) printf 'all' ;;
  esac
}

# range_complete SINCE: whether every commit reachable from HEAD and not from SINCE is here with its parents.
range_complete() {
  local shallow commits
  shallow=$(git rev-parse --git-path shallow)
  [[ -s "$shallow" ]] || return 0
  git cat-file -e "$1^{commit}" 2>/dev/null || return 1
  commits=$(git rev-list HEAD --not "$1") || return 1
  ! grep -qxFf "$shallow" <<<"$commits"
}

# fetch_range SINCE: fetch what the range needs (see the header).
fetch_range() {
  local since=$1 head depth=2
  head=$(git rev-parse HEAD)
  if [[ "$since" == all ]]; then
    is_shallow || return 0
    git_remote fetch --quiet --no-tags --unshallow origin "$head" || return 1
    return 0
  fi
  until range_complete "$since"; do
    if ((depth > MAX_DEPTH)); then
      git_remote fetch --quiet --no-tags --unshallow origin "$head" "$since" || return 1
      return 0
    fi
    git_remote fetch --quiet --no-tags --depth="$depth" origin "$head" "$since" || return 1
    depth=$((depth * 4))
  done
}

main() {
  local since count
  since=$(choose_since)
  printf 'since=%s\n' "$since" >>"${GITHUB_OUTPUT:-/dev/null}"
  printf 'secrets-range: SECRETS_SINCE=%s (%s event)\n' "$since" "${GITHUB_EVENT_NAME:-no}"
  fetch_range "$since" || {
    printf 'secrets-range: could not fetch the history of SECRETS_SINCE=%s; the gate will say what is missing\n' \
      "$since" >&2
    exit 1
  }
  if [[ "$since" == all ]]; then
    count=$(git rev-list --count HEAD)
  else
    count=$(git rev-list --count HEAD --not "$since")
  fi
  printf 'secrets-range: %s commits to read, history complete\n' "$count"
}

main "$@"
