"""The verdict: SECURITY_REPORT_DIR/<gate>.verdict.json says how a gate run ended, whatever ended it.

A run that completes writes it last, matching its exit status; every other way out (a temporary folder, a lock
or a report folder that cannot be had, a crash) leaves an "error" verdict and nothing else that says pass; a
scan run on its own turns the verdicts it contradicts into errors. make's own exit status is 0 or 2, and
scripts/verdict.sh gives back 0, 1 or 2 from the verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from support.faults import (
    PASS, WRONG_SHAPE, accepting_stand_ins, clean_project, fake_scanner, plant_stale_pass, recorded_pids, says_pass,
    stale_files,
)
from support.gate import CODE_SCANS, REPO_ROOT, gate_copy, gate_env, run_gate, run_scan, tool_path

GATE = "security-code"
DANGER = {"apps/core/danger.py": "def run(data):\n    return eval(data)\n"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return clean_project(tmp_path_factory.mktemp("verdict") / "project")


@pytest.fixture(scope="module")
def dangerous_project(tmp_path_factory) -> Path:
    root = clean_project(tmp_path_factory.mktemp("verdict") / "dangerous", commit=False)
    for name, text in DANGER.items():
        (root / name).write_text(text)
    return clean_project(root)


@pytest.fixture
def passing(tmp_path: Path) -> Path:
    """Stand-ins for the three code scanners that pass at once."""
    for scan in CODE_SCANS:
        fake_scanner(tmp_path / "bin", scan, PASS)
    return tmp_path / "bin"


def verdict(reports: Path, gate: str = GATE) -> dict:
    return json.loads((reports / f"{gate}.verdict.json").read_text())


def isolated(tmp_path: Path, **env: str) -> dict[str, str]:
    return {"SECURITY_CACHE_DIR": str(tmp_path / "cache"), **accepting_stand_ins(tmp_path), **env}


def read_verdict(reports: Path, gate: str = GATE) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO_ROOT / "scripts" / "verdict.sh"), gate], capture_output=True, text=True,
                          env=gate_env(REPO_ROOT, reports), check=False, timeout=60)


def assert_error_everywhere(run, reports: Path, cause: str) -> None:
    """rc 2; the verdict and each scan's result are errors naming cause; no summary; nothing stale says pass."""
    assert run.rc == 2, run.output
    assert cause in run.output
    found = verdict(reports)
    assert (found["verdict"], found["exit_code"]) == ("error", 2), found
    assert cause in found["error"]
    assert [scan["status"] for scan in found["scans"]] == ["error"] * len(CODE_SCANS)
    for scan in CODE_SCANS:
        assert run.result(scan)["status"] == "error" and cause in run.result(scan)["error"], run.result(scan)
    assert not (reports / f"{GATE}.md").exists() and not (reports / f"{GATE}.sarif").exists()
    assert stale_files(reports) == [] and says_pass(reports, CODE_SCANS, GATE) == [], run.output


# --------------------------------------------------------------------------- what a completed run writes


def test_a_passing_run_writes_a_pass_verdict_that_points_at_its_details(project, reports, tmp_path, passing):
    run = run_gate(GATE, project, reports, path=tool_path(passing), env=isolated(tmp_path))

    assert run.rc == 0, run.output
    found = verdict(reports)
    assert found.pop("finished_at").endswith("Z")
    assert found["counts"]["findings"] == 0 and found["counts"]["suppressed"] == 0
    assert found == {
        "schema_version": 1, "gate": GATE, "verdict": "pass", "exit_code": 0, "error": None,
        "scans": [{"scan": scan, "status": "pass", "error": None, "result": f"{scan}.json",
                   "counts": run.result(scan)["counts"]} for scan in CODE_SCANS],
        "counts": {key: sum(run.result(scan)["counts"][key] for scan in CODE_SCANS)
                   for key in run.result("bandit")["counts"]},
        "reports": {"summary": f"{GATE}.md", "sarif": f"{GATE}.sarif"},
    }
    assert all((reports / name).is_file() for name in found["reports"].values())
    assert read_verdict(reports).returncode == 0


def test_findings_give_a_fail_verdict_with_their_counts(dangerous_project, reports, tmp_path):
    run = run_gate(GATE, dangerous_project, reports, scans=("bandit",), env=isolated(tmp_path))

    assert run.rc == 1, run.output
    found = verdict(reports)
    assert (found["verdict"], found["exit_code"], found["error"]) == ("fail", 1, None)
    assert found["scans"][0]["status"] == "fail"
    assert found["counts"]["findings"] == run.result("bandit")["counts"]["findings"] >= 1
    shown = read_verdict(reports)
    assert shown.returncode == 1 and shown.stdout.startswith("security-code: fail (exit 1)"), shown.stdout


