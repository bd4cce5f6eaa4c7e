"""The scan cache and bandit's parallel run: never a different result, only a faster one.

Real bandit and detect-secrets on small fixture trees. Each scan's result carries "cache": {"enabled", "hits",
"misses", "note"}; a miss is a file the tool scanned again in this run. The reference for "the same result" is
the tool run by hand (bandit -r) or the scan without cache (SECURITY_CACHE=off), on the same tree.
detect-secrets runs here with SECRETS_SINCE=HEAD, an empty history range: this module is about the tree's cache
(tests/test_history.py reads histories, and shares the cache with the tree there).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from support.gate import REPO_ROOT, VENV_BIN, fake_tool, run_scan, tool_path
from support.projects import git, git_commit_all, write_tree

# Planted secrets, built at run time so that this file holds none of them whole.
AWS_KEY = "AKIA" + "QYLPMN5HFIQR7XYZ"
GITHUB_TOKEN = "ghp_" + "k3Jd8sLq0ZrT" + "5mWn2XyB7vC4" + "pQ9eF1gH6aUo"

PYPROJECT = '[project]\nname = "fixture"\nversion = "0.1.0"\n\n[tool.bandit]\nexclude_dirs = ["tests"]\n'
# exclude_dirs narrows bandit: a coverage gap the fixture accepts, as this repository does.
EXCLUDE_TESTS_ACCEPTED = {"scan": "bandit", "id": "narrowed:tool.bandit.exclude_dirs:tests",
                          "reason": "tests are not shipped", "expires": "2999-01-01"}
ACCEPT_EXCLUDE_TESTS = json.dumps({"suppressions": [EXCLUDE_TESTS_ACCEPTED]})
FILES = {
    ".gitignore": "reports/\n",
    "pyproject.toml": PYPROJECT,
    ".security-suppressions.json": ACCEPT_EXCLUDE_TESTS,
    "apps/__init__.py": "",
    "apps/core/__init__.py": "",
    "apps/core/calc.py": "def calc(expr):\n    return eval(expr)\n",
    "apps/core/shell.py": (
        "import subprocess\n\n\n"
        "def run(cmd):\n"
        "    subprocess.call(cmd, shell=True)  # nosec B602\n"
        "    return subprocess.call(cmd, shell=True)\n"
    ),
    "apps/core/clean.py": "def add(a, b):\n    return a + b\n",
    "apps/tests/test_calc.py": "def test_calc():\n    assert eval('1') == 1\n",  # excluded by exclude_dirs
    "config/__init__.py": "",
    "config/keys.py": f"AWS_ACCESS_KEY_ID = '{AWS_KEY}'\n",
    "docs/notes.md": f"deploy token: {GITHUB_TOKEN}\n",
}
BANDIT_FILES = 7  # the *.py files under apps and config, less apps/tests (the gate applies exclude_dirs)
SECRET_FILES = len(FILES)
# Files whose answer holds a finding, scanned again every run: the cache keeps no answer with a secret in it (its
# hash is salted by the run's key, which no cache holds). detect-secrets: config/keys.py and docs/notes.md.
RESCANNED = {"bandit": 0, "detect-secrets": 2}


def warm_stats(name: str, files: int, changed: int = 0) -> tuple[int, int]:
    """(hits, misses) of a run after one on the same tree, with `changed` files changed (without findings before)."""
    again = RESCANNED[name] + changed
    return files - again, again

_runs = itertools.count()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "project", FILES)
    git_commit_all(root)
    return root


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def scan(name: str, project: Path, cache: Path, env: dict[str, str] | None = None, path: str | None = None):
    """Run one scan script on project with the given cache directory; the run (results in a fresh folder)."""
    reports = project.parent / f"reports-{next(_runs)}"
    run = run_scan(name, project, reports, env={"SECURITY_CACHE_DIR": str(cache), "SECRETS_SINCE": "HEAD", **(env or {})},
                   path=path)
    assert run.rc in (0, 1), run.output
    return run


def stats(run, name: str) -> tuple[int, int]:
    c = run.result(name)["cache"]
    return c["hits"], c["misses"]


def verdict(run, name: str) -> dict[str, Any]:
    """The result without what differs from run to run (the time, the cache statistics, and the tool's version,
    which a stand-in wrapping the tool hides)."""
    result = run.result(name)
    kept = {k: v for k, v in result.items() if k not in ("finished_at", "cache")}
    kept["tool"] = {k: v for k, v in result.get("tool", {}).items() if k != "version"}
    return kept


def wrapped_verdict(run, name: str) -> dict[str, Any]:
    """verdict() of a run through a wrapper that is not the tool's Python entry point: without the tool's version
    (the wrapper's answer, or none) and the coverage (the gate cannot tell which files a wrapped detect-secrets
    read: that gap is accepted, and the counts say so)."""
    return {k: v for k, v in verdict(run, name).items() if k not in ("tool", "coverage", "accepted_gaps", "counts")}


def raw(run, name: str) -> Any:
    """The kept raw report without its time, the path of detect-secrets' temporary working baseline and each
    secret's salted hash (keyed by each run's own key)."""
    report = json.loads((run.reports / f"{name}.raw.json").read_text())
    report.pop("generated_at", None)
    for secrets in (report.get("results") if name == "detect-secrets" else {}).values():
        for secret in secrets:
            assert secret.pop("hashed_secret").startswith("hmac:")
    for item in report.get("filters_used", []):
        if item.get("path", "").endswith("is_baseline_file"):
            item["filename"] = "<working copy>"
    return report


def bandit_by_hand(project: Path, *targets: str) -> Any:
    """`bandit -r TARGETS -c pyproject.toml` run by hand, sanitized as the gate keeps it, without its time."""
    proc = subprocess.run([str(VENV_BIN / "bandit"), "-r", "-f", "json", "-q", "-c", "pyproject.toml", "--", *targets],
                          cwd=project, capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    sanitized = subprocess.run(["jq", "-L", str(REPO_ROOT / "jq"), "-f", str(REPO_ROOT / "scans" / "bandit" / "sanitize.jq")],
                               input=proc.stdout, capture_output=True, text=True, check=True).stdout
    report = json.loads(sanitized)
    report.pop("generated_at")
    return report


def version_wrapper(folder: Path, tool: str, version: str | None) -> str:
    """A PATH whose TOOL is the real one, except that `TOOL --version` prints version (or fails when None)."""
    answer = f'echo "{version}"; exit 0' if version is not None else "echo 'broken' >&2; exit 1"
    fake_tool(folder, tool, f'if [[ "${{1:-}}" == --version ]]; then {answer}; fi\nexec "{VENV_BIN / tool}" "$@"\n')
    return tool_path(folder)


@pytest.mark.parametrize("name, files", [("bandit", BANDIT_FILES), ("detect-secrets", SECRET_FILES)])
def test_second_run_answers_every_file_from_the_cache_with_the_same_result(project, cache, name, files):
    cold = scan(name, project, cache)
    assert stats(cold, name) == (0, files)
    assert cold.result(name)["status"] == "fail"
    warm = scan(name, project, cache)
    assert stats(warm, name) == warm_stats(name, files)
    assert verdict(warm, name) == verdict(cold, name)
    assert raw(warm, name) == raw(cold, name)
    assert f"{warm_stats(name, files)[0]} from the cache" in warm.output
    if name == "bandit":
        assert f"{files} files: all {files} from the cache, bandit did not run" in warm.output


def test_binary_file_is_answered_from_the_cache_and_still_listed_as_excluded(project, cache):
    (project / "static").mkdir()
    (project / "static" / "logo.png").write_bytes(b"\x89PNG\x00\xff\xfe not text")
    git_commit_all(project)
    binary = [{"item": "static/logo.png", "rule": "binary: detect-secrets reads text only (is binary (a NUL byte, "
               "not UTF-8 text))"}]
    cold = scan("detect-secrets", project, cache)
    assert stats(cold, "detect-secrets") == (0, SECRET_FILES + 1)
    assert [e for e in cold.result("detect-secrets")["excluded"] if e["item"] == "static/logo.png"] == binary
    warm = scan("detect-secrets", project, cache)
    assert stats(warm, "detect-secrets") == warm_stats("detect-secrets", SECRET_FILES + 1)
    assert verdict(warm, "detect-secrets") == verdict(cold, "detect-secrets")
    # The same name with text in it is another file: scanned, and its key found.
    (project / "static" / "logo.png").write_text(f"key = '{AWS_KEY}'\n")
    changed = scan("detect-secrets", project, cache)
    assert stats(changed, "detect-secrets") == warm_stats("detect-secrets", SECRET_FILES + 1, changed=1)
    result = changed.result("detect-secrets")
    assert "static/logo.png" in {f["location"]["path"] for f in result["findings"]}
    assert "static/logo.png" not in {e["item"] for e in result["excluded"]}


def test_cached_bandit_report_is_exactly_bandit_run_by_hand(project, cache):
    by_hand = bandit_by_hand(project, "apps", "config")
    assert raw(scan("bandit", project, cache), "bandit") == by_hand
    assert raw(scan("bandit", project, cache), "bandit") == by_hand
    found = {(f["id"], f["location"]["path"]) for f in scan("bandit", project, cache).result("bandit")["findings"]}
    assert found == {("B307", "apps/core/calc.py"), ("B602", "apps/core/shell.py"), ("B404", "apps/core/shell.py")}


@pytest.mark.parametrize("name", ["bandit", "detect-secrets"])
def test_changed_file_alone_is_scanned_again_and_its_new_findings_count(project, cache, name):
    scan(name, project, cache)
    with (project / "apps/core/clean.py").open("a") as f:
        f.write(f"\n\ndef unsafe(expr):\n    token = '{GITHUB_TOKEN}'\n    return eval(expr)\n")
    warm = scan(name, project, cache)
    assert stats(warm, name) == warm_stats(name, BANDIT_FILES if name == "bandit" else SECRET_FILES, changed=1)
    assert ("apps/core/clean.py", 6) in {(f["location"]["path"], f["location"]["line"])
                                         for f in warm.result(name)["findings"]}
    uncached = scan(name, project, cache, env={"SECURITY_CACHE": "off"})
    assert verdict(warm, name) == verdict(uncached, name)
    assert raw(warm, name) == raw(uncached, name)


@pytest.mark.parametrize("name", ["bandit", "detect-secrets"])
def test_a_project_below_the_repository_root_rescans_a_tracked_file_the_work_tree_changed(tmp_path, cache, name):
    # git names modified files from the repository's root unless told otherwise: the blob ids the cache takes from
    # the index must still leave out a file modified in a project one folder down.
    project = write_tree(tmp_path / "repository" / "service", FILES)
    git_commit_all(tmp_path / "repository")
    scan(name, project, cache)
    the_edit_is_scanned_again_and_found(project, cache, name)


def the_edit_is_scanned_again_and_found(project: Path, cache: Path, name: str) -> None:
    """A token and an eval() appended to a tracked file, unstaged: the warm run scans that file alone and finds them."""
    with (project / "apps/core/clean.py").open("a") as f:
        f.write(f"\n\ndef unsafe(expr):\n    token = '{GITHUB_TOKEN}'\n    return eval(expr)\n")
    warm = scan(name, project, cache)
    assert stats(warm, name)[1] == RESCANNED[name] + 1
    assert ("apps/core/clean.py", 6) in {(f["location"]["path"], f["location"]["line"])
                                         for f in warm.result(name)["findings"]}


@pytest.mark.parametrize("name", ["bandit", "detect-secrets"])
@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_a_file_git_is_told_not_to_look_at_is_rescanned_when_it_changed(project, cache, name, flag):
    # git diff-files does not look at a file marked assume-unchanged or skip-worktree: its index blob id says
    # nothing about what the work tree holds, so the cache must not take it from there.
    scan(name, project, cache)
    git(project, "update-index", flag, "apps/core/clean.py")
    the_edit_is_scanned_again_and_found(project, cache, name)


def test_new_and_deleted_files_are_picked_up(project, cache):
    scan("bandit", project, cache)
    (project / "apps/core/calc.py").unlink()
    write_tree(project, {"config/extra.py": "import pickle\n\n\ndef load(b):\n    return pickle.loads(b)\n"})
    warm = scan("bandit", project, cache)
    assert stats(warm, "bandit") == (BANDIT_FILES - 1, 1)
    assert raw(warm, "bandit") == bandit_by_hand(project, "apps", "config")


@pytest.mark.parametrize("name", ["bandit", "detect-secrets"])
def test_another_version_of_a_tool_that_is_not_a_python_entry_point_rescans_every_file(project, cache, tmp_path,
                                                                                         name):
    files = BANDIT_FILES if name == "bandit" else SECRET_FILES
    cold = scan(name, project, cache)
    other = scan(name, project, cache, path=version_wrapper(tmp_path / "wrapper", name, "99.0.0"),
                 env=accepting_unverified(tmp_path))
    assert stats(other, name) == (0, files)
    assert wrapped_verdict(other, name) == wrapped_verdict(cold, name)


def accepting(folder: Path, gap_id: str) -> dict[str, str]:
    """A suppression file that accepts detect-secrets' coverage gap gap_id (and PYPROJECT's exclude_dirs), as the
    environment that points the gate at it."""
    path = folder / "accepted-gaps.json"
    path.write_text(json.dumps({"suppressions": [EXCLUDE_TESTS_ACCEPTED, {
        "scan": "detect-secrets", "id": gap_id, "reason": "reviewed in the test", "expires": "2999-01-01"}]}))
    return {"SECURITY_SUPPRESSIONS": str(path)}


def accepting_unverified(folder: Path) -> dict[str, str]:
    """Accepts the gap of a detect-secrets that is not a Python entry point (a wrapper around the real one): the
    gate cannot tell which files such a tool read."""
    return accepting(folder, "unverified:detect-secrets")


def fake_distribution(folder: Path, name: str, version: str, entry_points: str = "") -> dict[str, str]:
    """PYTHONPATH with a distribution's metadata only (no code): what importlib.metadata reads first."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    if entry_points:
        (info / "entry_points.txt").write_text(entry_points)
    return {"PYTHONPATH": str(folder)}


