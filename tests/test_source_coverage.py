"""bandit and detect-secrets account for every file: what they left out is an error naming it, what the gate
excluded is listed with its rule, and nothing narrows a scan silently or leaves a crackable trace of a secret.

Real bandit and detect-secrets on small git projects, each with one planted problem of issue 12.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from support.gate import VENV_BIN, run_gate, run_scan, tool_path
from support.projects import git, git_commit_all, write_tree

AWS_KEY = "AKIA" + "QYLPMN5HFIQR7XYZ"
WEAK_PASSWORD = "sunsh" + "ine1"  # a word-list password, its SHA-1 crackable  # pragma: allowlist secret
PYPROJECT = '[project]\nname = "fixture"\nversion = "0.1.0"\n\n[tool.bandit]\nexclude_dirs = ["tests"]\n'
EVAL = 'def view(request):\n    return eval(request.GET["q"])\n'
# A tuple unpacking with an attribute target above SafeString(...) makes bandit's B703 (django_mark_safe) raise.
B703_CRASH = (
    "from django.utils.safestring import SafeString\n\n\n"
    "def view(request, page):\n"
    "    page.title, body = request.GET['t'], request.GET['b']\n"
    "    return SafeString(body)\n"
)
FAR_FUTURE = "2999-01-01"


# PYPROJECT's exclude_dirs narrows bandit: every project here accepts that gap, as this repository does.
EXCLUDE_TESTS_GAP = "narrowed:tool.bandit.exclude_dirs:tests"


def new_project(root: Path, files: dict[str, str | bytes], *, commit: bool = True) -> Path:
    write_tree(root, {".gitignore": "reports/\n", "pyproject.toml": PYPROJECT, "apps/__init__.py": "", **files})
    accept(root, "bandit")
    if commit:
        git_commit_all(root)
    return root


def scan(name: str, project: Path, reports: Path, tmp_path: Path, **env: str):
    return run_scan(name, project, reports, env={"SECURITY_CACHE_DIR": str(tmp_path / "cache"), **env})


def ids(result: dict, key: str = "coverage_gaps") -> set[str]:
    return {g["id"] for g in result[key]}


def found(result: dict) -> set[tuple[str, str]]:
    return {(f["id"], f["location"]["path"]) for f in result["findings"]}


def accept(project: Path, scan_name: str, *gap_ids: str) -> None:
    """The suppression file accepts gap_ids of scan_name, and PYPROJECT's exclude_dirs."""
    entries = [{"scan": name, "id": i, "reason": "reviewed in the test", "expires": FAR_FUTURE}
               for name, i in [("bandit", EXCLUDE_TESTS_GAP)] + [(scan_name, i) for i in gap_ids]]
    (project / ".security-suppressions.json").write_text(json.dumps({"suppressions": entries}))


# --------------------------------------------------------------------------- bandit


def test_exclude_dirs_matches_whole_folder_names_never_part_of_one(tmp_path, reports):
    project = new_project(tmp_path / "p", {
        "apps/contests/views.py": EVAL, "apps/tests/test_views.py": EVAL, "tests/test_app.py": EVAL,
        "apps/tests.py": EVAL,
    })
    run = scan("bandit", project, reports, tmp_path, BANDIT_TARGETS="apps tests")
    result = run.result("bandit")
    assert result["status"] == "fail", run.output
    assert found(result) == {("B307", "apps/contests/views.py"), ("B307", "apps/tests.py")}
    excluded = {e["item"]: e["rule"] for e in result["excluded"]}
    assert excluded["apps/tests/test_views.py"] == excluded["tests/test_app.py"] == "[tool.bandit] exclude_dirs: tests"
    assert result["coverage"] == {"inventory": 3, "scanned": 3}


def test_every_file_bandit_did_not_scan_is_named(tmp_path, reports):
    """bandit's own metrics are checked against the files it was given: one it leaves out is an error."""
    project = new_project(tmp_path / "p", {"apps/views.py": EVAL, "apps/tests/skip_me.py": EVAL})
    wrapper = tmp_path / "bin"
    wrapper.mkdir()
    (wrapper / "bandit").write_text(
        "#!/usr/bin/env bash\n"
        "# bandit as installed, but told to leave apps/views.py out (as a substring exclusion would)\n"
        f'exec {VENV_BIN / "bandit"} -x apps/views.py "$@"\n')
    (wrapper / "bandit").chmod(0o755)
    run = run_scan("bandit", project, reports, path=tool_path(wrapper), env={"SECURITY_CACHE": "off", "BANDIT_TARGETS": "apps"})
    result = run.result("bandit")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert "not-scanned:apps/views.py" in ids(result) and "bandit did not scan apps/views.py" in result["error"]


