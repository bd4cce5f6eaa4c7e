"""The pre-commit hooks (.pre-commit-config.yaml, scripts/pre-commit.sh) and the committed secrets baseline.

Each test copies this repository's tracked files (as they are in the working tree) into a temporary repository,
installs the hooks there with the locked pre-commit, and commits: the gate's real detect-secrets and bandit run
on what is being committed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, VENV_BIN
from support.projects import git_env

# Planted secrets, built at run time so that this file holds none of them whole.
AWS_KEY = "AKIA" + "QYLPMN5HFIQR7XYZ"
IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid"}


def copy_of_this_repository(root: Path) -> Path:
    """This repository's tracked files, as they are now, in a fresh repository at root with one commit."""
    listed = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-z"], capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = REPO_ROOT / name
        if source.is_file() and not source.is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")  # the locked tools, found by scripts/pre-commit.sh
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "copy")
    return root


def git(root: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=check,
                          env={**git_env(), **IDENTITY, **(env or {})})


@pytest.fixture(scope="module")
def hooked(tmp_path_factory) -> Path:
    """A copy of this repository with the pre-commit hooks installed."""
    root = copy_of_this_repository(tmp_path_factory.mktemp("hooked") / "repo")
    home = root.parent / "pre-commit-home"
    subprocess.run([str(VENV_BIN / "pre-commit"), "install"], cwd=root, check=True, capture_output=True,
                   env={**os.environ, "PRE_COMMIT_HOME": str(home)})
    return root


def commit(root: Path, message: str, **env: str) -> subprocess.CompletedProcess:
    env = {"PRE_COMMIT_HOME": str(root.parent / "pre-commit-home"), **env}
    return git(root, "commit", "-m", message, check=False, env=env)


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").stdout.strip()


