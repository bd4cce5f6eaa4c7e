#!/usr/bin/env bash
# Summary: scan the service's container image with trivy; CRITICAL and HIGH vulnerabilities fail.
# Usage: scans/trivy/run.sh
#
# The image scanned is, in order: IMAGE_TAR (a `docker save` or OCI tarball; no engine needed), IMAGE (an
# existing image reference), or an image built from DOCKERFILE (default deploy/docker/Dockerfile) in
# PROJECT_DIR with CONTAINER_ENGINE (default docker; podman works too).
# The gate is applied by jq on trivy's JSON: TRIVY_FAIL_ON (default CRITICAL,HIGH) fail, the other severities
# are listed as information; IGNORE_UNFIXED=true lists vulnerabilities with no fix yet as information instead.
# trivy's own TRIVY_* variables (TRIVY_CACHE_DIR, TRIVY_DB_REPOSITORY, TRIVY_SKIP_DB_UPDATE, ...) pass through.
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/common.sh"

IMAGE=${IMAGE:-}
IMAGE_TAR=${IMAGE_TAR:-}
CONTAINER_ENGINE=${CONTAINER_ENGINE:-docker}
DOCKERFILE=${DOCKERFILE:-deploy/docker/Dockerfile}
TRIVY_FAIL_ON=${TRIVY_FAIL_ON:-CRITICAL,HIGH}
IGNORE_UNFIXED=${IGNORE_UNFIXED:-false}

# engine_ready: error out, with what to do instead, unless the container engine answers.
engine_ready() {
  command -v "$CONTAINER_ENGINE" >/dev/null 2>&1 && "$CONTAINER_ENGINE" info >/dev/null 2>&1 && return 0
  scan_error "no container engine: '$CONTAINER_ENGINE info' failed (is its daemon running?). Build the image where an engine runs and scan the saved tarball instead: '$CONTAINER_ENGINE save -o image.tar IMAGE' then 'make security-docker IMAGE_TAR=image.tar'; or set CONTAINER_ENGINE=podman"
}

# build_image TAR: build the image from DOCKERFILE and save it to TAR.
build_image() {
  local tar=$1 tag log
  [[ -f "$PROJECT_DIR/$DOCKERFILE" ]] || scan_error "no Dockerfile at $PROJECT_DIR/$DOCKERFILE (set DOCKERFILE, IMAGE or IMAGE_TAR)"
  engine_ready
  tag="security-gate/$(basename "$PROJECT_DIR" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9_.\n-' '-'):scan"
  log="$SECURITY_REPORT_DIR/trivy.build.log"
  log "building $tag from $DOCKERFILE with $CONTAINER_ENGINE (log: $log)"
  scan_run_tool "$log" "$log.err" -- "$CONTAINER_ENGINE" build -f "$PROJECT_DIR/$DOCKERFILE" -t "$tag" "$PROJECT_DIR" ||
    scan_error "the image build failed: $(stderr_tail "$log.err")"
  scan_run_tool /dev/null "$SCAN_WORK/save.err" -- "$CONTAINER_ENGINE" save -o "$tar" "$tag" ||
    scan_error "saving the built image failed: $(stderr_tail "$SCAN_WORK/save.err")"
}

# image_source: what the findings point at: the Dockerfile the image was built from here, else the image
# scanned (IMAGE_TAR, relative to the project when it lies inside it, or the IMAGE reference).
image_source() {
  local tar
  if [[ -n "$IMAGE_TAR" ]]; then
    tar=$(realpath -- "$IMAGE_TAR")
    printf '%s' "${tar#"$(realpath -- "$PROJECT_DIR")"/}"
  else
    printf '%s' "${IMAGE:-$DOCKERFILE}"
  fi
}

main() {
  local raw err rc target
  local -a source
  target=${IMAGE_TAR:-${IMAGE:-$DOCKERFILE}}
  scan_begin trivy "$target"
  require_command trivy
  scan_policy "$TRIVY_FAIL_ON" "" "$IGNORE_UNFIXED"

  if [[ -n "$IMAGE_TAR" ]]; then
    [[ -f "$IMAGE_TAR" && -r "$IMAGE_TAR" ]] || scan_error "IMAGE_TAR $IMAGE_TAR is not a readable file"
    source=(--input "$IMAGE_TAR")
  elif [[ -n "$IMAGE" ]]; then
    source=("$IMAGE")
  else
    build_image "$SCAN_WORK/image.tar"
    source=(--input "$SCAN_WORK/image.tar")
  fi

  raw="$SCAN_WORK/trivy.json"
  err="$SCAN_WORK/trivy.err"
  rc=0
  scan_run_tool /dev/null "$err" -- trivy image --scanners vuln --pkg-types os,library --format json \
    --output "$raw" --skip-version-check --disable-telemetry "${source[@]}" || rc=$?
  # trivy exits 1 for its own fatal errors (and for findings only with --exit-code, which is not used).
  ((rc == 0)) || scan_error "trivy exited $rc: $(stderr_tail "$err")"
  require_json "$raw" "trivy's report"
  keep_raw "$raw"
  normalize normalize.jq "$raw" "$SCAN_WORK/findings.json" --arg image_source "$(image_source)"
  scan_finish "$SCAN_WORK/findings.json"
}

main "$@"
