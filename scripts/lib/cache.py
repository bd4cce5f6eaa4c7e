#!/usr/bin/env python3
"""Summary: the per-file result cache shared by the scans that have one (bandit, detect-secrets, kingfisher).
Usage: imported by each scan's adapter, scans/<scan>/cache_adapter.py;
       `python3 scripts/lib/cache.py identity DIST` prints a tool's identity from inside its interpreter
       (tool_identity runs it so).

This module is the cache itself: the manifest file, the keys, the tool's identity, the result's "cache" field.
What a tool's per-file result looks like, which files a run covers and how a full report is rebuilt from
per-file results is the tool's own and lives in its adapter (scans/bandit/cache_adapter.py,
scans/detect-secrets/cache_adapter.py), which scripts/lib/cache.sh runs.
An adapter command writes into the scan's work directory WORK and exits 0 done, 3 "not possible, run the tool
the plain way" with the reason on stdout (Plain), 2 error with the message on stderr (Failure).

The cache of a scan is one JSON file, SECURITY_CACHE_DIR/v1/SCAN.json (one file, not one per entry: 3,600
small files cost a second to write, one file a few milliseconds):
  {"format": 1, "scan": SCAN, "entries": {KEY: {"path": PATH, "value": {...the tool's JSON for that file...}}}}
KEY = SHA-256 over the cache format, the scan, the tool's identity (its distribution's version, the plugins
registered for it and the Python version, read from its interpreter; or its `--version` output when it is not
a Python entry point; and the locale variables), the digest of its configuration, the file's path and the
id of its content (and what else the adapter says acts on that file; for detect-secrets the baseline's settings
are in the configuration, its audited results are not: the gate applies them after the cache). detect-secrets' content id is git's blob id: for a tracked
file the work tree has not modified (`git diff-files`) it is read from the index (`git ls-files --stage`), without
reading the file; for any other file it is computed from its content the way git computes it (git_blob_id); the
history scan (scans/detect-secrets/history.py) and the pre-commit hook key a committed or staged blob by its id
alike, so the three share entries. An entry is used only when the file parses,
its key is the one computed now, its path is the file's and its value has the shape the adapter expects;
anything else is a miss, and a manifest that does not parse is an empty one. After each run the file is
replaced atomically (temporary file, then rename) by the entries that run used or made and the ones an earlier run
used within RETAIN_DAYS (the manifest's "used": {KEY: day}), at most MAX_ENTRIES (the least recently used go
first): a short range's run leaves the full history's entries to the daily job, and the file does not grow without
bound in a cache CI persists. Answers a run makes before it ends are appended as they come to SCAN.journal beside
it ({"key", "path", "value"} a line, those without a finding, as in the manifest; Cache.journal): a run stopped by its timeout or
interrupted keeps them, and the next run's load() takes them (a torn last line is skipped), its save() folds them
into the manifest and removes the journal. Two runs at once: the last one to finish wins (the other's answers cost
time again, never a result).
detect-secrets' hashed_secret (an unsalted SHA-1 of the secret, which a word list cracks) is kept only salted,
"hmac:" + HMAC-SHA-256 by this run's key (run_key, SECURITY_RUN_KEY: made for each run, written to no file): in
the merged report, the raw report and the baseline copy the findings are matched with. The cache itself holds
no key and no hash of a secret: an entry whose value holds a finding (the adapter says which: holds_finding) is
neither saved nor answered, so the few files and blobs with findings are scanned again every run, and the cache
a pull request restores gives it nothing to test a guess against (docs/workflow.md, "Caches"). (The history scan
keeps, for a blob with findings, the numbers of the lines they were at, and reads those lines alone again;
kingfisher's scan keeps its answers without a finding as its scan "kingfisher": scans/kingfisher/adapter.py.)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

FORMAT = 1
RETAIN_DAYS = 14  # an entry no run used for this long is dropped
MAX_ENTRIES = 200_000  # about 60 MB of manifest at most; the least recently used entries go first
EXIT_PLAIN = 3
EXIT_ERROR = 2


class Plain(Exception):
    """The fast path cannot reproduce the tool's own run here: run the tool the plain way."""


