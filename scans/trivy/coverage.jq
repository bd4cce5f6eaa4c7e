# What trivy scanned, checked against what the image holds.
# In: trivy's report (run with --list-all-pkgs); $inventory[0]: scans/trivy/inventory.py's output for the same
#     image ({"dpkg_status", "dpkg_packages", "python": [{"path", "name", "version", "os_package"}]}).
# Out: {"gaps": [{"id", "message"}], "excluded": [{"item", "rule"}], "coverage": {"inventory", "scanned"}}
#   gaps: a Python distribution installed in the image that trivy did not report ("not-scanned:python:NAME").
#   excluded: Python distributions a Debian package installed: trivy scans them as that OS package.
#   coverage: packages the image holds (dpkg's installed packages and the other Python distributions), and how
#             many of them trivy reported.
def packages_of(class): [(.Results // [])[] | select(.Class == class) | (.Packages // [])[]];

$inventory[0] as $inventory
| ([(.Results // [])[] | select(.Type == "python-pkg") | (.Packages // [])[] | .FilePath // empty]) as $reported
| ($inventory.python | map(select(.os_package == null))) as $python
| ($python | map(select(.path as $p | any($reported[]; . == $p) | not))) as $missed
| {
    gaps: [$missed[] | {id: "not-scanned:python:\(.name // .path)",
                        message: "trivy did not report the Python package \(.name // "?") \(.version // "?") installed at /\(.path) in the image, so its vulnerabilities were not looked up"}],
    excluded: [$inventory.python[] | select(.os_package != null)
               | {item: "/\(.path)", rule: "installed by the OS package \(.os_package), scanned as that package"}],
    coverage: {
      inventory: ($inventory.dpkg_packages + ($python | length)),
      scanned: ((packages_of("os-pkgs") | length) + ($python | length) - ($missed | length))
    }
  }
