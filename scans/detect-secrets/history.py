#!/usr/bin/env python3
"""Summary: the history side of the detect-secrets scan: every blob the commits of a range introduce, read from git.
Usage: python3 -S scans/detect-secrets/history.py COMMAND ARGS...   (scans/detect-secrets/run.sh; run in PROJECT_DIR)

Commands (each writes into WORK/history; exit 0 done, 2 error with the message on stderr):
  range  which commits to read (--since SPEC, run.sh's SECRETS_SINCE; --staged: the index instead) and the blobs
         each introduces; WORK/history/range.json. An incomplete range is an error naming why (below).
  plan   the blobs the cache answers (keyed as the tree scan keys a file: path, git's blob id, the baseline's
         entries for the path), the ones the tree scan is scanning in this run, and the rest, written out of git
         (`git cat-file --batch`, never checked out) under WORK/history/blobs/K/NAME for detect-secrets (the list
         in WORK/history/todo, a working baseline re-keyed to those names in WORK/history/baseline-work.json).
         N is the blob's index in todo and NAME its path's last component (detect-secrets reads a file's type from
         its name): a path from git never becomes a file-system path. range refuses a tree entry whose path could
         leave the folder (scripts/lib/git_paths.py: absolute, `..`, `.git`, too long), an error naming the commit.
         A blob whose answer named findings under the same key before (never cached itself) has the numbers of the
         lines they were at cached (hint_key: line numbers alone, no value, no hash): only those lines are read
         again (not a WHOLE_SUFFIXES file, a key block or a binary blob), mapped back as added lines are; lines
         read alone that name other lines than the hint are a gap, and the hint is dropped (read whole next run).
         With no rest (--staged aside), plan merges too (with --tree-kept) and prints "merged" last.
  merge  detect-secrets' report on the rest plus the answered blobs: every secret of every blob, once per commit
         that introduced it, in WORK/history/occurrences.json (salted hashes only; scans/detect-secrets/history.jq
         makes the findings), the baseline salted alike (WORK/history/baseline-salted.json); what was read in
         WORK/history/coverage.json; the cache saved with the tree scan's
         entries (--tree-kept) or, for the hook, with every entry it held (--carry).
  staged the hook's scan (range --staged, plan, detect-secrets, merge --carry) in one process: run it with
         detect-secrets' own Python, which it imports (scans/detect-secrets/run.sh --staged).

The range (SPEC):
  ""     the commits `git push` would send: HEAD's commits on no remote-tracking ref (`git rev-list HEAD --not
         --remotes`); in a repository without remotes, every commit of HEAD.
  all    every commit of HEAD.
  REV    the commits reachable from HEAD and not from REV (`git rev-list HEAD ^REV`). A REV git does not know is an
         error (in a shallow clone: fetch it). A REV that is not an ancestor of HEAD (a force-push rewrote the
         branch) is no error: the range is still HEAD's commits not reachable from REV, that is every commit since
         their merge base (all of HEAD's history when they share none), which is more than the push sent, never
         less; the result says so (not_ancestor, merge_base).
  In a shallow clone, a commit of the range whose parents were not fetched (listed in git's shallow file) is an
  error naming it: what came before it cannot be told.
A commit introduces, for a commit with one parent, every blob its diff against the parent adds or changes
(`git diff-tree -r --no-renames`: a rename is a new path; a deletion introduces nothing); a root commit (no parent),
every blob of its tree (`git ls-tree -r --full-tree`, what `git diff-tree --root` lists, faster); for a merge, every
blob of its tree that differs from the blob at that path in each of its parents (`git diff-tree -c`): the merge's own
resolution, never what a parent brought (those commits are read in their own right when in the range). range's
entries are {commit, path, mode, blob[, base]}: base, the blob(s) the commit changes (one a parent, comma-separated),
when it changes a file. plan reads of such a blob the lines the commit adds (`git diff-tree -m -p -U0`, streamed;
a merge, the lines it adds to every parent), written one after another with the line each one is in the blob
(merge maps findings back), keyed by both blob ids; whole instead: a new path, a root's or the index's files,
WHOLE_SUFFIXES, a blob git diffs as binary or holding a key block ("-----BEGIN"). A symlink (mode 120000) is its
blob, the target's text: read whole, as a one-line file of no type, written under WORK/history/blobs/K/SYMLINK_FILE
(never a name from the tree) and keyed as the tree scan keys a symlink (cache_adapter.symlink_id). The root's
.env.sample, uv.lock and .secrets.baseline are excluded as in the tree scan; a submodule (mode 160000) is a gap.
--staged reads the index's blobs that differ from HEAD (`git diff-index --cached`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts" / "lib"))
sys.path.insert(0, str(HERE))

from cache import (  # noqa: E402
    Cache, Failure, add_cache_options, cache_settings, canonical, git_text, json_lines, object_format, read_json,
    read_list, run_command, write_json, write_list,
)
from cache_adapter import audits, ds_cache, ds_settings, ds_valid, read_report, salt_results, symlink_id  # noqa: E402
from git_paths import path_problem, shown  # noqa: E402
from inventory import ROOT_EXCLUSIONS  # noqa: E402

STAGED = "staged"  # the "commit" a blob of the index is named by (the hook)
# The result lists at most this many of the range's commit ids (4 KiB of them); the count and a digest name the rest.
COMMITS_LISTED = 100
FILE_MODES = ("100644", "100755")
SYMLINK_MODE = "120000"
SYMLINK = "symlink"  # sorted_entries' base of a symlink's blob (read whole, as a file of no type)
SYMLINK_FILE = "symlink-target"  # the name a symlink's text is written under (WORK/history/blobs/K/SYMLINK_FILE)
# detect-secrets reads the history's blobs in chunks of at most this many files or bytes (each started run costs
# about half a second; a stopped scan loses at most the chunk it was reading).
CHUNK_FILES = int(os.environ.get("SECRETS_HISTORY_CHUNK_FILES") or 3000)  # the variable: for tests
CHUNK_BYTES = 4 << 20
# Files whose lines detect-secrets reads through a parser that joins lines (YAML block values, INI continuations):
# a commit that changes one is read whole, never as its added lines alone.
WHOLE_SUFFIXES = (".yaml", ".yml", ".eyaml", ".ini", ".cfg", ".conf", ".cnf", ".properties", ".toml")
BINARY_RULE = "binary: detect-secrets reads text only (is binary (a NUL byte, not UTF-8 text))"  # as unread.jq


def git_bytes(*args: str, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(["git", *args], input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        raise Failure(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()[:300]}")
    return proc.stdout


def git_ok(*args: str) -> tuple[int, str]:
    proc = subprocess.run(["git", *args], capture_output=True, check=False)
    return proc.returncode, proc.stdout.decode(errors="replace").strip()


def history_dir(work: str) -> Path:
    path = Path(work) / "history"
    path.mkdir(exist_ok=True)
    return path


# --- range -----------------------------------------------------------------------------------------------


def resolve(spec: str, roots: set[str]) -> dict[str, Any]:
    """The range SPEC names: {spec, head, since, not_ancestor, merge_base, remote_refs, commits (oldest first)};
    Failure naming why it cannot be read completely. Adds the range's root commits (no parent) to roots."""
    rc, head = git_ok("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    info: dict[str, Any] = {"spec": spec or "default", "head": head if rc == 0 else None, "since": None,
                            "not_ancestor": False, "merge_base": None, "remote_refs": None, "commits": []}
    shallow = git_ok("rev-parse", "--is-shallow-repository")[1] == "true"
    info["shallow"] = shallow
    if spec not in ("", "all"):
        if re.fullmatch(r"0{40}|0{64}", spec):
            raise Failure(f"SECRETS_SINCE={spec} is the null commit (what GitHub sends as a new branch's 'before'): "
                          "name the commit the branch starts from, or 'all'")
        rc, since = git_ok("rev-parse", "--verify", "--quiet", "--end-of-options", f"{spec}^{{commit}}")
        if rc != 0:
            hint = (" (this is a shallow clone: fetch it, e.g. git fetch --deepen or git fetch origin REV)" if shallow
                    else " (fetch it first)")
            raise Failure(f"SECRETS_SINCE={spec} is not a commit this repository has, so the range cannot be read{hint}")
        info["since"] = since
    if info["head"] is None:
        if spec not in ("", "all"):
            raise Failure(f"SECRETS_SINCE={spec} is set but the repository has no commit (HEAD)")
        return info  # nothing committed: no history to read
    if spec == "":
        refs = [r for r in git_text("for-each-ref", "--format=%(refname)", "refs/remotes").split("\n") if r]
        info["remote_refs"] = len(refs)
        excludes = ["--not", "--remotes"]
    elif spec == "all":
        excludes = []
    else:
        excludes = [f"^{info['since']}"]
        if subprocess.run(["git", "merge-base", "--is-ancestor", info["since"], "HEAD"],
                          capture_output=True, check=False).returncode != 0:
            info["not_ancestor"] = True
            rc, base = git_ok("merge-base", info["since"], "HEAD")
            info["merge_base"] = base if rc == 0 and base else None
    listed = git_text("rev-list", "--topo-order", "--reverse", "--parents", "HEAD", *excludes, "--")
    lines = [line.split() for line in listed.split("\n") if line]
    info["commits"] = [ids[0] for ids in lines]
    roots.update(ids[0] for ids in lines if len(ids) == 1)
    if shallow:
        boundary = set()
        path = git_text("rev-parse", "--git-path", "shallow").strip()
        try:
            boundary = set(Path(path).read_text().split())
        except OSError:
            pass
        cut = [c for c in info["commits"] if c in boundary]
        if cut:
            raise Failure(f"this is a shallow clone and the range reaches commit {cut[0]}, whose parents were not "
                          f"fetched ({len(cut)} such commit(s) in the range), so the commits before it cannot be "
                          "told: fetch the range's history (git fetch --deepen=N, or --unshallow)")
    return info