def test_a_scan_that_breaks_gives_an_error_verdict_naming_it(project, reports, tmp_path, passing):
    fake_scanner(passing, "bandit", WRONG_SHAPE)
    run = run_gate(GATE, project, reports, path=tool_path(passing), env=isolated(tmp_path))

    assert run.rc == 2, run.output
    found = verdict(reports)
    assert (found["verdict"], found["exit_code"]) == ("error", 2)
    (bandit,) = [scan for scan in found["scans"] if scan["scan"] == "bandit"]
    assert bandit["status"] == "error" and "unexpected shape" in bandit["error"]
    assert read_verdict(reports).returncode == 2


# --------------------------------------------------------------------------- failures before the scans start


def test_a_temporary_folder_that_does_not_exist_is_an_error_with_no_pass_left(project, reports, tmp_path, passing):
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    missing = tmp_path / "no-such-folder"
    run = run_gate(GATE, project, reports, path=tool_path(passing), env=isolated(tmp_path, TMPDIR=str(missing)))

    assert_error_everywhere(run, reports, f"cannot create a temporary folder in {missing} (TMPDIR)")
    assert recorded_pids(passing) == []


def test_a_lock_file_that_is_a_directory_is_an_error_with_no_pass_left(project, reports, tmp_path, passing):
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    (reports / ".lock").mkdir()
    run = run_gate(GATE, project, reports, path=tool_path(passing), env=isolated(tmp_path))

    assert_error_everywhere(run, reports, f"cannot open the lock file {reports}/.lock")
    assert recorded_pids(passing) == []


def test_a_project_folder_that_does_not_exist_is_an_error_with_no_pass_left(reports, tmp_path, passing):
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    missing = tmp_path / "no-such-project"
    run = run_gate(GATE, missing, reports, path=tool_path(passing), env=isolated(tmp_path))

    assert_error_everywhere(run, reports, f"PROJECT_DIR {missing} is not a directory")
    assert recorded_pids(passing) == []
    plant_stale_pass(reports, ["bandit"])
    alone = run_scan("bandit", missing, reports, path=tool_path(passing), env=isolated(tmp_path))
    assert alone.rc == 2 and "is not a directory" in alone.result("bandit")["error"], alone.output
    assert stale_files(reports) == [] and says_pass(reports, ["bandit"]) == []


def test_a_scan_run_alone_with_a_missing_temporary_folder_is_an_error(project, reports, tmp_path, passing):
    plant_stale_pass(reports, ["bandit"])
    missing = tmp_path / "no-such-folder"
    run = run_scan("bandit", project, reports, path=tool_path(passing), env=isolated(tmp_path, TMPDIR=str(missing)))

    assert run.rc == 2, run.output
    assert f"cannot create a temporary folder in {missing}" in run.result("bandit")["error"]
    assert stale_files(reports) == [] and says_pass(reports, ["bandit"]) == []


NOBODY = 65534


def as_non_root(command: list[str]) -> list[str]:
    """command, run as nobody when the tests run as root (root may write to a read-only directory)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]


def test_a_read_only_report_folder_is_an_error_and_its_files_are_marked_in_place():
    """The folder cannot be written, its files can: each is overwritten with an error (or emptied) in place."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        root.chmod(0o755)  # nobody must reach it
        reports = root / "reports"
        plant_stale_pass(reports, CODE_SCANS, gate=GATE)
        if os.geteuid() == 0:
            for path in [reports, *reports.iterdir()]:
                os.chown(path, NOBODY, NOBODY)
        reports.chmod(0o555)
        # nobody runs a copy of the gate's own files: the checkout may sit in a folder only root can enter.
        gate = gate_copy(root / "gate")
        completed = subprocess.run(
            as_non_root([str(gate / "scripts" / "run-gate.sh"), GATE, *CODE_SCANS]),
            env=gate_env(root, reports), capture_output=True, text=True, check=False, timeout=60)
        reports.chmod(0o755)

        assert completed.returncode == 2, completed.stdout + completed.stderr
        assert f"the report directory {reports} is not writable" in completed.stderr
        found = verdict(reports)
        assert found["verdict"] == "error" and "is not writable" in found["error"]
        assert (reports / f"{GATE}.md").read_text() == ""
        assert stale_files(reports) == [] and says_pass(reports, CODE_SCANS, GATE) == []


def test_a_crash_of_the_gate_itself_is_an_error_verdict(project, reports, tmp_path, passing):
    """A command of run-gate.sh that fails under set -e (here: cat, on the scans' logs) ends the run as an error."""
    cat = passing / "cat"
    cat.write_text('#!/usr/bin/env bash\n[[ "${1:-}" == */bandit.log ]] && exit 1\nexec /bin/cat "$@"\n')
    cat.chmod(0o755)
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    run = run_gate(GATE, project, reports, path=tool_path(passing), env=isolated(tmp_path))

    assert run.rc == 2, run.output
    assert "the security-code run stopped unexpectedly (exit 1) before its verdict" in run.output
    assert verdict(reports)["verdict"] == "error"
    assert not (reports / f"{GATE}.md").exists()
    assert stale_files(reports) == [] and says_pass(reports, CODE_SCANS, GATE) == [], run.output


# --------------------------------------------------------------------------- a scan run on its own


