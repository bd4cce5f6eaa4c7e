"""detect-secrets reads the history: every blob the commits of a range introduce (SECRETS_SINCE), in real git
repositories these tests build.

Each repository is small and built once per module; each test runs the real detect-secrets scan on it
(scans/detect-secrets/run.sh, or `make security-code CODE_SCANS=detect-secrets` for the issue's own check).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, VENV_BIN, gate_env, run_scan
from support.projects import git, git_commit_all, write_tree

# Planted secrets, built at run time so that this file holds none of them whole; one per repository, so that no
# test can pass on another's key.
KEYS = {name: "AKIA" + suffix for name, suffix in (
    ("removed", "QYLPMN5HFIQR7ABC"), ("merge", "QYLPMN5HFIQR7DEF"), ("renamed", "QYLPMN5HFIQR7GHI"),
    ("side", "QYLPMN5HFIQR7JKL"), ("pushed", "QYLPMN5HFIQR7MNO"), ("local", "QYLPMN5HFIQR7PQR"),
    ("rewritten", "QYLPMN5HFIQR7STU"), ("lines", "QYLPMN5HFIQR7VWX"))}
OLD_PASSWORD = "DB_PASS" + "WORD = 'correct-horse-battery-staple-example'\n"  # a Secret Keyword  # pragma: allowlist secret
CLEAN = {"apps/__init__.py": "", "apps/views.py": "def index():\n    return 'ok'\n"}


def commit(root: Path, files: dict[str, str | None], message: str) -> str:
    """Write (None: delete) files, commit them all; the new commit's id."""
    for name, text in files.items():
        if text is None:
            (root / name).unlink()
        else:
            write_tree(root, {name: text})
    return git_commit_all(root, message)


def key_file(key: str) -> str:
    return f"aws:\n  access_key_id: {key}\n"


def scan(project: Path, reports: Path, since: str | None = None, cache: Path | None = None):
    env = {"SECURITY_CACHE_DIR": str(cache or reports / "cache")}
    if since is not None:
        env["SECRETS_SINCE"] = since
    return run_scan("detect-secrets", project, reports, env)


