# trivy's JSON report (trivy image --format json, schema version 2) to findings.
# In: trivy's report object; $image_source: where findings point: the Dockerfile the image was built from, or the
#     image tarball or reference scanned when it came from elsewhere (IMAGE_TAR, IMAGE).
# Out: array of Finding, one per vulnerable package, each naming the package, installed and fixed versions
#      and the vulnerability id. A report whose OS was not detected is an error: trivy then skips OS packages.
include "lib";

expect(type == "object" and .SchemaVersion == 2; "trivy's report is not a schema version 2 report")
| expect((.Metadata.OS.Family | type) == "string" and (.Metadata.OS.Family | IN("", "none") | not);
         "trivy did not detect the image's OS, so its OS packages were not scanned")
| expect((.Results // []) | type == "array"; "trivy's Results is not a list")
| expect(any((.Results // [])[]; .Class == "os-pkgs");
         "trivy's report has no OS package result, so the image's OS packages were not scanned")
| [(.Results // [])[]
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
     }]
