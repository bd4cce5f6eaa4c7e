"""Run the gate's scripts as a user would, on fixture trees, and read what they wrote.

    run = run_gate("security-code", project, reports, env={"PIP_AUDIT_OSV_URL": srv.url})
    run.rc, run.output, run.result("bandit")["findings"]

The scripts find the tools on PATH: the locked tools in .venv/bin and uv (see tool_path). `fake_tool` puts a
stand-in first on PATH for failures the real tools cannot be made to produce (a crash, garbage output).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = REPO_ROOT / "scripts"
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def makefile_list(name: str, root: Path = REPO_ROOT) -> tuple[str, ...]:
    """The words of the Makefile's `NAME := ...` line: CODE_SCANS and DOCKER_SCANS are the gates' scans."""
    match = re.search(rf"^{name}\s*:?=(.*)$", (root / "Makefile").read_text(), re.MULTILINE)
    if match is None:
        raise LookupError(f"the Makefile has no {name} line")
    return tuple(match.group(1).split())


def scan_units(root: Path = REPO_ROOT) -> tuple[str, ...]:
    """Every scan there is: the folders scans/NAME that hold a run.sh (as scan_names in common.sh finds them)."""
    return tuple(sorted(run.parent.name for run in (root / "scans").glob("*/run.sh")))


def scan_tool(scan: str, root: Path = REPO_ROOT) -> tuple[str, str]:
    """(name, documentation URI) of the tool a scan runs, from the "# Tool: NAME URI" line of its run.sh."""
    for line in (root / "scans" / scan / "run.sh").read_text().splitlines():
        if line.startswith("# Tool:"):
            name, _, uri = line.removeprefix("# Tool:").strip().partition(" ")
            return name, uri.strip()
    raise LookupError(f"scans/{scan}/run.sh has no '# Tool:' line")


CODE_SCANS = makefile_list("CODE_SCANS")
DOCKER_SCANS = makefile_list("DOCKER_SCANS")
GATE_SCANS = {"security-code": CODE_SCANS, "security-docker": DOCKER_SCANS}
ALL_SCANS = CODE_SCANS + DOCKER_SCANS


def tool_path(*first: Path) -> str:
    """PATH with the given folders first, then the locked tools, then uv's and the system's folders."""
    uv = shutil.which("uv") or str(REPO_ROOT / ".tools" / "uv" / "bin" / "uv")
    parts = [str(p) for p in first] + [str(VENV_BIN), str(Path(uv).parent), os.environ.get("PATH", "")]
    return os.pathsep.join(parts)


@dataclass
class GateRun:
    rc: int
    stdout: str
    stderr: str
    reports: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def result(self, scan: str) -> dict[str, Any]:
        return json.loads((self.reports / f"{scan}.json").read_text())

    def ids(self, scan: str) -> set[str]:
        return {f["id"] for f in self.result(scan)["findings"]}

    def everything_written(self) -> str:
        """Every file the run wrote into its report folder, as one text (for leak checks)."""
        return "\n".join(
            p.read_text(errors="replace") for p in sorted(self.reports.rglob("*")) if p.is_file()
        )


def gate_env(project: Path, reports: Path, env: dict[str, str] | None = None, path: str | None = None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_AUDIT_", "BANDIT_", "TRIVY_", "SECURITY_", "SECRETS_"))}
    base.pop("GITHUB_STEP_SUMMARY", None)
    base.update(
        PROJECT_DIR=str(project),
        SECURITY_REPORT_DIR=str(reports),
        PATH=path or tool_path(),
        SCAN_TIMEOUT="300",
    )
    base.update(env or {})
    return base


def run_gate(
    gate: str,
    project: Path,
    reports: Path,
    env: dict[str, str] | None = None,
    path: str | None = None,
    timeout: float = 300,
    scans: tuple[str, ...] | None = None,
    cwd: Path | None = None,
) -> GateRun:
    """Run scripts/run-gate.sh GATE with the gate's scans (as `make GATE` does), or with the given ones, from cwd."""
    proc = subprocess.run(
        [str(SCRIPTS / "run-gate.sh"), gate, *(scans or GATE_SCANS[gate])],
        env=gate_env(project, reports, env, path),
        capture_output=True, text=True, timeout=timeout, check=False, cwd=cwd,
    )
    return GateRun(proc.returncode, proc.stdout, proc.stderr, reports)


def run_scan(scan: str, project: Path, reports: Path, env: dict[str, str] | None = None,
             path: str | None = None, timeout: float = 300, root: Path = REPO_ROOT) -> GateRun:
    """Run one scan script alone (of the gate in root: this repository, or a copy of it, gate_copy)."""
    proc = subprocess.run(
        [str(root / "scans" / scan / "run.sh")],
        env=gate_env(project, reports, env, path),
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    return GateRun(proc.returncode, proc.stdout, proc.stderr, reports)


def gate_copy(folder: Path, trivy: Path | None = None) -> Path:
    """A copy of the gate's own files (scripts, jq, scans, Makefile) in folder; returns folder.

    trivy: a binary whose sha256 the copy's scans/trivy/trivy.sha256 records instead. The gate runs no trivy but the
    recorded one, so a stand-in trivy runs only in a copy that records it, never in this repository."""
    for part in ("scripts", "jq", "scans", "Makefile"):
        copy = shutil.copytree if (REPO_ROOT / part).is_dir() else shutil.copy2
        copy(REPO_ROOT / part, folder / part)
    if trivy is not None:
        recorded = folder / "scans" / "trivy" / "trivy.sha256"
        recorded.write_text(f"# a stand-in trivy recorded by a test (tests/support/gate.py)\n"
                            f"{hashlib.sha256(trivy.read_bytes()).hexdigest()}\n")
    return folder


def fake_tool(folder: Path, name: str, script: str) -> Path:
    """Write an executable stand-in NAME (a bash script body) into folder; returns folder."""
    folder.mkdir(parents=True, exist_ok=True)
    tool = folder / name
    tool.write_text("#!/usr/bin/env bash\n" + script)
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


def path_without(folder: Path, *missing: str) -> str:
    """A PATH of symlinks to everything the gate uses except the named tools."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = ["bash", "env", "jq", "git", "timeout", "mktemp", "date", "cat", "mv", "rm", "mkdir", "tr", "sed",
              "tail", "head", "cut", "grep", "dirname", "basename", "sort", "flock", "find", "realpath", "uv",
              "python3", "cksum", "touch",
              *(scan_tool(scan)[0] for scan in ALL_SCANS)]
    search = tool_path()
    for name in wanted:
        if name in missing:
            continue
        found = shutil.which(name, path=search)
        if found:
            (folder / name).symlink_to(found)
    return str(folder)
