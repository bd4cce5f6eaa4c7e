#!/usr/bin/env python3
"""Summary: what kingfisher reads and what the gate keeps of its answer (scans/kingfisher/run.sh; run in PROJECT_DIR).
Usage: python3 -S scans/kingfisher/adapter.py prepare --work WORK --mode tree|staged KEY...
       python3 -S scans/kingfisher/adapter.py absorb --work WORK --run SET-K KEY...
       python3 -S scans/kingfisher/adapter.py check --work WORK
       python3 -S scans/kingfisher/adapter.py report --work WORK [--baseline FILE] KEY...
       KEY: --cache-dir DIR (SECURITY_CACHE_DIR, "" off) --tool-id "kingfisher VERSION" --tool-args "ARGS"

prepare  writes every file kingfisher must read into WORK/kf/blobs, each under a number (N), never under a name
         from the tree or from git: tree, the files of scans/detect-secrets/inventory.py's list (WORK/inventory/files)
         copied from the work tree; history and staged, the blobs of scans/detect-secrets/history.py's range
         (WORK/history/range.json) read with one `git cat-file --batch`, one per (path, blob) with the commits that
         introduced it, excluded and gaps as the detect-secrets history scan has them. The root uv.lock (of the tree, or
         of a commit of the range) goes to WORK/kf/lock, read with the uv.lock rule alone. A canary of known-format
         tokens (CANARY), built now from prefixes and random characters, joins each set (never a finding, never
         coverage). The inputs of each kingfisher run in WORK/kf/batches/SET-K (NUL-separated names, BATCH at most);
         WORK/kf/items.json says what each number is. A history blob the tree's file at its path holds is left to
         the tree (read once). A (path, blob) the cache answers (kf_cache: an earlier run's answer under the same
         key, made without a finding) is neither read out of git nor written: an item with its answer, not handed to
         kingfisher, counted as read. The runs: CHUNK_BUCKETS folders each. Prints the number of files to read
         (answered ones too), of the history's blobs left to the tree, and of those left unwritten because
         --budget ran out (the scan is then an error; the next run continues).
absorb   after each run: the answers of the files of the folders that run read whole without a finding, appended to
         the cache's journal (a scan stopped later keeps them; scripts/lib/cache.py).
report   reads kingfisher's JSON reports (WORK/kf/out/SET-K.json, written in the run's temporary folder, values and
         all) and keeps none of what could hold a value or an unsalted hash of one (snippet, fingerprint,
         validation, validate_command). Each file handed to kingfisher must be in its audit record, completed, with
         at least one blob scanned, else a gap naming the file; a canary class without a finding is an error. Of
         the findings it drops (counted, never listed by value): the canary's, a line carrying detect-secrets'
         `pragma: allowlist secret`, documented
         placeholders and lock-file digests (scripts/lib/placeholders.py), gate.django.secret-key outside a .py file
         and a "django-insecure-" key in a test settings module. The value's SHA-1 (detect-secrets' hashed_secret) is
         matched against .secrets.baseline's audited entries for the same path (for the history: for any path) and
         then kept only salted (Cache.salted of scripts/lib/cache.py, HMAC-SHA-256 by its key), as the finding's
         fingerprint; with an adoption file, its adoption fingerprint too (scripts/lib/adoption.py: a slow salted
         hash, what .security-secrets-adopted.json records). One finding per secret and place: kingfisher's rules that fire on the same value and line are
         one finding (the other rules' ids in aliases); the history's same secret in many commits is one finding at
         the oldest, and one the tree reports is left to it.
         Writes WORK/kf/findings.json (for normalize.jq), WORK/kf/sanitized.json (the raw report the gate keeps),
         WORK/kf/gaps.jsonl, WORK/kf/excluded.jsonl, WORK/kf/problems (one error a line: canary misses, a broken
         report) and prints "INVENTORY SCANNED DROPPED". Keeps in the cache the answers of the files read without a
         finding ({"dropped": {why: count}}: never a value, a hash or a line) and the ones it answered, and writes
         the result's "cache" field (WORK/cache-stats.json: hits, the files the cache answered; misses, the ones
         kingfisher was handed).
Exit 0 done, 2 error with the message on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts" / "lib"))
sys.path.insert(0, str(HERE.parent / "detect-secrets"))

import adoption  # noqa: E402
from cache import Cache, Failure, is_int, object_format, read_json, read_list, shown, write_json, write_stats  # noqa: E402
from inventory import ROOT_EXCLUSIONS  # noqa: E402

from placeholders import is_digest_line, is_placeholder  # noqa: E402

LOCK = "uv.lock"  # the root lock file: read with the uv.lock rule alone
BUCKET = 500  # files a folder: kingfisher reads each folder as one input, its audit record counts each folder's
BATCH = 2000  # inputs per kingfisher run of a recheck: its command line stays far below the kernel's limits
# Folders per kingfisher run (4,000 files): each run's answers are kept (absorb) before the next starts, so that a
# scan stopped by its timeout keeps what it finished; each run costs about half a second to start.
CHUNK_BUCKETS = 8
STAGED = "staged"
DJANGO_RULE = "gate.django.secret-key"
TEST_SETTINGS = re.compile(r"(^|/)(tests?|testing)(/|$)|(^|/)[^/]*test[^/]*\.py$", re.IGNORECASE)
ALLOW = "pragma: allowlist secret"


def rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


HEX = "0123456789abcdef"
# The canary: one small file per class, each a token in the provider's documented format, assembled here from its
# prefix and random characters (none is stored anywhere); (class, set, text). A class kingfisher does not find is an
# error naming it: its rules, its built-ins or the gate's own, did not fire.
CANARY = (
    ("Slack app-level token (xapp-)", "main",
     lambda: f"SLACK_APP_TOKEN=xapp-1-A{rand(10, string.ascii_uppercase + string.digits)}-{rand(13, string.digits)}-"
             f"{rand(64, HEX)}\n"),
    ("Databricks token (dapi)", "main", lambda: f"DATABRICKS_TOKEN=dapi{rand(32, HEX)}\n"),
    ("Shopify access token (shpat_)", "main", lambda: f"SHOPIFY_TOKEN=shpat_{rand(32, HEX)}\n"),
    ("DigitalOcean token (dop_v1_)", "main", lambda: f"DIGITALOCEAN_TOKEN=dop_v1_{rand(64, HEX)}\n"),
    ("GitHub token (ghp_)", "main", lambda: f"GITHUB_TOKEN=ghp_{rand(36)}\n"),
    ("Django SECRET_KEY (gate rule)", "main",
     lambda: "SECRET_KEY = " + repr(rand(50, string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)")) + "\n"),
    ("Discord webhook (gate rule)", "main",
     lambda: f"WEBHOOK = 'https://discord.com/api/webhooks/{rand(18, string.digits)}/"
             f"{rand(68, string.ascii_letters + string.digits + '_-')}'\n"),
    ("password in an .env file (gate rule)", "main", lambda: f"DB_PASSWORD={rand(24)}\n"),
    ("credentials in a uv.lock URL (gate rule)", "lock",
     lambda: f'[[package]]\nname = "canary"\nsource = {{ registry = "https://ci:{rand(24)}@pkgs.example.com/simple" }}\n'),
)


# --- prepare -------------------------------------------------------------------------------------------------


class Writer:
    """Numbered files, BUCKET to a folder, under WORK/kf/main (the main set) and WORK/kf/lock (the uv.lock set),
    and what each is."""

    def __init__(self, work: Path, cache: Cache) -> None:
        self.kf = work / "kf"
        self.cache = cache
        if self.kf.exists():
            shutil.rmtree(self.kf)
        for sub in ("main", "lock", "batches", "rechecks", "out"):
            (self.kf / sub).mkdir(parents=True)
        for name in ("excluded.jsonl", "gaps.jsonl"):
            (self.kf / name).write_text("", encoding="utf-8")
        self.items: list[dict[str, Any]] = []
        self.counts = {"main": 0, "lock": 0}
        self.tree: dict[str, str] = {}  # {path: git's blob id} of the tree's files, which the history need not read again
        self.deferred = 0  # the history's blobs the tree's files already are
        self.budget: float | None = None  # time.monotonic() after which no more history blobs are written
        self.left = 0  # the history's blobs left unwritten for want of time (budget)

    def answered(self, kind: str, path: str, blob: str, commits: list[str] | None) -> bool:
        """Whether the cache answers (path, blob) of the set kind (kf_key): then an item with its cached answer and
        no file (kingfisher is not handed it)."""
        key = kf_key(self.cache, kind, path, blob)
        value = self.cache.get(key, path, kf_valid) if key else None
        if value is None:
            return False
        self.items.append({"n": len(self.items), "name": None, "bucket": None, "set": kind, "path": path,
                           "commits": commits, "canary": None, "size": 0, "key": key, "cached": value})
        return True

    def add(self, data: bytes, kind: str, path: str | None, commits: list[str] | None, canary: str | None = None,
            blob: str | None = None) -> None:
        n = len(self.items)
        bucket = str(self.counts[kind] // BUCKET)
        self.counts[kind] += 1
        folder = self.kf / kind / bucket
        folder.mkdir(exist_ok=True)
        (folder / str(n)).write_bytes(data)
        key = kf_key(self.cache, kind, path, blob) if path is not None and blob else None
        self.items.append({"n": n, "name": f"{bucket}/{n}", "bucket": bucket, "set": kind, "path": path,
                           "commits": commits, "canary": canary, "size": len(data), "key": key, "cached": None})

    def finish(self) -> int:
        for cls, kind, make in CANARY:
            self.add(make().encode(), kind, None, None, cls)
        for kind in ("main", "lock"):
            buckets = sorted({i["bucket"] for i in self.items if i["set"] == kind and i["bucket"] is not None},
                             key=int)
            for k in range(0, len(buckets), CHUNK_BUCKETS):
                (self.kf / "batches" / f"{kind}-{k // CHUNK_BUCKETS}").write_bytes(
                    b"".join(x.encode() + b"\0" for x in buckets[k:k + CHUNK_BUCKETS]))
        write_json(self.kf / "items.json", self.items)
        return sum(1 for i in self.items if i["canary"] is None)


def read_blobs(ids: list[str]):
    """(blob id, content) of each id, streamed from one `git cat-file --batch` (never all of them in memory)."""
    proc = subprocess.Popen(["git", "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        try:
            proc.stdin.write("".join(i + "\n" for i in ids).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass

    import threading
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        for blob in ids:
            header = proc.stdout.readline().decode(errors="replace").split()
            if len(header) != 3 or header[1] != "blob" or header[0] != blob:
                raise Failure(f"git cat-file could not read blob {blob}: {' '.join(header)[:120]}")
            size = int(header[2])
            data = proc.stdout.read(size)
            if len(data) != size or proc.stdout.read(1) != b"\n":
                raise Failure(f"git cat-file gave blob {blob} truncated")
            yield blob, data
    finally:
        proc.stdout.close()  # first: a reader that stops early (the time budget) ends git, and so the feeder
        feeder.join()
        proc.wait()
    if proc.returncode != 0:
        raise Failure(f"git cat-file --batch failed: {proc.stderr.read().decode(errors='replace')[:300]}")


def prepare_tree(w: Writer, work: Path) -> None:
    # The inventory's exclusions, but uv.lock's: kingfisher reads it, for one rule.
    with open(work / "inventory" / "excluded.jsonl", encoding="utf-8") as f:
        excluded = [json.loads(line) for line in f if line.strip()]
    with open(w.kf / "excluded.jsonl", "a", encoding="utf-8") as f:
        f.writelines(json.dumps(x) + "\n" for x in excluded if x != {"item": LOCK, "rule": ROOT_EXCLUSIONS[LOCK]})
    algorithm = object_format()

    def add(name: str, kind: str) -> None:
        if os.path.islink(name):  # never followed: its target's text, as git holds it
            data = os.fsencode(os.readlink(name))
        else:
            fd = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as f:
                data = f.read()
        blob = hashlib.new(algorithm, b"blob %d\0" % len(data) + data).hexdigest()
        w.tree[name] = blob
        if not w.answered(kind, name, blob, None):
            w.add(data, kind, name, None, blob=blob)

    for name in read_list(str(work / "inventory" / "files")):
        add(name, "main")
    try:
        if os.path.isfile(LOCK) and not os.path.islink(LOCK):
            add(LOCK, "lock")
    except OSError as e:
        raise Failure(f"cannot read {LOCK}: {e}") from e


def prepare_history(w: Writer, work: Path) -> None:
    import history  # scans/detect-secrets/history.py: the range's blobs sorted as the detect-secrets scan sorts them
    recorded = read_json(work / "history" / "range.json")
    entries = recorded["entries"]
    by_base, excluded, gaps = history.sorted_entries(entries)
    blobs: dict[tuple[str, str], list[str]] = {}  # kingfisher reads each blob whole, whatever the commit changed
    for (path, blob, _), commits in by_base.items():
        blobs.setdefault((path, blob), []).extend(c for c in commits if c not in blobs.get((path, blob), ()))
    locks: dict[tuple[str, str], list[str]] = {}
    for e in entries:
        if e["path"] == LOCK and e["mode"] in ("100644", "100755"):
            locks.setdefault((e["path"], e["blob"]), []).append(e["commit"])
    todo = [(k, v, "main") for k, v in blobs.items()] + [(k, v, "lock") for k, v in locks.items()]
    # A blob the tree's file at that path holds is read there (its findings are the tree's, as detect-secrets has it).
    w.deferred = sum(1 for k, _, _ in todo if w.tree.get(k[0]) == k[1])
    todo = [t for t in todo if w.tree.get(t[0][0]) != t[0][1]]
    # A (path, blob) the cache answers is not read out of git at all.
    todo = [t for t in todo if not w.answered(t[2], t[0][0], t[0][1], t[1])]
    wanted = sorted({k[1] for k, _, _ in todo})
    # A blob read once, written for each (path, blob) that names it (a file copied to two paths is two inputs).
    by_blob: dict[str, list[tuple[tuple[str, str], list[str], str]]] = {}
    for key, commits, kind in todo:
        by_blob.setdefault(key[1], []).append((key, commits, kind))
    import time

    for blob, data in read_blobs(wanted):
        if w.budget is not None and time.monotonic() > w.budget:
            # Out of time (SCAN_TIMEOUT): the rest is left to the next run, this one an error; what was written is
            # read and its answers kept, so that the next run continues from there.
            w.left = sum(len(by_blob[b]) for b in wanted[wanted.index(blob):])
            break
        for (path, _), commits, kind in by_blob[blob]:
            w.add(data, kind, path, commits, blob=blob)
    tree = set()
    if (w.kf / "excluded.jsonl").exists():
        tree = {line for line in (w.kf / "excluded.jsonl").read_text(encoding="utf-8").splitlines()}
    with open(w.kf / "excluded.jsonl", "a", encoding="utf-8") as f:
        f.writelines(json.dumps(x) + "\n" for x in excluded
                     if x != {"item": LOCK, "rule": ROOT_EXCLUSIONS[LOCK]} and json.dumps(x) not in tree)
    with open(w.kf / "gaps.jsonl", "a", encoding="utf-8") as f:
        f.writelines(json.dumps(x) + "\n" for x in gaps)


def kf_cache(args: argparse.Namespace) -> Cache:
    """The cache of kingfisher's answers (scripts/lib/cache.py, scan "kingfisher"; directory "" = off), keyed by
    kingfisher's version (--tool-id), its arguments (--tool-args), the content of the gate's rule files and of the
    code that drops matches (this file, scripts/lib/placeholders.py): a change to any of them is a miss."""
    code = {}
    for f in [*sorted((HERE / "rules").glob("*.yml")), Path(__file__).resolve(),
              HERE.parents[1] / "scripts" / "lib" / "placeholders.py"]:
        code[f.name] = hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None
    cache_dir = args.cache_dir if args.tool_id else ""
    return Cache(cache_dir, "kingfisher", args.tool_id, {"tool_args": args.tool_args, "code": code},
                 holds_finding=lambda value: not kf_valid(value, ""))


def kf_key(cache: Cache, kind: str, path: str, blob: str) -> str | None:
    """The key of kingfisher's answer on (path, blob) in the set kind (None: cache off). The tree's file and the
    history's blob of the same path and content share it."""
    return cache.key(path, blob, kind) if cache.file is not None else None


