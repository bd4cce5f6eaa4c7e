"""The fixture builders produce what the real trivy (0.76, .venv/bin/trivy) reads.

Each test scans a fixture image against a fixture DB offline and asserts on
trivy's JSON report; a scan takes about 0.1 s.
"""

from __future__ import annotations

import hashlib
import json
import struct
import tarfile
from pathlib import Path
from typing import Any

import pytest

from support.bbolt import META, PAGE_HEADER, build_bbolt, fnv1a_64
from support.trivy_fixtures import (
    TRIVY,
    build_image_tar,
    build_non_image_tar,
    build_trivy_db,
    corrupt_trivy_db,
    debian_fixed,
    debian_unfixed,
    findings,
    pip_advisory,
    run_trivy,
    truncate_file,
    vulnerability,
)

pytestmark = pytest.mark.skipif(not TRIVY.exists(), reason="trivy is installed by `uv sync` (.venv/bin/trivy)")

OS_PACKAGES = [
    ("libssl3", "openssl", "3.0.11-1~deb12u2"),  # advisories are keyed by the source package
    ("zlib1g", "zlib", "1:1.2.13.dfsg-1"),
    ("bash", None, "5.2.15-2+b2"),  # no Source: field, source = binary name
    ("libc6", "glibc", "2.36-9+deb12u4"),
    ("tar", None, "1.34+dfsg-1.2+deb12u1"),
]
PYTHON_PACKAGES = [("Django", "4.2.0"), ("PyYAML", "5.3"), ("typing_extensions", "4.0.0"), ("requests", "2.32.3")]

VULNERABILITIES = {
    "CVE-2024-0001": vulnerability("openssl: critical", vendor_severity={"debian": "CRITICAL", "nvd": "LOW"}),
    "CVE-2024-0002": vulnerability("zlib: no fix yet", vendor_severity={"debian": "MEDIUM"}),
    "CVE-2024-0003": vulnerability("bash: low", vendor_severity={"debian": "LOW", "nvd": "CRITICAL"}),
    "CVE-2024-0004": vulnerability("glibc: fixed before the installed version", vendor_severity={"debian": "HIGH"}),
    "CVE-2024-0005": vulnerability("tar: only NVD rates it", vendor_severity={"nvd": "HIGH"}),
    "CVE-2024-0006": vulnerability("keyed by the binary name", vendor_severity={"debian": "CRITICAL"}),
    "GHSA-aaaa-bbbb-cccc": vulnerability("Django: high", vendor_severity={"ghsa": "HIGH", "nvd": "CRITICAL"}),
    "CVE-2020-1747": vulnerability("PyYAML: critical", vendor_severity={"ghsa": "CRITICAL"}),
    "GHSA-dddd-eeee-ffff": vulnerability("typing_extensions: medium", vendor_severity={"ghsa": "MEDIUM"}),
    "GHSA-gggg-hhhh-iiii": vulnerability("requests: older versions only", vendor_severity={"ghsa": "HIGH"}),
}
DEBIAN = {
    "openssl": {"CVE-2024-0001": debian_fixed("3.0.13-1~deb12u1")},
    "zlib": {"CVE-2024-0002": debian_unfixed()},
    "bash": {"CVE-2024-0003": debian_fixed("5.2.15-2+b3")},
    "glibc": {"CVE-2024-0004": debian_fixed("2.36-9+deb12u1")},
    "tar": {"CVE-2024-0005": debian_fixed("1.34+dfsg-1.2+deb12u2")},
    "libssl3": {"CVE-2024-0006": debian_fixed("9.9.9")},
}
PIP = {
    "Django": {"GHSA-aaaa-bbbb-cccc": pip_advisory([">=4.0, <4.2.1"], ["4.2.1"])},
    "PyYAML": {"CVE-2020-1747": pip_advisory(["<5.3.1"], ["5.3.1"])},
    "typing_extensions": {"GHSA-dddd-eeee-ffff": pip_advisory(["<4.1.0"], ["4.1.0"])},
    "requests": {"GHSA-gggg-hhhh-iiii": pip_advisory(["<2.32.0"], ["2.32.0"])},
}


@pytest.fixture(scope="module")
def fixture_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("trivy")
    image = build_image_tar(root / "image.tar", OS_PACKAGES, PYTHON_PACKAGES)
    build_trivy_db(root / "cache", VULNERABILITIES, DEBIAN, PIP)
    return {"root": root, "image": image, "cache": root / "cache"}


@pytest.fixture(scope="module")
def report(fixture_files: dict[str, Path]) -> dict[str, Any]:
    output = fixture_files["root"] / "report.json"
    completed = run_trivy(fixture_files["image"], fixture_files["cache"], output)
    assert completed.returncode == 0, completed.stderr
    return json.loads(output.read_text())


