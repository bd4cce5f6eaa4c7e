# The DB canary's verdict: did trivy, with the image scan's DB and settings, find each canary vulnerable?
# In: trivy's report on the canary SBOM (trivy sbom --format json); $plan[0]: canary.jq's output
#     ({"canaries": [{"purl", "name", "kind": "os"|"language", "what"}]}).
# Out: {"checked": [{"purl", "what", "vulnerabilities": N}], "problems": [text]}: one problem per canary trivy
#      reported no vulnerability for, naming what the DB does not know ("trivy's DB has no advisories for
#      debian 12.7"). Canary results are never findings.
# Errors: a report that is not trivy's schema version 2 report, or whose Results is not a list.
include "lib";

expect(type == "object" and .SchemaVersion == 2; "trivy's report on the canary is not a schema version 2 report")
| expect((.Results // []) | type == "array"; "trivy's report on the canary has a Results that is not a list")
| [(.Results // [])[] | (if .Class == "os-pkgs" then "os" elif .Class == "lang-pkgs" then "language" else "other" end) as $kind
   | (.Vulnerabilities // [])[] | {kind: $kind, name: (.PkgName // "" | ascii_downcase)}] as $found
| [$plan[0].canaries[]
   | . as $canary
   | {purl, what, vulnerabilities: ([$found[] | select(.kind == $canary.kind and .name == ($canary.name | ascii_downcase))] | length)}]
  as $checked
| {
    checked: $checked,
    problems: [$checked[] | select(.vulnerabilities == 0)
               | "trivy's DB has no advisories for \(.what): the canary \(.purl), vulnerable for years, came back with none (a partial or truncated DB, a mirror serving part of it, or a DB schema this trivy reads differently), so the image's \(.what) packages were not really checked. Refresh the DB (TRIVY_CACHE_DIR, TRIVY_DB_REPOSITORY), or correct TRIVY_CANARIES"]
  }
