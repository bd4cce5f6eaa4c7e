# The verdict of one gate run: the one file a script or the workflow reads to tell pass, findings and error
# (SECURITY_REPORT_DIR/<gate>.verdict.json, README "The verdict").
# In: jq -s over the gate's result files (README "Result schema"), in the gate's order of scans;
#   $gate; $exit_code (run-gate.sh's exit status: 0, 1 or 2); $error (the gate's own problems, "" when none);
#   $summary, $sarif (file names beside the verdict, or null when not written); $finished_at; $schema_version.
# Out: {schema_version, gate, verdict: "pass"|"fail"|"error", exit_code, error, scans: [{scan, status, error,
#   counts, result}], counts (each count summed over the scans), reports: {summary, sarif}, finished_at}.
#   An exit status that the results do not bear out is a jq error: no verdict is better than a wrong one.

def verdict_of($code): {"0": "pass", "1": "fail"}[$code | tostring] // "error";

def expected:
  if any(.[]; .status != "pass" and .status != "fail") or $error != "" then "error"
  elif any(.[]; .status == "fail") then "fail"
  else "pass" end;

if type != "array" or length == 0 then error("no result to judge")
elif any(.[]; type != "object" or (.scan | type) != "string" or (.status | type) != "string"
              or (.counts | type) != "object")
then error("a result lacks scan, status or counts")
elif expected != verdict_of($exit_code) then error("the exit status \($exit_code) disagrees with the results (\(expected))")
else
  {
    schema_version: $schema_version,
    gate: $gate,
    verdict: verdict_of($exit_code),
    exit_code: $exit_code,
    error: (if $error == "" then null else $error end),
    scans: map({scan, status, error, counts, result: "\(.scan).json"}),
    counts: (reduce (.[].counts | to_entries[]) as $c ({}; .[$c.key] += $c.value)),
    reports: {summary: $summary, sarif: $sarif},
    finished_at: $finished_at
  }
end
