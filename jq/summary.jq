# The Markdown summary of a gate run (written to reports/security/<gate>.md and the GitHub step summary).
# In: an array of result objects (jq -s over the result files); $gate: the gate's name (e.g. "security-code").
# Out: Markdown text (jq -r).
include "lib";

# cell: text for a table cell or list item: control characters escaped as in the terminal (one_line: a file
# name's ESC byte or line break reaches no one's screen raw), pipes escaped.
def cell: one_line | if test("[|]") then gsub("[|]"; "\\|") else . end;
def verdict: {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠️ error"}[.] // "⚠️ \(.)";
def row: "| \(.severity) | `\(.id | cell)` | `\(.location | location_text | cell)` | \(.title | cell) | \(.package // {} | if .name then "\(.name) \(.version)" else "" end | cell) | \(.fix // "" | cell) |";
def table($rows): "| Severity | Id | Location | Title | Package | Fix |", "|---|---|---|---|---|---|", ($rows[] | row);

def overall: if any(.[]; .status == "error") then "error" elif any(.[]; .status == "fail") then "fail" else "pass" end;

"## Security gate `\($gate)`: \(overall | verdict)",
"",
"| Scan | Verdict | Over threshold | Below threshold | Suppressed | Not covered (accepted) | Excluded |",
"|---|---|---|---|---|---|---|",
(.[] | "| \(.scan) | \(.status | verdict) | \(.counts.findings) | \(.counts.below_threshold) | \(.counts.suppressed) | \(.counts.coverage_gaps // 0) (\(.counts.accepted_gaps // 0)) | \(.counts.excluded // 0) |"),
(.[] | select(.advisory_snapshot != null)
 | "", "\(.scan) audited against the advisory snapshot `\(.advisory_snapshot | .commit // .source | cell)` of \(.advisory_snapshot.date | cell) (\(.advisory_snapshot.age_days) days old; at most \(.advisory_snapshot.max_age_days) allowed)."),
(.[] | select(.status != "pass" or .counts.below_threshold > 0 or .counts.suppressed > 0
              or (.counts.accepted_gaps // 0) > 0 or (.counts.excluded // 0) > 0
              or (.unused_suppressions // [] | length) > 0)
 | "",
   "### \(.scan): \(.status | verdict)",
   (if .error != null then "", "**Could not complete:** \(.error | cell)" else empty end),
   (if .coverage != null then "", "Coverage: \(.coverage.scanned) of \(.coverage.inventory) scanned." else empty end),
   (if (.findings | length) > 0 then "", "Findings over the threshold:", "", table(.findings) else empty end),
   (if ((.coverage_gaps // []) | length) > 0 then "", "Not covered (each makes the scan an error):", "",
      (.coverage_gaps[] | "- `\(.id | cell)`: \(.message | cell)") else empty end),
   (if ((.accepted_gaps // []) | length) > 0 then "", "Not covered, accepted in the suppression file:", "",
      (.accepted_gaps[] | "- `\(.id | cell)`: \(.message | cell) (\(.suppression.reason | cell); until \(.suppression.expires))") else empty end),
   (if ((.excluded // []) | length) > 0 then "", "<details><summary>Excluded by rule: \(.excluded | length)</summary>", "",
      (.excluded[] | "- `\(.item | cell)`: \(.rule | cell)"), "", "</details>" else empty end),
   (if (.expired_suppressions | length) > 0 then "", "Expired suppressions (each fails the scan):", "",
      (.expired_suppressions[] | "- `\(.id | cell)` expired \(.expires): \(.reason | cell)") else empty end),
   (if (.suppressed | length) > 0 then "", "Suppressed:", "",
      (.suppressed[] | "- `\(.id | cell)` at `\(.location | location_text | cell)`: \(.suppression.reason | cell) (\(.suppression | until_text | cell))") else empty end),
   (if (.unused_suppressions // [] | length) > 0 then "", "Suppressions that matched nothing in this run (remove them once they are no longer needed):", "",
      (.unused_suppressions[] | "- `\(.id | cell)`\(if .location then " at `\(.location | cell)`" else "" end) (until \(.expires)): \(.reason | cell)") else empty end),
   (if (.below_threshold | length) > 0 then "", "<details><summary>Below the threshold (information): \(.below_threshold | length)</summary>", "", table(.below_threshold), "", "</details>" else empty end))
