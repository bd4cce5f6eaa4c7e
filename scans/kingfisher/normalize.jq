# kingfisher's findings, as scans/kingfisher/adapter.py report keeps them, to the gate's findings.
# In: [{rules: [rule id...], rule_name, path, line, member ("" or the archive member), commits: null (the tree) or
#     [commit...] ("staged": the index), also (history: how many more commits hold it), fingerprint (salted, never
#     the value), audited: true|false|null|"absent" (the value's SHA-1 in .secrets.baseline for that path, and how
#     it was audited), confidence, adoption (optional: the adoption fingerprint, scripts/lib/adoption.py)}].
# Out: array of Finding, each with engines ["kingfisher"] and its salted fingerprint (INTERFACES §5: the gate
#     shows a secret both engines report at one place once, jq/dedupe.jq). A value audited as a false positive in
#     .secrets.baseline carries .suppression; every other one is a plain finding, its title saying how it stands in
#     the baseline. The first rule is the id (what a suppression entry names); the others are its aliases. A
#     finding with an adoption fingerprint carries .adoption {fingerprint, commit (null: the tree or the staged
#     change)}, which jq/gate.jq matches against .security-secrets-adopted.json and leaves out of the result.
include "lib";

def short: if . == "staged" then "the staged change" else "commit \(.)" end;

expect(type == "array"
       and all(.[]; type == "object" and (.rules | type) == "array" and (.rules | length) > 0
                    and all(.rules[]; is_text) and (.path | is_text) and (.line | type) == "number"
                    and (.fingerprint | is_text) and ((.commits == null) or (.commits | type) == "array"));
       "kingfisher's findings have an unexpected shape")
| map(
    {
      scan: "kingfisher",
      id: .rules[0],
      severity: "HIGH",
      confidence: (.confidence // "" | ascii_upcase | if is_severity then . else null end),
      title: ("Potential secret: \(.rule_name | if is_text then .[:120] else "kingfisher rule" end) (kingfisher)"
              + (if .commits == null then ""
                 elif .commits[0] == "staged" then ", staged"
                 else ", in the history (\(.commits[0] | short))" end)
              + (if .audited == true then " (audited as a true secret in .secrets.baseline)"
                 elif .audited == null then " (in .secrets.baseline but never audited: run `detect-secrets audit"
                      + " .secrets.baseline` and mark it)"
                 else "" end)),
      location: location(.path; .line;
                         ([if .member != "" then "in the archive member \(.member[:200])" else empty end,
                           if .commits != null
                           then "introduced by \(.commits[0] | short)"
                                + (if (.also // 0) > 0 then "; also in \(.also) more" else "" end)
                           else empty end] | if length > 0 then join("; ") else null end)),
      package: null,
      fix: null,
      engines: ["kingfisher"],
      fingerprint: .fingerprint
    }
    + (if (.rules | length) > 1 then {aliases: .rules[1:]} else {} end)
    + (if (.adoption | type) == "string"
       then {adoption: {fingerprint: .adoption,
                        commit: (if .commits == null or .commits[0] == "staged" then null else .commits[0] end)}}
       else {} end)
    + (if .audited == false
       then {suppression: {reason: "audited false positive in .secrets.baseline", expires: null}}
       else {} end))
| sort_by(.location.path, .location.line // 0, .id)
