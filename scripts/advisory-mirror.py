#!/usr/bin/env python3
"""Summary: serve the OSV query API on 127.0.0.1 from a local advisory database (the offline advisory mirror).
Usage: scripts/advisory-mirror.py SOURCE [--port N] [--ready-file FILE] [--answers FILE] [--max-age-days N]
                                         [--parent PID]

SOURCE is one of:
  - a clone of pypa/advisory-database as cloned: a directory with a vulns/ folder at its root. Its records are
    the files under vulns/; the rest of the repository (README, LICENSE, .github/workflows/*.yaml, triage/...)
    is not records and is not read;
  - any other directory: a folder of OSV records (searched recursively);
  - OSV's PyPI export, all.zip as downloaded (one JSON record per member).
In the records folder every file must be an OSV record (*.yaml, *.yml, *.json); only hidden files and folders
(a name starting with ".", such as git's own and vulns/.id-allocator) are skipped. Any other file, and any
all.zip member that is not a .json record, is an error naming it (fail closed).
The snapshot that answers is identified by its git commit and commit date when SOURCE is (inside) a git checkout,
else by the newest "modified" date among its records. A snapshot older than --max-age-days (default:
PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS, else 7) is refused:
a forgotten mirror cannot pass forever. So is a source with no PyPI record, or a record that cannot be read.

Served, like api.osv.dev for the PyPI ecosystem:
  POST /v1/query        {"package": {"name", "ecosystem": "PyPI"} | {"purl"}, "version"} -> {"vulns": [record...]}
                        or {} when nothing matches (no version: every record of the package)
  POST /v1/querybatch   {"queries": [query...]} -> {"results": [{"vulns": [{"id", "modified"}...]} | {}...]}
  GET  /v1/vulns/ID     the record with that id (or alias)
Matching follows the OSV schema's evaluation: a version is affected when an `affected` entry names the package
(ecosystem PyPI, PEP 503 normalized name) and the version is in its `versions` list (PEP 440 equality) or in one
of its ECOSYSTEM ranges (events sorted in PEP 440 order, pre-releases included: introduced / fixed /
last_affected, and `limit` bounds; introduced "0" is before every version). Withdrawn records are never
answered. A range whose bound is not a PEP 440 version cannot be evaluated: the record is answered (fail closed)
and named on stderr.

--ready-file: once the source is loaded and checked and the port is bound, FILE gets {"url", "snapshot"}, where
url is the /v1/query endpoint (for pip-audit's --osv-url). --answers: every record answered is appended to FILE
as one JSON line {"id", "aliases", "security_severity"} (the CVSS v3 base score, else the GHSA severity's),
so the gate can rank findings. Exit: 0 on SIGTERM/SIGINT after serving, 2 when the source is refused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from packaging.version import InvalidVersion, Version

ECOSYSTEM = "PyPI"
QUERY_PATH = "/v1/query"
BATCH_PATH = "/v1/querybatch"
VULNS_PREFIX = "/v1/vulns/"
DEFAULT_MAX_AGE_DAYS = 7
RECORD_SUFFIXES = (".yaml", ".yml", ".json")

# GitHub's ranking of a GHSA severity (database_specific.severity), as the SARIF output grades severities.
GHSA_SCORES = {"CRITICAL": 9.5, "HIGH": 8.0, "MODERATE": 5.5, "MEDIUM": 5.5, "LOW": 3.0}


class Refused(Exception):
    """The source cannot be served (unreadable, empty or too old)."""


def canonical_name(name: str) -> str:
    """PEP 503 normalized name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


# --------------------------------------------------------------------------- matching (OSV schema, "Evaluation")


class Unevaluable(Exception):
    """A range bound that is not a PEP 440 version."""


def _bound(value: str) -> Version:
    version = parse_version(value)
    if version is None:
        raise Unevaluable(value)
    return version


def _event_key(event: dict[str, str]) -> tuple[int, Version | None, int]:
    """Sort key of an event: PEP 440 order, introduced "0" first; at one version, introduced before the others."""
    ((kind, value),) = event.items()
    if kind == "introduced" and value == "0":
        return (0, None, 0)
    return (1, _bound(value), 0 if kind == "introduced" else 1)


