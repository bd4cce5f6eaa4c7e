"""The dependency audit covers what the project pins, against a service proven to answer (issue 11).

The real pip-audit talks HTTP to the local OSV server (scripts/lib/osv_server.py), in its normal mode and in
each lying one. Every case ends in `fail` when a vulnerable version is pinned, or in `error` naming the cause.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.gate import run_scan
from osv_server import (
    EMPTY_LIST, EMPTY_OBJECT, NO_AFFECTED, NULL, REDIRECT_302, REDIRECT_307, SCHEMA_2, VULNS_OBJECT, OsvServer,
)
from support.projects import copy_repo_lock, write_tree, write_uv_project

ADVISORY = "GHSA-fx7q-2m9c-h4rv"  # django < 3.2.19, 4.2 to < 4.2.1 (tests/fixtures/osv)
CANARY = "pycrypto==2.6.1"  # the gate's default canary; PYSEC-2099-301 in the fixtures


def audit(project: Path, reports: Path, url: str, **env: str):
    return run_scan("pip-audit", project, reports, env={"PIP_AUDIT_OSV_URL": url, **env})


def advisory_ids(result: dict) -> set[str]:
    return {i for f in result["findings"] for i in [f["id"], *f["aliases"]]}


# --- the service must prove it answers ---------------------------------------------------------------------

@pytest.mark.parametrize("mode, cause", [
    (EMPTY_OBJECT, "answered an object without 'vulns' ({})"),
    (NULL, "answered null"),
    (EMPTY_LIST, "answered [] (a JSON array"),
    (VULNS_OBJECT, "answered 'vulns' as a JSON object, not an array"),
    (REDIRECT_302, "redirected (HTTP 302) to /empty"),
    (REDIRECT_307, "redirected (HTTP 307) to /empty"),
    (SCHEMA_2, "Unsupported OSV schema version: 2.0.0"),
    (NO_AFFECTED, "is missing 'affected' list"),
])
def test_a_service_that_answers_wrongly_is_an_error_naming_the_cause(tmp_path, reports, mode, cause):
    project = write_uv_project(tmp_path / "p", [("django", "4.2.0")])
    with OsvServer(mode=mode) as liar:
        run = audit(project, reports, liar.url)
    result = run.result("pip-audit")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert cause in result["error"]
    assert f"canary {CANARY}" in result["error"]  # its advisories did not come through


def test_the_diagnosis_never_repeats_the_service_s_credentials(tmp_path, reports):
    project = write_uv_project(tmp_path / "p", [("django", "5.2.19")])
    with OsvServer(mode=EMPTY_OBJECT) as liar:
        run = audit(project, reports, liar.url.replace("http://", "http://gate:hunter2@"))  # pragma: allowlist secret
    error = run.result("pip-audit")["error"]
    assert run.rc == 2 and "answered an object without 'vulns'" in error, run.output
    assert "hunter2" not in run.everything_written() + run.output


def test_the_canary_is_audited_alongside_and_never_a_finding(tmp_path, reports, osv):
    project = write_uv_project(tmp_path / "p", [("django", "5.2.19"), ("requests", "2.32.0")])
    before = len(osv.queries)
    run = audit(project, reports, osv.url)
    result = run.result("pip-audit")
    assert run.rc == 0 and result["status"] == "pass", run.output
    assert result["canary"] == {"name": "pycrypto", "version": "2.6.1", "vulnerabilities": 1}
    assert result["findings"] == [] and result["coverage"] == {"inventory": 2, "scanned": 2}
    assert sorted(q["package"]["name"] for q in osv.queries[before:]) == ["django", "pycrypto", "requests"]
    raw = json.loads((reports / "pip-audit.raw.json").read_text())
    assert [d["name"] for d in raw["dependencies"]] == ["django", "requests"] and raw["canary"]["name"] == "pycrypto"


def test_the_canary_is_configurable_and_one_the_service_does_not_know_is_an_error(tmp_path, reports, osv):
    project = write_uv_project(tmp_path / "p", [("django", "5.2.19")])
    run = audit(project, reports, osv.url, PIP_AUDIT_CANARY="Fixture_Unfixed==1.0")
    assert run.rc == 0 and run.result("pip-audit")["canary"]["name"] == "fixture-unfixed", run.output
    run = audit(project, reports, osv.url, PIP_AUDIT_CANARY="requests==2.32.0")
    error = run.result("pip-audit")["error"]
    assert run.rc == 2 and "reported no vulnerability for the canary requests==2.32.0" in error, run.output
    run = audit(project, reports, osv.url, PIP_AUDIT_CANARY="requests>=2")
    assert run.rc == 2 and "must be NAME==VERSION" in run.result("pip-audit")["error"], run.output


def test_a_project_that_pins_the_canary_gets_its_finding(tmp_path, reports, osv):
    project = write_uv_project(tmp_path / "p", [("pycrypto", "2.6.1")])
    run = audit(project, reports, osv.url)
    result = run.result("pip-audit")
    assert run.rc == 1 and advisory_ids(result) == {"PYSEC-2099-301", "CVE-2099-0301"}, run.output


def test_the_repository_lock_passes_against_a_service_that_answers(tmp_path, reports, osv):
    run = audit(copy_repo_lock(tmp_path / "p"), reports, osv.url)
    result = run.result("pip-audit")
    assert run.rc == 0 and result["status"] == "pass", run.output
    assert result["coverage"]["inventory"] == result["coverage"]["scanned"] > 40
    assert result["canary"]["vulnerabilities"] >= 1


# --- uv.lock: every fork, and sources no service can audit ------------------------------------------------

def test_a_forked_lock_audits_both_versions_and_fails_on_the_second(tmp_path, reports, osv):
    forks = {"django": [("3.2.19", "sys_platform == 'win32'"), ("4.2.0", "sys_platform != 'win32'")]}
    project = write_uv_project(tmp_path / "p", [("requests", "2.32.0")], forks=forks)
    run = audit(project, reports, osv.url)
    result = run.result("pip-audit")
    assert run.rc == 1 and result["status"] == "fail", run.output
    assert [(f["package"]["version"], f["location"]["path"]) for f in result["findings"]] == [("4.2.0", "uv.lock")]
    assert "[django 4.2.0]" in run.stdout
    assert result["coverage"] == {"inventory": 3, "scanned": 3}


def test_a_path_dependency_is_an_error_naming_it_until_a_suppression_accepts_it(tmp_path, reports, osv):
    project = write_uv_project(tmp_path / "p", [("django", "5.2.19")], local={"mylib": 'directory = "../mylib"'})
    run = audit(project, reports, osv.url)
    result = run.result("pip-audit")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "mylib (directory ../mylib, in uv.lock)" in result["error"] and "hash" not in result["error"]
    assert [g["id"] for g in result["coverage_gaps"]] == ["not-auditable:mylib"]

    (project / ".security-suppressions.json").write_text(json.dumps({"suppressions": [
        {"scan": "pip-audit", "id": "not-auditable:mylib", "reason": "our own library, audited in its repo",
         "expires": "2099-01-01"}]}))
    run = audit(project, reports, osv.url)
    result = run.result("pip-audit")
    assert run.rc == 0 and result["status"] == "pass", run.output
    assert [g["id"] for g in result["accepted_gaps"]] == ["not-auditable:mylib"]
    assert result["coverage"] == {"inventory": 2, "scanned": 1}


def test_git_and_url_sources_are_named_without_their_credentials(tmp_path, reports, osv):
    project = write_uv_project(tmp_path / "p", [("django", "5.2.19")], local={
        "gitlib": 'git = "https://user:s3cret@example.invalid/gitlib.git?rev=main#0123abcd"',  # pragma: allowlist secret
        "urllib-wheel": 'url = "https://example.invalid/urllib_wheel-0.1.0-py3-none-any.whl"',
    })
    run = audit(project, reports, osv.url)
    error = run.result("pip-audit")["error"]
    assert run.rc == 2 and "gitlib (git https://example.invalid/gitlib.git" in error, run.output
    assert "urllib-wheel (url https://example.invalid/urllib_wheel" in error
    assert "s3cret" not in run.everything_written() + run.output


# --- requirements files -----------------------------------------------------------------------------------

def test_pins_in_nested_and_constraint_files_are_audited_where_they_are_pinned(tmp_path, reports, osv):
    project = write_tree(tmp_path / "p", {
        "requirements.txt": "-r nested/base.txt\nrequests\n-c constraints.txt\n",
        "nested/base.txt": "--requirement=more.txt\n-r ../requirements.txt\n",  # a cycle is read once
        "nested/more.txt": "django==4.2.0\n",
        "constraints.txt": "requests==2.31.0\nfixture-unfixed==1.0\n",  # the second pins no requirement
    })
    run = audit(project, reports, osv.url, PIP_AUDIT_REQUIREMENTS="requirements.txt")
    result = run.result("pip-audit")
    assert run.rc == 1 and result["status"] == "fail", run.output
    found = {(f["package"]["name"], f["package"]["version"], f["location"]["path"]) for f in result["findings"]}
    assert found == {("django", "4.2.0", "nested/more.txt"), ("requests", "2.31.0", "constraints.txt")}
    assert result["coverage"] == {"inventory": 2, "scanned": 2}


def test_pins_behind_markers_false_on_this_machine_are_audited(tmp_path, reports, osv):
    project = write_tree(tmp_path / "p", {"requirements.txt": (
        'django==4.2.0 ; sys_platform == "win32"\n'
        'requests==2.31.0 ; python_version >= "3.13"\n'
        'fixture-unfixed==1.0 ; extra == "web"\n')})
    run = audit(project, reports, osv.url, PIP_AUDIT_REQUIREMENTS="requirements.txt")
    result = run.result("pip-audit")
    assert run.rc == 1 and result["status"] == "fail", run.output
    assert {f["package"]["name"] for f in result["findings"]} == {"django", "requests", "fixture-unfixed"}


@pytest.mark.parametrize("text", ["", "# pinned elsewhere\n\n--pre\n--no-binary :all:\n", "-c constraints.txt\n"],
                         ids=["empty", "comments-and-options", "constraints-only"])
def test_a_requirements_file_that_requires_nothing_is_an_error(tmp_path, reports, osv, text):
    project = write_tree(tmp_path / "p", {"requirements.txt": text, "constraints.txt": "django==4.2.0\n"})
    run = audit(project, reports, osv.url, PIP_AUDIT_REQUIREMENTS="requirements.txt")
    assert run.rc == 2 and "requirements.txt requires nothing" in run.result("pip-audit")["error"], run.output


@pytest.mark.parametrize("files, cause", [
    ({"requirements.txt": "django>=4.2\n"}, "requirements.txt:1: django is not pinned to one version"),
    ({"requirements.txt": "-r missing.txt\n"}, "requirements file missing.txt (included from requirements.txt:1) not found"),
    ({"requirements.txt": "django==5.2.19\n-e ./lib\nmylib @ https://example.invalid/mylib-1.0.tar.gz\n"},
     "./lib (editable ./lib, in requirements.txt) is not from a package index: no vulnerability service can "
     "audit it; mylib (https://example.invalid/mylib-1.0.tar.gz, in requirements.txt) is not from a package index"),
])
def test_a_requirement_that_cannot_be_audited_is_an_error_naming_it(tmp_path, reports, osv, files, cause):
    project = write_tree(tmp_path / "p", files)
    run = audit(project, reports, osv.url, PIP_AUDIT_REQUIREMENTS="requirements.txt")
    assert run.rc == 2 and cause in run.result("pip-audit")["error"], run.output


def test_a_name_pinned_twice_behind_markers_audits_both_versions(tmp_path, reports, osv):
    project = write_tree(tmp_path / "p", {"requirements.txt": (
        'django==5.2.19 ; python_version >= "3.11"\ndjango==4.2.0 ; python_version < "3.11"\n')})
    run = audit(project, reports, osv.url, PIP_AUDIT_REQUIREMENTS="requirements.txt")
    result = run.result("pip-audit")
    assert run.rc == 1 and {f["package"]["version"] for f in result["findings"]} == {"4.2.0"}, run.output
    assert result["coverage"] == {"inventory": 2, "scanned": 2}
