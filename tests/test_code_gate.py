"""`make security-code` end to end: the real pip-audit, bandit and detect-secrets on fixture trees.

pip-audit talks real HTTP to a small OSV-API server on 127.0.0.1 (scripts/lib/osv_server.py).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import subprocess
from pathlib import Path

import pytest

from support.gate import CODE_SCANS, REPO_ROOT, VENV_BIN, fake_tool, path_without, run_gate, run_scan, tool_path
from osv_server import FAIL_PACKAGE, GARBAGE, HTTP_500, OsvServer, refused_url
from support.projects import copy_repo_lock, git_commit_all, write_tree, write_uv_project

# Planted secrets, built at run time so that this file holds none of them whole.
AWS_KEY = "AKIA" + "QYLPMN5HFIQR7XYZ"
GITHUB_TOKEN = "ghp_" + "k3Jd8sLq0ZrT5mWn2XyB7vC4pQ9eF1gH6aUo"
PRIVATE_KEY = (
    "-----BEGIN RSA " + "PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2PZC5BUOtNBXq5lRxmA2bQ2vyJ7e\n"
    "-----END RSA " + "PRIVATE KEY-----\n"
)
PASSWORD = "Sup3r-s3cret-" + "passw0rd"

CLEAN_FILES = {
    ".gitignore": "reports/\n*.log\n",
    ".env.sample": "SECRET_KEY=change-me\nALLOWED_HOSTS=localhost\n",
    "manage.py": "import os\nimport sys\n",
    "apps/__init__.py": "",
    "apps/core/__init__.py": "",
    "apps/core/views.py": (
        "from django.http import JsonResponse\n\n\n"
        "def health(request):\n    return JsonResponse({'status': 'ok'})\n"
    ),
    "config/__init__.py": "",
    "config/settings.py": "import os\n\nSECRET_KEY = os.environ['SECRET_KEY']\nDEBUG = False\n",
}


def make_project(root: Path, extra: dict[str, str] | None = None, *, commit: bool = True) -> Path:
    write_tree(root, {**CLEAN_FILES, **(extra or {})})
    copy_repo_lock(root)
    if commit:
        git_commit_all(root)
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def gate(project: Path, reports: Path, osv: OsvServer, **kwargs):
    env = {"PIP_AUDIT_OSV_URL": osv.url, **kwargs.pop("env", {})}
    return run_gate("security-code", project, reports, env=env, **kwargs)


def test_clean_project_passes_every_code_scan(project, reports, osv):
    run = gate(project, reports, osv)
    assert run.rc == 0, run.output
    for scan in CODE_SCANS:
        result = run.result(scan)
        assert result["status"] == "pass" and result["error"] is None and result["findings"] == []
        assert f"{scan}: PASS" in run.stdout
    assert (reports / "security-code.md").read_text().startswith("## Security gate `security-code`: ✅ pass")
    assert "django" in osv.queried_packages  # the lock's dependencies were really audited


def test_planted_python_problems_fail_bandit_with_their_ids(tmp_path, reports, osv):
    project = make_project(tmp_path / "p", {
        "apps/core/danger.py": (
            "import hashlib\nimport subprocess\n\n\n"
            "def run(cmd, data):\n"
            "    subprocess.call(cmd, shell=True)\n"
            "    hashlib.md5(data).hexdigest()\n"
            "    return eval(data)\n\n\n"
            f"password = '{PASSWORD}'\n"
            f"connect(user='x', password='{PASSWORD}')\n"
        ),
    })
    run = gate(project, reports, osv)
    assert run.rc == 1, run.output
    result = run.result("bandit")
    assert result["status"] == "fail"
    found = {(f["id"], f["location"]["path"], f["location"]["line"]) for f in result["findings"]}
    assert {("B602", "apps/core/danger.py", 6), ("B324", "apps/core/danger.py", 7),
            ("B307", "apps/core/danger.py", 8), ("B105", "apps/core/danger.py", 11),
            ("B106", "apps/core/danger.py", 12)} <= found
    for test_id in ("B602", "B324", "B307", "B105", "B106"):
        assert test_id in run.stdout
    assert run.result("pip-audit")["status"] == "pass"  # the other scans ran and judged on their own
    assert PASSWORD not in run.output and PASSWORD not in run.everything_written()


def test_planted_secrets_fail_naming_file_line_and_type_never_the_value(tmp_path, reports, osv):
    project = make_project(tmp_path / "p", {
        "config/keys.py": f"AWS_ACCESS_KEY_ID = '{AWS_KEY}'\n",
        "deploy/id_rsa": PRIVATE_KEY,
        "scripts/release.sh": f"#!/bin/sh\nTOKEN={GITHUB_TOKEN}\n",
    })
    run = gate(project, reports, osv)
    assert run.rc == 1, run.output
    result = run.result("detect-secrets")
    assert result["status"] == "fail"
    found = {(f["id"], f["location"]["path"], f["location"]["line"]) for f in result["findings"]}
    assert ("AWS Access Key", "config/keys.py", 1) in found
    assert ("Private Key", "deploy/id_rsa", 1) in found
    assert ("GitHub Token", "scripts/release.sh", 2) in found
    assert "config/keys.py:1" in run.stdout and "AWS Access Key" in run.stdout
    written = run.everything_written()
    for value in (AWS_KEY, GITHUB_TOKEN, PRIVATE_KEY.splitlines()[1]):
        assert value not in run.output and value not in written


def test_secrets_in_env_sample_and_uv_lock_are_not_findings(tmp_path, reports, osv):
    project = make_project(tmp_path / "p", commit=False)
    with (project / ".env.sample").open("a") as sample:
        sample.write(f"AWS_ACCESS_KEY_ID={AWS_KEY}\nGITHUB_TOKEN={GITHUB_TOKEN}\n")
    with (project / "uv.lock").open("a") as lock:
        lock.write(f"# {AWS_KEY} {GITHUB_TOKEN}\n")
    git_commit_all(project)
    run = gate(project, reports, osv)
    assert run.result("detect-secrets")["status"] == "pass", run.output
    assert run.rc == 0, run.output


def test_untracked_files_are_scanned_unless_git_ignores_them(project, reports, osv):
    write_tree(project, {"notes.txt": f"key {AWS_KEY}\n", "debug.log": f"token {GITHUB_TOKEN}\n"})
    run = gate(project, reports, osv)
    paths = {f["location"]["path"] for f in run.result("detect-secrets")["findings"]}
    assert paths == {"notes.txt"}, run.output


def test_pragma_allowlist_secret_keeps_working(tmp_path, reports, osv):
    project = make_project(tmp_path / "p", {
        "config/keys.py": f"EXAMPLE_KEY = '{AWS_KEY}'  # pragma: allowlist secret\n",
    })
    run = gate(project, reports, osv)
    assert run.result("detect-secrets")["status"] == "pass", run.output


def audited_baseline(project: Path, *files: str, is_secret: bool = False) -> dict:
    """`detect-secrets scan FILES` as a baseline, each entry audited (is_secret) as `detect-secrets audit` marks it;
    written to the project's .secrets.baseline."""
    baseline = json.loads(subprocess.run([str(VENV_BIN / "detect-secrets"), "scan", *files], cwd=project,
                                         capture_output=True, text=True, check=True).stdout)
    for entries in baseline["results"].values():
        for entry in entries:
            entry["is_secret"] = is_secret
    (project / ".secrets.baseline").write_text(json.dumps(baseline, indent=2))
    return baseline