def parse_raw(data: bytes, commits: set[str] | None) -> list[dict[str, Any]]:
    """`git diff-tree --stdin -r -z --raw [-c]` (or diff-index) output as [{commit, path, mode, blob}] of the
    blobs added or changed; commits: the commit ids the output is headed by (None: no headers, the index)."""
    found, commit = [], STAGED
    tokens = data.split(b"\0")
    i = 0
    while i < len(tokens):
        token = tokens[i].decode("ascii", "replace")
        if not token:
            i += 1
            continue
        if commits is not None and token in commits:
            commit = token
            i += 1
            continue
        if not token.startswith(":") or i + 1 >= len(tokens):
            raise Failure(f"git's list of changed blobs has an unexpected line: {token[:80]}")
        parents = len(token) - len(token.lstrip(":"))
        fields = token.lstrip(":").split()
        if len(fields) != 2 * (parents + 1) + 1:
            raise Failure(f"git's list of changed blobs has an unexpected line: {token[:80]}")
        mode, blob = fields[parents], fields[2 * parents + 1]
        refuse_path(tokens[i + 1], commit)
        path = os.fsdecode(tokens[i + 1])
        i += 2
        if set(blob) == {"0"}:
            continue  # deleted: nothing introduced
        entry = {"commit": commit, "path": path, "mode": mode, "blob": blob}
        bases = fields[parents + 1:2 * parents + 1]
        if (commits is not None and all(m in FILE_MODES for m in fields[:parents])
                and all(set(b) != {"0"} for b in bases)):
            # The blob(s) it changes, one a parent: the commit adds only the lines their diffs add (a merge, the
            # lines it adds to every parent: its own resolution).
            entry["base"] = ",".join(bases)
        found.append(entry)
    return found