def test_crashing_bandit_test_is_an_error_naming_file_and_test_and_never_cached(tmp_path, reports):
    project = new_project(tmp_path / "p", {"apps/pages.py": B703_CRASH, "apps/views.py": EVAL})
    for _ in range(2):  # the second run would answer from the cache: the crash is never stored as a pass
        run = scan("bandit", project, reports, tmp_path, BANDIT_TARGETS="apps")
        result = run.result("bandit")
        assert run.rc == 2 and result["status"] == "error", run.output
        assert "django_mark_safe" in result["error"] and "apps/pages.py line 6" in result["error"]
        assert ("B307", "apps/views.py") in found(result)  # the other files' findings are still listed
    assert result["cache"]["misses"] == 1 and result["cache"]["hits"] == 2


def test_skips_tests_and_nosec_lines_are_listed_in_result_and_summary(tmp_path, reports):
    project = new_project(tmp_path / "p", {
        "apps/views.py": EVAL.replace('GET["q"])', 'GET["q"])  # nosec B307'),
        "apps/run.py": "import subprocess\nsubprocess.call('ls', shell=True)  # nosec\n",
    }, commit=False)
    (project / "pyproject.toml").write_text(PYPROJECT + 'skips = ["B101", "B404"]\n')
    accept(project, "bandit", "narrowed:tool.bandit.skips:B101", "narrowed:tool.bandit.skips:B404")
    git_commit_all(project)
    run = run_gate("security-code", project, reports, scans=("bandit",),
                   env={"SECURITY_CACHE": "off", "BANDIT_TARGETS": "apps"})
    result = run.result("bandit")
    assert result["status"] == "pass", run.output
    excluded = {(e["item"], e["rule"]) for e in result["excluded"]}
    assert {("apps/views.py:2", "# nosec B307"), ("apps/run.py:2", "# nosec"),
            ("test B101", "[tool.bandit] skips"), ("test B404", "[tool.bandit] skips")} <= excluded
    summary = (reports / "security-code.md").read_text()
    assert "Excluded by rule: 4" in summary and "apps/views.py:2" in summary and "test B101" in summary


# Each [tool.bandit] setting that narrows bandit below its defaults, with a file it hides a finding in: the scan is
# an error naming the setting until the suppression file accepts the gap, then a pass listing it.
NARROWINGS = [
    ('skips = ["B307"]', "apps/views.py", ["narrowed:tool.bandit.skips:B307"], "skips B307"),
    ('tests = ["B101"]', "apps/views.py", ["narrowed:tool.bandit.tests"], "tests selects B101 only"),
    ('exclude_dirs = ["legacy"]', "apps/legacy/views.py", ["narrowed:tool.bandit.exclude_dirs:legacy"],
     "exclude_dirs 'legacy' leaves out 1 file under BANDIT_TARGETS: apps/legacy/views.py"),
    ('include = ["*.py"]', "apps/calc.pyw", ["narrowed:tool.bandit.include:*.pyw"],
     "include ['*.py'] does not have bandit's default *.pyw: it leaves out 1 file under BANDIT_TARGETS: apps/calc.pyw"),
    ('[tool.bandit.assert_used]\nskips = ["*_test.py"]', "apps/views_test.py", ["narrowed:tool.bandit.assert_used"],
     "assert_used sets up bandit's tests"),
]


