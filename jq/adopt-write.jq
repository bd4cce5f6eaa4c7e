# The adopted secrets' file (.security-secrets-adopted.json) that scripts/secrets-baseline.sh writes.
# In (jq -n): $results: the secret scans' results (--slurpfile: each with status "pass" or "fail"; every finding
#     carries .adoption {fingerprint, commit}, the gate's run having SECURITY_SECRETS_ADOPTING=1);
#     $old: [] or [the previous file] (its salt is the one the scans used; its reasons and entries' own expiries are
#     kept for the same secret at the same place); $salt, $today, $expires (YYYY-MM-DD), $since (SECRETS_SINCE).
# Out: the file: one entry per secret and place (fingerprint, path, commit: null for the tree), listing the engines
#     that report it and their types, sorted by path, commit and line; or an error naming a finding without a
#     fingerprint (nothing is written then).
include "lib";

def place: [.fingerprint, .path, .commit] | tojson;
def default_reason: "recorded by make secrets-baseline on \($today), not reviewed yet: say why this secret may stay (rotated, a test key, a false positive)";

(($old[0] // {}).entries // [] | map({key: place, value: .}) | from_entries) as $before
| [$results[]
   | expect(.status == "pass" or .status == "fail"; "the \(.scan) scan did not complete (\(.status)): \(.error // "")")
   | .scan as $scan
   | .findings[]
   | expect((.adoption | type) == "object" and (.adoption.fingerprint | type) == "string";
            "the \($scan) finding at \(.location | location_text) has no adoption fingerprint")
   | {scan: $scan, type: .id, fingerprint: .adoption.fingerprint, commit: .adoption.commit, path: .location.path,
      line: .location.line}]
| group_by(place)
| map(.[0] as $first
      | ($before[$first | place] // {}) as $was
      | {engines: (map(.scan) | unique), types: (map(.type) | unique), fingerprint: $first.fingerprint,
         commit: $first.commit, path: $first.path, line: (map(.line | select(. != null)) | min),
         reason: ($was.reason // default_reason)}
        + (if $was.expires then {expires: $was.expires} else {} end))
| sort_by(.path, .commit // "", .line // 0)
| {about: ("Secrets accepted where they are, recorded by make secrets-baseline: review each reason, commit the file"
           + " (README \"Adopting the gate on an old repository\"). No value and no plain hash of one is kept: each"
           + " fingerprint is a slow salted hash (scripts/lib/adoption.py)."),
   generated_at: $today, since: $since, kdf: "scrypt-n2048-r8-p1", salt: $salt, expires: $expires, entries: .}
