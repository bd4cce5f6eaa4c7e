# Shared definitions of the gate's jq programs (jq 1.6 and 1.7). Use: jq -L jq 'include "lib"; ...'.

# The severities every finding is graded in, lowest first.
def severities: ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

# severity_rank: a severity name's place in severities (0 for UNKNOWN or anything unrecognised).
def severity_rank: {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}[.] // 0;

# is_severity: whether the input is one of severities.
def is_severity: . as $s | any(severities[]; . == $s);

# expect(cond; message): the input unchanged when cond holds, else an error carrying message.
def expect(cond; message): if cond then . else error(message) end;

# redact_quoted: a tool's message with its quoted literals replaced, so that no secret value is repeated. Greedy,
# from the first quote to the last: the value may itself hold quotes and line breaks.
# (Text without a quote, most of it, skips the two gsubs: jq's gsub is slow.)
def redact_quoted: if test("['\"]") then gsub("'[\\s\\S]*'"; "'<redacted>'") | gsub("\"[\\s\\S]*\""; "\"<redacted>\"") else . end;

# one_line: text with its control characters escaped (line breaks as \n), for one line of a terminal or CI log: a
# file name cannot start a line of its own there (a forged verdict, or a CI workflow command).
# (A string without a control character, nearly every one, skips the four gsubs: jq's gsub is slow.)
def one_line: tostring | if test("[[:cntrl:]]") then gsub("\n"; "\\n") | gsub("\r"; "\\r") | gsub("\t"; "\\t") | gsub("[[:cntrl:]]"; "?") else . end;

# location(path; line; detail): a finding's location.
def location(path; line; detail): {path: path, line: line, detail: detail};

# location_text: "path:line" (or "path") of a finding's location, for people.
def location_text: .path + (if .line == null then "" else ":\(.line)" end);

# until_text: how long a finding's suppression ({reason, expires}) holds, for people: "until 2026-12-31", or "no expiry
# date" for one without (an audited entry of .secrets.baseline holds while it stays there).
def until_text: if .expires == null then "no expiry date" else "until \(.expires)" end;

# ---- The result schema: jq/gate.jq builds every scan's result; check_result is what its readers rely on.
# {schema_version: 1, scan, tool?: {name, version, information_uri}, status: "pass"|"fail"|"error", error: text|null,
#  target, policy, findings, below_threshold, suppressed: [Finding], expired_suppressions: [suppression entry],
#  coverage_gaps, accepted_gaps: [{id, message, suppression?}], excluded: [{item, rule}],
#  coverage: {inventory, scanned}|null, unused_suppressions: [suppression entry],
#  counts: {findings, below_threshold, suppressed, ...}, finished_at}
# A Finding: {scan, id, severity (one of severities), confidence?, title, location: {path, line: int|null,
#  detail}, package: {name, version, type?}|null, fix: text|null, aliases?, url?, suppression?: {reason, expires}}.
# findings fail the scan; below_threshold are information; suppressed carry their suppression.

# is_text: a non-empty string.
def is_text: type == "string" and length > 0;

# check_finding($where): the Finding unchanged, or an error naming $where.
def check_finding($where):
  if type != "object" then error("\($where): a finding is \(type), not an object")
  elif (.id | is_text | not) then error("\($where): a finding has no id")
  elif (.severity | is_severity | not) then error("\($where): finding \(.id) has severity \(.severity | tojson)")
  elif (.location | type) != "object" then error("\($where): finding \(.id) has no location")
  elif (.location.path | is_text | not) then error("\($where): finding \(.id) has no location.path")
  elif (.location.line | . == null or (type == "number" and . == floor) | not)
  then error("\($where): finding \(.id) has line \(.location.line | tojson)")
  else . end;

def check_suppressed($where):
  check_finding($where)
  | if (.suppression | type) != "object" or (.suppression.reason | is_text | not)
    then error("\($where): suppressed finding \(.id) has no suppression.reason")
    else . end;

# check_result: the result unchanged, or an error saying what is missing.
def check_result:
  if type != "object" then error("a result is \(type), not an object")
  elif (.scan | is_text | not) then error("a result has no scan name")
  else
    .scan as $scan
    | if .schema_version != 1 then error("\($scan): schema_version is \(.schema_version | tojson), expected 1")
      elif (.status | IN("pass", "fail", "error") | not) then error("\($scan): status is \(.status | tojson)")
      elif has("tool") and (.tool | type != "object" or (.name | is_text | not))
      then error("\($scan): .tool is not {name, information_uri}")
      else
        reduce ("findings", "below_threshold", "suppressed") as $key (.;
          if (.[$key] | type) != "array" then error("\($scan): .\($key) is not an array") else . end)
        | if (.expired_suppressions // [] | type) != "array"
          then error("\($scan): .expired_suppressions is not an array") else . end
        | .findings |= map(check_finding("\($scan).findings"))
        | .below_threshold |= map(check_finding("\($scan).below_threshold"))
        | .suppressed |= map(check_suppressed("\($scan).suppressed"))
      end
  end;

# ---- GitHub's limits the reports keep to: the one place of each number (docs/workflow.md, "GitHub's limits").
# step_summary_bytes: GitHub keeps a step summary up to 1 MiB and drops a larger one whole (summary.jq keeps under
#   it and says what it cut); sarif_results_per_run: code scanning rejects a SARIF run with more results (sarif.jq
#   keeps the first that many of each scan and says so); error_annotations: GitHub shows this many error
#   annotations a step and drops the rest without a word (annotations.jq prints at most these).
def github_limits: {step_summary_bytes: 1048576, sarif_results_per_run: 25000, error_annotations: 10};

# sarif_results: how many SARIF results a scan's result gives (one a finding, below-threshold or suppressed one).
def sarif_results: (.findings | length) + (.below_threshold | length) + (.suppressed | length);

# sarif_cut: how many of a result's SARIF results its run leaves out (0 within the limit).
def sarif_cut: [sarif_results - github_limits.sarif_results_per_run, 0] | max;
