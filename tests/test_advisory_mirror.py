"""The offline advisory mirror (scripts/advisory-mirror.py): the OSV matching rules, one test each, on records
written for the rule; the real pypa/advisory-database records of tests/fixtures/advisory-db on pins checked by
hand; the snapshot it reports and refuses when too old; the three shapes of a database (a real git clone laid out
like pypa/advisory-database, its vulns/ folder, an all.zip) giving the gate the same findings. The mirror runs as
it does for the gate: its own process, on 127.0.0.1, real HTTP.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from support.gate import REPO_ROOT, VENV_BIN, gate_env, run_gate, run_scan
from support.projects import copy_repo_lock, git, write_uv_project

MIRROR = REPO_ROOT / "scripts" / "advisory-mirror.py"
FIXTURE_DB = REPO_ROOT / "tests" / "fixtures" / "advisory-db"
NOW = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Mirror:
    def __init__(self, url: str, snapshot: dict[str, Any]) -> None:
        self.url = url  # the /v1/query endpoint
        self.snapshot = snapshot

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        request = urllib.request.Request(self.url.removesuffix("/v1/query") + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def ids(self, name: str, version: str) -> list[str]:
        status, body = self.post("/v1/query", {"package": {"name": name, "ecosystem": "PyPI"}, "version": version})
        assert status == 200, body
        return sorted(record["id"] for record in body.get("vulns", []))

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url.removesuffix("/v1/query") + path, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def start(source: Path, tmp: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    ready = tmp / f"ready-{time.monotonic_ns()}.json"
    proc = subprocess.Popen([str(VENV_BIN / "python"), str(MIRROR), str(source), "--ready-file", str(ready), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc, ready


@contextmanager
def mirror(source: Path, tmp: Path, *args: str) -> Iterator[Mirror]:
    proc, ready = start(source, tmp, *args)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the mirror did not get ready"
            time.sleep(0.05)
        info = json.loads(ready.read_text())
        yield Mirror(info["url"], info["snapshot"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def refusal(source: Path, tmp: Path, *args: str) -> str:
    """The mirror's message when it refuses to serve source (it must exit 2 without getting ready)."""
    proc, ready = start(source, tmp, *args)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and not ready.exists(), err
    return err


def record(vuln_id: str, *, name: str = "pkg", events: list[dict] | None = None, versions: list[str] | None = None,
           **extra: Any) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"name": name, "ecosystem": "PyPI"}}
    if events is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    if versions is not None:
        affected["versions"] = versions
    return {"id": vuln_id, "modified": NOW, "affected": [affected], **extra}