def test_baseline_false_positive_passes_and_audited_true_secret_fails(tmp_path, reports, osv):
    project = make_project(tmp_path / "p", {"config/keys.py": f"EXAMPLE_KEY = '{AWS_KEY}'\n"}, commit=False)
    baseline = json.dumps(audited_baseline(project, "config/keys.py"))
    git_commit_all(project)
    run = gate(project, reports, osv)
    result = run.result("detect-secrets")
    assert result["status"] == "pass", run.output
    assert [f["id"] for f in result["suppressed"]] == ["AWS Access Key"]

    audited = json.loads(baseline)
    audited["results"]["config/keys.py"][0]["is_secret"] = True
    (project / ".secrets.baseline").write_text(json.dumps(audited))
    run = gate(project, reports, osv)
    result = run.result("detect-secrets")
    assert result["status"] == "fail"
    assert [f["id"] for f in result["findings"]] == ["AWS Access Key"]
    assert "true secret" in result["findings"][0]["title"]


def test_new_secret_beside_a_baselined_one_fails(tmp_path, reports, osv):
    project = make_project(tmp_path / "p", {"config/keys.py": f"EXAMPLE_KEY = '{AWS_KEY}'\n"}, commit=False)
    audited_baseline(project, "config/keys.py")
    write_tree(project, {"config/more.py": f"TOKEN = '{GITHUB_TOKEN}'\n"})
    git_commit_all(project)
    run = gate(project, reports, osv)
    result = run.result("detect-secrets")
    assert result["status"] == "fail"
    assert {f["location"]["path"] for f in result["findings"]} == {"config/more.py"}


