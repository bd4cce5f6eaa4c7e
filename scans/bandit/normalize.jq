# bandit's JSON report (bandit -f json) to findings.
# In: bandit's report object ({"results": [...], "errors": [...], "metrics": {...}}).
# Out: array of Finding; each issue_text has its quoted literals redacted (B105/B106 quote the password).
include "lib";

expect(type == "object" and (.results | type) == "array" and (.errors | type) == "array" and (.metrics | type) == "object";
       "bandit's report lacks its results, errors or metrics")
| .results
| map(
    expect((.test_id | type) == "string" and (.filename | type) == "string" and (.line_number | type) == "number"
           and (.issue_severity | type) == "string" and (.issue_confidence | type) == "string";
           "a bandit result lacks test_id, filename, line_number, issue_severity or issue_confidence")
    | {
        scan: "bandit",
        id: .test_id,
        severity: (.issue_severity | ascii_upcase),
        confidence: (.issue_confidence | ascii_upcase),
        title: "\(.test_name // .test_id): \(.issue_text // "" | redact_quoted)",
        location: location(.filename | ltrimstr("./"); .line_number; null),
        package: null,
        fix: null,
        url: .more_info
      })