def db(root: Path, *records: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rec in records:
        (root / f"{rec['id']}.json").write_text(json.dumps(rec))
    return root


@pytest.fixture
def served(tmp_path: Path):
    """served(*records) -> a running Mirror of exactly those records."""
    with_stack: list[Any] = []

    def serve(*records: dict[str, Any]) -> Mirror:
        context = mirror(db(tmp_path / f"db{len(with_stack)}", *records), tmp_path)
        with_stack.append(context)
        return context.__enter__()

    yield serve
    for context in with_stack:
        context.__exit__(None, None, None)


# --------------------------------------------------------------------------- the matching rules


def test_introduced_and_fixed_bound_a_half_open_range(served):
    m = served(record("R-1", events=[{"introduced": "1.2"}, {"fixed": "1.4.1"}]))
    assert [m.ids("pkg", v) for v in ("1.1.9", "1.2", "1.2.0", "1.4.0", "1.4.1", "2.0")] == \
        [[], ["R-1"], ["R-1"], ["R-1"], [], []]


def test_several_ranges_and_several_events_each_count(served):
    m = served({"id": "R-2", "modified": NOW, "affected": [{
        "package": {"name": "pkg", "ecosystem": "PyPI"},
        "ranges": [
            {"type": "ECOSYSTEM", "events": [{"introduced": "3.0"}, {"fixed": "3.1.12"}, {"introduced": "0"},
                                             {"fixed": "2.2.24"}]},  # out of order: sorted by version
            {"type": "ECOSYSTEM", "events": [{"introduced": "4.0"}, {"fixed": "4.0.2"}]}]}]})
    assert [m.ids("pkg", v) for v in ("1.0", "2.2.24", "2.9", "3.0", "3.1.11", "3.1.12", "4.0.1", "4.0.2")] == \
        [["R-2"], [], [], ["R-2"], ["R-2"], [], ["R-2"], []]


def test_last_affected_includes_that_version_and_none_after(served):
    m = served(record("R-3", events=[{"introduced": "0"}, {"last_affected": "1.11.0"}]))
    assert [m.ids("pkg", v) for v in ("0.1", "1.11.0", "1.11.0.post1", "1.11.1")] == [["R-3"], ["R-3"], [], []]


def test_limit_caps_the_range_and_a_star_is_no_cap(served):
    m = served(record("R-4", events=[{"introduced": "1.0"}, {"limit": "1.5"}]),
               record("R-5", events=[{"introduced": "1.0"}, {"limit": "*"}]))
    assert [m.ids("pkg", v) for v in ("0.9", "1.0", "1.4.9", "1.5", "9.0")] == \
        [[], ["R-4", "R-5"], ["R-4", "R-5"], ["R-5"], ["R-5"]]


def test_an_explicit_versions_list_matches_by_pep_440_equality(served):
    m = served(record("R-6", versions=["1.0", "2.0rc1", "not-a-version"]))
    assert [m.ids("pkg", v) for v in ("1.0", "1.0.0", "2.0.0rc1", "2.0", "not-a-version", "1.5")] == \
        [["R-6"], ["R-6"], ["R-6"], [], ["R-6"], []]


def test_versions_list_or_range_either_is_enough(served):
    m = served(record("R-7", events=[{"introduced": "2.0"}, {"fixed": "2.1"}], versions=["1.0"]))
    assert [m.ids("pkg", v) for v in ("1.0", "2.0.5", "1.5")] == [["R-7"], ["R-7"], []]


def test_withdrawn_records_are_never_answered(served):
    m = served(record("R-8", events=[{"introduced": "0"}], withdrawn="2024-01-01T00:00:00Z"),
               record("R-9", events=[{"introduced": "0"}]))
    assert m.ids("pkg", "1.0") == ["R-9"]
    assert m.get("/v1/vulns/R-8")[0] == 404
    assert m.snapshot["withdrawn"] == 1


def test_a_record_is_found_by_its_id_or_any_alias_and_answered_with_its_aliases(served):
    m = served(record("PYSEC-1", events=[{"introduced": "0"}], aliases=["CVE-2020-1", "GHSA-aaaa-bbbb-cccc"]))
    status, body = m.post("/v1/query", {"package": {"name": "pkg", "ecosystem": "PyPI"}, "version": "1.0"})
    assert status == 200 and body["vulns"][0]["aliases"] == ["CVE-2020-1", "GHSA-aaaa-bbbb-cccc"]
    for vuln_id in ("PYSEC-1", "CVE-2020-1", "GHSA-aaaa-bbbb-cccc"):
        assert m.get(f"/v1/vulns/{vuln_id}") == (200, body["vulns"][0])
    assert m.get("/v1/vulns/CVE-2020-2")[0] == 404


def test_package_names_are_compared_pep_503_normalized(served):
    m = served(record("R-10", name="Jw.Util", events=[{"introduced": "0"}]))
    assert [m.ids(name, "1.0") for name in ("jw.util", "jw-util", "JW_UTIL", "jw--util", "jwutil")] == \
        [["R-10"], ["R-10"], ["R-10"], ["R-10"], []]
    status, body = m.post("/v1/query", {"package": {"purl": "pkg:pypi/jw-util@1.0"}})
    assert status == 200 and [r["id"] for r in body["vulns"]] == ["R-10"]


def test_pre_releases_take_their_pep_440_place(served):
    m = served(record("R-11", events=[{"introduced": "0"}, {"fixed": "2.0"}]),
               record("R-12", events=[{"introduced": "1.0"}, {"fixed": "1.1"}]))
    assert m.ids("pkg", "0.dev0") == ["R-11"]          # "0" is before every version, even 0.dev0 < 0
    assert m.ids("pkg", "2.0rc1") == ["R-11"]          # a pre-release of the fixed version is before it
    assert m.ids("pkg", "2.0.post1") == []
    assert m.ids("pkg", "1.0rc1") == ["R-11"]          # before R-12's introduced 1.0
    assert m.ids("pkg", "1.1a1") == ["R-11", "R-12"]   # after 1.0, before 1.1


def test_other_ecosystems_and_git_ranges_do_not_match(served):
    m = served({"id": "R-13", "modified": NOW, "affected": [
        {"package": {"name": "pkg", "ecosystem": "npm"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]},
        {"package": {"name": "pkg", "ecosystem": "PyPI"},
         "ranges": [{"type": "GIT", "repo": "https://example.invalid/r", "events": [{"introduced": "0"}]}]}]},
        record("R-14", name="other", events=[{"introduced": "0"}]))
    assert m.ids("pkg", "1.0") == []
    status, body = m.post("/v1/query", {"package": {"name": "pkg", "ecosystem": "npm"}, "version": "1.0"})
    assert (status, body) == (200, {})


def test_a_bound_that_is_not_a_pep_440_version_is_answered_fail_closed(served):
    m = served(record("R-15", events=[{"introduced": "0"}, {"fixed": "2019-09-12"}]))
    assert m.ids("pkg", "1.0") == ["R-15"]


def test_a_query_without_version_answers_every_record_of_the_package(served):
    m = served(record("R-16", events=[{"introduced": "1.0"}, {"fixed": "1.1"}]), record("R-17", versions=["3"]))
    status, body = m.post("/v1/query", {"package": {"name": "pkg", "ecosystem": "PyPI"}})
    assert status == 200 and sorted(r["id"] for r in body["vulns"]) == ["R-16", "R-17"]


def test_querybatch_answers_each_query_in_order_with_ids(served):
    m = served(record("R-18", events=[{"introduced": "0"}, {"fixed": "2"}]))
    status, body = m.post("/v1/querybatch", {"queries": [
        {"package": {"name": "pkg", "ecosystem": "PyPI"}, "version": "1"},
        {"package": {"name": "pkg", "ecosystem": "PyPI"}, "version": "2"}]})
    assert status == 200 and body == {"results": [{"vulns": [{"id": "R-18", "modified": NOW}]}, {}]}


@pytest.mark.parametrize("body", [{}, {"package": "pkg"}, {"package": {"ecosystem": "PyPI"}},
                                  {"package": {"name": "pkg", "ecosystem": "PyPI"}, "version": 1}, [1]])
def test_a_malformed_query_is_a_400(served, body):
    m = served(record("R-19", events=[{"introduced": "0"}]))
    status, answer = m.post("/v1/query", body)
    assert status == 400 and answer["code"] == 3


# --------------------------------------------------------------------------- the real records, pins read by hand

HAND_CHECKED = [
    ("django", "3.2.0", ["PYSEC-2021-7", "PYSEC-2021-98"]),
    ("Django", "3.2.1", ["PYSEC-2021-98"]),
    ("django", "3.2.4", []),
    ("django", "3.1.11", ["PYSEC-2021-98"]),
    ("django", "4.2.13", ["PYSEC-2024-56"]),
    ("django", "5.2.8", []),
    ("py", "1.11.0", ["PYSEC-2022-42969"]),
    ("py", "1.11.1", []),
    ("loguru", "0.5.3", []),
    ("jw_util", "1.0.dev1", ["PYSEC-2020-341"]),
    ("jw-util", "2.2", ["PYSEC-2020-341"]),
    ("jw.util", "2.3", []),
    ("pycrypto", "2.6.1", ["PYSEC-2017-94", "PYSEC-2018-97"]),
]


def fresh_checkout(root: Path, source: Path = FIXTURE_DB, days_old: int = 0, ignore: Any = None) -> Path:
    """source (less what ignore, a shutil.copytree ignore, leaves out) copied into a git repository of its own, its
    one commit made days_old days ago."""
    shutil.copytree(source, root, ignore=ignore)
    when = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_old)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                    "commit", "-q", "-m", "snapshot"], check=True,
                   env={**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when})
    return root


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> Iterator[Mirror]:
    tmp = tmp_path_factory.mktemp("real")
    with mirror(fresh_checkout(tmp / "advisory-database"), tmp) as m:
        yield m