class Failure(Exception):
    """The tool's output or the scan's inputs are not what they must be: the scan is an error."""


# --- helpers ---------------------------------------------------------------------------------------------


_json_string = json.encoder.encode_basestring_ascii  # what json.dumps(str) gives, without its overhead

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


def git_text(*args: str) -> str:
    """git's output (run where the scan runs, PROJECT_DIR); Failure naming the command when git fails."""
    import subprocess

    proc = subprocess.run(["git", *args], capture_output=True, check=False)
    if proc.returncode != 0:
        raise Failure(f"git {' '.join(args)} failed: {proc.stderr.decode(errors='replace').strip()[:300]}")
    return proc.stdout.decode("utf-8", "surrogateescape")


def object_format() -> str:
    """The repository's object hash, sha1 or sha256 (git rev-parse --show-object-format)."""
    try:
        found = git_text("rev-parse", "--show-object-format").strip()
    except Failure:
        return "sha1"
    return found if found in ("sha1", "sha256") else "sha1"


def git_blob_id(path: str, algorithm: str = "sha1") -> str | None:
    """git's blob id of a regular file's content (what `git hash-object` prints, with no filter), or None when it
    cannot be read (never cached then)."""
    try:
        if not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            h = hashlib.new(algorithm, b"blob %d\0" % size)
            read = 0
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                read += len(block)
        return h.hexdigest() if read == size else None
    except OSError:
        return None


def index_blob_ids() -> dict[str, str]:
    """{path: blob id} of the tracked regular files the work tree has not modified, straight from the index
    (`git ls-files --stage`, less what `git diff-files` lists), relative to the current folder: no file is read.
    Conflicted, modified, deleted and untracked files are not in it, nor are files marked assume-unchanged or
    skip-worktree (`git ls-files -v` tags them; diff-files does not look at them, so their work-tree content may
    be anything)."""
    ids: dict[str, str] = {}
    for line in git_text("ls-files", "-z", "--stage", "-v").split("\0"):
        meta, _, name = line.partition("\t")
        fields = meta.split()
        if len(fields) == 4 and fields[0] == "H" and fields[1] in ("100644", "100755") and fields[3] == "0":
            ids[name] = fields[2]
    # --relative: paths relative to this folder, as ls-files gives them (without it diff-files names them from
    # the repository's root, and in a project below it no modified file would leave the list).
    for name in git_text("diff-files", "-z", "--name-only", "--no-renames", "--relative").split("\0"):
        ids.pop(name, None)
    return ids


def json_lines(items: Iterable[Any]) -> str:
    """items as JSON lines, each what json.dumps writes; an object of strings (an exclusion, a gap: thousands of
    them) is written by json's C string encoder directly, without json.dumps' cost per call."""
    lines = []
    for item in items:
        if isinstance(item, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in item.items()):
            lines.append("{" + ", ".join(f"{_json_string(k)}: {_json_string(v)}" for k, v in item.items()) + "}\n")
        else:
            lines.append(json.dumps(item) + "\n")
    return "".join(lines)


def blob_ids(paths: Iterable[str], indexed: dict[str, str], algorithm: str) -> dict[str, str]:
    """{path: git's blob id} of the paths: the index's (indexed, from index_blob_ids: a tracked file the work tree has
    not modified, not read; a path replaced by a symlink is modified to diff-files), else its content's, hashed as
    git hashes it (git_blob_id). A path that cannot be read has no id (never cached)."""
    ids = {}
    for path in paths:
        found = indexed.get(path) or git_blob_id(path, algorithm)
        if found:
            ids[path] = found
    return ids


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path: str | Path, value: Any) -> None:
    # json.dumps, not json.dump: only the one-shot encoder is json's C one (json.dump streams through the pure
    # Python encoder, ten times slower on a cache's 18,000 entries).
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(value))


def read_list(path: str) -> list[str]:
    """A NUL-separated list of names."""
    data = Path(path).read_bytes()
    return [os.fsdecode(x) for x in data.split(b"\0") if x]


