# The Markdown summary of a gate run (written to reports/security/<gate>.md and the GitHub step summary), within
# GitHub's step summary limit: every verdict, then the findings worst first until the room runs out, each list cut
# short saying how many more the artifact holds (the layout and the cut: jq/markdown.jq).
# In: an array of result objects (jq -s over the result files); $gate: the gate's name (e.g. "security-code").
# Out: Markdown text (jq -r), at most github_limits.step_summary_bytes bytes (jq/lib.jq).
include "markdown";

summary_lines($gate)