@pytest.mark.parametrize("name", ["bandit", "detect-secrets"])
def test_another_installed_version_read_from_the_tools_python_rescans_every_file(project, cache, tmp_path, name):
    files = BANDIT_FILES if name == "bandit" else SECRET_FILES
    cold = scan(name, project, cache)
    # The same tool under another version number: its metadata (with its real entry points, which bandit loads
    # its plugins from) shadows the installed one's.
    [real] = (REPO_ROOT / ".venv").glob(f"lib/python3*/site-packages/{name.replace('-', '_')}-*.dist-info")
    entry_points = (real / "entry_points.txt").read_text()
    other = scan(name, project, cache, env=fake_distribution(tmp_path / "site", name, "99.0.0", entry_points))
    assert stats(other, name) == (0, files)

    def found(run):  # bandit's documentation links carry its version: compare what was found, where
        return sorted((f["id"], f["location"]["path"], f["location"]["line"]) for f in run.result(name)["findings"])

    assert found(other) == found(cold)


def test_a_plugin_registered_for_bandit_rescans_every_file(project, cache, tmp_path):
    scan("bandit", project, cache)
    plugin = fake_distribution(tmp_path / "site", "bandit-extra-formatter", "1.0",
                               "[bandit.formatters]\nextra = json:dumps\n")
    assert stats(scan("bandit", project, cache, env=plugin), "bandit") == (0, BANDIT_FILES)
    assert stats(scan("bandit", project, cache, env=plugin), "bandit") == (BANDIT_FILES, 0)


