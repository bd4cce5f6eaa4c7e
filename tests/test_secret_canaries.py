"""Proof that the secret rules fire: each engine reads a canary of known-format tokens with the scan's own settings.

detect-secrets (tree and hook scans): a plugin removed from .secrets.baseline's plugins_used, or one whose setting stops
it from firing, ends the scan in `error` naming detect-secrets and the plugin; the canary is never a finding and never
coverage. trivy (`make security-docker`): see the tests further down.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, gate_env, run_scan
from support.projects import git, git_commit_all, write_tree


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
