# Turns the gate's result files into one SARIF 2.1.0 log for GitHub code scanning (jq 1.6 and 1.7).
#
# In:  an array of result objects (README "Result schema"), one per scan, as `jq -s` makes it:
#        jq -s -f jq/sarif.jq reports/security/pip-audit.json reports/security/bandit.json ... > out.sarif
#      Each needs schema_version 1, a scan name (unique in the array), a status ("pass", "fail" or
#      "error") and the arrays findings, below_threshold and suppressed; error, target and
#      expired_suppressions are read when present.
# Out: {"$schema", "version": "2.1.0", "runs": [...]}, one run per result in input order:
#      - tool.driver.name is the scan; tool.driver.rules holds each finding id once (sorted), with the
#        finding's title as shortDescription and GitHub's "security-severity" from the worst severity;
#      - results: findings (they fail the scan) at level "error"; below_threshold at "warning" for
#        CRITICAL, HIGH and MEDIUM, "note" for LOW and UNKNOWN; suppressed at the level their severity
#        gives (CRITICAL/HIGH "error", MEDIUM "warning", else "note") with a suppressions entry
#        {kind "external", status "accepted", justification = the reason};
#      - each result's location is location.path relative to "%SRCROOT%" (percent-encoded per path
#        segment), with region.startLine only when location.line is a positive integer; its
#        partialFingerprints["securityGateFinding/v1"] is scan|id|path|line|package|detail, the same
#        for the same finding on every run;
#      - invocations[0].executionSuccessful is false for status "error", with the result's error as a
#        toolExecutionNotification; expired suppressions become toolConfigurationNotifications.
# Errors: error() naming the scan and the field when the input is not of that shape.

def sarif_schema_uri:
  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

def fail($message): error("sarif.jq: " + $message);

# severity_rank: a severity's place, worst last (-1 for anything that is not a severity).
def severity_rank: {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}[.] // -1;

# The numbers GitHub reads from a rule's "security-severity" (critical >= 9.0, high >= 7.0,
# medium >= 4.0, low > 0); UNKNOWN has none.
def security_severity: {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "3.0"}[.];

def information_uri:
  {
    "pip-audit": "https://github.com/pypa/pip-audit",
    "bandit": "https://github.com/PyCQA/bandit",
    "detect-secrets": "https://github.com/Yelp/detect-secrets",
    "trivy": "https://github.com/aquasecurity/trivy"
  }[.];

def is_text: type == "string" and length > 0;

# check_finding($where): the Finding unchanged, or an error naming $where.
def check_finding($where):
  if type != "object" then fail("\($where): a finding is \(type), not an object")
  elif (.id | is_text | not) then fail("\($where): a finding has no id")
  elif (.severity | severity_rank) < 0 then fail("\($where): finding \(.id) has severity \(.severity | tojson)")
  elif (.location | type) != "object" then fail("\($where): finding \(.id) has no location")
  elif (.location.path | is_text | not) then fail("\($where): finding \(.id) has no location.path")
  elif (.location.line | . == null or (type == "number" and . == floor) | not)
  then fail("\($where): finding \(.id) has line \(.location.line | tojson)")
  else . end;

def check_suppressed($where):
  check_finding($where)
  | if (.suppression | type) != "object" or (.suppression.reason | is_text | not)
    then fail("\($where): suppressed finding \(.id) has no suppression.reason")
    else . end;

# check_result: the result unchanged, or an error saying what is missing.
def check_result:
  if type != "object" then fail("a result is \(type), not an object")
  elif (.scan | is_text | not) then fail("a result has no scan name")
  else
    .scan as $scan
    | if .schema_version != 1 then fail("\($scan): schema_version is \(.schema_version | tojson), expected 1")
      elif (.status | IN("pass", "fail", "error") | not) then fail("\($scan): status is \(.status | tojson)")
      else
        reduce ("findings", "below_threshold", "suppressed") as $key (.;
          if (.[$key] | type) != "array" then fail("\($scan): .\($key) is not an array") else . end)
        | if (.expired_suppressions // [] | type) != "array"
          then fail("\($scan): .expired_suppressions is not an array") else . end
        | .findings |= map(check_finding("\($scan).findings"))
        | .below_threshold |= map(check_finding("\($scan).below_threshold"))
        | .suppressed |= map(check_suppressed("\($scan).suppressed"))
      end
  end;

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
  ] | join("; ");