def write_list(path: str | Path, names: Iterable[str]) -> None:
    Path(path).write_bytes(b"".join(os.fsencode(n) + b"\0" for n in names))


SALTED = "hmac:"
KEY_BYTES = 32
RUN_KEY_VARIABLE = "SECURITY_RUN_KEY"
LEGACY_KEY_FILE = "secret.key"  # where an earlier version kept a key in the cache: removed on sight


def run_key() -> bytes:
    """This run's hashing key: SECURITY_RUN_KEY (64 hex digits; scripts/lib/common.sh makes one a run, the gate's
    scans share it, and nothing writes it to a file), else a fresh one for this process alone."""
    text = os.environ.get(RUN_KEY_VARIABLE, "")
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    return os.urandom(KEY_BYTES)


class Cache:
    """The entries of one scan, in its manifest file; directory "" = cache off.

    load() reads the manifest (and the journal) once; get() answers from it; keep() records an entry for the next
    run, journal() too and at once; save() replaces the manifest by the entries kept in this run and the ones used
    within RETAIN_DAYS (at most MAX_ENTRIES).
    """

    def __init__(self, directory: str, scan: str, tool_id: str, config: Any,
                 holds_finding: Callable[[Any], bool] | None = None) -> None:
        self.scan = scan
        self.file = Path(directory) / f"v{FORMAT}" / f"{scan}.json" if directory else None
        self.secret = run_key()
        # A value that holds a finding is never saved nor answered from the manifest (its file is scanned again):
        # what the cache keeps holds no hash of any secret, salted or not.
        self.holds_finding = holds_finding or (lambda value: False)
        if directory:
            try:
                (Path(directory) / f"v{FORMAT}" / LEGACY_KEY_FILE).unlink()
            except OSError:
                pass
        self.context = [FORMAT, scan, tool_id, digest(config)]
        self.entries: dict[str, Any] = {}
        self.kept: dict[str, Any] = {}
        self.loaded = False  # the manifest was read (save() then leaves it alone when nothing changed)
        self.used: dict[str, int] = {}  # the day (days since 1970) each entry was last used
        self.journal_file = self.file.with_suffix(".journal") if self.file is not None else None
        self.journaled = False  # the journal held entries at load, or this run appended some
        self.tried = False  # load() ran
        self._keyed: Any = None  # the HMAC over the context's part of every key (key())

    def key(self, path: str, sha: str, extra: Any = None) -> str:
        """SHA-256(canonical(context + [path, sha, extra])), keyed by nothing: a key must be the same in the next
        run, and holds nothing git does not (the path, git's blob id, the tool and its settings, the baseline's
        entries for the file). The context's part is hashed once (the same bytes: the canonical list without its
        closing bracket, then the rest without its opening one)."""
        if self._keyed is None:
            self._keyed = hashlib.sha256(canonical(self.context)[:-1].encode())
        h = self._keyed.copy()
        # canonical([path, sha, extra])[1:] written out: json.dumps on one string is encode_basestring_ascii.
        rest = f",{_json_string(path)},{_json_string(sha)},{'null' if extra is None else canonical(extra)}]"
        h.update(rest.encode())
        return h.hexdigest()

    def salted(self, hashed_secret: str) -> str:
        """detect-secrets' unsalted hash of a secret, keyed by this run's key (run_key): what the raw report and
        the run's work files hold instead (the same secret gives the same value throughout the run, and the key
        is written nowhere, so nobody can test a guess against it afterwards). The cache keeps none."""
        return SALTED + hmac.new(self.secret, hashed_secret.encode(), "sha256").hexdigest()[:40]

    def load(self) -> None:
        """The manifest's entries; an unreadable or malformed manifest is an empty one."""
        self.tried = True
        if self.file is None:
            return
        try:
            manifest = read_json(self.file)
        except (OSError, ValueError, UnicodeDecodeError, RecursionError):
            manifest = None
        if (isinstance(manifest, dict) and manifest.get("format") == FORMAT and manifest.get("scan") == self.scan
                and isinstance(manifest.get("entries"), dict)):
            self.entries = manifest["entries"]
            self.loaded = True
            used = manifest.get("used")
            if isinstance(used, dict):
                self.used = {k: v for k, v in used.items() if isinstance(v, int)}
        self.load_journal()

    def load_journal(self) -> None:
        """The answers a run appended to the journal (Cache.journal) added to the entries, as used today."""
        try:
            with open(self.journal_file, "rb") as f:  # type: ignore[arg-type]
                lines = f.read().split(b"\n")
        except OSError:
            return
        today = self.today()
        for line in lines:
            try:
                item = json.loads(line)
            except (ValueError, UnicodeDecodeError, RecursionError):
                continue  # a torn last line, or nothing
            if (isinstance(item, dict) and set(item) == {"key", "path", "value"} and isinstance(item["key"], str)
                    and isinstance(item["path"], str)):
                self.entries[item["key"]] = {"path": item["path"], "value": item["value"]}
                self.used[item["key"]] = today
                self.journaled = True

    def journal(self, entries: dict[str, Any]) -> None:
        """Keep entries ({key: {"path", "value"}}) and append them to the journal at once, one write: a run stopped
        before save() keeps them for the next. A failure is only said (it costs time, never a result)."""
        self.kept.update(entries)
        storable = {k: e for k, e in entries.items() if not self.holds_finding(e["value"])}  # as save() keeps
        if self.journal_file is None or not storable:
            return
        text = "".join(json.dumps({"key": k, "path": e["path"], "value": e["value"]}, separators=(",", ":")) + "\n"
                       for k, e in storable.items())
        try:
            self.journal_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.journal_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
            try:
                os.write(fd, text.encode())
            finally:
                os.close(fd)
            self.journaled = True
        except OSError as e:
            print(f"the cache's journal could not be written: {e}", file=sys.stderr)

    @staticmethod
    def today() -> int:
        import time

        return int(time.time() // 86400)

    def get(self, key: str, path: str, valid) -> Any:
        """The value stored under key for path, when valid(value, path) holds; else None (a miss)."""
        entry = self.entries.get(key)
        if not (isinstance(entry, dict) and set(entry) == {"path", "value"} and entry["path"] == path):
            return None
        value = entry["value"]
        return value if valid(value, path) and not self.holds_finding(value) else None

    def keep(self, key: str, path: str, value: Any) -> None:
        """Record an entry of this run (one that holds a finding too: dump_kept hands it on within the run; save
        leaves it out)."""
        self.kept[key] = {"path": path, "value": value}

    def storable(self) -> dict[str, Any]:
        """The entries kept that may be saved: those that hold no finding."""
        return {key: entry for key, entry in self.kept.items() if not self.holds_finding(entry["value"])}

    def carry(self) -> None:
        """Keep every entry the manifest holds (a run that adds to the cache without owning it: the hook)."""
        for key, entry in self.entries.items():
            if isinstance(entry, dict) and set(entry) == {"path", "value"}:
                self.kept.setdefault(key, entry)

    def dump_kept(self, path: str | Path) -> None:
        """The entries kept so far (those with findings too), into a file of the scan's temporary work directory,
        for a later step of the same run (keep_from) to save with its own: the tree scan hands its entries to the
        history scan so."""
        write_json(path, self.kept)

    def keep_from(self, path: str | Path) -> dict[str, Any]:
        """Keep the entries dump_kept wrote (a missing or malformed file: none); returns what the file held."""
        try:
            kept = read_json(path)
        except (OSError, ValueError):
            return {}
        if isinstance(kept, dict):
            for key, entry in kept.items():
                if isinstance(entry, dict) and set(entry) == {"path", "value"}:
                    self.kept[key] = entry
        return kept if isinstance(kept, dict) else {}

    def save(self) -> None:
        """Replace the manifest atomically by the entries kept; a failure is only said, on stderr (the scan logs
        it: a cache that cannot be written costs time, never the result)."""
        if self.file is None:
            return
        if not self.tried:
            self.load()  # a run that kept without looking up (a merge step): the entries it leaves to others
        today = self.today()
        kept = self.storable()
        if (self.loaded and not self.journaled and all(self.used.get(k) == today for k in kept)
                and all(self.entries.get(k) == e for k, e in kept.items())):
            return  # it would write back what it read (a warm run on an unchanged tree, used today already)
        used = {k: self.used.get(k, today) for k in self.entries}  # an entry of a manifest without days: today
        used = {k: d for k, d in used.items() if d >= today - RETAIN_DAYS}
        used.update((k, today) for k in kept)
        entries = {k: self.entries[k] for k in used
                   if k not in self.kept and not self.holds_finding(self.entries[k].get("value")
                                                                    if isinstance(self.entries[k], dict) else None)}
        entries.update(kept)
        if len(entries) > MAX_ENTRIES:
            for k in sorted(entries, key=lambda k: used[k])[:len(entries) - MAX_ENTRIES]:
                del entries[k]
        used = {k: used[k] for k in entries}
        import tempfile

        tmp = None
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=f".{self.scan}.", suffix=".tmp")
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would keep a shared cache from other users
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(json.dumps({"format": FORMAT, "scan": self.scan, "entries": entries, "used": used},
                                   separators=(",", ":")))
            os.replace(tmp, self.file)
            tmp = None
            if self.journaled:
                self.journal_file.unlink(missing_ok=True)  # type: ignore[union-attr]  # folded into the manifest
        except OSError as e:
            print(f"the cache could not be written: {e}", file=sys.stderr)
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


