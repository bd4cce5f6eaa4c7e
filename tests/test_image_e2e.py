"""The image end to end: deploy/docker/Dockerfile built unchanged by a real engine, run as a deployment runs it,
saved and scanned by `make security-docker`.

`CONTAINER_ENGINE=podman make security-docker` builds the image through the gate, with IMAGE_BUILD_FLAGS carrying
what this machine needs (a base for the digest-pinned FROM, which no registry here can serve, and the CA bundle of
this network's TLS inspection for pip and uv, mounted read-only), saves it and scans it with a fixture DB. The
container then runs with a deployment's settings (secret key, allowed hosts, its data volume, no new privileges)
and is checked from outside. Finally the image is saved with `podman save` and scanned again from the tarball
(IMAGE_TAR). tests/support/engine.py sets up podman and the base (Debian 13, as the Dockerfile's); without an engine
the module is skipped with the reason, and with E2E_REQUIRED=1 (.ci/run) that is a failure instead.
On that base the gate passes with a DB that knows the release and holds nothing against it; an advisory Debian has
no fix for fails it by default, and passes once the suppression file accepts it with a reason and an expiry.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.engine import (BASE_RELEASE, base_image, build_ca_flags, engine_env, engine_problem, from_references,
                            podman)
from support.gate import REPO_ROOT, tool_path
from support.trivy_fixtures import build_trivy_db, debian_fixed, debian_unfixed, pip_advisory, vulnerability

APP_UID = 10001
# Advisories for packages the real image holds, at any version: the scan must find them in the OS and the venv.
VULNERABILITIES = {
    "CVE-2099-7001": vulnerability("bash: fixture advisory for the image test", vendor_severity={"debian": "HIGH"}),
    "GHSA-e2e0-aaaa-bbbb": vulnerability("Django: fixture advisory for the image test", vendor_severity={"ghsa": "HIGH"}),
}
DEBIAN = {"bash": {"CVE-2099-7001": debian_fixed("99.0")}}
PIP = {"django": {"GHSA-e2e0-aaaa-bbbb": pip_advisory(["<99.0"], ["99.0"])}}
EXPECTED = {"CVE-2099-7001", "GHSA-e2e0-aaaa-bbbb"}
# An advisory Debian will not fix (as zlib's CVE-2023-45853 on bookworm): counted by default, accepted only by a
# reviewed suppression entry.
UNFIXED = {"CVE-2099-7002": vulnerability("zlib: fixture advisory Debian has no fix for",
                                          vendor_severity={"debian": "HIGH"})}
UNFIXED_DEBIAN = {"zlib": {"CVE-2099-7002": debian_unfixed()}}


@dataclass
class Engine:
    env: dict[str, str]
    work: Path
    base: str


@dataclass
class Built:
    tag: str
    result: dict
    output: str


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Engine:
    problem = engine_problem()
    if problem:
        if os.environ.get("E2E_REQUIRED") == "1":
            pytest.fail(f"E2E_REQUIRED=1 but no container engine can be set up: {problem}")
        pytest.skip(f"no container engine for the end-to-end image test: {problem}")
    work = tmp_path_factory.mktemp("engine")
    env = engine_env(work)
    return Engine(env, work, base_image(env))


@pytest.fixture(scope="module")
def trivy_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("trivy-cache")
    build_trivy_db(cache, VULNERABILITIES, debian=DEBIAN, pip=PIP, debian_releases=(BASE_RELEASE,))
    return cache


@pytest.fixture(scope="module")
def unfixed_cache(tmp_path_factory) -> Path:
    """A DB that knows the base's release and PyPI (the canaries) and holds one advisory with no fix."""
    cache = tmp_path_factory.mktemp("trivy-cache-unfixed")
    build_trivy_db(cache, UNFIXED, debian=UNFIXED_DEBIAN, pip={}, debian_releases=(BASE_RELEASE,))
    return cache


