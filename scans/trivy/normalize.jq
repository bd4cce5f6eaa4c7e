# trivy's JSON report (trivy image --format json, schema version 2) to findings.
# In: trivy's report object (trivy image --scanners vuln,secret --image-config-scanners secret --list-all-pkgs),
#     before sanitize.jq (the lines around a config secret say which field it is in); $image_source: where findings point: the Dockerfile
#     the image was built from, or the image tarball or reference scanned when it came from elsewhere
#     (IMAGE_TAR, IMAGE); $eosl_severity: the severity of an end-of-life OS (TRIVY_EOSL_SEVERITY).
# Out: array of Finding, one per vulnerable package, each naming the package, installed and fixed versions
#      and the vulnerability id; plus one Finding "eosl:FAMILY-VERSION" when trivy says the OS is end of life
#      (EOSL: no more security fixes, and vulnerability data for it stops). A report whose OS was not detected,
#      or whose OS result lists no packages (no package inventory in the image), is an error: trivy then
#      scanned none of the OS packages.
#      Secrets: one Finding per secret trivy found, id its rule (github-pat, aws-access-key-id, ...), naming the
#      file and the layer it is in (its place and diff id), or the field of the image's configuration (Env,
#      Labels, history, ...); never the value, nor the layer's history line (a build argument's value is in it).
#      A result of a class the gate does not know (only os-pkgs, lang-pkgs and secret are expected), or a secret
#      without its rule id, severity or title, is an error.
include "lib";

# short_id: a diff id shortened for people, "sha256:" and 12 hex digits.
def short_id: if type == "string" then .[:19] else "unknown" end;

