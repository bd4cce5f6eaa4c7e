# Turns the gate's result files into one SARIF 2.1.0 log for GitHub code scanning (jq 1.6 and 1.7).
#
# In:  an array of result objects (the shape check_result in lib.jq checks), one per scan, as `jq -s` makes it:
#        jq -s -L jq -f jq/sarif.jq reports/security/pip-audit.json reports/security/bandit.json ... > out.sarif
#      Each scan name appears once in the array.
# Out: {"$schema", "version": "2.1.0", "runs": [...]}, one run per result in input order:
#      - tool.driver.name is the scan, version and informationUri the result's tool.version and
#        tool.information_uri (when it has them); tool.driver.rules holds each finding id once (sorted), with the
#        finding's title as shortDescription and GitHub's "security-severity": the highest security_severity
#        (0-10, an advisory's own CVSS score or grade, pip-audit with the advisory mirror) of its findings,
#        else one from the worst severity;
#      - results: findings (they fail the scan) at level "error"; below_threshold at "warning" for
#        CRITICAL, HIGH and MEDIUM, "note" for LOW and UNKNOWN; suppressed at the level their severity
#        gives (CRITICAL/HIGH "error", MEDIUM "warning", else "note") with a suppressions entry
#        {kind "external", status "accepted", justification = the reason};
#      - each result's location is location.path relative to "%SRCROOT%" (percent-encoded per path
#        segment), with region.startLine only when location.line is a positive integer; its
#        partialFingerprints["securityGateFinding/v2"] is scan|id|path|package|n, n the finding's place among
#        those of the same scan, id, path and package in line order: the same for the same finding on every
#        run, whatever code moves above it (no line, and no hash of the matched text: see identity);
#      - every message text (results, rules, notifications, justifications) has its control characters escaped
#        as in the terminal (lib.jq one_line): a file name's ESC byte reaches no one's screen raw;
#      - invocations[0].executionSuccessful is false for status "error", with the result's error as a
#        toolExecutionNotification; expired suppressions become toolConfigurationNotifications;
#      - a run holds at most github_limits.sarif_results_per_run results (lib.jq: code scanning rejects a run with
#        more, and a run per part would be one analysis category per part, each part's alerts closing as the
#        parts shift): past it, the findings over the threshold first, then suppressed, then below the
#        threshold, worst severity first; the run then has a "results-cut" toolExecutionNotification (a warning)
#        saying how many were left out and properties.results_total / results_left_out.
# Errors: error() naming the scan and the field when the input is not of that shape.
include "lib";

def sarif_schema_uri:
  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

def fail($message): error("sarif.jq: " + $message);

# The numbers GitHub reads from a rule's "security-severity" (critical >= 9.0, high >= 7.0,
# medium >= 4.0, low > 0); UNKNOWN has none.
def security_severity: {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "3.0"}[.];

# artifact_location: a path as SARIF wants it: relative to %SRCROOT%, or a file: URI when absolute.
def artifact_location:
  (split("/") | map(@uri) | join("/")) as $encoded
  | if startswith("/") then {uri: ("file://" + $encoded)}
    else {uri: $encoded, uriBaseId: "%SRCROOT%"}
    end;

def physical_location:
  {physicalLocation: (
    {artifactLocation: (.location.path | artifact_location)}
    + (if (.location.line | type) == "number" and .location.line >= 1
       then {region: {startLine: .location.line}} else {} end))};

def package_text: [.name, .version] | map(select(. != null) | tostring) | join(" ");

def message_text:
  [ (if (.title | is_text) then .title else .id end),
    (if (.package | type) == "object" then "package: \(.package | package_text)" else empty end),
    (if .fix != null then "fix: \(.fix)" else empty end),
    (if (.location.detail | is_text) then "at: \(.location.detail)" else empty end)
  ] | join("; ") | one_line;

