# GitHub Actions annotations of one gate run: run-gate.sh prints them when GITHUB_ACTIONS is "true", so that a
# finding shows on its file and line in the pull request, with or without code scanning.
# In: jq -s over the gate's result files (README "Result schema"); $gate. It prints at most
#   github_limits.error_annotations error annotations (jq/lib.jq: GitHub shows that many a step and drops the
#   rest without a word).
# Out: workflow commands, one a line (jq -r):
#   ::error title=<scan> could not be completed::<error>            each scan that could not be completed, then
#   ::error file=<path>,line=<line>,title=<scan> <id>::<message>    findings over the threshold, then expired
#   ::error title=<scan> expired suppression <id>::<message>        suppressions, up to $limit in all, then
#   ::notice title=<gate>::<how many were left out>                 when some were, and where they are all
#                                                                   listed: the artifact, and the step summary
#                                                                   unless it had to cut them (jq/markdown.jq).
# Every value is escaped as GitHub's workflow commands require (data: % CR LF; properties also : and ,), so a
# file name or message cannot end a property, the command, or the line. Findings hold no secret value (the
# normalize programs never put one in: a detect-secrets finding names the type, file and line only).
include "lib";
include "markdown";

def escape_data: tostring | gsub("%"; "%25") | gsub("\r"; "%0D") | gsub("\n"; "%0A");
def escape_property: escape_data | gsub(":"; "%3A") | gsub(","; "%2C");

# command(kind; properties; message): one workflow command; properties whose value is null are left out.
def command($kind; $properties; $message):
  ($properties | to_entries | map(select(.value != null) | "\(.key)=\(.value | escape_property)") | join(",")) as $p
  | "::\($kind)\(if $p == "" then "" else " " + $p end)::\($message | escape_data)";

def finding_message:
  "\(.severity): \(.title)"
  + (if .package != null then " [\(.package.name) \(.package.version)]" else "" end)
  + (if .fix != null then " (fix: \(.fix))" else "" end);

def finding_annotation:
  command("error"; {file: .location.path, line: .location.line, title: "\(.scan) \(.id)"}; finding_message);

def expired_annotation($scan):
  command("error"; {title: "\($scan) expired suppression \(.id)"};
          "expired \(.expires): \(.reason) (renew it with a new review, or fix the finding)");

if type != "array" or any(.[]; type != "object" or (.scan | type) != "string") then error("not a list of results")
else
  [.[] | select(.status == "error") | command("error"; {title: "\(.scan) could not be completed"}; .error // "no message")]
    as $errors
  | [.[] | (.findings[]? | finding_annotation), (.scan as $scan | .expired_suppressions[]? | expired_annotation($scan))]
    as $findings
  | github_limits.error_annotations as $limit
  | ([$limit - ($errors | length), 0] | max) as $room
  | $errors[],
    $findings[:$room][],
    (if ($findings | length) > $room
     then summary_listed($gate) as $summary
       | command("notice"; {title: "\($gate): \(($findings | length) - $room) more not annotated"};
                 "\(($findings | length) - $room) more finding(s) over the threshold are not annotated here (GitHub shows \($limit) error annotations a step): "
                 + if $summary.listed < $summary.total
                   then "the \($gate) artifact lists them all; the step summary, cut to GitHub's size limit, lists \($summary.listed) of \($summary.total)"
                   else "the step summary and the \($gate) artifact list them all" end)
     else empty end)
end
