# trivy's secret scanner on its canary and on the image's symlink targets: did each canary class fire, what did the
# targets hold?
# In: trivy's report on the folder secret-canary.py wrote (trivy fs --scanners secret --format json, schema version 2:
#     Results[].Target is the file, canary/N or links/N); $plan[0]: secret-canary.py's plan ({"canaries": [{"file",
#     "class", "rule"}], "links": [{"file", "places": [{"path", "layer"}]}], "layers"}); $diff_ids[0]: the image's
#     layer diff ids, lowest first (the image report's Metadata.DiffIDs); $image_source: where findings point.
# Out: {"checked": [{"class", "rule", "found": bool}], "problems": [text], "findings": [Finding], "symlinks": N}
#      problems: one per canary class trivy did not find with its rule, naming trivy and the class. findings: one per
#      secret trivy found in a symlink's target, for each symlink with that target, id the rule, naming the symlink's
#      path and layer, never the value. Canary results are never findings. symlinks: the symlinks read.
# Errors: a report that is not trivy's schema version 2 report; a secret without its rule id, severity or title.
include "lib";

def short_id: if type == "string" then .[:19] else "unknown" end;

expect(type == "object" and .SchemaVersion == 2; "trivy's report on its secret canary is not a schema version 2 report")
| expect((.Results // []) | type == "array"; "trivy's report on its secret canary has a Results that is not a list")
| (reduce ((.Results // [])[] | select(.Class == "secret")) as $r
     ({}; .[$r.Target | tostring] += [($r.Secrets // [])[]
                                      | expect((.RuleID | is_text) and (.Severity | is_text) and (.Title | is_text);
                                               "a trivy secret lacks RuleID, Severity or Title")
                                      | {RuleID, Severity, Title}])) as $found
| ($diff_ids[0] // []) as $ids
| [$plan[0].canaries[] | . as $canary | {class, rule, found: any(($found[$canary.file] // [])[]; .RuleID == $canary.rule)}]
  | . as $checked
| {
    checked: $checked,
    problems: [$checked[] | select(.found | not)
               | "trivy missed its secret canary \(.class): its rule \(.rule) did not fire on a token of that class (a trivy-secret.yaml or a setting that disables trivy's built-in secret rules), so the image's secrets were not really looked for"],
    findings: [$plan[0].links[] | . as $link | ($found[$link.file] // [])[] | . as $secret | $link.places[]
               | "layer \(.layer) of \($plan[0].layers) (\($ids[.layer - 1] | short_id))" as $layer
               | {
                   scan: "trivy",
                   id: $secret.RuleID,
                   severity: ($secret.Severity | ascii_upcase | if severity_rank == 0 then "UNKNOWN" else . end),
                   title: "\($secret.Title) in the target of the symlink \(.path)",
                   location: location($image_source; null; "secret: symlink \(.path) (its target), \($layer)"),
                   package: null,
                   fix: "remove the symlink from the image (a link's target is data the image ships) and rotate the secret",
                   status: "secret",
                   url: null
                 }],
    symlinks: ([$plan[0].links[].places | length] | add // 0)
  }
