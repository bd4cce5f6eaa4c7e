# One finding per secret across the secret engines, for the gate's reports (Markdown summary, SARIF, annotations).
# In (jq -s): the gate's result objects, one per scan, in the gate's order; $engines: the names of the secret scans,
#     space-separated (the units whose run.sh says `# Kind: secrets`; scripts/run-gate.sh secret_scans).
# Out: the same results, one a line (feed them to the report programs with jq -s), in which a secret finding that an
#     earlier secret scan reports at the same place (path, line, and for the history the commit that introduced it)
#     in the same list (findings, below_threshold or suppressed) is left out, and the earlier scan's finding lists
#     both in .engines (and says so in its title); two findings of one scan at one place stay two. Every secret finding carries .engines. Each scan's own result,
#     counts and verdict are untouched (this is a view of them for the reports only).
include "lib";

def place:
  [.location.path, (.location.line // null),
   ((.location.detail // "") | tostring
    | (capture("introduced by (?<c>commit [0-9a-f]+|the staged change)") // {c: ""}).c)]
  | tojson;

def titled: if (.engines | length) > 1 then .title += " (seen by \(.engines | join(" and ")))" else . end;

($engines | split(" ") | map(select(. != ""))) as $secret
| (if type == "array" then . else error("dedupe.jq: the input is not the array of results") end)
| reduce range(0; length) as $i ({results: ., seen: {}};
    .results[$i] as $r
    | if ($r.scan | IN($secret[])) | not then .
      else reduce ("findings", "below_threshold", "suppressed") as $list (.;
        reduce (($r[$list] // [])[]) as $f (.;
          ($list + ":" + ($f | place)) as $key
          | if .seen[$key] != null and .seen[$key][0] != $i then
              .seen[$key] as $at
              | .results[$at[0]][$list][$at[1]].engines |= (. + [$f.scan] | unique)
            else
              .results[$i].kept[$list] += [$f + {engines: ($f.engines // [$f.scan])}]
              | .seen[$key] //= [$i, ((.results[$i].kept[$list] | length) - 1)]
            end)
        | .results[$i][$list] = (.results[$i].kept[$list] // []))
      end)
| .results
| map(del(.kept)
      | if (.scan | IN($secret[])) then .findings |= map(titled) | .below_threshold |= map(titled)
        | .suppressed |= map(titled) else . end)
| .[]