def parse_tree(data: bytes, commit: str) -> list[dict[str, Any]]:
    """`git ls-tree -r -z` output ("MODE TYPE ID<TAB>PATH" entries) as parse_raw's [{commit, path, mode, blob}]."""
    found = []
    for token in data.split(b"\0"):
        if not token:
            continue
        meta, tab, raw_path = token.partition(b"\t")
        fields = meta.decode("ascii", "replace").split()
        if not tab or len(fields) != 3:
            raise Failure(f"git's list of a root commit's files has an unexpected line: {token[:80]!r}")
        refuse_path(raw_path, commit)
        found.append({"commit": commit, "path": os.fsdecode(raw_path), "mode": fields[0], "blob": fields[2]})
    return found


def refuse_path(raw: bytes, commit: str) -> None:
    """Failure naming the commit (or the index) when its tree entry's path must not become a file-system path
    (scripts/lib/git_paths.py): a tree built with `git mktree` can name `..`, an absolute path or `.git`."""
    problem = path_problem(raw)
    if problem:
        where = "the index" if commit == STAGED else f"commit {commit}"
        raise Failure(f"{where} has a tree entry {shown(raw)!r} that {problem}: a hostile or corrupt tree, refused "
                      "before anything was written (nothing of it is scanned; rewrite that history or scan another "
                      "range)")


def cmd_range(args: argparse.Namespace) -> None:
    out = history_dir(args.work)
    if args.staged:
        info: dict[str, Any] = {"spec": "staged", "head": None, "since": None, "not_ancestor": False,
                                "merge_base": None, "remote_refs": None, "shallow": False, "commits": [STAGED]}
        rc, head = git_ok("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        # No commit yet: every staged blob is new (against the empty tree).
        against = head if rc == 0 else git_bytes("hash-object", "-t", "tree", "--stdin", stdin=b"").decode().strip()
        info["head"] = head if rc == 0 else None
        entries = parse_raw(git_bytes("diff-index", "--cached", "-r", "-z", "--raw", "--no-renames", against), None)
    else:
        roots: set[str] = set()
        info = resolve(args.since, roots)
        by_commit: dict[str, list[dict[str, Any]]] = {}
        # A root commit introduces its whole tree: `git ls-tree` lists it three times faster than diff-tree --root.
        for root in roots:
            by_commit[root] = parse_tree(git_bytes("ls-tree", "-r", "-z", "--full-tree", root), root)
        others = [c for c in info["commits"] if c not in roots]
        if others:
            data = git_bytes("diff-tree", "--stdin", "-r", "-z", "--raw", "-c", "--no-renames",
                             stdin="".join(c + "\n" for c in others).encode())
            for entry in parse_raw(data, set(others)):
                by_commit.setdefault(entry["commit"], []).append(entry)
        entries = [e for c in info["commits"] for e in by_commit.get(c, [])]
    write_json(out / "range.json", {"range": info, "entries": entries})
    print(f"{len(info['commits'])} {len(entries)}")


# --- plan ------------------------------------------------------------------------------------------------


def sorted_entries(entries: list[dict[str, Any]]) -> tuple[dict[tuple[str, str, str], list[str]], list[dict],
                                                             list[dict]]:
    """({(path, blob, base): [commit...]} of the blobs to scan, the exclusions, the gaps); base is the blob the commits
    change (they add only the lines of the diff between the two), "" when they introduce the whole blob (a new
    path, a root commit, a merge's resolution, a file read whole: WHOLE_SUFFIXES), SYMLINK for a symlink's blob."""
    blobs: dict[tuple[str, str, str], list[str]] = {}
    excluded, gaps = [], []
    for e in entries:
        where = f"{e['path']} in {e['commit'] if e['commit'] == STAGED else 'commit ' + e['commit']}"
        if e["mode"] == "160000":
            gaps.append({"id": f"submodule:{e['path']}",
                         "message": f"{where} is a git submodule: its files are not this repository's and are not "
                                    "scanned (scan that repository on its own)"})
        elif e["path"] in ROOT_EXCLUSIONS:
            excluded.append({"item": e["path"], "rule": ROOT_EXCLUSIONS[e["path"]]})
        elif e["mode"] == SYMLINK_MODE:
            blobs.setdefault((e["path"], e["blob"], SYMLINK), []).append(e["commit"])
        elif e["mode"] in FILE_MODES:
            base = "" if e["path"].lower().endswith(WHOLE_SUFFIXES) else e.get("base", "")
            blobs.setdefault((e["path"], e["blob"], base), []).append(e["commit"])
        else:
            gaps.append({"id": gap_id(e["path"], e["commit"]),
                         "message": f"{where} has git mode {e['mode']}, which the gate cannot read as a file"})
    unique = {json.dumps(x, sort_keys=True): x for x in excluded + gaps}
    return blobs, [x for x in unique.values() if "rule" in x], [x for x in unique.values() if "id" in x]


def gap_id(path: str, commit: str) -> str:
    """A history gap's id: the path and the commit that introduced what was not read (accepting it never accepts a
    later change of the same file); a staged one is the tree's file to be, named as the tree scan names it."""
    return f"not-scanned:{path}" if commit == STAGED else f"not-scanned:{path}@{commit}"


def history_valid(value: Any, path: str) -> bool:
    """A cached value the history takes: the tree's (cache_adapter.ds_valid), or {"unreadable": why}: a blob
    detect-secrets could not read (not UTF-8), remembered so that a warm run names it again without reading it."""
    return ds_valid(value, path) or (isinstance(value, dict) and set(value) == {"unreadable"}
                                     and isinstance(value["unreadable"], str) and value["unreadable"] != "")


def hint_key(cache: Cache, path: str, key: str) -> str:
    """Where the cache keeps the lines at which the answer under key (a blob, or its added lines) named findings."""
    return cache.key(path, f"finding-lines:{key}")


def finding_lines(value: Any, path: str) -> list[int] | None:
    """The lines of the blob at which an answer names findings (None: it names none, or a line is unknown, or the
    blob is read whole anyway: WHOLE_SUFFIXES)."""
    if not (history_valid(value, path) and value.get("results")) or path.lower().endswith(WHOLE_SUFFIXES):
        return None
    lines = {s.get("line_number") for s in value["results"]}
    return sorted(lines) if all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in lines) else None


