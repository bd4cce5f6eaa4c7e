#!/usr/bin/env bash
# Summary: the benchmark's reference: each named scan's tool run by hand, one after the other, with the settings
# the gate uses (the same lock export, flags, targets, config, file list and baseline).
# Usage: scripts/lib/bench-by-hand.sh PROJECT OUT SCAN...   (make bench passes the Makefile's CODE_SCANS that
#        have a function here: kingfisher's is measured by BENCH_ONLY=history and BENCH_ONLY=recall)
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

# by_hand_bandit OUT: bandit over BANDIT_TARGETS with pyproject.toml's [tool.bandit], its exclude_dirs applied
# by whole folder names as the gate applies them (bandit's own -c would also drop any path containing the name):
# the settings less exclude_dirs, and every folder so named under the targets excluded (-x). Bare folder names
# only, as this repository's pyproject.toml has them.
by_hand_bandit() {
  local out=$1 rc=0 name folder excluded=""
  local -a targets config=() names=()
  read -r -a targets <<<"$(setting BANDIT_TARGETS)"
  if [[ -f pyproject.toml ]]; then
    python3 -c 'import json, sys, tomllib
settings = tomllib.load(open("pyproject.toml", "rb")).get("tool", {}).get("bandit", {})
print("\n".join(settings.pop("exclude_dirs", [])), file=sys.stderr)
json.dump(settings, open(sys.argv[1], "w"))' "$out/bandit-config.yaml" 2>"$out/bandit-excluded" ||
      fail "could not read [tool.bandit]"
    config=(-c "$out/bandit-config.yaml")
    mapfile -t names <"$out/bandit-excluded"
  fi
  for name in "${names[@]}"; do
    while IFS= read -r -d '' folder; do
      excluded+="${excluded:+,}$folder"
    done < <(find "${targets[@]}" -type d -name "$name" -print0)
  done
  PYTHONUTF8=1 bandit -r -f json -q "${config[@]}" ${excluded:+-x "$excluded"} -- "${targets[@]}" >"$out/bandit.json" || rc=$?
  ((rc == 0 || rc == 1)) || fail "bandit exited $rc"
}

# by_hand_detect-secrets OUT: detect-secrets over git's tracked and unignored files, less the gate's exclusions
# (the root's .env.sample, uv.lock and .secrets.baseline; and symlinks, whose target text the gate reads from its
# work folder), in UTF-8 mode, with the filters that skip
# files by name disabled as the gate disables them (scans/detect-secrets/widen.py). detect-secrets' worker
# processes put back the one for non-text extensions (.css, .svg, ...): by hand those files are read only when
# they are the whole list, so on a tree with a secret in one of them the gate finds more than this reference.
by_hand_detect-secrets() {
  local out=$1 file
  local -a files=() listed widen
  mapfile -d '' listed < <(git ls-files -z --cached --others --exclude-standard --deduplicate)
  for file in "${listed[@]}"; do
    case "$file" in .env.sample | uv.lock | .secrets.baseline) continue ;; esac
    [[ -f "$file" && ! -L "$file" ]] && files+=("$file")
  done
  mapfile -t widen < <(python3 -S "$ROOT/scans/detect-secrets/widen.py")
  # The gate drops documented placeholders and lock-file digests (scripts/lib/placeholders.py): so does this.
  widen+=(--filter "file://$ROOT/scripts/lib/bench_filter.py::is_placeholder_or_digest")
  if [[ -e .secrets.baseline ]]; then
    cp .secrets.baseline "$out/detect-secrets.json"
    PYTHONUTF8=1 detect-secrets scan --no-verify --baseline "$out/detect-secrets.json" "${widen[@]}" -- "${files[@]}" ||
      fail "detect-secrets failed"
  else
    PYTHONUTF8=1 detect-secrets scan --no-verify "${widen[@]}" -- "${files[@]}" >"$out/detect-secrets.json" ||
      fail "detect-secrets failed"
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
