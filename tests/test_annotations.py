"""Annotations: in GitHub Actions the gate prints each scan error and finding as a workflow command.

jq/annotations.jq is fed hand-built results with hostile file names and messages (%, CR, LF, ::, commas, colons);
each line it prints is parsed back the way the Actions runner parses a workflow command, and must give back the
original values, one command a line. End to end, the real bandit and detect-secrets run with GITHUB_ACTIONS=true.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from support.faults import clean_project
from support.gate import REPO_ROOT, run_gate

JQ_DIR = REPO_ROOT / "jq"
# The most error annotations a run prints: GitHub's limit, as jq/lib.jq keeps it.
LIMIT = json.loads(subprocess.run(["jq", "-n", "-L", str(JQ_DIR), 'include "lib"; github_limits.error_annotations'],
                                  capture_output=True, text=True, check=True).stdout)
HOSTILE_PATHS = [
    "apps/100%.py",
    "apps/line\nbreak.py",
    "apps/carriage\rreturn.py",
    "apps/a::error::b.py",
    "apps/comma,line=1,title=forged.py",
    "apps/colon:file.py",
    "apps/%0A%3A%2C.py",
]
# Planted secrets, built at run time so that this file holds none whole.
AWS_KEY = "AKIA" + "QYLPMN5HFIQR7XYZ"
HARDCODED_LITERAL = "Sup3r-s3cret-" + "annotati0n"


def finding(path: str, line: int | None = 3, title: str = "eval: use of possibly insecure function", **extra) -> dict:
    return {"scan": "bandit", "id": "B307", "severity": "MEDIUM", "confidence": "HIGH", "title": title,
            "location": {"path": path, "line": line, "detail": None}, "package": None, "fix": None, **extra}


def result(scan: str, status: str, findings=(), error=None, expired=()) -> dict:
    return {"schema_version": 1, "scan": scan, "status": status, "error": error, "target": "/p", "policy": None,
            "findings": list(findings), "below_threshold": [], "suppressed": [],
            "expired_suppressions": list(expired), "counts": {"findings": len(findings)}, "finished_at": "x"}


def annotations(results: list[dict], gate: str = "security-code") -> list[str]:
    completed = subprocess.run(
        ["jq", "-r", "-s", "-L", str(JQ_DIR), "-f", str(JQ_DIR / "annotations.jq"), "--arg", "gate", gate],
        input="".join(json.dumps(r) + "\n" for r in results), capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.endswith("\n")
    return completed.stdout[:-1].split("\n")


def unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(text: str) -> str:
    return (text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",")
            .replace("%25", "%"))


def parse(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner reads it (ActionCommand.TryParseV2): `::name props::data`, the props split
    at commas, each at its first `=`, values and data unescaped."""
    assert "\r" not in line and "\n" not in line
    assert line.startswith("::")
    end = line.index("::", 2)
    head, data = line[2:end], line[end + 2:]
    name, _, props = head.partition(" ")
    properties = {}
    for pair in filter(None, props.split(",")):
        key, _, value = pair.partition("=")
        properties[key] = unescape_property(value)
    return name, properties, unescape_data(data)


@pytest.mark.parametrize("path", HOSTILE_PATHS, ids=[repr(p) for p in HOSTILE_PATHS])
def test_a_finding_becomes_one_error_on_its_file_and_line_whatever_its_file_is_called(path):
    title = "message with % and\r\nnew lines, commas: colons ::error::forged"
    (line,) = annotations([result("bandit", "fail", [finding(path, 7, title)])])

    name, properties, message = parse(line)
    assert name == "error"
    assert properties == {"file": path, "line": "7", "title": "bandit B307"}
    assert message == f"MEDIUM: {title}"


def test_the_escaping_is_exactly_githubs():
    (line,) = annotations([result("bandit", "fail", [finding("a%b:c,d\r\ne.py", 1, "x%y:z,w\r\nv")])])
    assert line == "::error file=a%25b%3Ac%2Cd%0D%0Ae.py,line=1,title=bandit B307::MEDIUM: x%25y:z,w%0D%0Av"


def test_a_finding_without_a_line_names_only_its_file():
    (line,) = annotations([result("pip-audit", "fail", [
        finding("uv.lock", None, "django: a vulnerability", id="GHSA-xxxx", scan="pip-audit",
                package={"name": "django", "version": "5.2"}, fix="5.2.1")])])
    assert parse(line) == ("error", {"file": "uv.lock", "title": "pip-audit GHSA-xxxx"},
                           "MEDIUM: django: a vulnerability [django 5.2] (fix: 5.2.1)")


def test_each_scan_error_is_an_error_naming_the_scan_before_the_findings():
    lines = annotations([
        result("bandit", "fail", [finding("apps/x.py")]),
        result("pip-audit", "error", error="pip-audit could not be completed: the service said\n::error::no"),
    ])
    assert [parse(line) for line in lines] == [
        ("error", {"title": "pip-audit could not be completed"},
         "pip-audit could not be completed: the service said\n::error::no"),
        ("error", {"file": "apps/x.py", "line": "3", "title": "bandit B307"},
         "MEDIUM: eval: use of possibly insecure function"),
    ]


