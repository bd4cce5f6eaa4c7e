""".github/workflows/security.yml and .github/dependabot.yml: what they promise, checked offline.

The workflow is read with ruamel.yaml (YAML 1.2, so the key `on` stays a string). zizmor audits the
whole .github/ directory; check-jsonschema validates both files against the schemas it vendors.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from support.gate import scan_tool, scan_units

ROOT = Path(__file__).resolve().parents[1]
GITHUB_DIR = ROOT / ".github"
WORKFLOW = GITHUB_DIR / "workflows" / "security.yml"
DEPENDABOT = GITHUB_DIR / "dependabot.yml"
BIN = Path(sys.executable).parent

# The condition on each step of the docker job after it decided whether the image's inputs changed.
SKIP_UNLESS_BUILT = "steps.inputs.outputs.build != 'false'"
# The condition of the steps that run after the gate whatever it said (the reports' upload, the verdict).
ALWAYS_AFTER_THE_GATE = {"code": "${{ !cancelled() }}", "docker": f"${{{{ !cancelled() && {SKIP_UNLESS_BUILT} }}}}"}
JOBS = {"code": ("Code Security", "make security-code"), "docker": ("Docker Security", "make security-docker")}
# The most tool runs of a job's gate that can follow one another, each bounded by SCAN_TIMEOUT: code: bandit's and
# detect-secrets' --version, then the scans' runs, side by side; docker: the save of the image the workflow built
# (IMAGE), the scan, trivy version (the DB's date), the DB canary's scan.
TOOL_RUNS_IN_A_ROW = {"code": 2, "docker": 4}
# Minutes a job needs besides the gate: checkout, cache restores and `uv sync` before; saves and uploads after.
MINUTES_BESIDE_THE_GATE = 10
# A scanner's tool run straight from the workflow (every scan's tool, from its '# Tool:' line, as a command word, not
# inside a script's name such as scripts/ci/verify-trivy.sh), or an engine's.
SCANNERS = re.compile(r"(?<![\w./-])(" + "|".join(re.escape(scan_tool(scan)[0]) for scan in scan_units())
                      + r")(?![\w.-])|docker (build|run)")
PINNED_USES = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


def load(path):
    return YAML(typ="safe").load(path.read_text())


@pytest.fixture(scope="module")
def workflow():
    return load(WORKFLOW)


def steps_of(workflow, job):
    return workflow["jobs"][job]["steps"]


def all_steps(workflow):
    return [step for job in workflow["jobs"] for step in steps_of(workflow, job)]


def uses_steps(workflow, job, action):
    return [step for step in steps_of(workflow, job) if step.get("uses", "").split("@")[0] == action]


def test_every_push_to_main_runs_the_workflow(workflow):
    assert workflow["on"]["push"] == {"branches": ["main"]}


def test_every_pull_request_runs_the_code_job_whatever_it_changes(workflow):
    """No path filter: a pull request that only adds a key to a YAML file is scanned before it merges, and a
    required check never waits for a workflow that was filtered out."""
    assert workflow["on"]["pull_request"] is None
    assert set(workflow["on"]) == {"push", "pull_request", "schedule"}
    assert "if" not in workflow["jobs"]["code"]
    assert all("if" not in step for step in steps_of(workflow, "code")[:3])


def test_the_secret_scan_reads_the_range_the_history_step_chose_and_all_history_without_an_answer(workflow):
    steps = steps_of(workflow, "code")
    (history,) = [step for step in steps if step.get("id") == "history"]
    (gate,) = [step for step in steps if step.get("run", "").strip() == "make security-code"]
    assert history["run"].strip() == "scripts/ci/secrets-range.sh"
    assert history["continue-on-error"] is True  # a failed fetch leaves the verdict to the gate
    assert steps.index(history) < steps.index(gate)
    assert gate["env"]["SECRETS_SINCE"] == "${{ steps.history.outputs.since || 'all' }}"
    assert {"PR_HEAD_SHA", "PR_BASE_SHA", "PUSH_BEFORE", "PUSH_FORCED"} <= set(history["env"])


def test_the_docker_job_skips_its_steps_only_when_a_pull_request_changed_none_of_the_images_inputs(workflow):
    """The decision is made inside the job, so its check reports; anything but an explicit `false` builds."""
    steps = steps_of(workflow, "docker")
    (inputs,) = [step for step in steps if step.get("id") == "inputs"]
    assert inputs["run"].strip() == "scripts/ci/image-inputs-changed.sh"
    assert "if" not in workflow["jobs"]["docker"] and "needs" not in workflow["jobs"]["docker"]
    (checkout,) = uses_steps(workflow, "docker", "actions/checkout")
    assert checkout["with"]["fetch-depth"] == 2
    later = steps[steps.index(inputs) + 1:]
    assert later and all(SKIP_UNLESS_BUILT in step["if"] for step in later)


def test_main_is_scanned_daily_for_vulnerabilities_published_since_its_last_change(workflow):
    (schedule,) = workflow["on"]["schedule"]
    minute, hour, *every_day = schedule["cron"].split()

    assert every_day == ["*", "*", "*"]
    assert 0 <= int(hour) < 24 and 0 < int(minute) < 60  # once a day, off the busy top of the hour


def test_two_jobs_each_run_one_gate_target(workflow):
    assert set(workflow["jobs"]) == set(JOBS)
    for job, (name, command) in JOBS.items():
        runs = [step["run"].strip() for step in steps_of(workflow, job) if "run" in step]
        assert workflow["jobs"][job]["name"] == name
        assert [run for run in runs if run.startswith("make security-")] == [command]
        assert [run for run in runs if run.startswith("make")] == (
            [command, "make uv-cache-prune"] if job == "code" else ["make setup", command])


def test_no_scan_logic_lives_in_the_workflow(workflow):
    runs = [step["run"] for step in all_steps(workflow) if "run" in step]

    assert [run for run in runs if SCANNERS.search(run)] == []


def test_no_scan_logic_check_finds_a_scanner_run_as_a_command():
    assert SCANNERS.search("trivy image x") and SCANNERS.search("cd x && bandit -r .")
    assert not SCANNERS.search("scripts/ci/verify-trivy.sh") and not SCANNERS.search("make security-docker")


def test_the_docker_job_checks_trivy_against_its_signed_release_before_the_gate_and_fails_on_a_refusal(workflow):
    steps = steps_of(workflow, "docker")
    (setup,) = [step for step in steps if step.get("run", "").strip() == "make setup"]
    (check,) = [step for step in steps if step.get("run", "").strip() == "scripts/ci/verify-trivy.sh"]
    (gate,) = [step for step in steps if step.get("run", "").strip() == "make security-docker"]
    (build,) = uses_steps(workflow, "docker", "docker/build-push-action")
    assert steps.index(setup) < steps.index(check) < min(steps.index(build), steps.index(gate))
    # Not continue-on-error, and no !cancelled() or always(): the gate and the build run only after it passed.
    assert "continue-on-error" not in check and check["if"] == f"${{{{ {SKIP_UNLESS_BUILT} }}}}"
    assert "cancelled" not in gate["if"] and "always" not in gate["if"]
    assert 0 < check["timeout-minutes"] <= 10


def test_the_jobs_run_in_parallel(workflow):
    assert [job for job in workflow["jobs"].values() if "needs" in job] == []


def test_only_read_access_except_the_sarif_upload_which_also_reads_the_run(workflow):
    """upload-sarif calls GET /repos/{owner}/{repo}/actions/runs/{run_id} (codeql-action v4.36.2,
    src/api-client.ts, getWorkflowRelativePath), which needs `actions: read` on private repositories."""
    assert workflow["permissions"] == {"contents": "read"}
    for job in JOBS:
        assert uses_steps(workflow, job, "github/codeql-action/upload-sarif")
        assert workflow["jobs"][job]["permissions"] == {
            "contents": "read", "security-events": "write", "actions": "read"}


def test_every_action_is_pinned_to_a_commit_sha_with_its_version_in_a_comment():
    lines = [line.strip() for line in WORKFLOW.read_text().splitlines()]
    uses = [line.split("uses:", 1)[1].strip() for line in lines if re.match(r"^(- )?uses:", line)]

    assert uses, "no `uses:` found"
    assert [value for value in uses if not PINNED_USES.match(value)] == []


def test_checkout_keeps_no_credentials(workflow):
    for job in JOBS:
        (checkout,) = uses_steps(workflow, job, "actions/checkout")
        assert checkout["with"]["persist-credentials"] is False


def test_the_gates_own_timeouts_fire_before_the_jobs(workflow):
    """A job timeout cancels the job: the !cancelled() steps are skipped and the reports, SARIF and caches are
    lost. So each job's timeout is at least its tool runs in a row times SCAN_TIMEOUT, plus its steps' own
    timeouts (a step's timeout fails the step, not the job), plus the time beside the gate. SCAN_TIMEOUT is
    set once, for the whole workflow; the gate's step has no timeout of its own, so the gate's fires."""
    scan_timeout = workflow["env"]["SCAN_TIMEOUT"]
    assert isinstance(scan_timeout, int) and scan_timeout > 0
    for name, job in workflow["jobs"].items():
        assert "SCAN_TIMEOUT" not in job.get("env", {})
        steps = [step for step in job["steps"] if "timeout-minutes" in step]
        assert all(not step.get("run", "").startswith("make security-") for step in steps)
        worst_minutes = (TOOL_RUNS_IN_A_ROW[name] * scan_timeout / 60 + sum(s["timeout-minutes"] for s in steps)
                         + MINUTES_BESIDE_THE_GATE)
        assert worst_minutes <= job["timeout-minutes"] <= 60, (name, worst_minutes)


def test_the_image_build_outside_the_gate_has_a_timeout_of_its_own(workflow):
    (build,) = uses_steps(workflow, "docker", "docker/build-push-action")
    assert 0 < build["timeout-minutes"] <= 15


def test_only_pull_request_runs_cancel_each_other(workflow):
    concurrency = workflow["concurrency"]

    assert "github.event.pull_request.number || github.run_id" in concurrency["group"]
    assert concurrency["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_run_steps_use_bash_with_pipefail_and_expand_no_expressions(workflow):
    assert workflow["defaults"]["run"]["shell"] == "bash"
    for step in all_steps(workflow):
        if "run" in step:
            assert "shell" not in step
            assert "${{" not in step["run"]


def test_reports_are_uploaded_even_when_the_gate_fails_and_again_on_a_re_run(workflow):
    for job in JOBS:
        (upload,) = uses_steps(workflow, job, "actions/upload-artifact")
        assert upload["if"] == ALWAYS_AFTER_THE_GATE[job]
        assert upload["with"]["path"] == "reports/security/"
        # artifact names are unique in a run: each attempt uploads under its own
        assert upload["with"]["name"] == f"security-{job}-reports-attempt-${{{{ github.run_attempt }}}}"
        assert upload["with"].get("overwrite", False) is False
        assert upload["with"]["retention-days"] == 30


def test_findings_go_to_code_scanning_without_breaking_repositories_that_lack_it(workflow):
    categories = []
    for job in JOBS:
        (upload,) = uses_steps(workflow, job, "github/codeql-action/upload-sarif")
        assert upload["continue-on-error"] is True
        assert upload["if"].startswith("${{ !cancelled() && ")
        assert upload["with"]["sarif_file"] == f"reports/security/security-{job}.sarif"
        categories.append(upload["with"]["category"])
    assert sorted(categories) == ["security-code", "security-docker"]


def test_the_gate_finds_its_report_and_cache_directories_in_the_workspace(workflow):
    env = workflow["env"]

    assert env["SECURITY_REPORT_DIR"] == "${{ github.workspace }}/reports/security"
    assert env["SECURITY_CACHE_DIR"] == "${{ github.workspace }}/.cache/security"
    assert env["UV_CACHE_DIR"] == "${{ github.workspace }}/.cache/uv"
    assert workflow["jobs"]["code"]["env"]["PIP_AUDIT_CACHE_DIR"] == "${{ github.workspace }}/.cache/pip-audit"
    assert workflow["jobs"]["docker"]["env"]["TRIVY_CACHE_DIR"] == "${{ github.workspace }}/.cache/trivy"


def test_trivy_fetches_its_database_from_the_mirror_first(workflow):
    repositories = workflow["jobs"]["docker"]["env"]["TRIVY_DB_REPOSITORY"].split(",")

    assert repositories == ["mirror.gcr.io/aquasec/trivy-db:2", "ghcr.io/aquasecurity/trivy-db:2"]


def restores(workflow):
    return [(job, step) for job in JOBS for step in uses_steps(workflow, job, "actions/cache/restore")]


def cache_keys_for(workflow, event):
    """Every key and restore-key prefix the restore steps ask for, with CACHE_SCOPE as the event sets it."""
    scope = {"push": "main", "schedule": "main", "pull_request": "pr"}[event]
    assert workflow["env"]["CACHE_SCOPE"] == (
        "${{ (github.event_name == 'push' || github.event_name == 'schedule') && 'main' || 'pr' }}")
    return [
        (step["with"]["key"].replace("${{ env.CACHE_SCOPE }}", scope),
         [line.replace("${{ env.CACHE_SCOPE }}", scope) for line in step["with"]["restore-keys"].splitlines()])
        for _, step in restores(workflow)
    ]


@pytest.mark.parametrize("event", ["push", "schedule"])
def test_main_never_restores_a_cache_key_written_by_a_pull_request(workflow, event):
    for key, prefixes in cache_keys_for(workflow, event):
        assert key.startswith("main-")
        assert prefixes and all(prefix.startswith("main-") for prefix in prefixes)


def test_pull_requests_restore_their_own_caches_then_mains(workflow):
    for key, prefixes in cache_keys_for(workflow, "pull_request"):
        assert key.startswith("pr-")
        assert [prefix.split("-", 1)[0] for prefix in prefixes] == ["pr", "main"]


def test_a_pull_request_saves_caches_under_its_own_scope_only(workflow):
    """Each save writes the key its restore step computed, which starts with CACHE_SCOPE: "pr-" on a pull request,
    a prefix main's restores never ask for (and GitHub keeps a pull request's caches to its merge ref besides)."""
    primary = {step["id"]: step["with"]["key"] for _, step in restores(workflow)}
    for job in JOBS:
        for step in uses_steps(workflow, job, "actions/cache/save"):
            (step_id,) = re.findall(r"^\$\{\{ steps\.([\w-]+)\.outputs\.cache-primary-key \}\}$", step["with"]["key"])
            assert primary[step_id].startswith("${{ env.CACHE_SCOPE }}-")
    for key, _ in cache_keys_for(workflow, "pull_request"):
        assert key.startswith("pr-")


def test_caches_cover_uv_pip_audit_trivy_and_the_scans_with_the_keys_they_need(workflow):
    paths = {(job, step["with"]["path"]): step["with"]["key"] for job, step in restores(workflow)}

    assert set(paths) == {("code", ".cache/uv"), ("code", ".cache/pip-audit"), ("code", ".cache/security"),
                          ("docker", ".cache/uv"), ("docker", ".cache/trivy/db"), ("docker", ".cache/security")}
    assert "hashFiles('uv.lock'" in paths[("code", ".cache/uv")]
    assert paths[("docker", ".cache/trivy/db")].endswith("-${{ steps.day.outputs.day }}")
    assert paths[("code", ".cache/pip-audit")].endswith("-${{ steps.day.outputs.day }}")


def test_every_restored_cache_is_saved_once_after_the_gate_even_when_it_fails(workflow):
    """Each cache is saved by one job; uv's, the same in both jobs (one lock), by the code job only."""
    for job in JOBS:
        restored = {step["id"]: step["with"]["path"] for step in uses_steps(workflow, job, "actions/cache/restore")}
        saves = uses_steps(workflow, job, "actions/cache/save")
        saved = {}
        for step in saves:
            (step_id,) = re.findall(r"steps\.([\w-]+)\.outputs\.cache-primary-key", step["with"]["key"])
            saved[step_id] = step["with"]["path"]
            assert step["if"].startswith("${{ !cancelled() && ")
            assert f"steps.{step_id}.outputs.cache-hit != 'true'" in step["if"]
        not_saved = {"uv-cache": ".cache/uv"} if job == "docker" else {}
        assert saved == {k: v for k, v in restored.items() if k not in not_saved}
        assert {k: v for k, v in restored.items() if k not in saved} == not_saved
        names = [step.get("run", "") for step in steps_of(workflow, job)]
        make_index = next(i for i, run in enumerate(names) if run.startswith("make"))
        assert all(steps_of(workflow, job).index(step) > make_index for step in saves)