# The tools that load plugins through entry points, which other distributions can register (bandit, through
# stevedore: bandit.plugins, bandit.formatters, bandit.blacklists). detect-secrets has no such mechanism: its plugins
# are its own modules and the files a baseline names (whose content the adapter keys on).
ENTRY_POINT_PLUGINS = {"bandit"}


def identity_text(dist: str) -> str:
    """What ties a tool's results to its installation, read from inside its Python: the distribution's version,
    the entry points other distributions register for it (for the tools in ENTRY_POINT_PLUGINS), the Python
    version, the text encoding files are read with."""
    import importlib.metadata as metadata
    import locale

    plugins = []
    for d in metadata.distributions() if dist in ENTRY_POINT_PLUGINS else ():
        # Only a distribution whose entry_points.txt names a group of the tool's has its metadata parsed: reading
        # every distribution's METADATA costs 0.2 s.
        if f"{dist}." not in (d.read_text("entry_points.txt") or ""):
            continue
        owner = f"{d.metadata['Name']} {d.version}"  # each of these parses METADATA: once a distribution
        plugins += [f"{e.group} {e.name} {e.value} {owner}" for e in d.entry_points if e.group.startswith(dist + ".")]
    lines = [f"{dist} {metadata.version(dist)}", sys.version, locale.getpreferredencoding(False), *sorted(plugins)]
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


# --- command line of the adapters -----------------------------------------------------------------------


def add_cache_options(sp: argparse.ArgumentParser) -> None:
    """The options every adapter command that reads or writes the cache takes (cache_args in cache.sh)."""
    sp.add_argument("--work", required=True)
    sp.add_argument("--cache-dir", default="", help="empty: cache off")
    sp.add_argument("--note", default="", help="why the cache is off, for the result")
    sp.add_argument("--tool-id", default="", help="the tool's identity (its --version output) ...")
    sp.add_argument("--tool-python", default="", help="... or the tool's interpreter, to read it from")
    sp.add_argument("--dist", default="", help="the tool's Python distribution")
    sp.add_argument("--tool-args", default="")


def run_command(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    """Parse argv and run the chosen command (its func): 0 done, EXIT_PLAIN on Plain, EXIT_ERROR on Failure."""
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except Plain as e:
        print(e)
        return EXIT_PLAIN
    except Failure as e:
        print(e, file=sys.stderr)
        return EXIT_ERROR
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="cache.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sp = sub.add_parser("identity")
    sp.add_argument("dist")
    sp.set_defaults(func=cmd_identity)
    return run_command(p, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
