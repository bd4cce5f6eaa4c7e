"""A small real OSV-API server for pip-audit, for the tests and make bench: http.server on 127.0.0.1, a free port,
a thread.

    with OsvServer() as srv:                       # advisories from tests/fixtures/osv/*.json
        run("pip-audit", ..., "--vulnerability-service", "osv", "--osv-url", srv.url)
        srv.queries                                # [{"package": {...}, "version": "..."}, ...]

It answers `POST /v1/query` like api.osv.dev does for pip-audit 2.10.1 (pip_audit/_service/osv.py),
which posts `{"package": {"name": <canonical name>, "ecosystem": "PyPI"}, "version": "<version>"}` to the
--osv-url exactly as given (the URL is the full endpoint, not a base):
- affected package: `{"vulns": [<OSV record>, ...]}` (records as stored, withdrawn ones included: pip-audit
  skips those itself);
- nothing known: `{}` (an empty object, as the real API does);
- a body that is not such a query: 400 `{"code": 3, "message": ...}` (the real API's gRPC-gateway shape);
- any other path or method: 404 / 405.

A record matches a query when one of its `affected` entries has ecosystem PyPI, the same PEP 503
normalized name, and the version either listed in `versions` or inside an ECOSYSTEM range
(introduced/fixed/last_affected/limit events, compared with packaging.version).

Fault modes (`mode=`), for the gate's error handling tests:
    NORMAL         as above
    HTTP_500       every query answers 500 with a JSON error body
    GARBAGE        every query answers 200, Content-Type application/json, a body that is not JSON
    SLOW           every query sleeps `delay` seconds, then answers normally
    FAIL_PACKAGE   queries for `failing_package` answer `failing_status` (default 500); others normally

Lying modes (`mode=`): a service that answers, but not the truth, as a misconfigured proxy, an empty mirror or a
captive portal would; each query still answers 200 (or a redirect):
    EMPTY_OBJECT   `{}` to every query (nothing known, ever)
    NULL           `null`
    EMPTY_LIST     `[]`
    VULNS_OBJECT   `{"vulns": {}}`
    REDIRECT_302   a 302 to EMPTY_PATH, which answers `{}` to GET and POST
    REDIRECT_307   the same with a 307 (the client re-posts the query there)
    SCHEMA_2       the matching records, each with `"schema_version": "2.0.0"` (pip-audit drops them, warning)
    NO_AFFECTED    the matching records without their `affected` list (pip-audit drops them, warning)

`refused_url()` gives an OSV URL on 127.0.0.1 where nothing listens (connection refused);
`blackhole_url()` one whose TCP connect never completes (a connect timeout, like a firewall dropping packets).
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "osv"
QUERY_PATH = "/v1/query"
EMPTY_PATH = "/empty"

NORMAL = "normal"
HTTP_500 = "http-500"
GARBAGE = "garbage"
SLOW = "slow"
FAIL_PACKAGE = "fail-package"
EMPTY_OBJECT = "empty-object"
NULL = "null"
EMPTY_LIST = "empty-list"
VULNS_OBJECT = "vulns-object"
REDIRECT_302 = "redirect-302"
REDIRECT_307 = "redirect-307"
SCHEMA_2 = "schema-2"
NO_AFFECTED = "no-affected"
FIXED_ANSWERS: dict[str, Any] = {EMPTY_OBJECT: {}, NULL: None, EMPTY_LIST: [], VULNS_OBJECT: {"vulns": {}}}
REDIRECTS = {REDIRECT_302: 302, REDIRECT_307: 307}
LYING_MODES = (*FIXED_ANSWERS, *REDIRECTS, SCHEMA_2, NO_AFFECTED)
MODES = (NORMAL, HTTP_500, GARBAGE, SLOW, FAIL_PACKAGE, *LYING_MODES)

GARBAGE_BODY = b"<html><body>upstream proxy error: this is not JSON</body></html>\n"


def canonical_name(name: str) -> str:
    """PEP 503 normalized name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_advisories(advisories_dir: Path) -> list[dict[str, Any]]:
    """Every OSV record in advisories_dir/*.json (a file holds one record or a list of them)."""
    records: list[dict[str, Any]] = []
    for path in sorted(Path(advisories_dir).glob("*.json")):
        data = json.loads(path.read_text())
        records.extend(data if isinstance(data, list) else [data])
    for record in records:
        if "id" not in record or "affected" not in record:
            raise ValueError(f"OSV record without id/affected in {advisories_dir}: {record!r:.80}")
    return records


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def in_ecosystem_range(version: Version, events: list[dict[str, str]]) -> bool:
    """Whether version falls in an OSV ECOSYSTEM range given by its events (sorted by version here)."""

    def key(event: dict[str, str]) -> Version:
        (value,) = event.values()
        return Version("0") if value == "0" else Version(value)

    affected = False
    for event in sorted(events, key=key):
        ((kind, _value),) = event.items()
        bound = key(event)
        if kind == "introduced" and version >= bound:
            affected = True
        elif kind in ("fixed", "limit") and version >= bound:
            affected = False
        elif kind == "last_affected" and version > bound:
            affected = False
    return affected


