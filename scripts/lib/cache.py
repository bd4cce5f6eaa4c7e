#!/usr/bin/env python3
"""Summary: the per-file result cache of the bandit and detect-secrets scans, and bandit spread over the cores.
Usage: python3 scripts/lib/cache.py COMMAND ARGS...   (called by scripts/lib/cache.sh, not by people)

Commands (each writes into the scan's work directory WORK; exit 0 done, 3 "not possible, run the tool the
plain way" with the reason on stdout, 2 error with the message on stderr):
  bandit-plan   the files `bandit -r TARGETS` would scan, which of them the cache answers, the rest in chunks
  run-chunks    run bandit on each chunk of files, at most JOBS at a time (under the scan's timeout)
  bandit-merge  the chunks' reports and the cached entries as one report shaped like `bandit -r`'s own;
                stores the fresh per-file results
  ds-plan       which of the listed files the cache answers for detect-secrets, the rest to scan
  ds-merge      detect-secrets' report on the rest plus the cached entries, shaped like one full report;
                stores the fresh per-file results

The cache of a scan is one JSON file, SECURITY_CACHE_DIR/v1/SCAN.json (one file, not one per entry: 3,600
small files cost a second to write, one file a few milliseconds):
  {"format": 1, "scan": SCAN, "entries": {KEY: {"path": PATH, "value": {...the tool's JSON for that file...}}}}
KEY = sha256 over the cache format, the scan, the tool's identity (its distribution's version, the plugins
registered for it and the Python version, read from its interpreter; or its `--version` output when it is not
a Python entry point; and the locale variables), the digest of its configuration, the file's path and the sha256 of its content (and, for detect-secrets, the baseline's
entries for that file, which the tool merges into its output). An entry is used only when the file parses,
its key is the one computed now, its path is the file's and its value has the expected shape; anything else
is a miss, and a manifest that does not parse is an empty one. After each run the file is replaced
atomically (temporary file, then rename) by the entries that run used or made: it holds one tree's files
and does not grow without bound in a cache CI persists. Two runs at once: the last one to finish wins.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: the plain run, without cache
    tomllib = None  # type: ignore[assignment]

FORMAT = 1
# A bandit process costs about 0.3 s to start: a chunk gets at least this many files.
MIN_FILES_PER_CHUNK = 100
# At most this many bytes of file names on one command line (far below any ARG_MAX).
MAX_ARG_BYTES = 64 * 1024
EXIT_PLAIN = 3
EXIT_ERROR = 2
ENVELOPE = "<envelope>"
# The totals bandit starts from (bandit/core/metrics.py), before it adds each file's metrics.
BANDIT_TOTALS = ["loc", "nosec", "skipped_tests"] + [
    f"{criteria}.{rank}" for rank in ("UNDEFINED", "LOW", "MEDIUM", "HIGH") for criteria in ("SEVERITY", "CONFIDENCE")
]


class Plain(Exception):
    """The fast path cannot reproduce the tool's own run here: run the tool the plain way."""


class Failure(Exception):
    """The tool's output or the scan's inputs are not what they must be: the scan is an error."""


# --- helpers ---------------------------------------------------------------------------------------------


# JSON is written ASCII-only: a file name that is not UTF-8 (os.fsdecode's surrogates) then survives the trip.
def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def content_sha256(path: str) -> str | None:
    """The sha256 of a regular file's content, or None when it cannot be read (never cached then)."""
    try:
        if not os.path.isfile(path):
            return None
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    except OSError:
        return None


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path: str | Path, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


def read_list(path: str) -> list[str]:
    """A NUL-separated list of names."""
    data = Path(path).read_bytes()
    return [os.fsdecode(x) for x in data.split(b"\0") if x]


def write_list(path: str | Path, names: Iterable[str]) -> None:
    Path(path).write_bytes(b"".join(os.fsencode(n) + b"\0" for n in names))