@pytest.mark.parametrize("setting, hidden, gap_ids, message", NARROWINGS, ids=[n[2][0] for n in NARROWINGS])
def test_a_setting_that_narrows_bandit_is_an_error_naming_it_until_accepted(tmp_path, reports, setting, hidden,
                                                                             gap_ids, message):
    project = tmp_path / "p"
    hidden_code = EVAL if hidden != "apps/views_test.py" else "def check(x):\n    assert x\n"  # B101
    pyproject = f'[project]\nname = "fixture"\nversion = "0.1.0"\n\n[tool.bandit]\n{setting}\n'
    write_tree(project, {".gitignore": "reports/\n", "apps/__init__.py": "", "apps/clean.py": "X = 1\n",
                         hidden: hidden_code, "pyproject.toml": pyproject})
    git_commit_all(project)
    run = scan("bandit", project, reports, tmp_path, BANDIT_TARGETS="apps")
    result = run.result("bandit")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert ids(result) == set(gap_ids) and message in result["error"]
    assert result["findings"] == []  # the setting hid the finding: without the gap, this scan would pass
    accept(project, "bandit", *gap_ids)
    run = run_gate("security-code", project, reports, scans=("bandit",),
                   env={"SECURITY_CACHE_DIR": str(tmp_path / "cache"), "BANDIT_TARGETS": "apps"})
    result = run.result("bandit")
    assert run.rc == 0 and result["status"] == "pass", run.output
    assert set(gap_ids) <= ids(result, "accepted_gaps") and result["coverage_gaps"] == []
    assert all(gap_id in (reports / "security-code.md").read_text() for gap_id in gap_ids)


def test_a_pyw_file_is_scanned_with_tool_bandit_present_and_no_include(tmp_path, reports):
    """bandit itself reads *.py only once [tool.bandit] exists without include; the gate keeps *.pyw."""
    project = new_project(tmp_path / "p", {"apps/calc.pyw": EVAL, "apps/notes.txt": "eval(x)\n"})
    run = scan("bandit", project, reports, tmp_path, BANDIT_TARGETS="apps")
    result = run.result("bandit")
    assert run.rc == 1 and found(result) == {("B307", "apps/calc.pyw")}, run.output
    assert result["coverage"] == {"inventory": 2, "scanned": 2}


def test_bandit_with_nothing_to_scan_is_an_error(tmp_path, reports):
    project = new_project(tmp_path / "p", {"apps/tests/test_x.py": EVAL})
    run = scan("bandit", project, reports, tmp_path, BANDIT_TARGETS="apps/tests")
    assert run.rc == 2 and "no Python file to scan" in run.result("bandit")["error"], run.output


def test_c_locale_names_bandit_findings_as_a_utf8_locale_does(tmp_path, reports):
    """Under LC_ALL=C without UTF-8 mode bandit would print "apps/é/vü.py" as "apps/��/v��.py" (and two such
    names alike): the gate runs it in UTF-8 mode, so the finding, and a suppression by its path, read the same."""
    project = new_project(tmp_path / "p", {"apps/é/vü.py": EVAL, "apps/é/ü.py": "x = 1\n", "apps/é/ö.py": "y = 2\n"})
    for locale in ({}, {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}):
        run = scan("bandit", project, reports / str(len(locale)), tmp_path, BANDIT_TARGETS="apps",
                   SECURITY_CACHE="off", **locale)
        result = run.result("bandit")
        assert found(result) == {("B307", "apps/é/vü.py")}, run.output
        assert result["coverage"] == {"inventory": 4, "scanned": 4}


# --------------------------------------------------------------------------- detect-secrets: which files


@pytest.mark.parametrize("path", [
    "static/site.css", "poetry.lock", "package-lock.json", "docs/swagger/api.txt", "static/logo.svg",
    "static/app.js.map", ".settings/org.eclipse.prefs", "project.iml",
])
def test_files_detect_secrets_heuristics_skip_are_scanned(tmp_path, reports, path):
    project = new_project(tmp_path / "p", {path: f"aws_key = \"{AWS_KEY}\"\npassword = \"{WEAK_PASSWORD}\"\n"})
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    assert run.rc == 1 and result["status"] == "fail", run.output
    assert ("AWS Access Key", path) in found(result)


def test_design_exclusions_are_the_root_files_only_and_listed(tmp_path, reports):
    line = f"AWS_ACCESS_KEY_ID={AWS_KEY}\n"
    project = new_project(tmp_path / "p", {
        ".env.sample": line, "uv.lock": line, "deploy/prod/.env.sample": line, "tools/uv.lock": line,
    })
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    assert {f["location"]["path"] for f in result["findings"]} == {"deploy/prod/.env.sample", "tools/uv.lock"}
    excluded = {e["item"] for e in result["excluded"]}
    assert {".env.sample", "uv.lock"} <= excluded and "tools/uv.lock" not in excluded
    assert "excluded by rule (2)" in run.stdout  # the root .env.sample and uv.lock


