# What bandit could not scan, as one message; empty when it scanned everything.
# In: bandit's report object. Out: a string (jq -r), or nothing.
(.errors // []) as $e
| if ($e | length) > 0
  then "bandit could not parse \($e | length) file(s): \($e | map("\(.filename) (\(.reason))") | join(", "))"
  else empty end
