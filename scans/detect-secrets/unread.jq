# The files detect-secrets did not read, as coverage gaps and exclusions.
# In: [{"path", "reason", "binary", "filtered"}] from scans/detect-secrets/unscannable.py.
# Out: {"gaps": [{"id": "not-scanned:PATH", "message"}], "excluded": [{"item": PATH, "rule"}]}: a binary file
#      (nothing for detect-secrets to read) and one a baseline filter removed (that filter is a narrowing gap of
#      its own: scans/detect-secrets/narrowing.py) are excluded; any other file is a gap.
include "lib";

expect(type == "array" and all(.[]; (.path | type) == "string" and (.reason | type) == "string"
                                    and (.binary | type) == "boolean" and (.filtered | type) == "boolean");
       "the list of files detect-secrets did not read has an unexpected shape")
| {
    gaps: map(select((.binary or .filtered) | not)
              | {id: "not-scanned:\(.path)",
                 message: "detect-secrets did not scan \(.path): it \(.reason) (convert it to UTF-8, or accept the gap)"}),
    excluded: map(if .binary then {item: .path, rule: "binary: detect-secrets reads text only (\(.reason))"}
                  elif .filtered then {item: .path, rule: "the baseline narrows the scan: it \(.reason)"}
                  else empty end)
  }
