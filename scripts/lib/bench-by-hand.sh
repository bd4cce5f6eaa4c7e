#!/usr/bin/env bash
# Summary: the benchmark's reference: each named scan's tool run by hand, one after the other, with the settings
# the gate uses (the same lock export, flags, targets, config, file list and baseline).
# Usage: scripts/lib/bench-by-hand.sh PROJECT OUT SCAN...   (make bench passes the Makefile's CODE_SCANS)
#
# Writes OUT/SCAN.json for each SCAN, its tool's own report; each SCAN needs a function by_hand_SCAN here.
# Reads the scans' own variables (BANDIT_TARGETS, PIP_AUDIT_OSV_URL, PIP_AUDIT_TIMEOUT); an unset one takes the
# default its scan's header gives (scripts/help.sh --default), so no default is written twice.
# Exit: 0 when every tool ran (findings or not), 2 when one could not.
set -euo pipefail

ROOT=$(cd "${BASH_SOURCE[0]%/*}/../.." && pwd)
readonly ROOT

# setting NAME: the value of the scan variable NAME, or its default when it is unset or empty.
setting() {
  local value=${!1:-}
  [[ -n "$value" ]] || value=$("$ROOT/scripts/help.sh" --default "$1") || fail "no default for $1"
  printf '%s' "$value"
}

# fail MESSAGE: say what broke and exit 2.
fail() {
  printf 'bench-by-hand: %s\n' "$1" >&2
  exit 2
}

# by_hand_pip-audit OUT: the lock exported as scans/pip-audit/run.sh exports it, audited with its flags.
by_hand_pip-audit() {
  local out=$1 rc=0
  local -a service=()
  UV_OFFLINE=1 uv export --frozen --format requirements-txt --all-groups --all-extras --no-emit-project \
    --no-header --no-annotate --quiet >"$out/requirements.marked" || fail "uv export failed"
  sed -E 's/^([A-Za-z0-9][^ ;]*==[^ ;]+) ; [^\\]*/\1 /' "$out/requirements.marked" >"$out/requirements.txt"
  [[ -n "${PIP_AUDIT_OSV_URL:-}" ]] && service=(--vulnerability-service osv --osv-url "$PIP_AUDIT_OSV_URL")
  pip-audit --strict --disable-pip --progress-spinner off --format json --desc on --aliases on --timeout "$(setting PIP_AUDIT_TIMEOUT)" \
    -r "$out/requirements.txt" --require-hashes "${service[@]}" --output "$out/pip-audit.json" || rc=$?
  ((rc == 0 || rc == 1)) || fail "pip-audit exited $rc"
}

# by_hand_bandit OUT: bandit -r over BANDIT_TARGETS with pyproject.toml's [tool.bandit].
by_hand_bandit() {
  local out=$1 rc=0
  local -a targets config=()
  read -r -a targets <<<"$(setting BANDIT_TARGETS)"
  [[ -f pyproject.toml ]] && config=(-c pyproject.toml)
  bandit -r -f json -q "${config[@]}" -- "${targets[@]}" >"$out/bandit.json" || rc=$?
  ((rc == 0 || rc == 1)) || fail "bandit exited $rc"
}

# by_hand_detect-secrets OUT: detect-secrets over git's tracked and unignored files, less the gate's exclusions.
by_hand_detect-secrets() {
  local out=$1 file
  local -a files=() listed
  mapfile -d '' listed < <(git ls-files -z --cached --others --exclude-standard --deduplicate)
  for file in "${listed[@]}"; do
    case "${file##*/}" in .env.sample | uv.lock | .secrets.baseline) continue ;; esac
    [[ -f "$file" && ! -L "$file" ]] && files+=("$file")
  done
  if [[ -e .secrets.baseline ]]; then
    cp .secrets.baseline "$out/detect-secrets.json"
    detect-secrets scan --no-verify --baseline "$out/detect-secrets.json" -- "${files[@]}" || fail "detect-secrets failed"
  else
    detect-secrets scan --no-verify -- "${files[@]}" >"$out/detect-secrets.json" || fail "detect-secrets failed"
  fi
}

main() {
  local project=${1:?usage: bench-by-hand.sh PROJECT OUT SCAN...} out=${2:?usage: bench-by-hand.sh PROJECT OUT SCAN...}
  local scan
  shift 2
  (($# > 0)) || fail "usage: bench-by-hand.sh PROJECT OUT SCAN..."
  for scan in "$@"; do
    declare -F "by_hand_$scan" >/dev/null || fail "no way to run the $scan scan by hand (by_hand_$scan)"
  done
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  cd "$project"
  for scan in "$@"; do
    "by_hand_$scan" "$out"
  done
}

main "$@"