def kf_valid(value: Any, path: str) -> bool:
    """A cached answer: {"dropped": {why: count}}, kingfisher read the file whole and every match it made was
    dropped (dropped_why), or it made none. An answer with a finding is never kept (cache.py: holds_finding)."""
    return (isinstance(value, dict) and set(value) == {"dropped"} and isinstance(value["dropped"], dict)
            and all(isinstance(k, str) and is_int(v) and v > 0 for k, v in value["dropped"].items()))


def cmd_prepare(args: argparse.Namespace) -> None:
    work = Path(args.work)
    cache = kf_cache(args)
    cache.load()
    w = Writer(work, cache)
    if args.budget:
        import time

        w.budget = time.monotonic() + args.budget
    try:
        if args.mode == "tree":
            prepare_tree(w, work)
        if args.mode != "tree" or (work / "history" / "range.json").exists():
            prepare_history(w, work)
    except OSError as e:
        raise Failure(f"cannot write the files kingfisher reads: {e}") from e
    print(w.finish(), w.deferred, w.left)


# --- report --------------------------------------------------------------------------------------------------


def where(item: dict[str, Any]) -> str:
    commits = item["commits"]
    if not commits:
        return shown(item["path"])
    first = "the staged change" if commits[0] == STAGED else f"commit {commits[0]}"
    return f"{shown(item['path'])} in {first}"


