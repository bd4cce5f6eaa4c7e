"""The pre-commit hook (.pre-commit-config.yaml, scripts/pre-commit.sh) and the committed secrets baseline.

Each test copies this repository's tracked files (as they are in the working tree) into a temporary repository,
installs the hook there with the locked pre-commit, and commits: the gate's real scans run on what is being
committed, every unit that says how it scans staged content (docs/pre-commit.md, "How a unit joins the hook").
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, VENV_BIN, scan_units
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


def declares_staged_support(unit: str, root: Path = REPO_ROOT) -> bool:
    """Whether the unit's run.sh header says how it scans staged content: --staged on its Usage line, or a
    "# Staged:" line (docs/pre-commit.md)."""
    lines = [line for line in (root / "scans" / unit / "run.sh").read_text().splitlines() if line.startswith("# ")]
    return any(line.startswith("# Staged:") or (line.startswith("# Usage:") and "--staged" in line) for line in lines)


def test_the_hook_names_no_scanner_and_runs_every_unit_from_one_entry():
    text = (REPO_ROOT / "scripts" / "pre-commit.sh").read_text().lower()
    assert [unit for unit in scan_units() if unit.lower() in text] == []
    config = (REPO_ROOT / ".pre-commit-config.yaml").read_text()
    assert re.findall(r"^\s+entry: (.*)$", config, re.MULTILINE) == ["scripts/pre-commit.sh"]
    assert "kingfisher" in [unit for unit in scan_units() if declares_staged_support(unit)]
    # The gate's own settings the hook hands every unit from the index: common.sh's defaults, by name.
    for variable in ("SECURITY_SUPPRESSIONS", "SECURITY_SECRETS_ADOPTED"):
        default = subprocess.run([str(REPO_ROOT / "scripts" / "help.sh"), "--default", variable], capture_output=True,
                                 text=True, check=True).stdout.strip()
        assert default.startswith("$PROJECT_DIR/") and default.removeprefix("$PROJECT_DIR/") in text, variable


def test_a_commit_adding_a_planted_key_is_blocked_and_a_clean_one_goes_through(hooked):
    before = head(hooked)
    shopify = "shpat_" + secrets.token_hex(16)  # a class only the second engine, kingfisher, knows
    (hooked / "apps" / "keys.py").write_text(f'AWS_ACCESS_KEY_ID = "{AWS_KEY}"\n')
    (hooked / "deploy" / "shop.env").write_text(f"SHOPIFY_ACCESS_TOKEN={shopify}\n")
    git(hooked, "add", "apps/keys.py", "deploy/shop.env")
    blocked = commit(hooked, "add a key")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0 and head(hooked) == before, output
    assert "AWS Access Key" in output and "apps/keys.py" in output and AWS_KEY not in output
    # Every unit that says how it scans staged content ran (or said why not); the others did not.
    for unit in scan_units():
        said = re.search(rf"^{re.escape(unit)}: (PASS|FAIL|ERROR|not run)", output, re.MULTILINE)
        assert bool(said) == declares_staged_support(unit), (unit, output)
    assert re.search(r"^kingfisher: FAIL", output, re.MULTILINE) and "deploy/shop.env" in output, output
    assert shopify not in output
    git(hooked, "reset", "-q", "HEAD", "apps/keys.py", "deploy/shop.env")
    (hooked / "apps" / "keys.py").unlink()
    (hooked / "deploy" / "shop.env").unlink()

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
    # SKIP names a unit: the hook skips that one alone, saying so (pre-commit shows it with the hook's output).
    run = subprocess.run([str(hooked / "scripts" / "pre-commit.sh"), "bandit", "detect-secrets"], cwd=hooked,
                         capture_output=True, text=True, check=False, env={**git_env(), **IDENTITY, "SKIP": "bandit"})
    assert run.returncode == 0 and "bandit: skipped (SKIP)" in run.stdout, run.stdout + run.stderr
    assert re.search(r"^detect-secrets: PASS", run.stdout, re.MULTILINE), run.stdout
    skipped = commit(hooked, "eval, reviewed", SKIP="bandit")
    said = skipped.stdout + skipped.stderr
    assert skipped.returncode == 0 and head(hooked) != before, said
    # SKIP naming the hook's id skips it whole, as pre-commit does for any hook.
    (hooked / "apps" / "calc.py").write_text("def calc(expr):\n    return eval(expr + '1')\n")
    git(hooked, "add", "apps/calc.py")
    whole = commit(hooked, "eval again, reviewed", SKIP="gate-scans")
    said = whole.stdout + whole.stderr
    assert whole.returncode == 0 and any(line.endswith("Skipped") for line in said.splitlines()), said


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


def hook_on_staged(root: Path, scan: str, path: str, text: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """scripts/pre-commit.sh SCAN with a new file PATH holding TEXT staged (unstaged and removed afterwards)."""
    (root / path).write_text(text)
    git(root, "add", path)
    try:
        run = subprocess.run([str(root / "scripts" / "pre-commit.sh"), scan], cwd=root, capture_output=True,
                             text=True, check=False, env=env or {**git_env(), **IDENTITY})
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
    """The pip-audit unit declares the staged uv.lock and pyproject.toml (its "# Staged:" line): a commit that changes
    neither (nor the gate's settings) does not run it; one that changes pyproject.toml exports those two (not the
    index) and audits every pin of the lock, as the gate does."""
    env = {**git_env(), **IDENTITY, "PIP_AUDIT_OSV_URL": osv.url}
    rc, output = hook_on_staged(hooked, "pip-audit", "docs/lock-note.md", "a note\n", env)
    assert rc == 0 and "pip-audit: not run: the commit changes none of uv.lock pyproject.toml" in output, output
    pyproject = hooked / "pyproject.toml"
    committed = pyproject.read_text()
    pyproject.write_text(committed + "\n# a comment, staged\n")
    git(hooked, "add", "pyproject.toml")
    try:
        run = subprocess.run([str(hooked / "scripts" / "pre-commit.sh"), "pip-audit"], cwd=hooked,
                             capture_output=True, text=True, check=False, env=env)
    finally:
        git(hooked, "reset", "-q", "HEAD", "pyproject.toml")
        pyproject.write_text(committed)
    output = run.stdout + run.stderr
    pins = len(re.findall(r"^\[\[package\]\]$", (hooked / "uv.lock").read_text(), re.MULTILINE))
    assert run.returncode == 0, output
    assert re.search(r"coverage: (\d+) of \1 scanned", output), output
    assert int(re.search(r"coverage: (\d+) of", output).group(1)) >= pins - 1, output  # less the project itself


def test_the_hook_reads_the_staged_adoption_file_not_the_working_copy_s(hooked):
    """The adopted secrets' file the secret engines get is the staged one: a malformed copy in the working tree only
    changes nothing, a malformed one staged is the scan's error naming it."""
    adopted = hooked / ".security-secrets-adopted.json"
    assert not adopted.exists()
    adopted.write_text("[]\n")  # not the file's shape
    try:
        rc, output = hook_on_staged(hooked, "detect-secrets", "apps/three.py", "THREE = 3\n")
        assert rc == 0, output
        git(hooked, "add", adopted.name)
        rc, output = hook_on_staged(hooked, "detect-secrets", "apps/three.py", "THREE = 3\n")
        assert rc == 2 and "the adopted secrets' file" in output and "is malformed" in output, output
    finally:
        git(hooked, "rm", "-q", "--cached", "--ignore-unmatch", adopted.name)
        adopted.unlink()