class Cache:
    """The entries of one scan, in its manifest file; directory "" = cache off.

    load() reads the manifest once; get() answers from it; keep() records an entry for the next run; save()
    replaces the manifest by the entries kept in this run (so it never holds more than one tree's files).
    """

    def __init__(self, directory: str, scan: str, tool_id: str, config: Any) -> None:
        self.scan = scan
        self.file = Path(directory) / f"v{FORMAT}" / f"{scan}.json" if directory else None
        self.context = [FORMAT, scan, tool_id, digest(config)]
        self.entries: dict[str, Any] = {}
        self.kept: dict[str, Any] = {}
        self.write_error = ""

    def key(self, path: str, sha: str, extra: Any = None) -> str:
        return digest(self.context + [path, sha, extra])

    def load(self) -> None:
        """The manifest's entries; an unreadable or malformed manifest is an empty one."""
        if self.file is None:
            return
        try:
            manifest = read_json(self.file)
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            return
        if (isinstance(manifest, dict) and manifest.get("format") == FORMAT and manifest.get("scan") == self.scan
                and isinstance(manifest.get("entries"), dict)):
            self.entries = manifest["entries"]

    def get(self, key: str, path: str, valid) -> Any:
        """The value stored under key for path, when valid(value, path) holds; else None (a miss)."""
        entry = self.entries.get(key)
        if not (isinstance(entry, dict) and set(entry) == {"path", "value"} and entry["path"] == path):
            return None
        return entry["value"] if valid(entry["value"], path) else None

    def keep(self, key: str, path: str, value: Any) -> None:
        self.kept[key] = {"path": path, "value": value}

    def save(self) -> None:
        """Replace the manifest atomically by the entries kept; a failure is only noted (write_error)."""
        if self.file is None:
            return
        import tempfile

        tmp = None
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=f".{self.scan}.", suffix=".tmp")
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would keep a shared cache from other users
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"format": FORMAT, "scan": self.scan, "entries": self.kept}, f, separators=(",", ":"))
            os.replace(tmp, self.file)
            tmp = None
        except OSError as e:
            self.write_error = str(e)
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


def identity_text(dist: str) -> str:
    """What ties a tool's results to its installation, read from inside its Python: the distribution's version,
    the entry points other distributions register for it (bandit's plugins), the Python version, the text
    encoding files are read with."""
    import importlib.metadata as metadata
    import locale

    lines = [f"{dist} {metadata.version(dist)}", sys.version, locale.getpreferredencoding(False)]
    for d in sorted(metadata.distributions(), key=lambda d: (d.metadata["Name"] or "", d.version)):
        for e in sorted(d.entry_points, key=lambda e: (e.group, e.name)):
            if e.group.startswith(dist + "."):
                lines.append(f"{e.group} {e.name} {e.value} {d.metadata['Name']} {d.version}")
    return "\n".join(lines) + "\n"


def cmd_identity(args: argparse.Namespace) -> None:
    print(identity_text(args.dist), end="")


def tool_identity(args: argparse.Namespace) -> str:
    """The tool's identity: --tool-id as given (a `--version` output), or read from --tool-python, the tool's
    interpreter: in this process when it is the same interpreter, else by running this file under it. Plus the
    locale variables. "" when it cannot be told."""
    tool_id = args.tool_id
    if not tool_id and args.tool_python:
        interp = args.tool_python
        if (os.path.dirname(interp) == os.path.dirname(sys.executable)
                and os.path.realpath(interp) == os.path.realpath(sys.executable)):
            import site

            site.main()  # run with -S: the tool's own site-packages now
            try:
                tool_id = identity_text(args.dist)
            except Exception:  # noqa: BLE001 - any failure means "cannot tell"
                tool_id = ""
        else:
            import subprocess

            try:
                proc = subprocess.run([interp, __file__, "identity", args.dist], capture_output=True, text=True,
                                      timeout=120, check=False)
                tool_id = proc.stdout if proc.returncode == 0 else ""
            except (OSError, subprocess.SubprocessError):
                tool_id = ""
    if not tool_id.strip():
        return ""
    env = " ".join(f"{k}={os.environ.get(k, '')}" for k in ("LC_ALL", "LC_CTYPE", "LANG", "PYTHONUTF8",
                                                                "PYTHONIOENCODING"))
    return f"{tool_id}\n{env}"


def cache_settings(args: argparse.Namespace) -> tuple[str, str, str]:
    """(cache directory or "", tool identity, note): the cache is off when asked, or when the tool's identity
    cannot be told (results could not be tied to a tool version)."""
    if not args.cache_dir:
        return "", "", args.note
    tool_id = tool_identity(args)
    if not tool_id:
        return "", "", f"the {args.dist} version could not be read from its Python environment"
    return args.cache_dir, tool_id, ""


def write_stats(work: Path, cache_dir: str, note: str, hits: int, misses: int) -> None:
    """The result's optional "cache" field, for scan_finish (SCAN_RESULT_EXTRA)."""
    write_json(work / "cache-stats.json",
               {"cache": {"enabled": bool(cache_dir), "hits": hits, "misses": misses, "note": note or None}})


