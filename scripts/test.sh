#!/usr/bin/env bash
# Summary: run the test suite with the locked pytest (.venv/bin/pytest) over tests/: real scanners, shellcheck,
# hadolint and zizmor run inside it.
# Usage: scripts/test.sh [PYTEST_ARGS...]   (make test ARGS="-k cache -x")
set -euo pipefail

main() {
  cd "${BASH_SOURCE[0]%/*}/.."
  exec .venv/bin/pytest "$@"
}

main "$@"