# identity($scan): what a finding is, apart from where in the file it sits: scan, rule, file, package name. No line
# (an alert must survive code moving above it) and no hash of the matched text (detect-secrets' hashed_secret is an
# unsalted SHA-1 of the secret; bandit's snippet may hold the password B105 found).
def identity($scan): [$scan, .id, .location.path, (.package.name? // "")] | map(tostring) | join("|");

# occurrences($scan): for a result, {"<list>/<index>": n}: the finding's place (0, 1, ...) among the findings of
# its identity, in line order. Two findings of one rule in one file stay apart; inserting lines moves neither.
def occurrences($scan):
  [("findings", "below_threshold", "suppressed") as $list
   | .[$list] | to_entries[]
   | {ref: "\($list)/\(.key)", identity: (.value | identity($scan)),
      line: (.value.location.line // 0), detail: (.value.location.detail // "" | tostring)}]
  | group_by(.identity)
  | map(sort_by(.line, .detail, .ref) | to_entries[] | {key: .value.ref, value: .key})
  | from_entries;

def fingerprint($scan; $occurrence): "\(identity($scan))|\($occurrence)";

def level_by_severity:
  if (.severity | severity_rank) >= 3 then "error"
  elif .severity == "MEDIUM" then "warning"
  else "note" end;

def below_threshold_level:
  if (.severity | severity_rank) >= 2 then "warning" else "note" end;

# sarif_result($scan; $status; $level; $rule_index; $occurrence): one SARIF result for a Finding.
def sarif_result($scan; $status; $level; $rule_index; $occurrence):
  {
    ruleId: .id,
    ruleIndex: $rule_index[.id],
    level: $level,
    message: {text: message_text},
    locations: [physical_location],
    partialFingerprints: {"securityGateFinding/v2": fingerprint($scan; $occurrence)},
    properties: (
      {severity: .severity, gate: $status}
      + (if (.package | type) == "object" then {package: .package} else {} end)
      + (if .fix != null then {fix: .fix} else {} end)
      + (if .location.detail != null then {detail: .location.detail} else {} end)
      + (if (.engines | type) == "array" then {engines: .engines} else {} end))
  }
  + if $status == "suppressed" then
      {suppressions: [
        {kind: "external", status: "accepted", justification: (.suppression.reason | one_line)}
        + (if .suppression.expires != null then {properties: {expires: .suppression.expires}} else {} end)
      ]}
    else {} end;

# rules: for the Findings a run holds, each rule once.
def rules:
  group_by(.id)
  | map(
      .[0].id as $id
      | (max_by(.severity | severity_rank) | .severity) as $worst
      | (map(.security_severity | numbers) | max) as $score
      | {
          id: $id,
          shortDescription: {text: ((map(.title | select(is_text)) | first) // $id | one_line)},
          properties: (
            {tags: ["security"]}
            + (if $score != null then {"security-severity": ($score * 10 | round / 10 | tostring)}
               elif ($worst | security_severity) != null then {"security-severity": ($worst | security_severity)}
               else {} end))
        });

def expired_notification:
  {
    level: "error",
    descriptor: {id: "expired-suppression"},
    message: {text: (
      "suppression of \(.id // "?")"
      + (if .location != null then " at \(.location)" else "" end)
      + " expired on \(.expires // "?"): \(.reason // "no reason given")" | one_line)}
  };

# entries: a result's Findings as the run holds them, {list, at ("<list>/<index>"), finding}: findings, then
# below_threshold, then suppressed; when they are more than github_limits.sarif_results_per_run, only that many,
# chosen findings over the threshold first, then suppressed, then below the threshold, worst severity first in
# each, in that order still (what code scanning rejects otherwise: a run over the limit).
def entries:
  [ ("findings", "below_threshold", "suppressed") as $list
    | .[$list] | to_entries[]
    | {list: $list, at: "\($list)/\(.key)", finding: .value} ]
  | if length <= github_limits.sarif_results_per_run then .
    else to_entries
      | sort_by({"findings": 0, "suppressed": 1, "below_threshold": 2}[.value.list], -(.value.finding.severity | severity_rank), .key)
      | .[:github_limits.sarif_results_per_run]
      | sort_by(.key) | map(.value)
    end;

def cut_notification($scan; $cut; $total):
  {level: "warning", descriptor: {id: "results-cut"},
   message: {text: "\($cut) of \($total) results are left out: code scanning accepts \(github_limits.sarif_results_per_run) a run, so this run holds the findings over the threshold first, worst first; the \($scan).json result file in the gate's artifact lists them all"}};

def run:
  .scan as $scan
  | entries as $entries
  | ($entries | map(.finding) | rules) as $rules
  | ($rules | to_entries | map({key: .value.id, value: .key}) | from_entries) as $rule_index
  | occurrences($scan) as $occurrences
  | sarif_cut as $cut
  | {
      tool: {driver: ({name: $scan, rules: $rules}
                      + (if (.tool.version? | is_text) then {version: .tool.version} else {} end)
                      + (if (.tool.information_uri? | is_text) then {informationUri: .tool.information_uri} else {} end))},
      invocations: [
        {executionSuccessful: (.status != "error")}
        + (if .status == "error" or $cut > 0 then
             {toolExecutionNotifications: [
               (if .status == "error" then
                  {level: "error", message: {text: (if (.error | is_text) then .error else "\($scan) could not complete" end | one_line)}}
                else empty end),
               (if $cut > 0 then cut_notification($scan; $cut; sarif_results) else empty end)]}
           else {} end)
        + (if (.expired_suppressions // []) | length > 0 then
             {toolConfigurationNotifications: (.expired_suppressions | map(expired_notification))}
           else {} end)
      ],
      results: [
        $entries[]
        | .at as $at
        | if .list == "findings" then .finding | sarif_result($scan; "finding"; "error"; $rule_index; $occurrences[$at])
          elif .list == "below_threshold" then .finding | sarif_result($scan; "below_threshold"; below_threshold_level; $rule_index; $occurrences[$at])
          else .finding | sarif_result($scan; "suppressed"; level_by_severity; $rule_index; $occurrences[$at]) end],
      properties: ({status: .status} + (if .target != null then {target: .target} else {} end)
                   + (if $cut > 0 then {results_total: sarif_results, results_left_out: $cut} else {} end))
    };

if type != "array" then fail("expected an array of result objects (run jq with -s)") else . end
| map(try check_result catch fail(.))
| (map(.scan) | group_by(.) | map(select(length > 1) | .[0])) as $repeated
| if $repeated != [] then fail("scan(s) appear more than once: \($repeated | join(", "))") else . end
| {"$schema": sarif_schema_uri, version: "2.1.0", runs: map(run)}