@pytest.mark.parametrize("name, version, expected", HAND_CHECKED, ids=[f"{n}=={v}" for n, v, _ in HAND_CHECKED])
def test_real_pypa_records_answer_pins_checked_by_hand(real, name, version, expected):
    assert real.ids(name, version) == expected


def test_a_git_checkout_is_identified_by_its_commit_and_date(real, tmp_path):
    snapshot = real.snapshot
    assert snapshot["kind"] == "git" and len(snapshot["commit"]) == 40 and snapshot["age_days"] < 1
    assert snapshot["records"] == 8 and snapshot["withdrawn"] == 1 and snapshot["max_age_days"] == 7


def test_a_snapshot_older_than_the_maximum_is_refused_naming_its_age(tmp_path):
    old = fresh_checkout(tmp_path / "old", days_old=10)
    message = refusal(old, tmp_path)
    assert "10 days old" in message and "maximum of 7 days" in message
    with mirror(old, tmp_path, "--max-age-days", "30") as m:
        assert m.snapshot["age_days"] >= 10


def test_a_folder_that_is_no_checkout_is_dated_by_its_newest_record(tmp_path):
    message = refusal(FIXTURE_DB, tmp_path)
    assert "2024-07-10" in message  # PYSEC-2024-56's modified, the newest of the fixture
    with mirror(FIXTURE_DB, tmp_path, "--max-age-days", "100000") as m:
        assert m.snapshot["kind"] == "directory" and m.snapshot["commit"] is None
        assert m.ids("django", "3.2.0") == ["PYSEC-2021-7", "PYSEC-2021-98"]


