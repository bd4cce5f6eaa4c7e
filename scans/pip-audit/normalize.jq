# pip-audit's JSON report (pip-audit -f json --desc on --aliases on) to findings.
# In: {"dependencies": [{"name", "version", "vulns": [{"id", "fix_versions", "aliases", "description"}]}
#      or {"name", "skip_reason"}], "fixes": [...]}; $lockfile: the file the dependencies came from.
# Out: array of Finding, one per vulnerability (pip-audit grades no severity: each is UNKNOWN).
include "lib";

expect(type == "object" and (.dependencies | type) == "array"; "pip-audit's report lacks its dependencies")
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
       location: location($lockfile; null; "\($dep.name)==\($dep.version)"),
       package: {name: $dep.name, version: $dep.version},
       fix: (if (.fix_versions | length) > 0 then .fix_versions | join(", ") else null end)
     }]
