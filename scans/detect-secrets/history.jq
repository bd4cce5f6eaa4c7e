# The history's secrets to findings: one finding per secret, naming the commit that introduced it first.
# In: [{commit, path, line, type, hashed_secret}] from scans/detect-secrets/history.py merge: every secret of every
#     blob the range's commits introduced, once per commit, oldest commit first; commit "staged" is the index (the
#     pre-commit hook); hashed_secret salted (scripts/lib/cache.py).
#     $baseline[0]: the project's .secrets.baseline as committed, its hashed_secret salted alike.
#     $tree[0]: the tree scan's merged report (salted), whose secrets the tree scan reports itself.
# Out: array of Finding without any secret value or hash; each names its engine (engines:
#     ["detect-secrets"]). A secret is identified by its type and (salted) hash:
#     the same secret in many commits or paths is one finding, at the path and line of the oldest commit, its
#     detail naming that commit and counting the others; one the tree scan reports is left to it. Against the
#     baseline a history finding is matched by type and hash whatever its path (a file renamed or deleted since
#     keeps its audit): audited as a false positive (is_secret: false) it carries .suppression; audited as a true
#     secret, or listed but never audited, it fails, its title says which. The oldest occurrence's adoption
#     fingerprint (.adoption, when the project has an adoption file) is kept as .adoption {fingerprint, commit}
#     (commit null for the staged change, which becomes the tree), for jq/gate.jq.
include "lib";

def ident: [.type, .hashed_secret] | tojson;
def short: if . == "staged" then "the staged change" else "commit \(.)" end;

expect(type == "array"
       and all(.[]; type == "object" and (.commit | is_text) and (.path | is_text) and (.type | is_text)
                    and (.hashed_secret | is_text) and (.line == null or (.line | type) == "number"));
       "the history's secrets have an unexpected shape")
| ($baseline[0] | expect(type == "object" and (.results | type) == "object"; ".secrets.baseline lacks its results")
   | [.results[][]] | group_by(ident)
   | map({key: (.[0] | ident),
          value: (if any(.[]; .is_secret == true) then true elif any(.[]; .is_secret == false) then false
                  else null end)})
   | from_entries) as $audit
| ($tree[0] | expect(type == "object" and (.results | type) == "object"; "the tree scan's report lacks its results")
   | [.results[][] | {key: ident, value: true}] | from_entries) as $reported
| to_entries | map(.value + {n: .key})
| map(select($reported[ident] | not))
| group_by(ident)
| map(
    (min_by(.n)) as $first
    | ([sort_by(.n)[] | .commit] | reduce .[] as $c ([]; if index([$c]) then . else . + [$c] end)) as $commits
    | (if $audit | has($first | ident) then $audit[$first | ident] else "absent" end) as $audited
    | {
        scan: "detect-secrets",
        id: $first.type,
        severity: "HIGH",
        title: ("Potential secret: \($first.type)"
                + (if $first.commit == "staged" then ", staged" else ", in the history (\($first.commit | short))" end)
                + (if $audited == true then " (audited as a true secret in .secrets.baseline)"
                   elif $audited == null then " (in .secrets.baseline but never audited: run `detect-secrets audit"
                        + " .secrets.baseline` and mark it)"
                   else "" end)),
        location: location($first.path; $first.line;
                           "introduced by \($first.commit | short)"
                           + (if ($commits | length) > 1
                              then "; also in \($commits | length - 1) more: \($commits[1:6] | join(", "))"
                                   + (if ($commits | length) > 6 then ", ..." else "" end)
                              else "" end)),
        package: null,
        fix: null,
        engines: ["detect-secrets"]
      }
    + (if ($first.adoption | type) == "string"
       then {adoption: {fingerprint: $first.adoption,
                        commit: (if $first.commit == "staged" then null else $first.commit end)}}
       else {} end)
    + (if $audited == false
       then {suppression: {reason: "audited false positive in .secrets.baseline (the same secret)", expires: null}}
       else {} end))
| sort_by(.location.path, .location.line // 0, .id)