def test_nosec_with_a_test_id_silences_only_that_test(tmp_path, reports, osv):
    project = make_project(tmp_path / "p", {
        "apps/core/calc.py": (
            "import hashlib\n\n\n"
            "def digest(data):\n"
            "    return hashlib.md5(data).hexdigest()  # nosec B324\n\n\n"
            "def calc(expr):\n"
            "    return eval(expr)  # nosec B602\n"
        ),
    })
    run = gate(project, reports, osv)
    ids = {(f["id"], f["location"]["line"]) for f in run.result("bandit")["findings"]}
    assert ("B324", 5) not in ids
    assert ("B307", 9) in ids, run.output  # a nosec for another test does not hide eval


def test_pinned_vulnerable_dependency_fails_naming_advisory_and_fix(tmp_path, reports, osv):
    project = write_tree(tmp_path / "p", CLEAN_FILES)
    write_uv_project(project, [("django", "4.2.0"), ("gunicorn", "23.0.0")])
    git_commit_all(project)
    run = gate(project, reports, osv)
    assert run.rc == 1, run.output
    result = run.result("pip-audit")
    assert result["status"] == "fail"
    [finding] = result["findings"]  # the withdrawn advisory is not one
    assert "GHSA-fx7q-2m9c-h4rv" in [finding["id"], *finding["aliases"]]
    assert finding["package"] == {"name": "django", "version": "4.2.0"}
    assert "4.2.1" in finding["fix"].split(", ")
    assert finding["location"]["path"] == "uv.lock"
    assert "GHSA-fx7q-2m9c-h4rv" in run.stdout


def test_requirements_files_are_audited_instead_of_uv_lock(tmp_path, reports, osv):
    project = write_tree(tmp_path / "p", {**CLEAN_FILES, "requirements.txt": "django==4.2.0\nrequests==2.31.0\n"})
    git_commit_all(project)
    run = gate(project, reports, osv, env={"PIP_AUDIT_REQUIREMENTS": "requirements.txt"})
    result = run.result("pip-audit")
    assert result["status"] == "fail", run.output
    assert {f["package"]["name"] for f in result["findings"]} == {"django", "requests"}
    assert {f["location"]["path"] for f in result["findings"]} == {"requirements.txt"}


@pytest.mark.parametrize("mode", [HTTP_500, GARBAGE])
def test_vulnerability_service_failing_is_an_error_never_a_pass(project, reports, mode):
    with OsvServer(mode=mode) as broken:
        run = run_gate("security-code", project, reports, env={"PIP_AUDIT_OSV_URL": broken.url})
    result = run.result("pip-audit")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "pip-audit" in result["error"]
    assert run.result("bandit")["status"] == "pass"  # every scan still ran


def test_vulnerability_service_unreachable_is_an_error(project, reports):
    with refused_url() as url:
        run = run_gate("security-code", project, reports, env={"PIP_AUDIT_OSV_URL": url})
    result = run.result("pip-audit")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "pip-audit ERROR" in run.stdout.replace(":", "") or "pip-audit: ERROR" in run.stdout


