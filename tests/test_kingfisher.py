"""kingfisher, the second secret engine (scans/kingfisher/run.sh), on fixture repositories these tests build.

The planted secrets are assembled at run time from a provider's prefix and random characters, so that this file
holds none of them whole; every report, raw output, cache file and the scan's output is searched for each value.
The failures kingfisher cannot be made to produce (a broken report, a missing audit record, an exit code its report
contradicts) come from a stand-in that runs the real kingfisher and then spoils its answer.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import string
import zipfile
from pathlib import Path

import pytest

from support.gate import REPO_ROOT, VENV_BIN, fake_tool, gate_copy, run_gate, run_scan, tool_path
from support.projects import git, git_commit_all, write_tree

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


# The classes issue 29 found missed by the gate, and the gate's own rules: {file: (text, value)}.
def missed_classes() -> dict[str, tuple[str, str]]:
    django_key = rand(50, string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)")
    signing = rand(40)
    webhook = f"https://discord.com/api/webhooks/{rand(18, string.digits)}/{rand(68, ALNUM + '_-')}"
    lock_token = rand(28)
    values = {
        "deploy/slack.env": "SLACK_APP_TOKEN=xapp-1-A{a}-{b}-{c}\n".format(
            a=rand(10, string.ascii_uppercase + string.digits), b=rand(13, string.digits), c=rand(64, HEX)),
        "deploy/databricks.env": f"DATABRICKS_TOKEN=dapi{rand(32, HEX)}\n",
        "deploy/shopify.env": f"SHOPIFY_ACCESS_TOKEN=shpat_{rand(32, HEX)}\n",
        "deploy/shopify-secret.env": f"SHOPIFY_SHARED_SECRET=shpss_{rand(32, HEX)}\n",
        "deploy/digitalocean.env": f"DIGITALOCEAN_TOKEN=dop_v1_{rand(64, HEX)}\n",
    }
    files = {name: (text, text.split("=", 1)[1].strip()) for name, text in values.items()}
    files["config/notify.py"] = (f"WEBHOOK_URL = '{webhook}'\n", webhook)
    files["config/settings.py"] = (f'import os\n\nSECRET_KEY = "{django_key}"\n', django_key)
    files["config/jwt.py"] = (f"SIMPLE_JWT = {{\n    'SIGNING_KEY': '{signing}',\n}}\n", signing)
    files["uv.lock"] = ('version = 1\n\n[[package]]\nname = "internal-lib"\nversion = "1.0.0"\n'
                        f'source = {{ registry = "https://ci:{lock_token}@pkgs.example.com/simple" }}\n', lock_token)
    return files


# What the gate's rules must not report: (file, text). Each would match a looser rule.
def negatives() -> dict[str, str]:
    return {
        "config/env_settings.py": 'import os\nSECRET_KEY = os.environ["DJANGO_SECRET_KEY"]\n'
                                  'SIGNING_KEY = env("JWT_SIGNING_KEY")\nOTHER_SECRET_KEY = get_random_secret_key()\n'
                                  'SHORT_SECRET_KEY = "short-key"\n',  # pragma: allowlist secret
        "tests/settings_test.py":
            f'SECRET_KEY = "django-insecure-{rand(50, string.ascii_lowercase + string.digits)}"\n',  # pragma: allowlist secret
        "docs/settings-example.md": f'SECRET_KEY = "{rand(50)}"\n',
        "config/links.py": "DOCS = 'https://discord.com/api/webhooks/{id}/{token}'\n",
    }


def clean_lock_extra() -> str:
    """uv.lock content no rule but the uv.lock rule may report: a plain registry and a GitHub token (which kingfisher's
    built-in rules would find anywhere else)."""
    return ('\n[[package]]\nname = "django"\nversion = "5.2"\nsource = { registry = "https://pypi.org/simple" }\n'
            f'# ghp_{rand(36)}\n')


def everything(*folders: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for folder in folders for p in sorted(folder.rglob("*"))
                     if p.is_file())


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("kingfisher-project")
    files = missed_classes()
    tree = {name: text for name, (text, _) in files.items()} | negatives()
    tree["uv.lock"] += clean_lock_extra()
    tree["apps/views.py"] = "def index():\n    return 'ok'\n"
    write_tree(root, tree)
    git_commit_all(root, "planted")
    reports = tmp_path_factory.mktemp("kingfisher-reports")
    cache = tmp_path_factory.mktemp("kingfisher-cache")
    run = run_scan("kingfisher", root, reports, {"SECURITY_CACHE_DIR": str(cache)})
    return run, files, cache, root


def test_each_missed_class_and_each_gate_rule_fails_naming_its_file(planted):
    run, files, _, _ = planted
    assert run.rc == 1, run.output
    result = run.result("kingfisher")
    assert result["status"] == "fail"
    paths = {f["location"]["path"] for f in result["findings"]}
    assert paths == set(files), (paths, result["findings"])
    by_path = {f["location"]["path"]: f for f in result["findings"]}
    assert by_path["uv.lock"]["id"] == "gate.uv-lock.url-credentials"
    assert by_path["config/settings.py"]["id"] == "gate.django.secret-key"
    assert by_path["config/settings.py"]["location"]["line"] == 3
    assert by_path["config/notify.py"]["id"] == "gate.discord.webhook"
    assert all(f["engines"] == ["kingfisher"] and f["fingerprint"].startswith("hmac:") for f in result["findings"])


def test_no_value_and_no_unsalted_hash_is_written_anywhere(planted):
    run, files, cache, _ = planted
    written = run.output + everything(run.reports, cache)
    for name, (_, value) in files.items():
        assert value not in written, name
        assert hashlib.sha1(value.encode()).hexdigest() not in written, name
    raw = json.loads((run.reports / "kingfisher.raw.json").read_text())
    text = json.dumps(raw)
    for key in ("snippet", "validate_command", "validation", "\"fingerprint\""):
        assert key not in text


def test_the_gate_rules_leave_environment_lookups_test_placeholders_and_other_files_alone(planted):
    run, _, _, _ = planted
    result = run.result("kingfisher")
    listed = {f["location"]["path"] for key in ("findings", "below_threshold", "suppressed") for f in result[key]}
    assert not listed & set(negatives()), listed
    # uv.lock is read for the uv.lock rule alone: its GitHub token is no finding, its registry URL neither.
    assert [f["id"] for f in result["findings"] if f["location"]["path"] == "uv.lock"] == ["gate.uv-lock.url-credentials"]


def test_every_file_is_accounted_for_and_uv_lock_is_no_longer_excluded(planted):
    run, files, _, root = planted
    result = run.result("kingfisher")
    listed = [x for x in git(root, "ls-files").splitlines() if x not in (".env.sample", ".secrets.baseline")]
    assert result["coverage"]["scanned"] == result["coverage"]["inventory"] >= len(listed)
    assert "uv.lock" not in {x["item"] for x in result["excluded"]}


def kingfisher_project(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "project"
    write_tree(root, files | {"apps/views.py": "def index():\n    return 'ok'\n"})
    git_commit_all(root, "base")
    return root


def stand_in(tmp_path: Path, body: str) -> str:
    """PATH with a kingfisher first whose scans run the real one ("$real" "$@") as BODY says ($out: the report it
    writes); anything else it runs as is."""
    real = VENV_BIN / "kingfisher"
    folder = fake_tool(tmp_path / "bin", "kingfisher", f'real={real}\n[[ "$1" == scan ]] || exec "$real" "$@"\n'
                       'out=""; prev=""; for a in "$@"; do [[ "$prev" != --output ]] || out=$a; prev=$a; done\n'
                       f'{body}\n')
    return tool_path(folder)


def test_kingfisher_without_its_built_in_rules_is_an_error_naming_the_canary_classes(tmp_path):
    root = kingfisher_project(tmp_path, {})
    path = stand_in(tmp_path, 'case " $* " in *" --load-builtins "*) exec "$real" "$@" ;; esac\n'
                                'exec "$real" "$1" --load-builtins false "${@:2}"')
    run = run_scan("kingfisher", root, tmp_path / "reports", path=path)
    assert run.rc == 2, run.output
    error = run.result("kingfisher")["error"]
    assert "kingfisher missed its canary Slack app-level token" in error, error
    assert "Django" not in error  # the gate's own rules still fired


def test_kingfisher_with_an_empty_gate_rules_file_is_an_error_naming_the_gate_rules(tmp_path):
    root = kingfisher_project(tmp_path, {})
    empty = tmp_path / "empty.yml"
    empty.write_text("rules: []\n")
    body = f'args=(); for a in "$@"; do case "$a" in */rules/gate.yml) args+=("{empty}") ;; *) args+=("$a") ;; esac; done\n' \
           'exec "$real" "${args[@]}"'
    run = run_scan("kingfisher", root, tmp_path / "reports", path=stand_in(tmp_path, body))
    assert run.rc == 2, run.output
    error = run.result("kingfisher")["error"]
    for cls in ("Django SECRET_KEY", "Discord webhook"):
        assert f"kingfisher missed its canary {cls}" in error, error


@pytest.mark.parametrize("spoil, says", [
    ('"$real" "$@"; rc=$?; head -c 100 "$out" >"$out.t" && mv "$out.t" "$out"; exit $rc',
     "not valid JSON"),
    ('"$real" "$@"; rc=$?; jq -c "del(.audit)" "$out" >"$out.t" && mv "$out.t" "$out"; exit $rc',
     "lacks its findings or audit record"),
    ('"$real" "$@"; rc=$?; jq -c ".audit.repositories = []" "$out" >"$out.t" && mv "$out.t" "$out"; '
     'exit $rc', "did not read its canary"),
    ('"$real" "$@"; exit 1', "kingfisher exited 1"),
])
def test_a_broken_report_a_missing_record_or_a_contradicting_exit_is_an_error(tmp_path, spoil, says):
    root = kingfisher_project(tmp_path, {})
    run = run_scan("kingfisher", root, tmp_path / "reports", path=stand_in(tmp_path, spoil))
    assert run.rc == 2, run.output
    error = run.result("kingfisher")["error"]
    assert says in error, error


def test_kingfisher_exits_200_with_no_finding_is_an_error(tmp_path):
    root = kingfisher_project(tmp_path, {})
    body = '"$real" "$@"; rc=$?; jq -c ".findings = []" "$out" >"$out.t" && mv "$out.t" "$out"; exit $rc'
    run = run_scan("kingfisher", root, tmp_path / "reports", path=stand_in(tmp_path, body))
    assert run.rc == 2, run.output
    assert "exit code (200) and its report's findings disagree" in run.result("kingfisher")["error"]


def zip_of(members: dict[str, str]) -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return data.getvalue()


def test_an_archive_is_read_inside_its_folder_then_file_by_file(tmp_path):
    token = f"dop_v1_{rand(64, HEX)}"
    root = kingfisher_project(tmp_path, {"dist/bundle.zip": zip_of({"conf/.env": f"DO_TOKEN={token}\n"})})
    run = run_scan("kingfisher", root, tmp_path / "reports")
    assert run.rc == 1, run.output
    assert "read one by one" in run.output  # a folder with an archive never counts as read whole
    result = run.result("kingfisher")
    assert result["coverage"]["scanned"] == result["coverage"]["inventory"] == 2  # the commit's blobs are the tree's
    [found] = result["findings"]
    assert found["location"]["path"] == "dist/bundle.zip" and "conf/.env" in found["location"]["detail"]
    assert token not in run.output + run.everything_written()


def test_a_file_kingfisher_leaves_out_of_its_record_is_a_gap_naming_it(tmp_path):
    # Its folder's record one blob short, then the file missing from the one-by-one record: kingfisher never skips
    # a small text file itself, so its record is spoiled (apps/views.py is the inventory's first file, number 0).
    root = kingfisher_project(tmp_path, {})
    body = ('"$real" "$@"; rc=$?\n'
            'if [[ " $* " == *" 0/0 "* ]]; then f=\'del(.audit.repositories[] | select(.key | endswith("/0/0")))\'\n'
            'else f=\'.audit.repositories[].stats.blobs_scanned -= 1\'; fi\n'
            'jq -c "$f" "$out" >"$out.t" && mv "$out.t" "$out"; exit $rc')
    # A file of its own: no other test's run has kept kingfisher's answer on it (SHARED_CACHE).
    write_tree(root, {"apps/views.py": f"def index():\n    return '{rand(12)}'\n"})
    git_commit_all(root, "its own file")
    run = run_scan("kingfisher", root, tmp_path / "reports", SHARED_CACHE, path=stand_in(tmp_path, body))
    assert run.rc == 2, run.output
    result = run.result("kingfisher")
    assert [g["id"] for g in result["coverage_gaps"]] == ["not-scanned:apps/views.py"], result["coverage_gaps"]
    assert "kingfisher did not read apps/views.py" in result["error"]


def baseline_for(entries: list[tuple[str, str, bool]]) -> str:
    results: dict[str, list] = {}
    for path, value, is_secret in entries:
        results.setdefault(path, []).append({"type": "Secret Keyword", "filename": path, "line_number": 1,
                                             "hashed_secret": hashlib.sha1(value.encode()).hexdigest(),
                                             "is_secret": is_secret})
    return json.dumps({"version": "1.5.0", "plugins_used": [], "filters_used": [], "results": results})


def test_a_value_audited_as_a_false_positive_in_the_baseline_is_accepted_and_a_suppression_by_rule_id(tmp_path):
    audited = f"dapi{rand(32, HEX)}"
    suppressed = f"shpat_{rand(32, HEX)}"
    true_secret = f"dop_v1_{rand(64, HEX)}"
    root = kingfisher_project(tmp_path, {
        "deploy/a.env": f"DATABRICKS_TOKEN={audited}\n",
        "deploy/b.env": f"SHOPIFY_TOKEN={suppressed}\n",
        "deploy/c.env": f"DIGITALOCEAN_TOKEN={true_secret}\n",
        ".secrets.baseline": baseline_for([("deploy/a.env", audited, False), ("deploy/c.env", true_secret, True)]),
        ".security-suppressions.json": json.dumps({"suppressions": [{
            "scan": "kingfisher", "id": "betterleaks.shopify-access-token", "location": "deploy/b.env:1",
            "reason": "a test fixture", "expires": "2099-01-01"}]}),
    })
    run = run_scan("kingfisher", root, tmp_path / "reports")
    result = run.result("kingfisher")
    assert run.rc == 1, run.output
    reasons = {f["location"]["path"]: f["suppression"]["reason"] for f in result["suppressed"]}
    assert reasons == {"deploy/a.env": "audited false positive in .secrets.baseline", "deploy/b.env": "a test fixture"}
    [failing] = result["findings"]
    assert failing["location"]["path"] == "deploy/c.env" and "audited as a true secret" in failing["title"]


def test_a_secret_removed_since_is_found_in_the_history_naming_its_commit(tmp_path):
    token = f"dapi{rand(32, HEX)}"
    root = kingfisher_project(tmp_path, {})
    write_tree(root, {"deploy/old.env": f"DATABRICKS_TOKEN={token}\n"})
    added = git_commit_all(root, "add a token")
    (root / "deploy" / "old.env").unlink()
    git_commit_all(root, "remove it")
    run = run_scan("kingfisher", root, tmp_path / "reports", {"SECRETS_SINCE": "all"})
    assert run.rc == 1, run.output
    [found] = run.result("kingfisher")["findings"]
    assert found["location"]["path"] == "deploy/old.env"
    assert added in found["location"]["detail"]
    assert token not in run.output + run.everything_written()


def test_staged_reads_the_index_blobs_only(tmp_path):
    token = f"shpat_{rand(32, HEX)}"
    root = kingfisher_project(tmp_path, {})
    write_tree(root, {"deploy/new.env": f"SHOPIFY_TOKEN={token}\n"})
    git(root, "add", "deploy/new.env")
    proc_env = {"SECURITY_REPORT_DIR": str(tmp_path / "reports")}
    import subprocess

    from support.gate import REPO_ROOT, gate_env
    proc = subprocess.run([str(REPO_ROOT / "scans" / "kingfisher" / "run.sh"), "--staged"],
                          env=gate_env(root, tmp_path / "reports", proc_env), cwd=root,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "reports" / "kingfisher.json").read_text())
    [found] = result["findings"]
    assert found["location"]["path"] == "deploy/new.env" and "staged" in found["title"]
    assert result["coverage"] == {"inventory": 1, "scanned": 1}


def test_a_secret_both_engines_report_at_one_place_is_one_finding_in_the_sarif_summary_and_annotations(tmp_path):
    token = f"ghp_{rand(36)}"
    root = kingfisher_project(tmp_path, {"notes/setup.txt": f"first run:\n{token}\n"})
    reports = tmp_path / "reports"
    run = run_gate("security-code", root, reports, {"GITHUB_ACTIONS": "true"}, scans=("detect-secrets", "kingfisher"))
    assert run.rc == 1, run.output
    # Each scan's own result keeps its finding.
    for scan in ("detect-secrets", "kingfisher"):
        assert [f["location"]["path"] for f in run.result(scan)["findings"]] == ["notes/setup.txt"], scan
    sarif = json.loads((reports / "security-code.sarif").read_text())
    at = [r for run_ in sarif["runs"] for r in run_["results"]
          if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "notes/setup.txt"]
    assert len(at) == 1, at
    assert at[0]["properties"]["engines"] == ["detect-secrets", "kingfisher"]
    summary = (reports / "security-code.md").read_text()
    assert summary.count("notes/setup.txt:2") == 1, summary
    assert "seen by detect-secrets and kingfisher" in summary
    annotations = [line for line in run.stdout.splitlines() if line.startswith("::error file=notes/setup.txt")]
    assert len(annotations) == 1, run.stdout
    assert token not in run.output + run.everything_written()



def main_runs(run) -> int:
    """How many files kingfisher's main runs read (their audit records, in the raw report the gate keeps)."""
    runs = json.loads((run.reports / "kingfisher.raw.json").read_text())["kingfisher"]
    return sum(r["blobs_scanned"] for r in runs if r["run"].startswith("main-"))


