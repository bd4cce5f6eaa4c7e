"""`make security-docker` end to end: the real trivy, offline, on fixture images and a fixture DB.

Images are `docker save` tarballs written by tests/support/trivy_fixtures.py (no engine needed, IMAGE_TAR);
the vulnerability DB is a real bbolt file in a fixture cache directory that trivy reads with TRIVY_* settings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, VENV_BIN, fake_tool, gate_copy, run_gate, run_scan, tool_path
from support.projects import git_commit_all, write_tree
from support.trivy_fixtures import (
    build_image_tar,
    build_non_image_tar,
    build_trivy_db,
    corrupt_trivy_db,
    debian_fixed,
    debian_unfixed,
    pip_advisory,
    image_layer_files,
    truncate_file,
    vulnerability,
    write_db_metadata,
    write_docker_archive,
)

VULNERABILITIES = {
    "CVE-2099-0001": vulnerability("openssl: remote code execution", vendor_severity={"debian": "CRITICAL"}),
    "CVE-2099-0002": vulnerability("zlib: heap overflow", vendor_severity={"debian": "HIGH"}),
    "CVE-2099-0003": vulnerability("tar: path traversal", vendor_severity={"debian": "MEDIUM"}),
    "CVE-2099-0004": vulnerability("bash: minor leak", vendor_severity={"debian": "LOW"}),
    "CVE-2099-0005": vulnerability("curl: no fix yet", vendor_severity={"debian": "HIGH"}),
    "GHSA-fx11-aaaa-bbbb": vulnerability("Django: SQL injection", vendor_severity={"ghsa": "HIGH"}),
    "GHSA-fx22-cccc-dddd": vulnerability("requests: header leak", vendor_severity={"ghsa": "MEDIUM"}),
}
DEBIAN = {
    "openssl": {"CVE-2099-0001": debian_fixed("3.0.15-1~deb12u1")},
    "zlib": {"CVE-2099-0002": debian_fixed("1:1.2.13.dfsg-1+deb12u1")},
    "tar": {"CVE-2099-0003": debian_fixed("1.34+dfsg-1.2+deb12u2")},
    "bash": {"CVE-2099-0004": debian_fixed("5.2.15-2+b8")},
    "curl": {"CVE-2099-0005": debian_unfixed()},
}
PIP = {
    "django": {"GHSA-fx11-aaaa-bbbb": pip_advisory([">=5.0, <5.2.20"], ["5.2.20"])},
    "requests": {"GHSA-fx22-cccc-dddd": pip_advisory(["<2.33.0"], ["2.33.0"])},
}

SEVERE_OS = [("libssl3", "openssl", "3.0.14-1~deb12u1"), ("zlib1g", "zlib", "1:1.2.13.dfsg-1")]
MILD_OS = [("tar", None, "1.34+dfsg-1.2+deb12u1"), ("bash", None, "5.2.15-2+b7")]
UNFIXED_OS = [("libcurl4", "curl", "7.88.1-10+deb12u5")]


@pytest.fixture(scope="module")
def trivy_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("trivy-cache")
    build_trivy_db(cache, VULNERABILITIES, debian=DEBIAN, pip=PIP)
    return cache


def offline(cache: Path) -> dict[str, str]:
    """trivy's own settings, passed through the gate untouched, that keep it off the network."""
    return {
        "TRIVY_CACHE_DIR": str(cache),
        "TRIVY_SKIP_DB_UPDATE": "true",
        "TRIVY_SKIP_JAVA_DB_UPDATE": "true",
        "TRIVY_OFFLINE_SCAN": "true",
        "TRIVY_CACHE_BACKEND": "memory",
    }


def docker_gate(tmp_path: Path, image: Path, cache: Path, cwd: Path | None = None, **env: str):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    return run_gate("security-docker", project, tmp_path / "reports",
                    env={**offline(cache), "IMAGE_TAR": str(image), **env}, cwd=cwd)


def by_id(findings: list[dict]) -> dict[str, dict]:
    return {f["id"]: f for f in findings}


