"""The pip-audit test support: fixture projects, the OSV server, and how pip-audit 2.10.1 behaves against it.

The pip-audit tests run the real pip-audit over real HTTP, with the gate's flags. The fault-mode tests pin
down what the gate's error handling relies on: on every service failure pip-audit exits 1 (the same code as
"vulnerabilities found") and writes no report, so "exit 1 and no report" means "could not complete".
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from osv_server import (
    FAIL_PACKAGE,
    GARBAGE,
    HTTP_500,
    SLOW,
    OsvServer,
    blackhole_url,
    in_ecosystem_range,
    refused_url,
)
from support.projects import (
    copy_repo_lock,
    git,
    git_commit_all,
    uv_export,
    write_tree,
    write_uv_project,
)

VULNERABLE_PINS = [("Django", "4.2.0"), ("requests", "2.31.0"), ("asgiref", "3.8.1")]
CLEAN_PINS = [("django", "4.2.1"), ("requests", "2.32.0"), ("asgiref", "3.8.1")]
PIP_AUDIT = shutil.which("pip-audit", path=str(Path(sys.executable).parent)) or "pip-audit"


# --- fixture projects ---------------------------------------------------------------------------------

def test_write_tree_writes_text_and_bytes_in_nested_folders(tmp_path: Path) -> None:
    write_tree(tmp_path, {"apps/x.py": "print(1)\n", "bin/blob": b"\x00\x01"})

    assert (tmp_path / "apps/x.py").read_text() == "print(1)\n"
    assert (tmp_path / "bin/blob").read_bytes() == b"\x00\x01"


def test_git_commit_all_commits_every_file_without_global_config(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a.txt": "a\n", "sub/b.txt": "b\n"})

    commit = git_commit_all(tmp_path)

    assert len(commit) == 40
    assert git(tmp_path, "ls-files").split() == ["a.txt", "sub/b.txt"]
    assert git(tmp_path, "log", "-1", "--format=%an <%ae>").strip() == "Fixture <fixture@example.invalid>"
    assert git(tmp_path, "status", "--porcelain") == ""


def test_handwritten_lock_exports_offline_as_hashed_pins(tmp_path: Path) -> None:
    write_uv_project(tmp_path, VULNERABLE_PINS, dev_pins=[("pytest", "8.0.0")])

    text = uv_export(tmp_path, "--no-annotate")  # UV_OFFLINE=1 inside

    pins = sorted(line.split(" ")[0] for line in text.splitlines() if "==" in line)
    assert pins == ["asgiref==3.8.1", "django==4.2.0", "pytest==8.0.0", "requests==2.31.0"]
    assert text.count("--hash=sha256:") == 8  # sdist + wheel for each


def test_write_uv_project_rejects_a_package_pinned_twice(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="django pinned to two versions"):
        write_uv_project(tmp_path, [("django", "4.2.0")], dev_pins=[("Django", "5.0")])


def test_copy_repo_lock_exports_the_repository_pins(tmp_path: Path) -> None:
    copy_repo_lock(tmp_path)

    text = uv_export(tmp_path)

    assert any(line.startswith("django==5.2.") for line in text.splitlines())
    assert any(line.startswith("pip-audit==") for line in text.splitlines())  # --all-groups


# --- the OSV server, over HTTP ------------------------------------------------------------------------

def post(url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def query(name: str, version: str, ecosystem: str = "PyPI") -> dict[str, Any]:
    return {"package": {"name": name, "ecosystem": ecosystem}, "version": version}


@pytest.mark.parametrize(
    ("name", "version", "ids"),
    [
        ("django", "4.2.0", ["GHSA-fx7q-2m9c-h4rv", "GHSA-fx3w-9p8v-c6jq"]),  # withdrawn one served too
        ("Django", "4.1", ["GHSA-fx7q-2m9c-h4rv"]),  # by `versions` and by range
        ("django", "4.2.1", ["GHSA-fx3w-9p8v-c6jq"]),
        ("django", "4.2.2", []),
        ("django", "5.2.19", []),
        ("fixture_unfixed", "99.0", ["GHSA-fx9r-4c2h-m5wp"]),  # normalized names on both sides
        ("requests", "2.2.0", []),
    ],
)
def test_server_answers_matching_advisories_like_osv(osv, name: str, version: str, ids: list[str]) -> None:
    status, body = post(osv.url, query(name, version))

    assert status == 200
    assert sorted(v["id"] for v in body.get("vulns", [])) == sorted(ids)
    assert body == ({"vulns": body["vulns"]} if ids else {})  # nothing known: an empty object


def test_server_ignores_other_ecosystems(osv) -> None:
    assert post(osv.url, query("django", "4.2.0", ecosystem="npm")) == (200, {})


def test_server_refuses_malformed_queries_with_osv_error_shape(osv) -> None:
    assert post(osv.url, b"not json") == (400, {"code": 3, "message": "Invalid query."})
    assert post(osv.url, {"version": "1.0"})[0] == 400
    assert post(osv.url.replace("/v1/query", "/v1/querybatch"), query("django", "4.2.0"))[0] == 404


def test_server_records_queries() -> None:
    with OsvServer() as srv:
        post(srv.url, query("Django", "4.2.0"))

    assert srv.queries == [query("Django", "4.2.0")]
    assert srv.queried_packages == ["Django"]


@pytest.mark.parametrize(
    ("version", "events", "affected"),
    [
        ("1.0", [{"introduced": "0"}, {"fixed": "1.1"}], True),
        ("1.1", [{"introduced": "0"}, {"fixed": "1.1"}], False),
        ("2.0", [{"introduced": "0"}, {"fixed": "1.1"}, {"introduced": "2.0"}], True),
        ("1.5", [{"introduced": "2.0"}, {"introduced": "0"}, {"fixed": "1.1"}], False),  # unsorted events
        ("1.2", [{"introduced": "1.0"}, {"last_affected": "1.2"}], True),
        ("1.2.1", [{"introduced": "1.0"}, {"last_affected": "1.2"}], False),
        ("0.9", [{"introduced": "1.0"}], False),
    ],
)
def test_ecosystem_range_follows_osv_event_semantics(version: str, events: list, affected: bool) -> None:
    assert in_ecosystem_range(Version(version), events) is affected


# --- pip-audit against the server ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def requirements(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Hashed requirements exported from fixture locks, as the gate makes them."""
    root = tmp_path_factory.mktemp("projects")
    files = {}
    for name, pins in {"vulnerable": VULNERABLE_PINS, "clean": CLEAN_PINS,
                       "one": [("asgiref", "3.8.1")]}.items():
        project = write_uv_project(root / name, pins)
        files[name] = root / f"{name}.txt"
        files[name].write_text(uv_export(project))
    return files


