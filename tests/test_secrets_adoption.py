"""Adopting the gate on a repository whose history holds keys: make secrets-baseline (scripts/secrets-baseline.sh)
records every current finding of the secret engines in .security-secrets-adopted.json; the real gate then passes,
and a new key, a known key in a new place, an edited fingerprint or an expired file still fail.

The keys are assembled at run time from a provider's prefix and random characters, so that this file holds none of
them whole; the adoption file and every report are searched for each value and its SHA-1 and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import string
import subprocess
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, gate_env, run_gate, run_scan
from support.projects import git_commit_all, write_tree

ADOPTED = ".security-secrets-adopted.json"
SECRET_SCANS = tuple(sorted(run.parent.name for run in (REPO_ROOT / "scans").glob("*/run.sh")
                            if "# Kind: secrets" in run.read_text()))
ALL = {"SECRETS_SINCE": "all"}  # pragma: allowlist secret (a range, not a secret)


def github_token() -> str:
    return "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36))


def aws_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


def keys() -> tuple[str, str]:
    """Two keys that each engine tells apart by value: kingfisher a GitHub token (detect-secrets hashes only the
    token's prefix, the same for every GitHub token), detect-secrets an AWS key id."""
    return github_token(), aws_key_id()


def key_lines(pair: tuple[str, str]) -> str:
    return f"GITHUB_TOKEN={pair[0]}\naws_access_key_id = {pair[1]}\n"


def secrets_baseline(project: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPO_ROOT / "scripts" / "secrets-baseline.sh")],
                          env=gate_env(project, tmp / "unused-reports", ALL), capture_output=True, text=True,
                          timeout=300, check=False)


def build(root: Path, tree_keys: tuple[str, str], history_keys: tuple[str, str] | None) -> dict[str, str]:
    """A repository whose tree holds TREE_KEYS in deploy/notes.txt and whose history held HISTORY_KEYS in
    deploy/old.env (added, then removed); the commit ids by name."""
    write_tree(root, {"apps/views.py": "def index():\n    return 'ok'\n",
                      "deploy/notes.txt": "first run:\n" + key_lines(tree_keys)})
    commits = {"base": git_commit_all(root, "base")}
    if history_keys is not None:
        write_tree(root, {"deploy/old.env": key_lines(history_keys)})
        commits["added"] = git_commit_all(root, "add a token")
        (root / "deploy" / "old.env").unlink()
        commits["removed"] = git_commit_all(root, "remove it")
    return commits


@pytest.fixture(scope="module")
def adopted(tmp_path_factory):
    """The fixture repository after make secrets-baseline, its keys, and the baseline's own output."""
    tmp = tmp_path_factory.mktemp("adoption")
    planted = {"tree": keys(), "history": keys()}
    root = tmp / "project"
    commits = build(root, planted["tree"], planted["history"])
    proc = secrets_baseline(root, tmp)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((root / ADOPTED).read_text())
    git_commit_all(root, "adopt the secret gate")  # as the README says: the file is reviewed and committed
    return {"root": root, "keys": planted, "commits": commits, "output": proc.stdout + proc.stderr, "file": data}