@pytest.mark.parametrize("name", ["bandit", "detect-secrets"])
def test_tool_that_cannot_tell_its_version_is_scanned_without_cache(project, cache, tmp_path, name):
    cold = scan(name, project, cache)
    run = scan(name, project, cache, path=version_wrapper(tmp_path / "wrapper", name, None),
               env=accepting_unverified(tmp_path))
    result = run.result(name)
    assert result["cache"]["enabled"] is False and "--version" in result["cache"]["note"]
    assert wrapped_verdict(run, name) == wrapped_verdict(cold, name)


def test_bandit_config_change_rescans_and_other_pyproject_changes_do_not(project, cache):
    scan("bandit", project, cache)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(PYPROJECT.replace('version = "0.1.0"', 'version = "0.2.0"'))
    assert stats(scan("bandit", project, cache), "bandit") == (BANDIT_FILES, 0)
    narrowed = [{**EXCLUDE_TESTS_ACCEPTED, "id": f"narrowed:tool.bandit.{gap}"}
                for gap in ("exclude_dirs:tests", "skips:B307", "exclude_dirs:core")]
    (project / ".security-suppressions.json").write_text(json.dumps({"suppressions": narrowed}))
    pyproject.write_text(PYPROJECT + 'skips = ["B307"]\n')
    run = scan("bandit", project, cache)
    assert stats(run, "bandit") == (0, BANDIT_FILES)
    assert "B307" not in run.ids("bandit")
    assert raw(run, "bandit") == bandit_by_hand(project, "apps", "config")
    pyproject.write_text(PYPROJECT.replace('["tests"]', '["tests", "core"]'))
    run = scan("bandit", project, cache)
    outside_core = sum(1 for name in FILES if name.endswith(".py") and "/core/" not in name and "/tests/" not in name)
    assert stats(run, "bandit") == (0, outside_core) and run.result("bandit")["findings"] == []
    assert raw(run, "bandit") == bandit_by_hand(project, "apps", "config")