def test_dependency_the_service_cannot_answer_for_is_an_error(project, reports):
    with OsvServer(mode=FAIL_PACKAGE, failing_package="sqlparse", failing_status=404) as partial:
        run = run_gate("security-code", project, reports, env={"PIP_AUDIT_OSV_URL": partial.url})
    result = run.result("pip-audit")
    assert run.rc == 2 and result["status"] == "error", run.output


def test_missing_uv_lock_is_an_error_that_says_so(tmp_path, reports, osv):
    project = write_tree(tmp_path / "p", CLEAN_FILES)
    git_commit_all(project)
    run = gate(project, reports, osv)
    result = run.result("pip-audit")
    assert run.rc == 2 and result["status"] == "error"
    assert "uv.lock" in result["error"]


@pytest.mark.parametrize("tool", CODE_SCANS)
def test_tool_missing_from_path_is_an_error_and_the_other_scans_still_run(project, reports, osv, tmp_path, tool):
    run = gate(project, reports, osv, path=path_without(tmp_path / "bin", tool))
    assert run.rc == 2, run.output
    result = run.result(tool)
    assert result["status"] == "error" and f"'{tool}' was not found" in result["error"]
    for other in set(CODE_SCANS) - {tool}:
        assert run.result(other)["status"] == "pass"


CRASH = 'echo "Traceback (most recent call last):" >&2; echo "RuntimeError: boom" >&2; exit 1\n'
TRUNCATED = 'printf \'{"errors": [], "generated_at": "x", "metrics": {}, "results": [{"test_id": "B6\'; exit 1\n'
WRONG_SHAPE = 'printf \'{"results": "none"}\'; exit 0\n'
NOTHING = "exit 0\n"


@pytest.mark.parametrize("script, reason", [
    (CRASH, "RuntimeError: boom"),
    (TRUNCATED, "not valid JSON"),
    (WRONG_SHAPE, "unexpected shape"),
    (NOTHING, "empty or missing"),
])
def test_bandit_crashing_or_printing_garbage_is_an_error(project, reports, osv, tmp_path, script, reason):
    run = gate(project, reports, osv, path=tool_path(fake_tool(tmp_path / "fake", "bandit", script)))
    result = run.result("bandit")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert reason in result["error"]


def test_pip_audit_crash_with_exit_1_is_an_error_not_findings(project, reports, osv, tmp_path):
    run = gate(project, reports, osv, path=tool_path(fake_tool(tmp_path / "fake", "pip-audit", CRASH)))
    result = run.result("pip-audit")
    assert run.rc == 2 and result["status"] == "error" and "RuntimeError: boom" in result["error"]


# What pip-audit 2.10 prints (logger "pip_audit._cli") when PyPI's JSON API answers 404 for a dependency under
# --strict: its PyPI service cannot be pointed anywhere but the real PyPI, so a stand-in says it.
NOT_FOUND_ON_PYPI = (
    "echo 'ERROR:pip_audit._cli:asgiref: Dependency not found on PyPI and could not be audited: asgiref (3.13.0)' >&2\n"
    "exit 1\n"
)


def test_not_found_on_pypi_is_reported_as_the_service_failing_with_what_to_do(project, reports, tmp_path):
    fake = tool_path(fake_tool(tmp_path / "fake", "pip-audit", NOT_FOUND_ON_PYPI))
    run = run_gate("security-code", project, reports, path=fake)
    error = run.result("pip-audit")["error"]
    assert run.rc == 2 and error.startswith("pip-audit could not be completed: the vulnerability service could not "
                                            "be reached or answered nothing"), error
    assert "asgiref (3.13.0)" in error and "PIP_AUDIT_OSV_URL" in error and "PIP_AUDIT_ADVISORY_DB" in error
    assert error.count("pip-audit") == 1 and "pip_audit._cli" not in error


def test_pip_audit_is_named_once_in_its_error(project, reports, osv, tmp_path):
    run = gate(project, reports, osv, path=tool_path(fake_tool(tmp_path / "fake", "pip-audit", "echo 'ERROR:pip_audit._cli:boom' >&2\nexit 1\n")))
    error = run.result("pip-audit")["error"]
    assert error == "pip-audit could not be completed: exited 1 without a report: boom", error


