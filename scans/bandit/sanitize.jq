# bandit's JSON report without what could repeat a secret, kept as the scan's raw output.
# In: bandit's report object. Out: the same report without the source snippets (.code) and with quoted
# literals in each issue_text redacted.
include "lib";

.results |= map(del(.code) | .issue_text |= (. // "" | redact_quoted))
