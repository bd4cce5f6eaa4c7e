"""A new scanner is one unit found by name: scans/<name>/run.sh and its normalize program, plus one word in a
gate's list in the Makefile. Nothing else changes.

In a copy of the tree (a git repository of its own, so the change can be listed), the test adds a throwaway
scanner, `fake`, that reports one finding through the common life cycle, and `fake` to CODE_SCANS. Then
`make security-code` runs it beside the real code scans, gates it (fail), puts it in the Markdown summary and the
SARIF log with its tool's documentation link, and accepts a suppression for it (pass).

The pre-commit hook names no scanner either: in another copy, a throwaway unit whose Usage line lists --staged
(`fake-staged`, its tool locked in the copy's .venv) is run by the hook on the staged content and blocks a commit
with its finding, while `fake`, which says nothing of staged content, is not run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from support.faults import clean_project
from support.gate import REPO_ROOT, VENV_BIN, gate_env, makefile_list, scan_units

FAKE_RUN = """#!/usr/bin/env bash
# Summary: a throwaway scan for tests/test_new_scanner.py: its tool reports one HIGH finding.
# Tool: fake https://example.invalid/fake-scanner
# Usage: scans/fake/run.sh
# Exit: 0 pass, 1 findings, 2 the scan could not be completed.
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
source "${BASH_SOURCE[0]%/*}/../../scripts/lib/common.sh"

main() {
  local raw
  scan_begin fake "$PROJECT_DIR"
  scan_policy HIGH+
  raw="$SCAN_WORK/fake.json"
  scan_run_tool "$raw" "$SCAN_WORK/fake.err" -- \\
    printf '{"issues": [{"rule": "FAKE001", "file": "apps/core/views.py", "line": 1, "level": "high"}]}\\n'
  require_json "$raw" "the fake tool's report"
  keep_raw "$raw"
  normalize normalize.jq "$raw" "$SCAN_WORK/findings.json"
  scan_finish "$SCAN_WORK/findings.json"
}

main "$@"
"""

FAKE_NORMALIZE = """# The fake tool's report to findings.
# In: {"issues": [{"rule", "file", "line", "level"}]}. Out: array of Finding.
include "lib";

expect(type == "object" and (.issues | type) == "array"; "the fake report lacks its issues")
| [.issues[] | {scan: "fake", id: .rule, severity: (.level | ascii_upcase), title: "a fake finding",
                location: location(.file; .line; null), package: null, fix: null}]
"""


# The staged unit: run.sh --staged in the repository being committed to, reading the index itself (its tool,
# fake-staged, reports each staged file that holds MARKER).
MARKER = "FAKE" + "-" + "LEAKED"
FAKE_STAGED_RUN = FAKE_RUN.replace("its tool reports one HIGH finding", "its tool reads the index").replace(
    "scans/fake/run.sh", "scans/fake-staged/run.sh [--staged]").replace(
    "# Tool: fake https://example.invalid/fake-scanner", "# Tool: fake-staged https://example.invalid/fake-staged"
).replace("scan_begin fake", "scan_begin fake-staged").replace(
    """  scan_run_tool "$raw" "$SCAN_WORK/fake.err" -- \\
    printf '{"issues": [{"rule": "FAKE001", "file": "apps/core/views.py", "line": 1, "level": "high"}]}\\n'""",
    """  [[ "${1:-}" == --staged ]] || scan_error "this unit reads the index only (--staged)"
  cd "$PROJECT_DIR"
  scan_run_tool "$raw" "$SCAN_WORK/fake.err" -- fake-staged""")
FAKE_STAGED_TOOL = f"""#!/usr/bin/env bash
# The throwaway tool: the staged files that hold the marker, as issues.
set -euo pipefail
{{ git grep --cached -l -z -e {MARKER} || true; }} |
  jq -Rs '{{issues: [split("\\u0000")[] | select(. != "") | {{rule: "FAKE002", file: ., line: 1, level: "high"}}]}}'
