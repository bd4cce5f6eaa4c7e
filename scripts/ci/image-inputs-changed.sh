#!/usr/bin/env bash
# Summary: in the workflow's docker job, say whether this event must build and scan the image: `build=true` or
# `build=false` to GITHUB_OUTPUT and stdout.
# Usage: scripts/ci/image-inputs-changed.sh      (.github/workflows/security.yml, after a checkout of depth 2)
#
# Pushes to main and the daily run always build (GITHUB_EVENT_NAME other than pull_request). A pull request builds
# when its merge commit (HEAD) changes, against its first parent (the base), a path of IMAGE_INPUTS: what the image
# is built from and what scans it. Anything that cannot be decided (HEAD is no merge commit, a parent is missing,
# git fails) builds: the check then reports a real scan, never a guess.
set -euo pipefail

# What the image is built from (deploy/docker/Dockerfile's COPY lines and its build context's rules) and what
# scans it (the gate: the Makefile, scripts, jq programs, the scans, the suppressions and the workflow), as git
# pathspecs; then the settings files trivy would read at the top of the checkout (scans/trivy/settings-files, the
# list the image scan reports them from: a .trivyignore alone changes what the scan reports).
readonly TRIVY_SETTINGS_FILES="${BASH_SOURCE[0]%/*}/../../scans/trivy/settings-files"
IMAGE_INPUTS=(
  deploy/docker/ .dockerignore docker-compose.yml pyproject.toml uv.lock scripts/ manage.py config/ apps/
  Makefile jq/ scans/ .security-suppressions.json .github/workflows/security.yml
)

# add_trivy_settings_files: IMAGE_INPUTS plus each name of TRIVY_SETTINGS_FILES, as a path from the top of the
# checkout, and SETTINGS_LISTED set; false when the list cannot be read (the job then builds).
SETTINGS_LISTED=""
add_trivy_settings_files() {
  local name
  local -a names=()
  [[ -r "$TRIVY_SETTINGS_FILES" ]] || return 1
  while IFS= read -r name; do
    name=${name%%#*}
    name=${name//[[:space:]]/}
    [[ -z "$name" ]] || names+=(":(top,literal)$name")
  done <"$TRIVY_SETTINGS_FILES"
  ((${#names[@]} > 0)) || return 1
  IMAGE_INPUTS+=("${names[@]}")
  SETTINGS_LISTED=1
}

# decide: true when the image must be built and scanned, false when the pull request changes none of its inputs.
decide() {
  local changed
  [[ "${GITHUB_EVENT_NAME:-}" == pull_request ]] || { printf 'true'; return 0; }
  [[ -n "$SETTINGS_LISTED" ]] || { printf 'true'; return 0; }
  [[ "$(git rev-list --parents -n 1 HEAD 2>/dev/null | wc -w)" == 3 ]] || { printf 'true'; return 0; }
  changed=$(git diff --name-only HEAD^1 HEAD -- "${IMAGE_INPUTS[@]}" 2>/dev/null) || { printf 'true'; return 0; }
  if [[ -n "$changed" ]]; then printf 'true'; else printf 'false'; fi
}

main() {
  local build
  add_trivy_settings_files || printf 'image-inputs: cannot read %s: building\n' "$TRIVY_SETTINGS_FILES" >&2
  build=$(decide)
  printf 'build=%s\n' "$build" >>"${GITHUB_OUTPUT:-/dev/null}"
  if [[ "$build" == true ]]; then
    printf 'image-inputs: build and scan the image\n'
  else
    printf 'image-inputs: this pull request changes nothing the image is built from or scanned with; no build\n'
    if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
      printf '## security-docker: not run\n\nThis pull request changes none of: %s\n' "${IMAGE_INPUTS[*]//":(top,literal)"/}" \
        >>"$GITHUB_STEP_SUMMARY"
    fi
  fi
}

main "$@"
