"""Interruption: Ctrl-C (SIGINT) or SIGTERM during a run stops every scanner, leaves no result that says pass and
exits non-zero; two runs at once into one report directory each end with their own, complete results.

The runs in progress are real gate runs whose scanners are slow stand-ins (tests/support/faults.py): each
records its pid, so the test can tell that no scanner outlived the run; every process of a run carries the run's
SECURITY_REPORT_DIR in its environment, so the test can tell that nothing of it is left running either.
"""

from __future__ import annotations

import json
import os
import signal
import shutil
from pathlib import Path

import pytest

from support.faults import (
    SLOW_PASS, clean_project, fake_scanner, finish, pids_alive, plant_stale_pass, processes_of_run,
    recorded_pids, says_pass, stale_files, start_command, start_gate, wait_until, waiting_for_lock,
)
from support.gate import CODE_SCANS, REPO_ROOT, fake_tool, tool_path
from osv_server import SLOW, OsvServer
from support.projects import git_commit_all, write_tree

GATE = "security-code"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return clean_project(tmp_path_factory.mktemp("interruption") / "project")


@pytest.fixture
def slow_scanners(tmp_path: Path) -> Path:
    """Stand-ins for the three code scanners that take SLOW_SECONDS, then pass."""
    folder = tmp_path / "bin"
    for scan in CODE_SCANS:
        fake_scanner(folder, scan, SLOW_PASS)
    return folder


def scanners_running(folder: Path, count: int) -> bool:
    """Whether `count` recorded processes (each stand-in and its sleeping child) are alive."""
    return len(pids_alive(recorded_pids(folder))) >= count


def interrupt(proc, how: str) -> None:
    if how == "SIGTERM to the gate":
        os.kill(proc.pid, signal.SIGTERM)
    elif how == "SIGINT to the gate":
        os.kill(proc.pid, signal.SIGINT)
    else:  # Ctrl-C in a terminal: SIGINT to every process of the foreground process group
        os.killpg(proc.pid, signal.SIGINT)


def assert_stopped_without_a_pass(rc: int, output: str, reports: Path, scanners: Path, expected_rc: int,
                                  scans=CODE_SCANS, gate: str | None = GATE) -> None:
    assert rc == expected_rc, output
    assert wait_until(lambda: processes_of_run(reports) == [], timeout=5), \
        f"processes of the run still alive: {processes_of_run(reports)}"
    assert pids_alive(recorded_pids(scanners)) == []
    assert stale_files(reports) == [] and says_pass(reports, scans, gate) == [], output
    for scan in scans:
        result = json.loads((reports / f"{scan}.json").read_text())
        assert result["status"] == "error" and "interrupted by SIG" in result["error"], result