"""


def git(tree: Path, *args: str) -> str:
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t",
               GIT_AUTHOR_EMAIL="t@example.invalid", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
    return subprocess.run(["git", *args], cwd=tree, env=env, capture_output=True, text=True, check=True).stdout


def copy_of_the_tree(dest: Path) -> Path:
    """The gate's files (those git lists, committed or not, that it does not ignore) in dest, committed there."""
    listed = git(REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file() and not source.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "the gate as it is")
    (dest / ".venv").symlink_to(REPO_ROOT / ".venv")  # the locked tools, not installed again
    with open(dest / ".git" / "info" / "exclude", "a") as exclude:
        exclude.write("/.venv\n")  # .gitignore's .venv/ matches a folder, not this link
    return dest


def add_fake_scanner(tree: Path) -> None:
    unit = tree / "scans" / "fake"
    unit.mkdir()
    (unit / "run.sh").write_text(FAKE_RUN)
    (unit / "run.sh").chmod(0o755)
    (unit / "normalize.jq").write_text(FAKE_NORMALIZE)
    makefile = tree / "Makefile"
    text = makefile.read_text()
    line = next(l for l in text.splitlines() if l.startswith("CODE_SCANS :="))
    makefile.write_text(text.replace(line, line + " fake", 1))


def make_security_code(tree: Path, project: Path, reports: Path, osv_url: str, tmp_path: Path):
    env = gate_env(project, reports, {"PIP_AUDIT_OSV_URL": osv_url, "SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    # -o: the symlinked .venv is set up already; make must not install it again for the copy's newer files.
    proc = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.synced", "security-code"], cwd=tree,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    verdict = subprocess.run([str(tree / "scripts" / "verdict.sh"), "security-code"], cwd=tree, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    return proc, verdict.returncode


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    tree = copy_of_the_tree(tmp_path_factory.mktemp("gate-copy"))
    add_fake_scanner(tree)
    return tree


def test_a_new_scanner_is_its_unit_and_one_word_in_the_makefile(tree):
    changed = git(tree, "status", "--porcelain", "--untracked-files=all").splitlines()
    assert sorted(changed) == [" M Makefile", "?? scans/fake/normalize.jq", "?? scans/fake/run.sh"]
    assert "fake" in makefile_list("CODE_SCANS", tree) and "fake" in scan_units(tree)


def test_the_gate_runs_gates_and_reports_a_new_scanner_and_accepts_its_suppression(tree, tmp_path, osv):
    project = clean_project(tmp_path / "project")
    reports = tmp_path / "reports"
    proc, verdict = make_security_code(tree, project, reports, osv.url, tmp_path)
    output = proc.stdout + proc.stderr
    assert verdict == 1, output  # findings: the fake one
    fake = json.loads((reports / "fake.json").read_text())
    assert fake["status"] == "fail", fake
    assert [(f["id"], f["severity"], f["location"]["path"]) for f in fake["findings"]] == \
        [("FAKE001", "HIGH", "apps/core/views.py")]
    assert fake["tool"]["information_uri"] == "https://example.invalid/fake-scanner"
    for scan in makefile_list("CODE_SCANS"):  # the real scans ran beside it, and passed
        assert json.loads((reports / f"{scan}.json").read_text())["status"] == "pass", scan
    assert "fake: FAIL" in output and "FAKE001" in output
    summary = (reports / "security-code.md").read_text()
    assert "| fake | ❌ fail |" in summary and "`FAKE001`" in summary
    (run,) = [r for r in json.loads((reports / "security-code.sarif").read_text())["runs"]
              if r["tool"]["driver"]["name"] == "fake"]
    assert run["tool"]["driver"]["informationUri"] == "https://example.invalid/fake-scanner"
    assert [(r["ruleId"], r["level"]) for r in run["results"]] == [("FAKE001", "error")]

    (project / ".security-suppressions.json").write_text(json.dumps({"suppressions": [
        {"scan": "fake", "id": "FAKE001", "reason": "a fake finding, accepted", "expires": "2999-01-01"}]}))
    proc, verdict = make_security_code(tree, project, reports, osv.url, tmp_path)
    assert verdict == 0, proc.stdout + proc.stderr
    fake = json.loads((reports / "fake.json").read_text())
    assert fake["status"] == "pass" and [f["id"] for f in fake["suppressed"]] == ["FAKE001"]
    assert "| fake | ✅ pass |" in (reports / "security-code.md").read_text()


def test_every_scan_unit_is_in_one_gate_and_every_scan_a_gate_lists_is_a_unit():
    code, docker = makefile_list("CODE_SCANS"), makefile_list("DOCKER_SCANS")
    assert sorted(code + docker) == sorted(scan_units())
    assert not set(code) & set(docker)


def venv_with_tool(tree: Path, name: str, text: str) -> None:
    """The copy's .venv: the locked one's entries linked, and bin/ a folder of links to its tools plus NAME."""
    (tree / ".venv").unlink()
    (tree / ".venv").mkdir()
    for entry in VENV_BIN.parent.iterdir():
        if entry.name != "bin":
            (tree / ".venv" / entry.name).symlink_to(entry)
    (tree / ".venv" / "bin").mkdir()
    for tool in VENV_BIN.iterdir():
        (tree / ".venv" / "bin" / tool.name).symlink_to(tool)
    (tree / ".venv" / "bin" / name).write_text(text)
    (tree / ".venv" / "bin" / name).chmod(0o755)


def test_the_hook_runs_a_unit_that_says_it_scans_staged_content_and_no_other(tmp_path):
    tree = copy_of_the_tree(tmp_path / "gate")
    add_fake_scanner(tree)  # fake: no --staged, no "# Staged:" line; it always reports a finding
    unit = tree / "scans" / "fake-staged"
    unit.mkdir()
    (unit / "run.sh").write_text(FAKE_STAGED_RUN)
    (unit / "run.sh").chmod(0o755)
    (unit / "normalize.jq").write_text(FAKE_NORMALIZE.replace('scan: "fake"', 'scan: "fake-staged"'))
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "two throwaway units")
    venv_with_tool(tree, "fake-staged", FAKE_STAGED_TOOL)
    home = tmp_path / "pre-commit-home"
    subprocess.run([str(VENV_BIN / "pre-commit"), "install"], cwd=tree, check=True, capture_output=True,
                   env={**os.environ, "PRE_COMMIT_HOME": str(home)})
    # The real units are skipped (SKIP, as pre-commit passes it on): only the throwaway ones are in question.
    env = {"PRE_COMMIT_HOME": str(home), "SKIP": ",".join(u for u in scan_units() if not u.startswith("fake"))}

    (tree / "apps" / "leak.txt").write_text(f"token {MARKER}\n")
    git(tree, "add", "apps/leak.txt")
    before = git(tree, "rev-parse", "HEAD")
    blocked = commit(tree, "a leak", env)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0 and git(tree, "rev-parse", "HEAD") == before, output
    assert "fake-staged: FAIL" in output and "FAKE002" in output and "apps/leak.txt" in output, output
    assert "fake:" not in output and "FAKE001" not in output, output  # fake says nothing of staged content

    git(tree, "rm", "-q", "--cached", "apps/leak.txt")
    (tree / "apps" / "clean.txt").write_text("nothing here\n")
    git(tree, "add", "apps/clean.txt")
    clean = commit(tree, "clean", env)
    assert clean.returncode == 0 and git(tree, "rev-parse", "HEAD") != before, clean.stdout + clean.stderr


def commit(tree: Path, message: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """git commit in tree through its pre-commit hook."""
    return subprocess.run(["git", "commit", "-m", message], cwd=tree, capture_output=True, text=True, check=False,
                          env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
                               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid", **env})
