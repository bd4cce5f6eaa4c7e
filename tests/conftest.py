"""Fixtures shared by the gate's tests: a report folder per test and one local OSV server per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The gate's Python helpers the tests share with make bench (osv_server): scripts/lib, importable by name.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "lib"))

from osv_server import OsvServer  # noqa: E402


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """The test's own SECURITY_REPORT_DIR."""
    return tmp_path / "reports"


@pytest.fixture(scope="module")
def osv() -> Iterator[OsvServer]:
    """A real OSV-API server on 127.0.0.1 serving tests/fixtures/osv, for the module's tests."""
    with OsvServer() as server:
        yield server