def test_unparseable_python_file_is_an_error_that_still_lists_findings(tmp_path, reports, osv):
    project = make_project(tmp_path / "p", {
        "apps/core/broken.py": "def broken(:\n",
        "apps/core/calc.py": "def calc(expr):\n    return eval(expr)\n",
    })
    run = gate(project, reports, osv)
    result = run.result("bandit")
    assert result["status"] == "error"
    assert "bandit could not parse 1 file(s): apps/core/broken.py (syntax error" in result["error"], result["error"]
    assert [f["id"] for f in result["findings"]] == ["B307"]


def test_severity_and_confidence_thresholds_list_lower_findings_apart(tmp_path, reports, osv):
    project = make_project(tmp_path / "p", {
        "apps/core/mixed.py": "import subprocess\n\n\ndef calc(expr):\n    return eval(expr)\n",
    })
    run = gate(project, reports, osv, env={"BANDIT_SEVERITY": "medium"})
    result = run.result("bandit")
    assert [f["id"] for f in result["findings"]] == ["B307"]
    assert [f["id"] for f in result["below_threshold"]] == ["B404"]
    # Other thresholds (high: this file passes; min_confidence; count_unfixed) are cases of jq/tests/gate.cases.json.


def suppressions(project: Path, *entries: dict) -> None:
    (project / ".security-suppressions.json").write_text(json.dumps({"suppressions": list(entries)}))


def vulnerable_project(root: Path) -> Path:
    write_tree(root, CLEAN_FILES)
    write_uv_project(root, [("django", "4.2.0")])
    return root


def pip_audit_gate(project: Path, reports: Path, osv: OsvServer):
    """The code gate with its pip-audit scan alone: what suppressions do is the gate's, the same for every scan."""
    return gate(project, reports, osv, scans=("pip-audit",))


def test_suppression_by_an_alias_at_its_location_passes_and_lists_the_finding_as_suppressed(tmp_path, reports, osv):
    project = vulnerable_project(tmp_path / "p")
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    advisory = json.loads((REPO_ROOT / "tests/fixtures/osv/GHSA-fx7q-2m9c-h4rv.json").read_text())
    alias = advisory["aliases"][0]  # a CVE id: pip-audit reports the PYSEC id with the others as aliases
    suppressions(project, {"scan": "pip-audit", "id": alias, "location": "uv.lock", "reason": "upgrade scheduled",
                           "expires": later})
    git_commit_all(project)
    run = pip_audit_gate(project, reports, osv)
    result = run.result("pip-audit")
    assert run.rc == 0 and result["status"] == "pass", run.output
    [suppressed] = result["suppressed"]
    assert alias in suppressed["aliases"]
    assert suppressed["suppression"] == {"reason": "upgrade scheduled", "expires": later}
    # By id, by path:line, at another location, for another scan: cases of jq/tests/gate.cases.json.


def test_a_suppression_that_matched_nothing_is_listed_in_the_summary_without_failing(tmp_path, reports, osv):
    project = vulnerable_project(tmp_path / "p")
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    suppressions(project,
                 {"scan": "pip-audit", "id": "GHSA-fx7q-2m9c-h4rv", "reason": "upgrade scheduled", "expires": later},
                 {"scan": "bandit", "id": "B602", "location": "apps/gone.py", "reason": "old shell call",
                  "expires": later})
    git_commit_all(project)
    run = gate(project, reports, osv)
    assert run.rc == 0, run.output
    assert run.result("pip-audit")["unused_suppressions"] == []
    [unused] = run.result("bandit")["unused_suppressions"]
    assert unused["id"] == "B602" and unused["location"] == "apps/gone.py"
    summary = (reports / "security-code.md").read_text()
    assert "matched nothing in this run" in summary and "`B602` at `apps/gone.py`" in summary
    assert "unused suppression\tB602" in run.stdout