def everything(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*")) if p.is_file())



def based_on_a_clean_commit(path: Path) -> tuple[Path, dict[str, str]]:
    """A repository at path whose first commit, "base", holds the clean tree; (path, {"base": its id})."""
    write_tree(path, CLEAN)
    return path, {"base": git_commit_all(path, "base")}

@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict:
    """The histories of the cases, each in a repository of its own: {case: (path, {commit name: id})}."""
    root = tmp_path_factory.mktemp("history")
    made = {}

    # A pull request whose first commit adds a key and whose second removes it.
    p, ids = based_on_a_clean_commit(root / "removed")
    ids["add"] = commit(p, {"config/prod.yaml": key_file(KEYS["removed"])}, "add prod config")
    ids["remove"] = commit(p, {"config/prod.yaml": None}, "remove prod config")
    made["removed"] = (p, ids)

    # A key that only the merge commit's resolution holds (an "evil merge").
    p, ids = based_on_a_clean_commit(root / "merge")
    git(p, "checkout", "-q", "-b", "side")
    commit(p, {"apps/side.py": "SIDE = 1\n"}, "side work")
    git(p, "checkout", "-q", "main")
    commit(p, {"apps/main.py": "MAIN = 1\n"}, "main work")
    git(p, "merge", "-q", "--no-ff", "--no-commit", "side")
    write_tree(p, {"apps/side.py": f"SIDE = 1\nKEY = '{KEYS['merge']}'\n"})
    ids["merge"] = git_commit_all(p, "merge side")
    commit(p, {"apps/side.py": "SIDE = 1\n"}, "drop the key")
    made["merge"] = (p, ids)

    # A key in a file a later commit renames, and a later one deletes.
    p, ids = based_on_a_clean_commit(root / "renamed")
    ids["add"] = commit(p, {"config/old.yaml": key_file(KEYS["renamed"])}, "add config")
    git(p, "mv", "config/old.yaml", "config/new.yaml")
    ids["rename"] = git_commit_all(p, "rename config")
    ids["delete"] = commit(p, {"config/new.yaml": None}, "delete config")
    made["renamed"] = (p, ids)

    # A side branch, which added and removed a key, merged into the pull request's branch.
    p, ids = based_on_a_clean_commit(root / "side")
    git(p, "checkout", "-q", "-b", "pr")
    commit(p, {"apps/pr.py": "PR = 1\n"}, "pr work")
    git(p, "checkout", "-q", "-b", "helper")
    ids["side_add"] = commit(p, {"deploy/.env.production": f"AWS_ACCESS_KEY_ID={KEYS['side']}\n"}, "side env")
    commit(p, {"deploy/.env.production": "AWS_ACCESS_KEY_ID=\n"}, "side env emptied")
    git(p, "checkout", "-q", "pr")
    commit(p, {"apps/pr2.py": "PR2 = 1\n"}, "more pr work")
    git(p, "merge", "-q", "--no-ff", "-m", "merge helper", "helper")
    made["side"] = (p, ids)
    return made


def test_a_key_added_then_removed_in_the_range_fails_naming_its_commit_and_path_never_the_value(repos, tmp_path):
    project, ids = repos["removed"]
    reports = tmp_path / "reports"
    proc = subprocess.run(
        ["make", "-s", "-C", str(REPO_ROOT), "security-code", "CODE_SCANS=detect-secrets",
         f"SECRETS_SINCE={ids['base']}"],
        env=gate_env(project, reports, {"SECURITY_CACHE_DIR": str(tmp_path / "cache")}),
        capture_output=True, text=True, check=False, timeout=300)
    output = proc.stdout + proc.stderr
    result = json.loads((reports / "detect-secrets.json").read_text())
    assert proc.returncode != 0 and result["status"] == "fail", output
    [finding] = result["findings"]
    assert finding["id"] == "AWS Access Key"
    assert finding["location"] == {"path": "config/prod.yaml", "line": 2, "detail": f"introduced by commit {ids['add']}"}
    assert ids["add"] in output and "config/prod.yaml" in output
    history = result["history"]
    assert history["commits"] == [ids["add"], ids["remove"]] and history["since"] == ids["base"]
    assert history["blobs"] == 1 and history["spec"] == ids["base"]
    for text in (output, everything(reports), everything(tmp_path / "cache")):
        assert KEYS["removed"] not in text


def the_one_failing_finding(repos, name, tmp_path):
    """Scan repository NAME's range since its base: the result, which must fail, its one finding and the ids."""
    project, ids = repos[name]
    run = scan(project, tmp_path / "reports", since=ids["base"])
    result = run.result("detect-secrets")
    assert result["status"] == "fail", run.output
    [finding] = result["findings"]
    return result, finding, ids


def test_a_key_only_in_a_merge_s_resolution_is_found_in_the_merge_commit(repos, tmp_path):
    _, finding, ids = the_one_failing_finding(repos, "merge", tmp_path)
    assert finding["location"]["path"] == "apps/side.py"
    assert finding["location"]["detail"] == f"introduced by commit {ids['merge']}"


def test_a_key_in_a_file_later_renamed_and_deleted_is_one_finding_listing_both_commits(repos, tmp_path):
    _, finding, ids = the_one_failing_finding(repos, "renamed", tmp_path)
    assert finding["location"]["path"] == "config/old.yaml"
    assert finding["location"]["detail"] == f"introduced by commit {ids['add']}; also in 1 more: {ids['rename']}"


def test_a_side_branch_merged_into_the_pull_request_is_read_commit_by_commit(repos, tmp_path):
    result, finding, ids = the_one_failing_finding(repos, "side", tmp_path)
    assert finding["location"]["path"] == "deploy/.env.production"
    assert finding["location"]["detail"] == f"introduced by commit {ids['side_add']}"
    assert len(result["history"]["commits"]) == 5  # pr work, the helper's two, more pr work, the merge


def test_an_unknown_rev_is_an_error_naming_it(repos, tmp_path):
    project, _ = repos["removed"]
    run = scan(project, tmp_path / "reports", since="no-such-branch")
    result = run.result("detect-secrets")
    assert result["status"] == "error" and run.rc == 2
    assert "SECRETS_SINCE=no-such-branch is not a commit this repository has" in result["error"]


def test_a_shallow_clone_missing_the_range_is_an_error_naming_the_cause(repos, tmp_path):
    source, ids = repos["removed"]
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{source}", str(clone))
    run = scan(clone, tmp_path / "reports", since=ids["base"])
    result = run.result("detect-secrets")
    assert result["status"] == "error", run.output
    assert "is not a commit this repository has" in result["error"] and "shallow clone" in result["error"]

    run = scan(clone, tmp_path / "reports-all", since="all")
    result = run.result("detect-secrets")
    assert result["status"] == "error", run.output
    assert f"shallow clone and the range reaches commit {ids['remove']}, whose parents were not fetched" in result["error"]


def test_a_rev_a_force_push_left_behind_reads_every_commit_since_the_merge_base(tmp_path):
    project = tmp_path / "rewritten"
    write_tree(project, CLEAN)
    base = git_commit_all(project, "base")
    old_tip = commit(project, {"apps/a.py": "A = 1\n"}, "first try")
    git(project, "reset", "-q", "--hard", base)
    added = commit(project, {"config/prod.yaml": key_file(KEYS["rewritten"])}, "second try")
    commit(project, {"config/prod.yaml": None}, "second try, cleaned")
    run = scan(project, tmp_path / "reports", since=old_tip)
    result = run.result("detect-secrets")
    assert result["status"] == "fail", run.output
    assert result["history"]["not_ancestor"] is True and result["history"]["merge_base"] == base
    assert [f["location"]["detail"] for f in result["findings"]] == [f"introduced by commit {added}"]


def test_an_audited_false_positive_seen_again_in_history_is_not_reported_again(tmp_path):
    project = tmp_path / "audited"
    key = KEYS["local"]
    write_tree(project, {**CLEAN, "config/keys.py": f"EXAMPLE = '{key}'\n", "docs/old.py": OLD_PASSWORD})
    baseline = json.loads(subprocess.run([str(VENV_BIN / "detect-secrets"), "scan", "config/keys.py", "docs/old.py"],
                                         cwd=project, capture_output=True, text=True, check=True).stdout)
    for entries in baseline["results"].values():
        for entry in entries:
            entry["is_secret"] = False
    (project / ".secrets.baseline").write_text(json.dumps(baseline, indent=2))
    git_commit_all(project, "audited examples")
    commit(project, {"docs/old.py": None}, "old example gone (its audit stays in the baseline)")
    run = scan(project, tmp_path / "reports", since="all")
    result = run.result("detect-secrets")
    assert result["status"] == "pass", run.output
    assert result["findings"] == []
    suppressed = sorted((f["location"]["path"], f["title"]) for f in result["suppressed"])
    assert [path for path, _ in suppressed] == ["config/keys.py", "docs/old.py"]  # the tree's, and the history's
    assert "in the history" in suppressed[1][1]


def test_the_default_range_is_every_commit_without_a_remote_and_the_unpushed_ones_with_one(repos, tmp_path):
    source, ids = repos["removed"]
    run = scan(source, tmp_path / "reports-local")
    result = run.result("detect-secrets")
    assert result["status"] == "fail" and result["history"]["remote_refs"] == 0, run.output
    assert result["history"]["commits"] == [ids["base"], ids["add"], ids["remove"]]

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", f"file://{source}", str(clone))
    added = commit(clone, {"deploy/.env.production": f"AWS_ACCESS_KEY_ID={KEYS['pushed']}\n"}, "local env")
    removed = commit(clone, {"deploy/.env.production": None}, "local env removed")
    run = scan(clone, tmp_path / "reports-clone")
    result = run.result("detect-secrets")
    assert result["status"] == "fail", run.output
    assert result["history"]["commits"] == [added, removed] and result["history"]["remote_refs"] > 0
    assert [f["location"]["detail"] for f in result["findings"]] == [f"introduced by commit {added}"]


def test_a_blob_with_a_finding_is_read_again_as_the_lines_that_held_it_with_the_same_finding(tmp_path):
    project, ids = based_on_a_clean_commit(tmp_path / "project")
    body = "".join(f"VALUE_{n} = {n}\n" for n in range(40))
    ids["add"] = commit(project, {"apps/settings.py": body + f"AWS_KEY = '{KEYS['lines']}'\n" + body}, "a key")
    commit(project, {"apps/settings.py": None}, "remove it")
    cache = tmp_path / "cache"
    cold = scan(project, tmp_path / "cold", since="all", cache=cache)
    warm = scan(project, tmp_path / "warm", since="all", cache=cache)
    results = [run.result("detect-secrets") for run in (cold, warm)]
    assert [r["status"] for r in results] == ["fail", "fail"], cold.output + warm.output
    assert results[0]["findings"] == results[1]["findings"]
    assert results[1]["findings"][0]["location"] == {"path": "apps/settings.py", "line": 41,
                                                     "detail": f"introduced by commit {ids['add']}"}
    assert results[0]["history"]["blobs_read_as_finding_lines"] == 0
    assert results[1]["history"]["blobs_read_as_finding_lines"] == 1 and results[1]["history"]["blobs_read"] == 1
    assert KEYS["lines"] not in everything(cache) + everything(tmp_path / "warm")
