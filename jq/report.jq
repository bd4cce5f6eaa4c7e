# One scan's result as text for a terminal: the verdict line, then the findings, expired suppressions,
# suppressed findings and (at most 20 of) the findings below the threshold.
# In: a result object (README "Result schema"). Out: lines of text (jq -r).
include "lib";

def line: "  \(.severity)\t\(.id)\((.aliases // []) | if length > 0 then " (\(join(", ")))" else "" end)\t\(.location | location_text)\t\(.title)"
  + (if .package != null then "\t[\(.package.name) \(.package.version)]" else "" end)
  + (if .fix != null then "\tfix: \(.fix)" else "" end);

def capped($n): (.[:$n][] | line), (if length > $n then "  ... and \(length - $n) more in the result file" else empty end);

"\(.scan): \(.status | ascii_upcase)"
  + (if .status == "error" then " - \(.error)"
     else " - \(.counts.findings) finding(s) over the threshold, \(.counts.below_threshold) below, \(.counts.suppressed) suppressed"
     end),
(.findings[] | line),
(.expired_suppressions[] | "  EXPIRED suppression\t\(.id)\texpired \(.expires)\t\(.reason) (renew it with a new review, or fix the finding)"),
(if (.suppressed | length) > 0 then "  suppressed:", (.suppressed[] | line + "\t(\(.suppression.reason); until \(.suppression.expires // "baseline"))") else empty end),
(if (.below_threshold | length) > 0 then "  below the threshold (information):", (.below_threshold | capped(20)) else empty end)