def test_expired_suppression_fails_with_a_clear_message(tmp_path, reports, osv):
    project = vulnerable_project(tmp_path / "p")
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    suppressions(project, {"scan": "pip-audit", "id": "GHSA-fx7q-2m9c-h4rv", "reason": "upgrade scheduled",
                           "expires": yesterday})
    git_commit_all(project)
    run = pip_audit_gate(project, reports, osv)
    result = run.result("pip-audit")
    assert run.rc == 1 and result["status"] == "fail"
    [finding] = result["findings"]
    assert "GHSA-fx7q-2m9c-h4rv" in [finding["id"], *finding["aliases"]]
    assert result["expired_suppressions"][0]["expires"] == yesterday
    assert "EXPIRED suppression" in run.stdout


# One malformed entry and one file that is not JSON, end to end; every other malformation is a case of
# jq/tests/suppressions.cases.json.
@pytest.mark.parametrize("content, message", [
    ('{"suppressions": [{"scan": "pip-audit", "id": "X", "expires": "2099-01-01"}]}', "reason is mandatory"),
    ('{"suppressions": [', "not valid JSON"),
])
def test_malformed_suppression_file_is_an_error_naming_the_problem(project, reports, osv, content, message):
    (project / ".security-suppressions.json").write_text(content)
    run = gate(project, reports, osv)
    assert run.rc == 2, run.output
    for scan in CODE_SCANS:
        result = run.result(scan)
        assert result["status"] == "error" and message in result["error"], result["error"]


def test_a_stale_pass_is_never_left_behind_by_a_failed_run(project, reports, osv, tmp_path):
    assert gate(project, reports, osv).result("bandit")["status"] == "pass"
    run = gate(project, reports, osv, path=tool_path(fake_tool(tmp_path / "fake", "bandit", CRASH)))
    assert run.result("bandit")["status"] == "error"
    assert not (reports / "bandit.raw.json").exists()


def test_summary_is_appended_to_the_github_step_summary(project, reports, osv, tmp_path):
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")
    gate(project, reports, osv, env={"GITHUB_STEP_SUMMARY": str(step_summary)})
    text = step_summary.read_text()
    assert text.startswith("earlier step\n") and "| bandit | ✅ pass |" in text


def test_a_single_scan_script_keeps_the_exit_contract(tmp_path, reports):
    project = make_project(tmp_path / "p", {"apps/core/calc.py": "def calc(expr):\n    return eval(expr)\n"})
    assert run_scan("bandit", project, reports).rc == 1
    assert run_scan("detect-secrets", project, reports).rc == 0
    assert run_scan("bandit", project, reports, env={"BANDIT_TARGETS": "missing"}).rc == 2


def test_this_repository_passes_its_own_gate(reports, osv):
    """The service on main is green: its locked dependencies, its code and every file in it."""
    run = gate(REPO_ROOT, reports, osv)
    assert run.rc == 0, run.output
    assert {run.result(scan)["status"] for scan in CODE_SCANS} == {"pass"}