def hint_valid(value: Any, path: str) -> bool:
    """A cached hint: {"finding_lines": [N, ...]}, line numbers alone (no value, no hash: cache.py keeps it)."""
    return (isinstance(value, dict) and set(value) == {"finding_lines"} and isinstance(value["finding_lines"], list)
            and len(value["finding_lines"]) > 0
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value["finding_lines"]))


def answer_entries(cache: Cache, item: dict[str, Any], value: Any) -> dict[str, Any]:
    """What the cache keeps of an item's answer: the answer under its key (an answer with a finding is never saved:
    cache.py), unless only the lines that held findings were read (a partial answer); and when it names findings,
    the lines it names them at (finding_lines), under hint_key: the next run reads those lines alone."""
    if not item["key"]:
        return {}
    entries = {}
    if "hint" not in item and history_valid(value, item["path"]):
        entries[item["key"]] = {"path": item["path"], "value": value}
    lines = finding_lines(value, item["path"])
    if lines is not None:
        entries[hint_key(cache, item["path"], item["key"])] = {"path": item["path"], "value": {"finding_lines": lines}}
    return entries


def tree_exclusions(work: Path) -> set[str]:
    """The exclusions the tree scan recorded (WORK/excluded.jsonl), canonical: the history lists only others."""
    try:
        with open(work / "excluded.jsonl", encoding="utf-8") as f:
            return {canonical(json.loads(line)) for line in f if line.strip()}
    except FileNotFoundError:
        return set()
    except (OSError, ValueError) as e:
        raise Failure(f"the tree scan's exclusions cannot be read: {e}") from e