def run_tool(*args):
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True, check=False, cwd=ROOT)


def test_zizmor_finds_nothing_in_the_github_directory():
    completed = run_tool("zizmor", "--offline", "--format", "json", "--no-progress", str(GITHUB_DIR))

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads(completed.stdout) == []


@pytest.mark.parametrize(("schema", "path"), [("vendor.github-workflows", WORKFLOW), ("vendor.dependabot", DEPENDABOT)])
def test_the_files_validate_against_githubs_schemas(schema, path):
    completed = run_tool("check-jsonschema", "--builtin-schema", schema, str(path))

    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_dependabot_updates_the_actions_the_lock_and_the_image_digests():
    updates = load(DEPENDABOT)["updates"]

    assert {(update["package-ecosystem"], update["directory"]) for update in updates} == {
        ("github-actions", "/"), ("uv", "/"), ("docker", "/deploy/docker")}
    assert all(update["cooldown"]["default-days"] >= 1 for update in updates)


def test_the_docker_job_builds_the_image_with_a_layer_cache_and_the_gate_scans_that_image(workflow):
    steps = steps_of(workflow, "docker")
    (buildx,) = uses_steps(workflow, "docker", "docker/setup-buildx-action")
    (build,) = uses_steps(workflow, "docker", "docker/build-push-action")
    (gate,) = [step for step in steps if step.get("run", "").strip() == "make security-docker"]

    assert steps.index(buildx) < steps.index(build) < steps.index(gate)
    options = build["with"]
    assert options["file"] == "deploy/docker/Dockerfile" and options["context"] == "."
    assert options["load"] is True and options["push"] is False
    assert options["cache-from"].split(",")[0] == "type=gha"
    assert options["cache-to"].split(",")[0] == "type=gha" and "mode=max" in options["cache-to"].split(",")
    assert gate["env"]["IMAGE"] == options["tags"]