def test_submodule_and_nested_repository_are_errors_naming_them(tmp_path, reports):
    inner = new_project(tmp_path / "inner", {"keys.txt": f"key {AWS_KEY}\n"})
    project = new_project(tmp_path / "p", {"notes.txt": "hello\n"})
    git(project, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner), "vendor/inner")
    git_commit_all(project)
    nested = new_project(project / "tools" / "nested", {"keys.txt": f"key {AWS_KEY}\n"})
    assert nested.exists()
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    assert run.rc == 2 and result["status"] == "error", run.output
    assert {"submodule:vendor/inner", "nested-repository:tools/nested"} <= ids(result)
    assert "vendor/inner" in result["error"] and "tools/nested" in result["error"]


def test_project_whose_files_an_enclosing_repository_ignores_has_nothing_to_scan(tmp_path, reports):
    outer = new_project(tmp_path / "outer", {".gitignore": "service/\n"})
    project = write_tree(outer / "service", {"keys.txt": f"key {AWS_KEY}\n"})
    run = scan("detect-secrets", project, reports, tmp_path)
    assert run.rc == 2 and "nothing to scan" in run.result("detect-secrets")["error"], run.output


def test_text_that_is_not_utf8_is_named_binary_is_listed_as_excluded(tmp_path, reports):
    project = new_project(tmp_path / "p", {
        "legacy.txt": f"caf\xe9 {AWS_KEY}\n".encode("latin-1"), "logo.png": b"\x89PNG\x00\xff\xfe binary",
    })
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    assert run.rc == 2 and "not-scanned:legacy.txt" in ids(result), run.output
    assert "legacy.txt: it is text but not UTF-8" in result["error"]
    assert "logo.png" in {e["item"] for e in result["excluded"]} and "logo.png" not in result["error"]


def test_c_locale_still_reads_utf8_files(tmp_path, reports):
    project = new_project(tmp_path / "p", {"notes.txt": f"café {AWS_KEY}\n"})
    run = scan("detect-secrets", project, reports, tmp_path, LC_ALL="C", LANG="C", PYTHONUTF8="0")
    result = run.result("detect-secrets")
    assert result["status"] == "fail" and ("AWS Access Key", "notes.txt") in found(result), run.output


def test_key_in_a_yaml_comment_is_found(tmp_path, reports):
    project = new_project(tmp_path / "p", {
        "deploy/values.yaml": f"name: service\nreplicas: 2\n# old key: {AWS_KEY}\n",
        "deploy/app.ini": f"[app]\nname = service\n; old key {AWS_KEY}\n",
    })
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    assert {("AWS Access Key", "deploy/values.yaml"), ("AWS Access Key", "deploy/app.ini")} <= found(result), run.output


def test_more_file_names_than_one_command_line_holds(tmp_path, reports):
    """About 2.4 MB of file names (ARG_MAX is 2 MB here): no command line carries them."""
    folder = "/".join(["d" * 200] * 5)
    files = {f"{folder}/{i:05d}-{'f' * 180}.txt": "hello\n" for i in range(2200)}
    files[f"{folder}/keys.txt"] = f"key {AWS_KEY}\n"
    project = new_project(tmp_path / "p", files)
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    # new_project's .gitignore, pyproject.toml, apps/__init__.py and .security-suppressions.json besides
    assert result["status"] == "fail" and result["coverage"]["scanned"] == len(files) + 4, run.output
    assert {f["location"]["path"] for f in result["findings"]} == {f"{folder}/keys.txt"}


# --------------------------------------------------------------------------- detect-secrets: the baseline


def baseline_of(project: Path, *files: str) -> dict:
    return json.loads(subprocess.run([str(VENV_BIN / "detect-secrets"), "scan", *files], cwd=project,
                                     capture_output=True, text=True, check=True).stdout)


def test_unaudited_baseline_entry_fails_with_the_command_that_audits_it(tmp_path, reports):
    project = new_project(tmp_path / "p", {"config/keys.py": f"EXAMPLE = '{AWS_KEY}'\n"}, commit=False)
    (project / ".secrets.baseline").write_text(json.dumps(baseline_of(project, "config/keys.py")))
    git_commit_all(project)
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    assert run.rc == 1 and result["status"] == "fail" and result["suppressed"] == [], run.output
    assert "detect-secrets audit .secrets.baseline" in result["findings"][0]["title"]


