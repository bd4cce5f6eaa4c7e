# Applies one scan's policy and suppressions to its normalized findings: the one place a result is built (an
# "error" result too: write_error_result in scripts/lib/common.sh runs this with no findings).
# In (jq -n, all as arguments):
#   $findings[0]      array of Finding (anything else: an error) (see README "Result schema"); a Finding may already carry .suppression
#   $suppressions[0]  array of validated suppression entries (suppressions.jq), and for a secret scan its adopted
#                     secrets (adopted.jq: entries with a fingerprint, matched on the finding's .adoption)
#   $policy           {"fail_on": [severity...], "min_confidence": severity|null, "count_unfixed": bool}
#   $gaps             array of {id, message}: what the tool left out (scan_gap); each is an error unless an active
#                     suppression entry of this scan has its id (anything else in it: an error naming it)
#   $excluded         array of {item, rule}: what was deliberately not scanned (scan_excluded), listed as is (anything
#                     else in it: an error naming it)
#   $coverage[0]      {inventory, scanned} or null (scan_coverage)
#   $scan $target $today (YYYY-MM-DD) $finished_at $error ("" when the scan completed) $schema_version
#   $tool_name $tool_uri  the scan's tool and where its documentation is (the "# Tool:" line of scans/SCAN/run.sh)
#   $tool_version     the version of the tool that answered ("" when unknown, or when it did not run)
#   $extra[0] (optional, --slurpfile: never an argument, it may be long) an object of fields the scan adds to its
#                     result (SCAN_RESULT_EXTRA: its cache statistics, the history it read): new keys only, never one of
#                     the result's own
#   $adopting (optional, --arg): "1" keeps each finding's .adoption (make secrets-baseline reads it); otherwise no
#                     finding in the result carries it
# Out: the scan's result object, with status "pass", "fail" or "error"; its shape is check_result's in lib.jq. Active
#      suppression entries that matched no finding of a completed run are listed in .unused_suppressions (information only).
include "lib";

def over_threshold:
  (.severity as $s | any($policy.fail_on[]; . == $s))
  and ($policy.min_confidence == null or .confidence == null
       or (.confidence | severity_rank) >= ($policy.min_confidence | severity_rank))
  and ($policy.count_unfixed != false or .fix != null);

# An adopted secret (an entry with a fingerprint) matches a finding with that fingerprint at that path, in that commit
# (a history entry), or of the tree (a tree entry, which also matches the history's finding of that secret at that
# path once the tree no longer holds it); any other entry matches by id or alias, and location when it has one.
def matches($f):
  if has("fingerprint") then
    ($f.adoption | type) == "object" and .fingerprint == $f.adoption.fingerprint and .path == $f.location.path
    and (.commit == null or .commit == $f.adoption.commit)
  else
    .id as $id
    | ($f.id == $id or any(($f.aliases // [])[]; . == $id))
    and ((has("location") | not)
         or .location == $f.location.path
         or .location == ($f.location | location_text))
  end;

def order: sort_by(.location.path, (.location.line // 0), .id);

# gap_error($open): the error text naming the gaps nobody accepted (at most 5, then how many more).
def gap_error($open):
  "not covered: " + ($open[:5] | map(.message) | join("; "))
  + (if ($open | length) > 5 then "; and \(($open | length) - 5) more (see coverage_gaps in the result)" else "" end)
  + " (fix it, or accept an item in the suppression file with scan \"\($scan)\", its id, a reason and an expiry)";

# What the scan recorded is checked here, once (scan_gaps_from and scan_excluded_from append lines unread):
(if ($findings | length) == 1 and ($findings[0] | type) == "array" then .
 else error("normalizing the tool's output did not give a list of findings") end)
| ($gaps | map(if type == "object" and (.id | type) == "string" and (.message | type) == "string" then {id, message}
               else error("a coverage gap is not {id, message}: \(tojson | .[:200])") end)) as $gaps
| ($excluded | map(if type == "object" and (.item | type) == "string" and (.rule | type) == "string" then {item, rule}
                   else error("an exclusion is not {item, rule}: \(tojson | .[:200])") end)) as $excluded
| ($suppressions[0] | map(select(.scan == $scan))) as $mine
| ($mine | map(select(.expires >= $today))) as $active
| ($mine | map(select(.expires < $today))) as $expired
| ($findings[0] | map(
    . as $f
    | if .suppression != null then .
      else (first($active[] | select(matches($f))) // null) as $s
        | if $s == null then . else . + {suppression: {reason: $s.reason, expires: $s.expires}} end
      end)) as $all
| (if ($ARGS.named.adopting // "") == "1" then $all else $all | map(del(.adoption)) end) as $all
| ($all | map(select(.suppression != null)) | order) as $suppressed
| ($all | map(select(.suppression == null and over_threshold)) | order) as $failing
| ($all | map(select(.suppression == null and (over_threshold | not))) | order) as $info
| ($gaps | unique_by(.id) | map(
    . as $g
    | (first($active[] | select((has("fingerprint") | not) and .id == $g.id)) // null) as $s
    | if $s == null then . else . + {suppression: {reason: $s.reason, expires: $s.expires}} end)) as $gapped
| ($gapped | map(select(.suppression == null))) as $open
| ($gapped | map(select(.suppression != null))) as $accepted
| (if $error != "" then []
   else $active | map(. as $entry
                      | select((any($findings[0][]; . as $f | $entry | matches($f))
                              or ((has("fingerprint") | not) and any($gaps[]; .id == $entry.id))) | not))
   end) as $unused
| ([if $error != "" then $error else empty end, if ($open | length) > 0 then gap_error($open) else empty end]
   | join("; ")) as $problem
| {
    schema_version: $schema_version,
    scan: $scan,
    tool: {name: (if $tool_name != "" then $tool_name else $scan end),
           version: (if $tool_version != "" then $tool_version else null end),
           information_uri: (if $tool_uri != "" then $tool_uri else null end)},
    status: (if $problem != "" then "error"
             elif ($failing | length) > 0 or ($expired | length) > 0 then "fail"
             else "pass" end),
    error: (if $problem != "" then $problem else null end),
    target: $target,
    policy: $policy,
    findings: $failing,
    below_threshold: $info,
    suppressed: $suppressed,
    expired_suppressions: $expired,
    coverage_gaps: $open,
    accepted_gaps: $accepted,
    excluded: ($excluded | sort_by(.item)),
    coverage: $coverage[0],
    unused_suppressions: $unused,
    counts: {findings: ($failing | length), below_threshold: ($info | length), suppressed: ($suppressed | length),
             coverage_gaps: ($open | length), accepted_gaps: ($accepted | length), excluded: ($excluded | length)},
    finished_at: $finished_at
  }
| . as $result
| ($ARGS.named.extra // [{}]) as $extras
| ($extras | if type == "array" and length == 1 then .[0] else null end) as $extra
| if ($extra | type) == "object" and all($extra | keys[]; . as $key | $result | has($key) | not)
  then $result + $extra
  else error("a scan's extra result fields must be an object of new keys, not \($extras | tojson | .[:200])")
  end