def load_report(kf: Path, run: str) -> dict[str, Any]:
    """kingfisher's JSON report of its run RUN (WORK/kf/out/RUN.json), its shape checked."""
    try:
        with open(kf / "out" / f"{run}.json", encoding="utf-8", errors="surrogateescape") as f:
            report = json.load(f)
    except FileNotFoundError:
        raise Failure(f"kingfisher wrote no report for its run {run}") from None
    except ValueError:
        raise Failure(f"kingfisher's report of its run {run} is not valid JSON (truncated or garbage)") from None
    ok = (isinstance(report, dict) and isinstance(report.get("findings"), list)
          and isinstance(report.get("audit"), dict) and isinstance(report["audit"].get("repositories"), list)
          and isinstance(report.get("metadata"), dict) and isinstance(report["metadata"].get("summary"), dict))
    if not ok:
        raise Failure(f"kingfisher's report of its run {run} lacks its findings, audit record or summary")
    return report


def audit_record(report: dict[str, Any], run: str, depth: int) -> dict[str, tuple[int, int]]:
    """{input: (blobs scanned, bytes scanned)} of the inputs the audit record lists as completed; an input is named
    by the last DEPTH parts of its path (a folder "B", or a file "B/N")."""
    found = {}
    for repo in report["audit"]["repositories"]:
        key = repo.get("key") if isinstance(repo, dict) else None
        if not isinstance(key, str) or not key.startswith("local:"):
            raise Failure(f"kingfisher's audit record of its run {run} has an entry that is not a local input")
        stats = repo.get("stats") if isinstance(repo.get("stats"), dict) else {}
        scan = repo.get("scan") if isinstance(repo.get("scan"), dict) else {}
        blobs, size = stats.get("blobs_scanned"), stats.get("bytes_scanned")
        if scan.get("status") == "completed" and isinstance(blobs, int) and isinstance(size, int):
            found["/".join(key.split("/")[-depth:])] = (blobs, size)
    return found