def fingerprint($scan):
  [$scan, .id, .location.path, (.location.line // ""), (.package.name? // ""), (.location.detail // "")]
  | map(tostring) | join("|");

def level_by_severity:
  if (.severity | severity_rank) >= 3 then "error"
  elif .severity == "MEDIUM" then "warning"
  else "note" end;

def below_threshold_level:
  if (.severity | severity_rank) >= 2 then "warning" else "note" end;

# sarif_result($scan; $status; $level; $rule_index): one SARIF result for a Finding.
def sarif_result($scan; $status; $level; $rule_index):
  {
    ruleId: .id,
    ruleIndex: $rule_index[.id],
    level: $level,
    message: {text: message_text},
    locations: [physical_location],
    partialFingerprints: {"securityGateFinding/v1": fingerprint($scan)},
    properties: (
      {severity: .severity, gate: $status}
      + (if (.package | type) == "object" then {package: .package} else {} end)
      + (if .fix != null then {fix: .fix} else {} end)
      + (if .location.detail != null then {detail: .location.detail} else {} end))
  }
  + if $status == "suppressed" then
      {suppressions: [
        {kind: "external", status: "accepted", justification: .suppression.reason}
        + (if .suppression.expires != null then {properties: {expires: .suppression.expires}} else {} end)
      ]}
    else {} end;

def rules:
  [.findings[], .below_threshold[], .suppressed[]]
  | group_by(.id)
  | map(
      .[0].id as $id
      | (max_by(.severity | severity_rank) | .severity) as $worst
      | {
          id: $id,
          shortDescription: {text: ((map(.title | select(is_text)) | first) // $id)},
          properties: (
            {tags: ["security"]}
            + (if ($worst | security_severity) != null then {"security-severity": ($worst | security_severity)} else {} end))
        });

def expired_notification:
  {
    level: "error",
    descriptor: {id: "expired-suppression"},
    message: {text: (
      "suppression of \(.id // "?")"
      + (if .location != null then " at \(.location)" else "" end)
      + " expired on \(.expires // "?"): \(.reason // "no reason given")")}
  };

def run:
  .scan as $scan
  | rules as $rules
  | ($rules | to_entries | map({key: .value.id, value: .key}) | from_entries) as $rule_index
  | {
      tool: {driver: ({name: $scan, rules: $rules}
                      + (if ($scan | information_uri) != null then {informationUri: ($scan | information_uri)} else {} end))},
      invocations: [
        {executionSuccessful: (.status != "error")}
        + (if .status == "error" then
             {toolExecutionNotifications: [
               {level: "error", message: {text: (if (.error | is_text) then .error else "\($scan) could not complete" end)}}]}
           else {} end)
        + (if (.expired_suppressions // []) | length > 0 then
             {toolConfigurationNotifications: (.expired_suppressions | map(expired_notification))}
           else {} end)
      ],
      results: (
        [.findings[] | sarif_result($scan; "finding"; "error"; $rule_index)]
        + [.below_threshold[] | sarif_result($scan; "below_threshold"; below_threshold_level; $rule_index)]
        + [.suppressed[] | sarif_result($scan; "suppressed"; level_by_severity; $rule_index)]),
      properties: ({status: .status} + (if .target != null then {target: .target} else {} end))
    };

if type != "array" then fail("expected an array of result objects (run jq with -s)") else . end
| map(check_result)
| (map(.scan) | group_by(.) | map(select(length > 1) | .[0])) as $repeated
| if $repeated != [] then fail("scan(s) appear more than once: \($repeated | join(", "))") else . end
| {"$schema": sarif_schema_uri, version: "2.1.0", runs: map(run)}
