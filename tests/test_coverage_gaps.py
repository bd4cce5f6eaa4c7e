"""Coverage gaps: what a tool left out is an error naming it, unless the reviewed suppression file accepts it.

A small scan script sources the gate's common life cycle and records gaps, exclusions and coverage the way a scan
does (scan_gap, scan_excluded, scan_coverage); the real gate.jq, report.jq and summary.jq turn them into the result.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.gate import REPO_ROOT, gate_env

SCAN = """#!/usr/bin/env bash
set -euo pipefail
source "{common}"
scan_begin bandit "$PROJECT_DIR"
scan_policy HIGH
scan_gap not-scanned:apps/views.py "apps/views.py was not scanned by bandit (it could not parse it)"
scan_gap not-auditable:vendored "vendored 1.0 comes from a path; no vulnerability service can audit it"
scan_excluded tests/test_views.py "exclude_dirs: tests"
scan_coverage 3 1
printf '[]\\n' >"$SCAN_WORK/findings.json"
scan_finish "$SCAN_WORK/findings.json"
"""


def run_scan_with_gaps(tmp_path: Path, suppressions: list[dict] | None) -> tuple[int, str, dict, str]:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    if suppressions is not None:
        (project / ".security-suppressions.json").write_text(json.dumps({"suppressions": suppressions}))
    script = tmp_path / "scan.sh"
    script.write_text(SCAN.format(common=REPO_ROOT / "scripts" / "lib" / "common.sh"))
    script.chmod(0o755)
    reports = tmp_path / "reports"
    proc = subprocess.run([str(script)], env=gate_env(project, reports), capture_output=True, text=True,
                          timeout=60, check=False)
    result = json.loads((reports / "bandit.json").read_text())
    summary = subprocess.run(["jq", "-r", "-s", "-L", str(REPO_ROOT / "jq"), "--arg", "gate", "g", "-f",
                              str(REPO_ROOT / "jq" / "summary.jq"), str(reports / "bandit.json")],
                             capture_output=True, text=True, check=True).stdout
    return proc.returncode, proc.stdout + proc.stderr, result, summary


def accept(gap_id: str, expires: str = "2999-01-01") -> dict:
    return {"scan": "bandit", "id": gap_id, "reason": "reviewed", "expires": expires}


def test_a_gap_nobody_accepted_is_an_error_naming_what_was_left_out(tmp_path):
    rc, output, result, summary = run_scan_with_gaps(tmp_path, None)
    assert rc == 2
    assert result["status"] == "error"
    assert "apps/views.py was not scanned" in result["error"]
    assert "vendored 1.0 comes from a path" in result["error"]
    assert {g["id"] for g in result["coverage_gaps"]} == {"not-scanned:apps/views.py", "not-auditable:vendored"}
    assert "NOT COVERED\tnot-scanned:apps/views.py" in output
    assert "`not-scanned:apps/views.py`" in summary


def test_an_accepted_gap_is_listed_with_its_reason_and_the_others_still_error(tmp_path):
    rc, _, result, summary = run_scan_with_gaps(tmp_path, [accept("not-auditable:vendored")])
    assert rc == 2
    assert [g["id"] for g in result["coverage_gaps"]] == ["not-scanned:apps/views.py"]
    assert result["accepted_gaps"][0]["id"] == "not-auditable:vendored"
    assert result["accepted_gaps"][0]["suppression"] == {"reason": "reviewed", "expires": "2999-01-01"}
    assert "vendored" not in result["error"]
    assert "accepted in the suppression file" in summary


def test_every_gap_accepted_passes_and_lists_exclusions_and_coverage(tmp_path):
    rc, output, result, summary = run_scan_with_gaps(
        tmp_path, [accept("not-auditable:vendored"), accept("not-scanned:apps/views.py")])
    assert rc == 0, output
    assert result["status"] == "pass"
    assert result["counts"]["accepted_gaps"] == 2 and result["counts"]["coverage_gaps"] == 0
    assert result["excluded"] == [{"item": "tests/test_views.py", "rule": "exclude_dirs: tests"}]
    assert result["coverage"] == {"inventory": 3, "scanned": 1}
    assert "Excluded by rule: 1" in summary
    assert "1 of 3 scanned" in output


def test_an_expired_acceptance_no_longer_covers_the_gap(tmp_path):
    rc, _, result, _ = run_scan_with_gaps(
        tmp_path, [accept("not-auditable:vendored", "2000-01-01"), accept("not-scanned:apps/views.py")])
    assert rc == 2
    assert [g["id"] for g in result["coverage_gaps"]] == ["not-auditable:vendored"]
    assert [e["id"] for e in result["expired_suppressions"]] == ["not-auditable:vendored"]