def test_a_scan_run_alone_turns_its_gates_verdict_into_an_error_and_removes_the_summaries(
        project, reports, tmp_path, passing):
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    plant_stale_pass(reports, ["trivy"], gate="security-docker")
    run = run_scan("bandit", project, reports, path=tool_path(passing), env=isolated(tmp_path))

    assert run.rc == 0 and run.result("bandit")["status"] == "pass", run.output
    found = verdict(reports)
    assert found["verdict"] == "error" and "the bandit scan was run on its own" in found["error"]
    assert not (reports / f"{GATE}.md").exists() and not (reports / f"{GATE}.sarif").exists()
    assert read_verdict(reports).returncode == 2
    # the other gate did not run bandit: its verdict stands
    assert verdict(reports, "security-docker")["verdict"] == "pass"
    assert (reports / "security-docker.md").exists()


def test_a_scan_run_alone_invalidates_a_gate_whose_verdict_it_cannot_read(project, reports, tmp_path, passing):
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    (reports / f"{GATE}.verdict.json").write_text('{"verdict": "pass", "scans": [')
    run = run_scan("bandit", project, reports, path=tool_path(passing), env=isolated(tmp_path))

    assert run.rc == 0, run.output
    assert verdict(reports)["verdict"] == "error"
    assert not (reports / f"{GATE}.md").exists() and not (reports / f"{GATE}.sarif").exists()


def test_a_scan_run_by_the_gate_leaves_the_gates_files_to_it(project, reports, tmp_path, passing):
    """Harmless: the gate's own scans do not mark its new verdict as contradicted."""
    run = run_gate(GATE, project, reports, path=tool_path(passing), env=isolated(tmp_path))
    assert run.rc == 0 and verdict(reports)["verdict"] == "pass", run.output


# --------------------------------------------------------------------------- make and scripts/verdict.sh


def make(target: str, project: Path, reports: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-C", str(REPO_ROOT), target], capture_output=True, text=True,
                          env=gate_env(project, reports, env), check=False, timeout=300)


def test_make_exits_2_for_findings_and_errors_and_the_verdict_tells_them_apart(
        dangerous_project, project, reports, tmp_path, osv, passing):
    findings = make(GATE, dangerous_project, reports, isolated(tmp_path, PIP_AUDIT_OSV_URL=osv.url))
    assert findings.returncode == 2, findings.stdout + findings.stderr
    assert (verdict(reports)["verdict"], read_verdict(reports).returncode) == ("fail", 1)

    fake_scanner(passing, "bandit", WRONG_SHAPE)
    broken = make(GATE, project, reports, isolated(tmp_path, PATH=tool_path(passing)))
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert (verdict(reports)["verdict"], read_verdict(reports).returncode) == ("error", 2)


def test_make_marks_the_verdict_before_setup_so_a_failed_setup_leaves_no_pass(reports, tmp_path):
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    completed = subprocess.run(["make", "-s", "-C", str(REPO_ROOT), "-n", GATE], capture_output=True, text=True,
                               env=gate_env(REPO_ROOT, reports), check=False, timeout=60)
    recipe = completed.stdout.splitlines()
    assert completed.returncode == 0, completed.stderr
    assert recipe[0] == "scripts/verdict.sh --forget security-code", recipe
    assert recipe[-1].startswith("scripts/run-gate.sh security-code"), recipe
    subprocess.run(recipe[0].split(), cwd=REPO_ROOT, env=gate_env(REPO_ROOT, reports), check=True, timeout=60)
    assert verdict(reports)["verdict"] == "error" and read_verdict(reports).returncode == 2


@pytest.mark.parametrize("text", ["", "{", '{"verdict": "pass"}', '{"verdict": "pass", "exit_code": 1}',
                                  '{"verdict": "maybe", "exit_code": 0}'])
def test_verdict_sh_calls_a_missing_or_malformed_verdict_an_error(reports, text):
    reports.mkdir(parents=True)
    if text:
        (reports / f"{GATE}.verdict.json").write_text(text)
    shown = read_verdict(reports)
    assert shown.returncode == 2, shown.stdout
    assert "no readable verdict" in shown.stdout


@pytest.mark.parametrize("text, code, written", [
    ('{"verdict": "pass", "exit_code": 0, "gate": "g", "error": null}', 0, "pass"),
    ('{"verdict": "fail", "exit_code": 1, "gate": "g", "error": null}', 1, "fail"),
    ('{"verdict": "error", "exit_code": 2, "gate": "g", "error": "x"}', 2, "error"),
    ("{", 2, "error"),
])
def test_verdict_sh_in_github_actions_sets_the_step_output(reports, tmp_path, text, code, written):
    reports.mkdir(parents=True)
    (reports / f"{GATE}.verdict.json").write_text(text)
    output = tmp_path / "github-output"
    shown = subprocess.run([str(REPO_ROOT / "scripts" / "verdict.sh"), GATE], capture_output=True, text=True,
                           env=gate_env(REPO_ROOT, reports, {"GITHUB_OUTPUT": str(output)}), check=False, timeout=60)
    assert shown.returncode == code, shown.stdout + shown.stderr
    assert output.read_text() == f"verdict={written}\n"
