"""Every shell script in the tree is shellcheck-clean, checked with the locked shellcheck (.venv/bin/shellcheck).

The scripts are found by listing the tree (files git tracks or would track), never from a hard-coded list:
a file is a shell script when it ends in .sh, starts with a sh/bash shebang, or declares `# shellcheck shell=`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELLCHECK = ROOT / ".venv" / "bin" / "shellcheck"
SHELL_SHEBANG = re.compile(rb"^#!\s*\S*/(env\s+)?(ba|da|k)?sh\b")
SHELL_DIRECTIVE = re.compile(rb"^# shellcheck shell=")


def is_shell_script(path: Path) -> bool:
    if path.suffix == ".sh":
        return True
    with path.open("rb") as handle:
        first_line = handle.readline()
    return bool(SHELL_SHEBANG.match(first_line) or SHELL_DIRECTIVE.match(first_line))


def shell_scripts() -> list[str]:
    """Repository-relative paths of the shell scripts: tracked files plus new ones not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    return sorted(name for name in listed if name and (ROOT / name).is_file() and is_shell_script(ROOT / name))


def shellcheck(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SHELLCHECK), "-x", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


SCRIPTS = shell_scripts()


def test_the_listing_finds_the_scan_scripts_the_libraries_and_the_ci_entry_point():
    expected = {str(path.relative_to(ROOT)) for path in ROOT.glob("scans/*/run.sh")}
    expected |= {"scripts/run-gate.sh", "scripts/test.sh", "scripts/lib/common.sh", ".ci/run"}

    assert expected <= set(SCRIPTS)


def test_the_locked_shellcheck_reports_a_finding_in_a_script_that_has_one(tmp_path):
    script = tmp_path / "unquoted.sh"
    script.write_text('#!/usr/bin/env bash\nrm -rf $1\n')

    completed = shellcheck(str(script), cwd=tmp_path)

    assert completed.returncode == 1
    assert "SC2086" in completed.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_script_is_shellcheck_clean(script):
    completed = shellcheck(script)

    assert completed.returncode == 0, completed.stdout + completed.stderr
