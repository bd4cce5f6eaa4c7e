# The trivy scan's gate policy.
# In (jq -n): $list, the failing severities as "CRITICAL,HIGH" (TRIVY_FAIL_ON); $count_unfixed (bool).
# Out: {"fail_on": [...], "min_confidence": null, "count_unfixed": bool}; an error names an unknown severity.
include "lib";

($list | ascii_upcase | split(",") | map(gsub("^\\s+|\\s+$"; "")) | map(select(. != ""))) as $wanted
| expect($wanted != []; "no severity given (expected e.g. CRITICAL,HIGH)")
| ($wanted - severities) as $unknown
| expect($unknown == []; "unknown severities \($unknown) (known: \(severities))")
| {fail_on: $wanted, min_confidence: null, count_unfixed: $count_unfixed}
