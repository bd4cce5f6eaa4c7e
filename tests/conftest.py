"""Fixtures shared by the gate's tests: a report folder per test and one local OSV server per module."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# The gate's Python helpers the tests share with make bench (osv_server): scripts/lib, importable by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "lib"))

from osv_server import OsvServer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# kingfisher compiles its rules in about 4 CPU s wherever it finds no compiled copy: every gate run of the suite
# shares one folder of them (KINGFISHER_RULE_CACHE, scans/kingfisher/run.sh; a file per rule set and version,
# nothing of a scan's), compiled once here under a lock before any test runs.
RULE_CACHE = REPO / ".cache" / "test-kingfisher-rules"
RULE_SETS = (("--rules-path", "gate.yml"), ("--load-builtins", "false", "--rules-path", "uv-lock.yml"))


def pytest_configure(config: pytest.Config) -> None:
    RULE_CACHE.mkdir(parents=True, exist_ok=True)
    os.environ["KINGFISHER_RULE_CACHE"] = str(RULE_CACHE)
    kingfisher = REPO / ".venv" / "bin" / "kingfisher"
    if not kingfisher.exists():
        return
    rules = REPO / "scans" / "kingfisher" / "rules"
    with open(RULE_CACHE / ".lock", "w") as lock, tempfile.TemporaryDirectory() as work:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait, then find the rules compiled
        Path(work, "empty").write_text("\n")
        for rule_set in RULE_SETS:
            args = [a if not a.endswith(".yml") else str(rules / a) for a in rule_set]
            subprocess.run([str(kingfisher), "scan", "--no-validate", "--no-update-check", "--format", "json",
                            "--quiet", *args, "--rule-cache-dir", str(RULE_CACHE), "--output",
                            str(Path(work, "out.json")), "--", str(Path(work, "empty"))],
                           capture_output=True, check=False)


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """The test's own SECURITY_REPORT_DIR."""
    return tmp_path / "reports"


@pytest.fixture(scope="module")
def osv() -> Iterator[OsvServer]:
    """A real OSV-API server on 127.0.0.1 serving tests/fixtures/osv, for the module's tests."""
    with OsvServer() as server:
        yield server
