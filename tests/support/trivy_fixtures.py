"""Fixture images and a fixture vulnerability DB for running the real trivy offline.

build_image_tar() writes an image tarball in the `docker save` layout with
Python's tarfile (no container engine): one layer with a Debian 12 userland
(etc/debian_version, etc/os-release, var/lib/dpkg/status) and Python packages
(site-packages/<Name>-<version>.dist-info/METADATA).

build_trivy_db() writes the cache directory trivy reads with --skip-db-update:
CACHE/db/trivy.db (bbolt, via tests/support/bbolt.py) and CACHE/db/metadata.json.
The buckets are the ones trivy-db's schema 2 defines:

  vulnerability                               id -> {"Title", "Severity", "VendorSeverity": {source: 1..4}}
  data-source                                 platform bucket -> {"ID", "Name", "URL"}
  debian 12 / <source package> / <id>         {"FixedVersion": ...} or {"Status": 2} (affected, no fix)
  pip::GitHub Security Advisory pip / <name> / <id>
                                              {"PatchedVersions": [...], "VulnerableVersions": [...]}

The data source of a platform bucket decides which VendorSeverity entry trivy
reports ("debian" for Debian packages, "ghsa" for pip packages); without one
it falls back to "nvd", then to the deprecated top-level "Severity".

run_trivy() scans an image tarball offline with the flags in OFFLINE_SCAN_ARGS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import subprocess
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .bbolt import write_bbolt

REPO_ROOT = Path(__file__).resolve().parents[2]
TRIVY = REPO_ROOT / ".venv" / "bin" / "trivy"

DB_SCHEMA_VERSION = 2
DEBIAN_RELEASE = "12"
DEBIAN_BUCKET = f"debian {DEBIAN_RELEASE}"
PIP_BUCKET = "pip::GitHub Security Advisory pip"
STATUS_AFFECTED = 2  # trivy-db types.Status: the package is affected and has no fix

# The advisories that prove a DB knows a bucket: the gate's default canaries (TRIVY_CANARIES in
# scans/trivy/run.sh: openssl 1.0.1e-2 on Debian, pycrypto 2.6.1 on PyPI) are vulnerable to them, as in trivy's
# real DB. build_trivy_db adds them to each bucket it writes (canaries=False leaves them out).
CANARY_VULNERABILITIES = {
    "CVE-2014-0160": {"Title": "openssl: information disclosure in the TLS heartbeat extension (Heartbleed)",
                      "VendorSeverity": {"debian": 3}},
    "GHSA-cq27-v7xp-c356": {"Title": "PyCrypto heap buffer overflow in ALGnew", "VendorSeverity": {"ghsa": 4}},
}
CANARY_DEBIAN = {"openssl": {"CVE-2014-0160": {"FixedVersion": "1.0.1g-1"}}}
CANARY_PIP = {"pycrypto": {"GHSA-cq27-v7xp-c356": {"VulnerableVersions": ["<=2.6.1"]}}}

SEVERITIES = {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}

DATA_SOURCES = {
    DEBIAN_BUCKET: {
        "ID": "debian",
        "Name": "Debian Security Tracker",
        "URL": "https://salsa.debian.org/security-tracker-team/security-tracker",
    },
    PIP_BUCKET: {
        "ID": "ghsa",
        "Name": "GitHub Security Advisory pip",
        "URL": "https://github.com/advisories?query=type%3Areviewed+ecosystem%3Apip",
    },
}

# Flags that keep trivy off the network and out of the user's cache.
OFFLINE_SCAN_ARGS = (
    "--skip-db-update",
    "--skip-java-db-update",
    "--offline-scan",
    "--skip-version-check",
    "--disable-telemetry",
    "--cache-backend",
    "memory",
    "--scanners",
    "vuln",
    "--format",
    "json",
)

# Fixed timestamp for tar members and the image config: the same inputs give the same bytes.
EPOCH = 1_700_000_000
SITE_PACKAGES = "usr/local/lib/python3.12/site-packages"

OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""


# --------------------------------------------------------------------------- image


def dpkg_status(os_packages: Iterable[tuple[str, str | None, str]]) -> str:
    """Return a var/lib/dpkg/status text for (name, source or None, version) packages."""
    stanzas = []
    for name, source, version in os_packages:
        lines = [
            f"Package: {name}",
            "Status: install ok installed",
            "Priority: optional",
            "Section: libs",
            "Installed-Size: 100",
            "Maintainer: Fixture Maintainers <fixtures@example.invalid>",
            "Architecture: amd64",
        ]
        if source and source != name:
            lines.append(f"Source: {source}")
        lines += [f"Version: {version}", f"Description: fixture package {name}"]
        stanzas.append("\n".join(lines) + "\n")
    return "\n".join(stanzas)


def python_metadata(name: str, version: str) -> str:
    """Return a minimal core-metadata file (dist-info/METADATA) for a package."""
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: fixture package\n"


class Symlink(str):
    """A file of a layer that is a symbolic link to this target text (a value of _tar_bytes' files)."""


def _tar_bytes(files: Mapping[str, bytes]) -> bytes:
    """Return an uncompressed tar with files (a Symlink value: a symbolic link) and their parent directories,
    reproducibly."""
    directories = set()
    for path in files:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            directories.add("/".join(parts[:depth]))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in sorted(directories):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = EPOCH
            tar.addfile(info)
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            if isinstance(files[path], Symlink):
                info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, files[path], 0o777, EPOCH
                tar.addfile(info)
                continue
            info.size = len(files[path])
            info.mode = 0o644
            info.mtime = EPOCH
            tar.addfile(info, io.BytesIO(files[path]))
    return buffer.getvalue()


def image_layer_files(
    os_packages: Iterable[tuple[str, str | None, str]] = (),
    python_packages: Iterable[tuple[str, str]] = (),
    debian_version: str | None = "12.7",
) -> dict[str, bytes]:
    """Return the files of the fixture layer, path -> content.

    debian_version=None leaves out etc/debian_version: trivy then reports
    "Unsupported os" and skips the OS packages (exit 0, no OS result).
    """
    files = {
        "etc/os-release": OS_RELEASE.encode(),
        "var/lib/dpkg/status": dpkg_status(os_packages).encode(),
    }
    if debian_version is not None:
        files["etc/debian_version"] = f"{debian_version}\n".encode()
    for name, version in python_packages:
        dist_info = f"{SITE_PACKAGES}/{name}-{version}.dist-info"
        files[f"{dist_info}/METADATA"] = python_metadata(name, version).encode()
    return files


def write_docker_archive(
    path: str | os.PathLike[str],
    files: Mapping[str, bytes],
    repo_tag: str = "fixture/app:test",
    *,
    more_layers: Iterable[tuple[str, Mapping[str, bytes]]] = (),
    env: Iterable[str] = (),
    labels: Mapping[str, str] | None = None,
    created_by: str = "tests/support/trivy_fixtures.py",
) -> Path:
    """Write an image holding files (its first layer) as a `docker save` tarball; return path.

    more_layers: (created_by, files) of further layers, in order; env: extra "NAME=VALUE" entries of the
    image's environment; labels: its labels; created_by: the first layer's history entry (what `docker
    history` shows, e.g. "RUN |1 TOKEN=... /bin/sh -c ..." for a build argument).
    """
    layers = [(created_by, _tar_bytes(files))] + [(step, _tar_bytes(more)) for step, more in more_layers]
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for _, layer in layers]
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "created": dt.datetime.fromtimestamp(EPOCH, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", *env],
            "Cmd": ["python3"],
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": step} for step, _ in layers],
    }
    if labels:
        config["config"]["Labels"] = dict(labels)
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_names = [diff_id.removeprefix("sha256:") + "/layer.tar" for diff_id in diff_ids]
    manifest = [{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]
    name, _, tag = repo_tag.rpartition(":")
    repositories = {name: {tag: diff_ids[-1].removeprefix("sha256:")}}
    members = {
        config_name: config_bytes,
        "manifest.json": json.dumps(manifest).encode(),
        "repositories": json.dumps(repositories).encode(),
    }
    members.update({layer_name: layer for layer_name, (_, layer) in zip(layer_names, layers)})
    target = Path(path)
    target.write_bytes(_tar_bytes(members))
    return target


def build_image_tar(
    path: str | os.PathLike[str],
    os_packages: Iterable[tuple[str, str | None, str]] = (),
    python_packages: Iterable[tuple[str, str]] = (),
    repo_tag: str = "fixture/app:test",
    debian_version: str | None = "12.7",
) -> Path:
    """Write a Debian 12 fixture image with the given packages; return path.

    os_packages: (binary package, source package or None, version); Debian
    advisories are looked up by the source package.
    python_packages: (distribution name, version).
    """
    files = image_layer_files(os_packages, python_packages, debian_version)
    return write_docker_archive(path, files, repo_tag)


def build_non_image_tar(path: str | os.PathLike[str]) -> Path:
    """Write a valid tar that is not an image (no manifest.json); return path."""
    target = Path(path)
    target.write_bytes(_tar_bytes({"README.txt": b"not an image\n"}))
    return target


def truncate_file(path: str | os.PathLike[str], keep: float = 0.5) -> Path:
    """Cut a file down to the first `keep` fraction of its bytes; return path.

    Cut into the content: trivy (Go's archive/tar) accepts an image tar that only
    lost its trailing zero padding (a 90% cut of a small fixture image scans fine).
    """
    target = Path(path)
    data = target.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


# --------------------------------------------------------------------------- DB


def pip_key(name: str) -> str:
    """Package name as trivy looks it up in the pip bucket: lower case, "_" -> "-".

    Dots are kept: trivy finds zope.interface under "zope.interface", not
    "zope-interface" (checked against trivy 0.76).
    """
    return name.lower().replace("_", "-")


def vulnerability(
    title: str,
    severity: str | None = None,
    vendor_severity: Mapping[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Return a `vulnerability` bucket record; severities by name ("HIGH")."""
    record: dict[str, Any] = {"Title": title}
    if severity is not None:
        record["Severity"] = severity
    if vendor_severity:
        record["VendorSeverity"] = {src: SEVERITIES[name] for src, name in vendor_severity.items()}
    record.update(extra)
    return record


def debian_fixed(fixed_version: str) -> dict[str, Any]:
    """A Debian advisory fixed in fixed_version."""
    return {"FixedVersion": fixed_version}


def debian_unfixed() -> dict[str, Any]:
    """A Debian advisory with no fix yet (trivy reports Status "affected")."""
    return {"Status": STATUS_AFFECTED}


def pip_advisory(vulnerable: Iterable[str], patched: Iterable[str] = ()) -> dict[str, Any]:
    """A GHSA pip advisory: vulnerable ranges (e.g. ">=4.0, <4.2.1") and patched versions."""
    record: dict[str, Any] = {"VulnerableVersions": list(vulnerable)}
    patched = list(patched)
    if patched:
        record["PatchedVersions"] = patched
    return record


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def db_tree(
    vulnerabilities: Mapping[str, Mapping[str, Any]],
    debian: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    pip: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    data_sources: Mapping[str, Mapping[str, str]] | None = None,
    canaries: bool = True,
    debian_releases: Iterable[str] = (DEBIAN_RELEASE,),
) -> dict[str, Any]:
    """Return the bucket tree of a trivy DB (see the module docstring); canaries: add the canary advisories
    (CANARY_*) to each platform bucket written; debian_releases: the "debian N" buckets that get the debian
    advisories."""
    sources = dict(DATA_SOURCES if data_sources is None else data_sources)
    records = dict(vulnerabilities)
    if canaries:
        records.update({vuln_id: record for vuln_id, record in CANARY_VULNERABILITIES.items() if vuln_id not in records})
    tree: dict[str, Any] = {"vulnerability": {vuln_id: _json(record) for vuln_id, record in records.items()}}
    if debian is not None:
        for release in debian_releases:
            tree[f"debian {release}"] = _bucket(debian, CANARY_DEBIAN if canaries else {}, str)
            if data_sources is None:
                sources.setdefault(f"debian {release}", DATA_SOURCES[DEBIAN_BUCKET])
    if pip is not None:
        tree[PIP_BUCKET] = _bucket(pip, CANARY_PIP if canaries else {}, pip_key)
    tree["data-source"] = {bucket: _json(source) for bucket, source in sources.items()}
    return tree


def _bucket(advisories: Mapping[str, Mapping[str, Mapping[str, Any]]],
            canary: Mapping[str, Mapping[str, Mapping[str, Any]]], key: Any) -> dict[str, Any]:
    """A platform bucket: package (as key() spells it) -> id -> advisory, the canary's advisories merged in."""
    merged: dict[str, dict[str, Any]] = {}
    for package, found in [*advisories.items(), *canary.items()]:
        merged.setdefault(key(package), {}).update(found)
    return {package: {vuln_id: _json(adv) for vuln_id, adv in found.items()} for package, found in merged.items()}


def write_db_metadata(
    cache_dir: str | os.PathLike[str],
    version: int = DB_SCHEMA_VERSION,
    now: dt.datetime | None = None,
) -> Path:
    """Write CACHE/db/metadata.json (NextUpdate a day ahead); return its path."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

    def stamp(moment: dt.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    metadata = {
        "Version": version,
        "NextUpdate": stamp(now + dt.timedelta(days=1)),
        "UpdatedAt": stamp(now - dt.timedelta(hours=1)),
        "DownloadedAt": stamp(now),
    }
    path = Path(cache_dir) / "db" / "metadata.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metadata) + "\n")
    return path


def build_trivy_db(
    cache_dir: str | os.PathLike[str],
    vulnerabilities: Mapping[str, Mapping[str, Any]],
    debian: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    pip: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    schema_version: int = DB_SCHEMA_VERSION,
    canaries: bool = True,
    debian_releases: Iterable[str] = (DEBIAN_RELEASE,),
) -> Path:
    """Write CACHE/db/trivy.db and CACHE/db/metadata.json; return CACHE/db/trivy.db.

    vulnerabilities: id -> vulnerability(...) record.
    debian: source package -> id -> debian_fixed(...) / debian_unfixed().
    pip: package name -> id -> pip_advisory(...).
    schema_version: the metadata Version (2 is what trivy 0.76 accepts).
    canaries: add the canary advisories (CANARY_*) to the debian and pip buckets written; a bucket left out
    (debian or pip None) gets none, an empty one ({}) holds only the canaries.
    debian_releases: the Debian releases whose buckets ("debian 12") hold the debian advisories.
    """
    db_dir = Path(cache_dir) / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    path = write_bbolt(db_dir / "trivy.db", db_tree(vulnerabilities, debian, pip, canaries=canaries,
                                                       debian_releases=debian_releases))
    write_db_metadata(cache_dir, schema_version)
    return path


def corrupt_trivy_db(cache_dir: str | os.PathLike[str]) -> Path:
    """Overwrite CACHE/db/trivy.db with bytes that are not a bbolt file; return its path."""
    path = Path(cache_dir) / "db" / "trivy.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a bbolt database\n" * 512)
    return path


# --------------------------------------------------------------------------- scan


def run_trivy(
    image_tar: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *extra_args: str,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the real trivy offline on image_tar, JSON report to output."""
    command = [
        str(TRIVY),
        "image",
        "--input",
        str(image_tar),
        "--cache-dir",
        str(cache_dir),
        *OFFLINE_SCAN_ARGS,
        "--output",
        str(output),
        *extra_args,
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith("TRIVY_")}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def findings(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Map "<target class>:<VulnerabilityID>:<PkgName>" to its vulnerability in a trivy report."""
    found = {}
    for result in report.get("Results") or []:
        for vuln in result.get("Vulnerabilities") or []:
            key = f"{result['Class']}:{vuln['VulnerabilityID']}:{vuln['PkgName']}"
            found[key] = vuln
    return found