HUNK = re.compile(rb"@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
LONE_CR = re.compile(rb"\r(?!$)")


def added_lines(work: Path, pairs: dict[tuple[str, str], str]) -> dict[tuple[str, str], list[tuple[int, int]] | None]:
    """{(base, blob): the line ranges [(first, count)] the diff from base to blob adds, or None when git diffs them as
    binary}, for pairs {(base, blob): a commit that changes base to blob}: one `git diff-tree -p -U0` over those
    commits, streamed (its hunks' headers read, their lines skipped by count). A pair the output lacks is absent."""
    found: dict[tuple[str, str], list[tuple[int, int]] | None] = {}
    commits = sorted(set(pairs.values()))
    listing = work / "diff-commits"
    listing.write_text("".join(c + "\n" for c in commits), encoding="ascii")
    with open(listing, "rb") as stdin:
        proc = subprocess.Popen(["git", "-c", "core.quotePath=true", "diff-tree", "--stdin", "-r", "-m", "-p", "-U0",
                                 "--full-index", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv",
                                 "--diff-algorithm=myers", "--format=%H"],
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    current: tuple[str, str] | None = None
    lines = proc.stdout
    for line in lines:
        if line.startswith(b"index "):
            ids = line[6:].split(b" ", 1)[0].split(b"..")
            current = (ids[0].decode(), ids[1].decode()) if len(ids) == 2 else None
            if current in pairs:
                found.setdefault(current, [])
            else:
                current = None
        elif line.startswith(b"@@ "):
            m = HUNK.match(line)
            if m is None:
                raise Failure(f"git diff-tree printed a hunk header it cannot be read from: {line[:80]!r}")
            removed, first, count = int(m[1] or 1), int(m[2]), int(m[3] or 1)
            if current is not None and count and found[current] is not None:
                found[current].append((first, count))  # type: ignore[union-attr]
            left = removed + count
            while left:  # the hunk's own lines, any of which could look like a header
                body = lines.readline()
                if not body:
                    break
                if not body.startswith(b"\\"):  # "\ No newline at end of file" is no line of the hunk
                    left -= 1
        elif current is not None and (line.startswith(b"Binary files ") or line.startswith(b"GIT binary patch")):
            found[current] = None
    proc.stdout.close()
    if proc.wait() != 0:
        raise Failure(f"git diff-tree could not list the lines the range's commits add (exit {proc.returncode})")
    listing.unlink()
    return found


def common_lines(diffs: list[list[tuple[int, int]] | None]) -> list[tuple[int, int]] | None:
    """The line ranges every one of diffs adds (a merge's diffs against each parent); None when one is None."""
    if any(d is None for d in diffs):
        return None
    if len(diffs) == 1:
        return diffs[0]
    sets = [{n for first, count in d for n in range(first, first + count)} for d in diffs]  # type: ignore[union-attr]
    ranges: list[tuple[int, int]] = []
    for n in sorted(set.intersection(*sets)):
        if ranges and ranges[-1][0] + ranges[-1][1] == n:
            ranges[-1] = (ranges[-1][0], ranges[-1][1] + 1)
        else:
            ranges.append((n, 1))
    return ranges


def check_objects(work: Path, todo: list[dict[str, Any]]) -> None:
    """Failure naming the commit and the path of the first blob of todo (or the blob it changes) git does not have
    (`git cat-file --batch-check`, one run): a damaged or partial clone."""
    wanted: dict[str, dict[str, Any]] = {}
    for item in todo:
        for blob in [item["blob"], *filter(None, item["base"].split(","))]:
            wanted.setdefault(blob, item)
    listing = work / "objects"
    listing.write_text("".join(b + "\n" for b in wanted), encoding="ascii")
    with open(listing, "rb") as stdin:
        found = subprocess.run(["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"], stdin=stdin,
                               capture_output=True, check=False)
    listing.unlink()
    for line in found.stdout.decode(errors="replace").splitlines():
        blob, _, kind = line.partition(" ")
        if kind != "blob" and blob in wanted:
            item = wanted[blob]
            what = "" if blob == item["blob"] else f" (the blob it changes, {blob})"
            raise Failure(f"git has no object {blob}: {item['path']!r} in commit {item['commits'][0]}{what} cannot "
                          "be read (a damaged or partial clone: fetch it again)")
    if found.returncode != 0:
        raise Failure(f"git cat-file could not check the history's objects: {found.stderr.decode(errors='replace')[:200]}")


def compact(data: bytes, ranges: list[tuple[int, int]]) -> tuple[bytes, list[int]]:
    """The lines of data in ranges (git's numbering: lines end at "\n"), one after another, and for each line
    detect-secrets will count in them (it also breaks lines at a lone "\r") the line of data it is."""
    parts = data.split(b"\n")
    kept, where = [], []
    for first, count in ranges:
        for n in range(first, min(first + count, len(parts) + 1)):
            line = parts[n - 1]
            kept.append(line)
            where.extend([n] * (1 + len(LONE_CR.findall(line))) if b"\r" in line else [n])
    return b"\n".join(kept) + b"\n", where


def write_blobs(todo: list[dict[str, Any]], blob_dir: Path) -> None:
    """Each item's blob written to blob_dir/NAME (K/BASENAME: by number, never by the path from git), streamed out
    of one `git cat-file --batch` (one blob in memory at a time); a missing object is a Failure naming the commit and
    the path."""
    ids = blob_dir / "ids"
    ids.write_text("".join(i["blob"] + "\n" for i in todo), encoding="ascii")
    with open(ids, "rb") as stdin:
        proc = subprocess.Popen(["git", "cat-file", "--batch"], stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        for item in todo:
            header = proc.stdout.readline().decode(errors="replace").split()
            if len(header) != 3 or header[1] != "blob":
                where = f"{item['path']!r} in {item['commits'][0]}"
                raise Failure(f"git cat-file could not read blob {item['blob']} ({where}): "
                              f"{' '.join(header[1:])[:80] or 'no answer'} (a missing object: fetch it, or the "
                              "repository is damaged)")
            size = int(header[2])
            target = blob_dir / item["name"]
            target.parent.mkdir(exist_ok=True)
            ranges = item.pop("ranges", None)
            with open(target, "xb") as f:
                if ranges is not None:  # the lines its commits add (one blob in memory)
                    data = proc.stdout.read(size)
                    if len(data) != size:
                        raise Failure(f"git cat-file stopped inside blob {item['blob']}")
                    if b"\0" in data or b"-----BEGIN" in data:
                        # binary (detect-secrets reads it as such), or a key block: read whole, under its whole key
                        f.write(data)
                        item["key"], item["base"] = item.pop("whole_key"), ""
                    else:
                        text, item["lines"] = compact(data, ranges)
                        f.write(text)
                        item.pop("whole_key")
                else:
                    left = size
                    while left:
                        chunk = proc.stdout.read(min(left, 1 << 20))
                        if not chunk:
                            raise Failure(f"git cat-file stopped inside blob {item['blob']}")
                        f.write(chunk)
                        left -= len(chunk)
            proc.stdout.read(1)
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
        proc.stderr.close()  # type: ignore[union-attr]
    ids.unlink()


def write_chunks(out: Path, todo: list[dict[str, Any]]) -> int:
    """The names of todo in WORK/history/todo.0, todo.1, ... (CHUNK_FILES names or CHUNK_BYTES of blobs at most
    each): detect-secrets reads them one chunk a run, each chunk's answers kept before the next starts; their
    number."""
    chunks: list[list[str]] = []
    size = CHUNK_BYTES
    for item in todo:
        length = (out / "blobs" / item["name"]).stat().st_size
        if not chunks or size + length > CHUNK_BYTES or len(chunks[-1]) >= CHUNK_FILES:
            chunks.append([])
            size = 0
        chunks[-1].append(item["name"])
        size += length
    for n, names in enumerate(chunks):
        write_list(out / f"todo.{n}", names)
    return len(chunks)


def cmd_plan(args: argparse.Namespace) -> None:
    out = history_dir(args.work)
    work = Path(args.work)
    recorded = read_json(out / "range.json")
    blobs, excluded, gaps = sorted_entries(recorded["entries"])
    tree_plan = read_json(work / "plan.json") if (work / "plan.json").exists() and not args.staged else None
    if tree_plan is not None:
        cache_dir, tool_id = tree_plan["cache_dir"], tree_plan["tool_id"]
    else:
        cache_dir, tool_id, _ = cache_settings(args)
        if ds_settings(args.baseline)[2]:
            cache_dir = ""
    cache, known = ds_cache(args, cache_dir, tool_id)
    cache.load()
    tree_todo = set(read_list(str(work / "todo"))) if tree_plan is not None and (work / "todo").exists() else set()
    if tree_plan is not None and (work / "todo-links").exists():  # the tree's symlinks it is scanning, by number
        numbers = set(read_list(str(work / "todo-links")))
        tree_todo |= {f["name"] for f in tree_plan["files"] if f.get("link") in numbers}
    # The tree scan's files by path: a blob that is the tree's file at the same path has the tree's key (the same
    # path, blob id and baseline entries) and the tree's answer, without a lookup of its own.
    tree_files = {f["name"]: f for f in tree_plan["files"]} if tree_plan is not None else {}
    tree_hits = tree_plan["hits"] if tree_plan is not None else {}
    plan, todo, hits, deferred = [], [], 0, 0
    folders: dict[str, int] = {}  # {file name: the folders holding one already}
    for (path, blob, base), commits in sorted(blobs.items()):
        # The whole blob's answer (the tree's, or the cache's) answers its added lines too (it holds them).
        link = base == SYMLINK
        base = "" if link else base
        same = tree_files.get(path)
        if same is not None and same.get("sha") == blob and same["key"] and ("link" in same) == link:
            key, value = same["key"], tree_hits.get(path)
        else:
            key = cache.key(path, symlink_id(blob) if link else blob, audits(known, path)) if cache_dir else None
            value = cache.get(key, path, history_valid) if key else None
        item = {"path": path, "blob": blob, "base": base, "commits": commits, "key": key, "value": value,
                "name": None}
        if value is None and base and not (key and same is not None and same["key"] == key and path in tree_todo):
            # Its added lines: keyed by both blobs (the diff between them is what is read).
            item["whole_key"], item["key"] = key, cache.key(path, f"{blob}+{base}", audits(known, path)) if key else None
            item["value"] = value = cache.get(item["key"], path, history_valid) if key else None
            if value is not None:
                item.pop("whole_key")
        if value is not None:
            hits += 1
        elif key and same is not None and same["key"] == key and path in tree_todo:
            item["from_tree"] = True  # the tree scan reads the same content at the same path in this run
            deferred += 1
        else:
            # Written by number: the path from git only lends its last component (detect-secrets reads a file's
            # type from its name), refused already when it could leave the folder (refuse_path). Folder K holds
            # the (K+1)th blob of each name, so the folders are as many as the commonest name's blobs, not one a
            # blob (creating and removing a folder a blob cost more than the scan's own SCAN_TIMEOUT could hold).
            base_name = SYMLINK_FILE if link else path.rsplit('/', 1)[-1]
            folder = folders.get(base_name, 0)
            folders[base_name] = folder + 1
            item["name"] = f"{folder}/{base_name}"
            # Its answer named findings before, under this very key: the rest of it held none, so only the lines
            # they were at are read (the answer's other lines are known clean); never a blob read whole anyway.
            hint = cache.get(hint_key(cache, path, item["key"]), path, hint_valid) if item["key"] else None
            if hint is not None and not link and not path.lower().endswith(WHOLE_SUFFIXES):
                item["hint"] = hint["finding_lines"]
                item.setdefault("whole_key", item["key"])
            todo.append(item)
        plan.append(item)
    blob_dir = out / "blobs"
    shutil.rmtree(blob_dir, ignore_errors=True)
    blob_dir.mkdir()
    if todo:
        check_objects(out, todo)
        pairs = {(b, i["blob"]): i["commits"][0] for i in todo if i["base"] and "hint" not in i
                 for b in i["base"].split(",")}
        diffs = added_lines(out, pairs) if pairs else {}
        for item in todo:
            if "hint" in item:
                item["ranges"] = [(n, 1) for n in item["hint"]]
            elif item["base"]:
                ranges = common_lines([diffs.get((b, item["blob"])) for b in item["base"].split(",")])
                if ranges is None:  # binary to git, or no diff found: read whole, under the whole key
                    item["key"], item["base"] = item.pop("whole_key"), ""
                else:
                    item["ranges"] = ranges
        write_blobs(todo, blob_dir)
        for item in todo:
            if "hint" in item and "lines" not in item:
                del item["hint"]  # read whole after all (binary, a key block): a whole answer
    write_list(out / "todo", [i["name"] for i in todo])
    chunks = write_chunks(out, todo)
    known = tree_exclusions(work)
    with open(out / "excluded.jsonl", "w", encoding="utf-8") as f:
        f.write(json_lines(x for x in excluded if canonical(x) not in known))
    with open(out / "gaps.jsonl", "w", encoding="utf-8") as f:
        f.write(json_lines(gaps))
    summary = {"blobs": plan, "cache_dir": cache_dir, "tool_id": tool_id, "excluded": excluded, "gaps": gaps}
    if not todo and not args.staged:
        # Nothing for detect-secrets to read: merge now, with the cache as loaded (saved only if it changed).
        merge(args, out, summary, recorded, cache)
        print(f"{len(plan)} {hits} {deferred} 0 merged")
        return
    baseline = read_json(args.baseline) if args.baseline else None
    if isinstance(baseline, dict):
        results = baseline.get("results") if isinstance(baseline.get("results"), dict) else {}
        baseline["results"] = {i["name"]: results[i["path"]] for i in todo if i["path"] in results}
        baseline["generated_at"] = "not-written-by-this-run"
        write_json(out / "baseline-work.json", baseline)
    write_json(out / "plan.json", summary)
    print(f"{len(plan)} {hits} {deferred} {len(todo)} {chunks}")


# --- merge -----------------------------------------------------------------------------------------------


def unread_reason(path: Path) -> tuple[str, bool]:
    """Why detect-secrets read nothing of a blob written out to path: (reason, binary)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return ("is binary (a NUL byte, not UTF-8 text)", True) if b"\0" in data else ("is text but not UTF-8", False)
    return "was not read by detect-secrets (no reason known)", False


def range_digest(commits: list[str]) -> dict[str, Any]:
    """What the result records of the range's commits (oldest first): their number, a digest of the whole list (sha256
    of the ids, each followed by a newline: `git rev-list --topo-order --reverse` of the range, piped to sha256sum,
    gives it) and the first COMMITS_LISTED ids; all of them when there are no more (commits_listed says which)."""
    return {"commit_count": len(commits), "commits_listed": min(len(commits), COMMITS_LISTED),
            "commits_sha256": hashlib.sha256("".join(c + "\n" for c in commits).encode()).hexdigest(),
            "commits": commits[:COMMITS_LISTED]}


def answers_of(items: list[dict[str, Any]], report: str, scanned_list: str, out: Path,
               cache: Cache) -> dict[str, Any]:
    """{name: value} for the items detect-secrets was given (its report, the names it read): the results of a blob
    it read (salted, at their line in the blob), why it read nothing of one it did not (binary, or not UTF-8)."""
    if not items:
        return {}
    fresh = salt_results(read_report(report, "report on the history's blobs")["results"], cache, adopt=True)
    scanned = set(read_list(scanned_list)) if scanned_list else set()
    answers = {}
    for item in items:
        if item["name"] in scanned:
            secrets = []
            lines = item.get("lines")  # read as its added lines: the line in the blob each one is
            for s in fresh.get(item["name"], []):
                s = dict(s)
                s["filename"] = item["path"]
                if lines is not None and isinstance(s.get("line_number"), int):
                    n = s["line_number"]
                    s["line_number"] = lines[n - 1] if 0 < n <= len(lines) else None
                secrets.append(s)
            answers[item["name"]] = {"results": secrets}
        else:
            reason, binary = unread_reason(out / "blobs" / item["name"])
            answers[item["name"]] = {"excluded": BINARY_RULE} if binary else {"unreadable": reason}
    return answers


def read_answers(path: Path) -> dict[str, Any]:
    answers = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            answers[item["name"]] = item["value"]
    return answers


def cmd_absorb(args: argparse.Namespace) -> None:
    """One chunk's answers (todo.N, detect-secrets' report on it): appended to WORK/history/answers.jsonl for merge,
    and to the cache's journal at once, so that a scan stopped later (its timeout) keeps them."""
    out = history_dir(args.work)
    plan = read_json(out / "plan.json")
    names = set(read_list(str(out / f"todo.{args.chunk}")))
    items = [i for i in plan["blobs"] if i["name"] in names]
    cache, _ = ds_cache(args, plan["cache_dir"], plan["tool_id"])
    answers = answers_of(items, args.fresh, args.scanned, out, cache)
    entries: dict[str, Any] = {}
    for i in items:
        entries.update(answer_entries(cache, i, answers[i["name"]]))
    cache.journal(entries)
    with open(out / "answers.jsonl", "a", encoding="utf-8") as f:
        f.write("".join(json.dumps({"name": n, "value": v}, separators=(",", ":")) + "\n" for n, v in answers.items()))
    print(len(items))


def cmd_merge(args: argparse.Namespace) -> None:
    out = history_dir(args.work)
    plan = read_json(out / "plan.json")
    recorded = read_json(out / "range.json")
    cache, _ = ds_cache(args, plan["cache_dir"], plan["tool_id"])
    if args.carry:
        cache.load()
        cache.carry()
    print(merge(args, out, plan, recorded, cache))


def merge(args: argparse.Namespace, out: Path, plan: dict[str, Any], recorded: dict[str, Any], cache: Cache) -> int:
    """The merge (see the module's summary) of plan and the range recorded, with the cache (loaded, or not: saving
    then writes it whatever it held); the number of occurrences."""
    tree_fresh = cache.keep_from(args.tree_kept) if args.tree_kept else {}
    todo = [i for i in plan["blobs"] if i["name"]]
    if (out / "answers.jsonl").exists():  # detect-secrets ran chunk by chunk, each one absorbed
        answers = read_answers(out / "answers.jsonl")
        missing = [i["name"] for i in todo if i["name"] not in answers]
        if missing:
            raise Failure(f"{len(missing)} of the history's blobs have no answer (a chunk did not run): {missing[0]}")
    else:
        answers = answers_of(todo, args.fresh, args.scanned, out, cache)
    occurrences, gaps, excluded_blobs, left_to_tree = [], [], 0, 0
    for item in plan["blobs"]:
        path, value = item["path"], item["value"]
        if item.get("from_tree"):
            entry = tree_fresh.get(item["key"]) if isinstance(tree_fresh, dict) else None
            value = entry["value"] if isinstance(entry, dict) and ds_valid(entry.get("value"), path) else None
            if value is None:
                # The tree scan read this very content at this path and kept no result: it named the file in its
                # own result (a gap: not UTF-8, unreadable, unverifiable), which covers the history's copy too.
                left_to_tree += 1
                continue
        elif item["name"]:
            value = answers[item["name"]]
        if "hint" in item and finding_lines(value, path) != item["hint"]:
            # Its lines read alone did not name what the whole blob named under the same key: never trusted; the
            # hint is dropped, so that the next run reads it whole.
            cache.load()
            cache.entries.pop(hint_key(cache, path, item["key"]), None)
            gaps.append({"id": gap_id(path, item["commits"][0]),
                         "message": f"detect-secrets read the lines of {path} (commit {item['commits'][0]}) that held "
                                    "findings differently from the whole blob: it is read whole in the next run"})
            continue
        for key, entry in answer_entries(cache, item, value).items():
            cache.keep(key, path, entry["value"])
        if "unreadable" in value:
            where = ", ".join(item["commits"][:3]) + (", ..." if len(item["commits"]) > 3 else "")
            gaps.append({"id": gap_id(path, item["commits"][0]),
                         "message": f"detect-secrets did not scan {path} as committed in {where}: it "
                                    f"{value['unreadable']} (accept the gap, or rewrite that history)"})
            continue
        if "excluded" in value:
            excluded_blobs += 1
            continue
        for commit in item["commits"]:
            for s in value["results"]:
                occurrences.append({"commit": commit, "path": path, "line": s.get("line_number"), "type": s["type"],
                                    "hashed_secret": s["hashed_secret"], "adoption": s.get("adoption")})
    cache.save()
    committed = read_json(args.baseline) if args.baseline else {"results": {}}
    if isinstance(committed, dict) and isinstance(committed.get("results"), dict):
        committed["results"] = salt_results(committed["results"], cache)
    write_json(out / "baseline-salted.json", committed)
    order = {c: n for n, c in enumerate(recorded["range"]["commits"])}
    occurrences.sort(key=lambda o: (order.get(o["commit"], 0), o["path"], o["line"] or 0, o["type"]))
    write_json(out / "occurrences.json", occurrences)
    with open(out / "unread-gaps.jsonl", "w", encoding="utf-8") as f:
        f.write(json_lines(gaps))
    info = dict(recorded["range"])
    info.update(range_digest(info["commits"]))
    info.update(blobs=len(plan["blobs"]), blobs_read=len(todo), blobs_from_cache=sum(1 for i in plan["blobs"]
                                                                                     if i["value"] is not None),
                blobs_from_tree_scan=sum(1 for i in plan["blobs"] if i.get("from_tree")),
                binary_blobs=excluded_blobs, blobs_named_by_tree_scan=left_to_tree,
                blobs_read_as_added_lines=sum(1 for i in todo if i.get("lines") is not None and "hint" not in i),
                blobs_read_as_finding_lines=sum(1 for i in todo if "hint" in i))
    write_json(out / "coverage.json", {"history": info})
    # The hook's coverage for the gate: the staged blobs to read, and the ones detect-secrets read (binary ones are
    # excluded, the others named).
    write_json(out / "gate-coverage.json", {"inventory": info["blobs"], "scanned": info["blobs"] - info["binary_blobs"]})
    return len(occurrences)


def cmd_staged(args: argparse.Namespace) -> None:
    """The hook's scan in one process (run under detect-secrets' own Python, so that nothing starts twice): range
    and plan of the index's changed blobs, detect-secrets' own command line on the ones the cache does not answer
    (widened by widen.py, in this process), merge."""
    import contextlib
    import io

    args.staged = True
    out = history_dir(args.work)
    with contextlib.redirect_stdout(io.StringIO()):
        cmd_range(args)
        cmd_plan(args)
    names = read_list(str(out / "todo"))
    record = out / "read"
    record.mkdir(exist_ok=True)
    fresh = out / "detect-secrets.json"
    if names:
        import widen
        from detect_secrets.main import main as detect_secrets

        widen.install(str(record))
        argv = args.scan_args.split()  # then the baseline, then widen.py's options: as run.sh orders them
        here, prog = os.getcwd(), sys.argv
        os.chdir(out / "blobs")
        try:
            if args.baseline:
                argv += ["--baseline", str(out / "baseline-work.json")]
            argv += [*widen.cli_args(), "--", *names]
            sys.argv = ["detect-secrets", *argv]  # as its entry point has it (its parser reads it again)
            with open(fresh if not args.baseline else os.devnull, "w", encoding="utf-8") as f, \
                    contextlib.redirect_stdout(f):
                rc = detect_secrets(argv)
            if args.baseline:
                shutil.copyfile(out / "baseline-work.json", fresh)
        finally:
            os.chdir(here)
            sys.argv = prog
        if rc:
            raise Failure(f"detect-secrets exited {rc} on the staged blobs")
    read = b"".join((record / f).read_bytes() for f in sorted(os.listdir(record)))
    (out / "read.list").write_bytes(read)
    args.fresh, args.scanned, args.carry, args.tree_kept = str(fresh), str(out / "read.list"), True, ""
    with contextlib.redirect_stdout(io.StringIO()):
        cmd_merge(args)
    info = read_json(out / "coverage.json")["history"]
    print(f"staged: {info['blobs']} blob(s): {info['blobs_from_cache']} from the cache, {info['blobs_read']} scanned",
          file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="history.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, func in (("range", cmd_range), ("plan", cmd_plan), ("absorb", cmd_absorb), ("merge", cmd_merge),
                       ("staged", cmd_staged)):
        sp = sub.add_parser(name)
        add_cache_options(sp)
        sp.add_argument("--since", default="", help="range: SECRETS_SINCE")
        sp.add_argument("--staged", action="store_true", help="the index's blobs that differ from HEAD")
        sp.add_argument("--baseline", default="", help="the committed baseline (copy); empty: none")
        sp.add_argument("--fresh", default="", help="merge: detect-secrets' report on the blobs of todo")
        sp.add_argument("--scanned", default="", help="merge: the NUL-separated names detect-secrets read")
        sp.add_argument("--tree-kept", default="", help="merge: the tree scan's cache entries (cache_adapter --keep-to)")
        sp.add_argument("--chunk", default="0", help="absorb: which chunk of todo (todo.N) the report is on")
        sp.add_argument("--carry", action="store_true", help="merge: keep every entry the cache holds (the hook)")
        sp.add_argument("--scan-args", default="scan", help="staged: detect-secrets' command line, up to the files")
        sp.set_defaults(func=func)
    return p


if __name__ == "__main__":
    sys.exit(run_command(parser(), sys.argv[1:]))