def runs_of(kf: Path) -> list[tuple[str, str]]:
    """[(set, run)] of the kingfisher runs prepare planned (WORK/kf/batches/SET-K), in order."""
    runs = [name.rsplit("-", 1) for name in os.listdir(kf / "batches")]
    return [(kind, f"{kind}-{k}") for kind, k in sorted(runs, key=lambda r: (r[0] != "main", int(r[1])))]


def read_buckets(kf: Path, items: list[dict[str, Any]], runs: list[tuple[str, str]] | None = None,
                 ) -> tuple[set[tuple[str, str]], list[dict[str, Any]]]:
    """The (set, bucket) kingfisher read whole by its own record (every file of the folder a blob, every byte
    scanned), and the items of the other folders (checked one by one: cmd_check), by the records of the runs given
    (all of them by default; of one run, the other runs' folders are the rest)."""
    whole, rest = set(), []
    runs = runs_of(kf) if runs is None else runs
    for kind in ("main", "lock"):
        record: dict[str, tuple[int, int]] = {}
        for _, run in (r for r in runs if r[0] == kind):
            record.update(audit_record(load_report(kf, run), run, 1))
        mine = [i for i in items if i["set"] == kind and i["bucket"] is not None]  # not those the cache answered
        for bucket in {i["bucket"] for i in mine}:
            files = [i for i in mine if i["bucket"] == bucket]
            if record.get(bucket) == (len(files), sum(i["size"] for i in files)):
                whole.add((kind, bucket))
            else:
                rest.extend(files)
    return whole, rest


