"""Summary: what trivy's secret scanner reads besides the image: its canary, and the targets of the image's symlinks.
Usage: python3 -S scans/trivy/secret-canary.py IMAGE_TAR DIR   (scans/trivy/run.sh runs it; trivy fs then reads DIR/files)

Writes, each under a number and never under a name taken from the image:
- DIR/files/canary/N: one small file per class of CANARY, a token in the provider's documented format assembled here
  from its prefix and random characters (none is stored anywhere), which trivy's built-in rule RULE must find;
- DIR/files/links/N: the target text of the image's symlinks (a symlink's target is committed data: `/app/token ->
  ghp_...`), one file per distinct target, its text as the content of a one-line file. The targets are read from
  the layers of the saved image (python's tarfile, as scans/trivy/inventory.py reads them; nothing is extracted):
  every layer's, a symlink a later layer removed included (its layer still ships it). A target under 10 bytes is
  left out (trivy's secret analyzer reads no file that small, and no token fits in it: /bin -> usr/bin).
Prints the plan (JSON): {"canaries": [{"file", "class", "rule"}], "links": [{"file", "places": [{"path", "layer"}]}],
"layers": N, "gaps": [{"id", "message"}]}: layer is the layer's place (1 = the lowest), path the symlink's path in the
image (control characters shown as \\xNN, at most MAX_PATH characters); a layer whose tar cannot be read (an
unknown compression) is a gap naming it. Exit 0 with the plan; 2 with a message on stderr when the tarball cannot be
read as an image.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import sys
import tarfile

from inventory import clean, layer_names, member

ALNUM = string.ascii_letters + string.digits
MIN_TARGET = 10  # bytes: trivy's secret analyzer skips smaller files
MAX_PATH = 300  # characters of a symlink's path kept for a finding
MAX_TARGETS = 200_000  # distinct targets read, at most; the rest is a gap


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


# The canary: (class, trivy's built-in rule that must find it, a maker of the file's text).
CANARY = (
    ("GitHub token (ghp_)", "github-pat", lambda: f"GITHUB_TOKEN=ghp_{rand(36)}\n"),
    ("AWS access key id", "aws-access-key-id",
     lambda: f"AWS_ACCESS_KEY_ID=AKIA{rand(16, string.ascii_uppercase + string.digits)}\n"),
    ("GitLab token (glpat-)", "gitlab-pat", lambda: f"GITLAB_TOKEN=glpat-{rand(20)}\n"),
    ("Slack token (xoxb-)", "slack-access-token",
     lambda: f"SLACK_TOKEN=xoxb-{rand(12, string.digits)}-{rand(12, string.digits)}-{rand(24)}\n"),
    ("Stripe secret key (sk_live_)", "stripe-secret-token", lambda: f"STRIPE_KEY=sk_live_{rand(24)}\n"),
    ("private key (PEM)", "private-key",
     lambda: "-----BEGIN RSA " + "PRIVATE KEY-----\n" + "\n".join(rand(64) for _ in range(6))
             + "\n-----END RSA " + "PRIVATE KEY-----\n"),
)


def shown(path: str) -> str:
    """A symlink's path for a report: control characters as \\xNN, at most MAX_PATH characters."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in "/" + path)
    return text if len(text) <= MAX_PATH else text[: MAX_PATH - 3] + "..."


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: secret-canary.py IMAGE_TAR DIR", file=sys.stderr)
        return 2
    files = os.path.join(argv[2], "files")
    for sub in ("canary", "links"):
        os.makedirs(os.path.join(files, sub), exist_ok=True)
    canaries = []
    for n, (cls, rule, make) in enumerate(CANARY):
        with open(os.path.join(files, "canary", str(n)), "w", encoding="utf-8") as f:
            f.write(make())
        canaries.append({"file": f"canary/{n}", "class": cls, "rule": rule})
    targets: dict[str, list[dict]] = {}  # target text -> the symlinks that point there
    gaps = []
    try:
        with tarfile.open(argv[1], mode="r:*") as outer:
            names = layer_names(outer)
            for place, name in enumerate(names, start=1):
                try:
                    with tarfile.open(fileobj=member(outer, name), mode="r:*") as layer:
                        for entry in layer:
                            if not entry.issym() or len(entry.linkname.encode("utf-8", "surrogateescape")) < MIN_TARGET:
                                continue
                            if entry.linkname not in targets and len(targets) >= MAX_TARGETS:
                                gaps.append({"id": f"not-scanned:symlinks:layer-{place}",
                                             "message": f"layer {place} of {len(names)} has more than {MAX_TARGETS} "
                                                        "distinct symlink targets: the rest were not read for secrets"})
                                break
                            targets.setdefault(entry.linkname, []).append({"path": shown(clean(entry.name)),
                                                                           "layer": place})
                except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                    gaps.append({"id": f"not-scanned:symlinks:layer-{place}",
                                 "message": f"the symlinks of layer {place} of {len(names)} could not be read for "
                                            f"secrets ({type(exc).__name__}: the layer is not a tar python can read)"})
    except (OSError, tarfile.TarError, ValueError, KeyError, TypeError, EOFError) as exc:
        print(f"cannot read {argv[1]} as an image: {exc}", file=sys.stderr)
        return 2
    links = []
    for n, (target, places) in enumerate(targets.items()):
        with open(os.path.join(files, "links", str(n)), "wb") as f:
            f.write(target.encode("utf-8", "surrogateescape") + b"\n")
        links.append({"file": f"links/{n}", "places": places})
    json.dump({"canaries": canaries, "links": links, "layers": len(names), "gaps": gaps}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