def test_an_osv_export_zip_is_served_and_dated_by_its_newest_record(tmp_path):
    export = tmp_path / "all.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("GHSA-1.json", json.dumps(record("GHSA-1", events=[{"introduced": "0"}, {"fixed": "2"}])))
        archive.writestr("PYSEC-1.json", json.dumps(record("PYSEC-1", versions=["1.5"], aliases=["GHSA-1"])))
    with mirror(export, tmp_path) as m:
        assert m.snapshot["kind"] == "osv-export" and m.snapshot["date"].startswith(NOW[:10])
        assert m.ids("pkg", "1.5") == ["GHSA-1", "PYSEC-1"]


@pytest.mark.parametrize("content, cause", [
    ("id: [unclosed", "cannot read"),
    ("affected: []\n", "not an OSV record"),
])
def test_an_unreadable_record_is_refused_naming_it(tmp_path, content, cause):
    source = db(tmp_path / "db", record("R-20", events=[{"introduced": "0"}]))
    (source / "broken.yaml").write_text(content)
    message = refusal(source, tmp_path)
    assert cause in message and "broken.yaml" in message


def test_a_source_without_pypi_records_is_refused(tmp_path):
    source = tmp_path / "empty"
    source.mkdir()
    assert "holds no PyPI advisory" in refusal(source, tmp_path)


def test_a_file_in_the_records_folder_that_is_no_record_is_refused_naming_it(tmp_path):
    source = db(tmp_path / "db", record("R-21", events=[{"introduced": "0"}]))
    (source / "NOTES.txt").write_text("not a record")
    (source / ".id-allocator").write_text("hidden: skipped")
    message = refusal(source, tmp_path)
    assert "NOTES.txt is not an OSV record" in message and ".id-allocator" not in message


def test_an_export_member_that_is_no_json_record_is_refused_naming_it(tmp_path):
    export = tmp_path / "all.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("PYSEC-1.json", json.dumps(record("PYSEC-1", versions=["1.5"])))
        archive.writestr("README.txt", "not a record")
    assert "all.zip:README.txt is not an OSV record" in refusal(export, tmp_path)


# --------------------------------------------------------------------------- the gate with PIP_AUDIT_ADVISORY_DB


