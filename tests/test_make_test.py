"""`make test` runs the locked pytest (.venv/bin/pytest) and hands it ARGS."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_test_hands_args_to_pytest():
    completed = subprocess.run(
        ["make", "--no-print-directory", "test", "ARGS=--collect-only -q -k listing tests/test_shellcheck.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    collected = [line for line in completed.stdout.splitlines() if "::" in line]
    assert collected == [
        "tests/test_shellcheck.py::test_the_listing_finds_the_scan_scripts_the_libraries_and_the_ci_entry_point"
    ]


def test_the_test_script_runs_the_venv_pytest_not_the_one_first_on_path(tmp_path):
    decoy = tmp_path / "pytest"
    decoy.write_text("#!/bin/sh\necho decoy pytest ran\nexit 97\n")
    decoy.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}

    completed = subprocess.run(
        [str(ROOT / "scripts" / "test.sh"), "--version"], env=env, capture_output=True, text=True, timeout=60,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "decoy" not in completed.stdout + completed.stderr
    assert "pytest" in completed.stdout + completed.stderr
