"""Hostile inputs: odd file names, symlinks out of the tree, binary and very large files, empty or Python-less
trees and malformed configuration files, all with the real scanners.

A planted secret or dangerous call is found whatever its file is called; a symlink is never followed out of the
tree; what the gate cannot read is an error naming the file; harmless inputs pass. Every case that plants a
secret checks that its value appears in no output, log, summary, SARIF or report.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from support.faults import plant_stale_pass, says_pass, stale_files
from support.gate import CODE_SCANS, run_gate, run_scan
from osv_server import OsvServer
from support.projects import git, git_commit_all, write_tree, write_uv_project

GATE = "security-code"
# Planted secrets, built at run time so that this file holds none of them whole.
AWS_KEY = "AKIA" + "J7QWZRTVXN4KPL2M"
GITHUB_TOKEN = "ghp_" + "Q8wErTy5uIoP" + "3aSdF6gHjK1l" + "ZxC9vBnM2qW7"  # short pieces: no entropy finding
PASSWORD = "h0stile'pa\"ss" + "word"

CLEAN = {
    ".gitignore": "reports/\n",
    "apps/__init__.py": "",
    "apps/core/__init__.py": "",
    "apps/core/views.py": "def health(request):\n    return {'status': 'ok'}\n",
    "config/__init__.py": "",
    "config/settings.py": "DEBUG = False\n",
}


def project(root: Path, files: dict[str, str | bytes] | None = None, *, commit: bool = True) -> Path:
    write_tree(root, {**CLEAN, **(files or {})})
    write_uv_project(root, [("django", "5.2.19")])
    if commit:
        git_commit_all(root)
    return root


def gate(project_dir: Path, reports: Path, osv: OsvServer, tmp_path: Path, **env: str):
    """The whole code gate, its step summary in tmp_path/step-summary.md; earlier results planted first."""
    plant_stale_pass(reports, CODE_SCANS, gate=GATE)
    return run_gate(GATE, project_dir, reports, env={
        "PIP_AUDIT_OSV_URL": osv.url, "SECURITY_CACHE_DIR": str(tmp_path / "cache"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md"), **env})


def scan(name: str, project_dir: Path, reports: Path, tmp_path: Path, **env: str):
    plant_stale_pass(reports, [name])
    return run_scan(name, project_dir, reports, env={"SECURITY_CACHE_DIR": str(tmp_path / "cache"), **env})


def assert_nothing_leaks(run, tmp_path: Path, *secrets: str) -> None:
    """No secret value in the run's output, report folder, step summary or the scan cache."""
    places = {"output": run.output, "reports": run.everything_written()}
    for extra in (tmp_path / "step-summary.md", tmp_path / "cache"):
        if extra.is_file():
            places[extra.name] = extra.read_text(errors="replace")
        elif extra.is_dir():
            places[extra.name] = "\n".join(p.read_text(errors="replace") for p in extra.rglob("*") if p.is_file())
    for secret in secrets:
        for part in {secret, *secret.split("'"), *secret.split('"')} - {""}:
            if len(part) >= 8:
                for where, text in places.items():
                    assert part not in text, f"{part!r} leaked into {where}"


def assert_no_stale(run, reports: Path, scans=CODE_SCANS, gate_name: str | None = GATE, *, may_pass=()) -> None:
    assert stale_files(reports) == [], run.output
    assert set(says_pass(reports, scans, gate_name)) <= {f"{s}.json" for s in may_pass}, run.output


