# trivy's JSON report (trivy image --format json, schema version 2) to findings.
# In: trivy's report object (trivy image --list-all-pkgs); $image_source: where findings point: the Dockerfile
#     the image was built from, or the image tarball or reference scanned when it came from elsewhere
#     (IMAGE_TAR, IMAGE); $eosl_severity: the severity of an end-of-life OS (TRIVY_EOSL_SEVERITY).
# Out: array of Finding, one per vulnerable package, each naming the package, installed and fixed versions
#      and the vulnerability id; plus one Finding "eosl:FAMILY-VERSION" when trivy says the OS is end of life
#      (EOSL: no more security fixes, and vulnerability data for it stops). A report whose OS was not detected,
#      or whose OS result lists no packages (no package inventory in the image), is an error: trivy then
#      scanned none of the OS packages.
include "lib";

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
| expect(any((.Results // [])[]; .Class == "os-pkgs");
         "trivy's report has no OS package result, so the image's OS packages were not scanned")
| expect(any((.Results // [])[]; .Class == "os-pkgs" and ((.Packages // []) | length) > 0);
         "trivy detected \(.Metadata.OS.Family) \(.Metadata.OS.Name // "") but found no OS packages: the image has no package inventory (var/lib/dpkg/status for Debian), so none of its OS packages were scanned")
| [(if .Metadata.OS.EOSL == true then .Metadata.OS | eosl_finding else empty end),
   ((.Results // [])[]
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