def record_matches(record: dict[str, Any], name: str, version_text: str) -> bool:
    """Whether an OSV record affects PyPI package `name` at `version_text`."""
    version = _version(version_text)
    for affected in record.get("affected", []):
        pkg = affected.get("package", {})
        if pkg.get("ecosystem") != "PyPI" or canonical_name(pkg.get("name", "")) != name:
            continue
        if version_text in affected.get("versions", []):
            return True
        if version is None:
            continue
        for rng in affected.get("ranges", []):
            if rng.get("type") == "ECOSYSTEM" and in_ecosystem_range(version, rng.get("events", [])):
                return True
    return False


class OsvServer:
    """An OSV API on 127.0.0.1 for the life of a `with` block. See the module docstring."""

    def __init__(
        self,
        advisories_dir: Path = FIXTURES_DIR,
        *,
        mode: str = NORMAL,
        delay: float = 0.0,
        failing_package: str | None = None,
        failing_status: int = 500,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        if mode == FAIL_PACKAGE and not failing_package:
            raise ValueError("mode FAIL_PACKAGE needs failing_package")
        self.advisories = load_advisories(advisories_dir)
        self.mode = mode
        self.delay = delay
        self.failing_package = canonical_name(failing_package) if failing_package else None
        self.failing_status = failing_status
        self.queries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("OsvServer is not running (use it in a with block)")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The full query endpoint, for --osv-url / PIP_AUDIT_OSV_URL."""
        return f"http://127.0.0.1:{self.port}{QUERY_PATH}"

    @property
    def queried_packages(self) -> list[str]:
        """Package names asked about so far, in order."""
        with self._lock:
            return [q.get("package", {}).get("name", "") for q in self.queries]

    def start(self) -> OsvServer:
        handler = type("Handler", (_Handler,), {"osv": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="osv-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes SLOW handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OsvServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, query: Any) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for a decoded query in NORMAL mode."""
        if not isinstance(query, dict):
            return 400, {"code": 3, "message": "Invalid query."}
        package = query.get("package")
        version = query.get("version")
        if not isinstance(package, dict) or not isinstance(version, str) or not package.get("name"):
            return 400, {"code": 3, "message": "Invalid query."}
        if package.get("ecosystem") != "PyPI":
            return 200, {}
        name = canonical_name(package["name"])
        vulns = [r for r in self.advisories if record_matches(r, name, version)]
        if self.mode == SCHEMA_2:
            vulns = [{**r, "schema_version": "2.0.0"} for r in vulns]
        elif self.mode == NO_AFFECTED:
            vulns = [{k: v for k, v in r.items() if k != "affected"} for r in vulns]
        return 200, ({"vulns": vulns} if vulns else {})


class _Handler(BaseHTTPRequestHandler):
    osv: OsvServer
    server_version = "fixture-osv/1"

    def log_message(self, *args: Any) -> None:
        pass  # quiet: the tests read srv.queries instead

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode())

    def do_GET(self) -> None:
        if self.path == EMPTY_PATH and self.osv.mode in REDIRECTS:
            self._send_json(200, {})
            return
        self._send_json(405 if self.path == QUERY_PATH else 404, {"code": 5, "message": "Not Found"})

    def _redirect(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Location", EMPTY_PATH)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == EMPTY_PATH and self.osv.mode in REDIRECTS:
            self._send_json(200, {})
            return
        if self.path != QUERY_PATH:
            self._send_json(404, {"code": 5, "message": "Not Found"})
            return
        try:
            query: Any = json.loads(raw)
        except ValueError:
            query = None
        srv = self.osv
        with srv._lock:
            srv.queries.append(query if isinstance(query, dict) else {"invalid": raw.decode(errors="replace")})

        if srv.mode in FIXED_ANSWERS:
            self._send_json(200, FIXED_ANSWERS[srv.mode])
        elif srv.mode in REDIRECTS:
            self._redirect(REDIRECTS[srv.mode])
        elif srv.mode == HTTP_500:
            self._send_json(500, {"code": 13, "message": "Internal error (fixture HTTP_500 mode)"})
        elif srv.mode == GARBAGE:
            self._send(200, GARBAGE_BODY)
        elif srv.mode == FAIL_PACKAGE and isinstance(query, dict) and canonical_name(
            str((query.get("package") or {}).get("name", ""))
        ) == srv.failing_package:
            self._send_json(srv.failing_status, {"code": 13, "message": "Internal error (fixture FAIL_PACKAGE)"})
        else:
            if srv.mode == SLOW and srv._stopping.wait(srv.delay):
                return  # server stopping: drop the connection
            status, body = srv.answer(query)
            try:
                self._send_json(status, body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout) before we answered


@contextmanager
def refused_url() -> Iterator[str]:
    """An OSV URL on 127.0.0.1 where nothing listens: connecting is refused.

    The port is held by a socket that is bound but never listens, so no one else can take it meanwhile.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{QUERY_PATH}"
    finally:
        sock.close()


@contextmanager
def blackhole_url() -> Iterator[str]:
    """An OSV URL on 127.0.0.1 whose TCP connect times out, like a host behind a dropping firewall.

    A socket listens with the smallest backlog and never accepts; a few connections fill the backlog, after
    which Linux drops new SYNs, so a client's connect() waits until its own timeout.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            try:
                filler.connect(address)
            except BlockingIOError:
                pass
        yield f"http://127.0.0.1:{address[1]}{QUERY_PATH}"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