def pip_audit(requirements: Path, url: str | None, out: Path, *extra: str,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run pip-audit with the gate's flags against the OSV service at url."""
    cmd = [PIP_AUDIT, "-r", str(requirements), "--require-hashes", "--no-deps", "--disable-pip", "--strict",
           "--progress-spinner", "off", "--vulnerability-service", "osv", "--format", "json",
           "-o", str(out), "--cache-dir", str(out.parent / "pip-audit-cache"), *extra]
    if url is not None:
        cmd += ["--osv-url", url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)


def vulns_by_package(report: Path) -> dict[str, list[dict[str, Any]]]:
    data = json.loads(report.read_text())
    return {dep["name"]: dep["vulns"] for dep in data["dependencies"]}


def test_pip_audit_reports_the_fixture_advisory_with_its_fix_versions(requirements, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with OsvServer() as srv:
        proc = pip_audit(requirements["vulnerable"], srv.url, out)

    assert proc.returncode == 1, proc.stderr
    assert "Found 2 known vulnerabilities in 2 packages" in proc.stderr
    vulns = vulns_by_package(out)
    assert vulns["asgiref"] == []
    # pip-audit makes a PYSEC (then CVE) id the primary id and the rest aliases, in no stable order (a
    # set); the withdrawn GHSA-fx3w-9p8v-c6jq matches django 4.2.0 on the server but pip-audit drops it.
    (django,) = vulns["django"]
    django["aliases"].sort()
    assert django == {
        "id": "PYSEC-2099-101",
        "fix_versions": ["3.2.19", "4.1.9", "4.2.1"],
        "aliases": ["CVE-2099-10001", "GHSA-fx7q-2m9c-h4rv"],
        "description": "Django: denial of service in multipart header parsing (fixture)",
    }
    # No summary: details, newlines turned into spaces.
    assert vulns["requests"][0]["id"] == "PYSEC-2099-202"
    assert vulns["requests"][0]["description"].startswith("Fixture advisory (PYSEC style")
    assert "\n" not in vulns["requests"][0]["description"]
    assert vulns["requests"][0]["fix_versions"] == ["2.32.0"]
    assert sorted(srv.queried_packages) == ["asgiref", "django", "requests"]


def test_pip_audit_reports_an_unfixed_advisory_with_no_fix_versions(tmp_path: Path) -> None:
    project = write_uv_project(tmp_path / "p", [("Fixture_Unfixed", "1.0")])
    req = tmp_path / "req.txt"
    req.write_text(uv_export(project))
    out = tmp_path / "out.json"
    with OsvServer() as srv:
        proc = pip_audit(req, srv.url, out)

    assert proc.returncode == 1, proc.stderr
    assert vulns_by_package(out)["fixture-unfixed"] == [
        {"id": "GHSA-fx9r-4c2h-m5wp", "fix_versions": [], "aliases": [],
         "description": "fixture-unfixed: remote code execution with no fixed release (fixture)"}]


def test_pip_audit_passes_clean_pins_and_still_writes_the_report(requirements, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with OsvServer() as srv:
        proc = pip_audit(requirements["clean"], srv.url, out)

    assert proc.returncode == 0, proc.stderr
    assert "No known vulnerabilities found" in proc.stderr
    assert vulns_by_package(out) == {"asgiref": [], "django": [], "requests": []}


def drop_markers(requirements: str) -> str:
    """`name==v ; marker \\` -> `name==v \\`, as the gate does so that every platform's pins are audited."""
    return re.sub(r"^(\S+==\S+) ; [^\\\n]*", r"\1 ", requirements, flags=re.M)


def test_pip_audit_silently_skips_pins_whose_markers_do_not_match(tmp_path: Path) -> None:
    req = tmp_path / "req.txt"
    req.write_text(
        f"django==4.2.0 ; sys_platform == 'win32' \\\n    --hash=sha256:{'0' * 64}\n"
        f"asgiref==3.8.1 \\\n    --hash=sha256:{'0' * 64}\n"
    )
    out = tmp_path / "out.json"
    with OsvServer() as srv:
        proc = pip_audit(req, srv.url, out)
    assert proc.returncode == 0, proc.stderr  # the vulnerable django pin is not even queried
    assert srv.queried_packages == ["asgiref"]
    assert vulns_by_package(out) == {"asgiref": []}

    req.write_text(drop_markers(req.read_text()))
    with OsvServer() as srv:
        proc = pip_audit(req, srv.url, out)
    assert proc.returncode == 1, proc.stderr
    assert vulns_by_package(out)["django"][0]["id"] == "PYSEC-2099-101"


def test_pip_audit_passes_the_repository_lock(tmp_path: Path) -> None:
    project = copy_repo_lock(tmp_path / "repo")
    req = tmp_path / "req.txt"
    req.write_text(drop_markers(uv_export(project)))
    pinned = sum(1 for line in req.read_text().splitlines() if "==" in line)
    out = tmp_path / "out.json"
    with OsvServer() as srv:
        proc = pip_audit(req, srv.url, out)

    assert proc.returncode == 0, proc.stderr
    report = vulns_by_package(out)
    assert len(report) == pinned == len(srv.queries)
    assert all(v == [] for v in report.values())


def test_pip_audit_reads_the_osv_url_from_its_environment(requirements, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with OsvServer() as srv:
        env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "PIP_AUDIT_OSV_URL": srv.url}
        proc = pip_audit(requirements["vulnerable"], None, out, env=env)

    assert proc.returncode == 1, proc.stderr
    assert vulns_by_package(out)["django"][0]["id"] == "PYSEC-2099-101"


def test_pip_audit_waits_for_a_slow_service_within_its_timeout(requirements, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with OsvServer(mode=SLOW, delay=0.5) as srv:
        proc = pip_audit(requirements["one"], srv.url, out, "--timeout", "5")

    assert proc.returncode == 0, proc.stderr
    assert vulns_by_package(out) == {"asgiref": []}


# Each fault: (server settings or a URL helper, extra pip-audit args, the line that names the failure).
FAULTS = {
    "http-500": ({"mode": HTTP_500}, (),
                 "requests.exceptions.HTTPError: 500 Server Error: Internal Server Error for url: "),
    "garbage": ({"mode": GARBAGE}, (),
                "requests.exceptions.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"),
    "slow": ({"mode": SLOW, "delay": 5}, ("--timeout", "1"),
             "requests.exceptions.ReadTimeout: HTTPConnectionPool(host='127.0.0.1', port="),
    "one-package-500": ({"mode": FAIL_PACKAGE, "failing_package": "requests"}, (),
                        "requests.exceptions.HTTPError: 500 Server Error: Internal Server Error for url: "),
    "one-package-404": ({"mode": FAIL_PACKAGE, "failing_package": "requests", "failing_status": 404}, (),
                        "requests.exceptions.HTTPError: 404 Client Error: Not Found for url: "),
    "refused": (refused_url, (), "[Errno 111] Connection refused"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_pip_audit_service_failure_exits_1_with_a_traceback_and_no_report(
    fault: str, requirements, tmp_path: Path
) -> None:
    server, extra, message = FAULTS[fault]
    out = tmp_path / "out.json"
    out.write_text("stale report from an earlier run")
    if callable(server):
        with server() as url:
            proc = pip_audit(requirements["vulnerable"], url, out, *extra)
    else:
        with OsvServer(**server) as srv:
            proc = pip_audit(requirements["vulnerable"], srv.url, out, *extra)

    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback (most recent call last):" in proc.stderr
    assert message in proc.stderr
    assert "known vulnerabilit" not in proc.stderr  # neither "Found N known ..." nor "No known ..."
    # pip-audit writes its report only at the very end: a stale file is left exactly as it was.
    assert out.read_text() == "stale report from an earlier run"


def test_pip_audit_stops_at_the_first_failing_query(requirements, tmp_path: Path) -> None:
    with OsvServer(mode=FAIL_PACKAGE, failing_package="django") as srv:
        proc = pip_audit(requirements["vulnerable"], srv.url, tmp_path / "out.json")

    assert proc.returncode == 1
    assert srv.queried_packages == ["asgiref", "django"]  # requests never asked


def test_pip_audit_connect_timeout_is_a_clean_fatal_error(requirements, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with blackhole_url() as url:
        proc = pip_audit(requirements["vulnerable"], url, out, "--timeout", "1")

    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "ERROR:pip_audit._cli:Could not connect to OSV's vulnerability feed" in proc.stderr
    assert proc.stderr.rstrip().endswith(
        "ERROR:pip_audit._cli:Tip: your network may be blocking this service. "
        "Try another service with `-s SERVICE`")
    assert not out.exists()
