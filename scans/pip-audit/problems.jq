# What pip-audit could not audit, as one message; empty when every dependency was audited.
# In: pip-audit's report; $expected: the number of pinned requirements it was given.
# Out: a string (jq -r), or nothing.
[.dependencies[] | select(has("skip_reason"))] as $skipped
| (.dependencies | length) as $seen
| if ($skipped | length) > 0 then
    "pip-audit could not audit \($skipped | length) of \($seen) dependencies: \($skipped | map("\(.name) (\(.skip_reason))") | .[:5] | join("; "))"
  elif $seen < $expected then
    "pip-audit reported \($seen) dependencies but was given \($expected)"
  else empty end