def mirror_processes(marker: Path) -> list[int]:
    """Ids of live mirror processes serving a source under marker."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(MIRROR).encode() in cmdline and any(str(marker).encode() in part for part in cmdline):
            found.append(int(proc.name))
    return found


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    return fresh_checkout(tmp_path_factory.mktemp("gate") / "advisory-database")


def test_the_gate_audits_a_fixture_project_against_the_mirror_and_records_the_snapshot(tmp_path, reports, checkout):
    project = write_uv_project(tmp_path / "p", [("django", "3.2.0"), ("py", "1.11.1")])
    run = run_scan("pip-audit", project, reports, env={"PIP_AUDIT_ADVISORY_DB": str(checkout)})
    result = run.result("pip-audit")
    assert run.rc == 1 and result["status"] == "fail", run.output
    assert sorted(f["id"] for f in result["findings"]) == ["PYSEC-2021-7", "PYSEC-2021-98"]
    by_id = {f["id"]: f for f in result["findings"]}
    assert by_id["PYSEC-2021-98"]["fix"] == "2.2.24, 3.1.12, 3.2.4"
    assert by_id["PYSEC-2021-98"]["aliases"] == ["CVE-2021-33203", "GHSA-68w8-qjq3-2gfm"]
    snapshot = result["advisory_snapshot"]
    assert snapshot["commit"] == git(checkout, "rev-parse", "HEAD").strip() and snapshot["age_days"] < 1
    assert "advisories from " + snapshot["commit"] in run.output
    assert mirror_processes(checkout) == [], "the mirror outlived the scan"
    summary = subprocess.run(["jq", "-r", "-s", "-L", str(REPO_ROOT / "jq"), "--arg", "gate", "security-code", "-f",
                              str(REPO_ROOT / "jq" / "summary.jq"), str(reports / "pip-audit.json")],
                             capture_output=True, text=True, check=True).stdout
    assert f"advisory snapshot `{snapshot['commit']}` of {snapshot['date']}" in summary


def test_the_gate_passes_this_repository_against_the_mirror(tmp_path, reports, checkout):
    project = copy_repo_lock(tmp_path / "repo")
    run = run_scan("pip-audit", project, reports, env={"PIP_AUDIT_ADVISORY_DB": str(checkout)})
    result = run.result("pip-audit")
    assert run.rc == 0 and result["status"] == "pass" and result["findings"] == [], run.output
    assert result["advisory_snapshot"]["kind"] == "git"


def test_a_stale_mirror_is_an_error_naming_its_age(tmp_path, reports):
    stale = fresh_checkout(tmp_path / "stale", days_old=9)
    project = write_uv_project(tmp_path / "p", [("django", "3.2.0")])
    run = run_scan("pip-audit", project, reports, env={"PIP_AUDIT_ADVISORY_DB": str(stale)})
    error = run.result("pip-audit")["error"]
    assert run.rc == 2 and "9 days old" in error and "maximum of 7 days" in error, run.output
    run = run_scan("pip-audit", project, reports,
                   env={"PIP_AUDIT_ADVISORY_DB": str(stale), "PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS": "14"})
    assert run.rc == 1, run.output


@pytest.mark.parametrize("env, cause", [
    ({"PIP_AUDIT_ADVISORY_DB": "/nonexistent/advisory-database"}, "does not exist"),
    ({"PIP_AUDIT_OSV_URL": "http://127.0.0.1:9/v1/query"}, "both set"),
    ({"PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS": "a week"}, "whole number of days"),
])
def test_a_mirror_misconfigured_is_an_error(tmp_path, reports, checkout, env, cause):
    project = write_uv_project(tmp_path / "p", [("django", "3.2.0")])
    run = run_scan("pip-audit", project, reports, env={"PIP_AUDIT_ADVISORY_DB": str(checkout), **env})
    assert run.rc == 2 and cause in run.result("pip-audit")["error"], run.output


def test_an_interrupted_scan_stops_its_mirror(tmp_path, reports, checkout):
    project = write_uv_project(tmp_path / "p", [("django", "3.2.0")])
    scan = subprocess.Popen([str(REPO_ROOT / "scans" / "pip-audit" / "run.sh")],
                            env=gate_env(project, reports, {"PIP_AUDIT_ADVISORY_DB": str(checkout)}),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not mirror_processes(checkout):
        assert scan.poll() is None and time.monotonic() < deadline, "the scan ended before its mirror was seen"
        time.sleep(0.05)
    scan.send_signal(signal.SIGTERM)
    assert scan.wait(timeout=30) == 143
    assert mirror_processes(checkout) == [], "the mirror outlived the interrupted scan"
    assert "interrupted by SIGTERM" in json.loads((reports / "pip-audit.json").read_text())["error"]


def test_make_advisory_mirror_serves_the_variable_s_database_by_hand(tmp_path, checkout):
    env = {**os.environ, "PIP_AUDIT_ADVISORY_DB": str(checkout), "ADVISORY_MIRROR_PORT": "0"}
    proc = subprocess.Popen(["make", "--no-print-directory", "-C", str(REPO_ROOT), "advisory-mirror"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = ""
        while not line.startswith("advisory-mirror: "):  # after what make setup may print
            line = proc.stderr.readline()
            assert line, "make advisory-mirror ended without serving"
        assert line.startswith(f"advisory-mirror: 8 advisories for 4 packages from {git(checkout, 'rev-parse', 'HEAD').strip()}"), line
        m = Mirror(line.rsplit(" at ", 1)[1].strip(), {})
        assert m.ids("django", "3.2.0") == ["PYSEC-2021-7", "PYSEC-2021-98"]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- severity for code scanning

VECTORS = [  # CVSS v3.1 base scores as FIRST's calculator gives them
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8),
    ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:L/I:L/A:N", 4.7),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
]


def test_answered_advisories_are_logged_with_a_cvss_v3_score_or_their_ghsa_grade(tmp_path):
    records = [record(f"V-{i}", events=[{"introduced": "0"}], severity=[{"type": "CVSS_V3", "score": vector}])
               for i, (vector, _) in enumerate(VECTORS)]
    records += [record("G-1", events=[{"introduced": "0"}], database_specific={"severity": "MODERATE"}),
                record("N-1", events=[{"introduced": "0"}],
                       severity=[{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}])]
    answers = tmp_path / "answers.jsonl"
    with mirror(db(tmp_path / "db", *records), tmp_path, "--answers", str(answers)) as m:
        assert len(m.ids("pkg", "1.0")) == len(records)
    logged = {line["id"]: line["security_severity"] for line in map(json.loads, answers.read_text().splitlines())}
    assert logged == {**{f"V-{i}": score for i, (_, score) in enumerate(VECTORS)}, "G-1": 5.5, "N-1": None}


def test_pip_audit_findings_carry_the_advisory_score_into_the_sarif_rule(tmp_path, reports):
    invented = fresh_checkout(tmp_path / "osv-records", source=REPO_ROOT / "tests" / "fixtures" / "osv",
                              ignore=shutil.ignore_patterns("README.md"))  # a folder of records holds records only
    project = write_uv_project(tmp_path / "p", [("django", "4.2.0"), ("fixture-unfixed", "1.0")])
    run = run_gate("security-code", project, reports, env={"PIP_AUDIT_ADVISORY_DB": str(invented)})
    findings = {f["id"]: f for f in run.result("pip-audit")["findings"]}
    assert {i: (f["severity"], f.get("security_severity")) for i, f in findings.items()} == {
        "PYSEC-2099-101": ("UNKNOWN", 7.5),   # GHSA-fx7q-2m9c-h4rv, by its alias: its CVSS vector (AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H)
        "GHSA-fx9r-4c2h-m5wp": ("UNKNOWN", 9.5)}   # no vector: its GHSA grade, CRITICAL
    run_log = next(r for r in json.loads((reports / "security-code.sarif").read_text())["runs"]
                   if r["tool"]["driver"]["name"] == "pip-audit")
    scores = {rule["id"]: rule["properties"].get("security-severity") for rule in run_log["tool"]["driver"]["rules"]}
    assert scores == {"PYSEC-2099-101": "7.5", "GHSA-fx9r-4c2h-m5wp": "9.5"}
    assert run_log["tool"]["driver"]["version"] == importlib.metadata.version("pip-audit")


# --------------------------------------------------------------------------- the three shapes of a database

# What a clone of pypa/advisory-database holds beside vulns/ (as at 3ccb612, the fixture's commit): YAML that is
# no record, which the mirror must not read.
CLONE_EXTRAS = {
    ".github/workflows/auto_import.yaml": "name: Auto import\non:\n  schedule:\n    - cron: '0 * * * *'\n",
    "triage/false_positives.yaml": "ids:\n- CVE-2021-27928  # Affects server, not client.\n",
    "LICENSE": "Creative Commons Attribution 4.0 International\n",
    "vulns/.id-allocator": "49801abb\n",
}


def yaml_to_osv_json(text: str) -> str:
    """A YAML record as OSV's export writes it (JSON, timestamps as RFC 3339 strings)."""
    import yaml

    return json.dumps(yaml.safe_load(text), default=lambda moment: moment.isoformat().replace("+00:00", "Z"))


