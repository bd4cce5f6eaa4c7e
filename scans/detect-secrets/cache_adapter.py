#!/usr/bin/env python3
"""Summary: detect-secrets' side of the scan cache (scripts/lib/cache.py).
Usage: python3 -S scans/detect-secrets/cache_adapter.py COMMAND ARGS...   (scans/detect-secrets/run.sh)

Commands (each writes into the scan's work directory WORK; exit 0 done, 2 error with the message on stderr):
  plan   which of the listed files the cache answers, the rest to scan (WORK/todo), the answered files that
         were excluded unread (WORK/cached-excluded.jsonl: item, rule); with a custom plugin or model file in
         the baseline, none (the cache is off for that run)
  merge  detect-secrets' report on the rest plus the cached entries, shaped like one full report, every
         hashed_secret salted (Cache.salted); the committed baseline salted alike (WORK/baseline-salted.json)
         and the coverage (WORK/ds-coverage.txt: "INVENTORY SCANNED"); stores the fresh per-file results of the
         files detect-secrets read (--scanned) and the rule of those it did not read that the gate excluded (--unread-excluded)
A cached value is detect-secrets' results for one file that holds no secret ({"results": []}: a file with one is
scanned again every run, since its salted hash is keyed by the run's key and the cache keeps no hash), or the rule that excluded a file it
could not read ({"excluded": rule}: binary, or a baseline filter); the report's envelope (version, plugins,
filters) is kept once, under the name <envelope>. A file's key is its path and git's blob id of its content (read
from the index for a tracked file the work tree has not modified: that file is not read), under the baseline's
settings (ds_settings: never its results or its date, which change no answer); scans/detect-secrets/history.py
keys the blobs of the history the same way, so entries are shared. merge --keep-to FILE hands the entries to the
history scan (which saves them with its own) instead of saving, and appends the ones it made to the journal.
plan --merge-if-answered (with merge's options) merges too when the cache answers every file, and prints "merged".
A symlink of the inventory (scans/detect-secrets/inventory.py: WORK/inventory/links) is never opened: its target's
text, written by the inventory to WORK/inventory/symlinks/N, is its content. plan lists the numbers of those the cache
does not answer in WORK/todo-links (detect-secrets reads them in that folder, with WORK/baseline-links.json, the
baseline re-keyed to the numbers: scans/detect-secrets/run.sh links_scan), merge maps its report
(WORK/links-report.json) and what it read (WORK/links-read.list) back to the links' paths, and names one it did not
read in WORK/links-unread.jsonl (a gap). A symlink's key is its target's blob id marked as a symlink's (symlink_id):
its text is scanned as a file of no type, a regular file by its name's, so the same bytes at the same path are two
entries.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "lib"))

import adoption  # noqa: E402
from cache import (  # noqa: E402
    SALTED, Cache, Failure, add_cache_options, blob_ids, cache_settings, canonical, git_blob_id, index_blob_ids, json_lines,
    object_format, read_json, read_list, run_command, write_json, write_list, write_stats,
)

ENVELOPE = "<envelope>"
SYMLINK = "symlink:"  # a symlink's content id in a key: its target's blob id, marked (symlink_id)


def symlink_id(sha: str) -> str:
    """The content id a symlink is keyed by (the tree's and the history's alike): git's blob id of its target's
    text, marked as a symlink's."""
    return SYMLINK + sha


def inventory_links(folder: Path) -> dict[str, str]:
    """{symlink's path: the number its target's text is written under in folder/symlinks} of the inventory in folder
    (scans/detect-secrets/inventory.py); none when it lists none."""
    try:
        names = read_list(str(folder / "links"))
    except FileNotFoundError:
        return {}
    return {name: str(n) for n, name in enumerate(names)}


def ds_valid(value: Any, path: str) -> bool:
    """A cached value: detect-secrets' results for the file, or why it read nothing in it ({"excluded": rule})."""
    if isinstance(value, dict) and set(value) == {"excluded"}:
        return isinstance(value["excluded"], str) and value["excluded"] != ""
    return (isinstance(value, dict) and set(value) == {"results"} and isinstance(value["results"], list)
            and all(isinstance(s, dict) and s.get("filename") == path and isinstance(s.get("type"), str)
                    and isinstance(s.get("hashed_secret"), str) and s["hashed_secret"].startswith(SALTED)
                    for s in value["results"]))


def ds_holds_finding(value: Any) -> bool:
    """Whether a value names a secret (its salted hash, keyed by the run's key): such a file is scanned again
    every run, never answered from the cache (scripts/lib/cache.py)."""
    return isinstance(value, dict) and bool(value.get("results"))


