# pip-audit's JSON report (pip-audit -f json --desc on --aliases on, merged by merge.jq) to findings.
# In: {"dependencies": [{"name", "version", "vulns": [{"id", "fix_versions", "aliases", "description"}]}
#      or {"name", "skip_reason"}], "fixes": [...], "canary": ...} (the canary is not a finding);
#     $inventory[0]: inventory.py's inventory, whose packages name the file that pins each version;
#     $advisories: what the advisory mirror answered, [{"id", "aliases", "security_severity"}] ([] without one).
# Out: array of Finding, one per vulnerability (pip-audit grades no severity: each is UNKNOWN), with
#      security_severity (0-10, from the advisory's CVSS or grade) when the mirror answered one for it.
include "lib";

# score($ids): the highest security_severity the mirror answered for an advisory named by any of $ids, or null.
def score($ids): [$advisories[] | select(any(([.id] + .aliases)[]; . as $a | $ids | index([$a]))) | .security_severity | numbers] | max;

($inventory[0].packages | map({key: "\(.name)==\(.version)", value: .file}) | from_entries) as $files
| expect(type == "object" and (.dependencies | type) == "array"; "pip-audit's report lacks its dependencies")
| [.dependencies[]
   | expect(type == "object" and (.name | type) == "string"; "a pip-audit dependency has no name")
   | select(has("skip_reason") | not)
   | expect((.version | type) == "string" and (.vulns | type) == "array"; "pip-audit dependency \(.name) has no version or vulns")
   | . as $dep
   | .vulns[]
   | expect((.id | type) == "string" and (.fix_versions | type) == "array"; "a vulnerability of \($dep.name) has no id or fix_versions")
   | {
       scan: "pip-audit",
       id: .id,
       aliases: (.aliases // [] | sort),
       severity: "UNKNOWN",
       title: ((.description // "" | split("\n") | map(select(test("\\S"))) | first // "") as $d
               | if $d == "" then "known vulnerability in \($dep.name) \($dep.version)" else $d[:200] end),
       location: ("\($dep.name)==\($dep.version)" as $pin | location($files[$pin] // $inventory[0].source; null; $pin)),
       package: {name: $dep.name, version: $dep.version},
       fix: (if (.fix_versions | length) > 0 then .fix_versions | join(", ") else null end)
     }
     + (score([.id] + (.aliases // [])) as $score | if $score == null then {} else {security_severity: $score} end)]
