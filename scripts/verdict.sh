#!/usr/bin/env bash
# Summary: print a gate run's verdict (SECURITY_REPORT_DIR/GATE.verdict.json) and exit with the gate's code.
# Usage: scripts/verdict.sh GATE             e.g. make security-code; scripts/verdict.sh security-code
#        scripts/verdict.sh --forget GATE    mark GATE's verdict as "error: not started" (make does, first)
#
# make turns any failed recipe into its own exit status 2, for findings and errors alike; the verdict file
# keeps the gate's answer, and this reads it back. A missing or unreadable verdict is an error: it never
# passes. `make security-code` runs --forget before anything else, so a run that make stops early (setup
# failed) leaves an "error" verdict, not an earlier run's. When GITHUB_OUTPUT is set (a GitHub Actions step), it
# also writes verdict=pass|fail|error there, for the workflow's job outputs.
# Exit: 0 pass, 1 findings at or over a threshold, 2 error (or no readable verdict).
set -Eeuo pipefail
trap 'exit 2' ERR # a command that fails unexpectedly is an error here, never exit 1 ("findings")
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/lib/common.sh"

# forget GATE: replace GATE's verdict with an "error" placeholder until the gate writes its own.
forget() {
  if ! mkdir -p "$SECURITY_REPORT_DIR" 2>/dev/null ||
    ! write_error_verdict "$1" "the $1 run did not start (make stopped before it, or it is still setting up)"; then
    printf '%s: error: cannot write to the report directory %s\n' "$1" "$SECURITY_REPORT_DIR" >&2
    exit "$EXIT_ERROR"
  fi
}

# show GATE: print GATE's verdict as one line and exit with its code.
show() {
  local file line code
  file=$(verdict_path "$1")
  line=$(jq -r -e -L "$JQ_DIR" 'include "lib";
      select(.verdict == ({"0": "pass", "1": "fail"}[.exit_code | tostring] // "error") and .exit_code != null)
      | "\(.gate | one_line): \(.verdict) (exit \(.exit_code))"
        + (if .error != null then " - \(.error | one_line)" else "" end)' "$file" 2>/dev/null) || {
    printf '%s: error: no readable verdict in %s (did the gate run?)\n' "$1" "$file"
    github_output "$EXIT_ERROR"
    exit "$EXIT_ERROR"
  }
  code=$(jq -r '.exit_code' "$file") || code=$EXIT_ERROR
  [[ "$code" == [012] ]] || code=$EXIT_ERROR
  printf '%s; details in %s\n' "$line" "$SECURITY_REPORT_DIR"
  github_output "$code"
  exit "$code"
}

# github_output CODE: in a GitHub Actions step (GITHUB_OUTPUT set), the step output verdict=pass|fail|error.
github_output() {
  [[ -n "${GITHUB_OUTPUT:-}" ]] || return 0
  case "$1" in
    0) printf 'verdict=pass\n' ;;
    1) printf 'verdict=fail\n' ;;
    *) printf 'verdict=error\n' ;;
  esac >>"$GITHUB_OUTPUT" || printf 'verdict: could not write to GITHUB_OUTPUT\n' >&2
}

main() {
  case "${1:-}" in
    --forget) forget "${2:?usage: verdict.sh --forget GATE}" ;;
    "" | -*) printf 'usage: verdict.sh [--forget] GATE\n' >&2 && exit "$EXIT_ERROR" ;;
    *) show "$1" ;;
  esac
}

main "$@"
