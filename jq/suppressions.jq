# Validates the reviewed suppression file (.security-suppressions.json).
# In (jq -n, the file as input): {"suppressions": [{"scan", "id", "reason", "expires": "YYYY-MM-DD", "location"?}, ...]};
#      $scans: the names of the scans there are, space-separated (scan_names in scripts/lib/common.sh).
# Out: the array of entries, unchanged; or an error naming the first malformed entry and what is wrong.
include "lib";

def scans: $scans | split(" ") | map(select(. != ""));
def keys_allowed: ["scan", "id", "location", "reason", "expires"];

def leap($y): ($y % 4 == 0 and $y % 100 != 0) or $y % 400 == 0;
def days_in($y; $m): [31, (if leap($y) then 29 else 28 end), 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][$m - 1];
def valid_date:
  type == "string" and test("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
  and (split("-") | map(tonumber) as [$y, $m, $d] | $m >= 1 and $m <= 12 and $d >= 1 and $d <= days_in($y; $m));
def nonempty_string: type == "string" and (gsub("\\s"; "") | length) > 0;

def check_entry($i):
  "entry \($i + 1)" as $where
  | expect(type == "object"; "\($where) is not an object")
  | expect((keys - keys_allowed) == []; "\($where) has unknown keys \(keys - keys_allowed) (allowed: \(keys_allowed))")
  | expect(.scan as $s | scans | index([$s]) != null; "\($where): scan must be one of \(scans)")
  | expect(.id | nonempty_string; "\($where): id is missing or empty")
  | expect(.reason | nonempty_string; "\($where) (\(.id)): reason is mandatory")
  | expect(.expires | valid_date; "\($where) (\(.id)): expires must be a date YYYY-MM-DD")
  | expect((has("location") | not) or (.location | nonempty_string); "\($where) (\(.id)): location must be a non-empty string");

[inputs] | expect(length == 1; "the file holds \(length) JSON values, not one") | .[0]
| expect(type == "object" and (.suppressions | type) == "array"; "expected an object with a \"suppressions\" array")
| .suppressions
| to_entries
| map(.key as $i | .value | check_entry($i))
