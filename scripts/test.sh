#!/usr/bin/env bash
# Summary: run the test suite: pytest over tests/ (real scanners, shellcheck, hadolint, zizmor inside).
# Usage: scripts/test.sh [PYTEST_ARGS...]
set -euo pipefail

main() {
  cd "${BASH_SOURCE[0]%/*}/.."
  exec pytest "$@"
}

main "$@"