def in_range(version: Version, events: list[dict[str, str]]) -> bool:
    """Whether version is affected by one ECOSYSTEM range (raises Unevaluable for a non-PEP 440 bound)."""
    limits = [e["limit"] for e in events if "limit" in e]
    if limits and not any("*" in limit or version < _bound(limit) for limit in limits):
        return False  # not before any limit ("*" is infinity; no limit at all means one at infinity)
    affected = False
    for event in sorted((e for e in events if "limit" not in e), key=_event_key):
        ((kind, value),) = event.items()
        if kind == "introduced" and (value == "0" or version >= _bound(value)):
            affected = True
        elif kind == "fixed" and version >= _bound(value):
            affected = False
        elif kind == "last_affected" and version > _bound(value):
            affected = False
    return affected


def affects(entry: dict[str, Any], version_text: str, version: Version | None) -> bool:
    """Whether one `affected` entry (already of the queried package) covers the version."""
    for listed in entry.get("versions") or []:
        listed_version = parse_version(str(listed))
        if str(listed) == version_text or (version is not None and listed_version == version):
            return True
    for rng in entry.get("ranges") or []:
        if rng.get("type") != "ECOSYSTEM":
            continue  # GIT ranges name commits, SEMVER is not PyPI's order
        if version is None:
            continue  # not a PEP 440 version: only the versions list can name it
        try:
            if in_range(version, rng.get("events") or []):
                return True
        except Unevaluable as bound:
            print(f"advisory-mirror: a range has bound {bound} that is not a PEP 440 version: answered as "
                  f"affecting {version_text} (fail closed)", file=sys.stderr)
            return True
    return False


# --------------------------------------------------------------------------- severity, for the gate's SARIF output

CVSS3_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}


def _roundup(value: float) -> float:
    """CVSS v3.1's Roundup: the smallest number with one decimal that is >= value."""
    whole = round(value * 100000)
    return whole / 100000.0 if whole % 10000 == 0 else (math.floor(whole / 10000) + 1) / 10.0


def cvss3_base_score(vector: str) -> float | None:
    """The base score of a CVSS v3.x vector (CVSS:3.0/... or CVSS:3.1/...), or None when it is not one."""
    parts = vector.split("/")
    if not parts or not re.fullmatch(r"CVSS:3\.[01]", parts[0]):
        return None
    try:
        metrics = dict(part.split(":", 1) for part in parts[1:])
        scope_changed = metrics["S"] == "C"
        pr = {"N": 0.85, "L": 0.68 if scope_changed else 0.62, "H": 0.5 if scope_changed else 0.27}[metrics["PR"]]
        w = {key: CVSS3_WEIGHTS[key][metrics[key]] for key in CVSS3_WEIGHTS}
    except (KeyError, ValueError):
        return None
    iss = 1 - (1 - w["C"]) * (1 - w["I"]) * (1 - w["A"])
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if scope_changed else 6.42 * iss
    exploitability = 8.22 * w["AV"] * w["AC"] * pr * w["UI"]
    if impact <= 0:
        return 0.0
    total = 1.08 * (impact + exploitability) if scope_changed else impact + exploitability
    return _roundup(min(total, 10))


def security_severity(record: dict[str, Any]) -> float | None:
    """A 0-10 score for the record: its CVSS v3 base score, else its GHSA severity's; None when it has neither."""
    severities = list(record.get("severity") or [])
    for entry in record.get("affected") or []:
        severities += entry.get("severity") or []
    scores = [cvss3_base_score(str(s.get("score", ""))) for s in severities if str(s.get("type")) == "CVSS_V3"]
    scores = [s for s in scores if s is not None]
    if scores:
        return max(scores)
    ghsa = str((record.get("database_specific") or {}).get("severity", "")).upper()
    return GHSA_SCORES.get(ghsa)


# --------------------------------------------------------------------------- the advisory source


def _records_in(data: Any, where: str) -> list[dict[str, Any]]:
    records = data if isinstance(data, list) else [data]
    for record in records:
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise Refused(f"{where} is not an OSV record (no id)")
    return records


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML's safe loader, with timestamps kept as the strings they are written as (as in the JSON records)."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.constructor.SafeConstructor.construct_yaml_str)


CLONE_RECORDS = "vulns"  # where a clone of pypa/advisory-database keeps its records


def records_folder(root: Path) -> Path:
    """The folder of root that holds its records: vulns/ of a clone of pypa/advisory-database, else root."""
    return root / CLONE_RECORDS if (root / CLONE_RECORDS).is_dir() else root


def read_directory(root: Path) -> list[dict[str, Any]]:
    """Every record in the records folder root; any other file there (but hidden ones) is refused."""
    records: list[dict[str, Any]] = []
    for path in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(root).parts) or path.is_dir():
            continue
        if not path.is_file() or path.suffix not in RECORD_SUFFIXES:
            raise Refused(f"{path} is not an OSV record (.yaml, .yml or .json) in the records folder {root}")
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
            raise Refused(f"cannot read {path}: {str(error).splitlines()[0] if str(error) else error}") from error
        records += _records_in(data, str(path))
    return records


