# What pip-audit left unaudited, compared with the inventory; one message per line, nothing when all was audited.
# In: the merged report (merge.jq); $inventory[0]: inventory.py's inventory.
# Out: strings (jq -r).
$inventory[0] as $inv
| ($inv.packages | map("\(.name)==\(.version)")) as $wanted
| [.dependencies[] | select(has("skip_reason"))] as $skipped
| [.dependencies[] | select(has("skip_reason") | not) | "\(.name)==\(.version)"] as $audited
| ($skipped | map(.name)) as $skipped_names
| ($inv.packages | map(select(.name as $n | $skipped_names | index($n) | not) | "\(.name)==\(.version)") - $audited) as $missing
| ($audited - $wanted) as $extra
| "\($inv.canary.name)==\($inv.canary.version)" as $canary
| def some($list): ($list[:5] | join(", ")) + (if ($list | length) > 5 then " and \(($list | length) - 5) more" else "" end);
  (if ($skipped | length) > 0 then
     "pip-audit could not audit \($skipped | length) of \($wanted | length) pinned versions: \(some($skipped | map("\(.name) (\(.skip_reason))")))"
   else empty end),
  (if ($missing | length) > 0 then
     "pip-audit did not audit \($missing | length) of \($wanted | length) pinned versions: \(some($missing))"
   else empty end),
  (if ($extra | length) > 0 then "pip-audit reported versions it was not given: \(some($extra))" else empty end),
  (if .canary == null then "pip-audit did not audit the canary \($canary)"
   elif .canary | has("skip_reason") then "pip-audit could not audit the canary \($canary): \(.canary.skip_reason)"
   elif (.canary.vulns | length) == 0 then
     "the vulnerability service reported no vulnerability for the canary \($canary), a release with long-published advisories, so its empty answers cannot be trusted (a wrong URL, an empty mirror, a proxy or a captive portal?)"
   else empty end)
