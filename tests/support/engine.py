"""A real container engine for the end-to-end image test: podman with runc, and a base image made from Debian's packages.

No registry is reachable here, so the Dockerfile's digest-pinned base (python:3.12.14-slim-trixie@sha256:...)
cannot be pulled. A stand-in is built from Debian's packages with mmdebstrap (minbase of the base's Debian
release, BASE_SUITE: python3, ca-certificates, pip in /usr/local as the official image has it,
/usr/local/bin/python), imported with `podman import`, and substituted for the exact FROM reference with
`--build-context REF=docker-image://...`: the Dockerfile is built unchanged.

The packages come from the machine's own apt sources (/etc/apt), whatever release the machine runs: each Debian
source of the machine's release (its VERSION_CODENAME, with -updates and -security) is rewritten to BASE_SUITE,
same archive, components and keyring (base_sources()). No archive is named here.

Engine settings (containers.conf, given to podman with CONTAINERS_CONF): runc, because crun cannot start
containers on these machines, with explicit ulimits (podman's defaults ask for more than the sandbox allows).

The base tarball is cached in .cache/e2e-base/, keyed by everything it is made from (the package list, the
customizing commands, the apt sources it is downloaded from, mmdebstrap's version) and the ISO week, so a
base at most a week old is reused and Debian's updates come in weekly.

engine_problem() says why no engine can be set up (the test then skips with that reason, or fails when
E2E_REQUIRED=1, as .ci/run sets it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
BASE_CACHE = REPO_ROOT / ".cache" / "e2e-base"
BASE_IMAGE = "localhost/security-gate-e2e-base"
TOOLS = ("podman", "runc", "mmdebstrap")

CONTAINERS_CONF = """\
# Written by tests/support/engine.py for the end-to-end image test.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
"""

# The Debian release of the Dockerfile's base (python:...-slim-trixie) and its number, the one trivy's DB names its
# bucket by ("debian 13"): tests/test_dockerfile.py checks that the Dockerfile's FROM lines name this suite.
BASE_SUITE = "trixie"
BASE_RELEASE = "13"
BASE_PACKAGES = ("python3", "python3-pip-whl", "ca-certificates")
# Run in the base's chroot: pip from Debian's wheel into /usr/local (no network needed), no EXTERNALLY-MANAGED
# marker (the official image has none: its pip installs system-wide), and `python` on PATH.
BASE_CUSTOMIZE = (
    "set -e; rm -f /usr/lib/python3*/EXTERNALLY-MANAGED; "
    "whl=$(ls /usr/share/python-wheels/pip-*.whl); "
    "python3 \"$whl/pip\" install --no-index --no-cache-dir --disable-pip-version-check --no-compile \"$whl\"; "
    "ln -sf /usr/bin/python3 /usr/local/bin/python"
)
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))
OS_RELEASE = Path("/etc/os-release")


def engine_problem() -> str | None:
    """Why podman cannot be set up here, or None when it can."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (Debian: apt-get install podman runc mmdebstrap; .ci/run does it)"
    if os.geteuid() != 0:
        return "the end-to-end image test runs podman as root (rootless podman needs more setup than a test should do)"
    if not apt_sources():
        return "no apt sources in /etc/apt to build the Debian base image from"
    if not base_sources():
        return (f"no Debian source of this machine's release ({host_codename() or 'unknown'}) in /etc/apt to build "
                f"the Debian {BASE_SUITE} base image from")
    return None


def apt_sources() -> list[Path]:
    """The machine's apt sources files: the base image is downloaded from where this machine's apt downloads."""
    found = []
    for source in APT_SOURCES:
        if source.is_file():
            found.append(source)
        elif source.is_dir():
            found += sorted(p for p in source.iterdir() if p.suffix in (".list", ".sources") and p.is_file())
    return [p for p in found if re.search(r"^\s*(deb|Types:)", p.read_text(), re.M)]


def host_codename() -> str:
    """The machine's release codename (VERSION_CODENAME in /etc/os-release), or "" when it has none."""
    if not OS_RELEASE.is_file():
        return ""
    match = re.search(r"^VERSION_CODENAME=\"?([a-z]+)\"?$", OS_RELEASE.read_text(), re.M)
    return match.group(1) if match else ""


