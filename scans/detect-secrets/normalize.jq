# detect-secrets' scan report to findings, judged against the committed baseline.
# In: the report of `detect-secrets scan` (.results: {filename: [{type, filename, line_number, hashed_secret}]});
#     $baseline[0]: the project's .secrets.baseline as committed ({"results": {}} when it has none), its
#     hashed_secret salted as the report's are (scripts/lib/cache.py), so that they still match.
# Out: array of Finding without any secret value or hash; each names its engine (engines:
#     ["detect-secrets"], INTERFACES §5). A secret recorded in the baseline and audited as a
#     false positive (is_secret: false) carries .suppression; every other secret is a plain finding (one in the
#     baseline but never audited, without is_secret, says which command audits it). A secret that carries its
#     adoption fingerprint (.adoption: scripts/lib/adoption.py) keeps it as .adoption {fingerprint, commit: null},
#     which jq/gate.jq matches against .security-secrets-adopted.json and leaves out of the result.
include "lib";

def key: [.filename, .type, .hashed_secret];

expect(type == "object" and (.results | type) == "object"; "detect-secrets' report lacks its results")
| expect((has("plugins_used") | not) or ((.plugins_used | type) == "array" and (.plugins_used | length) > 0);
         "detect-secrets ran with no plugin (plugins_used of .secrets.baseline is empty), so it could find no secret")
| ($baseline[0] | expect(type == "object" and (.results | type) == "object"; ".secrets.baseline lacks its results")
   | [.results[][]] | map({key: (key | tojson), value: .}) | from_entries) as $known
| [.results[][]]
| map(
    expect((.type | type) == "string" and (.filename | type) == "string" and (.hashed_secret | type) == "string"
           and (.line_number | type) == "number";
           "a detect-secrets result lacks type, filename, hashed_secret or line_number")
    | $known[key | tojson] as $b
    | {
        scan: "detect-secrets",
        id: .type,
        severity: "HIGH",
        title: ("Potential secret: \(.type)"
                + (if $b == null then ""
                   elif $b.is_secret == true then " (audited as a true secret in .secrets.baseline)"
                   elif $b.is_secret == false then ""
                   else " (in .secrets.baseline but never audited: run `detect-secrets audit .secrets.baseline`"
                        + " and mark it)" end)),
        location: location(.filename; .line_number; null),
        package: null,
        fix: null,
        engines: ["detect-secrets"]
      }
    + (if (.adoption | type) == "string" then {adoption: {fingerprint: .adoption, commit: null}} else {} end)
    + (if $b != null and $b.is_secret == false
       then {suppression: {reason: "audited false positive in .secrets.baseline", expires: null}}
       else {} end))
