"""GitHub's limits, kept and said out loud: a run with 30,000 findings writes a step summary within GitHub's 1 MiB
and a SARIF run within code scanning's 25,000 results, each saying what it cut, and the annotations' notice no
longer claims the step summary lists every finding.

One real gate run (bandit alone, GITHUB_ACTIONS=true) on a project whose one Python file makes 30,000 MEDIUM
findings over the threshold (eval), 30 HIGH ones after them (shell=True) and 200 LOW ones below the threshold
(assert, and the import of subprocess). The limits are read from jq/lib.jq, where the gate keeps them.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, run_gate
from support.projects import git_commit_all, write_tree

GATE = "security-code"
MEDIUM, HIGH, LOW = 30_000, 30, 201  # LOW: 200 asserts and the import of subprocess (B404)
LIMITS = json.loads(subprocess.run(["jq", "-n", "-c", "-L", str(REPO_ROOT / "jq"), 'include "lib"; github_limits'],
                                   capture_output=True, text=True, check=True).stdout)
SARIF_UPLOAD_BYTES = 10 * 1024 * 1024  # code scanning's limit on the gzipped SARIF file (upload-sarif gzips it)


@pytest.fixture(scope="module")
def big_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    source = "import subprocess\n\n\ndef run(x):\n" + "".join(f"    y{i} = eval(x)\n" for i in range(MEDIUM))
    source += "".join(f"    subprocess.Popen(x, shell=True)  # {i}\n" for i in range(HIGH))
    source += "".join(f"    assert x != {i}\n" for i in range(LOW - 1))
    write_tree(root, {"apps/__init__.py": "", "apps/vendored.py": source, "config/__init__.py": ""})
    git_commit_all(root)
    work = tmp_path_factory.mktemp("reports")
    summary = work / "step-summary.md"
    run = run_gate(GATE, root, work / "reports", scans=("bandit",), timeout=600, env={
        "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "BANDIT_SEVERITY": "medium",
        "SECURITY_CACHE_DIR": str(work / "cache")})
    assert run.rc == 1, run.output
    result = run.result("bandit")
    assert (len(result["findings"]), len(result["below_threshold"])) == (MEDIUM + HIGH, LOW), run.output
    return run, summary


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\| (HIGH|MEDIUM|LOW) \| `B", line)]


def test_the_step_summary_keeps_within_githubs_limit_listing_the_worst_first_and_saying_how_many_more(big_run):
    run, step_summary = big_run
    text = step_summary.read_text()
    assert text == (run.reports / f"{GATE}.md").read_text()
    size = len(text.encode())
    assert LIMITS["step_summary_bytes"] - 2_000 < size <= LIMITS["step_summary_bytes"]  # filled, never over
    assert f"| bandit | ❌ fail | {MEDIUM + HIGH} | {LOW} | 0 |" in text  # every verdict stays

    rows = table_rows(text)
    listed = len(rows)
    assert 1_000 < listed < MEDIUM
    assert all(" | `B602` | " in row for row in rows[:HIGH])  # the worst first, wherever they sit in the file
    assert all(" | `B307` | " in row for row in rows[HIGH:])
    assert not [row for row in rows if row.startswith("| LOW |")]  # below the threshold comes after all of them
    more_findings = MEDIUM + HIGH - listed
    assert (f"*… and {more_findings} more not listed here (GitHub keeps at most {LIMITS['step_summary_bytes']} "
            f"bytes of a step summary): `bandit.json` in the {GATE} artifact lists them all.*") in text
    assert f"*… and {LOW} more not listed here" in text  # the below-threshold list, cut whole, says so too
    assert (f"**Cut to fit GitHub's step summary:** {listed} of {MEDIUM + HIGH + LOW} entries are listed below; "
            f"each scan's result file in the `{GATE}` artifact lists them all.") in text


def test_each_sarif_run_keeps_within_code_scannings_limit_and_says_what_it_left_out(big_run):
    run, step_summary = big_run
    raw = (run.reports / f"{GATE}.sarif").read_bytes()
    sarif = json.loads(raw)
    (bandit,) = sarif["runs"]
    cap = LIMITS["sarif_results_per_run"]
    total = MEDIUM + HIGH + LOW
    results = bandit["results"]
    assert len(results) == cap
    assert sum(r["ruleId"] == "B602" for r in results) == HIGH  # findings over the threshold first, worst first
    assert not [r for r in results if r["properties"]["gate"] == "below_threshold"]
    assert len(bandit["tool"]["driver"]["rules"]) == len({r["ruleId"] for r in results})
    assert all(bandit["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"] for r in results[::997])
    assert bandit["properties"]["results_total"] == total and bandit["properties"]["results_left_out"] == total - cap
    (notice,) = bandit["invocations"][0]["toolExecutionNotifications"]
    assert notice["level"] == "warning" and notice["message"]["text"].startswith(
        f"{total - cap} of {total} results are left out: code scanning accepts {cap} a run")
    assert len(gzip.compress(raw)) < SARIF_UPLOAD_BYTES
    assert (f"**Cut in SARIF:** bandit has {total} results and code scanning accepts {cap} a run: "
            f"`{GATE}.sarif` holds the first {cap} (findings over the threshold first, worst first) and leaves out "
            f"{total - cap}") in step_summary.read_text()


def test_the_annotations_notice_says_the_step_summary_lists_only_part_when_it_was_cut(big_run):
    run, step_summary = big_run
    notices = [line for line in run.stdout.splitlines() if line.startswith("::notice ")]
    listed = len(table_rows(step_summary.read_text()))
    errors = LIMITS["error_annotations"]
    assert len([line for line in run.stdout.splitlines() if line.startswith("::error ")]) == errors
    (notice,) = notices
    assert notice.endswith(
        f"{MEDIUM + HIGH - errors} more finding(s) over the threshold are not annotated here (GitHub shows {errors} "
        f"error annotations a step): the {GATE} artifact lists them all; the step summary, cut to GitHub's size "
        f"limit, lists {listed} of {MEDIUM + HIGH}")
    assert "step summary and the" not in notice


def test_a_step_summary_that_other_steps_filled_gets_a_pointer_to_the_artifact_instead(tmp_path):
    """GitHub drops a step summary over its limit whole: the gate adds its summary only while it fits."""
    root = write_tree(tmp_path / "p", {"apps/__init__.py": "", "apps/a.py": "def f(x):\n    return eval(x)\n",
                                       "config/__init__.py": ""})
    git_commit_all(root)
    summary = tmp_path / "step-summary.md"
    filled = LIMITS["step_summary_bytes"] - 400  # room for a line, not for the summary
    summary.write_bytes(b"x" * filled)
    run = run_gate(GATE, root, tmp_path / "reports", scans=("bandit",), env={
        "GITHUB_STEP_SUMMARY": str(summary), "SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    assert run.rc == 1, run.output
    assert len(summary.read_bytes()) <= LIMITS["step_summary_bytes"]
    added = summary.read_bytes()[filled:].decode()
    assert "`B307`" not in added
    assert added.startswith(f"## Security gate `{GATE}`\n\nThe summary (")
    assert f"it is {GATE}.md in the {GATE} artifact." in added
    assert "`B307`" in (tmp_path / "reports" / f"{GATE}.md").read_text()
