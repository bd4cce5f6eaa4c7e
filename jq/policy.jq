# A scan's gate policy: the one way every scan builds it (scan_policy in scripts/lib/common.sh).
# In (jq -n, all strings):
#   $fail_on         the severities that fail, any case: a list "CRITICAL,HIGH", or "LEVEL+" for LEVEL and every
#                    worse severity ("UNKNOWN+": every finding fails)
#   $min_confidence  "" (any confidence fails), or the least confidence (a severity name) a failing finding needs
#   $ignore_unfixed  "false", or "true": findings with no fix are listed below the threshold instead of failing
# Out: {"fail_on": [severity...], "min_confidence": severity|null, "count_unfixed": bool}, read by gate.jq;
#      an error names the value that is wrong.
include "lib";

def words: ascii_upcase | split(",") | map(gsub("^\\s+|\\s+$"; "")) | map(select(. != ""));

def fail_on:
  if test("^\\s*[A-Za-z]+\\+\\s*$") then
    (gsub("[\\s+]"; "") | ascii_upcase) as $least
    | expect($least | IN(severities[]); "the failing severities '\(.)': \($least) is not a severity (known: \(severities))")
    | [severities[] | select(severity_rank >= ($least | severity_rank))]
  else
    words as $wanted
    | expect($wanted != []; "no failing severity given (expected e.g. CRITICAL,HIGH)")
    | ($wanted - severities) as $unknown
    | expect($unknown == []; "unknown severities \($unknown) in '\(.)' (known: \(severities))")
    | $wanted
  end;

def min_confidence:
  if . == "" then null
  else ascii_upcase as $c | expect($c | IN(severities[]); "the minimum confidence '\(.)' is not a severity (known: \(severities))") | $c
  end;

{
  fail_on: ($fail_on | fail_on),
  min_confidence: ($min_confidence | min_confidence),
  count_unfixed: ($ignore_unfixed | expect(IN("true", "false"); "ignore unfixed must be true or false, not '\(.)'") | . == "false")
}
