"""Faults: the gate fails closed when a scanner, jq, the report directory or a service breaks.

Each case plants the results of an earlier run that passed, injects one fault, and checks the verdict (error,
never pass), the exit code (2), a message naming the cause, and that nothing of the earlier run is left to be
read as this run's result. Stand-in scanners (tests/support/faults.py) produce what the real tools cannot be
made to: a crash, a hang, output of the wrong shape; the service and trivy DB faults use the real tools.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.faults import (
    BLANK, EMPTY, FILL_DISK, HANG, KILLED, NOTHING, PASS, SEGFAULT, TRUNCATED, VALID_REPORTS, WRONG_SHAPE,
    accepting_stand_ins, clean_project, fake_scanner, fault_reports_path, fill, pids_alive, plant_stale_pass,
    recorded_pids, says_pass, small_tmpfs, stale_files,
)
from support.gate import (ALL_SCANS, CODE_SCANS, REPO_ROOT, fake_tool, gate_copy, path_without, run_gate, run_scan,
                          tool_path)
from osv_server import GARBAGE, HTTP_500, SLOW, OsvServer, blackhole_url, refused_url
from support.trivy_fixtures import (
    build_image_tar, build_trivy_db, corrupt_trivy_db, debian_fixed, truncate_file, vulnerability,
    write_db_metadata,
)

@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return clean_project(tmp_path_factory.mktemp("faults") / "project")


@pytest.fixture(scope="module")
def baselined_project(tmp_path_factory) -> Path:
    return clean_project(tmp_path_factory.mktemp("faults") / "project", baseline=True)


def isolated(tmp_path: Path, **env: str) -> dict[str, str]:
    """The environment of one case: its own scan cache (an earlier case's entries cannot answer for it)."""
    return {"SECURITY_CACHE_DIR": str(tmp_path / "cache"), **accepting_stand_ins(tmp_path), **env}


def assert_failed_closed(run, reports: Path, scans, cause: str, gate: str | None = None) -> None:
    """rc 2; each scan's result is this run's "error" naming cause; nothing stale, nothing says pass."""
    assert run.rc == 2, run.output
    for scan in scans:
        result = run.result(scan)
        assert result["status"] == "error", (scan, result)
        assert cause in result["error"], (scan, result["error"])
    assert cause in run.output
    assert stale_files(reports) == [], run.output
    assert says_pass(reports, scans, gate) == []


# --------------------------------------------------------------------------- scanners that break

ALL = ALL_SCANS  # every scan of the two gates (the Makefile's CODE_SCANS and DOCKER_SCANS)
STDOUT_EMPTY = "empty or missing"
CASES = [
    # (scan, behaviour, cause named in the result)
    *[(scan, KILLED, "killed by signal 9") for scan in ALL],
    ("bandit", SEGFAULT, "killed by signal 11"),
    # SCAN_TIMEOUT bounds the whole scan (its preparation included): 3 s leaves a loaded machine time to reach the tool.
    *[(scan, HANG, "did not finish within SCAN_TIMEOUT=3s") for scan in ALL],
    *[(scan, WRONG_SHAPE, "unexpected shape") for scan in ALL],
    *[(scan, TRUNCATED, "not valid JSON") for scan in ALL],
    ("pip-audit", EMPTY, "without a report"),
    ("bandit", EMPTY, STDOUT_EMPTY),
    ("detect-secrets", EMPTY, STDOUT_EMPTY),
    ("trivy", EMPTY, STDOUT_EMPTY),
    *[(scan, BLANK, STDOUT_EMPTY) for scan in ALL],
    ("pip-audit", NOTHING, "without a report"),
    ("detect-secrets+baseline", NOTHING, "without writing its results"),
    ("detect-secrets+baseline", TRUNCATED, "not valid JSON"),
    ("trivy", NOTHING, STDOUT_EMPTY),
]


def test_every_scan_of_the_gates_has_stand_in_reports_for_the_fault_cases():
    missing = [str(fault_reports_path(scan).relative_to(REPO_ROOT)) for scan in ALL if scan not in VALID_REPORTS]
    assert missing == [], "add {valid, wrong_shape} reports so the fault cases cover these scans"


@pytest.mark.parametrize("scan, behaviour, cause", CASES, ids=[f"{s}-{b}" for s, b, _ in CASES])
def test_broken_scanner_is_an_error_naming_the_cause(project, baselined_project, reports, tmp_path,
                                                     scan, behaviour, cause):
    scan, _, variant = scan.partition("+")
    tree = baselined_project if variant == "baseline" else project
    fake = fake_scanner(tmp_path / "bin", scan, behaviour)
    image = tmp_path / "image.tar"
    image.write_bytes(b"read by the stand-in trivy only")
    plant_stale_pass(reports, [scan])
    # The gate runs no trivy but the one it records: a stand-in trivy runs in a copy of the gate that records it.
    root = gate_copy(tmp_path / "gate", fake / scan) if scan == "trivy" else REPO_ROOT
    run = run_scan(scan, tree, reports, path=tool_path(fake), root=root,
                   env=isolated(tmp_path, SCAN_TIMEOUT="3" if behaviour == HANG else "60", IMAGE_TAR=str(image)))
    assert_failed_closed(run, reports, [scan], cause)
    assert recorded_pids(fake), "the stand-in was never run"
    assert pids_alive(recorded_pids(fake)) == [], "the scanner (or its child) outlived the scan"


def test_scan_timeout_must_be_a_positive_whole_number(project, reports, tmp_path):
    """SCAN_TIMEOUT=0 would mean "no time limit" to coreutils timeout: a hang would never end."""
    fake = fake_scanner(tmp_path / "bin", "bandit", PASS)
    for value in ("0", "15m", "-1"):
        plant_stale_pass(reports, ["bandit"])
        run = run_scan("bandit", project, reports, path=tool_path(fake), env=isolated(tmp_path, SCAN_TIMEOUT=value))
        assert_failed_closed(run, reports, ["bandit"],
                             f"SCAN_TIMEOUT must be a whole number of seconds above 0, not '{value}'")


# --------------------------------------------------------------------------- jq


def test_jq_missing_is_an_error_for_every_scan(project, reports, tmp_path):
    plant_stale_pass(reports, CODE_SCANS, gate="security-code")
    run = run_gate("security-code", project, reports, path=path_without(tmp_path / "bin", "jq"),
                   env=isolated(tmp_path))
    assert_failed_closed(run, reports, CODE_SCANS, "jq was not found on PATH", gate="security-code")
    assert not (reports / "security-code.md").exists()


def fake_jq(folder: Path, version: str) -> Path:
    """A jq that says it is `version` and otherwise is the real jq."""
    real = shutil.which("jq")
    assert real, "jq is needed to run the tests"
    script = f'[[ "${{1:-}}" == --version ]] && {{ echo "{version}"; exit 0; }}\nexec {real} "$@"\n'
    return fake_tool(folder, "jq", script)


def test_jq_older_than_1_6_is_an_error_for_every_scan(project, reports, tmp_path):
    plant_stale_pass(reports, CODE_SCANS, gate="security-code")
    run = run_gate("security-code", project, reports, path=tool_path(fake_jq(tmp_path / "bin", "jq-1.5")),
                   env=isolated(tmp_path))
    assert_failed_closed(run, reports, CODE_SCANS, "jq 1.5 is too old: the gate needs jq 1.6 or later",
                         gate="security-code")


@pytest.mark.parametrize("version", ["jq-1.5", "jq-1.4rc1"])
def test_a_scan_run_alone_checks_jq_too(project, reports, tmp_path, version):
    fake = fake_scanner(tmp_path / "bin", "bandit", PASS)
    plant_stale_pass(reports, ["bandit"])
    run = run_scan("bandit", project, reports, path=tool_path(fake_jq(tmp_path / "jq", version), fake),
                   env=isolated(tmp_path))
    assert_failed_closed(run, reports, ["bandit"], "is too old")


@pytest.mark.parametrize("version", ["jq-1.6", "jq-1.7.1", "jq-1.8.0-dirty"])
def test_jq_1_6_and_later_are_accepted(project, reports, tmp_path, version):
    """Harmless: the version check does not reject the jq the gate supports (GitHub runners have 1.7)."""
    fake = fake_scanner(tmp_path / "bin", "bandit", PASS)
    run = run_scan("bandit", project, reports, path=tool_path(fake_jq(tmp_path / "jq", version), fake),
                   env=isolated(tmp_path))
    assert run.rc == 0 and run.result("bandit")["status"] == "pass", run.output


# --------------------------------------------------------------------------- the report directory


def test_report_directory_that_cannot_be_created_is_an_error(project, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the report directory should be\n")
    reports = blocker / "reports"
    fakes = tmp_path / "bin"
    for scan in CODE_SCANS:
        fake_scanner(fakes, scan, PASS)
    run = run_gate("security-code", project, reports, path=tool_path(fakes), env=isolated(tmp_path))
    assert run.rc == 2, run.output
    assert f"the report directory {reports} is not writable" in run.output
    assert "PASS" not in run.output
    assert recorded_pids(fakes) == []  # no scan ran: its result could not have been kept
    run = run_scan("bandit", project, reports, path=tool_path(fakes), env=isolated(tmp_path))
    assert run.rc == 2 and "not writable" in run.output, run.output


def test_full_report_directory_is_an_error_and_removes_the_earlier_results(project, tmp_path):
    """A full disk: nothing can be written, so the gate says so, and the earlier run's results are removed."""
    try:
        with small_tmpfs(tmp_path / "mnt", 64) as disk:
            reports = disk / "reports"
            plant_stale_pass(reports, CODE_SCANS, gate="security-code", pinned=disk / "pinned")
            fill(disk)
            fakes = tmp_path / "bin"
            for scan in CODE_SCANS:
                fake_scanner(fakes, scan, PASS)
            run = run_gate("security-code", project, reports, path=tool_path(fakes), env=isolated(tmp_path))
            assert run.rc == 2, run.output
            assert f"cannot write to the report directory {reports} (full or read-only)" in run.output
            assert "PASS" not in run.output
            assert stale_files(reports) == []
            assert says_pass(reports, CODE_SCANS, "security-code") == []
    except PermissionError as e:
        pytest.skip(str(e))


def test_report_directory_filling_up_during_a_scan_is_an_error(project, tmp_path):
    """The disk fills while the scanner runs: its result cannot be kept, so the scan ends as an error."""
    try:
        with small_tmpfs(tmp_path / "mnt", 64) as disk:
            reports = disk / "reports"
            plant_stale_pass(reports, ["bandit"], pinned=disk / "pinned")
            fake = fake_scanner(tmp_path / "bin", "bandit", FILL_DISK)
            run = run_scan("bandit", project, reports, path=tool_path(fake), env=isolated(tmp_path))
            assert run.rc == 2, run.output
            assert "to the report directory" in run.output and "(full or read-only)" in run.output
            assert "PASS" not in run.output
            assert run.result("bandit")["status"] == "error"
            assert stale_files(reports) == []
    except PermissionError as e:
        pytest.skip(str(e))


def test_step_summary_that_cannot_be_written_is_reported_and_the_verdict_stands(project, reports, tmp_path):
    """Harmless to the verdict: GITHUB_STEP_SUMMARY is a view of the results, which are complete."""
    fakes = tmp_path / "bin"
    for scan in CODE_SCANS:
        fake_scanner(fakes, scan, PASS)
    run = run_gate("security-code", project, reports, path=tool_path(fakes),
                   env=isolated(tmp_path, GITHUB_STEP_SUMMARY="/dev/full"))
    assert run.rc == 0, run.output
    assert "could not append to GITHUB_STEP_SUMMARY" in run.output
    assert (reports / "security-code.md").read_text().startswith("## Security gate `security-code`: ✅ pass")


# --------------------------------------------------------------------------- the vulnerability service


def audit(project: Path, reports: Path, tmp_path: Path, url: str, **env: str):
    plant_stale_pass(reports, ["pip-audit"])
    return run_scan("pip-audit", project, reports, env=isolated(tmp_path, PIP_AUDIT_OSV_URL=url, **env))


@pytest.mark.parametrize("mode, cause", [(HTTP_500, "500 Server Error"), (GARBAGE, "JSONDecodeError")])
def test_vulnerability_service_answering_garbage_is_an_error(project, reports, tmp_path, mode, cause):
    with OsvServer(mode=mode) as broken:
        run = audit(project, reports, tmp_path, broken.url)
    assert_failed_closed(run, reports, ["pip-audit"], cause)


def test_vulnerability_service_refusing_connections_is_an_error(project, reports, tmp_path):
    with refused_url() as url:
        run = audit(project, reports, tmp_path, url)
    assert_failed_closed(run, reports, ["pip-audit"], "Connection refused")


def test_vulnerability_service_never_accepting_is_an_error(project, reports, tmp_path):
    with blackhole_url() as url:
        run = audit(project, reports, tmp_path, url, PIP_AUDIT_TIMEOUT="1")
    assert_failed_closed(run, reports, ["pip-audit"], "Could not connect")


def test_vulnerability_service_too_slow_to_answer_is_an_error(project, reports, tmp_path):
    with OsvServer(mode=SLOW, delay=5) as slow:
        run = audit(project, reports, tmp_path, slow.url, PIP_AUDIT_TIMEOUT="1")
    assert_failed_closed(run, reports, ["pip-audit"], "Read timed out")


def test_vulnerability_service_slower_than_scan_timeout_is_an_error(project, reports, tmp_path):
    with OsvServer(mode=SLOW, delay=30) as slow:
        run = audit(project, reports, tmp_path, slow.url, SCAN_TIMEOUT="2", PIP_AUDIT_TIMEOUT="60")
    assert_failed_closed(run, reports, ["pip-audit"], "did not finish within SCAN_TIMEOUT=2s")


# --------------------------------------------------------------------------- the trivy DB

OPENSSL = [("libssl3", "openssl", "3.0.14-1~deb12u1")]
DB_VULNERABILITIES = {"CVE-2099-0001": vulnerability("openssl: remote code execution",
                                                     vendor_severity={"debian": "CRITICAL"})}
DB_DEBIAN = {"openssl": {"CVE-2099-0001": debian_fixed("3.0.15-1~deb12u1")}}


def break_db(cache: Path, breakage: str) -> None:
    if breakage == "missing":
        return
    build_trivy_db(cache, DB_VULNERABILITIES, debian=DB_DEBIAN)
    if breakage == "corrupt":
        corrupt_trivy_db(cache)
    elif breakage == "truncated":
        truncate_file(cache / "db" / "trivy.db", keep=0.5)
    elif breakage == "schema-99":
        write_db_metadata(cache, 99)
    elif breakage == "schema-1":
        write_db_metadata(cache, 1)
    elif breakage == "no-metadata":
        (cache / "db" / "metadata.json").unlink()


@pytest.mark.parametrize("breakage, cause", [
    ("missing", "--skip-db-update cannot be specified on the first run"),
    ("corrupt", "invalid database"),
    ("truncated", "signal SIGBUS"),
    ("schema-99", "the version of DB schema doesn't match. Local DB: 99, Expected: 2"),
    ("schema-1", "old DB schema. Local DB: 1, Expected: 2"),
    ("no-metadata", "--skip-db-update cannot be specified on the first run"),
])
def test_unusable_trivy_db_is_an_error(tmp_path, reports, breakage, cause):
    cache = tmp_path / "trivy-cache"
    break_db(cache, breakage)
    image = build_image_tar(tmp_path / "image.tar", OPENSSL)
    (tmp_path / "project").mkdir()
    plant_stale_pass(reports, ["trivy"])
    run = run_scan("trivy", tmp_path / "project", reports, env={
        "IMAGE_TAR": str(image), "TRIVY_CACHE_DIR": str(cache), "TRIVY_SKIP_DB_UPDATE": "true",
        "TRIVY_SKIP_JAVA_DB_UPDATE": "true", "TRIVY_OFFLINE_SCAN": "true", "TRIVY_CACHE_BACKEND": "memory"})
    assert_failed_closed(run, reports, ["trivy"], cause)
    assert "trivy exited" in run.result("trivy")["error"]
