#!/usr/bin/env bash
# Summary: benchmark the code gate against pip-audit, bandit and detect-secrets run by hand, on Django's source.
# Usage: scripts/bench.sh [--repeats N] [--keep]      (make bench; BENCH_REPEATS=N also sets the repetitions)
#        BENCH_ONLY=change scripts/bench.sh           (make bench BENCH_ONLY=change: only the comparisons below)
#
# Times, alternating and repeated (median of BENCH_REPEATS): (a) the three tools by hand, one after
# the other, with the gate's settings; (b) the gate with an empty cache; (c) the gate again on the unchanged
# tree; (d) the gate after one file changed. The corpus is the Django source installed in .venv, copied into a
# temporary git repository; pip-audit asks a local OSV server in (a) and the gate alike. Prints wall time, CPU
# time, max RSS, the ratios to (a) against the targets, and whether every run found exactly what (a) found;
# then (a), (b), (c) on this repository, for the harness's own overhead. Takes about 2 minutes a repetition.
# Then, on five copies of Django's source in one repository, "cost follows the change" side by side: (i) the
# pre-commit detect-secrets hook with one staged file against detect-secrets-hook on it (cold cache, target 2x);
# (ii) the warm gate against the tools by hand (target 0.10, and 2.5 s); (iii) the detect-secrets scan with a
# 50-commit range against the tree scan alone, both warm (target 1.5x). The tools by hand and the cold gate run
# once each there (about 10 minutes each on 2 cores): BENCH_ONLY=change runs only these comparisons.
# BENCH_ONLY=history: only the full-history secret scan (also run once at the end of a full bench): kingfisher's own
# full-history scan against the gate's detect-secrets scan with SECRETS_SINCE=all, cold then warm, side by side, on a
# generated history of 6,000 commits or on a clone of BENCH_HISTORY_REPO (targets: cold at most 30x kingfisher and
# under 90 s, warm under 3 s, peak memory under 300 MB).
# BENCH_ONLY=recall: only the recall benchmark of the secret engines: detect-secrets alone, kingfisher alone and the
# gate, side by side, on a labelled corpus of real-format secrets built at run time and placeholders, and the clean
# files of the Django and pip packages of .venv: recall per class and in total, false positives per 1,000 clean
# files, placeholder hits, cold time; then the cold Django scan, gate against detect-secrets alone (target 1.15x).
# Exit: 0 measured (missed targets are printed, not failed), 1 a gate run's findings differ from (a)'s, 2 error.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   BENCH_REPEATS=5  repetitions of each measurement of make bench
#   BENCH_ONLY=  change: only the comparisons of cost following the change on five copies of Django (or some of hook,warm,range); history: only the full-history secret scan against kingfisher's; recall: only the secret engines' recall benchmark; empty: every measurement
#   BENCH_HISTORY_REPO=  the repository (a path or URL git can clone) BENCH_ONLY=history scans; empty: a generated history of 6,000 commits
set -euo pipefail

BENCH_REPEATS=${BENCH_REPEATS:-5}
BENCH_ONLY=${BENCH_ONLY:-}

main() {
  local root
  root=$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)
  [[ -x "$root/.venv/bin/python" ]] || {
    printf 'bench: no .venv: run make setup first\n' >&2
    exit 2
  }
  export PATH="$root/.venv/bin:$PATH"
  exec "$root/.venv/bin/python" "$root/scripts/lib/bench.py" --repeats "$BENCH_REPEATS" --only "$BENCH_ONLY" "$@"
}

main "$@"
