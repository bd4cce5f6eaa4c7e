"""Proof that the secret rules fire: each engine reads a canary of known-format tokens with the scan's own settings.

detect-secrets (tree and hook scans): a plugin removed from .secrets.baseline's plugins_used, or one whose setting stops
it from firing, ends the scan in `error` naming detect-secrets and the plugin; the canary is never a finding and never
coverage. trivy (`make security-docker`): its secret scanner, with the image scan's settings, reads a canary of
known-format tokens and the image's symlink targets: rules that do not fire end in `error` naming trivy and the class;
a token as a symlink's target fails naming the symlink and its layer, never the value; base-image links pass.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import string
import subprocess
import tarfile
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, fake_tool, gate_copy, gate_env, run_scan, tool_path
from support.projects import git, git_commit_all, write_tree
from support.trivy_fixtures import Symlink, build_trivy_db, image_layer_files, write_docker_archive


def repo_settings() -> dict:
    """This repository's baseline settings (plugins_used, filters_used) with no results: the gate's own."""
    baseline = json.loads((REPO_ROOT / ".secrets.baseline").read_text())
    return {"version": baseline["version"], "plugins_used": baseline["plugins_used"],
            "filters_used": baseline["filters_used"], "results": {}}


def project_with(root: Path, baseline: dict) -> Path:
    write_tree(root, {".gitignore": "reports/\n", "apps/greeting.py": "GREETING = 'hello'\n",
                      ".secrets.baseline": json.dumps(baseline, indent=2)})
    git_commit_all(root)
    return root


def detect_secrets(project: Path, reports: Path, tmp_path: Path, staged: bool) -> tuple[int, str, dict]:
    """scans/detect-secrets/run.sh on project (its tree and history, or --staged: what the hook runs)."""
    env = gate_env(project, reports, {"SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    proc = subprocess.run([str(REPO_ROOT / "scans" / "detect-secrets" / "run.sh"), *(["--staged"] if staged else [])],
                          env=env, cwd=project, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr, json.loads((reports / "detect-secrets.json").read_text())


@pytest.mark.parametrize("staged", [False, True], ids=["tree and history", "staged (the hook)"])
def test_a_detect_secrets_plugin_removed_from_the_baseline_is_an_error_naming_detect_secrets_and_the_class(
        tmp_path, reports, staged):
    settings = repo_settings()
    settings["plugins_used"] = [p for p in settings["plugins_used"] if p["name"] != "StripeDetector"]
    project = project_with(tmp_path / "p", settings)
    if staged:  # a change staged for the hook to read
        (project / "apps" / "greeting.py").write_text("GREETING = 'hello, world'\n")
        git(project, "add", "apps/greeting.py")
    rc, output, result = detect_secrets(project, reports, tmp_path, staged)
    assert rc == 2 and result["status"] == "error", output
    assert "detect-secrets' canary StripeDetector (Stripe Access Key): the plugin is not enabled" in result["error"]
    assert "AWSKeyDetector" not in result["error"] and result["findings"] == []


def test_a_plugin_whose_setting_keeps_it_from_firing_is_an_error_naming_detect_secrets_and_the_class(tmp_path, reports):
    settings = repo_settings()
    for plugin in settings["plugins_used"]:
        if plugin["name"] == "Base64HighEntropyString":
            plugin["limit"] = 7.0  # above any string's entropy: the plugin reads every line and reports nothing
    project = project_with(tmp_path / "p", settings)
    rc, output, result = detect_secrets(project, reports, tmp_path, staged=False)
    assert rc == 2 and result["status"] == "error", output
    assert "detect-secrets missed its canary Base64HighEntropyString (Base64 High Entropy String)" in result["error"]


def test_the_canary_is_neither_a_finding_nor_coverage(tmp_path, reports):
    project = project_with(tmp_path / "p", repo_settings())
    run = run_scan("detect-secrets", project, reports, env={"SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    result = run.result("detect-secrets")
    assert run.rc == 0 and result["status"] == "pass", run.output
    assert result["coverage"]["inventory"] == result["coverage"]["scanned"] == 2  # .gitignore, apps/greeting.py
    assert result["findings"] == result["suppressed"] == result["coverage_gaps"] == []


# --------------------------------------------------------------------------- trivy: the secret canary, symlinks

CLEAN_OS = [("bash", None, "5.2.15-2+b7")]
CLEAN_PYTHON = [("Django", "5.2.20")]
# A Debian base image's usual links: none holds a secret, none may be reported.
BASE_IMAGE_LINKS = {
    "bin": Symlink("usr/bin"), "lib": Symlink("usr/lib"), "sbin": Symlink("usr/sbin"),
    "etc/localtime": Symlink("/usr/share/zoneinfo/Etc/UTC"),
    "etc/alternatives/awk": Symlink("/usr/bin/mawk"),
    "usr/bin/python3": Symlink("python3.13"),
    "usr/lib/x86_64-linux-gnu/libssl.so.3": Symlink("libssl.so.3.0.15"),
    "etc/ssl/certs/ca-cert-ISRG_Root_X1.pem": Symlink("/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt"),
    "etc/rc2.d/S01procps": Symlink("../init.d/procps"),
}
# Of those, the targets of 10 bytes or more, which trivy's secret analyzer reads.
BASE_IMAGE_LINKS_READ = sum(1 for target in BASE_IMAGE_LINKS.values() if len(target) >= 10)


@pytest.fixture(scope="module")
def trivy_cache(tmp_path_factory) -> Path:
    """A fixture DB holding only the DB canary's advisories (the images here have nothing vulnerable)."""
    cache = tmp_path_factory.mktemp("trivy-db")
    build_trivy_db(cache, {}, debian={}, pip={})
    return cache