def test_critical_and_high_fail_and_each_is_named(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS + MILD_OS, [("Django", "5.2.19")])
    run = docker_gate(tmp_path, image, trivy_cache)
    assert run.rc == 1, run.output
    result = run.result("trivy")
    assert result["status"] == "fail"
    failing = by_id(result["findings"])
    assert set(failing) == {"CVE-2099-0001", "CVE-2099-0002", "GHSA-fx11-aaaa-bbbb"}
    assert failing["CVE-2099-0001"]["severity"] == "CRITICAL"
    assert failing["CVE-2099-0001"]["package"]["name"] == "libssl3"
    assert failing["CVE-2099-0001"]["package"]["version"] == "3.0.14-1~deb12u1"
    assert failing["CVE-2099-0001"]["fix"] == "3.0.15-1~deb12u1"
    assert failing["GHSA-fx11-aaaa-bbbb"]["package"] == {"name": "django", "version": "5.2.19", "type": "python-pkg"} \
        or failing["GHSA-fx11-aaaa-bbbb"]["package"]["name"].lower() == "django"
    assert failing["GHSA-fx11-aaaa-bbbb"]["fix"] == "5.2.20"
    assert set(by_id(result["below_threshold"])) == {"CVE-2099-0003", "CVE-2099-0004"}
    for vuln_id in ("CVE-2099-0001", "CVE-2099-0002", "GHSA-fx11-aaaa-bbbb"):
        assert vuln_id in run.stdout
    assert "libssl3" in run.stdout and "fix: 3.0.15-1~deb12u1" in run.stdout
    summary = (tmp_path / "reports" / "security-docker.md").read_text()
    assert "❌ fail" in summary and "CVE-2099-0002" in summary


