# What detect-secrets would skip without a word, as one message; empty when it can read every file.
# In: [{"path", "reason"}] from scripts/lib/unscannable.py. Out: a string (jq -r), or nothing.
if length > 0 then
  "detect-secrets cannot scan \(length) file(s), so a secret in them would go unseen: "
  + (map("\(.path) \(.reason)") | .[:5] | join("; "))
  + (if length > 5 then "; ..." else "" end)
  + ". Convert them to UTF-8, or exclude them in .secrets.baseline (detect-secrets scan --exclude-files)"
else empty end
