"""Help from the code: every variable the scripts read is documented once, in the header of the script that reads it.

`make help` prints the Makefile's targets and the "#   NAME=DEFAULT  meaning" lines of the scripts' headers
(scripts/help.sh says the format); these tests fail when a script reads a variable that no header documents, when a
header's default is not the one the script uses, when a default is written in a second script, or when the
README's variables table misses one.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from support.gate import REPO_ROOT

# Variables the scripts read that are not the gate's tunables, and why.
NOT_TUNABLES = {
    "TMPDIR": "the system's temporary folder",
    "TERM": "the terminal's type (run-gate.sh draws no status line on a dumb one)",
    "GITHUB_ACTIONS": "set by GitHub Actions",
    "GITHUB_OUTPUT": "set by GitHub Actions",
    "GITHUB_STEP_SUMMARY": "set by GitHub Actions (README: the summary is appended to it)",
    "SECURITY_GATE": "set by run-gate.sh for the scans it runs",
    "SECURITY_PROGRESS_DIR": "set by run-gate.sh for the scans it runs (where they say how far they are)",
    "SECURITY_PROGRESS_FILE": "set by scan_begin (common.sh) for the scan and its helpers",
    "SECURITY_RUN_KEY": "made by common.sh once a run: the key that salts secrets' hashes (no setting)",
    "SECURITY_SECRETS_ADOPTING": "set by secrets-baseline.sh for the scans it runs (the salt's file; no setting)",
    "SCAN_NAME": "a shell variable of the scan life cycle (common.sh)",
    "SCAN_TOOL_VERSION": "a shell variable of the scan life cycle (common.sh)",
    "SCAN_RESULT_EXTRA": "a shell variable of the scan life cycle (common.sh)",
    "DS_PYTHON": "a shell variable of the detect-secrets scan",
    "SKIP": "pre-commit's own variable (docs/pre-commit.md): scripts/pre-commit.sh skips the units it names",
    "EPOCHREALTIME": "bash's clock (bash 5), for the trivy canary's time",
    "TRIVY_CACHE_BACKEND": "trivy's own setting (README: the TRIVY_* row); the image scan refuses any but memory",
}
READ = re.compile(r"\$\{([A-Z][A-Z0-9_]*):[-=]((?:[^{}]|\{[^{}]*\})*)\}")
DOCUMENTED = re.compile(r"^#   ([A-Z][A-Z0-9_]*)=((?:[^ ]| [^ ])*) {2,}(\S.*)$")


def scripts() -> list[Path]:
    """The files the issue names: every scan's shell scripts, scripts/*.sh and scripts/lib/*.sh, and the Makefile."""
    return [REPO_ROOT / "Makefile", *sorted(REPO_ROOT.glob("scripts/*.sh")), *sorted(REPO_ROOT.glob("scripts/lib/*.sh")),
            *sorted(REPO_ROOT.glob("scans/*/*.sh"))]


def header(path: Path) -> dict[str, str]:
    """NAME -> DEFAULT of the variables documented in path's header (its first block of comment lines)."""
    documented = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        match = DOCUMENTED.match(line)
        if match:
            documented[match.group(1)] = match.group(2)
    return documented


def reads(path: Path) -> list[tuple[str, str]]:
    """(NAME, DEFAULT) of each ${NAME:-DEFAULT} or ${NAME:=DEFAULT} in path, in order (the Makefile's $${...} too)."""
    return [(m.group(1), m.group(2)) for m in READ.finditer(path.read_text())]


def make_help() -> str:
    proc = subprocess.run(["make", "--no-print-directory", "-s", "help"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    return proc.stdout


def readme_variables() -> set[str]:
    """The variables the README's configuration table lists (its first column, each `NAME` in it)."""
    names = set()
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        if line.startswith("| `") and line.count("|") >= 4:
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return names


def test_every_variable_the_scripts_read_is_in_make_help_and_the_readme():
    read = {name for path in scripts() for name, _ in reads(path)} - set(NOT_TUNABLES)
    assert {"PIP_AUDIT_CACHE_DIR", "PIP_AUDIT_TIMEOUT", "BANDIT_TARGETS", "SCAN_TIMEOUT"} <= read  # the grep works
    documented = {name for path in scripts() for name in header(path)}
    assert sorted(read - documented) == [], "read by a script, documented in no script's header"
    shown = set(re.findall(r"^\s+([A-Z][A-Z0-9_]*)=", make_help(), re.MULTILINE))
    assert sorted(read - shown) == [], "missing from make help"
    assert sorted(documented - readme_variables()) == [], "missing from the README's variables table"


def test_each_default_is_written_once_in_the_header_of_the_script_that_reads_it():
    owners: dict[str, Path] = {}
    for path in scripts():
        for name, default in header(path).items():
            assert name not in owners, f"{name} is documented in {owners[name]} and {path}"
            owners[name] = path
            used = [d for n, d in reads(path) if n == name]
            if used:  # a script that only hands the variable on (advisory-mirror.py reads it) has no ${...:-}
                assert used[0] == default, f"{path}: {name} defaults to {used[0]!r}, its header says {default!r}"
    for path in scripts():
        for name, default in reads(path):
            if default and name in owners and path != owners[name]:
                raise AssertionError(f"{path} writes {name}'s default {default!r} again; it lives in {owners[name]}")


def test_make_help_prints_each_target_with_its_comment_and_each_variable_with_its_default():
    text = make_help()
    targets = re.findall(r"^([a-zA-Z_-]+):.*## (.*)$", (REPO_ROOT / "Makefile").read_text(), re.MULTILINE)
    assert len(targets) >= 5
    for target, comment in targets:
        assert re.search(rf"^  {re.escape(target)}\s+{re.escape(comment)}$", text, re.MULTILINE), target
    assert re.search(r"^    BANDIT_TARGETS=apps config\s+what bandit scans", text, re.MULTILINE), text
    assert re.search(r"^    PIP_AUDIT_TIMEOUT=30\s+pip-audit's socket timeout", text, re.MULTILINE), text


def test_help_gives_a_default_to_whoever_needs_it_and_refuses_an_undocumented_name():
    default = subprocess.run([str(REPO_ROOT / "scripts" / "help.sh"), "--default", "BANDIT_TARGETS"],
                             capture_output=True, text=True, timeout=30, check=True)
    assert default.stdout == "apps config\n"
    unknown = subprocess.run([str(REPO_ROOT / "scripts" / "help.sh"), "--default", "NO_SUCH_VARIABLE"],
                             capture_output=True, text=True, timeout=30, check=False)
    assert unknown.returncode == 2 and "NO_SUCH_VARIABLE" in unknown.stderr