def read_zip(path: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith("/"):
                    continue
                if not member.endswith(".json"):
                    raise Refused(f"{path}:{member} is not an OSV record (all.zip holds one .json record a member)")
                records += _records_in(json.loads(archive.read(member)), f"{path}:{member}")
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise Refused(f"cannot read {path}: {error}") from error
    return records




def git_snapshot(root: Path) -> tuple[str, str] | None:
    """(commit, committer date ISO 8601) when root is the top of a git checkout, else None (a folder inside
    another repository, such as a test fixture, is dated by its records)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30,
                              check=True).stdout.strip()
    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root:
            return None
        out = git("log", "-1", "--format=%H %cI").split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (out[0], out[1]) if len(out) == 2 else None


def parse_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


class AdvisoryDB:
    """The PyPI records of a source, indexed by normalized package name, and what snapshot they are."""

    def __init__(self, source: Path, max_age_days: int, now: dt.datetime | None = None) -> None:
        source = source.resolve()
        folder = records_folder(source) if source.is_dir() else None
        if folder is not None:
            records, kind = read_directory(folder), "directory"
        elif source.is_file() and zipfile.is_zipfile(source):
            records, kind = read_zip(source), "osv-export"
        else:
            raise Refused(f"{source} is neither a directory of OSV records nor an OSV export (all.zip)")
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_package: dict[str, list[dict[str, Any]]] = {}
        withdrawn = 0
        for record in records:
            if record.get("withdrawn"):
                withdrawn += 1
                continue
            self.by_id[record["id"]] = record
            names = {canonical_name(str((entry.get("package") or {}).get("name", "")))
                     for entry in record.get("affected") or []
                     if (entry.get("package") or {}).get("ecosystem") == ECOSYSTEM}
            for name in names:
                self.by_package.setdefault(name, []).append(record)
        if not self.by_package:
            raise Refused(f"{source} holds no PyPI advisory (read {len(records)} records)")
        commit = None
        snapshot = git_snapshot(source) if kind == "directory" else None
        if snapshot:
            commit, date = snapshot
            kind = "git"
        else:
            dates = [str(r["modified"]) for r in records if r.get("modified")]
            if not dates:
                raise Refused(f"{source} is not a git checkout and no record says when it was modified")
            date = max(parse_time(d) for d in dates).isoformat()
        now = now or dt.datetime.now(dt.timezone.utc)
        age = (now - parse_time(date)).total_seconds() / 86400
        self.snapshot = {"source": str(source), "records_folder": str(folder) if folder else None,
                         "kind": kind, "commit": commit, "date": date,
                         "age_days": round(age, 1), "max_age_days": max_age_days, "records": len(self.by_id),
                         "packages": len(self.by_package), "withdrawn": withdrawn}
        if age > max_age_days:
            raise Refused(f"the advisory snapshot {commit or source} is {age:.0f} days old (from {date}), older "
                          f"than the maximum of {max_age_days} days: update it (git pull, or a new all.zip)")

    def query(self, name: str, version_text: str | None) -> list[dict[str, Any]]:
        name = canonical_name(name)
        version = parse_version(version_text) if version_text is not None else None
        found = []
        for record in self.by_package.get(name, []):
            entries = [e for e in record.get("affected") or []
                       if (e.get("package") or {}).get("ecosystem") == ECOSYSTEM
                       and canonical_name(str(e["package"].get("name", ""))) == name]
            if version_text is None or any(affects(e, version_text, version) for e in entries):
                found.append(record)
        return found

    def find(self, vuln_id: str) -> dict[str, Any] | None:
        if vuln_id in self.by_id:
            return self.by_id[vuln_id]
        return next((r for r in self.by_id.values() if vuln_id in (r.get("aliases") or [])), None)


# --------------------------------------------------------------------------- the HTTP API


class BadQuery(Exception):
    pass


def parse_query(query: Any) -> tuple[str | None, str | None]:
    """(package name or None for another ecosystem, version or None) of an OSV query; BadQuery if malformed."""
    if not isinstance(query, dict) or not isinstance(query.get("package"), dict):
        raise BadQuery("a query needs a package")
    package, version = query["package"], query.get("version")
    if version is not None and not isinstance(version, str):
        raise BadQuery("version must be a string")
    purl = package.get("purl")
    if isinstance(purl, str):
        match = re.fullmatch(r"pkg:([^/]+)/([^@?#]+)(?:@([^?#]+))?(?:[?#].*)?", purl)
        if not match:
            raise BadQuery("invalid purl")
        if match.group(3) is not None:
            if version is not None:
                raise BadQuery("version given twice (purl and version)")
            version = unquote(match.group(3))
        return (unquote(match.group(2)) if match.group(1) == "pypi" else None), version
    if not isinstance(package.get("name"), str) or not package["name"]:
        raise BadQuery("a query needs a package name")
    return (package["name"] if package.get("ecosystem") == ECOSYSTEM else None), version


class Mirror:
    def __init__(self, db: AdvisoryDB, answers: Path | None) -> None:
        self.db = db
        self.answers = answers
        self.lock = threading.Lock()

    def answer(self, query: Any) -> list[dict[str, Any]]:
        name, version = parse_query(query)
        records = self.db.query(name, version) if name is not None else []
        if self.answers is not None and records:
            lines = "".join(json.dumps({"id": r["id"], "aliases": r.get("aliases") or [],
                                        "security_severity": security_severity(r)}) + "\n" for r in records)
            with self.lock, self.answers.open("a", encoding="utf-8") as out:
                out.write(lines)
        return records


class Handler(BaseHTTPRequestHandler):
    mirror: Mirror
    server_version = "advisory-mirror/1"

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith(VULNS_PREFIX):
            record = self.mirror.db.find(unquote(self.path[len(VULNS_PREFIX):]))
            if record is not None:
                self._json(200, record)
                return
        self._json(404, {"code": 5, "message": "Bug not found."})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path not in (QUERY_PATH, BATCH_PATH):
            self._json(404, {"code": 5, "message": "Not Found"})
            return
        try:
            request = json.loads(body)
            if self.path == QUERY_PATH:
                records = self.mirror.answer(request)
                self._json(200, {"vulns": records} if records else {})
            else:
                queries = request.get("queries") if isinstance(request, dict) else None
                if not isinstance(queries, list):
                    raise BadQuery("a batch needs a queries list")
                results = []
                for query in queries:
                    records = self.mirror.answer(query)
                    results.append({"vulns": [{"id": r["id"], "modified": r.get("modified")} for r in records]}
                                   if records else {})
                self._json(200, {"results": results})
        except (ValueError, BadQuery) as error:
            self._json(400, {"code": 3, "message": f"Invalid query: {error}"})
        except Exception as error:  # noqa: BLE001 - answer 500 (the client fails closed) rather than hang up
            print(f"advisory-mirror: error answering {self.path}: {error!r}", file=sys.stderr)
            self._json(500, {"code": 13, "message": "Internal error"})


def watch_parent(pid: int, server: ThreadingHTTPServer) -> None:
    """Stop serving once process pid is gone (the scan that started the mirror was killed outright)."""
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            server.shutdown()
            return
        except PermissionError:
            pass
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0].removeprefix("Summary: "))
    parser.add_argument("source", type=Path)
    parser.add_argument("--port", type=int, default=0, help="default: any free port")
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--answers", type=Path)
    parser.add_argument("--max-age-days", default=os.environ.get("PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS") or
                        str(DEFAULT_MAX_AGE_DAYS), help="default: PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS, else 7")
    parser.add_argument("--parent", type=int, help="stop when the process with this id is gone")
    args = parser.parse_args()
    try:
        if not re.fullmatch(r"[1-9][0-9]*", args.max_age_days):
            raise Refused(f"the maximum age (PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS) must be a whole number of days "
                          f"above 0, not {args.max_age_days!r}")
        db = AdvisoryDB(args.source, int(args.max_age_days))
    except Refused as error:
        print(f"advisory-mirror: refused: {error}", file=sys.stderr)
        return 2
    handler = type("BoundHandler", (Handler,), {"mirror": Mirror(db, args.answers)})
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_address[1]}{QUERY_PATH}"
    if args.ready_file is not None:
        tmp = args.ready_file.with_name(args.ready_file.name + ".tmp")
        tmp.write_text(json.dumps({"url": url, "snapshot": db.snapshot}))
        os.replace(tmp, args.ready_file)
    snap = db.snapshot
    print(f"advisory-mirror: {snap['records']} advisories for {snap['packages']} packages from "
          f"{snap['commit'] or snap['source']} ({snap['date']}, {snap['age_days']} days old) at {url}",
          file=sys.stderr, flush=True)

    def stop(signum: int, _frame: Any) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.parent:
        threading.Thread(target=watch_parent, args=(args.parent, server), daemon=True).start()
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