@pytest.mark.parametrize("how, expected_rc", [
    ("SIGTERM to the gate", 143),
    ("SIGINT to the gate", 130),
    ("Ctrl-C to the process group", 130),
])
def test_interrupted_run_stops_every_scanner_and_leaves_no_pass(project, reports, slow_scanners, tmp_path,
                                                                how, expected_rc):
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    proc = start_gate(GATE, CODE_SCANS, project, reports, path=tool_path(slow_scanners),
                      env={"SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    assert wait_until(lambda: scanners_running(slow_scanners, 2 * len(CODE_SCANS))), finish(proc, 5)
    interrupt(proc, how)
    rc, output = finish(proc, timeout=20)
    assert f"interrupted by {'SIGTERM' if expected_rc == 143 else 'SIGINT'}" in output
    assert_stopped_without_a_pass(rc, output, reports, slow_scanners, expected_rc)
    assert not (reports / f"{GATE}.md").exists() and not (reports / f"{GATE}.sarif").exists()


def test_sigterm_to_a_scan_run_alone_stops_its_tool(project, reports, tmp_path):
    scanners = tmp_path / "bin"
    fake_scanner(scanners, "bandit", SLOW_PASS)
    plant_stale_pass(reports, ["bandit"])
    proc = start_command([str(REPO_ROOT / "scans" / "bandit" / "run.sh")], project, reports,
                         path=tool_path(scanners), env={"SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    assert wait_until(lambda: scanners_running(scanners, 2)), finish(proc, 5)
    os.kill(proc.pid, signal.SIGTERM)
    rc, output = finish(proc, timeout=20)
    assert "interrupted by SIGTERM" in output
    assert_stopped_without_a_pass(rc, output, reports, scanners, 143, scans=["bandit"], gate=None)


def test_ctrl_c_on_make_stops_the_run(project, reports, tmp_path):
    """`make security-code` in a terminal, then Ctrl-C while pip-audit waits for a slow vulnerability service:
    make and the gate both stop, with the real scanners, and nothing says pass."""
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    with OsvServer(mode=SLOW, delay=30) as slow:
        proc = start_command(
            ["make", "--no-print-directory", "security-code", f"PROJECT_DIR={project}",
             f"SECURITY_REPORT_DIR={reports}"],
            project, reports, cwd=REPO_ROOT,
            env={"SECURITY_CACHE_DIR": str(tmp_path / "cache"), "PIP_AUDIT_OSV_URL": slow.url,
                 "PIP_AUDIT_TIMEOUT": "60"})
        assert wait_until(lambda: slow.queries), finish(proc, 5)
        os.killpg(proc.pid, signal.SIGINT)
        rc, output = finish(proc, timeout=20)
    assert rc != 0, output
    assert "interrupted by SIGINT" in output
    assert wait_until(lambda: processes_of_run(reports) == [], timeout=5), processes_of_run(reports)
    assert stale_files(reports) == [] and says_pass(reports, CODE_SCANS, GATE) == [], output
    for scan in CODE_SCANS:  # finished or not when the signal came, no scan of this run says pass
        assert "interrupted by SIG" in json.loads((reports / f"{scan}.json").read_text())["error"]


def test_two_runs_into_one_report_directory_keep_their_own_results(tmp_path, reports):
    """Run A (slow, a finding) holds the report directory; run B (clean) waits for it, then writes its own."""
    scans = ("bandit", "detect-secrets")
    dangerous = clean_project(tmp_path / "a", commit=False)
    write_tree(dangerous, {"apps/core/calc.py": "def calc(expr):\n    return eval(expr)\n"})
    git_commit_all(dangerous)
    clean = clean_project(tmp_path / "b")
    real_bandit = shutil.which("bandit", path=tool_path())
    started, release = tmp_path / "a-started", tmp_path / "a-may-go-on"
    # Run A's bandit holds A in the middle of its run until the test lets it go on.
    held = fake_tool(tmp_path / "held", "bandit", f"""
[[ "${{1:-}}" == --version ]] || {{ touch {started}; for _ in $(seq 300); do [[ -e {release} ]] && break; sleep 0.1; done; }}
exec {real_bandit} "$@"
""")
    summary_a, summary_b = tmp_path / "summary-a.md", tmp_path / "summary-b.md"
    run_a = start_gate(GATE, scans, dangerous, reports, path=tool_path(held),
                       env={"GITHUB_STEP_SUMMARY": str(summary_a), "SECURITY_CACHE_DIR": str(tmp_path / "cache-a")})
    assert wait_until(started.exists), finish(run_a, 5)
    run_b = start_gate(GATE, scans, clean, reports, path=tool_path(),
                       env={"GITHUB_STEP_SUMMARY": str(summary_b), "SECURITY_CACHE_DIR": str(tmp_path / "cache-b")})
    assert wait_until(lambda: waiting_for_lock(reports)), finish(run_b, 5)
    assert json.loads((reports / "bandit.json").read_text())["target"] == str(dangerous)  # B waits, writes nothing
    release.touch()
    rc_a, output_a = finish(run_a)
    rc_b, output_b = finish(run_b)

    assert rc_a == 1 and "bandit: FAIL" in output_a and "B307" in output_a, output_a
    assert "B307" in summary_a.read_text() and "❌ fail" in summary_a.read_text()
    assert rc_b == 0, output_b
    assert "another run is writing to" in output_b and "waiting for it to finish" in output_b
    assert "B307" not in summary_b.read_text() and "✅ pass" in summary_b.read_text()
    # What the directory holds now is all run B's, and agrees with itself.
    for scan in scans:
        result = json.loads((reports / f"{scan}.json").read_text())
        assert result["target"] == str(clean) and result["status"] == "pass", result
    assert (reports / f"{GATE}.md").read_text() == summary_b.read_text()
    sarif = json.loads((reports / f"{GATE}.sarif").read_text())
    assert [run["tool"]["driver"]["name"] for run in sarif["runs"]] == list(scans)
    assert all(run["results"] == [] for run in sarif["runs"])
