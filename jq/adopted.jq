# Validates the adopted secrets (.security-secrets-adopted.json, written by `make secrets-baseline`) and gives one
# scan's share of them as entries the gate applies like suppression entries (jq/gate.jq).
# In (jq -n, the file as input): {"generated_at": "YYYY-MM-DD", "since", "kdf": "scrypt-n2048-r8-p1",
#      "salt": 32 hex digits, "expires": "YYYY-MM-DD", "entries": [{"engines": [secret scan...], "types": [text...],
#      "fingerprint": "scrypt:" + 32 hex digits, "commit": 40 or 64 hex digits | null (the tree), "path", "line",
#      "reason", "expires"? (this entry's own, instead of the file's)}, ...]} ("about" and "since": text, ignored);
#      $scans: the secret scans there are, space-separated (the units whose run.sh says `# Kind: secrets`);
#      $scan: the scan whose entries to give.
# Out: the array of $scan's entries: {scan, id: "adopted:" + the fingerprint's first 12 hex digits, location (for
#      people: path:line, and the commit), fingerprint, path, commit, reason, expires (the entry's or the file's)};
#      or an error naming the first thing wrong (an unknown key, a value that is not what it should be).
include "lib";

def scans: $scans | split(" ") | map(select(. != ""));
def file_keys: ["about", "generated_at", "since", "kdf", "salt", "expires", "entries"];
def entry_keys: ["engines", "types", "fingerprint", "commit", "path", "line", "reason", "expires"];

def leap($y): ($y % 4 == 0 and $y % 100 != 0) or $y % 400 == 0;
def days_in($y; $m): [31, (if leap($y) then 29 else 28 end), 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][$m - 1];
def valid_date:
  type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
  and (split("-") | map(tonumber) as [$y, $m, $d] | $m >= 1 and $m <= 12 and $d >= 1 and $d <= days_in($y; $m));
def nonempty_string: type == "string" and (gsub("\\s"; "") | length) > 0;

def check_entry($i):
  "entry \($i + 1)" as $where
  | expect(type == "object"; "\($where) is not an object")
  | expect((keys - entry_keys) == []; "\($where) has unknown keys \(keys - entry_keys) (allowed: \(entry_keys))")
  | expect((.engines | type) == "array" and (.engines | length) > 0
           and all(.engines[]; . as $e | scans | index([$e]) != null);
           "\($where): engines must be a non-empty list of \(scans)")
  | expect((.types | type) == "array" and all(.types[]; nonempty_string); "\($where): types must be a list of text")
  | expect(.fingerprint | type == "string" and test("^scrypt:[0-9a-f]{32}$");
           "\($where): fingerprint must be scrypt: and 32 hex digits (written by make secrets-baseline)")
  | expect(.commit == null or (.commit | type == "string" and test("^([0-9a-f]{40}|[0-9a-f]{64})$"));
           "\($where): commit must be a full commit id, or null for the tree")
  | expect(.path | nonempty_string; "\($where): path is missing or empty")
  | expect(.line == null or (.line | type) == "number"; "\($where): line must be a number or null")
  | expect(.reason | nonempty_string; "\($where) (\(.path)): reason is mandatory")
  | expect((has("expires") | not) or (.expires | valid_date); "\($where) (\(.path)): expires must be a date YYYY-MM-DD");

[inputs] | expect(length == 1; "the file holds \(length) JSON values, not one") | .[0]
| expect(type == "object"; "expected an object")
| expect((keys - file_keys) == []; "unknown keys \(keys - file_keys) (allowed: \(file_keys))")
| expect(.kdf == "scrypt-n2048-r8-p1"; "kdf must be \"scrypt-n2048-r8-p1\" (scripts/lib/adoption.py)")
| expect(.salt | type == "string" and test("^[0-9a-f]{32}$"); "salt must be 32 hex digits")
| expect(.generated_at | valid_date; "generated_at must be a date YYYY-MM-DD")
| expect(.expires | valid_date; "expires must be a date YYYY-MM-DD")
| expect((.entries | type) == "array"; "expected an \"entries\" array")
| .expires as $expires
| .entries
| to_entries
| map(.key as $i | .value | check_entry($i))
| map(select(.engines | index([$scan]) != null)
      | {scan: $scan,
         id: "adopted:\(.fingerprint[7:19])",
         location: (.path + (if .line == null then "" else ":\(.line)" end)
                    + (if .commit == null then "" else " (commit \(.commit[:12]))" end)),
         fingerprint, path, commit, reason,
         expires: (.expires // $expires)})
