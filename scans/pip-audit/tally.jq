# The counts and fields the pip-audit scan's result takes from the merged report, in one jq run.
# In: the merged report (merge.jq); $inventory[0]: inventory.py's inventory; $extra: the result's extra fields so far.
# Out (jq -r): line 1 "INVENTORY AUDITED CANARY_SILENT": the inventory's packages and sources no service can audit,
#      the dependencies pip-audit audited, and true when it saw no vulnerability for the canary (else false);
#      line 2: $extra with the canary's result added, as compact JSON.
$inventory[0] as $inv
| "\(($inv.packages | length) + ($inv.not_auditable | length)) \([.dependencies[] | select(has("vulns"))] | length) \((.canary.vulns // []) == [])",
  ($extra + {canary: (($inv.canary | {name, version}) + {vulnerabilities: (.canary.vulns // [] | length)})} | tojson)
