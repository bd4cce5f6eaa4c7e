# trivy's report as the gate keeps it (trivy.raw.json, which CI uploads): without the image's configuration and
# without any text a secret could be in.
# In: trivy's image report (trivy image --format json).
# Out: the same report with
#   - Metadata.ImageConfig cut down to {architecture, os, created, rootfs}: its environment, history (build
#     arguments stay there), labels, command and the like are dropped;
#   - every "CreatedBy" (a layer's history line, wherever trivy repeats it: packages, vulnerabilities, secrets),
#     every "Code" (the lines around a secret, which trivy masks only on the matched line) and every "Match"
#     removed.
# Errors: input that is not a JSON object.
include "lib";

expect(type == "object"; "trivy's report is not a JSON object")
| if (.Metadata.ImageConfig | type) == "object"
  then .Metadata.ImageConfig |= with_entries(select(.key | IN("architecture", "os", "created", "rootfs")))
  else . end
| delpaths([paths | select(length > 0 and (.[-1] | IN("CreatedBy", "Code", "Match")))])