@pytest.fixture(scope="module")
def found(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return findings(report)


def test_trivy_detects_the_fixture_image_as_debian_12(report: dict[str, Any]) -> None:
    assert report["Metadata"]["OS"] == {"Family": "debian", "Name": "12.7"}
    assert {(r["Class"], r["Type"]) for r in report["Results"]} == {("os-pkgs", "debian"), ("lang-pkgs", "python-pkg")}


def test_trivy_reports_exactly_the_planted_vulnerabilities(found: dict[str, dict[str, Any]]) -> None:
    assert sorted(found) == [
        "lang-pkgs:CVE-2020-1747:PyYAML",
        "lang-pkgs:GHSA-aaaa-bbbb-cccc:Django",
        "lang-pkgs:GHSA-dddd-eeee-ffff:typing_extensions",
        "os-pkgs:CVE-2024-0001:libssl3",
        "os-pkgs:CVE-2024-0002:zlib1g",
        "os-pkgs:CVE-2024-0003:bash",
        "os-pkgs:CVE-2024-0005:tar",
    ]


@pytest.mark.parametrize(
    ("key", "severity", "source", "installed", "fixed", "status"),
    [
        ("os-pkgs:CVE-2024-0001:libssl3", "CRITICAL", "debian", "3.0.11-1~deb12u2", "3.0.13-1~deb12u1", "fixed"),
        ("os-pkgs:CVE-2024-0003:bash", "LOW", "debian", "5.2.15-2+b2", "5.2.15-2+b3", "fixed"),
        ("os-pkgs:CVE-2024-0005:tar", "HIGH", "nvd", "1.34+dfsg-1.2+deb12u1", "1.34+dfsg-1.2+deb12u2", "fixed"),
        ("lang-pkgs:GHSA-aaaa-bbbb-cccc:Django", "HIGH", "ghsa", "4.2.0", "4.2.1", "fixed"),
        ("lang-pkgs:CVE-2020-1747:PyYAML", "CRITICAL", "ghsa", "5.3", "5.3.1", "fixed"),
        ("lang-pkgs:GHSA-dddd-eeee-ffff:typing_extensions", "MEDIUM", "ghsa", "4.0.0", "4.1.0", "fixed"),
    ],
)
def test_fixed_vulnerabilities_carry_the_data_source_severity_and_fix(
    found: dict[str, dict[str, Any]], key: str, severity: str, source: str, installed: str, fixed: str, status: str
) -> None:
    vuln = found[key]
    assert (vuln["Severity"], vuln["SeveritySource"]) == (severity, source)
    assert (vuln["InstalledVersion"], vuln["FixedVersion"], vuln["Status"]) == (installed, fixed, status)


def test_unfixed_debian_advisory_is_reported_as_affected_without_fix(found: dict[str, dict[str, Any]]) -> None:
    vuln = found["os-pkgs:CVE-2024-0002:zlib1g"]
    assert vuln["Status"] == "affected"
    assert vuln.get("FixedVersion", "") == ""
    assert (vuln["Severity"], vuln["InstalledVersion"]) == ("MEDIUM", "1:1.2.13.dfsg-1")


def test_report_carries_title_and_package_identity(found: dict[str, dict[str, Any]]) -> None:
    vuln = found["os-pkgs:CVE-2024-0001:libssl3"]
    assert vuln["Title"] == "openssl: critical"
    assert vuln["PkgName"] == "libssl3"
    assert vuln["VulnerabilityID"] == "CVE-2024-0001"
    assert vuln["DataSource"]["ID"] == "debian"


def test_image_without_debian_version_is_an_unsupported_os(tmp_path: Path, fixture_files: dict[str, Path]) -> None:
    image = build_image_tar(tmp_path / "image.tar", OS_PACKAGES, debian_version=None)
    completed = run_trivy(image, fixture_files["cache"], tmp_path / "out.json")
    assert completed.returncode == 0, completed.stderr
    assert "Unsupported os" in completed.stderr
    assert not json.loads((tmp_path / "out.json").read_text()).get("Results")


def test_bucket_spanning_many_pages_is_read_back(tmp_path: Path) -> None:
    # 3000 advisories for one package and a 20 kB title: branch pages and overflow pages.
    ids = [f"CVE-2023-{n:05d}" for n in range(3000)]
    vulns = {vid: vulnerability(f"filler {vid}", vendor_severity={"debian": "LOW"}) for vid in ids}
    vulns[ids[-1]] = vulnerability("x" * 20_000, vendor_severity={"debian": "HIGH"})
    build_trivy_db(tmp_path / "cache", vulns, {"bash": {vid: debian_fixed("9.9") for vid in ids}})
    image = build_image_tar(tmp_path / "image.tar", [("bash", None, "5.2.15-2+b2")])
    completed = run_trivy(image, tmp_path / "cache", tmp_path / "out.json")
    assert completed.returncode == 0, completed.stderr
    found = findings(json.loads((tmp_path / "out.json").read_text()))
    assert len(found) == 3000
    assert found[f"os-pkgs:{ids[0]}:bash"]["Severity"] == "LOW"
    assert found[f"os-pkgs:{ids[-1]}:bash"]["Severity"] == "HIGH"
    assert len(found[f"os-pkgs:{ids[-1]}:bash"]["Title"]) == 20_000


def _no_db(cache: Path) -> None:
    cache.mkdir()


def _schema(version: int):
    def build(cache: Path) -> None:
        build_trivy_db(cache, VULNERABILITIES, DEBIAN, PIP, schema_version=version)

    return build


def _corrupt(cache: Path) -> None:
    build_trivy_db(cache, VULNERABILITIES, DEBIAN, PIP)
    corrupt_trivy_db(cache)


@pytest.mark.parametrize(
    ("make_cache", "message"),
    [
        (_no_db, "--skip-db-update cannot be specified on the first run"),
        (_schema(1), "old DB schema"),
        (_schema(99), "doesn't match. Local DB: 99, Expected: 2"),
        (_corrupt, "invalid database"),
    ],
    ids=["no-db", "schema-1", "schema-99", "corrupt-db"],
)
def test_unusable_db_fails_the_scan_without_a_report(tmp_path: Path, make_cache, message: str) -> None:
    make_cache(tmp_path / "cache")
    image = build_image_tar(tmp_path / "image.tar", OS_PACKAGES)
    completed = run_trivy(image, tmp_path / "cache", tmp_path / "out.json")
    assert completed.returncode == 1
    assert message in completed.stderr
    assert not (tmp_path / "out.json").exists()


def _truncated(path: Path) -> Path:
    return truncate_file(build_image_tar(path, OS_PACKAGES), 0.5)


@pytest.mark.parametrize(
    ("make_image", "message"),
    [
        (_truncated, "unexpected EOF"),
        (build_non_image_tar, "manifest.json not found in tar"),
        (lambda path: path, "no such file or directory"),
    ],
    ids=["truncated-tar", "not-an-image", "missing-file"],
)
def test_unreadable_image_fails_the_scan_without_a_report(
    tmp_path: Path, fixture_files: dict[str, Path], make_image, message: str
) -> None:
    image = make_image(tmp_path / "image.tar")
    completed = run_trivy(image, fixture_files["cache"], tmp_path / "out.json")
    assert completed.returncode == 1
    assert message in completed.stderr
    assert not (tmp_path / "out.json").exists()


# ------------------------------------------------------------------ builders alone


def test_fnv1a_64_matches_the_reference_vectors() -> None:
    assert fnv1a_64(b"") == 0xCBF29CE484222325
    assert fnv1a_64(b"a") == 0xAF63DC4C8601EC8C
    assert fnv1a_64(b"foobar") == 0x85944171F73967E8


def test_meta_pages_carry_their_checksum() -> None:
    data = build_bbolt({"bucket": {"key": "value"}})
    for pgid in (0, 1):
        page = data[pgid * 4096 :]
        assert PAGE_HEADER.unpack_from(page)[:2] == (pgid, 0x04)
        meta = page[PAGE_HEADER.size : PAGE_HEADER.size + META.size]
        (checksum,) = struct.unpack_from("<Q", page, PAGE_HEADER.size + META.size)
        assert checksum == fnv1a_64(meta) != 0
        assert META.unpack(meta)[-2] == len(data) // 4096  # high-water mark = page count


def test_image_config_diff_id_is_the_sha256_of_the_layer(tmp_path: Path) -> None:
    image = build_image_tar(tmp_path / "image.tar", OS_PACKAGES, PYTHON_PACKAGES)
    with tarfile.open(image) as tar:
        (manifest,) = json.load(tar.extractfile("manifest.json"))
        config = json.load(tar.extractfile(manifest["Config"]))
        layer = tar.extractfile(manifest["Layers"][0]).read()
    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(layer).hexdigest()]


def test_image_tar_is_reproducible(tmp_path: Path) -> None:
    first = build_image_tar(tmp_path / "a.tar", OS_PACKAGES, PYTHON_PACKAGES).read_bytes()
    second = build_image_tar(tmp_path / "b.tar", OS_PACKAGES, PYTHON_PACKAGES).read_bytes()
    assert first == second
