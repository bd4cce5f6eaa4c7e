"""Fixtures shared by the gate's tests: a report folder per test and one local OSV server per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.osv_server import OsvServer


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    """The test's own SECURITY_REPORT_DIR."""
    return tmp_path / "reports"


@pytest.fixture(scope="module")
def osv() -> Iterator[OsvServer]:
    """A real OSV-API server on 127.0.0.1 serving tests/fixtures/osv, for the module's tests."""
    with OsvServer() as server:
        yield server