def test_only_medium_and_low_pass_and_are_listed(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", MILD_OS, [("requests", "2.32.0")])
    run = docker_gate(tmp_path, image, trivy_cache)
    assert run.rc == 0, run.output
    result = run.result("trivy")
    assert result["status"] == "pass" and result["findings"] == []
    assert set(by_id(result["below_threshold"])) == {"CVE-2099-0003", "CVE-2099-0004", "GHSA-fx22-cccc-dddd"}
    assert "below the threshold" in run.stdout and "CVE-2099-0004" in run.stdout
    summary = (tmp_path / "reports" / "security-docker.md").read_text()
    assert "GHSA-fx22-cccc-dddd" in summary


def test_unfixed_high_counts_unless_configured_otherwise(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", UNFIXED_OS)
    run = docker_gate(tmp_path, image, trivy_cache)
    assert run.rc == 1, run.output
    [finding] = run.result("trivy")["findings"]
    assert finding["id"] == "CVE-2099-0005" and finding["fix"] is None
    run = docker_gate(tmp_path, image, trivy_cache, IGNORE_UNFIXED="true")
    assert run.rc == 0, run.output
    assert [f["id"] for f in run.result("trivy")["below_threshold"]] == ["CVE-2099-0005"]


def test_failing_severities_are_configurable(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    run = docker_gate(tmp_path, image, trivy_cache, TRIVY_FAIL_ON="CRITICAL")
    assert run.rc == 1
    result = run.result("trivy")
    assert [f["id"] for f in result["findings"]] == ["CVE-2099-0001"]
    assert [f["id"] for f in result["below_threshold"]] == ["CVE-2099-0002"]
    run = docker_gate(tmp_path, image, trivy_cache, TRIVY_FAIL_ON="CRITICAL,SEVERE")
    assert run.rc == 2 and "SEVERE" in run.result("trivy")["error"]


def suppress(project: Path, vuln_id: str, expires: dt.date) -> None:
    (project / ".security-suppressions.json").write_text(json.dumps({"suppressions": [
        {"scan": "trivy", "id": vuln_id, "reason": "base image bump pending", "expires": expires.isoformat()},
    ]}))


def test_active_suppression_passes(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", [SEVERE_OS[1]])
    project = tmp_path / "project"
    project.mkdir()
    suppress(project, "CVE-2099-0002", dt.date.today() + dt.timedelta(days=7))
    run = docker_gate(tmp_path, image, trivy_cache)
    assert run.rc == 0, run.output
    assert [f["id"] for f in run.result("trivy")["suppressed"]] == ["CVE-2099-0002"]
    # An expired one fails: the same gate.jq for every scan, end to end in test_code_gate.py, and a case of
    # jq/tests/gate.cases.json.


def test_no_vulnerability_db_is_an_error(tmp_path):
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    run = docker_gate(tmp_path, image, tmp_path / "empty-cache")
    result = run.result("trivy")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "trivy exited 1" in result["error"] and "skip-db-update" in result["error"]


@pytest.mark.parametrize("version", [1, 99])
def test_db_of_the_wrong_schema_version_is_an_error(tmp_path, version):
    cache = tmp_path / "cache"
    build_trivy_db(cache, VULNERABILITIES, debian=DEBIAN, pip=PIP)
    write_db_metadata(cache, version)
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    run = docker_gate(tmp_path, image, cache)
    assert run.rc == 2 and "schema" in run.result("trivy")["error"], run.output


def test_corrupt_db_is_an_error(tmp_path):
    cache = tmp_path / "cache"
    build_trivy_db(cache, VULNERABILITIES, debian=DEBIAN, pip=PIP)
    corrupt_trivy_db(cache)
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    run = docker_gate(tmp_path, image, cache)
    assert run.rc == 2 and run.result("trivy")["status"] == "error", run.output


@pytest.mark.parametrize("breakage", ["truncated", "not-an-image", "missing"])
def test_broken_or_missing_image_tarball_is_an_error(tmp_path, trivy_cache, breakage):
    image = tmp_path / "img.tar"
    if breakage == "truncated":
        truncate_file(build_image_tar(image, SEVERE_OS), keep=0.5)
    elif breakage == "not-an-image":
        build_non_image_tar(image)
    run = docker_gate(tmp_path, image, trivy_cache)
    result = run.result("trivy")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert result["findings"] == []


def test_image_without_a_detectable_os_is_an_error(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS, debian_version=None)
    run = docker_gate(tmp_path, image, trivy_cache)
    result = run.result("trivy")
    assert run.rc == 2 and "did not detect the image's OS" in result["error"], run.output


def test_no_engine_and_no_image_tar_stops_with_the_hint(tmp_path, trivy_cache):
    project = write_tree(tmp_path / "project", {"deploy/docker/Dockerfile": "FROM scratch\n"})
    engine = fake_tool(tmp_path / "engine", "docker", 'echo "Cannot connect to the Docker daemon" >&2; exit 1\n')
    run = run_gate("security-docker", project, tmp_path / "reports", env=offline(trivy_cache),
                   path=tool_path(engine))
    result = run.result("trivy")
    assert run.rc == 2 and result["status"] == "error"
    assert "no container engine" in result["error"] and "IMAGE_TAR=" in result["error"]


def test_build_failure_is_an_error(tmp_path, trivy_cache):
    project = write_tree(tmp_path / "project", {"deploy/docker/Dockerfile": "FROM scratch\n"})
    engine = fake_tool(tmp_path / "engine", "podman",
                       'case "$1" in info) exit 0 ;; build) echo "step 3/9 failed: no space" >&2; exit 1 ;; esac\nexit 1\n')
    run = run_gate("security-docker", project, tmp_path / "reports",
                   env={**offline(trivy_cache), "CONTAINER_ENGINE": "podman"}, path=tool_path(engine))
    result = run.result("trivy")
    assert run.rc == 2 and "build failed" in result["error"] and "no space" in result["error"]


def test_engine_builds_saves_and_trivy_scans_the_saved_image(tmp_path, trivy_cache):
    """With a working engine the gate builds from the Dockerfile, saves the image and scans the tarball."""
    project = write_tree(tmp_path / "project", {"deploy/docker/Dockerfile": "FROM scratch\n"})
    fixture = build_image_tar(tmp_path / "fixture.tar", SEVERE_OS)
    engine = fake_tool(tmp_path / "engine", "docker", f"""
case "$1" in
  info) exit 0 ;;
  build) echo "$@" >"{tmp_path}/build-args"; exit 0 ;;
  save) shift; [[ "$1" == -o ]] && cp "{fixture}" "$2"; exit 0 ;;
esac
exit 1
""")
    run = run_gate("security-docker", project, tmp_path / "reports", env=offline(trivy_cache), path=tool_path(engine))
    assert run.rc == 1, run.output
    assert "-f " + str(project / "deploy/docker/Dockerfile") in (tmp_path / "build-args").read_text()
    assert {"CVE-2099-0001", "CVE-2099-0002"} == {f["id"] for f in run.result("trivy")["findings"]}


def test_make_security_docker_with_image_tar(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", MILD_OS)
    project = tmp_path / "project"
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIVY_", "SECURITY_"))}
    env.update(offline(trivy_cache), PATH=tool_path())
    proc = subprocess.run(
        ["make", "--no-print-directory", "security-docker", f"IMAGE_TAR={image}", f"PROJECT_DIR={project}",
         f"SECURITY_REPORT_DIR={tmp_path / 'reports'}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "trivy: PASS" in proc.stdout
    assert json.loads((tmp_path / "reports" / "trivy.json").read_text())["status"] == "pass"
    sarif = json.loads((tmp_path / "reports" / "security-docker.sarif").read_text())
    assert sarif["version"] == "2.1.0"


def test_findings_point_at_the_scanned_tarball_not_a_dockerfile_it_may_not_come_from(tmp_path, trivy_cache):
    (tmp_path / "project" / "images").mkdir(parents=True)
    inside = build_image_tar(tmp_path / "project" / "images" / "app.tar", SEVERE_OS)
    run = docker_gate(tmp_path, inside, trivy_cache)
    assert run.rc == 1, run.output
    assert {f["location"]["path"] for f in run.result("trivy")["findings"]} == {"images/app.tar"}
    outside = build_image_tar(tmp_path / "elsewhere.tar", SEVERE_OS)
    run = docker_gate(tmp_path, outside, trivy_cache)
    assert {f["location"]["path"] for f in run.result("trivy")["findings"]} == {str(outside.resolve())}
    assert "Dockerfile" not in json.dumps(run.result("trivy")["findings"])


# --------------------------------------------------------------------------- nothing narrows the scan


@pytest.mark.parametrize(("name", "value"), [
    ("TRIVY_SEVERITY", "LOW"),
    ("TRIVY_IGNOREFILE", "/dev/null"),
    ("TRIVY_SKIP_DIRS", "/usr"),
    ("TRIVY_SKIP_FILES", "/var/lib/dpkg/status"),
    ("TRIVY_IGNORE_STATUS", "fixed,affected"),
    ("TRIVY_DISTRO", "debian/13"),
    ("TRIVY_IGNORE_UNFIXED", "true"),
    ("TRIVY_CONFIG", "trivy.yaml"),
])
def test_a_trivy_setting_that_could_narrow_the_scan_is_refused_by_name(tmp_path, trivy_cache, name, value):
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    run = docker_gate(tmp_path, image, trivy_cache, **{name: value})
    result = run.result("trivy")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert name in result["error"] and "narrow" in result["error"]
    assert result["findings"] == []


def test_trivy_settings_that_only_say_where_and_how_long_pass_through(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    run = docker_gate(tmp_path, image, trivy_cache, TRIVY_TIMEOUT="3m", TRIVY_NO_PROGRESS="true",
                      TRIVY_DB_REPOSITORY="127.0.0.1:9/none/trivy-db:2")
    assert run.rc == 1, run.output
    assert {"CVE-2099-0001", "CVE-2099-0002"} == run.ids("trivy")


def test_ignore_and_config_files_in_the_working_folder_hide_nothing_and_are_named(tmp_path, trivy_cache):
    """trivy reads .trivyignore and trivy.yaml from its working folder; the gate runs it elsewhere and names them."""
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    project = write_tree(tmp_path / "project", {
        ".trivyignore": "# accepted by someone\nCVE-2099-0002\nCVE-2099-0001 exp:2099-01-01\n",
        "trivy.yaml": "severity:\n  - LOW\n",
    })
    run = docker_gate(tmp_path, image, trivy_cache, cwd=project)
    result = run.result("trivy")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert {f["id"] for f in result["findings"]} == {"CVE-2099-0001", "CVE-2099-0002"}
    gaps = {gap["id"]: gap["message"] for gap in result["coverage_gaps"]}
    assert set(gaps) == {"trivy-file:.trivyignore", "trivy-file:trivy.yaml"}
    assert "CVE-2099-0002,CVE-2099-0001" in gaps["trivy-file:.trivyignore"]
    assert ".trivyignore" in result["error"] and "trivy.yaml" in result["error"]


def test_an_ignore_file_accepted_in_the_suppression_file_leaves_the_findings_failing(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", [SEVERE_OS[1]])
    project = write_tree(tmp_path / "project", {".trivyignore": "CVE-2099-0002\n"})
    (project / ".security-suppressions.json").write_text(json.dumps({"suppressions": [
        {"scan": "trivy", "id": "trivy-file:.trivyignore", "reason": "kept for the trivy IDE plugin",
         "expires": (dt.date.today() + dt.timedelta(days=7)).isoformat()},
    ]}))
    run = docker_gate(tmp_path, image, trivy_cache, cwd=project)
    result = run.result("trivy")
    assert run.rc == 1 and result["status"] == "fail", run.output
    assert [f["id"] for f in result["findings"]] == ["CVE-2099-0002"]
    assert [gap["id"] for gap in result["accepted_gaps"]] == ["trivy-file:.trivyignore"]


# --------------------------------------------------------------------------- coverage of the image


def test_an_os_without_a_package_inventory_is_an_error(tmp_path, trivy_cache):
    files = image_layer_files(SEVERE_OS)
    del files["var/lib/dpkg/status"]
    image = write_docker_archive(tmp_path / "img.tar", files)
    run = docker_gate(tmp_path, image, trivy_cache)
    result = run.result("trivy")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "debian 12.7" in result["error"] and "no OS packages" in result["error"]
    assert "var/lib/dpkg/status" in result["error"]


def test_a_python_package_of_the_image_that_trivy_did_not_report_is_named(tmp_path, trivy_cache):
    """trivy skips a distribution whose metadata has no version; the gate read the image and names it."""
    files = image_layer_files(MILD_OS, [("Django", "5.2.19")])
    files["usr/local/lib/python3.12/site-packages/ghostpkg-1.0.dist-info/METADATA"] = b"Name: ghostpkg\n"
    image = write_docker_archive(tmp_path / "img.tar", files)
    run = docker_gate(tmp_path, image, trivy_cache)
    result = run.result("trivy")
    assert run.rc == 2 and result["status"] == "error", run.output
    [gap] = result["coverage_gaps"]
    assert gap["id"] == "not-scanned:python:ghostpkg"
    assert "ghostpkg-1.0.dist-info" in gap["message"] and "ghostpkg" in result["error"]
    assert "GHSA-fx11-aaaa-bbbb" in {f["id"] for f in result["findings"]}
    assert result["coverage"] == {"inventory": len(MILD_OS) + 2, "scanned": len(MILD_OS) + 1}


def test_python_packages_installed_by_an_os_package_are_listed_as_scanned_with_it(tmp_path, trivy_cache):
    files = image_layer_files(MILD_OS, [("Django", "5.2.19")])
    metadata = "usr/lib/python3/dist-packages/debpkg-2.0.dist-info/METADATA"
    files[metadata] = b"Metadata-Version: 2.1\nName: debpkg\nVersion: 2.0\n"
    files["var/lib/dpkg/info/python3-debpkg.list"] = f"/{metadata}\n".encode()
    image = write_docker_archive(tmp_path / "img.tar", files)
    run = docker_gate(tmp_path, image, trivy_cache)
    result = run.result("trivy")
    assert result["coverage_gaps"] == [] and run.rc == 1, run.output
    packages = [entry for entry in result["excluded"] if not entry["item"].startswith("secret scan: ")]
    assert packages == [{"item": f"/{metadata}", "rule": "installed by the OS package python3-debpkg, "
                         "scanned as that package"}]
    assert result["coverage"] == {"inventory": len(MILD_OS) + 1, "scanned": len(MILD_OS) + 1}


# --------------------------------------------------------------------------- end of life, stale data


def debian_8_image(path: Path) -> Path:
    files = image_layer_files([("bash", None, "4.3-11+deb8u2")], debian_version="8.11")
    files["etc/os-release"] = files["etc/os-release"].replace(b"12", b"8").replace(b"bookworm", b"jessie")
    return write_docker_archive(path, files)


@pytest.fixture(scope="module")
def debian_8_cache(tmp_path_factory) -> Path:
    """A DB that knows Debian 8 too (the DB canary checks the image's release)."""
    cache = tmp_path_factory.mktemp("trivy-cache-debian-8")
    build_trivy_db(cache, VULNERABILITIES, debian=DEBIAN, pip=PIP, debian_releases=("12", "8"))
    return cache


def test_an_end_of_life_os_fails_named_with_its_version(tmp_path, debian_8_cache):
    run = docker_gate(tmp_path, debian_8_image(tmp_path / "img.tar"), debian_8_cache)
    result = run.result("trivy")
    assert run.rc == 1 and result["status"] == "fail", run.output
    [eosl] = result["findings"]
    assert eosl["id"] == "eosl:debian-8.11" and eosl["severity"] == "CRITICAL"
    assert "debian 8.11 is end of life" in eosl["title"]
    assert "eosl:debian-8.11" in run.stdout


def test_an_end_of_life_os_is_listed_when_configured_below_the_threshold(tmp_path, debian_8_cache):
    run = docker_gate(tmp_path, debian_8_image(tmp_path / "img.tar"), debian_8_cache, TRIVY_EOSL_SEVERITY="LOW")
    result = run.result("trivy")
    assert run.rc == 0, run.output
    assert "eosl:debian-8.11" in [f["id"] for f in result["below_threshold"]]


def test_the_result_records_the_vulnerability_db_build_date(tmp_path, trivy_cache):
    image = build_image_tar(tmp_path / "img.tar", MILD_OS)
    run = docker_gate(tmp_path, image, trivy_cache)
    assert run.rc == 0, run.output
    db = run.result("trivy")["vulnerability_db"]
    metadata = json.loads((trivy_cache / "db" / "metadata.json").read_text())
    assert db["updated_at"] == metadata["UpdatedAt"] and db["next_update"] == metadata["NextUpdate"]
    assert db["age_days"] == 0 and db["max_age_days"] == 3


def test_a_vulnerability_db_older_than_the_maximum_age_is_an_error_naming_its_date(tmp_path):
    cache = tmp_path / "cache"
    build_trivy_db(cache, VULNERABILITIES, debian=DEBIAN, pip=PIP)
    write_db_metadata(cache, now=dt.datetime(2020, 3, 1, 12, 0, tzinfo=dt.timezone.utc))
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    run = docker_gate(tmp_path, image, cache)
    result = run.result("trivy")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "2020-03-01T11:00:00Z" in result["error"] and "TRIVY_DB_MAX_AGE_DAYS=3" in result["error"]
    assert result["vulnerability_db"]["updated_at"] == "2020-03-01T11:00:00Z"
    assert {f["id"] for f in result["findings"]} == {"CVE-2099-0001", "CVE-2099-0002"}
    run = docker_gate(tmp_path, image, cache, TRIVY_DB_MAX_AGE_DAYS="100000")
    assert run.rc == 1, run.output


def recording_engine(folder: Path, name: str, fixture: Path) -> Path:
    """A stand-in engine that answers info, records its build and save arguments, and saves the fixture image."""
    return fake_tool(folder / "engine", name, f"""
case "$1" in
  info) exit 0 ;;
  build) shift; echo "$*" >"{folder}/build-args"; exit 0 ;;
  save) shift; echo "$*" >"{folder}/save-args"
        while (($#)); do [[ "$1" == -o ]] && cp "{fixture}" "$2"; shift; done; exit 0 ;;
esac
exit 1
""")


def test_podman_builds_dockers_format_with_the_flags_of_image_build_flags(tmp_path, trivy_cache):
    project = write_tree(tmp_path / "project", {"deploy/docker/Dockerfile": "FROM scratch\n"})
    engine = recording_engine(tmp_path, "podman", build_image_tar(tmp_path / "fixture.tar", SEVERE_OS))
    flags = "--build-arg=A=1 --build-context=base=docker-image://localhost/base --volume=/etc/ca.crt:/etc/ca.crt:ro"
    run = run_gate("security-docker", project, tmp_path / "reports", path=tool_path(engine),
                   env={**offline(trivy_cache), "CONTAINER_ENGINE": "podman", "IMAGE_BUILD_FLAGS": flags})
    assert run.rc == 1, run.output
    build_args = (tmp_path / "build-args").read_text()
    assert build_args.startswith(f"--format docker {flags} -f {project / 'deploy/docker/Dockerfile'} -t ")
    assert (tmp_path / "save-args").read_text().startswith("--format docker-archive -o ")


def test_an_image_reference_is_saved_by_the_engine_and_scanned_whole(tmp_path, trivy_cache):
    engine = recording_engine(tmp_path, "docker", build_image_tar(tmp_path / "fixture.tar", SEVERE_OS))
    project = tmp_path / "project"
    project.mkdir()
    run = run_gate("security-docker", project, tmp_path / "reports", path=tool_path(engine),
                   env={**offline(trivy_cache), "IMAGE": "registry.invalid/team/app:1.0"})
    assert run.rc == 1, run.output
    assert (tmp_path / "save-args").read_text().split()[-1] == "registry.invalid/team/app:1.0"
    result = run.result("trivy")
    assert {f["id"] for f in result["findings"]} == {"CVE-2099-0001", "CVE-2099-0002"}
    assert result["coverage"] == {"inventory": 2, "scanned": 2}


# --------------------------------------------------------------------------- the trivy binary


def recorded_trivy_sha256(root: Path = REPO_ROOT) -> str:
    lines = [line for line in (root / "scans" / "trivy" / "trivy.sha256").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) == 1, lines
    return lines[0]


def test_the_locked_trivy_is_the_recorded_binary():
    assert hashlib.sha256((VENV_BIN / "trivy").read_bytes()).hexdigest() == recorded_trivy_sha256()


@pytest.mark.parametrize("kind", ["tampered", "stand-in"])
def test_a_trivy_binary_whose_sha256_is_not_the_recorded_one_is_refused_before_it_runs(tmp_path, trivy_cache, kind):
    """A copy of the locked trivy with one byte appended (it still runs), or a script that would leave a mark: the
    gate names the binary, the hash it found and the recorded one, and runs neither."""
    folder = tmp_path / "bin"
    mark = tmp_path / "ran"
    if kind == "tampered":
        folder.mkdir()
        (folder / "trivy").write_bytes((VENV_BIN / "trivy").read_bytes() + b"\0")
        (folder / "trivy").chmod(0o755)
    else:
        fake_tool(folder, "trivy", f"touch {shlex.quote(str(mark))}\nexec {shlex.quote(str(VENV_BIN / 'trivy'))} \"$@\"\n")
    found = hashlib.sha256((folder / "trivy").read_bytes()).hexdigest()
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    project = tmp_path / "project"
    project.mkdir()
    run = run_gate("security-docker", project, tmp_path / "reports", path=tool_path(folder),
                   env={**offline(trivy_cache), "IMAGE_TAR": str(image)})

    assert run.rc == 2, run.output
    error = run.result("trivy")["error"]
    assert f"the trivy binary {folder / 'trivy'} is not the one the gate runs" in error
    assert f"its sha256 is {found}, the recorded one" in error and recorded_trivy_sha256() in error
    assert not mark.exists() and not (tmp_path / "reports" / "trivy.raw.json").exists()


@pytest.mark.parametrize("text", ["", "# only a comment\n", "1f88\n", "A" * 64 + "\n", ("a" * 64 + "\n") * 2])
def test_a_recorded_trivy_sha256_that_is_not_one_hash_is_an_error(tmp_path, trivy_cache, text):
    root = gate_copy(tmp_path / "gate")
    (root / "scans" / "trivy" / "trivy.sha256").write_text(text)
    image = build_image_tar(tmp_path / "img.tar", SEVERE_OS)
    project = tmp_path / "project"
    project.mkdir()
    run = run_scan("trivy", project, tmp_path / "reports", root=root,
                   env={**offline(trivy_cache), "IMAGE_TAR": str(image)})

    assert run.rc == 2, run.output
    assert "trivy.sha256 must hold one sha256 (64 lower-case hex digits)" in run.result("trivy")["error"]