def _source_entries(text: str) -> list[dict[str, list[str]]]:
    """The enabled deb entries of a sources file: {"uris", "suites", "components", "signed_by"} lists each.

    Reads both formats: deb822 stanzas (Types/URIs/Suites/Components/Signed-By) and one-line entries
    (`deb [signed-by=...] URI SUITE COMPONENT...`)."""
    entries = []
    if re.search(r"^\s*Types:", text, re.M):
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                match = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                if match and not line.lstrip().startswith("#"):
                    fields[match.group(1).lower()] = match.group(2).strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
                continue
            entries.append({"uris": fields.get("uris", "").split(), "suites": fields.get("suites", "").split(),
                            "components": fields.get("components", "").split(),
                            "signed_by": fields.get("signed-by", "").split()})
        return entries
    for line in text.splitlines():
        match = re.match(r"^\s*deb\s+(?:\[([^]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not match:
            continue
        options = dict(o.split("=", 1) for o in (match.group(1) or "").split() if "=" in o)
        entries.append({"uris": [match.group(2)], "suites": [match.group(3)], "components": match.group(4).split(),
                        "signed_by": options.get("signed-by", "").split()})
    return entries


def base_sources() -> str:
    """A deb822 sources text for BASE_SUITE: the machine's Debian sources of its own release, moved to BASE_SUITE.

    A suite is the machine's codename, or it with a suffix (-updates, -security): it becomes BASE_SUITE with the
    same suffix; other sources (another vendor's, another release's) are left out. Empty when none is found."""
    codename = host_codename()
    stanzas = []
    for path in apt_sources():
        for entry in _source_entries(path.read_text()):
            suites = [BASE_SUITE + s[len(codename):] for s in entry["suites"]
                      if codename and (s == codename or s.startswith(codename + "-"))]
            if not (suites and entry["uris"] and entry["components"]):
                continue
            lines = ["Types: deb", f"URIs: {' '.join(entry['uris'])}", f"Suites: {' '.join(suites)}",
                     f"Components: {' '.join(entry['components'])}"]
            if entry["signed_by"]:
                lines.append(f"Signed-By: {' '.join(entry['signed_by'])}")
            stanzas.append("\n".join(lines) + "\n")
    return "\n".join(stanzas)


def engine_env(work: Path) -> dict[str, str]:
    """The environment podman runs with: the containers.conf above."""
    conf = work / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def podman(env: dict[str, str], *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return done


def base_key() -> str:
    """What the base is made from, hashed: a change to any of it (or a new week) makes a new base."""
    mmdebstrap = subprocess.run(["mmdebstrap", "--version"], capture_output=True, text=True, check=True).stdout
    year, week, _ = dt.date.today().isocalendar()
    parts = [BASE_SUITE, " ".join(BASE_PACKAGES), BASE_CUSTOMIZE, mmdebstrap.strip(), f"{year}-W{week:02d}"]
    parts.append(base_sources())
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def build_base_tar(target: Path) -> None:
    """Make the base image's root file system as a tarball at target (mmdebstrap, a few minutes)."""
    partial = target.with_suffix(".partial")
    sources = target.with_suffix(".sources")
    sources.write_text(base_sources())
    command = [
        "mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(BASE_PACKAGES)}", "--format=tar",
        f"--customize-hook=chroot \"$1\" sh -c '{BASE_CUSTOMIZE}'",
        BASE_SUITE, str(partial), str(sources),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    finally:
        sources.unlink(missing_ok=True)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise AssertionError(f"mmdebstrap exited {done.returncode}: {done.stderr[-3000:]}")
    partial.rename(target)


def base_image(env: dict[str, str]) -> str:
    """The base image's reference in podman's store: imported from the cached tarball, built when missing."""
    key = base_key()
    reference = f"{BASE_IMAGE}:{key}"
    if podman(env, "image", "exists", reference, check=False).returncode == 0:
        return reference
    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    tarball = BASE_CACHE / f"{BASE_SUITE}-{key}.tar"
    if not tarball.exists():
        for old in BASE_CACHE.glob("*-*.tar"):
            old.unlink()
        build_base_tar(tarball)
    podman(env, "import", str(tarball), reference, timeout=300)
    return reference


def from_references(dockerfile: Path = DOCKERFILE) -> set[str]:
    """The exact image references the Dockerfile's FROM lines name (what --build-context must replace)."""
    found = set()
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"^FROM\s+(?:--\S+\s+)*(\S+)", line, re.I)
        if match:
            found.add(match.group(1))
    return found


def build_ca_flags(work: Path, bundle: Path = Path("/etc/ssl/certs/ca-certificates.crt")) -> list[str]:
    """Build flags that give pip and uv inside the build this machine's CA bundle, read-only, for RUN steps only.

    The bundle is mounted over the image's own (a file the base has, so no mount point is left in a layer), and
    pip's and uv's user configuration (cert = the bundle; system-certs) over /root, which every Debian image has.
    """
    home = work / "build-home"
    (home / ".config" / "pip").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "uv").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "pip" / "pip.conf").write_text(f"[global]\ncert = {bundle}\n")
    (home / ".config" / "uv" / "uv.toml").write_text("system-certs = true\n")
    return [f"--volume={bundle}:{bundle}:ro", f"--volume={home}:/root:ro"]
