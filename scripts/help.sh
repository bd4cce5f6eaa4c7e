#!/usr/bin/env bash
# Summary: print the Makefile's targets (from their `## ` comments) and the variables the scripts read.
# Usage: scripts/help.sh MAKEFILE...
set -euo pipefail

main() {
  printf 'Usage: make <target> [VARIABLE=value ...]\n\nTargets:\n'
  grep -hE '^[a-zA-Z_-]+:.*## ' "$@" | sed -E 's/^([a-zA-Z_-]+):.*## (.*)$/  \1\t\2/' | expand -t 20
  cat <<'VARS'

Variables (environment or make arguments; README "Configuration" has the details):
  PROJECT_DIR            the tree to scan (default: this repository)
  SECURITY_REPORT_DIR    where results go (default: reports/security)
  SCAN_TIMEOUT           seconds each scan may run (default: 900)
  SECURITY_SUPPRESSIONS  the suppression file (default: PROJECT_DIR/.security-suppressions.json)
  PIP_AUDIT_OSV_URL      an OSV-API URL for pip-audit (default: pip-audit's own service)
  PIP_AUDIT_REQUIREMENTS requirements files to audit instead of uv.lock
  PIP_AUDIT_ADVISORY_DB  a local advisory database the gate serves to pip-audit itself (offline mirror)
  PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS   how old its snapshot may be (default: 7)
  ADVISORY_MIRROR_PORT   the port make advisory-mirror listens on (default: 8686)
  BANDIT_TARGETS         what bandit scans (default: apps config)
  BANDIT_SEVERITY, BANDIT_CONFIDENCE   minimum levels that fail (default: low)
  IMAGE, IMAGE_TAR, CONTAINER_ENGINE   what security-docker scans and how it builds
  IMAGE_BUILD_FLAGS      extra flags for the image build (build args, build contexts, read-only mounts)
  TRIVY_FAIL_ON          severities that fail (default: CRITICAL,HIGH)
  TRIVY_EOSL_SEVERITY    severity of an end-of-life OS finding (default: CRITICAL)
  TRIVY_DB_MAX_AGE_DAYS  how old trivy's vulnerability DB may be (default: 3)
  IGNORE_UNFIXED         true: vulnerabilities with no fix yet do not fail (default: false)
  DOCKERFILE             the Dockerfile security-docker builds (default: deploy/docker/Dockerfile)
  SECURITY_CACHE         on|off: reuse per-file bandit and detect-secrets results (default: on)
  SECURITY_CACHE_DIR     where that cache lives (default: .cache/security)
  BANDIT_JOBS            bandit processes at once (default: one per core, when enough files)
  BENCH_REPEATS          repetitions of each measurement in make bench (default: 5)
  SECURITY_DEBUG=1       trace the scripts (set -x)
VARS
}

main "$@"
