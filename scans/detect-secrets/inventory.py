"""Summary: the files detect-secrets must scan: every file git lists in the project, less the written exclusions.
Usage: python3 scans/detect-secrets/inventory.py OUT_DIR   (run in PROJECT_DIR by scans/detect-secrets/run.sh)

git lists the tracked files and the untracked ones it does not ignore. Of those:
- ROOT_EXCLUSIONS, matched as whole paths from the project root only (a deploy/prod/.env.sample is scanned),
  are excluded with their rule, and so is the adopted secrets' file (SECURITY_SECRETS_ADOPTED) when it is in the
  project;
- a symlink is never followed (it may point out of the tree) but read: its target's text (os.readlink, what git
  commits as the link's blob) is written to OUT_DIR/symlinks/N, N its index in OUT_DIR/links, and scanned as the
  content of a one-line file (never the path: the scans read that file); the link's path is in the list;
- files deleted in the work tree (nothing to read) are excluded with their rule;
- a git submodule or a nested git repository is a coverage gap naming it: git lists it as one entry, and its
  files are not this repository's to list (scan that repository on its own, or accept the gap);
- every other entry is a regular file to scan.
Writes OUT_DIR/files (NUL-separated, the symlinks' paths too), OUT_DIR/links (NUL-separated, the symlinks of
files in order) and their targets' text in OUT_DIR/symlinks/N, OUT_DIR/excluded.jsonl ({item, rule} a line) and
OUT_DIR/gaps.jsonl ({id, message} a line); prints the number of files to scan. Exit 0, or 2 with the message on
stderr when git cannot list the files.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

# The exclusions of the design (security-ci-pipeline-design.txt: ".env.sample and uv.lock, false positives")
# and the baseline itself (detect-secrets' file of audited hashes), each the file at the project root only.
ROOT_EXCLUSIONS = {
    ".env.sample": "the design's exclusion: .env.sample at the project root (placeholder values)",
    "uv.lock": "the design's exclusion: uv.lock at the project root (package hashes)",
    ".secrets.baseline": "the baseline at the project root (detect-secrets' own file of audited hashes)",
}


def _adopted_name() -> str | None:
    """The adopted secrets' file (SECURITY_SECRETS_ADOPTED, scripts/lib/common.sh) as a path in the project, when it
    is in it: its salt and fingerprints are high-entropy hex by design, and jq/adopted.jq admits nothing else."""
    file, root = os.environ.get("SECURITY_SECRETS_ADOPTED", ""), os.environ.get("PROJECT_DIR", "")
    if not file or not root:
        return None
    rel = os.path.relpath(os.path.abspath(file), os.path.abspath(root))
    return None if rel == "." or rel.startswith("..") or os.path.isabs(rel) else rel.replace(os.sep, "/")


if _adopted_name() is not None:
    ROOT_EXCLUSIONS[str(_adopted_name())] = ("the adopted secrets (make secrets-baseline: salted fingerprints, checked"
                                             " by the gate to hold nothing else)")


def git_list(*args: str) -> list[bytes]:
    proc = subprocess.run(["git", *args], capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()[:300]}")
    return [x for x in proc.stdout.split(b"\0") if x]


def main(out_dir: str) -> int:
    top = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True, check=False)
    if top.returncode != 0 or top.stdout.strip() != b"true":
        print(f"{os.getcwd()} is not a git repository: the files to scan are git's tracked and untracked files",
              file=sys.stderr)
        return 2
    try:
        staged = git_list("ls-files", "-z", "--stage")
        listed = git_list("ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate")
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 2
    gitlinks = {line.split(b"\t", 1)[1] for line in staged if line.startswith(b"160000 ")}
    files, excluded, gaps, links = [], [], [], []
    os.makedirs(os.path.join(out_dir, "symlinks"), exist_ok=True)
    for raw in listed:
        name = os.fsdecode(raw.rstrip(b"/"))
        try:
            mode = os.lstat(name).st_mode  # one lstat tells every case below apart
        except FileNotFoundError:
            mode = None
        except OSError:
            mode = 0  # cannot be looked at: detect-secrets will not read it either, and the gate names it
        if raw in gitlinks or raw.endswith(b"/") or (mode is not None and stat.S_ISDIR(mode)):
            kind, what = ("submodule", "a git submodule") if raw in gitlinks else \
                ("nested-repository", "a nested git repository")
            gaps.append({"id": f"{kind}:{name}",
                         "message": f"{name} is {what}: git lists it as one entry and its files are not scanned "
                                    "(scan that repository on its own)"})
        elif name in ROOT_EXCLUSIONS:
            excluded.append({"item": name, "rule": ROOT_EXCLUSIONS[name]})
        elif mode is None:
            excluded.append({"item": name, "rule": "deleted in the work tree (nothing to read)"})
        elif stat.S_ISLNK(mode):
            try:
                target = os.readlink(raw.rstrip(b"/"))  # bytes: the link's own text, never what it points to
            except OSError:
                excluded.append({"item": name, "rule": "deleted in the work tree (nothing to read)"})
                continue
            with open(os.path.join(out_dir, "symlinks", str(len(links))), "xb") as f:
                f.write(target)
            links.append(name)
            files.append(name)
        elif mode and not stat.S_ISREG(mode):
            excluded.append({"item": name, "rule": "not a regular file (a pipe or a socket: nothing to read)"})
        else:
            files.append(name)
    for file_name, names in (("files", files), ("links", links)):
        with open(os.path.join(out_dir, file_name), "wb") as f:
            f.write(b"".join(os.fsencode(n) + b"\0" for n in names))
    for file_name, items in (("excluded.jsonl", excluded), ("gaps.jsonl", gaps)):
        with open(os.path.join(out_dir, file_name), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(i) + "\n" for i in items)
    print(len(files))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
