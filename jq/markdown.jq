# The layout of a gate run's Markdown summary, cut to fit GitHub's step summary: summary.jq prints it, and
# annotations.jq reads from it whether the summary lists every finding. Use: jq -L jq 'include "markdown"; ...'.
#
# In (each def): an array of result objects (jq -s over the result files; README "Result schema"); $gate: the
# gate's name. summary_lines($gate): the summary, one line a string (jq -r prints each with its line break).
# summary_listed($gate): {listed, total}: how many findings over the threshold and expired suppressions (what
# annotations.jq annotates) the summary lists, of how many.
#
# What is kept: every scan's verdict row and section heading, its error, coverage, snapshot and SARIF notes; then
# the entries of the lists (findings over the threshold first, worst severity first across scans; then coverage
# gaps, expired suppressions, accepted gaps, suppressed, unused suppressions, exclusions, below-threshold findings)
# while the whole stays within github_limits.step_summary_bytes, counting every byte jq prints. A list cut short
# ends with one line saying how many more the artifact's result file holds, and a line under the verdicts says
# what was cut. A SARIF run cut to github_limits.sarif_results_per_run (sarif.jq) is said under the verdicts too.
include "lib";

# cell: text for a table cell or list item: control characters escaped as in the terminal (one_line: a file
# name's ESC byte or line break reaches no one's screen raw), pipes escaped.
def cell: one_line | if test("[|]") then gsub("[|]"; "\\|") else . end;
def verdict: {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠️ error"}[.] // "⚠️ \(.)";
def row: "| \(.severity) | `\(.id | cell)` | `\(.location | location_text | cell)` | \(.title | cell) | \(.package // {} | if .name then "\(.name) \(.version)" else "" end | cell) | \(.fix // "" | cell) |";
def table_head: "| Severity | Id | Location | Title | Package | Fix |", "|---|---|---|---|---|---|";

def overall: if any(.[]; .status == "error") then "error" elif any(.[]; .status == "fail") then "fail" else "pass" end;

# bytes: what an array of lines takes once printed (each with its line break).
def bytes: map(utf8bytelength + 1) | add // 0;

# by_severity: findings, worst first, in their order otherwise.
def by_severity: to_entries | sort_by(-(.value.severity | severity_rank), .key) | map(.value);

# block(...): a piece of the summary: head lines, the list's entries (each one line; rank: its severity's, to
# keep the worst first), tail lines. $priority orders the lists when the room runs out (lower first).
def block($scan; $priority; $head; $items; $ranks; $tail):
  {scan: $scan, priority: $priority, head: $head, items: $items, ranks: $ranks, tail: $tail};
def fixed($lines): block(null; 0; $lines; []; []; []);
def list_block($scan; $priority; $head; $items; $tail): block($scan; $priority; $head; $items; $items | map(0); $tail);
def findings_block($scan; $priority; $head; $findings; $tail):
  ($findings | by_severity) as $sorted
  | block($scan; $priority; $head; $sorted | map(row); $sorted | map(.severity | severity_rank); $tail);

# more_lines($gate; $scan; $n): the lines that end a list cut $n entries short.
def more_lines($gate; $scan; $n):
  "", "*… and \($n) more not listed here (GitHub keeps at most \(github_limits.step_summary_bytes) bytes of a step summary): `\($scan).json` in the \($gate) artifact lists them all.*";

# cut_lines($gate; $listed; $total): the note under the verdicts when lists were cut.
def cut_lines($gate; $listed; $total):
  "", "**Cut to fit GitHub's step summary:** \($listed) of \($total) entries are listed below; each scan's result file in the `\($gate)` artifact lists them all.";

def sarif_lines($gate):
  .[] | select(sarif_cut > 0)
  | "", "**Cut in SARIF:** \(.scan) has \(sarif_results) results and code scanning accepts \(github_limits.sarif_results_per_run) a run: `\($gate).sarif` holds the first \(github_limits.sarif_results_per_run) (findings over the threshold first, worst first) and leaves out \(sarif_cut); `\(.scan).json` in the artifact lists them all.";

# section: a scan's blocks (none for a scan that passed with nothing to show).
def section:
  select(.status != "pass" or .counts.below_threshold > 0 or .counts.suppressed > 0
         or (.counts.accepted_gaps // 0) > 0 or (.counts.excluded // 0) > 0
         or (.unused_suppressions // [] | length) > 0)
  | .scan as $scan
  | fixed(["", "### \($scan): \(.status | verdict)"]),
    (if .error != null then fixed(["", "**Could not complete:** \(.error | cell)"]) else empty end),
    (if .coverage != null then fixed(["", "Coverage: \(.coverage.scanned) of \(.coverage.inventory) scanned."]) else empty end),
    (if (.findings | length) > 0
     then findings_block($scan; 1; ["", "Findings over the threshold:", "", table_head]; .findings; []) else empty end),
    (if ((.coverage_gaps // []) | length) > 0
     then list_block($scan; 2; ["", "Not covered (each makes the scan an error):", ""];
                     .coverage_gaps | map("- `\(.id | cell)`: \(.message | cell)"); []) else empty end),
    (if ((.accepted_gaps // []) | length) > 0
     then list_block($scan; 4; ["", "Not covered, accepted in the suppression file:", ""];
                     .accepted_gaps | map("- `\(.id | cell)`: \(.message | cell) (\(.suppression.reason | cell); until \(.suppression.expires | cell))");
                     []) else empty end),
    (if ((.excluded // []) | length) > 0
     then list_block($scan; 7; ["", "<details><summary>Excluded by rule: \(.excluded | length)</summary>", ""];
                     .excluded | map("- `\(.item | cell)`: \(.rule | cell)"); ["", "</details>"]) else empty end),
    (if (.expired_suppressions | length) > 0
     then list_block($scan; 3; ["", "Expired suppressions (each fails the scan):", ""];
                     .expired_suppressions | map("- `\(.id | cell)` expired \(.expires | cell): \(.reason | cell)"); [])
     else empty end),
    (if (.suppressed | length) > 0
     then list_block($scan; 5; ["", "Suppressed:", ""];
                     .suppressed | map("- `\(.id | cell)` at `\(.location | location_text | cell)`: \(.suppression.reason | cell) (\(.suppression | until_text | cell))");
                     []) else empty end),
    (if (.unused_suppressions // [] | length) > 0
     then list_block($scan; 6; ["", "Suppressions that matched nothing in this run (remove them once they are no longer needed):", ""];
                     .unused_suppressions | map("- `\(.id | cell)`\(if .location then " at `\(.location | cell)`" else "" end) (until \(.expires | cell)): \(.reason | cell)");
                     []) else empty end),
    (if (.below_threshold | length) > 0
     then findings_block($scan; 8; ["", "<details><summary>Below the threshold (information): \(.below_threshold | length)</summary>", "", table_head];
                         .below_threshold; ["", "</details>"]) else empty end);

# summary_plan($gate): {head: the lines above the sections, notes: the SARIF notes, blocks, keep: {block index:
# how many of its entries are listed}, total: entries in all, listed}.
def summary_plan($gate):
  . as $results
  | [ "## Security gate `\($gate)`: \(overall | verdict)",
      "",
      "| Scan | Verdict | Over threshold | Below threshold | Suppressed | Not covered (accepted) | Excluded |",
      "|---|---|---|---|---|---|---|",
      (.[] | "| \(.scan) | \(.status | verdict) | \(.counts.findings) | \(.counts.below_threshold) | \(.counts.suppressed) | \(.counts.coverage_gaps // 0) (\(.counts.accepted_gaps // 0)) | \(.counts.excluded // 0) |"),
      (.[] | select(.advisory_snapshot != null)
       | "", "\(.scan) audited against the advisory snapshot `\(.advisory_snapshot | .commit // .source | cell)` of \(.advisory_snapshot.date | cell) (\(.advisory_snapshot.age_days) days old; at most \(.advisory_snapshot.max_age_days) allowed).") ]
    as $head
  | [sarif_lines($gate)] as $notes
  | [.[] | section] as $blocks
  | ($blocks | map(.items | length) | add // 0) as $total
  | (github_limits.step_summary_bytes
     - ($head | bytes) - ($notes | bytes) - ([cut_lines($gate; $total; $total)] | bytes)
     - ($blocks | map((.head | bytes) + (.tail | bytes)
                      + (if (.items | length) > 0 then [more_lines($gate; .scan; .items | length)] | bytes else 0 end))
                | add // 0))
    as $room
  | ([$blocks | to_entries[] | .key as $b | .value as $block
      | $block.items | to_entries[]
      | {b: $b, p: $block.priority, r: $block.ranks[.key], i: .key, n: (.value | utf8bytelength + 1)}]
     | sort_by(.p, -.r, .b, .i)
     | reduce .[] as $entry ({used: 0, open: true, keep: {}};
         if .open and .used + $entry.n <= $room
         then .used += $entry.n | .keep["\($entry.b)"] += 1
         else .open = false end)
     | .keep) as $keep
  | {head: $head, notes: $notes, blocks: $blocks, keep: $keep, total: $total,
     listed: ([$keep[]] | add // 0)};

def summary_lines($gate):
  summary_plan($gate) as $plan
  | $plan.head[],
    $plan.notes[],
    (if $plan.listed < $plan.total then cut_lines($gate; $plan.listed; $plan.total) else empty end),
    ($plan.blocks | to_entries[] | .value as $block | ($plan.keep["\(.key)"] // 0) as $n
     | $block.head[],
       $block.items[:$n][],
       (if $n < ($block.items | length) then more_lines($gate; $block.scan; ($block.items | length) - $n) else empty end),
       $block.tail[]);

def summary_listed($gate):
  summary_plan($gate) as $plan
  | [$plan.blocks | to_entries[] | select(.value.priority == 1 or .value.priority == 3)
     | {listed: ($plan.keep["\(.key)"] // 0), total: (.value.items | length)}]
  | {listed: (map(.listed) | add // 0), total: (map(.total) | add // 0)};