def read_excluded(path: str) -> dict[str, str]:
    """The files detect-secrets did not read and the gate excluded ({path: rule}), from a JSON-lines file of
    {"item", "rule"} (scans/detect-secrets/unread.jq's excluded list); no file: none."""
    try:
        with open(path, encoding="utf-8") as f:
            items = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise Failure(f"the list of files detect-secrets did not read cannot be read: {e}") from e
    if not all(isinstance(i, dict) and isinstance(i.get("item"), str) and isinstance(i.get("rule"), str)
               for i in items):
        raise Failure("the list of files detect-secrets did not read has an unexpected shape")
    return {i["item"]: i["rule"] for i in items}


def salt_results(results: Any, cache: Cache, adopt: bool = False) -> Any:
    """detect-secrets' results ({file: [secret...]}) with each hashed_secret salted (Cache.salted); with ADOPT (a
    scan's own results, not the baseline's), each also carries its adoption fingerprint ("adoption", when the project
    has an adoption file: scripts/lib/adoption.py), computed from the unsalted hash before it is salted."""
    fingerprint = adoption.current().fingerprint if adopt else (lambda _h: None)
    if isinstance(results, dict):
        for secrets in results.values():
            for item in secrets if isinstance(secrets, list) else []:
                if isinstance(item, dict) and isinstance(item.get("hashed_secret"), str):
                    adopted = fingerprint(item["hashed_secret"])
                    if adopted is not None:
                        item["adoption"] = adopted
                    item["hashed_secret"] = cache.salted(item["hashed_secret"])
    return results


def read_report(path: str, what: str) -> dict[str, Any]:
    """detect-secrets' JSON report at path, checked to hold its results; Failure naming WHAT (whose report) if not."""
    try:
        report = read_json(path)
    except (OSError, ValueError) as e:
        raise Failure(f"detect-secrets' {what} cannot be read: {e}") from e
    if not (isinstance(report, dict) and isinstance(report.get("results"), dict)):
        raise Failure(f"detect-secrets' {what} lacks its results")
    return report


def ds_envelope_valid(value: Any, _path: str) -> bool:
    return isinstance(value, dict) and "results" not in value and isinstance(value.get("version"), str)


def ds_settings(baseline_file: str) -> tuple[Any, dict[str, Any], str]:
    """What of the baseline acts on the scan: (its settings, its results by file, why no cache can be used with
    it or "")."""
    if not baseline_file:
        return None, {}, ""
    baseline = read_json(baseline_file)
    if not isinstance(baseline, dict) or not isinstance(baseline.get("results"), dict):
        raise Failure("the baseline .secrets.baseline has no results")
    # What acts on every answer: its version, plugins and filters. Not its generated_at, nor the is_baseline_file
    # filter its refresh (`detect-secrets scan --baseline`) adds, which only keeps the baseline itself out, a file
    # the gate excludes anyway; its entries for a file key that file alone (audits): a refresh that changes none of
    # the others invalidates nothing.
    settings = {k: baseline.get(k) for k in ("version", "plugins_used", "filters_used")}
    if isinstance(settings["filters_used"], list):
        settings["filters_used"] = [f for f in settings["filters_used"] if not (
            isinstance(f, dict) and f.get("path") == "detect_secrets.filters.common.is_baseline_file")]
    # Custom plugins and models are files whose content is not part of the key: no cache with them.
    for item in (settings.get("plugins_used") or []) + (settings.get("filters_used") or []):
        if isinstance(item, dict) and (item.get("path", "").startswith("file://") or item.get("model")):
            return settings, baseline["results"], "the baseline uses a custom plugin or model file"
    return settings, baseline["results"], ""


def audits(known: dict[str, Any], path: str) -> Any:
    """What of the baseline's entries for path acts on detect-secrets' answer for it (it copies their audit into its
    results): each one's type, hash and audit, in a stable order; never their line numbers, which a refresh
    rewrites without changing any answer."""
    entries = known.get(path)
    if not isinstance(entries, list):
        return entries
    kept = [{k: e.get(k) for k in ("type", "hashed_secret", "is_secret", "is_verified")} if isinstance(e, dict) else e
            for e in entries]
    return sorted(kept, key=canonical)


def ds_cache(args: argparse.Namespace, cache_dir: str, tool_id: str) -> tuple[Cache, dict[str, Any]]:
    settings, known, _ = ds_settings(args.baseline)
    config = {"tool_args": args.tool_args, "baseline_settings": settings, "with_baseline": bool(args.baseline)}
    return Cache(cache_dir, "detect-secrets", tool_id, config, holds_finding=ds_holds_finding), known


