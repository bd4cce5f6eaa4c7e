# pip-audit's JSON reports (one per audit file) as one report, the canary set apart.
# In: the reports as inputs (jq -n), each {"dependencies": [{"name", "version", "vulns"} or {"name", "skip_reason"}],
#     "fixes": [...]}; $inventory[0]: inventory.py's inventory (its "canary": {name, version, in_inventory}).
# Out: {"dependencies": [...], "fixes": [...], "canary": the canary's entry or null}; the canary's entry stays
#      among the dependencies only when the project itself pins it.
include "lib";

$inventory[0].canary as $canary
| [inputs
   | expect(type == "object" and (.dependencies | type) == "array"; "pip-audit's report lacks its dependencies")]
| [.[].dependencies[]
   | expect(type == "object" and (.name | type) == "string"; "a pip-audit dependency has no name")] as $deps
| ($inventory[0].packages | map(.name) | index($canary.name) != null) as $pinned_name
# A skipped entry has no version: one with the canary's name is the canary's unless the project pins that name.
| def is_canary: .name == $canary.name and (.version == $canary.version or (has("skip_reason") and ($pinned_name | not)));
{
  dependencies: (if $canary.in_inventory then $deps else $deps | map(select(is_canary | not)) end),
  fixes: [.[].fixes // [] | .[]],
  canary: (first($deps[] | select(is_canary)) // null)
}