def test_uv_cache_is_one_key_for_both_jobs_pruned_for_ci_before_its_one_save(workflow):
    (code_restore,) = [s for s in uses_steps(workflow, "code", "actions/cache/restore") if s["id"] == "uv-cache"]
    (docker_restore,) = [s for s in uses_steps(workflow, "docker", "actions/cache/restore") if s["id"] == "uv-cache"]
    assert code_restore["with"] == docker_restore["with"]
    steps = steps_of(workflow, "code")
    (save,) = [s for s in uses_steps(workflow, "code", "actions/cache/save") if s["with"]["path"] == ".cache/uv"]
    (prune,) = [s for s in steps if s.get("run") == "make uv-cache-prune"]
    assert steps.index(prune) == steps.index(save) - 1
    assert prune["if"] == save["if"] and prune["continue-on-error"] is True
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^uv-cache-prune:.*\n\t@uv cache prune --ci$", makefile, flags=re.M)


def test_each_job_reads_the_gates_verdict_file_after_the_gate_and_exports_it(workflow):
    for job, (_, command) in JOBS.items():
        steps = steps_of(workflow, job)
        (gate,) = [step for step in steps if step.get("run", "").strip() == command]
        (verdict,) = [step for step in steps if step.get("id") == "verdict"]
        assert steps.index(verdict) == steps.index(gate) + 1
        assert verdict["if"] == ALWAYS_AFTER_THE_GATE[job]
        assert verdict["run"].strip() == f"scripts/verdict.sh security-{job}"
    assert workflow["jobs"]["code"]["outputs"] == {"verdict": "${{ steps.verdict.outputs.verdict }}"}
    assert workflow["jobs"]["docker"]["outputs"] == {"verdict": (
        "${{ steps.verdict.outputs.verdict || steps.inputs.outputs.build == 'false' && 'skipped' || '' }}")}