@pytest.fixture(scope="module")
def three_shapes(tmp_path_factory) -> dict[str, Path]:
    """The fixture records as a real `git clone` of a repository laid out like pypa/advisory-database (its other
    files in it), as that clone's vulns/ folder, and as an OSV all.zip."""
    tmp = tmp_path_factory.mktemp("shapes")
    upstream = fresh_checkout(tmp / "upstream")
    for name, text in CLONE_EXTRAS.items():
        (upstream / name).parent.mkdir(parents=True, exist_ok=True)
        (upstream / name).write_text(text)
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "the repository's other files")
    subprocess.run(["git", "clone", "-q", str(upstream), str(tmp / "advisory-database")], check=True)
    clone = tmp / "advisory-database"
    export = tmp / "all.zip"
    with zipfile.ZipFile(export, "w") as archive:
        for path in sorted((clone / "vulns").rglob("*.yaml")):
            archive.writestr(f"{path.stem}.json", yaml_to_osv_json(path.read_text()))
    return {"clone": clone, "vulns": clone / "vulns", "all.zip": export}


@pytest.fixture(scope="module")
def three_shape_results(tmp_path_factory, three_shapes) -> dict[str, dict[str, Any]]:
    """The pip-audit scan of one project against each shape (the records are from 2024: any age is allowed)."""
    tmp = tmp_path_factory.mktemp("shape-runs")
    project = write_uv_project(tmp / "p", [("django", "3.2.0"), ("py", "1.11.0"), ("jw-util", "2.2")])
    results = {}
    for shape, source in three_shapes.items():
        run = run_scan("pip-audit", project, tmp / f"reports-{shape}", env={
            "PIP_AUDIT_ADVISORY_DB": str(source), "PIP_AUDIT_ADVISORY_DB_MAX_AGE_DAYS": "100000"})
        assert run.rc == 1, run.output
        results[shape] = run.result("pip-audit")
    return results


