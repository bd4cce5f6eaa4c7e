"""A symlink's target text is committed data: both secret engines read it as a one-line file, never following the link.

detect-secrets and kingfisher read a symlink's target (os.readlink in the tree, git's mode 120000 blob in the
history and the index) written into their work folder under a number; a finding names the link (and the commit),
never the value. The tokens are built at run time from a provider's prefix and random characters, and every
report, raw output, summary, SARIF and cache file, and the scans' output, is searched for each value.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import string
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, gate_env, run_gate, run_scan
from support.projects import git, git_commit_all, write_tree

ENGINES = ("detect-secrets", "kingfisher")
ALNUM = string.ascii_letters + string.digits


def aws_key() -> str:
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def github_token() -> str:
    return "ghp_" + "".join(secrets.choice(ALNUM) for _ in range(36))


def project(root: Path) -> Path:
    write_tree(root, {"README.md": "# demo\n", "apps/views.py": "def index():\n    return 'ok'\n"})
    git_commit_all(root, "base")
    return root


def link(root: Path, path: str, target: str | bytes) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, root / path)


def written(*folders: Path) -> str:
    """Every file under the folders, as one text."""
    return "\n".join(p.read_text(errors="replace") for folder in folders if folder.exists()
                     for p in sorted(folder.rglob("*")) if p.is_file())


def assert_no_value(output: str, folders: tuple[Path, ...], *values: str) -> None:
    text = output + written(*folders)
    for value in values:
        assert value not in text
        assert hashlib.sha1(value.encode()).hexdigest() not in text  # detect-secrets' unsalted hash


def staged_scan(engine: str, root: Path, reports: Path, cache: Path) -> tuple[int, str]:
    proc = subprocess.run([str(REPO_ROOT / "scans" / engine / "run.sh"), "--staged"], cwd=root,
                          env=gate_env(root, reports, {"SECURITY_CACHE_DIR": str(cache)}),
                          capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """The module's scan cache: kingfisher compiles its rules once (cold, that alone takes seconds)."""
    return tmp_path_factory.mktemp("links-cache")


@pytest.fixture(scope="module")
def tree_scans(tmp_path_factory, cache):
    """A tree with a symlink to an AWS-key-like target, one to a GitHub-token-like target, one to an AWS-key-like
    target among control characters, and harmless ones (a file in the tree, a dangling path): the code gate with both engines (their
    results, SARIF, summary, step summary and annotations), then detect-secrets again, warm (its cache answers the
    harmless links)."""
    root = project(tmp_path_factory.mktemp("links") / "project")
    aws, token, hidden = aws_key(), github_token(), aws_key()
    link(root, "config/aws-link", aws)
    link(root, "config/token-link", token)
    link(root, "config/control-link", f"\x1b]0;pwned\x07\r{hidden}\x1b[2J")
    link(root, "docs/readme", "../README.md")
    link(root, "docs/gone", "../missing/file.txt")
    git_commit_all(root, "links")
    reports = tmp_path_factory.mktemp("gate")
    cold = run_gate("security-code", root, reports, {"SECURITY_CACHE_DIR": str(cache), "GITHUB_ACTIONS": "true",
                                                     "GITHUB_STEP_SUMMARY": str(reports / "step-summary.md")},
                    scans=ENGINES)
    warm = run_scan("detect-secrets", root, tmp_path_factory.mktemp("warm"), {"SECURITY_CACHE_DIR": str(cache)})
    runs = {("detect-secrets", "cold"): cold, ("kingfisher", "cold"): cold, ("detect-secrets", "warm"): warm}
    return runs, (aws, token, hidden)


RUNS = [("detect-secrets", "cold"), ("detect-secrets", "warm"), ("kingfisher", "cold")]


@pytest.mark.parametrize("engine, pass_", RUNS)
def test_a_symlink_to_a_token_fails_the_tree_scan_naming_the_link(tree_scans, engine, pass_):
    runs, _ = tree_scans
    run = runs[engine, pass_]
    assert run.rc == 1, run.output
    result = run.result(engine)
    paths = {f["location"]["path"] for f in result["findings"]}
    # kingfisher's AWS rule wants the secret key beside the key id: the GitHub token is the one it must find.
    assert paths == ({"config/aws-link", "config/token-link", "config/control-link"} if engine == "detect-secrets"
                     else {"config/token-link"})
    assert "docs/readme" not in json.dumps(result["findings"] + result["below_threshold"] + result["suppressed"])


@pytest.mark.parametrize("engine, pass_", RUNS)
def test_every_symlink_is_in_the_inventory_and_comes_back_scanned(tree_scans, engine, pass_):
    runs, _ = tree_scans
    result = runs[engine, pass_].result(engine)
    assert result["coverage"]["scanned"] == result["coverage"]["inventory"] >= 7, result["coverage"]
    assert not [x for x in result["excluded"] if "symlink" in json.dumps(x)], result["excluded"]
    assert not result["coverage_gaps"], result["coverage_gaps"]


def test_the_gate_s_sarif_and_summary_name_the_link_once_for_both_engines(tree_scans):
    runs, _ = tree_scans
    reports = runs["kingfisher", "cold"].reports
    sarif = json.loads((reports / "security-code.sarif").read_text())
    at = [r for run_ in sarif["runs"] for r in run_["results"]
          if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "config/token-link"]
    assert len(at) == 1 and at[0]["properties"]["engines"] == ["detect-secrets", "kingfisher"], at
    assert (reports / "security-code.md").read_text().count("config/token-link:1") == 1