def cmd_plan(args: argparse.Namespace) -> None:
    work = Path(args.work)
    cache_dir, tool_id, note = cache_settings(args)
    uncacheable = ds_settings(args.baseline)[2]
    if uncacheable:
        cache_dir, note = "", f"not used: {uncacheable}"
    cache, known = ds_cache(args, cache_dir, tool_id)
    cache.load()
    files = read_list(args.list)
    links = inventory_links(Path(args.list).parent)
    texts = Path(args.list).parent / "symlinks"
    envelope = cache.get(cache.key(ENVELOPE, ""), ENVELOPE, ds_envelope_valid)
    plan_files, hits, todo, link_todo = [], {}, [], []
    algorithm = object_format()
    # A symlink's id is its target's text's (never the path's: that would follow the link).
    ids = blob_ids((f for f in files if f not in links), index_blob_ids(), algorithm) if cache_dir else {}
    for path in files:
        n = links.get(path)
        sha = git_blob_id(str(texts / n), algorithm) if n is not None and cache_dir else ids.get(path)
        key = cache.key(path, symlink_id(sha) if n is not None else sha, audits(known, path)) if sha else None
        value = cache.get(key, path, ds_valid) if key and envelope is not None else None
        plan_files.append({"name": path, "key": key, "sha": sha, **({"link": n} if n is not None else {})})
        if value is None:
            (link_todo if n is not None else todo).append(n if n is not None else path)
        else:
            hits[path] = value
    write_list(work / "todo", todo)
    write_list(work / "todo-links", link_todo)
    if link_todo and args.baseline:
        # The baseline for the links' run: its settings, its entries re-keyed to the numbers detect-secrets reads.
        baseline = read_json(args.baseline)
        by_number = {n: path for path, n in links.items()}
        baseline["results"] = {n: baseline["results"][by_number[n]] for n in link_todo
                               if by_number[n] in baseline["results"]}
        baseline["generated_at"] = "not-written-by-this-run"
        write_json(work / "baseline-links.json", baseline)
    with open(work / "cached-excluded.jsonl", "w", encoding="utf-8") as f:
        f.write(json_lines({"item": path, "rule": value["excluded"]} for path, value in hits.items()
                           if "excluded" in value))
    plan = {"files": plan_files, "hits": hits, "envelope": envelope, "cache_dir": cache_dir, "tool_id": tool_id,
            "algorithm": algorithm, "symlinks": str(texts)}
    write_json(work / "plan.json", plan)
    write_stats(work, cache_dir, note, len(hits), len(todo) + len(link_todo))
    if args.merge_if_answered and not todo and not link_todo and envelope is not None:
        # Nothing for detect-secrets to read: merge now, with the cache as loaded (saved only if it changed).
        merge(args, work, plan, cache, known)
        print(f"{len(files)} {len(hits)} 0 merged")
        return
    print(f"{len(files)} {len(hits)} {len(todo) + len(link_todo)}")


def cmd_merge(args: argparse.Namespace) -> None:
    work = Path(args.work)
    plan = read_json(work / "plan.json")
    cache, known = ds_cache(args, plan["cache_dir"], plan["tool_id"])
    merge(args, work, plan, cache, known)