def copy_of(adopted, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(adopted["root"], root, symlinks=True)
    return root


def failing(run, scan: str) -> list[str]:
    return sorted(f["location"]["path"] for f in run.result(scan)["findings"])


def test_secrets_baseline_records_each_secret_of_the_tree_and_the_history_with_its_engines_and_place(adopted):
    entries = adopted["file"]["entries"]
    places = {(e["path"], e["commit"]) for e in entries}
    assert places == {("deploy/notes.txt", None), ("deploy/old.env", adopted["commits"]["added"])}, entries
    # Each engine finds a key of each place; an entry lists the engines that gave its fingerprint.
    for scan in SECRET_SCANS:
        assert {(e["path"], e["commit"]) for e in entries if scan in e["engines"]} == places, (scan, entries)
    for e in entries:
        assert e["fingerprint"].startswith("scrypt:") and e["line"] in (1, 2, 3) and e["types"] and e["reason"]
    assert adopted["file"]["generated_at"] and adopted["file"]["expires"] > adopted["file"]["generated_at"]
    assert len(adopted["file"]["salt"]) == 32


def test_after_secrets_baseline_the_full_history_run_passes(adopted, tmp_path):
    run = run_gate("security-code", adopted["root"], tmp_path / "reports", ALL, scans=SECRET_SCANS)
    assert run.rc == 0, run.output
    for scan in SECRET_SCANS:
        result = run.result(scan)
        assert {f["location"]["path"] for f in result["suppressed"]} == {"deploy/notes.txt", "deploy/old.env"}, scan
        assert result["unused_suppressions"] == [], scan
        assert all("adoption" not in f for f in result["suppressed"]), "a result carries an adoption fingerprint"


def test_a_newly_committed_key_fails(adopted, tmp_path):
    root = copy_of(adopted, tmp_path)
    write_tree(root, {"deploy/new.env": key_lines(keys())})
    git_commit_all(root, "a new key")
    run = run_gate("security-code", root, tmp_path / "reports", ALL, scans=SECRET_SCANS)
    assert run.rc == 1, run.output
    for scan in SECRET_SCANS:
        assert set(failing(run, scan)) == {"deploy/new.env"}, scan


def test_a_known_key_copied_to_a_new_path_fails_there_only(adopted, tmp_path):
    root = copy_of(adopted, tmp_path)
    write_tree(root, {"deploy/copy.txt": (root / "deploy" / "notes.txt").read_text()})
    git_commit_all(root, "the same key elsewhere")
    run = run_gate("security-code", root, tmp_path / "reports", ALL, scans=SECRET_SCANS)
    assert run.rc == 1, run.output
    for scan in SECRET_SCANS:
        assert set(failing(run, scan)) == {"deploy/copy.txt"}, scan


def test_an_entry_whose_secret_is_gone_from_the_history_is_listed_unused_and_the_run_passes(adopted, tmp_path):
    # The same tree, its history rewritten without the commits that held the other key.
    root = tmp_path / "project"
    build(root, adopted["keys"]["tree"], None)
    (root / ADOPTED).write_text((adopted["root"] / ADOPTED).read_text())
    run = run_gate("security-code", root, tmp_path / "reports", ALL, scans=SECRET_SCANS)
    assert run.rc == 0, run.output
    for scan in SECRET_SCANS:
        result = run.result(scan)
        assert {u["location"].split(":")[0] for u in result["unused_suppressions"]} == {"deploy/old.env"}, scan
        assert {f["location"]["path"] for f in result["suppressed"]} == {"deploy/notes.txt"}, scan


def test_an_entry_edited_with_a_wrong_fingerprint_accepts_nothing(adopted, tmp_path):
    root = copy_of(adopted, tmp_path)
    data = json.loads((root / ADOPTED).read_text())
    for e in data["entries"]:
        if e["path"] == "deploy/notes.txt":
            e["fingerprint"] = e["fingerprint"][:-1] + ("0" if e["fingerprint"][-1] != "0" else "1")
    (root / ADOPTED).write_text(json.dumps(data))
    run = run_scan(SECRET_SCANS[0], root, tmp_path / "reports", ALL)
    assert run.rc == 1, run.output
    result = run.result(SECRET_SCANS[0])
    assert set(failing(run, SECRET_SCANS[0])) == {"deploy/notes.txt"}
    assert {u["location"].split(":")[0] for u in result["unused_suppressions"]} == {"deploy/notes.txt"}


def test_an_expired_adoption_file_fails_like_an_expired_suppression(adopted, tmp_path):
    root = copy_of(adopted, tmp_path)
    data = json.loads((root / ADOPTED).read_text())
    data["expires"] = "2020-01-01"
    (root / ADOPTED).write_text(json.dumps(data))
    scan = SECRET_SCANS[-1]
    run = run_scan(scan, root, tmp_path / "reports", ALL)
    assert run.rc == 1, run.output
    result = run.result(scan)
    assert len(result["expired_suppressions"]) == sum(scan in e["engines"] for e in data["entries"]) > 0
    assert "EXPIRED" in run.output and result["suppressed"] == []


def test_a_malformed_adoption_file_is_an_error_naming_it(adopted, tmp_path):
    root = copy_of(adopted, tmp_path)
    data = json.loads((root / ADOPTED).read_text())
    data["entries"][0]["value"] = "anything"
    (root / ADOPTED).write_text(json.dumps(data))
    run = run_scan(SECRET_SCANS[0], root, tmp_path / "reports", ALL)
    assert run.rc == 2, run.output
    assert ADOPTED in run.result(SECRET_SCANS[0])["error"] and "unknown keys" in run.result(SECRET_SCANS[0])["error"]


def test_the_adoption_file_and_the_reports_hold_no_value_and_no_unsalted_hash(adopted, tmp_path):
    run = run_gate("security-code", adopted["root"], tmp_path / "reports", ALL, scans=SECRET_SCANS)
    written = (adopted["root"] / ADOPTED).read_text() + adopted["output"] + run.output + run.everything_written()
    for key in [k for pair in adopted["keys"].values() for k in pair]:
        for form in (key, hashlib.sha1(key.encode()).hexdigest(), hashlib.sha256(key.encode()).hexdigest()):
            assert form not in written


def test_running_secrets_baseline_again_keeps_the_salt_and_the_reviewed_reasons(adopted, tmp_path):
    root = copy_of(adopted, tmp_path)
    data = json.loads((root / ADOPTED).read_text())
    for e in data["entries"]:
        e["reason"] = f"rotated in 2024 ({e['path']})"
    (root / ADOPTED).write_text(json.dumps(data))
    proc = secrets_baseline(root, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    again = json.loads((root / ADOPTED).read_text())
    assert again["salt"] == data["salt"]
    assert [(e["fingerprint"], e["reason"]) for e in again["entries"]] == [
        (e["fingerprint"], e["reason"]) for e in data["entries"]]
