#!/usr/bin/env bash
# Summary: print the Makefile's targets (from their `## ` comments) and the variables the gate's scripts read
# (from the "Variables" lines of each script's header), or one variable's default.
# Usage: scripts/help.sh                  (make help)
#        scripts/help.sh --default NAME   NAME's default, as the header of the script that reads it says
#
# A script (or the Makefile) names each variable it reads in its header comment, one a line, in this format:
#   #   NAME=DEFAULT  meaning
# three spaces after the #, DEFAULT exactly as the script's own default expansion of NAME has it (empty:
# unset), then two or more spaces and the meaning. That line is the variable's documentation; tests/test_help.py
# checks that every variable the scripts read has one, that its default is the script's (and written in no other
# script), and that the README's table lists it.
set -euo pipefail

ROOT=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)
readonly ROOT

# documented_files: the files whose headers document variables, the gate's own first, then each scan's.
documented_files() {
  local file
  for file in "$ROOT/Makefile" "$ROOT"/scripts/lib/*.sh "$ROOT"/scripts/*.sh "$ROOT"/scans/*/*.sh; do
    [[ -f "$file" ]] && printf '%s\n' "$file"
  done
}

readonly SEP=$'\x1f' # between the fields of variables' lines (not white space: an empty default stays a field)

# variables FILE: the documented variables of FILE's header (its first block of comment lines), one a line, as
# NAME SEP DEFAULT SEP MEANING.
variables() {
  awk '!/^#/ { exit } { print }' "$1" |
    sed -nE "s/^#   ([A-Z][A-Z0-9_]*)=(([^ ]| [^ ])*) {2,}([^ ].*)\$/\\1$SEP\\2$SEP\\4/p"
}

# targets: the Makefile's targets and their `## ` comments.
targets() {
  grep -hE '^[a-zA-Z_-]+:.*## ' "$ROOT/Makefile" | sed -E 's/^([a-zA-Z_-]+):.*## (.*)$/  \1\t\2/' | expand -t 24
}

# print_default NAME: NAME's default; exit 2 when no header documents NAME.
print_default() {
  local file name default meaning
  while IFS= read -r file; do
    while IFS=$SEP read -r name default meaning; do
      [[ "$name" == "$1" ]] && { printf '%s\n' "$default"; return 0; }
    done < <(variables "$file")
  done < <(documented_files)
  printf 'help.sh: no script header documents %s\n' "$1" >&2
  exit 2
}

main() {
  local file name default meaning listed
  if [[ "${1:-}" == --default ]]; then
    print_default "${2:?usage: help.sh --default NAME}"
    return 0
  fi
  printf 'Usage: make <target> [VARIABLE=value ...]\n\nTargets:\n'
  targets
  printf '\nScans of each gate (the Makefile'"'"'s lists; each is scans/NAME/run.sh):\n'
  sed -nE 's/^([A-Z]+_SCANS) *:?= *(.*)$/  \1\t\2/p' "$ROOT/Makefile" | expand -t 24
  printf '\nVariables (environment or make arguments), NAME=default (empty: unset), from each script'"'"'s header:\n'
  while IFS= read -r file; do
    listed=$(variables "$file")
    [[ -n "$listed" ]] || continue
    printf '  %s\n' "${file#"$ROOT"/}"
    while IFS=$SEP read -r name default meaning; do
      if ((${#name} + ${#default} < 40)); then
        printf '    %-40s %s\n' "$name=$default" "$meaning"
      else
        printf '    %s\n    %-40s %s\n' "$name=$default" "" "$meaning"
      fi
    done <<<"$listed"
  done < <(documented_files)
}

main "$@"