# A byte of a file name that is not UTF-8 is a lone surrogate in Python (os.fsdecode); the tools write it as a
# \udcXX escape in their JSON, and jq reads that back as U+FFFD. A report that went through jq names it so.
_UNDECODABLE = {c: 0xFFFD for c in range(0xDC80, 0xDD00)}


def shown(name: str) -> str:
    """name as it reads in a report that went through jq."""
    return name.translate(_UNDECODABLE)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- bandit ----------------------------------------------------------------------------------------------


def bandit_config(config_file: str) -> Any:
    """The [tool.bandit] table bandit reads from config_file (None without one)."""
    if not config_file:
        return None
    if tomllib is None:
        raise Plain("Python < 3.11 cannot read pyproject.toml (tomllib)")
    try:
        with open(config_file, "rb") as f:
            section = tomllib.load(f).get("tool", {}).get("bandit", {})
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise Plain(f"{config_file} cannot be read ({e}); bandit reports that itself") from e
    if not isinstance(section, dict):
        raise Plain(f"[tool.bandit] of {config_file} is not a table")
    return section


def bandit_discover(targets: list[str], include: list[str]) -> list[tuple[str, str]]:
    """(name bandit -r reports, argument to pass) of every file `bandit -r TARGETS` looks at.

    As bandit/core/manager.py discover_files: a directory target is walked (os.walk, symlinked directories not
    followed) and its files matching an `include` glob are taken; a file target is taken as it is and reported
    as ./NAME. Exclusions (exclude_dirs) are left to bandit, which applies them to an explicit file exactly as to
    a walked one (the same function on the same path).
    """
    import fnmatch

    found: dict[str, str] = {}
    for target in targets:
        if os.path.isdir(target):
            for root, _, names in os.walk(target):
                for name in names:
                    path = os.path.join(root, name)
                    if any(fnmatch.fnmatch(path, glob) for glob in include):
                        found[path] = path
        else:
            found[os.path.join(".", target)] = target
    # bandit names an explicit file ./ARG: two names needing the same argument, or two arguments whose ./ forms
    # read the same once through jq, could not be told apart.
    reported = [shown(os.path.join(".", arg)) for arg in found.values()]
    if len(set(found.values())) != len(found) or len(set(reported)) != len(reported):
        raise Plain("two files of BANDIT_TARGETS would have the same name in bandit's report")
    return sorted(found.items())


def bandit_valid(value: Any, path: str) -> bool:
    if not (isinstance(value, dict) and set(value) == {"results", "errors", "metrics"}):
        return False
    results, errors, metrics = value["results"], value["errors"], value["metrics"]
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