def cmd_check(args: argparse.Namespace) -> None:
    """The files of the folders kingfisher's record does not show read whole, in WORK/kf/rechecks/SET-K (one
    kingfisher run each, a file an input, so that its record names each); prints their number."""
    kf = Path(args.work) / "kf"
    _, rest = read_buckets(kf, read_json(kf / "items.json"))
    for kind in ("main", "lock"):
        names = [i["name"] for i in rest if i["set"] == kind]
        for k in range(0, len(names), BATCH):
            (kf / "rechecks" / f"{kind}-{k // BATCH}").write_bytes(
                b"".join(x.encode() + b"\0" for x in names[k:k + BATCH]))
    print(len(rest))


def audited_baseline(path: str) -> dict[str, dict[str, Any]]:
    """{hashed_secret: {path: is_secret (True/False/None)}} of the baseline's entries ({} without one)."""
    if not path:
        return {}
    data = read_json(path)
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise Failure(".secrets.baseline lacks its results")
    audit: dict[str, dict[str, Any]] = {}
    for name, entries in results.items():
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, dict) and isinstance(e.get("hashed_secret"), str):
                audit.setdefault(e["hashed_secret"], {})[name] = e.get("is_secret")
    return audit


def line_of(data: bytes, line: int) -> str:
    """The line LINE of data, as text ("" when there is none)."""
    lines = data.split(b"\n")
    return lines[line - 1].decode(errors="replace") if 1 <= line <= len(lines) else ""


