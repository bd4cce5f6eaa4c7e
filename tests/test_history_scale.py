"""The history scan at real scale and on hostile histories: long ranges, stopped runs, short and full ranges sharing a
cache, baseline refreshes, and tree entries that name paths outside the work folder; on real git repositories these
tests build (long ones with `git fast-import`, hostile trees with `git mktree`), scanned by the real detect-secrets.
"""

from __future__ import annotations

import hashlib
import json
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



def git_in(root: Path, text: str, *args: str) -> str:
    """git ARGS in root with text on its stdin; its stdout, stripped."""
    return subprocess.run(["git", *args], cwd=root, input=text, env=git_env(), capture_output=True, text=True,
                          check=True).stdout.strip()


def hostile_history(root: Path, target: str) -> str:
    """A repository at root: a clean commit, then one whose tree holds a key file at the path target, its components
    (`..` and `.git` among them) spelled out by nested trees built with `git mktree`, which git's own checkout would
    refuse; the hostile commit's id."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "ok.txt").write_text("clean\n")
    git(root, "add", "ok.txt")
    git(root, "commit", "-q", "-m", "base")
    *dirs, name = target.split("/")
    tree = git_in(root, f"100644 blob {git_in(root, f'key = {KEY!r}' + chr(10), 'hash-object', '-w', '--stdin')}"
                        f"\t{name}\n", "mktree")
    for part in reversed(dirs):
        tree = git_in(root, f"040000 tree {tree}\t{part}\n", "mktree")
    clean = git(root, "rev-parse", "HEAD:ok.txt").strip()
    top = git_in(root, f"100644 blob {clean}\tok.txt\n", "mktree")
    if dirs:  # the chain hangs below a folder "a" of the top tree
        top = git_in(root, f"100644 blob {clean}\tok.txt\n040000 tree {tree}\ta\n", "mktree")
    commit = git_in(root, "", "-c", "user.name=T", "-c", "user.email=t@example.com", "commit-tree", "-p", "HEAD",
                    "-m", "hostile", top)
    git(root, "update-ref", "refs/heads/main", commit)
    return commit


@pytest.mark.parametrize("kind", ["dot-dot", "absolute", "dot-git"])
def test_a_tree_entry_that_could_leave_the_work_folder_is_an_error_naming_its_commit_and_nothing_is_written(
        kind, tmp_path):
    outside = tmp_path / "outside"
    work = tmp_path / "tmp"
    work.mkdir()
    # An absolute location is reached the way the issue did: enough ".." to climb to / from any work folder.
    target = {"dot-dot": "../../../../outside/evil.txt",
              "absolute": "/".join([".."] * 40) + str(outside / "evil.txt"),
              "dot-git": ".git/hooks/post-checkout"}[kind]
    commit = hostile_history(tmp_path / "repo", target)
    run = run_scan("detect-secrets", tmp_path / "repo", tmp_path / "reports",
                   {"SECRETS_SINCE": "all", "SECURITY_CACHE_DIR": str(tmp_path / "cache"), "TMPDIR": str(work)})
    result = run.result("detect-secrets")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert f"commit {commit} has a tree entry" in result["error"]
    assert ("'..' component" if kind != "dot-git" else ".git component") in result["error"]
    assert not outside.exists() and not list(tmp_path.rglob("evil.txt")) and not list(tmp_path.rglob("post-checkout"))
    assert KEY not in run.everything_written()


@pytest.mark.parametrize("path, problem", [
    (b"/etc/passwd", "is absolute"), (b"a/../b", "'..' component"), (b"a//b", "empty component"),
    (b"./a", "'.' component"), (b"a/.GIT/config", ".git component"), (b"", "is empty"),
    (b"a/" + b"x" * 256, "longer than a file name"), (b"x/" * 2100, "longer than a file system path"),
])
def test_a_path_from_git_that_could_leave_its_folder_is_refused(path, problem):
    import sys
    sys.path.insert(0, str(REPO_ROOT / "scripts" / "lib"))
    from git_paths import path_problem

    assert problem in (path_problem(path) or "")
    assert path_problem(b"apps/views.py") is None and path_problem(b"a/.github/x..y/.gitignore") is None
    proc = subprocess.run(["python3", "-S", str(REPO_ROOT / "scripts" / "lib" / "git_paths.py"), "check", "the index"],
                          input=b"ok.txt\0" + path + b"\0", capture_output=True, check=False)
    assert (proc.returncode, problem in proc.stderr.decode()) == ((2, True) if path else (0, False))


def test_a_key_added_to_a_long_file_is_found_at_its_line_in_the_commit_that_added_it(tmp_path):
    """A commit that changes a file is read as the lines it adds: the finding still names that commit and the line in
    the file as committed, lone carriage returns before it included (detect-secrets counts them as line breaks)."""
    head = "".join(f"value_{n} = {n}\n" for n in range(1, 30)) + "note = 'a\rb'\n"
    tail = "".join(f"other_{n} = {n}\n" for n in range(1, 20))
    keyed = head + f"aws_key = '{KEY}'\n" + tail
    commits: list[dict[str, bytes | None]] = [
        {"apps/settings.py": (head + tail).encode()},
        {"apps/settings.py": keyed.encode(), "apps/other.py": b"X = 1\n"},
        {"apps/settings.py": (keyed + "more = 1\n").encode()},
        {"apps/settings.py": (head + tail).encode()},
    ]
    fast_import(tmp_path / "repo", commits)
    ids = git(tmp_path / "repo", "rev-list", "--topo-order", "--reverse", "HEAD").split()
    run = run_scan("detect-secrets", tmp_path / "repo", tmp_path / "reports",
                   {"SECRETS_SINCE": "all", "SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    result = run.result("detect-secrets")
    assert result["status"] == "fail", run.output
    [finding] = result["findings"]
    assert finding["location"] == {"path": "apps/settings.py", "line": 31, "detail": f"introduced by commit {ids[1]}"}
    # The second and third commits' settings.py; the root's files are read whole, and the last commit's blob is the
    # tree's file (the tree scan's answer).
    assert result["history"]["blobs_read_as_added_lines"] == 2


def many_blobs(root: Path, count: int, key_at: int) -> list[str]:
    """A repository whose commits each add one new file (count of them), the one at key_at holding the key; ids."""
    commits: list[dict[str, bytes | None]] = [{f"apps/m{n}.py": f"VALUE_{n} = {n}\n".encode()} for n in range(count)]
    commits[key_at][f"apps/m{key_at}.py"] = f"VALUE = '{KEY}'\n".encode()
    commits.append({f"apps/m{n}.py": None for n in range(count)})  # the tree holds none of them
    commits[-1]["apps/__init__.py"] = b""
    fast_import(root, commits)
    return git(root, "rev-list", "--topo-order", "--reverse", "HEAD").split()


def test_an_interrupted_history_scan_keeps_its_finished_chunks_and_the_next_run_continues(tmp_path):
    import os
    import signal
    import time

    ids = many_blobs(tmp_path / "repo", 24, key_at=20)
    cache = tmp_path / "cache"
    env = {"SECRETS_SINCE": "all", "SECURITY_CACHE_DIR": str(cache), "SECRETS_HISTORY_CHUNK_FILES": "4"}
    journal = cache / "v1" / "detect-secrets.journal"
    proc = subprocess.Popen([str(REPO_ROOT / "scans" / "detect-secrets" / "run.sh")],
                            env=gate_env(tmp_path / "repo", tmp_path / "reports", env), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Stop it once the first chunk of the history is kept (the tree's one file is journaled before: 2 entries).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_text().count("\n") >= 2 + 4:
            os.killpg(proc.pid, signal.SIGTERM)
            break
        time.sleep(0.05)
    output = proc.communicate(timeout=60)[0]
    first = json.loads((tmp_path / "reports" / "detect-secrets.json").read_text())
    assert first["status"] == "error", output
    run = run_scan("detect-secrets", tmp_path / "repo", tmp_path / "reports", env)
    result = run.result("detect-secrets")
    assert result["status"] == "fail", run.output
    history = result["history"]
    # 25 blobs: the 24 files, and the tree's apps/__init__.py (answered by the tree scan's entry); the first chunk's
    # 4 at least come from the cache.
    assert history["blobs"] == 25 and history["blobs_from_cache"] >= 1 + 4 and history["blobs_read"] <= 20
    [finding] = result["findings"]
    assert finding["location"]["detail"] == f"introduced by commit {ids[20]}"
    assert not journal.exists()  # folded into the manifest
    assert KEY not in run.everything_written() and KEY not in "".join(p.read_text() for p in cache.rglob("*.json"))


def test_a_short_range_leaves_the_full_history_s_entries_for_the_next_full_run(tmp_path):
    many_blobs(tmp_path / "repo", 12, key_at=3)
    env = {"SECURITY_CACHE_DIR": str(tmp_path / "cache")}
    full = run_scan("detect-secrets", tmp_path / "repo", tmp_path / "r1", {**env, "SECRETS_SINCE": "all"})
    assert full.result("detect-secrets")["history"]["blobs_read"] == 12, full.output
    short = run_scan("detect-secrets", tmp_path / "repo", tmp_path / "r2", {**env, "SECRETS_SINCE": "HEAD~2"})
    assert short.result("detect-secrets")["history"]["blobs"] == 2, short.output  # m11.py and __init__.py
    warm = run_scan("detect-secrets", tmp_path / "repo", tmp_path / "r3", {**env, "SECRETS_SINCE": "all"})
    history = warm.result("detect-secrets")["history"]
    # m3.py's blob holds the key: an answer with a finding is never cached (docs/workflow.md, "Caches"), so it alone
    # is read again; every other blob of the full history is still answered.
    assert (history["blobs_read"], history["blobs_from_cache"]) == (1, 12), warm.output


def test_refreshing_the_baseline_the_readme_s_way_keeps_every_cache_entry(tmp_path):
    ids = many_blobs(tmp_path / "repo", 6, key_at=2)
    project = tmp_path / "repo"
    ds = str(REPO_ROOT / ".venv" / "bin" / "detect-secrets")
    baseline = subprocess.run([ds, "scan"], cwd=project, capture_output=True, text=True, check=True).stdout
    (project / ".secrets.baseline").write_text(baseline)
    git(project, "add", ".secrets.baseline")
    git(project, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "baseline")
    env = {"SECURITY_CACHE_DIR": str(tmp_path / "cache"), "SECRETS_SINCE": ids[-1]}
    cold = run_scan("detect-secrets", project, tmp_path / "r1", {**env, "SECRETS_SINCE": "all"})
    assert cold.result("detect-secrets")["history"]["blobs_read"] == 6, cold.output
    # The README's refresh: a new generated_at, the is_baseline_file filter added, the results rewritten.
    subprocess.run([ds, "scan", "--baseline", ".secrets.baseline"], cwd=project, check=True, capture_output=True)
    refreshed = (project / ".secrets.baseline").read_text()
    assert "is_baseline_file" in refreshed and refreshed != baseline
    warm = run_scan("detect-secrets", project, tmp_path / "r2", {**env, "SECRETS_SINCE": "all"})
    result = warm.result("detect-secrets")
    # Every answer is still keyed alike; the key's blob alone is read again (an answer with a finding is never cached).
    assert (result["history"]["blobs_read"], result["history"]["blobs_from_cache"]) == (1, 6), warm.output
    assert result["cache"]["misses"] == 0, result["cache"]


def test_a_blob_missing_from_the_repository_is_an_error_naming_its_path_and_commit(tmp_path):
    root = tmp_path / "repo"
    commits: list[dict[str, bytes | None]] = [{"apps/__init__.py": b""}, {"docs/lost.txt": b"lost content\n"},
                                              {"docs/lost.txt": None}]
    fast_import(root, commits)
    ids = git(root, "rev-list", "--topo-order", "--reverse", "HEAD").split()
    blob = git(root, "rev-parse", f"{ids[1]}:docs/lost.txt").strip()
    # fast-import wrote one pack: its objects unpacked loose, then that blob removed (a damaged clone).
    for pack in (root / ".git" / "objects" / "pack").glob("*.pack"):
        data = pack.read_bytes()
        for f in pack.parent.glob(pack.stem + ".*"):
            f.unlink()
        subprocess.run(["git", "unpack-objects", "-q"], cwd=root, input=data, env=git_env(), check=True)
    (root / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    run = run_scan("detect-secrets", root, tmp_path / "reports",
                   {"SECRETS_SINCE": "all", "SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    result = run.result("detect-secrets")
    assert run.rc == 2 and f"git has no object {blob}: 'docs/lost.txt' in commit {ids[1]}" in result["error"], run.output
