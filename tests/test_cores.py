"""detect-secrets' worker processes are handed files a few at a time (scans/detect-secrets/batched-pool.py); it
changes no result.

Real detect-secrets on a fixture tree large enough for its batches to hold several files.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from support.gate import REPO_ROOT, VENV_BIN, run_gate
from support.projects import git_commit_all, write_tree

LAUNCHER = REPO_ROOT / "scans" / "detect-secrets" / "batched-pool.py"
# Planted secrets, built at run time so that this file holds none of them whole.
AWS_KEY = "AKIA" + "QYLPMN5HFIQR7XYZ"
KEYWORD_LINE = "db_" + "pass" + "word = " + repr("Zq8#mK2" + "$vL9!pW4x") + "\n"
SCANS = ("bandit", "detect-secrets")


def module_name(i: int) -> str:
    return f"apps/m{i // 40}/mod_{i}.py"


def with_secrets(count: int) -> set[str]:
    """The modules many_files(count) plants a secret in."""
    return {module_name(i) for i in range(count) if i % 13 == 0 or i % 17 == 0}


def many_files(root: Path, count: int) -> Path:
    """count Python modules, some with a bandit finding (eval) and some with a secret."""
    files = {".gitignore": "reports/\n", "apps/__init__.py": "", "config/__init__.py": ""}
    for i in range(count):
        body = f"VALUE_{i} = {i}\n"
        if i % 9 == 0:
            body += "\n\ndef run(x):\n    return eval(x)\n"
        if i % 13 == 0:
            body += f"KEY_{i} = '{AWS_KEY}'\n"
        if i % 17 == 0:
            body += KEYWORD_LINE
        files[module_name(i)] = body
    write_tree(root, files)
    git_commit_all(root)
    return root


def test_detect_secrets_handed_files_in_batches_reports_what_its_command_line_reports(tmp_path):
    project = many_files(tmp_path / "project", 150)
    run = run_gate("security-code", project, tmp_path / "reports", env={"SECURITY_CACHE": "off"}, scans=SCANS)
    assert run.rc == 1, run.output
    files = subprocess.run(["git", "ls-files"], cwd=project, capture_output=True, text=True,
                           check=True).stdout.split()
    widen = subprocess.run(["python3", "-S", str(LAUNCHER.parent / "widen.py")], capture_output=True, text=True,
                           check=True).stdout.split()  # the gate's --disable-filter options
    by_hand = subprocess.run([str(VENV_BIN / "detect-secrets"), "scan", "--no-verify", *widen, "--", *files],
                             cwd=project, capture_output=True, text=True, check=True)
    expected = json.loads(by_hand.stdout)
    kept = json.loads((run.reports / "detect-secrets.raw.json").read_text())
    for report in (expected, kept):
        report.pop("generated_at")
        for secret in (s for found in report["results"].values() for s in found):
            secret.pop("hashed_secret")  # the gate keeps it salted
    assert set(expected["results"]) == with_secrets(150)
    assert kept == expected


def load_launcher():
    spec = importlib.util.spec_from_file_location("batched_pool", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_batches_are_a_few_files_and_never_starve_a_worker():
    launcher = load_launcher()
    assert launcher.batch_size(3664, 2) == launcher.MAX_BATCH  # Django: the most per hand-out
    assert launcher.batch_size(80, 2) == 10  # every worker still gets four hand-outs or more
    assert launcher.batch_size(5, 2) == 1
    assert launcher.batch_size(0, 0) == 1


ENTRY = '''\
import multiprocessing, os, sys


def where(item):
    return item, os.getpid()


if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        results = list(pool.imap_unordered(where, list(range(int(sys.argv[1])))))
    assert sorted(item for item, _ in results) == list(range(int(sys.argv[1])))
    pid_of = dict(results)
    batch = 16
    same = all(len({pid_of[i] for i in range(start, start + batch)}) == 1 for start in range(0, 256, batch))
    print("batched" if same else "one at a time", sys.argv[2])
    sys.exit(int(sys.argv[3]))
'''


def test_launcher_runs_the_entry_point_with_its_arguments_exit_status_and_batches(tmp_path):
    entry = tmp_path / "bin" / "tool"
    entry.parent.mkdir()
    entry.write_text(ENTRY)
    proc = subprocess.run([sys.executable, str(LAUNCHER), str(entry), "256", "argument", "3"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.split() == ["batched", "argument"]