def canaries() -> int:
    """The canary's files of the main set (scans/kingfisher/adapter.py CANARY), read in every run."""
    source = (REPO_ROOT / "scans" / "kingfisher" / "adapter.py").read_text()
    return source.split("CANARY = (", 1)[1].split("\n)\n", 1)[0].count('"main",')


# The gate's own cache folder: kingfisher's compiled rules are kept there, so no test compiles them again (4 CPU s);
# the files of these tests are their own (random), so no other run's answer is theirs.
SHARED_CACHE = {"SECURITY_CACHE_DIR": str(REPO_ROOT / ".cache" / "security")}


def test_a_warm_history_run_hands_kingfisher_only_new_blobs_and_those_with_findings(tmp_path):
    token = f"dapi{rand(32, HEX)}"
    root = tmp_path / "project"
    write_tree(root, {f"apps/m{n}.py": f"VALUE_{n} = '{rand(12)}'\n" for n in range(6)})
    git_commit_all(root, "base")
    write_tree(root, {"deploy/old.env": f"DATABRICKS_TOKEN={token}\n"})
    added = git_commit_all(root, "add a token")
    (root / "deploy" / "old.env").unlink()
    git_commit_all(root, "remove it")
    env = {"SECRETS_SINCE": "all"} | SHARED_CACHE  # pragma: allowlist secret (a range, not a secret)
    cold = run_scan("kingfisher", root, tmp_path / "cold", env)
    assert cold.rc == 1, cold.output
    assert cold.result("kingfisher")["cache"] == {"enabled": True, "hits": 0, "misses": 7, "note": None}
    assert main_runs(cold) == 7 + canaries()  # the 6 tree files, the token's blob
    write_tree(root, {"apps/new.py": f"NEW = '{rand(12)}'\n"})
    git_commit_all(root, "a new file")
    warm = run_scan("kingfisher", root, tmp_path / "warm", env)
    assert warm.rc == 1, warm.output
    result = warm.result("kingfisher")
    # Handed: the blob with the finding and the new file (and the canary); the 6 others answered by the cache.
    assert main_runs(warm) == 2 + canaries(), warm.output
    assert result["cache"]["hits"] == 6 and result["cache"]["misses"] == 2
    assert result["coverage"] == {"inventory": 8, "scanned": 8}
    [found] = result["findings"]
    assert found["location"]["path"] == "deploy/old.env" and added in found["location"]["detail"]
    assert token not in warm.output + warm.everything_written() + everything(REPO_ROOT / ".cache" / "security" / "v1")