def baseline_of(project: Path, *files: str) -> dict[str, Any]:
    proc = subprocess.run([str(VENV_BIN / "detect-secrets"), "scan", *files], cwd=project,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_baseline_change_rescans_the_files_it_concerns_and_settings_change_rescans_all(project, cache):
    baseline = baseline_of(project, "config/keys.py", "docs/notes.md")
    for entry in (e for entries in baseline["results"].values() for e in entries):
        entry["is_secret"] = False  # audited: false positives
    (project / ".secrets.baseline").write_text(json.dumps(baseline))
    files = SECRET_FILES  # the baseline itself is not scanned
    cold = scan("detect-secrets", project, cache)
    assert cold.result("detect-secrets")["status"] == "pass"
    # The audited files hold detect-secrets' answers still (the gate drops them): scanned again every run.
    assert stats(scan("detect-secrets", project, cache), "detect-secrets") == warm_stats("detect-secrets", files)

    baseline["results"]["config/keys.py"][0]["is_secret"] = True  # audited: a true secret
    (project / ".secrets.baseline").write_text(json.dumps(baseline))
    run = scan("detect-secrets", project, cache)
    assert stats(run, "detect-secrets") == warm_stats("detect-secrets", files)
    assert [f["location"]["path"] for f in run.result("detect-secrets")["findings"]] == ["config/keys.py"]
    uncached = scan("detect-secrets", project, cache, env={"SECURITY_CACHE": "off"})
    assert verdict(run, "detect-secrets") == verdict(uncached, "detect-secrets")
    assert raw(run, "detect-secrets") == raw(uncached, "detect-secrets")

    for plugin in (p for p in baseline["plugins_used"] if p["name"] == "KeywordDetector"):
        plugin["keyword_exclude"] = "^legacy_"  # a narrowing that leaves detect-secrets' canary found
    (project / ".secrets.baseline").write_text(json.dumps(baseline))
    accepted = accepting(project.parent, "narrowed:baseline-plugin-setting:KeywordDetector.keyword_exclude")  # reviewed
    run = scan("detect-secrets", project, cache, env=accepted)
    assert stats(run, "detect-secrets") == (0, files)
    assert verdict(run, "detect-secrets") == verdict(scan("detect-secrets", project, cache,
                                                          env={"SECURITY_CACHE": "off", **accepted}), "detect-secrets")


def manifest(cache: Path, name: str) -> Path:
    return cache / "v1" / f"{name}.json"


def entry_of(cache: Path, name: str, path: str) -> tuple[dict[str, Any], str]:
    data = json.loads(manifest(cache, name).read_text())
    [key] = [k for k, e in data["entries"].items() if e["path"] == path]
    return data, key


def corrupt_truncated(cache: Path, name: str) -> int:
    text = manifest(cache, name).read_text()
    manifest(cache, name).write_text(text[: len(text) // 2])
    return -1


def corrupt_garbage(cache: Path, name: str) -> int:
    manifest(cache, name).write_bytes(b"\x00\xffnot json at all")
    return -1


def corrupt_value_shape(cache: Path, name: str) -> int:
    data, key = entry_of(cache, name, "apps/core/calc.py")
    data["entries"][key]["value"]["results"] = "none"
    manifest(cache, name).write_text(json.dumps(data))
    return 1


def corrupt_other_files_value(cache: Path, name: str) -> int:
    """calc.py's entry holding shell.py's value (as if keys were mixed up)."""
    data, key = entry_of(cache, name, "apps/core/calc.py")
    _, other = entry_of(cache, name, "apps/core/shell.py")
    data["entries"][key] = data["entries"][other]
    manifest(cache, name).write_text(json.dumps(data))
    return 1


def corrupt_wrong_format(cache: Path, name: str) -> int:
    data = json.loads(manifest(cache, name).read_text())
    data["format"] = 0
    manifest(cache, name).write_text(json.dumps(data))
    return -1


@pytest.mark.parametrize("name, corrupt", [
    *(("bandit", c) for c in (corrupt_truncated, corrupt_garbage, corrupt_value_shape, corrupt_other_files_value,
                              corrupt_wrong_format)),
    *(("detect-secrets", c) for c in (corrupt_truncated, corrupt_value_shape, corrupt_other_files_value)),
])
def test_corrupt_cache_is_ignored_and_the_files_scanned_again(project, cache, name, corrupt):
    files = BANDIT_FILES if name == "bandit" else SECRET_FILES
    cold = scan(name, project, cache)
    rescanned = corrupt(cache, name)
    run = scan(name, project, cache)
    assert stats(run, name) == ((0, files) if rescanned < 0 else warm_stats(name, files, changed=rescanned))
    assert verdict(run, name) == verdict(cold, name)
    assert raw(run, name) == raw(cold, name)
    assert stats(scan(name, project, cache), name) == warm_stats(name, files)  # it trusts the repaired cache


@pytest.mark.parametrize("name", ["bandit", "detect-secrets"])
def test_cache_off_reads_and_writes_nothing(project, cache, name):
    cold = scan(name, project, cache)
    manifest(cache, name).write_bytes(b"garbage that must not be read")
    run = scan(name, project, cache, env={"SECURITY_CACHE": "off"})
    assert run.result(name)["cache"] == {"enabled": False, "hits": 0,
                                         "misses": BANDIT_FILES if name == "bandit" else SECRET_FILES,
                                         "note": "SECURITY_CACHE=off"}
    assert manifest(cache, name).read_bytes() == b"garbage that must not be read"
    assert verdict(run, name) == verdict(cold, name)


def test_unknown_cache_setting_is_an_error(project, cache, tmp_path):
    run = run_scan("bandit", project, tmp_path / "r", env={"SECURITY_CACHE_DIR": str(cache), "SECURITY_CACHE": "yes"})
    assert run.rc == 2 and "SECURITY_CACHE must be on or off" in run.result("bandit")["error"]


def test_unwritable_cache_directory_is_only_a_warning(project, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    run = scan("bandit", project, blocker / "cache")
    assert run.result("bandit")["status"] == "fail" and "could not be written" in run.output


def big_tree(root: Path, count: int) -> Path:
    """count Python files with findings here and there, a nosec, an excluded folder and an unparseable file."""
    files = {"pyproject.toml": PYPROJECT, ".security-suppressions.json": ACCEPT_EXCLUDE_TESTS,
             ".gitignore": "reports/\n", "apps/__init__.py": ""}
    for i in range(count):
        body = f"VALUE_{i} = {i}\n\n\ndef f{i}(x):\n    return x + {i}\n"
        if i % 7 == 0:
            body += f"\n\ndef g{i}(x):\n    return eval(x)\n"
        if i % 11 == 0:
            body += "\nimport subprocess\nsubprocess.call('ls', shell=True)  # nosec\n"
        files[f"apps/m{i // 50}/mod_{i}.py"] = body
    files["apps/tests/test_x.py"] = "assert eval('1')\n"
    files["apps/broken.py"] = "def broken(:\n"
    files["config/settings.py"] = "import hashlib\nhashlib.md5(b'x')\n"
    write_tree(root, files)
    git_commit_all(root)
    return root


def test_bandit_spread_over_processes_reports_exactly_one_bandit_run(tmp_path, cache):
    project = big_tree(tmp_path / "big", 240)
    by_hand = bandit_by_hand(project, "apps", "config")
    assert by_hand["errors"] and by_hand["results"] and len(by_hand["metrics"]) > 200
    two = scan_error_ok("bandit", project, cache, {"BANDIT_JOBS": "2"})
    assert "scanned by 2 bandit processes, 2 at a time" in two.output
    assert raw(two, "bandit") == by_hand
    one = scan_error_ok("bandit", project, tmp_path / "other-cache", {"BANDIT_JOBS": "1"})
    assert "scanned by 1 bandit process" in one.output and "at a time" not in one.output
    assert raw(one, "bandit") == by_hand
    warm = scan_error_ok("bandit", project, cache, {"BANDIT_JOBS": "2"})
    broken_files = len(by_hand["errors"])
    assert stats(warm, "bandit")[1] == broken_files  # only the file bandit could not parse is tried again
    assert raw(warm, "bandit") == by_hand
    assert verdict(warm, "bandit") == verdict(two, "bandit") == verdict(one, "bandit")
    assert "apps/broken.py" in warm.result("bandit")["error"]


def scan_error_ok(name: str, project: Path, cache: Path, env: dict[str, str]):
    """A scan expected to end in "error" (an unparseable file) that still lists its findings."""
    reports = project.parent / f"reports-{next(_runs)}"
    run = run_scan(name, project, reports, env={"SECURITY_CACHE_DIR": str(cache), **env})
    assert run.rc == 2 and run.result(name)["status"] == "error", run.output
    return run


def test_file_targets_and_overlapping_targets_report_what_bandit_reports(project, cache):
    """A file named twice (in a folder, and on its own) is scanned once, as when its folder alone is named."""
    for targets, same_as in (("apps/core/calc.py config", None), ("apps apps/core/calc.py", "apps"), (".", None)):
        run = scan("bandit", project, cache, env={"BANDIT_TARGETS": targets})
        assert raw(run, "bandit") == bandit_by_hand(project, *(same_as or targets).split()), targets
        again = scan("bandit", project, cache, env={"BANDIT_TARGETS": targets})
        assert raw(again, "bandit") == raw(run, "bandit"), targets


def test_file_names_that_are_not_utf8_are_cached_under_their_own_names(project, cache):
    odd = project / "apps" / os.fsdecode(b"latin1-\xe9\xff.py")
    odd.write_text(f"KEY = '{AWS_KEY}'\nresult = eval(input())\n")
    for name in ("bandit", "detect-secrets"):
        cold = scan(name, project, cache)
        warm = scan(name, project, cache)
        assert stats(warm, name)[1] == (0 if name == "bandit" else RESCANNED[name] + 1)  # its key: found again
        assert verdict(warm, name) == verdict(cold, name) and raw(warm, name) == raw(cold, name)
        assert "apps/latin1-\ufffd\ufffd.py" in {f["location"]["path"] for f in warm.result(name)["findings"]}
        if name == "bandit":
            assert raw(warm, name) == bandit_by_hand(project, "apps", "config")


def test_file_names_bandit_would_report_alike_are_an_error_naming_both(project, cache):
    for name in (b"latin1-\xe9.py", b"latin1-\xfc.py"):
        (project / "apps" / os.fsdecode(name)).write_text("x = 1\n")
    run = run_scan("bandit", project, project.parent / "reports-alike", env={"SECURITY_CACHE_DIR": str(cache)})
    assert run.rc == 2, run.output
    assert ("same name in bandit's report: apps/latin1-\\xe9.py and apps/latin1-\\xfc.py"
            in run.result("bandit")["error"])


def test_dot_bandit_file_in_the_targets_is_an_error_naming_it(project, cache):
    """bandit reads .bandit only when it walks a folder itself; the gate hands it explicit files, so the settings
    there would be silently ignored: the gate says so instead."""
    write_tree(project, {"apps/.bandit": "[bandit]\nskips = B307\n"})
    run = run_scan("bandit", project, project.parent / "reports", env={"SECURITY_CACHE_DIR": str(cache)})
    result = run.result("bandit")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "apps/.bandit" in result["error"] and "[tool.bandit]" in result["error"]


def test_runs_sharing_a_cache_at_once_each_get_their_own_result(tmp_path, cache):
    first = write_tree(tmp_path / "one", FILES)
    second = write_tree(tmp_path / "two", {**FILES, "apps/core/calc.py": "def calc(x):\n    return x\n"})
    for root in (first, second):
        git_commit_all(root)
    runs: dict[str, Any] = {}

    def work(root: Path, name: str) -> None:
        runs[root.name, name] = run_scan(name, root, tmp_path / f"r-{root.name}-{name}",
                                         env={"SECURITY_CACHE_DIR": str(cache)})

    for _ in range(2):
        threads = [threading.Thread(target=work, args=(root, name))
                   for root in (first, second) for name in ("bandit", "detect-secrets")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert "B307" in runs["one", "bandit"].ids("bandit")
        assert "B307" not in runs["two", "bandit"].ids("bandit")
        for name in ("bandit", "detect-secrets"):
            json.loads(manifest(cache, name).read_text())  # whole, whoever wrote last
