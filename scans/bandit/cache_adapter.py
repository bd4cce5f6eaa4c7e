#!/usr/bin/env python3
"""Summary: bandit's side of the scan cache (scripts/lib/cache.py), and bandit spread over the cores.
Usage: python3 -S scans/bandit/cache_adapter.py COMMAND ARGS...   (scans/bandit/run.sh, through cache_helper)

Commands (each writes into the scan's work directory WORK; exit 0 done, 2 error with the message on stderr):
  plan        the Python files under TARGETS (bandit's default include, *.py and *.pyw, and whatever [tool.bandit]
              include adds) less those its include or exclude_dirs leave out (exclude_dirs by whole path
              components), listed in bandit-excluded.jsonl with their rule, the # nosec lines and the skips/tests
              selection; each setting that narrows bandit below its defaults as a gap (bandit-narrowing.jsonl);
              which files the cache answers, the rest in chunks of explicit files; bandit's settings in
              bandit-config.yaml. When the cache answers every file, plan merges too (prints "merged")
  run-chunks  run bandit on each chunk of files, at most JOBS at a time (under the scan's timeout)
  merge       the chunks' reports and the cached entries as one report shaped like `bandit -r`'s own; stores
              the fresh per-file results; the files bandit left out and its crashed tests as gaps
              (bandit-gaps.jsonl), the coverage in bandit-coverage.txt ("INVENTORY SCANNED"), the files it
              could not parse as one message in bandit-problems.txt
A cached value is bandit's report for one file and its # nosec lines: {"results", "errors", "metrics", "nosec"},
keyed by the file's git blob id (for a tracked file the work tree has not modified, read from the index).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "lib"))

from cache import (  # noqa: E402
    Cache, Failure, add_cache_options, blob_ids, cache_settings, canonical, git_blob_id, index_blob_ids, is_int,
    object_format, read_json, read_list, run_command, shown, write_json, write_list, write_stats,
)
import progress  # noqa: E402

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: the scan is an error (bandit_config says so)
    tomllib = None  # type: ignore[assignment]

# A bandit process costs about 0.3 s to start: a chunk gets at least this many files.
MIN_FILES_PER_CHUNK = 100
# At most this many bytes of file names on one command line (far below any ARG_MAX).
MAX_ARG_BYTES = 64 * 1024
# The totals bandit starts from (bandit/core/metrics.py), before it adds each file's metrics.
BANDIT_TOTALS = ["loc", "nosec", "skipped_tests"] + [
    f"{criteria}.{rank}" for rank in ("UNDEFINED", "LOW", "MEDIUM", "HIGH") for criteria in ("SEVERITY", "CONFIDENCE")
]


def bandit_config(config_file: str) -> Any:
    """The [tool.bandit] table bandit reads from config_file (None without one)."""
    if not config_file:
        return None
    if tomllib is None:
        raise Failure("python3 is older than 3.11 and cannot read pyproject.toml (tomllib)")
    try:
        with open(config_file, "rb") as f:
            section = tomllib.load(f).get("tool", {}).get("bandit", {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise Failure(f"{config_file} cannot be read ({e})") from e
    if not isinstance(section, dict):
        raise Failure(f"[tool.bandit] of {config_file} is not a table")
    for key in ("include", "exclude_dirs", "skips", "tests"):
        value = section.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(g, str) for g in value)):
            raise Failure(f"[tool.bandit] {key} of {config_file} is not a list of strings")
    return section


GLOB_CHARS = re.compile(r"[*?\[]")


def excluded_by(path: str, entries: list[str]) -> str | None:
    """The exclude_dirs entry that excludes path (relative to the project root), or None.

    An entry matches whole path components, never part of a name: a bare name ("tests") is a directory of
    that name at any depth (tests/, apps/tests/; never apps/contests/ or tests.py), a path with a slash
    ("apps/legacy") is that directory from the project root, and an entry with glob characters is matched
    against the whole path as fnmatch does (bandit's own glob rule). bandit itself also excludes any path that
    merely contains the entry as a substring, which is why the gate decides the file list and hands bandit
    explicit files.
    """
    import fnmatch

    parts = os.path.normpath(path).split(os.sep)
    dirs = parts[:-1]
    for entry in entries:
        if GLOB_CHARS.search(entry):
            if fnmatch.fnmatch(path, entry) or fnmatch.fnmatch(os.path.normpath(path), entry):
                return entry
            continue
        wanted = [p for p in os.path.normpath(entry.strip()).split(os.sep) if p not in ("", ".")]
        if not wanted:
            continue
        if len(wanted) == 1 and wanted[0] in dirs:
            return entry
        if len(wanted) > 1 and dirs[:len(wanted)] == wanted:
            return entry
    return None


NOSEC = re.compile(rb"#\s*nosec\b:?[ \t]*([^#\r\n]*)")


def nosec_lines(path: str) -> list[list[Any]]:
    """[line, tests named] of each line of path with a `# nosec` comment, as bandit reads them."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    if b"nosec" not in data:
        return []
    found = []
    for number, line in enumerate(data.splitlines(), start=1):
        match = NOSEC.search(line)
        if match:
            found.append([number, match.group(1).decode("utf-8", "replace").strip()])
    return found


def bandit_settings_written(section: Any, out: Path) -> None:
    """bandit's configuration for explicit files: [tool.bandit] without exclude_dirs (the gate applied it), as
    JSON in a .yaml file (YAML reads JSON; bandit reads a config file that is not .toml as YAML)."""
    settings = {k: v for k, v in (section or {}).items() if k != "exclude_dirs"}
    write_json(out, settings)


def bandit_narrowing(section: Any) -> list[dict[str, str]]:
    """What [tool.bandit] leaves out beside files, as exclusions: its skips, and the tests outside its tests
    selection."""
    if not section:
        return []
    items = [{"item": f"test {t}", "rule": "[tool.bandit] skips"} for t in section.get("skips") or []]
    if section.get("tests"):
        items.append({"item": "every test but " + ", ".join(section["tests"]), "rule": "[tool.bandit] tests"})
    return items


# bandit's include globs without a config file (bandit/core/config.py); with one that has no include, bandit
# reads *.py only (bandit/core/manager.py), which the gate does not follow: a *.pyw file is Python source too.
DEFAULT_INCLUDE = ["*.py", "*.pyw"]
# The [tool.bandit] keys that say which files and tests bandit runs; any other key sets up a test.
FILE_AND_TEST_KEYS = ("include", "exclude_dirs", "skips", "tests")


def narrowing_gap(setting: str, subject: str, message: str) -> dict[str, str]:
    """A coverage gap for a [tool.bandit] setting that narrows the scan: id narrowed:tool.bandit.SETTING[:SUBJECT]."""
    return {"id": f"narrowed:tool.bandit.{setting}" + (f":{subject}" if subject else ""),
            "message": f"{message} ([tool.bandit] narrows the scan)"}


def files_text(files: list[str]) -> str:
    """'no file under BANDIT_TARGETS today' or 'N file(s) under BANDIT_TARGETS: a, b, c, d, e and N more'."""
    if not files:
        return "no file under BANDIT_TARGETS today"
    shown_files = ", ".join(shown(f) for f in files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
    return f"{len(files)} file{'s' if len(files) != 1 else ''} under BANDIT_TARGETS: {shown_files}"


def narrowing_gaps(section: Any, left_out: dict[str, list[str]]) -> list[dict[str, str]]:
    """Each [tool.bandit] setting that narrows bandit below what it reads and runs by default, as one gap naming
    the setting and what it leaves out. left_out maps a rule (an exclusion's rule) to the files it left out."""
    if not section:
        return []
    gaps = [narrowing_gap("skips", test, f"skips {test}: bandit's test {test} does not run")
            for test in section.get("skips") or []]
    if section.get("tests"):
        gaps.append(narrowing_gap("tests", "", f"tests selects {', '.join(section['tests'])} only: every other "
                                               "bandit test does not run"))
    for entry in section.get("exclude_dirs") or []:
        gaps.append(narrowing_gap("exclude_dirs", entry, f"exclude_dirs {entry!r} leaves out "
                                  + files_text(left_out.get(f"[tool.bandit] exclude_dirs: {entry}", []))))
    include = section.get("include")
    if include and "*" not in include:
        for glob in DEFAULT_INCLUDE:
            if glob not in include:
                matches = glob_matcher([glob])
                missed = [f for f in left_out.get(include_rule(include), []) if matches(f)]
                gaps.append(narrowing_gap("include", glob, f"include {include} does not have bandit's default "
                                          f"{glob}: it leaves out {files_text(missed)}"))
    for key in sorted(k for k in section if k not in FILE_AND_TEST_KEYS):
        gaps.append(narrowing_gap(key, "", f"{key} sets up bandit's tests other than by their defaults, which "
                                           "may narrow what they report"))
    return gaps


def include_rule(include: list[str]) -> str:
    return f"[tool.bandit] include: matches none of {', '.join(include)}"


def glob_matcher(globs: list[str]):
    """One compiled pattern matching what fnmatch matches for any of globs (fnmatch compiles each glob alike)."""
    import fnmatch

    return re.compile("|".join(f"(?:{fnmatch.translate(glob)})" for glob in globs)).match


class Walk:
    """What walking the targets found: the files (bandit's name, argument) an include glob matches, the .bandit
    files, and the symlinks through which bandit would read outside the project."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}
        self.dot_bandit: list[str] = []
        self.links_out: list[str] = []


def walk_targets(targets: list[str], include: list[str]) -> Walk:
    """As bandit/core/manager.py discover_files: a directory target is walked (os.walk's rule: a symlinked directory
    is not entered) and its files matching an `include` glob are taken; a file target is taken as it is. A `.git`
    folder is git's storage, not the project's code, and is not entered (bandit's own default excludes it too).
    One os.scandir walk: the entries' types come with the listing, so a file costs no stat of its own."""
    walk, match, root = Walk(), glob_matcher(include), os.path.realpath(".")

    def out_of_tree(path: str) -> None:
        resolved = os.path.realpath(path)
        if resolved != root and not resolved.startswith(root + os.sep):
            walk.links_out.append(f"{os.path.normpath(path)} -> {resolved}")

    pending = []
    for target in targets:
        out_of_tree(target)
        if os.path.isdir(target):
            pending.append(target)
        else:
            walk.found[os.path.join(".", target)] = target
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    if entry.is_symlink():
                        continue  # not entered, as os.walk; a link to a folder is never read through
                    if entry.name != ".git":
                        pending.append(entry.path)
                    continue
                if entry.is_symlink():
                    out_of_tree(entry.path)
                if entry.name == ".bandit":
                    walk.dot_bandit.append(entry.path)
                if match(entry.path):
                    walk.found[entry.path] = entry.path
    return walk


def bandit_discover(targets: list[str], include: list[str]) -> tuple[list[tuple[str, str]], Walk]:
    """(name bandit -r reports, argument to pass) of every file `bandit -r TARGETS` looks at (walk_targets), and
    the walk. Exclusions (exclude_dirs) are applied by the caller (excluded_by), by whole path components."""
    walk = walk_targets(targets, include)
    found = walk.found
    # A file named both in a folder and on its own is scanned once, under its name in the folder.
    by_arg: dict[str, str] = {}
    for name, arg in sorted(found.items(), key=lambda item: item[0].startswith("./")):
        by_arg.setdefault(arg, name)
    # bandit names an explicit file ./ARG: two arguments whose ./ forms read the same once through jq could not
    # be told apart.
    reported: dict[str, list[str]] = {}
    for arg in by_arg:
        reported.setdefault(shown(os.path.join(".", arg)), []).append(arg)
    alike = sorted(args for args in reported.values() if len(args) > 1)
    if alike:
        raise Failure("these files of BANDIT_TARGETS would have the same name in bandit's report: "
                      + "; ".join(" and ".join(escaped(a) for a in args) for args in alike))
    return sorted((name, arg) for arg, name in by_arg.items()), walk


def escaped(name: str) -> str:
    """name with the bytes that are not UTF-8 written as \\xNN (so two names jq would show alike read apart)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def bandit_valid(value: Any, path: str) -> bool:
    """A cache entry's value: bandit's report for one file and the file's # nosec lines ([line, tests named])."""
    if not (isinstance(value, dict) and set(value) == {"results", "errors", "metrics", "nosec"}):
        return False
    results, errors, metrics, nosec = value["results"], value["errors"], value["metrics"], value["nosec"]
    if not (isinstance(nosec, list) and all(isinstance(n, list) and len(n) == 2 and is_int(n[0])
                                            and isinstance(n[1], str) for n in nosec)):
        return False
    if not (isinstance(results, list) and errors == [] and (metrics is None or isinstance(metrics, dict))):
        return False
    if metrics is not None and not all(isinstance(k, str) and is_int(v) for k, v in metrics.items()):
        return False
    if metrics is None and results:
        return False
    return all(isinstance(r, dict) and r.get("filename") == shown(path) and isinstance(r.get("test_id"), str)
               and is_int(r.get("line_number")) and isinstance(r.get("issue_severity"), str)
               and isinstance(r.get("issue_confidence"), str) for r in results)


def lpt_chunks(files: list[tuple[str, int]], count: int) -> list[list[str]]:
    """files (name, weight) in count chunks of about equal weight (largest first to the lightest chunk)."""
    chunks: list[list[str]] = [[] for _ in range(count)]
    load = [0] * count
    for name, weight in sorted(files, key=lambda f: (-f[1], f[0])):
        i = load.index(min(load))
        chunks[i].append(name)
        load[i] += weight + 1
    return [sorted(c) for c in chunks if c]


def content_ids(files: list[tuple[str, str]], algorithm: str) -> dict[str, str]:
    """{argument: git's blob id} of the files (blob_ids; the index names a file by its normalized path). Outside a
    git repository (or without git) every file is hashed."""
    try:
        indexed = index_blob_ids()
    except (Failure, OSError):
        indexed = {}
    by_path = blob_ids((os.path.normpath(arg) for _, arg in files), indexed, algorithm)
    return {arg: by_path[os.path.normpath(arg)] for _, arg in files if os.path.normpath(arg) in by_path}


def cmd_plan(args: argparse.Namespace) -> None:
    """The files the gate has bandit scan: the files under the targets that bandit's default include (*.py, *.pyw)
    or [tool.bandit] include match, less the ones its include does not match or its exclude_dirs excludes by whole
    path components (bandit-excluded.jsonl lists them with the rule; bandit-narrowing.jsonl has each narrowing
    setting as a gap); the cached ones answered, the rest in chunks. Also bandit's settings for explicit files
    (bandit-config.yaml), its `# nosec` lines and its test selection, listed in bandit-excluded.jsonl. When the
    cache answers every file, the merge is done here too (nothing left for bandit) and the first word printed
    after the counts is "merged"."""
    work = Path(args.work)
    section = bandit_config(args.config)
    include = (section or {}).get("include") or DEFAULT_INCLUDE
    excluded_dirs = (section or {}).get("exclude_dirs") or []
    explicit = {t for t in args.targets if not os.path.isdir(t)}  # bandit scans a file it is given by name
    discovered, walk = bandit_discover(args.targets, list(dict.fromkeys(include + DEFAULT_INCLUDE)))
    if walk.links_out:
        raise Failure("symlinks in BANDIT_TARGETS point outside the project, and bandit would read through them: "
                      + ", ".join(walk.links_out[:5])
                      + (f" and {len(walk.links_out) - 5} more" if len(walk.links_out) > 5 else ""))
    if walk.dot_bandit:
        raise Failure(f"{sorted(walk.dot_bandit)[0]} holds bandit settings the gate does not read "
                      "(it hands bandit explicit files); move them to [tool.bandit] in pyproject.toml")
    included = glob_matcher(include)
    files, excluded = [], []
    left_out: dict[str, list[str]] = {}
    for name, arg in discovered:
        if arg in explicit or included(arg):
            dirs_rule = excluded_by(os.path.normpath(arg), excluded_dirs)
            rule = None if dirs_rule is None else f"[tool.bandit] exclude_dirs: {dirs_rule}"
        else:
            rule = include_rule(include)
        if rule is None:
            files.append((name, arg))
        else:
            excluded.append({"item": os.path.normpath(arg), "rule": rule})
            left_out.setdefault(rule, []).append(os.path.normpath(arg))
    if not files and not args.empty_ok:
        raise Failure("BANDIT_TARGETS hold no Python file to scan"
                      + (f" ({len(excluded)} excluded by [tool.bandit])" if excluded else ""))
    Path(work / "bandit-narrowing.jsonl").write_text(
        "".join(canonical(g) + "\n" for g in narrowing_gaps(section, left_out)))
    excluded += bandit_narrowing(section)
    bandit_settings_written(section, work / "bandit-config.yaml")
    if args.jobs <= 0:
        args.jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cache_dir, tool_id, note = cache_settings(args)
    cache = Cache(cache_dir, "bandit", tool_id, {"tool_args": args.tool_args, "config": section})
    cache.load()
    algorithm = object_format() if cache_dir else "sha1"
    ids = content_ids(files, algorithm) if cache_dir else {}
    plan_files, hits, todo = [], {}, []
    for name, arg in files:
        key = cache.key(name, ids[arg]) if arg in ids else None
        value = cache.get(key, name, bandit_valid) if key else None
        if value is None:
            # Read now: the cache keeps them with bandit's answer (the file must still have this id then).
            nosec = nosec_lines(arg)
            todo.append((arg, os.path.getsize(arg) if os.path.isfile(arg) else 0))
        else:
            nosec = value["nosec"]
            hits[name] = value
        plan_files.append({"name": name, "arg": arg, "key": key, "nosec": nosec})
        excluded += [{"item": f"{os.path.normpath(arg)}:{line}", "rule": "# nosec" + (f" {tests}" if tests else "")}
                     for line, tests in nosec]
    Path(work / "bandit-excluded.jsonl").write_text("".join(canonical(e) + "\n" for e in excluded))
    jobs = max(1, min(args.jobs, -(-len(todo) // MIN_FILES_PER_CHUNK)))
    arg_bytes = sum(len(os.fsencode(a)) + 1 for a, _ in todo)
    chunks = lpt_chunks(todo, max(jobs, -(-arg_bytes // MAX_ARG_BYTES))) if todo else []
    for i, chunk in enumerate(chunks):
        write_list(work / f"chunk-{i}.args", chunk)
    plan = {"files": plan_files, "hits": hits, "chunks": len(chunks), "jobs": jobs, "cache_dir": cache_dir,
            "tool_id": tool_id, "algorithm": algorithm}
    write_stats(work, cache_dir, note, len(hits), len(todo))
    if chunks:
        write_json(work / "plan.json", plan)
        print(f"{len(files)} {len(hits)} {len(todo)} {len(chunks)} {jobs}")
        return
    merge(work, plan, cache, section)
    print(f"{len(files)} {len(hits)} {len(todo)} {len(chunks)} {jobs} merged")


def cmd_run_chunks(args: argparse.Namespace) -> None:
    """Run CMD + the files of each WORK/chunk-N.args, at most JOBS at once; stdout to chunk-N.json, stderr to
    chunk-N.err, exit status to chunk-N.rc. A signal stops every chunk."""
    import signal
    import subprocess

    work = Path(args.work)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd  # REMAINDER keeps the "--" before CMD
    plan = read_json(work / "plan.json")
    pending = list(range(plan["chunks"]))
    running: dict[int, subprocess.Popen] = {}

    def stop(signum, _frame):
        for proc in running.values():
            proc.send_signal(signum)
        for proc in running.values():
            proc.wait()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while pending or running:
        while pending and len(running) < plan["jobs"]:
            i = pending.pop(0)
            with open(work / f"chunk-{i}.json", "wb") as out, open(work / f"chunk-{i}.err", "wb") as err:
                running[i] = subprocess.Popen(cmd + read_list(str(work / f"chunk-{i}.args")),
                                              stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        pid, status = os.wait()
        for i, proc in list(running.items()):
            if proc.pid == pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                rc = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
                (work / f"chunk-{i}.rc").write_text(f"{rc}\n")
                progress.advance(len(read_list(str(work / f"chunk-{i}.args"))))  # its files, on the progress line
                del running[i]


def bandit_chunk(report: Any, names: dict[str, str], chunk: int) -> dict[str, dict[str, Any]]:
    """A chunk's (sanitized) report split by file: -r name -> {"results", "errors", "metrics"}, every file of
    the chunk present (metrics None: bandit left it out, as exclude_dirs does). names maps the name a file has in
    the chunk's report to its -r name; the results and errors are renamed to what the -r run's report (after
    jq) calls the file. Failure when the report is not bandit's shape."""
    where = f"bandit's report of chunk {chunk}"
    if not (isinstance(report, dict) and isinstance(report.get("results"), list)
            and isinstance(report.get("errors"), list) and isinstance(report.get("metrics"), dict)):
        raise Failure(f"{where} lacks its results, errors or metrics")
    per_file: dict[str, dict[str, Any]] = {n: {"results": [], "errors": [], "metrics": None} for n in names.values()}

    def owner(name: Any) -> str:
        if not isinstance(name, str) or name not in names:
            raise Failure(f"{where} names a file it was not given: {name!r:.200}")
        return names[name]

    for kind in ("results", "errors"):
        for item in report[kind]:
            if not isinstance(item, dict):
                raise Failure(f"{where} has a result or error that is not an object")
            name = owner(item.get("filename"))
            item["filename"] = shown(name)
            per_file[name][kind].append(item)
    for reported, value in report["metrics"].items():
        if reported == "_totals":
            continue
        if not (isinstance(value, dict) and all(is_int(v) for v in value.values())):
            raise Failure(f"{where} has metrics for {reported!r:.200} that are not counts")
        per_file[owner(reported)]["metrics"] = value
    return per_file


INTERNAL_ERROR = re.compile(r"Bandit internal error running: (\S+) on file (.+?) at line (\d+): ([^\n]*?)(?:Traceback|$)")


def internal_errors(err_file: Path, names: dict[str, str]) -> list[dict[str, Any]]:
    """The tests that crashed inside bandit (it logs "Bandit internal error running: TEST on file F at line N:
    ERROR" and goes on, exit status unchanged), from a chunk's stderr: [{name, file, test, line, error}]."""
    try:
        text = err_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        match = INTERNAL_ERROR.search(line)
        if match:
            reported = match.group(2)
            name = names.get(reported, names.get(shown(os.path.join(".", reported)), reported))
            found.append({"name": name, "file": shown(os.path.normpath(name)), "test": match.group(1),
                          "line": int(match.group(3)), "error": match.group(4).strip()[:200]})
    return found


def cmd_merge(args: argparse.Namespace) -> None:
    """merge() after bandit ran on the plan's chunks."""
    work = Path(args.work)
    plan = read_json(work / "plan.json")
    section = bandit_config(args.config)
    cache = Cache(plan["cache_dir"], "bandit", plan["tool_id"], {"tool_args": args.tool_args, "config": section})
    merge(work, plan, cache, section)


def merge(work: Path, plan: dict[str, Any], cache: Cache, section: Any) -> None:
    """The chunks' reports (plan["chunks"] of them) and the cached entries as one report shaped like `bandit -r`'s
    own (merged.json); the fresh per-file results kept in the cache with their # nosec lines, and the cache saved;
    the files bandit left out and its crashed tests as gaps (bandit-gaps.jsonl), the coverage
    (bandit-coverage.txt: "INVENTORY SCANNED")."""
    by_arg = {f["arg"]: f for f in plan["files"]}
    per_file: dict[str, dict[str, Any]] = {
        name: {"results": list(v["results"]), "errors": [], "metrics": v["metrics"]} for name, v in plan["hits"].items()
    }
    fresh: set[str] = set()
    crashed: list[dict[str, Any]] = []
    for i in range(plan["chunks"]):
        chunk_args = read_list(str(work / f"chunk-{i}.args"))
        names = {shown(os.path.join(".", a)): by_arg[a]["name"] for a in chunk_args}
        try:
            report = read_json(work / f"chunk-{i}.sanitized.json")
        except (OSError, ValueError) as e:
            raise Failure(f"bandit's report of chunk {i} cannot be read: {e}") from e
        chunk_files = bandit_chunk(report, names, i)
        per_file.update(chunk_files)
        fresh.update(chunk_files)
        crashed += internal_errors(work / f"chunk-{i}.err", names)
    gaps = [{"id": f"internal-error:{c['file']}:{c['test']}",
             "message": f"bandit's test {c['test']} crashed on {c['file']} line {c['line']} ({c['error']}), "
                        "so that test did not check the file"} for c in crashed]
    not_scanned = [f["name"] for f in plan["files"] if per_file.get(f["name"], {}).get("metrics") is None
                   and not per_file.get(f["name"], {}).get("errors")]
    gaps += [{"id": f"not-scanned:{shown(name)}", "message": f"bandit did not scan {shown(name)}"}
             for name in not_scanned]
    Path(work / "bandit-gaps.jsonl").write_text("".join(canonical(g) + "\n" for g in gaps))
    scanned = sum(1 for f in plan["files"] if per_file.get(f["name"], {}).get("metrics") is not None)
    (work / "bandit-coverage.txt").write_text(f"{len(plan['files'])} {scanned}\n")
    broken = {c["name"] for c in crashed}
    for f in plan["files"]:
        name, key = f["name"], f["key"]
        value = per_file.get(name)
        if name in plan["hits"]:
            cache.keep(key, name, plan["hits"][name])
            continue
        # Only what bandit read in full, no test crashing, is kept: any other file is looked at again next time.
        if (name not in fresh or name in broken or not key or value is None or value["errors"]
                or value["metrics"] is None):
            continue
        value = dict(value, nosec=f["nosec"])
        if not bandit_valid(value, name):
            continue
        # The file must still be what the plan read: a file edited while bandit ran is not stored.
        sha = git_blob_id(f["arg"], plan["algorithm"])
        if sha and cache.key(name, sha) == key:
            cache.keep(key, name, value)
    cache.save()
    totals = dict.fromkeys(BANDIT_TOTALS, 0)
    results, errors, metrics = [], [], {}
    for name in sorted(per_file):
        value = per_file[name]
        results.extend(value["results"])
        errors.extend(value["errors"])
        if value["metrics"] is not None:
            metrics[shown(name)] = value["metrics"]
            for k, v in value["metrics"].items():
                totals[k] = totals.get(k, 0) + v
    metrics["_totals"] = totals
    report = {
        "errors": errors,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "metrics": metrics,
        "results": results,
    }
    write_json(work / "merged.json", report)
    (work / "bandit-problems.txt").write_text(problems_text(errors))


def problems_text(errors: list[Any]) -> str:
    """What bandit could not scan, as one message (its report's errors); empty when it scanned everything."""
    if not errors:
        return ""

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))

    named = ", ".join(f"{text(e.get('filename'))} ({text(e.get('reason'))})" if isinstance(e, dict) else text(e)
                      for e in errors)
    return f"bandit could not parse {len(errors)} file(s): {named}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cache_adapter.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    sp = sub.add_parser("plan")
    add_cache_options(sp)
    sp.add_argument("--config", default="")
    sp.add_argument("--jobs", type=int, default=1)
    sp.add_argument("--empty-ok", action="store_true", help="no file to scan is no error (the hook's --staged)")
    sp.add_argument("targets", nargs="+")
    sp.set_defaults(func=cmd_plan)

    sp = sub.add_parser("run-chunks")
    sp.add_argument("--work", required=True)
    sp.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS...: each chunk's files are appended")
    sp.set_defaults(func=cmd_run_chunks)

    sp = sub.add_parser("merge")
    add_cache_options(sp)
    sp.add_argument("--config", default="")
    sp.set_defaults(func=cmd_merge)
    return p


if __name__ == "__main__":
    sys.exit(run_command(parser(), sys.argv[1:]))