def make_security_docker(engine: Engine, cache: Path, reports: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`make security-docker` from the repository, offline with the fixture DB, as a user runs it."""
    full = {k: v for k, v in engine.env.items() if not k.startswith(("TRIVY_", "SECURITY_", "IMAGE"))}
    full.update(
        PATH=tool_path(), SECURITY_REPORT_DIR=str(reports), SCAN_TIMEOUT="900",
        TRIVY_CACHE_DIR=str(cache), TRIVY_SKIP_DB_UPDATE="true", TRIVY_SKIP_JAVA_DB_UPDATE="true",
        TRIVY_OFFLINE_SCAN="true", TRIVY_CACHE_BACKEND="memory", **env,
    )
    return subprocess.run(["make", "--no-print-directory", "security-docker"], cwd=REPO_ROOT, env=full,
                          capture_output=True, text=True, timeout=1200, check=False)


@pytest.fixture(scope="module")
def built(engine, trivy_cache, tmp_path_factory) -> Built:
    """The image, built and scanned by `CONTAINER_ENGINE=podman make security-docker`."""
    reports = tmp_path_factory.mktemp("reports")
    flags = [f"--build-context={ref}=docker-image://{engine.base}" for ref in sorted(from_references())]
    flags += build_ca_flags(engine.work)
    done = make_security_docker(engine, trivy_cache, reports, CONTAINER_ENGINE="podman",
                                IMAGE_BUILD_FLAGS=" ".join(flags))
    output = done.stdout + done.stderr
    tag = re.search(r"building (\S+) from", output)
    assert tag, output
    return Built(tag.group(1), json.loads((reports / "trivy.json").read_text()), output)


@pytest.fixture(scope="module")
def container(engine, built):
    """The service running from the image as a deployment runs it; yields (name, base URL)."""
    name = f"security-gate-e2e-{secrets.token_hex(4)}"
    volume = f"{name}-data"
    podman(engine.env, "run", "--detach", "--name", name, "--security-opt", "no-new-privileges",
           "--env", f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}", "--env", "DJANGO_ALLOWED_HOSTS=service.example.com",
           "--volume", f"{volume}:/var/lib/service", "--publish", "127.0.0.1::8000", built.tag)
    try:
        port = podman(engine.env, "port", name, "8000/tcp").stdout.strip().rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    logs = podman(engine.env, "logs", name, check=False)
                    raise AssertionError(f"the service did not answer within 60 s: {logs.stdout}{logs.stderr}")
                time.sleep(0.5)
        yield name, url
    finally:
        podman(engine.env, "rm", "--force", "--time", "2", name, check=False)
        podman(engine.env, "volume", "rm", "--force", volume, check=False)


def in_container(engine: Engine, name: str, *command: str) -> subprocess.CompletedProcess[str]:
    return podman(engine.env, "exec", name, *command, check=False)


def test_the_gate_builds_the_dockerfile_with_podman_and_scans_all_of_it(built):
    result = built.result
    assert result["status"] == "fail", built.output
    assert {f["id"] for f in result["findings"]} == EXPECTED
    assert result["coverage_gaps"] == [] and result["accepted_gaps"] == []
    # Every OS package and Python distribution the image holds (a Debian 13 minbase with Python: ~100) was scanned.
    assert result["coverage"]["inventory"] == result["coverage"]["scanned"] > 80
    assert result["vulnerability_db"]["age_days"] == 0
    # The DB canary: the fixture DB (with the canary advisories) knows the image's Debian release and PyPI.
    checked = {c["what"].split()[0]: c["vulnerabilities"] for c in result["db_canary"]["checked"]}
    assert set(checked) == {"debian", "Python"} and min(checked.values()) >= 1
    # The secret scan read the image (its layers and configuration) and found nothing in it.
    assert not any(f["status"] == "secret" for f in result["findings"] + result["below_threshold"])


def test_healthz_answers_200_with_production_headers(container):
    _, url = container
    with urllib.request.urlopen(f"{url}/healthz/", timeout=5) as response:
        assert response.status == 200
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_every_process_of_the_service_runs_as_the_unprivileged_user(engine, container):
    name, _ = container
    done = in_container(engine, name, "sh", "-c", "grep -h '^Uid:' /proc/[0-9]*/status")
    uids = {line.split()[1] for line in done.stdout.splitlines()}
    assert done.returncode == 0 and uids == {str(APP_UID)}, done.stdout + done.stderr


def test_the_app_folder_is_read_only_to_the_service(engine, container):
    name, _ = container
    probe = ("import os\n"
             "for path in ('/app/probe', '/app/config/probe', '/app/manage.py'):\n"
             "    try:\n"
             "        open(path, 'a').close()\n"
             "        print('writable', path)\n"
             "    except PermissionError:\n"
             "        print('refused', path)\n")
    done = in_container(engine, name, "python", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["refused /app/probe", "refused /app/config/probe", "refused /app/manage.py"]


def test_the_healthcheck_reports_healthy(engine, built, container):
    name, _ = container
    healthcheck = json.loads(podman(engine.env, "image", "inspect", "--format", "{{json .HealthCheck}}", built.tag).stdout)
    assert "healthz" in " ".join(healthcheck["Test"])
    # Without systemd podman's health timer does not run: the check is run by hand, as the timer would.
    done = podman(engine.env, "healthcheck", "run", name, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    state = json.loads(podman(engine.env, "inspect", name).stdout)[0]["State"]
    assert (state.get("Health") or state.get("Healthcheck"))["Status"] == "healthy"


def test_manage_py_check_deploy_is_clean_inside(engine, container):
    name, _ = container
    done = in_container(engine, name, "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_the_build_time_ca_bundle_left_nothing_in_the_image(engine, built):
    def digest_in(image: str) -> str:
        done = podman(engine.env, "run", "--rm", "--user", "0", image, "sh", "-c",
                      "sha256sum /etc/ssl/certs/ca-certificates.crt; ls -A /root; ls /etc/pip.conf /etc/uv 2>&1 || true")
        return done.stdout

    assert digest_in(built.tag) == digest_in(engine.base)
    history = podman(engine.env, "history", "--no-trunc", "--format", "{{.CreatedBy}}", built.tag).stdout
    assert "ca-certificates.crt" not in history and "system-certs" not in history


@pytest.fixture(scope="module")
def saved_image(engine, built, tmp_path_factory) -> Path:
    """The built image saved with `podman save`, as a deployment pipeline hands it to the gate."""
    image = tmp_path_factory.mktemp("saved") / "image.tar"
    podman(engine.env, "save", "--format", "docker-archive", "--output", str(image), built.tag, timeout=300)
    return image


def test_the_saved_image_is_scanned_from_its_tarball(engine, built, saved_image, trivy_cache, tmp_path):
    done = make_security_docker(engine, trivy_cache, tmp_path / "reports", IMAGE_TAR=str(saved_image))
    result = json.loads((tmp_path / "reports" / "trivy.json").read_text())
    # make itself exits 2 when a recipe fails, whatever the gate's own status: the result file says which.
    assert done.returncode != 0 and result["status"] == "fail", done.stdout + done.stderr
    assert {f["id"] for f in result["findings"]} == EXPECTED
    assert result["coverage_gaps"] == [] and result["coverage"] == built.result["coverage"]
    raw = json.loads((tmp_path / "reports" / "trivy.raw.json").read_text())
    assert raw["Metadata"]["OS"]["Family"] == "debian"
    assert raw["Metadata"]["OS"]["Name"].split(".")[0] == BASE_RELEASE
    # The kept report has none of the image's environment or history (DJANGO settings, PATH, build steps).
    assert set(raw["Metadata"]["ImageConfig"]) <= {"architecture", "os", "created", "rootfs"}
    assert "DATABASE_PATH" not in json.dumps(raw) and "CreatedBy" not in json.dumps(raw)


def test_the_gate_passes_on_the_base_image_with_a_db_that_knows_its_release(engine, saved_image, unfixed_cache,
                                                                            tmp_path):
    """The canaries pass on Debian 13 and PyPI; the one advisory with no fix is counted (IGNORE_UNFIXED=false is
    the default) until the suppression file accepts it with a reason and an expiry; then the gate passes."""
    unaccepted = make_security_docker(engine, unfixed_cache, tmp_path / "unaccepted", IMAGE_TAR=str(saved_image))
    result = json.loads((tmp_path / "unaccepted" / "trivy.json").read_text())
    assert unaccepted.returncode != 0 and result["status"] == "fail", unaccepted.stdout + unaccepted.stderr
    assert [(f["id"], f["package"]["name"], f["fix"]) for f in result["findings"]] == [("CVE-2099-7002", "zlib1g", None)]

    suppressions = tmp_path / "suppressions.json"
    suppressions.write_text(json.dumps({"suppressions": [{
        "scan": "trivy", "id": "CVE-2099-7002",
        "reason": "zlib's minizip is not used by the service; Debian will not fix it (no-dsa); reviewed in SEC-1",
        "expires": "2099-01-31"}]}))
    accepted = make_security_docker(engine, unfixed_cache, tmp_path / "accepted", IMAGE_TAR=str(saved_image),
                                    SECURITY_SUPPRESSIONS=str(suppressions))
    result = json.loads((tmp_path / "accepted" / "trivy.json").read_text())
    assert accepted.returncode == 0 and result["status"] == "pass", accepted.stdout + accepted.stderr
    assert result["findings"] == [] and result["coverage_gaps"] == []
    assert [(f["id"], f["suppression"]["expires"]) for f in result["suppressed"]] == [("CVE-2099-7002", "2099-01-31")]
    checked = {c["what"]: c["vulnerabilities"] for c in result["db_canary"]["checked"]}
    assert min(checked.values()) >= 1 and any(what.startswith(f"debian {BASE_RELEASE}.") for what in checked), checked