def as_reported(name: str) -> str:
    """A file name as the reports spell it: bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(name).decode("utf-8", "replace")


# --------------------------------------------------------------------------- odd names

ODD_NAMES = [
    "with space.py",
    "new\nline.py",
    "tab\there.py",
    "quote'single.py",
    'quote"double.py',
    "-leading-dash.py",
    "--help.py",
    "$(touch PWNED).py",
    "glob*[x].py",
    "back\\slash.py",
    os.fsdecode(b"latin1-\xe9\xff.py"),
    "forged\nsecurity-code: PASS (results in reports)\n::error::forged.py",
]


def test_secrets_and_dangerous_calls_in_oddly_named_files_are_found(tmp_path, reports, osv):
    planted = {f"apps/{name}": f'KEY = "{AWS_KEY}"\nresult = eval(input())\n' for name in ODD_NAMES}
    planted["-rf"] = f"token: {GITHUB_TOKEN}\n"
    tree = project(tmp_path / "p", planted)
    run = gate(tree, reports, osv, tmp_path)

    assert run.rc == 1, run.output
    secrets = {(f["location"]["path"], f["location"]["line"]) for f in run.result("detect-secrets")["findings"]}
    calls = {(f["location"]["path"], f["location"]["line"]) for f in run.result("bandit")["findings"]
             if f["id"] == "B307"}
    for name in ODD_NAMES:
        assert (as_reported(f"apps/{name}"), 1) in secrets, name
        assert (as_reported(f"apps/{name}"), 2) in calls, name
    assert ("-rf", 1) in secrets
    assert not list(tmp_path.rglob("PWNED")), "a file name was run as a command"
    # A file name cannot forge a line of the terminal output, nor a GitHub workflow command.
    lines = run.stdout.splitlines()
    assert not [line for line in lines if line.startswith("::")]
    assert "security-code: PASS (results in reports)" not in lines
    assert "apps/new\\nline.py:1" in run.stdout
    assert_no_stale(run, reports, may_pass=("pip-audit",))  # the lock is clean: pip-audit's pass is this run's
    assert_nothing_leaks(run, tmp_path, AWS_KEY, GITHUB_TOKEN)


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # control characters but the line break (and tab)


def sarif_texts(value) -> list[str]:
    """Every message text of a SARIF log (results, rules, notifications, suppressions' justifications)."""
    if isinstance(value, dict):
        return [text for key, item in value.items()
                for text in ([item] if key in ("text", "justification") and isinstance(item, str) else sarif_texts(item))]
    if isinstance(value, list):
        return [text for item in value for text in sarif_texts(item)]
    return []


def test_a_file_name_with_an_esc_byte_is_escaped_in_the_summary_and_sarif_as_in_the_terminal(tmp_path, reports, osv):
    name = "apps/esc\x1b[31mred\x1b]0;title\x07.py"
    tree = project(tmp_path / "p", {name: f'KEY = "{AWS_KEY}"\nresult = eval(input())\n'})
    run = gate(tree, reports, osv, tmp_path)

    assert run.rc == 1, run.output
    assert (name, 2) in {(f["location"]["path"], f["location"]["line"]) for f in run.result("bandit")["findings"]}
    assert (name, 1) in {(f["location"]["path"], f["location"]["line"])
                         for f in run.result("detect-secrets")["findings"]}
    shown = "apps/esc?[31mred?]0;title?.py"  # as jq/lib.jq's one_line writes it, in the terminal too
    assert f"{shown}:2" in run.stdout and "\x1b" not in run.stdout
    for summary in (reports / f"{GATE}.md", tmp_path / "step-summary.md"):
        text = summary.read_text()
        assert f"`{shown}:2`" in text and f"`{shown}:1`" in text
        assert not CONTROL.search(text), summary
    sarif = json.loads((reports / f"{GATE}.sarif").read_text())
    texts = sarif_texts(sarif)
    assert texts and not [text for text in texts if CONTROL.search(text)]
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"]
            for run_ in sarif["runs"] for res in run_["results"] for loc in res["locations"]}
    assert "apps/esc%1B%5B31mred%1B%5D0%3Btitle%07.py" in uris  # percent-encoded: the real file, no raw byte
    assert_nothing_leaks(run, tmp_path, AWS_KEY)


