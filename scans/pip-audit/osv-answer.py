"""Summary: what an OSV-API service answers for one package version, described in one line (a diagnosis).
Usage: python3 scans/pip-audit/osv-answer.py URL NAME==VERSION TIMEOUT

Posts the plain query every OSV-API server answers, {"package": {"name", "ecosystem": "PyPI"}, "version"}, to
URL (the full endpoint, as pip-audit's --osv-url), without following redirects, and prints what came back:
a redirect and where to, an HTTP error, or the shape of the JSON body ({}, null, a list, "vulns" not a list,
records without "affected" or with another schema_version). The scan script runs it only after pip-audit saw no
vulnerability for the canary, to name the cause. Exits 0.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def json_type(value: Any) -> str:
    return "null" if value is None else JSON_TYPES.get(type(value), type(value).__name__)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status and its Location


def shape(body: Any) -> str:
    """The JSON body's shape, as a cause."""
    if not isinstance(body, dict):
        return f"answered {json.dumps(body)[:40]} (a JSON {json_type(body)}, not an object with 'vulns')"
    vulns = body.get("vulns")
    if vulns is None:
        return f"answered an object without 'vulns' ({json.dumps(body)[:40]}): no vulnerability at all"
    if not isinstance(vulns, list):
        return f"answered 'vulns' as a JSON {json_type(vulns)}, not an array"
    if not vulns:
        return "answered an empty 'vulns' list"
    records = [v for v in vulns if isinstance(v, dict)]
    no_affected = sum(1 for v in records if "affected" not in v)
    schemas = sorted({str(v["schema_version"]) for v in records if not str(v.get("schema_version", "1")).startswith("1")})
    notes = [f"{no_affected} without 'affected'"] if no_affected else []
    notes += [f"schema_version {', '.join(schemas)}"] if schemas else []
    return f"answered {len(vulns)} record(s)" + (f" ({'; '.join(notes)})" if notes else "")


def redact(url: str) -> str:
    """url without the user and password it may carry (the printed line goes into the scan's result)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def main(argv: list[str]) -> int:
    url, canary, timeout = argv[1], argv[2], float(argv[3])
    name, _, version = canary.partition("==")
    query = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version}).encode()
    headers = {"Content-Type": "application/json"}
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None:  # as pip-audit's requests does with a user and password in the URL
        user = urllib.parse.unquote(parts.username) + ":" + urllib.parse.unquote(parts.password or "")
        headers["Authorization"] = "Basic " + base64.b64encode(user.encode()).decode()
    request = urllib.request.Request(redact(url), data=query, method="POST", headers=headers)
    prefix = f"asked directly for {canary}, the service at {redact(url)}"
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=timeout) as response:
            text = response.read()
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400:
            print(f"{prefix} redirected (HTTP {error.code}) to {redact(error.headers.get('Location') or '')}")
        else:
            print(f"{prefix} answered HTTP {error.code}")
        return 0
    except (OSError, ValueError) as error:
        print(f"{prefix} could not be asked: {getattr(error, 'reason', None) or type(error).__name__}")
        return 0
    try:
        body = json.loads(text)
    except ValueError:
        print(f"{prefix} answered a body that is not JSON")
        return 0
    print(f"{prefix} {shape(body)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