def test_gate_reports_exactly_what_the_tools_report_by_hand(tmp_path, reports, osv):
    """None lost, none invented: the gate's findings are the tools' own, run by hand on the same project."""
    project = write_tree(tmp_path / "p", {
        **CLEAN_FILES,
        "apps/core/danger.py": (
            "import pickle\nimport subprocess\n\n\n"
            "def load(blob, cmd):\n"
            "    subprocess.Popen(cmd, shell=True)\n"
            "    return pickle.loads(blob)\n"
        ),
        "config/keys.py": f"AWS_ACCESS_KEY_ID = '{AWS_KEY}'\nGH = '{GITHUB_TOKEN}'\n",
        "docs/setup.md": f"export TOKEN={GITHUB_TOKEN}\n",
    })
    write_uv_project(project, [("django", "4.2.0"), ("requests", "2.31.0")])
    git_commit_all(project)
    run = gate(project, reports, osv)
    assert run.rc == 1, run.output

    def gate_found(scan):
        return sorted((f["id"], f["location"]["path"], f["location"]["line"]) for f in run.result(scan)["findings"])

    bandit = json.loads(subprocess.run(
        [str(VENV_BIN / "bandit"), "-r", "apps", "config", "-f", "json", "-q"],
        cwd=project, capture_output=True, text=True, check=False).stdout)
    assert gate_found("bandit") == sorted((r["test_id"], r["filename"], r["line_number"]) for r in bandit["results"])

    secrets = json.loads(subprocess.run(
        [str(VENV_BIN / "detect-secrets"), "scan", "--no-verify", "--all-files", "--exclude-files", r"(^|/)(\.env\.sample|uv\.lock|\.git/.*)$"],
        cwd=project, capture_output=True, text=True, check=True).stdout)
    by_hand = sorted((s["type"], s["filename"], s["line_number"]) for found in secrets["results"].values() for s in found)
    assert gate_found("detect-secrets") == by_hand and by_hand

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(subprocess.run(
        ["uv", "export", "--frozen", "--format", "requirements-txt", "--no-emit-project", "--all-groups"],
        cwd=project, capture_output=True, text=True, check=True, env={**os.environ, "PATH": tool_path(), "UV_OFFLINE": "1"}).stdout)
    audit = tmp_path / "audit.json"
    subprocess.run([str(VENV_BIN / "pip-audit"), "-r", str(requirements), "--require-hashes", "--disable-pip",
                    "--strict", "-s", "osv", "--osv-url", osv.url, "-f", "json", "-o", str(audit)],
                   capture_output=True, check=False)
    by_hand = sorted((v["id"], d["name"]) for d in json.loads(audit.read_text())["dependencies"] for v in d["vulns"])
    assert sorted((f["id"], f["package"]["name"]) for f in run.result("pip-audit")["findings"]) == by_hand and by_hand


def test_text_detect_secrets_cannot_decode_is_an_error_not_a_silent_skip(tmp_path, reports, osv):
    """detect-secrets skips a file that is not UTF-8 without a word: the gate names it instead of passing."""
    project = make_project(tmp_path / "p", commit=False)
    (project / "config" / "legacy.py").write_bytes(f"# caf\xe9\nKEY = '{AWS_KEY}'\n".encode("latin-1"))
    (project / "config" / "logo.bin").write_bytes(b"\x89PNG\x00\xff\xfe binary")  # a NUL byte: binary, skipped
    git_commit_all(project)
    run = gate(project, reports, osv)
    result = run.result("detect-secrets")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "config/legacy.py: it is text but not UTF-8" in result["error"]
    assert "logo.bin" not in result["error"]
    assert AWS_KEY not in run.output and AWS_KEY not in run.everything_written()


def test_sarif_fingerprints_survive_lines_inserted_above_the_findings(tmp_path, reports, osv):
    danger = "import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n    return eval(cmd)\n"
    project = make_project(tmp_path / "p", {"apps/core/danger.py": danger, "keys.txt": f"key = {AWS_KEY}\n"})

    def alerts() -> dict[str, list]:
        gate(project, reports, osv)
        log = json.loads((reports / "security-code.sarif").read_text())
        return {run["tool"]["driver"]["name"]: sorted(
            (item["partialFingerprints"]["securityGateFinding/v2"], item["locations"][0]["physicalLocation"]["region"]["startLine"])
            for item in run["results"]) for run in log["runs"] if run["results"]}

    before = alerts()
    (project / "apps/core/danger.py").write_text("# a comment\n\n\n" + danger)
    (project / "keys.txt").write_text("\n" * 10 + f"key = {AWS_KEY}\n")
    after = alerts()
    assert set(before) == set(after) == {"bandit", "detect-secrets"}
    for scan in before:
        assert [p for p, _ in before[scan]] == [p for p, _ in after[scan]], scan
        assert [line for _, line in before[scan]] != [line for _, line in after[scan]], scan
    tools = {scan: run_gate_result["tool"] for scan in CODE_SCANS
             for run_gate_result in [json.loads((reports / f"{scan}.json").read_text())]}
    assert (tools["bandit"]["name"], tools["bandit"]["version"]) == ("bandit", importlib.metadata.version("bandit"))
    assert tools["detect-secrets"]["version"] == importlib.metadata.version("detect-secrets")