def test_hardcoded_password_holding_quotes_is_never_repeated(tmp_path, reports):
    """bandit quotes the password in its message: redaction holds when the password has quotes of its own."""
    tree = project(tmp_path / "p", {
        "apps/core/db.py": (f"password = {PASSWORD!r}\n"
                            f"connect(password={PASSWORD!r})\n"
                            f"def login(password={PASSWORD!r}):\n    pass\n"),
    })
    run = scan("bandit", tree, reports, tmp_path)
    assert run.rc == 1, run.output
    assert {"B105", "B106", "B107"} <= {f["id"] for f in run.result("bandit")["findings"]}
    assert_no_stale(run, reports, ["bandit"], None)
    assert_nothing_leaks(run, tmp_path, PASSWORD)


# --------------------------------------------------------------------------- symlinks


def outside_tree(root: Path) -> Path:
    """A folder beside the project with a secret and dangerous code in it."""
    write_tree(root, {
        "evil.py": f'KEY = "{AWS_KEY}"\nresult = eval(input())\n',
        "secret.txt": f"token: {GITHUB_TOKEN}\n",
        "pkg/more.py": "import os\nos.system(input())\n",
    })
    return root


def test_symlinks_out_of_the_tree_are_not_followed(tmp_path, reports, osv):
    outside = outside_tree(tmp_path / "outside")
    tree = project(tmp_path / "p", commit=False)
    links = {
        "apps/core/linked.py": outside / "evil.py",
        "apps/core/linked_pkg": outside / "pkg",
        "config/secret.txt": outside / "secret.txt",
        "secret-link.txt": outside / "secret.txt",
        "apps/core/dangling.py": outside / "missing.py",
    }
    for link, target in links.items():
        (tree / link).symlink_to(target)
    git_commit_all(tree)
    run = gate(tree, reports, osv, tmp_path)

    assert run.rc == 2, run.output
    bandit = run.result("bandit")
    assert bandit["status"] == "error" and "point outside the project" in bandit["error"]
    for link in ("apps/core/linked.py", "apps/core/dangling.py"):
        assert link in bandit["error"]
    assert "linked_pkg" not in bandit["error"]  # a linked folder is not walked into: nothing to report
    secrets = run.result("detect-secrets")
    # Read as their targets' text (paths, no secret), never followed: what they point to is not read.
    assert secrets["status"] == "pass" and secrets["findings"] == [], run.output
    assert_no_stale(run, reports, may_pass=("pip-audit", "detect-secrets", "kingfisher"))
    assert_nothing_leaks(run, tmp_path, AWS_KEY, GITHUB_TOKEN)


def test_bandit_target_that_is_a_symlink_out_of_the_tree_is_an_error(tmp_path, reports):
    outside = outside_tree(tmp_path / "outside")
    tree = project(tmp_path / "p", commit=False)
    (tree / "vendored").symlink_to(outside, target_is_directory=True)
    run = scan("bandit", tree, reports, tmp_path, BANDIT_TARGETS="apps vendored")
    assert run.rc == 2 and "vendored -> " in run.result("bandit")["error"], run.output
    assert_no_stale(run, reports, ["bandit"], None)
    assert_nothing_leaks(run, tmp_path, AWS_KEY)


def test_symlinks_inside_the_tree_are_harmless(tmp_path, reports):
    tree = project(tmp_path / "p", commit=False)
    (tree / "apps/core/alias.py").symlink_to("views.py")
    (tree / "apps/settings_link").symlink_to("../config", target_is_directory=True)
    run = scan("bandit", tree, reports, tmp_path)
    assert run.rc == 0 and run.result("bandit")["status"] == "pass", run.output


# --------------------------------------------------------------------------- binary, very large, empty