def test_an_expired_suppression_is_an_error_too():
    expired = {"scan": "bandit", "id": "B602", "reason": "reviewed, until the rewrite", "expires": "2020-01-31"}
    (line,) = annotations([result("bandit", "fail", expired=[expired])])
    name, properties, message = parse(line)
    assert (name, properties) == ("error", {"title": "bandit expired suppression B602"})
    assert message.startswith("expired 2020-01-31: reviewed, until the rewrite")


def test_at_most_the_limit_of_errors_then_one_notice_saying_how_many_were_left_out():
    many = [finding(f"apps/m{i:02}.py", i + 1) for i in range(25)]
    lines = annotations([result("detect-secrets", "error", error="detect-secrets could not be completed: x"),
                         result("bandit", "fail", many)])

    parsed = [parse(line) for line in lines]
    assert [name for name, _, _ in parsed] == ["error"] * LIMIT + ["notice"]
    assert [props.get("file") for _, props, _ in parsed[1:LIMIT]] == [f"apps/m{i:02}.py" for i in range(LIMIT - 1)]
    assert parsed[-1][1] == {"title": "security-code: 16 more not annotated"}
    assert parsed[-1][2].startswith("16 more finding(s) over the threshold are not annotated here")
    assert parsed[-1][2].endswith(": the step summary and the security-code artifact list them all")  # it lists all 25


def test_a_run_without_findings_or_errors_prints_nothing():
    completed = subprocess.run(
        ["jq", "-r", "-s", "-L", str(JQ_DIR), "-f", str(JQ_DIR / "annotations.jq"), "--arg", "gate", "g"],
        input=json.dumps(result("bandit", "pass")), capture_output=True, text=True, check=False)
    assert (completed.returncode, completed.stdout) == (0, "")


@pytest.mark.parametrize("text", ["[1]", '{"scan": 1}', "{"])
def test_input_that_is_not_results_is_an_error(text):
    completed = subprocess.run(
        ["jq", "-r", "-s", "-L", str(JQ_DIR), "-f", str(JQ_DIR / "annotations.jq"), "--arg", "gate", "g"],
        input=text, capture_output=True, text=True, check=False)
    assert completed.returncode != 0 and completed.stdout == ""


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def hostile_project(tmp_path_factory) -> Path:
    root = clean_project(tmp_path_factory.mktemp("annotations") / "project", commit=False)
    (root / "apps" / "core" / "x%2C,y:z::w.py").write_text("def run(data):\n    return eval(data)\n")
    (root / "config" / "keys.py").write_text(f"AWS_ACCESS_KEY_ID = '{AWS_KEY}'\n")
    (root / "config" / "db.py").write_text(f"password = '{HARDCODED_LITERAL}'\n")  # bandit B105 quotes it; the gate must not
    return clean_project(root)


def commands(output: str) -> list[tuple[str, dict[str, str], str]]:
    """The workflow commands among the lines of output that the runner would act on."""
    stopped = None
    found = []
    for line in re.split(r"\r\n|\r|\n", output):
        line = line.lstrip()
        if stopped:
            stopped = None if line == f"::{stopped}::" else stopped
            continue
        if line.startswith("::stop-commands::"):
            stopped = line[len("::stop-commands::"):]
        elif line.startswith("::"):
            found.append(parse(line))
    return found


def test_in_github_actions_the_gate_annotates_findings_and_never_a_secret_value(hostile_project, reports, tmp_path):
    run = run_gate("security-code", hostile_project, reports, scans=("bandit", "detect-secrets"),
                   env={"GITHUB_ACTIONS": "true", "SECURITY_CACHE_DIR": str(tmp_path / "cache")})

    assert run.rc == 1, run.output
    found = commands(run.stdout)
    (bandit,) = [(props, message) for _, props, message in found if props.get("title") == "bandit B307"]
    assert bandit[0] == {"file": "apps/core/x%2C,y:z::w.py", "line": "2", "title": "bandit B307"}
    assert bandit[1].startswith("MEDIUM: ")
    assert ("error", {"file": "config/keys.py", "line": "1", "title": "detect-secrets AWS Access Key"},
            "HIGH: Potential secret: AWS Access Key") in found, found
    assert all(name == "error" for name, _, _ in found), found
    assert any(props.get("title") == "bandit B105" for _, props, _ in found), found
    for value in (AWS_KEY, HARDCODED_LITERAL):
        assert value not in run.output and value not in run.everything_written()
    # each scan's block is printed with workflow commands stopped, under a token of its own nobody can guess
    tokens = re.findall(r"^::stop-commands::([0-9a-f]{32})$", run.stdout, flags=re.M)
    assert len(tokens) == 2 and len(set(tokens)) == 2, run.stdout
    for token in tokens:
        block = run.stdout.split(f"::stop-commands::{token}\n", 1)[1].split(f"\n::{token}::\n", 1)[0]
        assert re.search(r"^(bandit|detect-secrets): FAIL", block, flags=re.M), block


def test_outside_github_actions_nothing_is_annotated(hostile_project, reports, tmp_path):
    run = run_gate("security-code", hostile_project, reports, scans=("bandit",),
                   env={"SECURITY_CACHE_DIR": str(tmp_path / "cache")})

    assert run.rc == 1, run.output
    assert "::" not in run.stdout.replace("x%2C,y:z::w.py", "")