# config_field: for a secret trivy found in the image's configuration (rendered as JSON), the field it is in: the
# key of its line, else of the nearest list or object opened above it (Env, Labels, Cmd, ...); "history" for a
# history entry (created_by: a RUN line, where build arguments show).
def config_field:
  (.StartLine // 0) as $line
  | [(.Code.Lines // [])[] | select((.Number // 0) <= $line) | .Content // "" | tostring] | reverse as $above
  | ($above[0] // "") as $own_line
  | ([$own_line | capture("^\\s*\"?(?<key>[A-Za-z_][A-Za-z0-9_]*)\"\\s*:\\s*[^\\[{ ]")] | first // null) as $own
  | (first($above[] | capture("^\\s*\"(?<key>[A-Za-z_][A-Za-z0-9_]*)\"\\s*:\\s*[\\[{]")) // null) as $open
  | if ($own_line | test("(^|[\\s\"])(created_by|comment)\"\\s*:"))
    then "history (\($own_line | capture("(?<key>created_by|comment)\"\\s*:").key))"
    elif $open != null and $own != null then "\($open.key) (\($own.key))"
    elif $open != null then $open.key
    elif $own != null then $own.key
    else "a field trivy did not show" end;

# secret_finding($result; $diff_ids): the Finding for one of trivy's Secrets of $result.
def secret_finding($result; $diff_ids):
  expect((.RuleID | is_text) and (.Severity | is_text) and (.Title | is_text);
         "a trivy secret lacks RuleID, Severity or Title")
  | (if (.Layer.DiffID | is_text)
     then .Layer.DiffID as $diff
          | ([$diff_ids | to_entries[] | select(.value == $diff) | .key + 1] | first // null) as $place
          | {what: $result.Target,
             where: ($result.Target + (if (.StartLine | type) == "number" then " line \(.StartLine)" else "" end)
                     + ", layer \(if $place != null then "\($place) of \($diff_ids | length) " else "" end)(\($diff | short_id))"),
             fix: "remove the file from the image (write or copy it in a build stage that does not ship, or mount it at build time: RUN --mount=type=secret) and rotate the secret"}
     else config_field as $field
          | {what: "the image's configuration, \($field)", where: "image configuration: \($field)",
             fix: "rotate the secret, and keep it out of the image's configuration: pass it at run time, or at build time as a build secret (RUN --mount=type=secret), never as a build argument or ENV"}
     end) as $place
  | {
      scan: "trivy",
      id: .RuleID,
      severity: (.Severity | ascii_upcase | if severity_rank == 0 then "UNKNOWN" else . end),
      title: "\(.Title) in \($place.what)",
      location: location($image_source; null; "secret: \($place.where)"),
      package: null,
      fix: $place.fix,
      status: "secret",
      url: null
    };

# eosl_finding: the Finding for an end-of-life OS, from the report's Metadata.OS.
def eosl_finding:
  "\(.Family) \(.Name // "")" as $os
  | {
      scan: "trivy",
      id: "eosl:\(.Family)-\(.Name // "unknown")",
      severity: $eosl_severity,
      title: "\($os) is end of life: it gets no security fixes, and vulnerabilities found after its end are not in trivy's data",
      location: location($image_source; null; "base image OS \($os)"),
      package: {name: .Family, version: (.Name // ""), type: "os"},
      fix: "move the base image to a supported \(.Family) release",
      status: "end_of_life",
      url: null
    };

expect(type == "object" and .SchemaVersion == 2; "trivy's report is not a schema version 2 report")
| expect((.Metadata.OS.Family | type) == "string" and (.Metadata.OS.Family | IN("", "none") | not);
         "trivy did not detect the image's OS, so its OS packages were not scanned")
| expect((.Results // []) | type == "array"; "trivy's Results is not a list")
| expect(all((.Results // [])[]; .Class | IN("os-pkgs", "lang-pkgs", "secret"));
         "trivy's report has a result of class \([(.Results // [])[] | .Class | select(IN("os-pkgs", "lang-pkgs", "secret") | not)] | first | tojson), which the gate does not know how to read")
| expect(any((.Results // [])[]; .Class == "os-pkgs");
         "trivy's report has no OS package result, so the image's OS packages were not scanned")
| expect(any((.Results // [])[]; .Class == "os-pkgs" and ((.Packages // []) | length) > 0);
         "trivy detected \(.Metadata.OS.Family) \(.Metadata.OS.Name // "") but found no OS packages: the image has no package inventory (var/lib/dpkg/status for Debian), so none of its OS packages were scanned")
| (.Metadata.DiffIDs // .Metadata.ImageConfig.rootfs.diff_ids // []) as $diff_ids
| [(if .Metadata.OS.EOSL == true then .Metadata.OS | eosl_finding else empty end),
   ((.Results // [])[] | select(.Class == "secret")
   | expect((.Target | type) == "string"; "a trivy result has no Target")
   | . as $result
   | expect((.Secrets // []) | type == "array"; "a trivy secret result's Secrets is not a list")
   | (.Secrets // [])[] | secret_finding($result; $diff_ids)),
   ((.Results // [])[] | select(.Class != "secret")
   | expect((.Target | type) == "string"; "a trivy result has no Target")
   | . as $result
   | (.Vulnerabilities // [])[]
   | expect((.VulnerabilityID | type) == "string" and (.PkgName | type) == "string"
            and (.InstalledVersion | type) == "string" and (.Severity | type) == "string";
            "a trivy vulnerability lacks VulnerabilityID, PkgName, InstalledVersion or Severity")
   | {
       scan: "trivy",
       id: .VulnerabilityID,
       severity: (.Severity | ascii_upcase | if severity_rank == 0 then "UNKNOWN" else . end),
       title: (.Title // (.Description // "" | split("\n") | first // "" | .[:200]) | if . == "" then "\($result.Type) package vulnerability" else . end),
       location: location($image_source; null; "\($result.Target)" + (if .PkgPath then " \(.PkgPath)" else "" end)),
       package: {name: .PkgName, version: .InstalledVersion, type: $result.Type},
       fix: (if (.FixedVersion // "") == "" then null else .FixedVersion end),
       status: .Status,
       url: .PrimaryURL
     })]