def test_binary_files_are_harmless(tmp_path, reports, osv):
    noise = bytes(range(256)) * 64
    tree = project(tmp_path / "p", {
        "static/logo.png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + noise,
        "apps/core/blob.bin": noise,
        "apps/core/locale/de/LC_MESSAGES/django.mo": b"\xde\x12\x04\x95\0\0\0\0" + noise,
        "data.sqlite3": b"SQLite format 3\0" + noise,
    })
    run = gate(tree, reports, osv, tmp_path)
    assert run.rc == 0, run.output
    for name in CODE_SCANS:
        assert run.result(name)["status"] == "pass"


def test_secret_and_dangerous_call_at_the_end_of_large_files_are_found(tmp_path, reports, osv):
    filler = "".join(f"value_{i} = {i}  # a line of filler to make the file large\n" for i in range(2000))
    text = "".join(f"lorem ipsum dolor sit amet, line {i}\n" for i in range(3000))
    tree = project(tmp_path / "p", {
        "apps/core/big.py": filler + "result = eval(input())\n",
        "docs/big.txt": text + f"key: {AWS_KEY}\n",
    })
    run = gate(tree, reports, osv, tmp_path)
    assert run.rc == 1, run.output
    assert ("B307", "apps/core/big.py", 2001) in {
        (f["id"], f["location"]["path"], f["location"]["line"]) for f in run.result("bandit")["findings"]}
    assert ("docs/big.txt", 3001) in {
        (f["location"]["path"], f["location"]["line"]) for f in run.result("detect-secrets")["findings"]}
    # kingfisher reports an AWS access key id only beside its secret key: its pass is this run's.
    assert_no_stale(run, reports, may_pass=("pip-audit", "kingfisher"))
    assert_nothing_leaks(run, tmp_path, AWS_KEY)


def test_file_too_large_to_scan_in_time_is_an_error(tmp_path, reports):
    tree = project(tmp_path / "p", commit=False)
    with open(tree / "dump.txt", "w") as f:  # one 40 MB line: detect-secrets needs about 40 s for it
        f.write("a" * 40_000_000 + f" key {AWS_KEY}\n")
    git_commit_all(tree)
    run = scan("detect-secrets", tree, reports, tmp_path, SCAN_TIMEOUT="2")
    assert run.rc == 2, run.output
    assert "did not finish within SCAN_TIMEOUT=2s" in run.result("detect-secrets")["error"]
    assert_no_stale(run, reports, ["detect-secrets"], None)
    assert_nothing_leaks(run, tmp_path, AWS_KEY)


def test_empty_repository_is_an_error_naming_what_is_missing(tmp_path, reports, osv):
    tree = tmp_path / "empty"
    tree.mkdir()
    git(tree, "init", "-q")
    run = gate(tree, reports, osv, tmp_path)
    assert run.rc == 2, run.output
    assert "has no uv.lock" in run.result("pip-audit")["error"]
    assert "target 'apps' does not exist" in run.result("bandit")["error"]
    assert "nothing to scan" in run.result("detect-secrets")["error"]  # a scan of nothing has proven nothing
    assert_no_stale(run, reports)


def test_tree_that_is_not_a_git_repository_is_an_error_for_detect_secrets(tmp_path, reports):
    tree = write_tree(tmp_path / "p", {**CLEAN, "keys.txt": f"key {AWS_KEY}\n"})
    run = scan("detect-secrets", tree, reports, tmp_path)
    assert run.rc == 2 and "is not a git repository" in run.result("detect-secrets")["error"], run.output
    assert_no_stale(run, reports, ["detect-secrets"], None)
    assert_nothing_leaks(run, tmp_path, AWS_KEY)


def test_tree_without_python_files_is_an_error_for_bandit(tmp_path, reports):
    """A scan with nothing to scan has proven nothing: BANDIT_TARGETS probably point at the wrong folders."""
    tree = tmp_path / "p"
    write_tree(tree, {".gitignore": "reports/\n", "apps/templates/index.html": "<h1>hello</h1>\n",
                      "config/notes.txt": "nothing to see\n"})
    write_uv_project(tree, [("django", "5.2.19")])
    git_commit_all(tree)
    run = scan("bandit", tree, reports, tmp_path)
    assert run.rc == 2 and "no Python file to scan" in run.result("bandit")["error"], run.output