def test_a_commit_adding_a_planted_key_is_blocked_and_a_clean_one_goes_through(hooked):
    before = head(hooked)
    (hooked / "apps" / "keys.py").write_text(f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n')
    git(hooked, "add", "apps/keys.py")
    blocked = commit(hooked, "add a key")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0 and head(hooked) == before, output
    assert "AWS Access Key" in output and "apps/keys.py" in output and AWS_KEY not in output
    git(hooked, "reset", "-q", "HEAD", "apps/keys.py")
    (hooked / "apps" / "keys.py").unlink()

    (hooked / "apps" / "greeting.py").write_text('def greet(name):\n    return f"hello {name}"\n')
    git(hooked, "add", "apps/greeting.py")
    clean = commit(hooked, "add a greeting")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert head(hooked) != before and "apps/greeting.py" in git(hooked, "show", "--name-only", "HEAD").stdout


def test_the_hook_scans_what_is_staged_not_the_working_copy(hooked):
    before = head(hooked)
    config = hooked / "config" / "aws.py"
    config.write_text(f'KEY = "{AWS_KEY}"\n')
    git(hooked, "add", "config/aws.py")
    config.write_text('KEY = os.environ["AWS_ACCESS_KEY_ID"]\n')  # fixed in the working copy only
    assert commit(hooked, "staged key").returncode != 0 and head(hooked) == before

    config.write_text('import os\n\nKEY = os.environ["AWS_ACCESS_KEY_ID"]\n')
    git(hooked, "add", "config/aws.py")
    config.write_text(f'KEY = "{AWS_KEY}"\n')  # a key in the working copy, not staged
    passed = commit(hooked, "staged fix")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert AWS_KEY not in git(hooked, "show", "HEAD:config/aws.py").stdout
    git(hooked, "checkout", "--", "config/aws.py")


def test_bandit_s_hook_blocks_a_staged_finding_and_skip_lets_it_through_knowingly(hooked):
    before = head(hooked)
    (hooked / "apps" / "calc.py").write_text("def calc(expr):\n    return eval(expr)\n")
    git(hooked, "add", "apps/calc.py")
    blocked = commit(hooked, "eval")
    assert blocked.returncode != 0 and "B307" in blocked.stdout + blocked.stderr and head(hooked) == before
    skipped = commit(hooked, "eval, reviewed", SKIP="bandit")
    said = skipped.stdout + skipped.stderr
    assert skipped.returncode == 0 and head(hooked) != before, said
    assert any(line.startswith("bandit") and line.endswith("Skipped") for line in said.splitlines()), said


def test_the_standard_detect_secrets_hook_leaves_the_committed_baseline_unchanged(tmp_path):
    """`detect-secrets-hook --baseline .secrets.baseline` on every tracked file: no new secret, no rewrite."""
    root = copy_of_this_repository(tmp_path / "repo")
    committed = (root / ".secrets.baseline").read_bytes()
    files = [f for f in git(root, "ls-files", "-z").stdout.split("\0") if f]
    run = subprocess.run([str(VENV_BIN / "detect-secrets-hook"), "--baseline", ".secrets.baseline", *files],
                         cwd=root, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr + "\n(update it: .venv/bin/detect-secrets scan --baseline " \
        ".secrets.baseline, then audit new entries)"
    assert (root / ".secrets.baseline").read_bytes() == committed


def test_the_secrets_hook_reads_only_the_staged_blobs_that_differ_from_head(hooked):
    """A key committed without the hook sits in HEAD; the hook, reading only what this commit changes (one staged
    blob), neither reads nor reports it, and says so in its coverage."""
    (hooked / "docs" / "legacy.txt").write_text(f"key {AWS_KEY}\n")
    git(hooked, "add", "docs/legacy.txt")
    git(hooked, "commit", "-q", "--no-verify", "-m", "a key, committed past the hook")
    (hooked / "apps" / "one.py").write_text("ONE = 1\n")
    git(hooked, "add", "apps/one.py")
    try:
        run = subprocess.run([str(hooked / "scripts" / "pre-commit.sh"), "detect-secrets"], cwd=hooked,
                             capture_output=True, text=True, check=False, env={**git_env(), **IDENTITY})
        output = run.stdout + run.stderr
        assert run.returncode == 0, output
        assert "staged: 1 blob(s)" in output and "coverage: 1 of 1 scanned" in output
        assert "docs/legacy.txt" not in output and AWS_KEY not in output
    finally:
        git(hooked, "reset", "-q", "HEAD", "apps/one.py")
        (hooked / "apps" / "one.py").unlink()
        git(hooked, "rm", "-q", "docs/legacy.txt")
        git(hooked, "commit", "-q", "--no-verify", "-m", "the key removed")


def hook_on_staged(root: Path, scan: str, path: str, text: str) -> tuple[int, str]:
    """scripts/pre-commit.sh SCAN with a new file PATH holding TEXT staged (unstaged and removed afterwards)."""
    (root / path).write_text(text)
    git(root, "add", path)
    try:
        run = subprocess.run([str(root / "scripts" / "pre-commit.sh"), scan], cwd=root, capture_output=True,
                             text=True, check=False, env={**git_env(), **IDENTITY})
    finally:
        git(root, "reset", "-q", "HEAD", path)
        (root / path).unlink()
    return run.returncode, run.stdout + run.stderr


def test_bandit_s_hook_scans_only_the_staged_files_that_differ_from_head(hooked):
    """An eval() committed past the hook sits in HEAD; the bandit hook exports and scans only what this commit changes
    (one Python file), so it neither reads nor reports the old one; a commit that changes no Python file passes."""
    (hooked / "apps" / "legacy.py").write_text("def run(expr):\n    return eval(expr)\n")
    git(hooked, "add", "apps/legacy.py")
    git(hooked, "commit", "-q", "--no-verify", "-m", "an eval, committed past the hook")
    try:
        rc, output = hook_on_staged(hooked, "bandit", "apps/two.py", "TWO = 2\n")
        assert rc == 0, output
        assert "coverage: 1 of 1 scanned" in output and "legacy.py" not in output and "B307" not in output
        rc, output = hook_on_staged(hooked, "bandit", "docs/hook-note.md", "a note\n")
        assert rc == 0 and "nothing to scan" in output, output
        # The same eval staged again, in a new file: the hook reads that one and blocks.
        rc, output = hook_on_staged(hooked, "bandit", "apps/again.py", "def again(expr):\n    return eval(expr)\n")
        assert rc == 1 and "B307" in output and "apps/again.py" in output and "legacy.py" not in output, output
    finally:
        git(hooked, "rm", "-q", "apps/legacy.py")
        git(hooked, "commit", "-q", "--no-verify", "-m", "the eval removed")


def test_pip_audit_s_hook_audits_the_staged_lock_from_an_export_of_it(hooked, osv):
    """The pip-audit hook exports the staged uv.lock, pyproject.toml and suppression file (not the index) and audits
    every pin of the lock, as the gate does."""
    env = {**git_env(), **IDENTITY, "PIP_AUDIT_OSV_URL": osv.url}
    run = subprocess.run([str(hooked / "scripts" / "pre-commit.sh"), "pip-audit"], cwd=hooked, capture_output=True,
                         text=True, check=False, env=env)
    output = run.stdout + run.stderr
    pins = len(re.findall(r"^\[\[package\]\]$", (hooked / "uv.lock").read_text(), re.MULTILINE))
    assert run.returncode == 0, output
    assert re.search(r"coverage: (\d+) of \1 scanned", output), output
    assert int(re.search(r"coverage: (\d+) of", output).group(1)) >= pins - 1, output  # less the project itself
