"""The history scan at real scale and on hostile histories: long ranges, stopped runs, short and full ranges sharing a
cache, baseline refreshes, and tree entries that name paths outside the work folder; on real git repositories these
tests build (long ones with `git fast-import`, hostile trees with `git mktree`), scanned by the real detect-secrets.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, gate_env, run_scan
from support.projects import git, git_env

KEY = "AKIA" + "QYLPMN5HFIQR7XYZ"  # built at run time: this file never holds it whole
LONG = 20_000


def fast_import(root: Path, commits: list[dict[str, bytes | None]]) -> None:
    """A repository at root whose branch main has one commit per item of commits ({path: content, or None to delete}),
    oldest first, imported in one `git fast-import` run, then checked out."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    marks: dict[bytes, int] = {}
    stream = []
    for files in commits:
        for content in files.values():
            if content is not None and content not in marks:
                marks[content] = len(marks) + 1
                stream.append(b"blob\nmark :%d\ndata %d\n%s\n" % (marks[content], len(content), content))
    for n, files in enumerate(commits):
        stream.append(b"commit refs/heads/main\ncommitter T <t@example.com> %d +0000\ndata 3\nc%02d\n"
                      % (1_700_000_000 + n, n % 100))
        for path, content in files.items():
            stream.append(b"D %s\n" % path.encode() if content is None
                          else b"M 100644 :%d %s\n" % (marks[content], path.encode()))
        stream.append(b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"".join(stream), env=git_env(), check=True)
    git(root, "checkout", "-q", "main")


@pytest.fixture(scope="module")
def long_history(tmp_path_factory) -> tuple[Path, list[str]]:
    """20,000 commits that alternate one file between two contents; commit 10,000 adds a key that the next one
    removes. (path, oldest-first commit ids)"""
    root = tmp_path_factory.mktemp("long") / "repo"
    commits: list[dict[str, bytes | None]] = [{"apps/a.py": b"A = %d\n" % (n % 2)} for n in range(LONG)]
    commits[10_000]["config/prod.yaml"] = b"aws:\n  access_key_id: " + KEY.encode() + b"\n"
    commits[10_001]["config/prod.yaml"] = None
    fast_import(root, commits)
    ids = git(root, "rev-list", "--topo-order", "--reverse", "HEAD").split()
    return root, ids


def test_a_20000_commit_history_ends_in_a_result_naming_the_commit_that_added_the_key(long_history, tmp_path):
    project, ids = long_history
    assert len(ids) == LONG
    run = run_scan("detect-secrets", project, tmp_path / "reports",
                   {"SECRETS_SINCE": "all", "SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    result = run.result("detect-secrets")
    assert result["status"] == "fail", run.output
    [finding] = result["findings"]
    assert finding["location"]["path"] == "config/prod.yaml"
    assert finding["location"]["detail"] == f"introduced by commit {ids[10_000]}"
    history = result["history"]
    assert history["commit_count"] == LONG and history["commits_listed"] == 100 and history["commits"] == ids[:100]
    assert history["commits_sha256"] == hashlib.sha256("".join(i + "\n" for i in ids).encode()).hexdigest()
    assert KEY not in run.everything_written()