def dropped_why(rule: str, value: str, item: dict[str, Any], text: str) -> str | None:
    """Why a finding is not one (a key of the counted drops), or None."""
    path = item["path"]
    if ALLOW in text:
        return "allowlisted inline (pragma: allowlist secret)"
    if is_placeholder(value):
        return "a documented placeholder"
    if is_digest_line(path, text):
        return "a lock-file digest"
    if rule == DJANGO_RULE:
        if not path.endswith(".py"):
            return "a SECRET_KEY outside a Python module"
        if value.startswith("django-insecure-") and TEST_SETTINGS.search(path):
            return "a django-insecure- key in a test settings module"
    return None


def findings_of(report: dict[str, Any], kind: str, run: str,
                by_name: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings of kingfisher's report of its run (of the set kind), each with its item, its value too."""
    found = []
    for f in report["findings"]:
        rule = f.get("rule") if isinstance(f, dict) else None
        fnd = f.get("finding") if isinstance(f, dict) else None
        if not (isinstance(rule, dict) and isinstance(rule.get("id"), str) and isinstance(fnd, dict)
                and isinstance(fnd.get("path"), str) and isinstance(fnd.get("snippet"), str)
                and isinstance(fnd.get("line"), int)):
            raise Failure(f"a finding of kingfisher's run {run} lacks its rule id, path, line or value")
        name, _, member = fnd["path"].partition("!")
        item = by_name.get((kind, "/".join(name.split("/")[-2:])))
        if item is None:
            raise Failure(f"kingfisher reported a finding in a file it was not given (run {run})")
        label = rule.get("description") if rule["id"].startswith("gate.") else None
        found.append({"item": item, "rule": rule["id"], "rule_name": str(label or rule.get("name", ""))[:200],
                      "line": fnd["line"], "member": member, "value": fnd["snippet"],
                      "confidence": fnd.get("confidence")})
    return found


def why_dropped(kf: Path, r: dict[str, Any], item_dropped: dict[int, dict[str, int]]) -> str | None:
    """Why the finding r (findings_of) is not one (dropped_why, counted by item in item_dropped), or None."""
    item = r["item"]
    data = (kf / item["set"] / item["name"]).read_bytes()
    text = line_of(data, r["line"]) if not r["member"] else ""
    why = dropped_why(r["rule"], r["value"], item, text)
    if why is not None:
        counts = item_dropped.setdefault(item["n"], {})
        counts[why] = counts.get(why, 0) + 1
    return why


def cmd_absorb(args: argparse.Namespace) -> None:
    """kingfisher's answers of its run --run on the files of the folders it read whole without a finding, appended
    to the cache's journal at once (Cache.journal): a scan stopped later (its timeout) keeps them."""
    kf = Path(args.work) / "kf"
    items = read_json(kf / "items.json")
    by_name = {(i["set"], i["name"]): i for i in items if i["name"] is not None}
    kind = args.run.rsplit("-", 1)[0]
    cache = kf_cache(args)
    if cache.file is None:
        return
    whole, _ = read_buckets(kf, items, [(kind, args.run)])
    item_dropped: dict[int, dict[str, int]] = {}
    with_finding = set()
    for r in findings_of(load_report(kf, args.run), kind, args.run, by_name):
        if r["item"]["canary"] is None and why_dropped(kf, r, item_dropped) is None:
            with_finding.add(r["item"]["n"])
    cache.journal({i["key"]: {"path": i["path"], "value": {"dropped": item_dropped.get(i["n"], {})}} for i in items
                   if i["key"] and i["cached"] is None and (i["set"], i["bucket"]) in whole
                   and i["n"] not in with_finding})


def cmd_report(args: argparse.Namespace) -> None:
    work = Path(args.work)
    kf = work / "kf"
    items = read_json(kf / "items.json")
    by_name = {(i["set"], i["name"]): i for i in items if i["name"] is not None}
    reports = [(kind, run, load_report(kf, run)) for kind, run in runs_of(kf)]
    cache = kf_cache(args)  # the answers kept for the next run, and the salt every scan shares (Cache.salted)
    audit = audited_baseline(args.baseline)
    problems: list[str] = []
    gaps: list[dict[str, str]] = []
    kept_raw: list[dict[str, Any]] = []
    raw_findings: list[dict[str, Any]] = []
    whole, _ = read_buckets(kf, items)
    read = {(i["set"], i["name"]) for i in items if (i["set"], i["bucket"]) in whole}
    for run in sorted(os.listdir(kf / "rechecks")):
        kind = run.rsplit("-", 1)[0]
        report = load_report(kf, f"recheck-{run}")
        read |= {(kind, name) for name, (blobs, _) in audit_record(report, run, 2).items() if blobs >= 1}
    for kind, run, report in reports:
        raw_findings.extend(findings_of(report, kind, run, by_name))
    for i in items:
        if (i["set"], i["name"]) in read or i["cached"] is not None:
            continue
        if i["canary"] is not None:
            problems.append(f"kingfisher did not read its canary ({i['canary']}): its audit record does not list it "
                            "as scanned")
            continue
        gaps.append({"id": f"not-scanned:{shown(i['path'])}",
                     "message": f"kingfisher did not read {where(i)}: its audit record does not list it as scanned "
                                "(an archive it cannot open, or a file it skipped)"})
    hit: set[str] = set()
    dropped: dict[str, int] = {}
    item_dropped: dict[int, dict[str, int]] = {}  # {item n: {why: count}}: the answer the cache may keep
    with_finding: set[int] = set()  # the items with a finding: never kept
    found: dict[tuple, dict[str, Any]] = {}
    for r in raw_findings:
        item = r["item"]
        if item["canary"] is not None:
            hit.add(item["canary"])
            continue
        why = why_dropped(kf, r, item_dropped)
        if why is not None:
            dropped[why] = dropped.get(why, 0) + 1
            continue
        with_finding.add(item["n"])
        hashed = hashlib.sha1(r["value"].encode(errors="surrogateescape")).hexdigest()
        paths = audit.get(hashed, {})
        if item["path"] in paths:
            audited: Any = paths[item["path"]]
        elif item["commits"] and paths:  # the history: the same secret audited at any path keeps its audit
            values = set(paths.values())
            audited = True if True in values else (False if False in values else None)
        else:
            audited = "absent"
        fingerprint = cache.salted(hashed)
        adopted = adoption.current().fingerprint(hashed)  # scripts/lib/adoption.py: None without an adoption file
        key = (item["path"], tuple(item["commits"] or ()), r["line"], r["member"], fingerprint)
        if key in found:
            if r["rule"] not in found[key]["rules"]:
                found[key]["rules"].append(r["rule"])
            continue
        found[key] = {"rules": [r["rule"]], "rule_name": r["rule_name"], "path": item["path"], "line": r["line"],
                      "member": r["member"], "commits": item["commits"], "fingerprint": fingerprint,
                      "audited": audited, "confidence": r["confidence"] if isinstance(r["confidence"], str) else None}
        if adopted is not None:
            found[key]["adoption"] = adopted
        del r["value"]
    for cls, _, _ in CANARY:
        if cls not in hit:
            problems.append(f"kingfisher missed its canary {cls}: its rules did not fire on a token of that class")
    findings = one_per_secret(list(found.values()))
    keep_answers(cache, items, read, item_dropped, with_finding, dropped)
    for f in findings:
        kept_raw.append({k: f[k] for k in ("rules", "path", "line", "member", "commits", "confidence")})
    write_json(kf / "findings.json", findings)
    summary = {"kingfisher": [{"run": b, "rules_applied": rep["metadata"]["summary"].get("rules_applied"),
                               "blobs_scanned": rep["metadata"]["summary"].get("blobs_scanned"),
                               "bytes_scanned": rep["metadata"]["summary"].get("bytes_scanned"),
                               "version": rep["metadata"].get("kingfisher_version")} for _, b, rep in reports],
               "findings": kept_raw, "dropped": dropped}
    write_json(kf / "sanitized.json", summary)
    with open(kf / "gaps.jsonl", "a", encoding="utf-8") as f:
        f.writelines(json.dumps(g) + "\n" for g in gaps)
    (kf / "problems").write_text("".join(p + "\n" for p in problems), encoding="utf-8")
    inventory = sum(1 for i in items if i["canary"] is None)
    scanned = sum(1 for i in items if i["canary"] is None and ((i["set"], i["name"]) in read or i["cached"] is not None))
    hits = sum(1 for i in items if i["cached"] is not None)
    write_stats(work, "on" if cache.file is not None else "", "", hits, inventory - hits)
    print(f"{inventory} {scanned} {sum(dropped.values())}")


def keep_answers(cache: Cache, items: list[dict[str, Any]], read: set[tuple[str, str]],
                 item_dropped: dict[int, dict[str, int]], with_finding: set[int], dropped: dict[str, int]) -> None:
    """The cache's answers: the ones it gave, used again (their drops counted as kingfisher's would be); of the
    files kingfisher read whole, those without a finding ({"dropped": {why: count}}), journaled at once; saved."""
    fresh = {}
    for i in items:
        if i["cached"] is not None:
            cache.keep(i["key"], i["path"], i["cached"])
            for why, count in i["cached"]["dropped"].items():
                dropped[why] = dropped.get(why, 0) + count
        elif i["key"] and i["n"] not in with_finding and (i["set"], i["name"]) in read:
            fresh[i["key"]] = {"path": i["path"], "value": {"dropped": item_dropped.get(i["n"], {})}}
    cache.journal(fresh)
    cache.save()


def one_per_secret(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tree's findings, and the history's once per secret (its oldest commit), less those the tree reports."""
    tree = [f for f in found if not f["commits"]]
    in_tree = {f["fingerprint"] for f in tree}
    seen: set[str] = set()
    history = []
    for f in found:  # in the range's order: oldest commit first
        if not f["commits"] or f["fingerprint"] in in_tree or f["fingerprint"] in seen:
            continue
        seen.add(f["fingerprint"])
        f["also"] = sum(len(g["commits"]) for g in found if g["commits"] and g["fingerprint"] == f["fingerprint"]) - 1
        history.append(f)
    return tree + history


def add_key_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--cache-dir", default="", help="SECURITY_CACHE_DIR; empty: cache off")
    sp.add_argument("--tool-id", default="", help="kingfisher's --version output (empty: cache off)")
    sp.add_argument("--tool-args", default="", help="the arguments every kingfisher run gets")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="adapter.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("prepare")
    sp.add_argument("--work", required=True)
    sp.add_argument("--mode", choices=("tree", "staged"), required=True)
    sp.add_argument("--budget", type=int, default=0, help="seconds to write the history's blobs in (0: no limit)")
    add_key_options(sp)
    sp.set_defaults(func=cmd_prepare)
    sp = sub.add_parser("absorb")
    sp.add_argument("--work", required=True)
    sp.add_argument("--run", required=True)
    add_key_options(sp)
    sp.set_defaults(func=cmd_absorb)
    sp = sub.add_parser("check")
    sp.add_argument("--work", required=True)
    sp.set_defaults(func=cmd_check)
    sp = sub.add_parser("report")
    sp.add_argument("--work", required=True)
    sp.add_argument("--baseline", default="")
    add_key_options(sp)
    sp.set_defaults(func=cmd_report)
    return p


if __name__ == "__main__":
    args = parser().parse_args()
    try:
        args.func(args)
    except Failure as e:
        print(e, file=sys.stderr)
        sys.exit(2)
    except (OSError, KeyError, TypeError, ValueError) as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)