# --------------------------------------------------------------------------- malformed configuration


def test_malformed_pyproject_is_an_error(tmp_path, reports, osv):
    tree = project(tmp_path / "p", commit=False)
    (tree / "pyproject.toml").write_text('[project\nname = "x"\n[tool.bandit]\nexclude_dirs = ["tests"\n')
    git_commit_all(tree)
    run = gate(tree, reports, osv, tmp_path)
    assert run.rc == 2, run.output
    assert run.result("bandit")["status"] == "error" and "pyproject.toml" in run.result("bandit")["error"]
    # pip-audit reads uv.lock only; detect-secrets and kingfisher read no setting of pyproject.toml
    assert_no_stale(run, reports, may_pass=("detect-secrets", "kingfisher", "pip-audit"))


@pytest.mark.parametrize("lock, reason", [
    ("version = 1\n[[package]\nname = \n", "uv.lock is not valid TOML"),
    ("\x00\x01\x02 not toml at all \xff", "uv.lock is not valid TOML"),
    ("", "uv.lock is empty"),
    ('version = 2\n[[package]]\nname = "x"\nversion = "1"\nsource = { registry = "r" }\n', "format version 2"),
])
def test_malformed_uv_lock_is_an_error(tmp_path, reports, lock, reason):
    tree = project(tmp_path / "p", commit=False)
    (tree / "uv.lock").write_text(lock, errors="surrogateescape")
    run = scan("pip-audit", tree, reports, tmp_path, PIP_AUDIT_OSV_URL="http://127.0.0.1:9/v1/query")
    assert run.rc == 2 and reason in run.result("pip-audit")["error"], run.output
    assert_no_stale(run, reports, ["pip-audit"], None)


BASELINE_PLUGINS = [{"name": "AWSKeyDetector"}, {"name": "GitHubTokenDetector"}]


@pytest.mark.parametrize("baseline, cause", [
    ('{"version": "1.5.0", "results": {', "not valid JSON"),
    ("[]", "could not be read"),
    ('{"results": []}', ".secrets.baseline has no results"),
    (json.dumps({"version": "1.5.0", "plugins_used": BASELINE_PLUGINS, "filters_used": [],
                 "results": {"keys.txt": "not a list"}}), "detect-secrets exited 1"),
    (json.dumps({"version": "1.5.0", "plugins_used": [], "filters_used": [], "results": {}}),
     "ran with no plugin"),
])
def test_malformed_secrets_baseline_is_an_error(tmp_path, reports, baseline, cause):
    tree = project(tmp_path / "p", {"keys.txt": f"key {AWS_KEY}\n", ".secrets.baseline": baseline})
    run = scan("detect-secrets", tree, reports, tmp_path)
    result = run.result("detect-secrets")
    assert run.rc == 2 and result["status"] == "error" and cause in result["error"], run.output
    assert_no_stale(run, reports, ["detect-secrets"], None)
    assert_nothing_leaks(run, tmp_path, AWS_KEY)


@pytest.mark.parametrize("content, cause", [
    (b"\xff\xfe\x00garbage\x80\x81", "not valid JSON"),
    (b'{"suppressions": []} {"suppressions": []}', "not valid JSON"),
    (b"", "empty or missing"),
    (b'{"suppressions": [{"scan": "bandit", "id": "B307", "reason": "r", "expires": "2099-01-01", "extra": 1}]}',
     "unknown keys"),
])
def test_malformed_suppression_file_is_an_error(tmp_path, reports, content, cause):
    tree = project(tmp_path / "p", {".security-suppressions.json": content})
    run = scan("bandit", tree, reports, tmp_path)
    result = run.result("bandit")
    assert run.rc == 2 and result["status"] == "error" and cause in result["error"], run.output
    assert_no_stale(run, reports, ["bandit"], None)