def cmd_bandit_plan(args: argparse.Namespace) -> None:
    work = Path(args.work)
    if tomllib is None:
        raise Plain("Python < 3.11 (no tomllib)")
    for target in args.targets:
        if os.path.isdir(target):
            for root, _, names in os.walk(target):
                if ".bandit" in names:
                    raise Plain(f"{os.path.join(root, '.bandit')} sets bandit options for -r runs")
    section = bandit_config(args.config)
    if section is None:
        include = ["*.py", "*.pyw"]  # bandit's defaults without a config file
    else:
        include = section.get("include") or ["*.py"]
        if not (isinstance(include, list) and all(isinstance(g, str) for g in include)):
            raise Plain("[tool.bandit] include is not a list of globs")
    files = bandit_discover(args.targets, include)
    if args.jobs <= 0:
        args.jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    cache_dir, tool_id, note = cache_settings(args)
    cache = Cache(cache_dir, "bandit", tool_id, {"tool_args": args.tool_args, "config": section})
    cache.load()
    plan_files, hits, todo = [], {}, []
    for name, arg in files:
        sha = content_sha256(arg)
        key = cache.key(name, sha) if sha else None
        value = cache.get(key, name, bandit_valid) if key else None
        plan_files.append({"name": name, "arg": arg, "key": key})
        if value is None:
            todo.append((arg, os.path.getsize(arg) if os.path.isfile(arg) else 0))
        else:
            hits[name] = value
    jobs = max(1, min(args.jobs, -(-len(todo) // MIN_FILES_PER_CHUNK)))
    arg_bytes = sum(len(os.fsencode(a)) + 1 for a, _ in todo)
    chunks = lpt_chunks(todo, max(jobs, -(-arg_bytes // MAX_ARG_BYTES))) if todo else []
    for i, chunk in enumerate(chunks):
        write_list(work / f"chunk-{i}.args", chunk)
    write_json(work / "plan.json", {"files": plan_files, "hits": hits, "chunks": len(chunks), "jobs": jobs,
                                    "cache_dir": cache_dir, "tool_id": tool_id})
    write_stats(work, cache_dir, note, len(hits), len(todo))
    print(f"{len(files)} {len(hits)} {len(todo)} {len(chunks)} {jobs}")


def cmd_run_chunks(args: argparse.Namespace) -> None:
    """Run CMD + the files of each WORK/chunk-N.args, at most JOBS at once; stdout to chunk-N.json, stderr to
    chunk-N.err, exit status to chunk-N.rc. A signal stops every chunk."""
    import signal
    import subprocess

    work = Path(args.work)
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
                running[i] = subprocess.Popen(args.cmd + read_list(str(work / f"chunk-{i}.args")),
                                              stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        pid, status = os.wait()
        for i, proc in list(running.items()):
            if proc.pid == pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                rc = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
                (work / f"chunk-{i}.rc").write_text(f"{rc}\n")
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


def cmd_bandit_merge(args: argparse.Namespace) -> None:
    work = Path(args.work)
    plan = read_json(work / "plan.json")
    by_arg = {f["arg"]: f for f in plan["files"]}
    per_file: dict[str, dict[str, Any]] = {
        name: {"results": list(v["results"]), "errors": [], "metrics": v["metrics"]} for name, v in plan["hits"].items()
    }
    fresh: set[str] = set()
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
    cache = Cache(plan["cache_dir"], "bandit", plan["tool_id"], {"tool_args": args.tool_args,
                                                                 "config": bandit_config(args.config)})
    stored = 0
    for f in plan["files"]:
        name, key = f["name"], f["key"]
        value = per_file.get(name)
        if name in plan["hits"]:
            cache.keep(key, name, plan["hits"][name])
            continue
        # Only what bandit read in full is kept: a file it could not read or parse is looked at again next time.
        if name not in fresh or not key or value is None or value["errors"] or not bandit_valid(value, name):
            continue
        # The file must still be what the plan hashed: a file edited while bandit ran is not stored.
        sha = content_sha256(f["arg"])
        if sha and cache.key(name, sha) == key:
            cache.keep(key, name, value)
            stored += 1
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
    if cache.write_error:
        print(f"the cache could not be written: {cache.write_error}", file=sys.stderr)
    print(f"{len(plan['hits'])} {len(fresh)} {stored}")


# --- detect-secrets --------------------------------------------------------------------------------------


def ds_valid(value: Any, path: str) -> bool:
    return (isinstance(value, dict) and set(value) == {"results"} and isinstance(value["results"], list)
            and all(isinstance(s, dict) and s.get("filename") == path and isinstance(s.get("type"), str)
                    and isinstance(s.get("hashed_secret"), str) for s in value["results"]))


def ds_envelope_valid(value: Any, _path: str) -> bool:
    return isinstance(value, dict) and "results" not in value and isinstance(value.get("version"), str)


def ds_settings(baseline_file: str) -> tuple[Any, dict[str, Any]]:
    """What of the baseline acts on the scan: (its settings, its results by file)."""
    if not baseline_file:
        return None, {}
    baseline = read_json(baseline_file)
    if not isinstance(baseline, dict) or not isinstance(baseline.get("results"), dict):
        raise Plain("the baseline has no results")
    settings = {k: baseline.get(k) for k in ("version", "plugins_used", "filters_used")}
    # Custom plugins and models are files whose content is not part of the key: no cache with them.
    for item in (settings.get("plugins_used") or []) + (settings.get("filters_used") or []):
        if isinstance(item, dict) and (item.get("path", "").startswith("file://") or item.get("model")):
            raise Plain("the baseline uses a custom plugin or model file")
    return settings, baseline["results"]


def ds_cache(args: argparse.Namespace, cache_dir: str, tool_id: str) -> tuple[Cache, dict[str, Any]]:
    settings, known = ds_settings(args.baseline)
    config = {"tool_args": args.tool_args, "baseline_settings": settings, "with_baseline": bool(args.baseline)}
    return Cache(cache_dir, "detect-secrets", tool_id, config), known


def cmd_ds_plan(args: argparse.Namespace) -> None:
    work = Path(args.work)
    cache_dir, tool_id, note = cache_settings(args)
    cache, known = ds_cache(args, cache_dir, tool_id)
    cache.load()
    files = read_list(args.list)
    envelope = cache.get(cache.key(ENVELOPE, ""), ENVELOPE, ds_envelope_valid)
    plan_files, hits, todo = [], {}, []
    for path in files:
        sha = content_sha256(path)
        key = cache.key(path, sha, known.get(path)) if sha else None
        value = cache.get(key, path, ds_valid) if key and envelope is not None else None
        plan_files.append({"name": path, "key": key})
        if value is None:
            todo.append(path)
        else:
            hits[path] = value
    write_list(work / "todo", todo)
    write_json(work / "plan.json", {"files": plan_files, "hits": hits, "envelope": envelope,
                                    "cache_dir": cache_dir, "tool_id": tool_id})
    write_stats(work, cache_dir, note, len(hits), len(todo))
    print(f"{len(files)} {len(hits)} {len(todo)}")


def cmd_ds_merge(args: argparse.Namespace) -> None:
    work = Path(args.work)
    plan = read_json(work / "plan.json")
    cache, known = ds_cache(args, plan["cache_dir"], plan["tool_id"])
    todo = set(read_list(str(work / "todo")))
    if todo:
        try:
            report = read_json(args.fresh)
        except (OSError, ValueError) as e:
            raise Failure(f"detect-secrets' output cannot be read: {e}") from e
        if not (isinstance(report, dict) and isinstance(report.get("results"), dict)):
            raise Failure("detect-secrets' report lacks its results")
        fresh = report["results"]
        envelope = {k: v for k, v in report.items() if k != "results"}
        cache.keep(cache.key(ENVELOPE, ""), ENVELOPE, json.loads(json.dumps(envelope)))
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
    stored = 0
    for f in plan["files"]:
        path, key = f["name"], f["key"]
        if path in plan["hits"]:
            cache.keep(key, path, plan["hits"][path])
            continue
        if path not in todo or not key:
            continue
        value = {"results": fresh.get(path, [])}
        # The file must still be what the plan hashed: a file edited while detect-secrets ran is not stored.
        sha = content_sha256(path)
        if ds_valid(value, path) and sha and cache.key(path, sha, known.get(path)) == key:
            cache.keep(key, path, value)
            stored += 1
    cache.save()
    results = {path: value["results"] for path, value in plan["hits"].items() if value["results"]}
    results.update(fresh)
    report = dict(envelope)
    report["results"] = {path: results[path] for path in sorted(results)}
    write_json(work / "merged.json", report)
    if cache.write_error:
        print(f"the cache could not be written: {cache.write_error}", file=sys.stderr)
    print(f"{len(plan['hits'])} {len(todo)} {stored}")


# --- command line ----------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cache.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--work", required=True)
        sp.add_argument("--cache-dir", default="", help="empty: cache off")
        sp.add_argument("--note", default="", help="why the cache is off, for the result")
        sp.add_argument("--tool-id", default="", help="the tool's identity (its --version output) ...")
        sp.add_argument("--tool-python", default="", help="... or the tool's interpreter, to read it from")
        sp.add_argument("--dist", default="", help="the tool's Python distribution")
        sp.add_argument("--tool-args", default="")

    sp = sub.add_parser("identity")
    sp.add_argument("dist")
    sp.set_defaults(func=cmd_identity)

    sp = sub.add_parser("bandit-plan")
    common(sp)
    sp.add_argument("--config", default="")
    sp.add_argument("--jobs", type=int, default=1)
    sp.add_argument("targets", nargs="+")
    sp.set_defaults(func=cmd_bandit_plan)

    sp = sub.add_parser("run-chunks")
    sp.add_argument("--work", required=True)
    sp.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ARGS...: each chunk's files are appended")
    sp.set_defaults(func=cmd_run_chunks)

    sp = sub.add_parser("bandit-merge")
    common(sp)
    sp.add_argument("--config", default="")
    sp.set_defaults(func=cmd_bandit_merge)

    for name, func in (("ds-plan", cmd_ds_plan), ("ds-merge", cmd_ds_merge)):
        sp = sub.add_parser(name)
        common(sp)
        sp.add_argument("--baseline", default="", help="the committed baseline (copy); empty: none")
        sp.add_argument("--list", default="")
        sp.add_argument("--fresh", default="")
        sp.add_argument("--work-baseline", default="")
        sp.set_defaults(func=func)
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.func is cmd_run_chunks and args.cmd[:1] == ["--"]:
        args.cmd = args.cmd[1:]
    try:
        args.func(args)
    except Plain as e:
        print(e)
        return EXIT_PLAIN
    except Failure as e:
        print(e, file=sys.stderr)
        return EXIT_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