def github_token() -> str:
    return "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36))


def security_docker(tmp_path: Path, image: Path, cache: Path) -> tuple[int, str, dict]:
    """`make security-docker IMAGE_TAR=image`, offline with the fixture DB."""
    project, reports, tmp = tmp_path / "project", tmp_path / "reports", tmp_path / "tmp"
    project.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIVY_", "SECURITY_", "IMAGE", "GITHUB_"))}
    env.update(PATH=tool_path(), TMPDIR=str(tmp), TRIVY_CACHE_DIR=str(cache), TRIVY_SKIP_DB_UPDATE="true",
               TRIVY_SKIP_JAVA_DB_UPDATE="true", TRIVY_OFFLINE_SCAN="true")
    proc = subprocess.run(["make", "--no-print-directory", "security-docker", f"IMAGE_TAR={image}",
                           f"PROJECT_DIR={project}", f"SECURITY_REPORT_DIR={reports}"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr, json.loads((reports / "trivy.json").read_text())


def image(path: Path, links: dict[str, Symlink]) -> Path:
    """A clean Debian fixture image with base-image links in its first layer and links in a second one."""
    return write_docker_archive(path, {**image_layer_files(CLEAN_OS, CLEAN_PYTHON), **BASE_IMAGE_LINKS},
                                more_layers=[("COPY app /app # buildkit", {"app/main.py": b"print('hi')\n", **links})])


def files_holding(root: Path, needle: bytes, skip: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and not p.is_symlink() and p != skip
            and needle in p.read_bytes()]


def test_an_ordinary_image_passes_with_its_secret_canary_found_and_its_symlinks_read(tmp_path, trivy_cache):
    tar = image(tmp_path / "img.tar", {"app/current": Symlink("/app/releases/2026-12-07")})
    rc, output, result = security_docker(tmp_path, tar, trivy_cache)
    assert rc == 0 and result["status"] == "pass", output
    assert result["secret_canary"]["checked"] and all(c["found"] for c in result["secret_canary"]["checked"])
    assert result["secret_canary"]["symlinks_read"] == BASE_IMAGE_LINKS_READ + 1
    assert result["findings"] == [] and result["coverage_gaps"] == []


def test_an_image_symlink_whose_target_is_a_token_fails_naming_its_path_and_layer_never_the_value(tmp_path,
                                                                                                 trivy_cache):
    value = github_token()
    tar = image(tmp_path / "img.tar", {"app/token": Symlink(value)})
    rc, output, result = security_docker(tmp_path, tar, trivy_cache)
    assert rc == 2 and result["status"] == "fail", output
    [finding] = result["findings"]
    assert finding["id"] == "github-pat" and finding["title"].endswith(" in the target of the symlink /app/token")
    assert "symlink /app/token (its target), layer 2 of 2 (sha256:" in finding["location"]["detail"]
    for needle in (value, value[4:]):
        assert needle not in output
        assert files_holding(tmp_path, needle.encode(), skip=tar) == []


def test_trivy_secret_rules_disabled_by_a_trivy_secret_yaml_end_in_error_naming_trivy_and_the_class(tmp_path,
                                                                                                 trivy_cache):
    """trivy, given a trivy-secret.yaml that enables none of its built-in rules (here by a stand-in that puts one in
    the folder trivy runs in, which the gate keeps empty), reads every file and finds nothing: the canary says so."""
    real = shutil.which("trivy", path=tool_path())
    config = tmp_path / "trivy-secret.yaml"
    config.write_text("enable-builtin-rules:\n  - no-such-rule\n")
    stand_in = fake_tool(tmp_path / "bin", "trivy", f'cp {config} ./trivy-secret.yaml\nexec {real} "$@"\n')
    root = gate_copy(tmp_path / "gate", trivy=stand_in / "trivy")
    tar = image(tmp_path / "img.tar", {})
    (tmp_path / "project").mkdir()
    run = run_scan("trivy", tmp_path / "project", tmp_path / "reports", root=root, path=tool_path(stand_in), env={
        "IMAGE_TAR": str(tar), "TRIVY_CACHE_DIR": str(trivy_cache), "TRIVY_SKIP_DB_UPDATE": "true",
        "TRIVY_SKIP_JAVA_DB_UPDATE": "true", "TRIVY_OFFLINE_SCAN": "true"})
    result = run.result("trivy")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "trivy missed its secret canary GitHub token (ghp_): its rule github-pat did not fire" in result["error"]


def test_a_symlink_named_with_control_characters_is_reported_with_them_escaped(tmp_path, trivy_cache):
    tar = image(tmp_path / "img.tar", {"app/to\nken\x1b[31m": Symlink(github_token())})
    rc, output, result = security_docker(tmp_path, tar, trivy_cache)
    assert rc == 2 and result["status"] == "fail", output
    [finding] = result["findings"]
    assert finding["title"].endswith(" in the target of the symlink /app/to\\x0aken\\x1b[31m")
    assert "\x1b" not in output and "to\nken" not in output


def test_a_layer_whose_symlinks_cannot_be_read_is_a_gap_naming_it(tmp_path):
    """secret-canary.py alone: a layer that is not a tar (here garbage bytes) is named, the others still read."""
    tar = write_docker_archive(tmp_path / "img.tar", {"app/link": Symlink("/srv/releases/current")},
                               more_layers=[("COPY x /x", {"x/y": b"y\n"})])
    with tarfile.open(tar) as outer:  # the second layer's bytes replaced by garbage of the same name
        members = [(m, outer.extractfile(m).read() if m.isfile() else None) for m in outer.getmembers()]
    broken = tmp_path / "broken.tar"
    with tarfile.open(broken, "w") as out:
        for member, data in members:
            if data is not None and member.name.endswith("/layer.tar") and b"x/y" in data:
                data = b"\x00garbage" * 64
                member.size = len(data)
            out.addfile(member, io.BytesIO(data) if data is not None else None)
    proc = subprocess.run(["python3", "-S", str(REPO_ROOT / "scans" / "trivy" / "secret-canary.py"), str(broken),
                           str(tmp_path / "out")], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert [g["id"] for g in plan["gaps"]] == ["not-scanned:symlinks:layer-2"]
    assert plan["links"] == [{"file": "links/0", "places": [{"path": "/app/link", "layer": 1}]}]
    assert (tmp_path / "out" / "files" / "links" / "0").read_text() == "/srv/releases/current\n"
