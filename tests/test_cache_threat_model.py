"""What the workflow caches and uploads holds no hashing key (docs/workflow.md, "Caches"): a pull request restores
main's scan cache and can read the artifacts, so neither may let it test a guess against a salted hash.

The test reads the paths the workflow saves to GitHub's cache and uploads as artifacts from
.github/workflows/security.yml, runs the code gate's secret and code scans as the workflow does (reports and caches
in the checkout, the whole history read) on a tree with a secret in a file and another in a commit since removed,
twice with the cache between, and then reads every file under those paths. The run's key is given
(SECURITY_RUN_KEY) so that the test knows what to look for.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from support.gate import REPO_ROOT, run_gate
from support.projects import git, git_commit_all, write_tree

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "security.yml"
AWS_KEY = "AKIA" + "ZQXWVUTSRPONM2KL"
GITHUB_TOKEN = "ghp_" + "Zx8cV2bN4mQ1" + "wE5rT7yU9iO3" + "pA6sD0fG2hJk"
KEYS = ("1f" * 32, "a5" * 32)  # the two runs' keys
SALTED = re.compile(rb"hmac:[0-9a-f]{40}")


def workflow_paths() -> dict[str, set[str]]:
    """{"cache": paths saved to GitHub's cache, "artifact": paths uploaded}, over both jobs."""
    workflow = YAML(typ="safe").load(WORKFLOW.read_text())
    found: dict[str, set[str]] = {"cache": set(), "artifact": set()}
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            action = step.get("uses", "").split("@")[0]
            kind = {"actions/cache/save": "cache", "actions/upload-artifact": "artifact"}.get(action)
            if kind:
                found[kind].update(line.strip() for line in step["with"]["path"].splitlines() if line.strip())
    return found


def salt(key_hex: str, value: str) -> bytes:
    unsalted = hashlib.sha1(value.encode()).hexdigest()
    return b"hmac:" + hmac.new(bytes.fromhex(key_hex), unsalted.encode(), "sha256").hexdigest()[:40].encode()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The workspace: a checkout whose tree holds AWS_KEY and whose history held GITHUB_TOKEN; the gate's two runs."""
    root = tmp_path_factory.mktemp("workspace")
    write_tree(root, {".gitignore": "reports/\n.cache/\n", "apps/__init__.py": "", "config/__init__.py": "",
                      "apps/clean.py": "def add(a, b):\n    return a + b\n",
                      "docs/old.md": f"deploy token: {GITHUB_TOKEN}\n"})
    git_commit_all(root, "a token, by mistake")
    (root / "docs" / "old.md").write_text("the token is gone\n")
    write_tree(root, {"config/keys.py": f"AWS_ACCESS_KEY_ID = '{AWS_KEY}'\n",
                      **{f"apps/m{i}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(20)}})
    git_commit_all(root, "the token removed, a key added")
    cache = root / ".cache" / "security"
    (cache / "v1").mkdir(parents=True)
    (cache / "v1" / "secret.key").write_bytes(bytes(range(32)))  # what an earlier version left in the cache
    runs = []
    for key in KEYS:
        run = run_gate("security-code", root, root / "reports" / "security", scans=("bandit", "detect-secrets"),
                       env={"SECURITY_CACHE_DIR": str(cache), "SECRETS_SINCE": "all", "SECURITY_RUN_KEY": key})
        assert run.rc == 1, run.output
        findings = run.result("detect-secrets")["findings"]
        assert {"config/keys.py", "docs/old.md"} <= {f["location"]["path"] for f in findings}, run.output
        files = kept_files(root)
        salted = {h for name, data in files.items() if name.startswith("artifact:") for h in SALTED.findall(data)}
        runs.append({"ds": run.result("detect-secrets"), "bandit": run.result("bandit"), "files": files,
                     "salted": salted})
    return root, runs


def kept_files(root: Path) -> dict[str, bytes]:
    """Every file under the paths the workflow caches or uploads, by path, as the run left them."""
    files = {}
    for kind, paths in workflow_paths().items():
        for path in paths:
            for file in (root / path).rglob("*") if (root / path).is_dir() else []:
                if file.is_file():
                    files[f"{kind}:{file.relative_to(root)}"] = file.read_bytes()
    return files


def test_the_workflow_caches_the_scan_cache_and_uploads_the_reports(checkout):
    paths = workflow_paths()
    assert ".cache/security" in paths["cache"] and {p.rstrip("/") for p in paths["artifact"]} == {"reports/security"}
    root, runs = checkout
    for run in runs:
        kinds = {name.split(":", 1)[0] for name in run["files"]}
        assert kinds == {"cache", "artifact"}, sorted(run["files"])
        assert any(name.startswith("cache:.cache/security/v1/detect-secrets") for name in run["files"])


def test_no_cached_or_uploaded_file_holds_the_runs_key_and_the_old_key_file_is_gone(checkout):
    root, runs = checkout
    for key, run in zip(KEYS, runs):
        raw = bytes.fromhex(key)
        for name, data in run["files"].items():
            assert raw not in data and key.encode() not in data and key.upper().encode() not in data, name
            assert bytes(range(32)) not in data, name
        assert not [name for name in run["files"] if name.endswith("secret.key")]


def test_the_cache_holds_no_hash_of_a_secret_salted_or_not(checkout):
    _, runs = checkout
    for run in runs:
        for name, data in run["files"].items():
            for secret in (AWS_KEY, GITHUB_TOKEN):
                assert secret.encode() not in data and hashlib.sha1(secret.encode()).hexdigest().encode() not in data
            if name.startswith("cache:"):
                assert not SALTED.search(data), name


def test_no_salted_hash_in_a_report_can_be_recomputed_from_anything_cached_or_uploaded(checkout):
    _, runs = checkout
    for key, run in zip(KEYS, runs):
        # The reports' salted hashes (the raw report's: the tree's secret) are the run's key's: the check below
        # would see that key, were it kept anywhere.
        assert salt(key, AWS_KEY) in run["salted"]
        candidates = {bytes(range(32))}  # the key an earlier version kept in the cache
        for data in run["files"].values():
            if len(data) == 32:
                candidates.add(data)
            candidates.update(bytes.fromhex(h.decode()) for h in re.findall(rb"\b[0-9a-fA-F]{64}\b", data))
        for candidate in candidates:
            for secret in (AWS_KEY, GITHUB_TOKEN):
                assert salt(candidate.hex(), secret) not in run["salted"]


def test_each_run_salts_with_its_own_key_and_files_with_findings_are_scanned_again(checkout):
    _, runs = checkout
    first, second = runs
    assert not first["salted"] & second["salted"]
    cache = second["ds"]["cache"]
    assert cache["enabled"] and cache["hits"] > 20 and cache["misses"] == 1, cache  # config/keys.py alone
    assert second["bandit"]["cache"]["misses"] == 0  # bandit's findings name no secret: all answered


def test_a_warm_run_finds_what_the_cold_one_found(checkout):
    _, (first, second) = checkout

    def found(result):
        return sorted((f["id"], f["location"]["path"], f["location"]["line"], f["location"].get("detail"))
                      for f in result["findings"])

    assert found(first["ds"]) == found(second["ds"]) and found(first["bandit"]) == found(second["bandit"])
