"""`make security-docker IMAGE_TAR=...` proves its vulnerability DB with a canary, and reads the image for secrets.

The DB canary: a fixture DB without the image's OS bucket ("debian 12") or without the pip bucket is an error
naming what it does not know, while a complete one still fails the planted vulnerabilities and passes a clean
image. Secrets: a token in a build argument (the image's history), in an environment variable and in a file of a
layer each fail the scan, named by their place, and the token's value is in no file the run leaves (reports,
trivy's cache, the project, the temporary folder) and not in its output, annotations included.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, tool_path
from support.trivy_fixtures import (
    CANARY_VULNERABILITIES,
    build_image_tar,
    build_trivy_db,
    debian_fixed,
    image_layer_files,
    pip_advisory,
    vulnerability,
    write_docker_archive,
)

VULNERABILITIES = {
    "CVE-2099-0101": vulnerability("openssl: remote code execution", vendor_severity={"debian": "CRITICAL"}),
    "GHSA-fx33-aaaa-bbbb": vulnerability("Django: SQL injection", vendor_severity={"ghsa": "HIGH"}),
}
DEBIAN = {"openssl": {"CVE-2099-0101": debian_fixed("3.0.15-1~deb12u1")}}
PIP = {"django": {"GHSA-fx33-aaaa-bbbb": pip_advisory([">=5.0, <5.2.20"], ["5.2.20"])}}
PLANTED_OS = [("libssl3", "openssl", "3.0.14-1~deb12u1")]
PLANTED_PYTHON = [("Django", "5.2.19")]
CLEAN_OS = [("bash", None, "5.2.15-2+b7")]
CLEAN_PYTHON = [("Django", "5.2.20")]


@pytest.fixture(scope="module")
def caches(tmp_path_factory) -> dict[str, Path]:
    """Fixture DBs: complete, without the Debian 12 bucket, without the pip bucket."""
    built = {}
    for name, debian, pip in (("complete", DEBIAN, PIP), ("no-debian", None, PIP), ("no-pip", DEBIAN, None)):
        built[name] = tmp_path_factory.mktemp(f"trivy-{name}")
        build_trivy_db(built[name], VULNERABILITIES, debian=debian, pip=pip)
    return built


def make_security_docker(tmp_path: Path, image: Path, cache: Path, **env: str) -> tuple[int, str, dict]:
    """`make security-docker IMAGE_TAR=image` offline with the fixture DB; (make's exit, output, trivy's result)."""
    project, reports, tmp = tmp_path / "project", tmp_path / "reports", tmp_path / "tmp"
    project.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TRIVY_", "SECURITY_", "IMAGE", "GITHUB_"))}
    full.update(PATH=tool_path(), TMPDIR=str(tmp), TRIVY_CACHE_DIR=str(cache), TRIVY_SKIP_DB_UPDATE="true",
                TRIVY_SKIP_JAVA_DB_UPDATE="true", TRIVY_OFFLINE_SCAN="true", **env)
    proc = subprocess.run(
        ["make", "--no-print-directory", "security-docker", f"IMAGE_TAR={image}", f"PROJECT_DIR={project}",
         f"SECURITY_REPORT_DIR={reports}"],
        cwd=REPO_ROOT, env=full, capture_output=True, text=True, timeout=300, check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr, json.loads((reports / "trivy.json").read_text())


def ids(result: dict, *lists: str) -> set[str]:
    return {f["id"] for name in (lists or ("findings",)) for f in result[name]}


# --------------------------------------------------------------------------- the DB canary


def test_a_db_without_the_images_os_bucket_is_an_error_naming_the_os(tmp_path, caches):
    image = build_image_tar(tmp_path / "img.tar", PLANTED_OS, PLANTED_PYTHON)
    rc, output, result = make_security_docker(tmp_path, image, caches["no-debian"])
    assert rc == 2 and result["status"] == "error", output
    assert "trivy's DB has no advisories for debian 12.7" in result["error"]
    assert "Python" not in result["error"]
    assert "trivy's DB has no advisories for debian 12.7" in output
    # What trivy did find is still listed; the canary is not among it.
    assert ids(result) == {"GHSA-fx33-aaaa-bbbb"}


def test_a_db_without_pip_advisories_is_an_error_naming_python(tmp_path, caches):
    image = build_image_tar(tmp_path / "img.tar", PLANTED_OS, PLANTED_PYTHON)
    rc, output, result = make_security_docker(tmp_path, image, caches["no-pip"])
    assert rc == 2 and result["status"] == "error", output
    assert "trivy's DB has no advisories for Python (pip)" in result["error"]
    assert "debian" not in result["error"]
    assert ids(result) == {"CVE-2099-0101"}


def test_a_complete_db_fails_the_planted_vulnerabilities_and_the_canary_is_never_a_finding(tmp_path, caches):
    image = build_image_tar(tmp_path / "img.tar", PLANTED_OS, PLANTED_PYTHON)
    rc, output, result = make_security_docker(tmp_path, image, caches["complete"])
    assert rc == 2 and result["status"] == "fail", output
    assert ids(result) == {"CVE-2099-0101", "GHSA-fx33-aaaa-bbbb"}
    assert not ids(result, "findings", "below_threshold", "suppressed") & set(CANARY_VULNERABILITIES)
    checked = {c["purl"]: c["vulnerabilities"] for c in result["db_canary"]["checked"]}
    assert set(checked) == {"pkg:deb/debian/openssl@1.0.1e-2", "pkg:pypi/pycrypto@2.6.1"}
    assert all(count >= 1 for count in checked.values())
    assert isinstance(result["db_canary"]["seconds"], (int, float))


def test_a_complete_db_passes_a_clean_image(tmp_path, caches):
    image = build_image_tar(tmp_path / "img.tar", CLEAN_OS, CLEAN_PYTHON)
    rc, output, result = make_security_docker(tmp_path, image, caches["complete"])
    assert rc == 0 and result["status"] == "pass", output
    assert result["findings"] == [] and result["below_threshold"] == []


def test_an_image_whose_os_has_no_canary_is_an_error_saying_how_to_add_one(tmp_path, caches):
    image = build_image_tar(tmp_path / "img.tar", CLEAN_OS, CLEAN_PYTHON)
    rc, output, result = make_security_docker(tmp_path, image, caches["complete"],
                                              TRIVY_CANARIES="pkg:apk/alpine/openssl@1.0.1g-r0 pkg:pypi/pycrypto@2.6.1")
    assert rc == 2 and result["status"] == "error", output
    assert "no canary for the image's OS, debian 12.7" in result["error"]
    assert "pkg:deb/debian/" in result["error"] and "TRIVY_CANARIES" in result["error"]


def test_make_help_shows_trivy_canaries_with_its_default():
    proc = subprocess.run(["make", "--no-print-directory", "-s", "help"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert ("TRIVY_CANARIES=pkg:deb/debian/openssl@1.0.1e-2 pkg:deb/ubuntu/openssl@1.0.1-4ubuntu5 "
            "pkg:apk/alpine/openssl@1.0.1g-r0 pkg:pypi/pycrypto@2.6.1") in proc.stdout


# --------------------------------------------------------------------------- secrets in the image


def github_token() -> str:
    """A token of GitHub's personal access token shape (trivy's rule github-pat), new each run."""
    return "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36))


def aws_key_id() -> str:
    """An access key id of AWS's shape (trivy's rule aws-access-key-id), new each run."""
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def image_with_secret(path: Path, where: str, value: str) -> Path:
    """A clean image with value in a build argument (its history), an environment variable, or a file of a layer."""
    files = image_layer_files(CLEAN_OS, CLEAN_PYTHON)
    if where == "build argument":
        return write_docker_archive(path, files, created_by=f"RUN |1 GH_TOKEN={value} /bin/sh -c pip install -r req.txt")
    if where == "environment variable":
        return write_docker_archive(path, files, env=[f"AWS_ACCESS_KEY_ID={value}"])
    return write_docker_archive(path, files, more_layers=[
        ("COPY pip.conf /etc/pip.conf # buildkit",
         {"etc/pip.conf": f"[global]\nindex-url = https://x:{value}@pypi.example.invalid/simple\n".encode()}),
    ])


def files_holding(root: Path, needle: bytes, skip: Path) -> list[str]:
    return [str(path) for path in root.rglob("*")
            if path.is_file() and path != skip and needle in path.read_bytes()]


@pytest.mark.parametrize(("where", "rule", "named"), [
    ("build argument", "github-pat", "the image's configuration, history (created_by)"),
    ("environment variable", "aws-access-key-id", "the image's configuration, Env"),
    ("layer file", "github-pat", "/etc/pip.conf"),
])
def test_a_token_in_the_image_fails_the_scan_named_by_its_place_and_its_value_is_nowhere(tmp_path, caches, where,
                                                                                       rule, named):
    """IGNORE_UNFIXED=true (unfixed vulnerabilities listed only) leaves a secret failing: it has a fix, remove it."""
    value = aws_key_id() if rule == "aws-access-key-id" else github_token()
    image = image_with_secret(tmp_path / "img.tar", where, value)
    rc, output, result = make_security_docker(tmp_path, image, caches["complete"], GITHUB_ACTIONS="true",
                                              IGNORE_UNFIXED="true")
    assert rc == 2 and result["status"] == "fail", output
    [finding] = result["findings"]
    assert finding["id"] == rule and finding["severity"] == "CRITICAL"
    assert finding["title"].endswith(f" in {named}")
    if where == "layer file":
        assert "layer 2 of 2 (sha256:" in finding["location"]["detail"]
    assert f"title=trivy {rule}::" in output  # the annotation (GITHUB_ACTIONS=true) names the rule
    for needle in (value, value[4:]):
        assert needle not in output
        assert files_holding(tmp_path, needle.encode(), skip=image) == []
    raw = json.loads((tmp_path / "reports" / "trivy.raw.json").read_text())
    assert set(raw["Metadata"]["ImageConfig"]) <= {"architecture", "os", "created", "rootfs"}


def test_a_secret_is_accepted_by_the_suppression_file_like_a_vulnerability(tmp_path, caches):
    image = image_with_secret(tmp_path / "img.tar", "environment variable", aws_key_id())
    project = tmp_path / "project"
    project.mkdir()
    (project / ".security-suppressions.json").write_text(json.dumps({"suppressions": [
        {"scan": "trivy", "id": "aws-access-key-id", "reason": "a revoked key, image rebuilt in OPS-7",
         "expires": "2099-01-01"},
    ]}))
    rc, output, result = make_security_docker(tmp_path, image, caches["complete"])
    assert rc == 0 and result["status"] == "pass", output
    assert ids(result, "suppressed") == {"aws-access-key-id"}