def test_a_plain_clone_and_an_all_zip_give_the_findings_of_the_clone_s_vulns_folder(three_shape_results):
    def findings(result: dict[str, Any]) -> list[tuple]:
        return sorted((f["id"], tuple(f["aliases"]), f["fix"], f["package"]["name"], f["package"]["version"])
                      for f in result["findings"])

    expected = findings(three_shape_results["vulns"])
    assert [f[0] for f in expected] == ["PYSEC-2020-341", "PYSEC-2021-7", "PYSEC-2021-98", "PYSEC-2022-42969"]
    assert findings(three_shape_results["clone"]) == expected
    assert findings(three_shape_results["all.zip"]) == expected
    assert {shape: r["coverage"] for shape, r in three_shape_results.items()} == \
        dict.fromkeys(three_shape_results, three_shape_results["vulns"]["coverage"])


def test_each_shape_is_recorded_as_what_it_is(three_shape_results, three_shapes):
    snapshots = {shape: r["advisory_snapshot"] for shape, r in three_shape_results.items()}
    assert snapshots["clone"]["kind"] == "git"
    assert snapshots["clone"]["commit"] == git(three_shapes["clone"], "rev-parse", "HEAD").strip()
    assert (snapshots["vulns"]["kind"], snapshots["all.zip"]["kind"]) == ("directory", "osv-export")
    assert [snapshots[shape]["records_folder"] for shape in ("clone", "vulns", "all.zip")] == \
        [str(three_shapes["clone"] / "vulns")] * 2 + [None]
    assert {s["records"] for s in snapshots.values()} == {8}  # the nine records less the withdrawn one