def test_no_value_and_no_control_character_of_a_target_reaches_a_report_or_the_cache(tree_scans, cache):
    runs, values = tree_scans
    distinct = [runs["kingfisher", "cold"], runs["detect-secrets", "warm"]]  # the gate's run, the warm scan
    output = "".join(run.output for run in distinct)
    assert_no_value(output, (*(run.reports for run in distinct), cache), *values)
    text = output + written(*(run.reports for run in distinct))
    assert "\x1b" not in text and "\x07" not in text and "pwned" not in text


def test_a_symlink_added_then_removed_fails_the_history_scan_naming_the_link_and_commit(tmp_path, cache):
    root = project(tmp_path / "project")
    aws, token = aws_key(), github_token()
    link(root, "config/aws-link", aws)
    link(root, "config/token-link", token)
    # A mode 120000 blob of any length (git stores what it is given): tokens at the end of 200 KB of path (each
    # of another class: detect-secrets' GitHub plugin hashes every ghp_ token alike, one finding for all).
    long_aws, long_token = aws_key(), "dapi" + "".join(secrets.choice("0123456789abcdef") for _ in range(32))
    long_text = "a/" * 100_000 + f"{long_aws}/DATABRICKS_TOKEN={long_token}"
    (tmp_path / "long-target").write_text(long_text)
    blob = git(root, "hash-object", "-w", str(tmp_path / "long-target")).strip()
    git(root, "update-index", "--add", "--cacheinfo", f"120000,{blob},deploy/long-link")
    git(root, "add", "config")
    git(root, "commit", "-q", "-m", "add links")
    added = git(root, "rev-parse", "HEAD").strip()
    git(root, "rm", "-q", "--cached", "deploy/long-link")
    (root / "config" / "aws-link").unlink()
    (root / "config" / "token-link").unlink()
    git_commit_all(root, "remove them")
    for engine in ENGINES:
        run = run_scan(engine, root, tmp_path / engine, {"SECRETS_SINCE": "all", "SECURITY_CACHE_DIR": str(cache)})
        assert run.rc == 1, run.output
        findings = run.result(engine)["findings"]
        paths = {f["location"]["path"] for f in findings}
        expected = {"config/token-link", "deploy/long-link"} | ({"config/aws-link"} if engine == "detect-secrets"
                                                                 else set())
        assert paths == expected, findings
        assert all(added in f["location"]["detail"] for f in findings), findings
        assert_no_value(run.output, (run.reports, cache), aws, token, long_aws, long_token)


def test_a_staged_symlink_to_a_token_fails_the_hook_s_scans_naming_the_link(tmp_path, cache):
    root = project(tmp_path / "project")
    token = github_token()
    link(root, "config/staged-link", token)
    link(root, "config/readme", "../README.md")
    git(root, "add", "config")
    for engine in ENGINES:
        reports = tmp_path / engine
        rc, output = staged_scan(engine, root, reports, cache)
        assert rc == 1, output
        result = json.loads((reports / f"{engine}.json").read_text())
        assert [f["location"]["path"] for f in result["findings"]] == ["config/staged-link"], result["findings"]
        assert result["coverage"] == {"inventory": 2, "scanned": 2}
        assert_no_value(output, (reports, cache), token)
    # The hook itself, as pre-commit runs it.
    hook = subprocess.run([str(REPO_ROOT / "scripts" / "pre-commit.sh"), "detect-secrets"], cwd=root,
                          env=gate_env(root, tmp_path / "hook", {"SECURITY_CACHE_DIR": str(cache)}),
                          capture_output=True, text=True, timeout=300, check=False)
    assert hook.returncode == 1 and "config/staged-link" in hook.stdout + hook.stderr, hook.stdout + hook.stderr
    assert token not in hook.stdout + hook.stderr


def test_harmless_symlinks_pass_both_engines(tmp_path, cache):
    root = project(tmp_path / "project")
    link(root, "docs/readme", "../README.md")
    link(root, "apps/alias.py", "views.py")
    link(root, "docs/outside", "/etc/hostname")
    git_commit_all(root, "harmless links")
    for engine in ENGINES:
        run = run_scan(engine, root, tmp_path / engine, {"SECURITY_CACHE_DIR": str(cache)})
        assert run.rc == 0, run.output
        result = run.result(engine)
        assert result["status"] == "pass" and result["coverage"]["scanned"] == result["coverage"]["inventory"] == 5


def test_a_link_audited_in_the_baseline_is_accepted_and_one_whose_text_is_not_utf8_is_a_gap_naming_it(tmp_path,
                                                                                                      cache):
    root = project(tmp_path / "project")
    aws = aws_key()
    link(root, "config/aws-link", aws)
    link(root, "config/latin1", b"caf\xe9")
    entry = {"type": "AWS Access Key", "filename": "config/aws-link", "is_verified": False, "line_number": 1,
             "hashed_secret": hashlib.sha1(aws.encode()).hexdigest(), "is_secret": False}
    baseline = json.loads(subprocess.run([str(REPO_ROOT / ".venv" / "bin" / "detect-secrets"), "scan", "README.md"],
                                         cwd=root, capture_output=True, text=True, check=True).stdout)
    baseline["results"] = {"config/aws-link": [entry]}
    (root / ".secrets.baseline").write_text(json.dumps(baseline))
    git_commit_all(root, "links and a baseline")
    run = run_scan("detect-secrets", root, tmp_path / "reports", {"SECURITY_CACHE_DIR": str(cache)})
    assert run.rc == 2, run.output
    result = run.result("detect-secrets")
    assert [g["id"] for g in result["coverage_gaps"]] == ["not-scanned:config/latin1"], result["coverage_gaps"]
    assert not result["findings"] and [f["location"]["path"] for f in result["suppressed"]] == ["config/aws-link"]
    assert_no_value(run.output, (run.reports, cache), aws)
