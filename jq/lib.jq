# Shared definitions of the gate's jq programs (jq 1.6 and 1.7). Use: jq -L jq 'include "lib"; ...'.

# The severities every finding is graded in, lowest first.
def severities: ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"];

# severity_rank: a severity name's place in severities (0 for UNKNOWN or anything unrecognised).
def severity_rank: {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}[.] // 0;

# expect(cond; message): the input unchanged when cond holds, else an error carrying message.
def expect(cond; message): if cond then . else error(message) end;

# redact_quoted: a tool's message with its quoted literals replaced, so that no secret value is repeated. Greedy,
# from the first quote to the last: the value may itself hold quotes and line breaks.
def redact_quoted: gsub("'[\\s\\S]*'"; "'<redacted>'") | gsub("\"[\\s\\S]*\""; "\"<redacted>\"");

# one_line: text with its control characters escaped (line breaks as \n), for one line of a terminal or CI log: a
# file name cannot start a line of its own there (a forged verdict, or a CI workflow command).
def one_line: tostring | gsub("\n"; "\\n") | gsub("\r"; "\\r") | gsub("\t"; "\\t") | gsub("[[:cntrl:]]"; "?");

# location(path; line; detail): a finding's location.
def location(path; line; detail): {path: path, line: line, detail: detail};

# location_text: "path:line" (or "path") of a finding's location, for people.
def location_text: .path + (if .line == null then "" else ":\(.line)" end);

# until_text: how long a finding's suppression ({reason, expires}) holds, for people: "until 2026-12-31", or "no expiry
# date" for one without (an audited entry of .secrets.baseline holds while it stays there).
def until_text: if .expires == null then "no expiry date" else "until \(.expires)" end;
