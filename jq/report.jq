# One scan's result as text for a terminal: the verdict line, then the findings, expired suppressions,
# suppressed findings and (at most 20 of) the findings below the threshold.
# In: a result object (README "Result schema"). Out: lines of text (jq -r). Every field goes through one_line: a
# file name or message holding a line break cannot forge a line of its own.
include "lib";

def line: "  \(.severity | one_line)\t\(.id | one_line)\((.aliases // []) | if length > 0 then " (\(map(one_line) | join(", ")))" else "" end)\t\(.location | location_text | one_line)\t\(.title | one_line)"
  + (if .package != null then "\t[\(.package.name | one_line) \(.package.version | one_line)]" else "" end)
  + (if .fix != null then "\tfix: \(.fix | one_line)" else "" end);

def capped($n): (.[:$n][] | line), (if length > $n then "  ... and \(length - $n) more in the result file" else empty end);

"\(.scan): \(.status | ascii_upcase)"
  + (if .status == "error" then " - \(.error | one_line)"
     else " - \(.counts.findings) finding(s) over the threshold, \(.counts.below_threshold) below, \(.counts.suppressed) suppressed"
     end),
(if .coverage != null then "  coverage: \(.coverage.scanned) of \(.coverage.inventory) scanned" else empty end),
(.findings[] | line),
((.coverage_gaps // [])[] | "  NOT COVERED\t\(.id | one_line)\t\(.message | one_line)"),
(.expired_suppressions[] | "  EXPIRED suppression\t\(.id | one_line)\texpired \(.expires | one_line)\t\(.reason | one_line) (renew it with a new review, or fix the finding)"),
(if (.suppressed | length) > 0 then "  suppressed:", (.suppressed[] | line + "\t(\(.suppression.reason | one_line); \(.suppression | until_text | one_line))") else empty end),
(if ((.accepted_gaps // []) | length) > 0 then "  not covered, accepted in the suppression file:",
   (.accepted_gaps[] | "  \(.id | one_line)\t\(.message | one_line)\t(\(.suppression.reason | one_line); until \(.suppression.expires | one_line))")
 else empty end),
(if ((.excluded // []) | length) > 0 then "  excluded by rule (\(.excluded | length)):",
   (.excluded | .[:20][] | "  \(.item | one_line)\t(\(.rule | one_line))"),
   (if (.excluded | length) > 20 then "  ... and \((.excluded | length) - 20) more in the result file" else empty end)
 else empty end),
(.unused_suppressions // [] | .[] | "  unused suppression\t\(.id | one_line)\(if .location then "\t\(.location | one_line)" else "" end)\tmatched nothing in this run (until \(.expires | one_line)): remove it once it is no longer needed"),
(if (.below_threshold | length) > 0 then "  below the threshold (information):", (.below_threshold | capped(20)) else empty end)