@pytest.mark.parametrize("narrow, gap_id", [
    (lambda b: b["filters_used"].append({"path": "detect_secrets.filters.regex.should_exclude_file",
                                         "pattern": ["^docs/"]}), "narrowed:baseline-filter:exclude-files:^docs/"),
    (lambda b: b["filters_used"].append({"path": "detect_secrets.filters.regex.should_exclude_line",
                                         "pattern": ["^legacy_"]}), "narrowed:baseline-filter:exclude-lines:^legacy_"),
    (lambda b: b["filters_used"].append({"path": "detect_secrets.filters.regex.should_exclude_secret",
                                         "pattern": ["^AKIAOLD"]}), "narrowed:baseline-filter:exclude-secrets:^AKIAOLD"),
])
def test_baseline_that_narrows_the_scan_fails_unless_accepted(tmp_path, reports, narrow, gap_id):
    """A narrowing that leaves every class of secret found (detect-secrets' canary) can be accepted, reviewed."""
    project = new_project(tmp_path / "p", {"notes.txt": "hello\n"}, commit=False)
    baseline = baseline_of(project, "notes.txt")
    narrow(baseline)
    (project / ".secrets.baseline").write_text(json.dumps(baseline))
    git_commit_all(project)
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    assert run.rc == 2 and gap_id in ids(result), run.output
    accept(project, "detect-secrets", *ids(result))
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    assert run.rc == 0 and gap_id in ids(result, "accepted_gaps"), run.output


@pytest.mark.parametrize("narrow, gap_id, silenced", [
    (lambda b: b.update(plugins_used=[{"name": "AWSKeyDetector"}]), "narrowed:baseline-plugin:PrivateKeyDetector",
     "PrivateKeyDetector"),
    (lambda b: b["filters_used"].append({"path": "detect_secrets.filters.regex.should_exclude_file",
                                         "pattern": [".*"]}), "narrowed:baseline-filter:exclude-files:.*",
     "AWSKeyDetector"),
    (lambda b: b["filters_used"].append({"path": "detect_secrets.filters.regex.should_exclude_secret",
                                         "pattern": ["AKIA.*"]}), "narrowed:baseline-filter:exclude-secrets:AKIA.*",
     "AWSKeyDetector"),
])
def test_baseline_that_silences_a_class_of_secret_is_an_error_even_accepted(tmp_path, reports, narrow, gap_id,
                                                                             silenced):
    """A plugin removed, every file or every AWS key excluded: detect-secrets' canary of that class goes unfound."""
    project = new_project(tmp_path / "p", {"notes.txt": "hello\n"}, commit=False)
    baseline = baseline_of(project, "notes.txt")
    narrow(baseline)
    (project / ".secrets.baseline").write_text(json.dumps(baseline))
    accept(project, "detect-secrets", gap_id)
    git_commit_all(project)
    run = scan("detect-secrets", project, reports, tmp_path)
    result = run.result("detect-secrets")
    assert run.rc == 2 and result["status"] == "error" and gap_id in ids(result, "accepted_gaps"), run.output
    assert "detect-secrets" in result["error"] and f"{silenced} (" in result["error"], result["error"]


def test_no_unsalted_hash_of_a_found_secret_is_kept_and_the_baseline_still_matches(tmp_path, reports):
    project = new_project(tmp_path / "p", {
        "config/settings.py": f"password = '{WEAK_PASSWORD}'\n", "config/keys.py": f"EXAMPLE = '{AWS_KEY}'\n",
    }, commit=False)
    audited = baseline_of(project, "config/keys.py")
    audited["results"]["config/keys.py"][0]["is_secret"] = False
    (project / ".secrets.baseline").write_text(json.dumps(audited))
    git_commit_all(project)
    summary = tmp_path / "step-summary.md"
    for _ in range(2):  # cold, then from the cache
        run = run_gate("security-code", project, reports, scans=("detect-secrets",),
                       env={"SECURITY_CACHE_DIR": str(tmp_path / "cache"), "GITHUB_STEP_SUMMARY": str(summary)})
        result = run.result("detect-secrets")
        assert found(result) == {("Secret Keyword", "config/settings.py")}, run.output
        assert [f["location"]["path"] for f in result["suppressed"]] == ["config/keys.py"]
    unsalted = hashlib.sha1(WEAK_PASSWORD.encode()).hexdigest()
    kept = [p for p in [*reports.rglob("*"), *(tmp_path / "cache").rglob("*"), summary] if p.is_file()]
    assert any(p.name == "detect-secrets.raw.json" for p in kept)
    for path in kept:
        text = path.read_bytes()
        assert unsalted.encode() not in text and WEAK_PASSWORD.encode() not in text, path