def merge(args: argparse.Namespace, work: Path, plan: dict[str, Any], cache: Cache, known: dict[str, Any]) -> None:
    """The merge (the module's summary) of plan, with the cache (loaded, or not: saving then writes it whatever it
    held)."""
    made: dict[str, Any] = {}  # the entries this run's detect-secrets made
    todo = set(read_list(str(work / "todo")))
    scanned = set(read_list(args.scanned)) if args.scanned else set()
    unread = read_excluded(args.unread_excluded) if args.unread_excluded else {}
    fresh, envelope = {}, None
    if todo:
        report = read_report(args.fresh, "report")
        fresh = salt_results(report["results"], cache, adopt=True)
        envelope = {k: v for k, v in report.items() if k != "results"}
    link_paths = symlinks_read(work, plan, cache, fresh, scanned)
    if envelope is None and link_paths:
        envelope = {k: v for k, v in read_report(str(work / "links-report.json"), "report").items() if k != "results"}
    todo |= set(link_paths)
    if envelope is not None:
        cache.keep(cache.key(ENVELOPE, ""), ENVELOPE, json.loads(json.dumps(envelope)))
        made[cache.key(ENVELOPE, "")] = cache.kept[cache.key(ENVELOPE, "")]
    else:
        if plan["envelope"] is None:
            raise Failure("nothing was scanned and the cache holds no report envelope")
        cache.keep(cache.key(ENVELOPE, ""), ENVELOPE, plan["envelope"])
        fresh = {}
        envelope = json.loads(json.dumps(plan["envelope"]))
        envelope["generated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        # The filter that keeps the baseline from scanning itself names this run's working copy.
        for item in envelope.get("filters_used") or []:
            if isinstance(item, dict) and item.get("path") == "detect_secrets.filters.common.is_baseline_file":
                item["filename"] = args.work_baseline
    for f in plan["files"]:
        path, key = f["name"], f["key"]
        if path in plan["hits"]:
            cache.keep(key, path, plan["hits"][path])
            continue
        # A file detect-secrets read is kept with its results, one it did not read with the rule that excluded
        # it (binary; a baseline filter): one it skipped for any other reason is looked at (and named) again.
        if path not in todo or not key or (path not in scanned and path not in unread):
            continue
        value = {"results": fresh.get(path, [])} if path in scanned else {"excluded": unread[path]}
        # The file must still be what the plan hashed: a file edited while detect-secrets ran is not stored (a
        # symlink's text was read once, by the inventory: what was hashed is what was scanned).
        sha = f["sha"] if "link" in f else git_blob_id(path, plan["algorithm"])
        if ds_valid(value, path) and sha and cache.key(path, symlink_id(sha) if "link" in f else sha,
                                                        audits(known, path)) == key:
            cache.keep(key, path, value)
            made[key] = cache.kept[key]
    if args.keep_to:
        # The history scan saves the cache; what the tree's run made is in the journal already, should the history
        # not get so far (its timeout).
        cache.journal(made)
        cache.dump_kept(args.keep_to)
    else:
        cache.save()
    results = {path: value["results"] for path, value in plan["hits"].items() if value.get("results")}
    read_hits = sum(1 for value in plan["hits"].values() if "results" in value)
    results.update(fresh)
    report = dict(envelope)
    report["results"] = {path: results[path] for path in sorted(results)}
    write_json(work / "merged.json", report)
    committed = read_json(args.baseline) if args.baseline else {"results": {}}
    if isinstance(committed, dict) and isinstance(committed.get("results"), dict):
        committed["results"] = salt_results(committed["results"], cache)
    write_json(work / "baseline-salted.json", committed)
    (work / "ds-coverage.txt").write_text(f"{len(plan['files'])} {read_hits + len(todo & scanned)}\n")


def symlinks_read(work: Path, plan: dict[str, Any], cache: Cache, fresh: dict[str, Any],
                  scanned: set[str]) -> list[str]:
    """The paths of the symlinks detect-secrets was given (WORK/todo-links), their results (WORK/links-report.json,
    salted, renamed to the link's path) added to fresh and the ones it read (WORK/links-read.list) to scanned; one it
    did not read is a gap in WORK/links-unread.jsonl."""
    numbers = set(read_list(str(work / "todo-links"))) if (work / "todo-links").exists() else set()
    path_of = {f["link"]: f["name"] for f in plan["files"] if f.get("link") in numbers}
    gaps = []
    if numbers:
        report = read_report(str(work / "links-report.json"), "report on the symlinks' target text")
        for n, secrets in salt_results(report["results"], cache, adopt=True).items():
            if n not in path_of:
                raise Failure("detect-secrets reported a finding in a symlink's text it was not given")
            fresh[path_of[n]] = [dict(s, filename=path_of[n]) for s in secrets]
        read = set(read_list(str(work / "links-read.list")))
        for n, path in sorted(path_of.items(), key=lambda x: x[1]):
            if n in read:
                scanned.add(path)
                continue
            try:
                (Path(plan["symlinks"]) / n).read_bytes().decode("utf-8")
                why = "was not read by detect-secrets (no reason known)"
            except UnicodeDecodeError:
                why = "is not UTF-8"
            gaps.append({"id": f"not-scanned:{path}",
                         "message": f"detect-secrets did not scan the target of the symlink {path}: its text {why} "
                                    "(accept the gap, or point the link elsewhere)"})
    with open(work / "links-unread.jsonl", "w", encoding="utf-8") as f:
        f.write(json_lines(gaps))
    return list(path_of.values())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cache_adapter.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, func in (("plan", cmd_plan), ("merge", cmd_merge)):
        sp = sub.add_parser(name)
        add_cache_options(sp)
        sp.add_argument("--baseline", default="", help="the committed baseline (copy); empty: none")
        sp.add_argument("--list", default="")
        sp.add_argument("--fresh", default="")
        sp.add_argument("--work-baseline", default="")
        sp.add_argument("--scanned", default="", help="the NUL-separated files detect-secrets read")
        sp.add_argument("--keep-to", default="", help="merge: write the entries here instead of saving the cache")
        sp.add_argument("--merge-if-answered", action="store_true",
                        help="plan: when the cache answers every file, merge too (with merge's options)")
        sp.add_argument("--unread-excluded", default="",
                        help="the files it did not read that the gate excluded (JSON lines of item and rule)")
        sp.set_defaults(func=func)
    return p


if __name__ == "__main__":
    sys.exit(run_command(parser(), sys.argv[1:]))
