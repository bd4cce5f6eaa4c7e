# The DB canary's input: a CycloneDX SBOM of packages that trivy's DB must know to be vulnerable, for the OS
# trivy detected in the image and for each language ecosystem of TRIVY_CANARIES.
# In: trivy's image report (its Metadata.OS and Results); $canaries: TRIVY_CANARIES, space-separated package
#     URLs "pkg:TYPE/NAMESPACE/NAME@VERSION" (OS packages: deb, apk, rpm, whose NAMESPACE is the OS family
#     trivy reports, e.g. debian) or "pkg:TYPE/NAME@VERSION" (pypi, npm, ...), without qualifiers.
# Out: {"canaries": [{"purl", "name", "kind": "os"|"language", "what"}], "sbom": CycloneDX 1.5 document}
#   canaries: the ones checked: every canary of the image's OS family (what: "debian 12.7"), and every language
#             canary (what: "Python (pip)" for pypi, else "TYPE packages"); OS canaries of other families are
#             left out. The SBOM lists them, the OS ones under an operating-system component of the image's
#             family and release, so that trivy looks them up in the same DB bucket as the image's packages.
# Errors: a canary that is not such a package URL; no canary for the image's OS family (with how to add one);
#         no pypi canary when the image holds Python packages.
include "lib";

def os_types: ["deb", "apk", "rpm"];

# parse_purl: a canary's package URL as {purl, type, namespace, name, version}, or an error naming it.
def parse_purl:
  . as $purl
  | ([capture("^pkg:(?<type>[a-z][a-z0-9.+-]*)/(?:(?<namespace>[^/@?#]+)/)?(?<name>[^/@?#]+)@(?<version>[^/@?#]+)$")]
     | first // null) as $p
  | if $p == null
    then error("TRIVY_CANARIES: '\($purl)' is not a package URL pkg:TYPE/NAMESPACE/NAME@VERSION or pkg:TYPE/NAME@VERSION (no qualifiers)")
    else $p + {purl: $purl} end;

expect(type == "object" and (.Metadata.OS.Family | type) == "string" and (.Results // [] | type) == "array";
       "trivy's report has no OS (Metadata.OS.Family) or no Results list")
| (.Metadata.OS.Family | ascii_downcase) as $family
| (.Metadata.OS.Name // "") as $release
| ($canaries | [splits("[ \t\n]+") | select(length > 0) | parse_purl]) as $all
| ($all | map(select(.type as $t | any(os_types[]; . == $t)))) as $os_all
| ($os_all | map(select((.namespace // "" | ascii_downcase) == $family))) as $os
| expect(($os | length) > 0;
         "TRIVY_CANARIES has no canary for the image's OS, \($family) \($release): trivy's DB cannot be shown to know its packages. Add a package URL of \($family) at a version its advisories have long covered, e.g. pkg:\(if $family == "alpine" or $family == "wolfi" or $family == "chainguard" then "apk" elif any(["debian", "ubuntu"][]; . == $family) then "deb" else "rpm" end)/\($family)/openssl@1.0.1, to TRIVY_CANARIES (now: \(if ($os_all | length) > 0 then ($os_all | map(.purl) | join(" ")) else "no OS canary" end))")
| ($all | map(select(.type as $t | any(os_types[]; . == $t) | not))) as $languages
| expect(any((.Results // [])[]; .Type == "python-pkg" and ((.Packages // []) | length) > 0) | not
         or any($languages[]; .type == "pypi");
         "TRIVY_CANARIES has no pypi canary, and the image holds Python packages: trivy's DB cannot be shown to know Python advisories. Add one, e.g. pkg:pypi/pycrypto@2.6.1")
| ($os | map(. + {kind: "os", what: "\($family) \($release)",
                  sbom_purl: "pkg:\(.type)/\(.namespace)/\(.name)@\(.version)?distro=\($family)-\($release)"})) as $os
| ($languages | map(. + {kind: "language", what: (if .type == "pypi" then "Python (pip)" else "\(.type) packages" end),
                         sbom_purl: .purl})) as $languages
| {
    canaries: [($os + $languages)[] | {purl, name, kind, what}],
    sbom: {
      bomFormat: "CycloneDX",
      specVersion: "1.5",
      version: 1,
      metadata: {component: {type: "application", name: "security-gate-db-canary", "bom-ref": "canary"}},
      components: ([{type: "operating-system", name: $family, version: $release, "bom-ref": "os"}]
                   + [($os + $languages) | to_entries[]
                      | {type: "library", name: .value.name, version: .value.version, purl: .value.sbom_purl,
                         "bom-ref": "package-\(.key)"}]),
      dependencies: [
        {ref: "canary", dependsOn: (["os"] + [$languages | to_entries[] | "package-\(.key + ($os | length))"])},
        {ref: "os", dependsOn: [$os | to_entries[] | "package-\(.key)"]}
      ]
    }
  }