def test_a_cached_answer_is_not_used_when_kingfishers_rules_change(tmp_path):
    gate = gate_copy(tmp_path / "gate")
    value = rand(24)
    lock = f'version = 1\n\n[[package]]\nname = "lib-{rand(8)}"\nsource = {{ registry = "https://x{value}.example.com" }}\n'
    root = tmp_path / "project"
    write_tree(root, {"apps/a.py": f"A = '{rand(12)}'\n", "uv.lock": lock})
    git_commit_all(root, "base")
    first = run_scan("kingfisher", root, tmp_path / "r1", SHARED_CACHE, root=gate)
    again = run_scan("kingfisher", root, tmp_path / "r2", SHARED_CACHE, root=gate)
    assert first.rc == again.rc == 0, first.output + again.output
    assert again.result("kingfisher")["cache"]["hits"] == 2 and main_runs(again) == canaries()
    # A rule for uv.lock (the set whose rules compile in no time) that fires on the file the cache answered: every
    # file is read again, and the lock's match found.
    rules = gate / "scans" / "kingfisher" / "rules" / "uv-lock.yml"
    rules.write_text(rules.read_text() + "  - name: A test's own host name\n    id: gate.test.host\n"
                     "    pattern: 'https://x([A-Za-z0-9]{24})[.]example[.]com'\n    min_entropy: 2.0\n"
                     "    confidence: high\n")
    changed = run_scan("kingfisher", root, tmp_path / "r3", SHARED_CACHE, root=gate)
    assert changed.rc == 1, changed.output
    assert changed.result("kingfisher")["cache"]["hits"] == 0 and main_runs(changed) == 1 + canaries()
    [found] = changed.result("kingfisher")["findings"]
    assert found["location"]["path"] == "uv.lock"
