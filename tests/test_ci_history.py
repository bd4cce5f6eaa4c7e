"""The workflow's two decisions, run on real git repositories: which commits the secret scan reads and how much
history the code job fetches for them (scripts/ci/secrets-range.sh), and whether a pull request's docker job
builds (scripts/ci/image-inputs-changed.sh).

An "origin" repository stands in for GitHub: main with 80 commits, a pull request branch forked from main 20
commits ago (3 commits, one of them a merge of main), and the pull request's merge ref, as GitHub makes it. A
checkout is a shallow clone over file:// (fetching by commit id works there, as on GitHub), as actions/checkout
makes one.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support.projects import REPO_ROOT, git, git_env, write_tree

RANGE_SCRIPT = REPO_ROOT / "scripts" / "ci" / "secrets-range.sh"
INPUTS_SCRIPT = REPO_ROOT / "scripts" / "ci" / "image-inputs-changed.sh"
NO_COMMIT = "0" * 40


def commit(root: Path, path: str, text: str) -> str:
    write_tree(root, {path: text})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"{path}: {text}")
    return git(root, "rev-parse", "HEAD").strip()


@pytest.fixture(scope="module")
def origin(tmp_path_factory):
    """The origin and the commits the tests name."""
    root = tmp_path_factory.mktemp("origin")
    git(root, "init", "-q", "-b", "main")
    for i in range(60):
        commit(root, "main.txt", f"main {i}")
    fork = git(root, "rev-parse", "HEAD").strip()
    for i in range(60, 65):
        commit(root, "main.txt", f"main {i}")
    git(root, "checkout", "-q", "-b", "feature", fork)
    pr = [commit(root, "config/prod.yaml", "first")]
    git(root, "merge", "-q", "--no-edit", "main")  # main merged into the pull request's branch
    pr.append(git(root, "rev-parse", "HEAD").strip())
    pr.append(commit(root, "config/prod.yaml", "second"))
    git(root, "checkout", "-q", "main")
    for i in range(65, 80):
        commit(root, "main.txt", f"main {i}")
    base = git(root, "rev-parse", "HEAD").strip()
    git(root, "merge", "-q", "--no-ff", "--no-edit", "feature")  # the merge ref GitHub makes for the pull request
    merge = git(root, "rev-parse", "HEAD").strip()
    git(root, "update-ref", "refs/pull/1/merge", merge)
    git(root, "reset", "-q", "--hard", base)
    return {"root": root, "base": base, "fork": fork, "pr": pr, "merge": merge}


def checkout(origin: dict, workdir: Path, commit_id: str, depth: int = 1) -> Path:
    """A clone of origin holding commit_id and `depth` commits of its history, as actions/checkout leaves it."""
    git(workdir, "init", "-q", "clone")
    clone = workdir / "clone"
    git(clone, "remote", "add", "origin", f"file://{origin['root']}")
    git(clone, "fetch", "-q", "--no-tags", f"--depth={depth}", "origin", commit_id)
    git(clone, "checkout", "-q", "--detach", commit_id)
    return clone


def run_range(clone: Path, **event: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    output = clone.parent / "github_output"
    env = {**git_env(), "GITHUB_OUTPUT": str(output), **event}
    proc = subprocess.run([str(RANGE_SCRIPT)], cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines()) if output.exists() else {}
    return proc, outputs


def range_commits(clone: Path, since: str) -> set[str]:
    spec = ["HEAD"] if since == "all" else ["HEAD", "--not", since]
    return set(git(clone, "rev-list", *spec).split())


def shallow_commits(clone: Path) -> set[str]:
    shallow = clone / ".git" / "shallow"
    return set(shallow.read_text().split()) if shallow.exists() else set()


def present_commits(clone: Path) -> int:
    return len(git(clone, "rev-list", "--all", "HEAD").split())


def test_a_pull_request_reads_its_own_commits_and_merge_fetching_only_that_history(origin, tmp_path):
    clone = checkout(origin, tmp_path, origin["merge"])

    proc, outputs = run_range(clone, GITHUB_EVENT_NAME="pull_request", PR_HEAD_SHA=origin["pr"][-1],
                              PR_BASE_SHA=origin["base"])

    assert proc.returncode == 0, proc.stderr
    assert outputs == {"since": origin["base"]}
    commits = range_commits(clone, outputs["since"])
    assert commits == {origin["merge"], *origin["pr"]}
    assert not commits & shallow_commits(clone)  # every commit of the range has its parents here
    assert present_commits(clone) < 80 + 3  # not the whole history
    assert "history complete" in proc.stdout


def test_a_pull_request_checked_out_at_its_head_reads_from_its_base(origin, tmp_path):
    clone = checkout(origin, tmp_path, origin["pr"][-1])

    proc, outputs = run_range(clone, GITHUB_EVENT_NAME="pull_request", PR_HEAD_SHA="not-this-commit",
                              PR_BASE_SHA=origin["base"])

    assert proc.returncode == 0, proc.stderr
    assert outputs == {"since": origin["base"]}
    assert range_commits(clone, origin["base"]) == set(origin["pr"])
    assert not range_commits(clone, origin["base"]) & shallow_commits(clone)


def test_a_push_reads_the_commits_after_the_previous_tip(origin, tmp_path):
    clone = checkout(origin, tmp_path, origin["merge"])

    proc, outputs = run_range(clone, GITHUB_EVENT_NAME="push", PUSH_BEFORE=origin["base"], PUSH_FORCED="false")

    assert proc.returncode == 0, proc.stderr
    assert outputs == {"since": origin["base"]}
    assert range_commits(clone, origin["base"]) == {origin["merge"], *origin["pr"]}
    assert not range_commits(clone, origin["base"]) & shallow_commits(clone)


@pytest.mark.parametrize("event", [
    {"GITHUB_EVENT_NAME": "push", "PUSH_BEFORE": "BASE", "PUSH_FORCED": "true"},  # the previous tip may be gone
    {"GITHUB_EVENT_NAME": "push", "PUSH_BEFORE": NO_COMMIT, "PUSH_FORCED": "false"},  # a new branch
    {"GITHUB_EVENT_NAME": "schedule"},
], ids=["force-push", "new-branch", "daily"])
def test_a_force_push_a_new_branch_and_the_daily_run_read_the_whole_history(origin, tmp_path, event):
    clone = checkout(origin, tmp_path, origin["merge"])
    event = {name: origin["base"] if value == "BASE" else value for name, value in event.items()}

    proc, outputs = run_range(clone, **event)

    assert proc.returncode == 0, proc.stderr
    assert outputs == {"since": "all"}
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "false"
    assert len(range_commits(clone, "all")) == 80 + 3 + 1


def test_a_fetch_that_fails_still_names_the_range_and_leaves_the_clone_shallow_for_the_gate_to_refuse(
        origin, tmp_path):
    clone = checkout(origin, tmp_path, origin["merge"], depth=2)
    git(clone, "remote", "set-url", "origin", f"file://{tmp_path}/no-such-repository")

    proc, outputs = run_range(clone, GITHUB_EVENT_NAME="push", PUSH_BEFORE=origin["base"], PUSH_FORCED="false")

    assert proc.returncode == 1
    assert outputs == {"since": origin["base"]}
    assert "could not fetch" in proc.stderr
    assert range_commits(clone, origin["base"]) & shallow_commits(clone)  # incomplete: the gate must say so


def run_inputs(clone: Path, event: str) -> str:
    output = clone.parent / "github_output"
    output.unlink(missing_ok=True)
    env = {**git_env(), "GITHUB_OUTPUT": str(output), "GITHUB_EVENT_NAME": event}
    proc = subprocess.run([str(INPUTS_SCRIPT)], cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    (line,) = output.read_text().splitlines()
    return line


@pytest.fixture
def pull_request(tmp_path):
    """make(files): a merge commit of a pull request that changes `files`, checked out at depth 2."""
    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "pr-origin"
        write_tree(root, {"apps/views.py": "x = 1\n", "docs/x.yaml": "a: 1\n", "README.md": "hi\n"})
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "base")
        git(root, "checkout", "-q", "-b", "feature")
        write_tree(root, files)
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "change")
        git(root, "checkout", "-q", "main")
        commit(root, "README.md", "main moved on\n")
        git(root, "merge", "-q", "--no-ff", "--no-edit", "feature")
        merge = git(root, "rev-parse", "HEAD").strip()
        return checkout({"root": root}, tmp_path, merge, depth=2)
    return make


def test_a_pull_request_changing_only_yaml_and_docs_does_not_build_the_image(pull_request):
    clone = pull_request({"docs/x.yaml": "a: 2\n", "config.yaml": "b: 1\n"})
    assert run_inputs(clone, "pull_request") == "build=false"
    assert run_inputs(clone, "push") == "build=true"  # main always builds
    assert run_inputs(clone, "schedule") == "build=true"


@pytest.mark.parametrize("path", ["apps/views.py", "uv.lock", "deploy/docker/Dockerfile", "scans/trivy/run.sh",
                                  ".github/workflows/security.yml"])
def test_a_pull_request_changing_what_the_image_is_built_or_scanned_from_builds_it(pull_request, path):
    clone = pull_request({path: "changed\n"})
    assert run_inputs(clone, "pull_request") == "build=true"


@pytest.mark.parametrize("name", [".trivyignore", ".trivyignore.yaml", "trivy.yaml", "trivy-secret.yaml"])
def test_a_pull_request_adding_only_a_trivy_settings_file_builds_and_scans_the_image(pull_request, tmp_path, name):
    listed = (REPO_ROOT / "scans" / "trivy" / "settings-files").read_text().splitlines()
    assert name in listed  # the list the image scan reports them from (scans/trivy/run.sh)
    clone = pull_request({name: "CVE-2099-0001\n"})
    summary = tmp_path / "summary.md"
    output = tmp_path / "github_output"
    env = {**git_env(), "GITHUB_OUTPUT": str(output), "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_STEP_SUMMARY": str(summary)}
    proc = subprocess.run([str(INPUTS_SCRIPT)], cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert output.read_text() == "build=true\n"
    assert not summary.exists()


def test_a_trivy_settings_file_below_the_top_of_the_checkout_is_no_image_input(pull_request):
    clone = pull_request({"docs/.trivyignore": "CVE-2099-0001\n"})  # trivy reads only the folder it runs in
    assert run_inputs(clone, "pull_request") == "build=false"


def test_a_pull_request_that_builds_nothing_names_the_trivy_settings_files_it_did_not_change(pull_request, tmp_path):
    clone = pull_request({"docs/x.yaml": "a: 2\n"})
    summary = tmp_path / "summary.md"
    env = {**git_env(), "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_STEP_SUMMARY": str(summary)}
    proc = subprocess.run([str(INPUTS_SCRIPT)], cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = summary.read_text()
    assert " .trivyignore " in text and text.rstrip().endswith("trivy-secret.yaml") and "(top" not in text


def test_a_pull_request_checkout_that_is_no_merge_commit_builds(origin, tmp_path):
    clone = checkout(origin, tmp_path, origin["pr"][-1], depth=2)
    assert run_inputs(clone, "pull_request") == "build=true"
