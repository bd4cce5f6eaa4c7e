"""Fault injection for the reliability tests: broken stand-in scanners, stale reports, runs to interrupt.

    fake = fake_scanner(tmp_path / "bin", "bandit", HANG)     # a bandit that never finishes
    plant_stale_pass(reports, ["bandit"], gate="security-code")
    run = run_scan("bandit", project, reports, path=tool_path(fake))
    assert stale_files(reports) == [] and not says_pass(reports, ["bandit"], "security-code")
    assert pids_alive(recorded_pids(fake)) == []

A stand-in scanner answers `--version` like a tool, and on any other call does what its behaviour says, writing
"its report" where the real tool would: the file after --output (pip-audit, trivy), the file after --baseline
(detect-secrets with a baseline, updated in place) or stdout (bandit, detect-secrets without a baseline). It
records its pid, and the pid of any child it starts, one a line in FOLDER/NAME.pids.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .gate import ALL_SCANS, REPO_ROOT, SCRIPTS, fake_tool, gate_env
from .projects import git_commit_all, write_tree, write_uv_project

# Behaviours of a stand-in scanner (the body of a bash script; $out is where its report goes).
KILLED = "killed"  # killed by SIGKILL (the OOM killer's signal) halfway through
SEGFAULT = "segfault"  # dies of SIGSEGV
HANG = "hang"  # never finishes (until SCAN_TIMEOUT)
WRONG_SHAPE = "wrong-shape"  # valid JSON that is not the tool's report
EMPTY = "empty"  # a report of zero bytes
BLANK = "blank"  # a report of white space only
TRUNCATED = "truncated"  # the first half of a valid report
NOTHING = "nothing"  # exits 0 and writes no report at all
SLOW_PASS = "slow-pass"  # sleeps SLOW_SECONDS, then a valid report that passes
PASS = "pass"  # a valid report that passes, at once
FILL_DISK = "fill-disk"  # fills the file system of SECURITY_REPORT_DIR, then a valid report that passes

SLOW_SECONDS = 30


def fault_reports_path(scan: str) -> Path:
    """Where a scan's unit keeps the fault tests' stand-in reports."""
    return REPO_ROOT / "scans" / scan / "tests" / "fault-reports.json"


def _fault_reports(scan: str) -> dict:
    path = fault_reports_path(scan)
    return json.loads(path.read_text()) if path.is_file() else {}


# For each scan of the gates: a report of its tool that passes (on clean_project: one pinned dependency), and
# valid JSON of the wrong shape, which its normalize program must refuse (a scan without the file has none here,
# and tests/test_faults.py says so).
VALID_REPORTS = {scan: _fault_reports(scan)["valid"] for scan in ALL_SCANS if _fault_reports(scan)}
WRONG_SHAPES = {scan: _fault_reports(scan)["wrong_shape"] for scan in ALL_SCANS if _fault_reports(scan)}


def _report_text(tool: str, behaviour: str) -> str | None:
    if behaviour in (PASS, SLOW_PASS, FILL_DISK):
        return json.dumps(VALID_REPORTS[tool])
    if behaviour == WRONG_SHAPE:
        return json.dumps(WRONG_SHAPES[tool])
    if behaviour == TRUNCATED:
        text = json.dumps(VALID_REPORTS[tool])
        return text[: len(text) // 2]
    if behaviour == BLANK:
        return "\n  \n"
    if behaviour == EMPTY:
        return ""
    return None


def fake_scanner(folder: Path, tool: str, behaviour: str) -> Path:
    """Write a stand-in NAME for `tool` with the given behaviour into folder; returns folder (for tool_path)."""
    pids = folder / f"{tool}.pids"
    report = _report_text(tool, behaviour)
    lines = [
        f"echo $$ >>{shlex.quote(str(pids))}",
        'if [[ "${1:-}" == --version ]]; then echo "fake ' + tool + ' 0.0"; exit 0; fi',
        # the files after "--": a bandit that passes reports metrics for each (the gate checks it scanned them)
        'files=(); after=""; for a in "$@"; do if [[ -n $after ]]; then files+=("$a"); fi; [[ $a != -- ]] || after=1; done',
        'args=("$@"); out=/dev/stdout',
        'while (($#)); do case "$1" in --output | --baseline) out=$2; shift ;; esac; shift; done',
    ]
    if behaviour == KILLED:
        lines.append("kill -KILL $$")
    elif behaviour == SEGFAULT:
        lines.append("kill -SEGV $$")
    elif behaviour == HANG:
        lines.append(f"sleep 600 & echo $! >>{shlex.quote(str(pids))}; wait")
    elif behaviour == FILL_DISK:
        lines.append('cat /dev/zero >"$SECURITY_REPORT_DIR/.filler-$$" 2>/dev/null || true')
    elif behaviour == SLOW_PASS:
        lines.append(f"sleep {SLOW_SECONDS} & echo $! >>{shlex.quote(str(pids))}; wait")
    if tool == "kingfisher" and behaviour in (PASS, SLOW_PASS, FILL_DISK):
        # No fixed report passes kingfisher's canary (tokens made at run time): the real kingfisher answers.
        lines.append(f'exec {shlex.quote(str(REPO_ROOT / ".venv" / "bin" / "kingfisher"))} "${{args[@]}}"')
    elif report is not None and tool == "bandit" and behaviour in (PASS, SLOW_PASS, FILL_DISK):
        lines.append('m=""; for f in "${files[@]}"; do m+=",\\"./$f\\":{\\"loc\\":1}"; done')
        lines.append("printf '{\"errors\": [], \"generated_at\": \"2026-01-01T00:00:00Z\", "
                     "\"metrics\": {\"_totals\": {\"loc\": 1}%s}, \"results\": []}' \"$m\" >\"$out\"")
    elif report is not None:
        lines.append(f"printf '%s' {shlex.quote(report)} >\"$out\"")
    lines.append("exit 0")
    return fake_tool(folder, tool, "\n".join(lines) + "\n")


def accepting_stand_ins(folder: Path) -> dict[str, str]:
    """The environment of a run whose detect-secrets is a stand-in: a suppression file that accepts the gap the
    gate records for a detect-secrets that is not a Python entry point (it cannot tell which files one read)."""
    path = folder / "accept-stand-ins.json"
    path.write_text(json.dumps({"suppressions": [{"scan": "detect-secrets", "id": "unverified:detect-secrets",
                                                  "reason": "a stand-in for the tool", "expires": "2999-01-01"}]}))
    return {"SECURITY_SUPPRESSIONS": str(path)}


def recorded_pids(folder: Path, tool: str = "*") -> list[int]:
    """Every pid the stand-ins in folder recorded (those of tool alone, when named)."""
    return [int(line) for f in folder.glob(f"{tool}.pids") for line in f.read_text().split()]


def pid_alive(pid: int) -> bool:
    """Whether pid is a live process (a zombie is not: it has finished and only waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pids_alive(pids: Sequence[int]) -> list[int]:
    return [p for p in pids if pid_alive(p)]


def processes_of_run(reports: Path) -> list[int]:
    """Live processes (other than zombies) whose environment has SECURITY_REPORT_DIR=reports: the run's."""
    needle = b"\0SECURITY_REPORT_DIR=" + os.fsencode(str(reports)) + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = b"\0" + (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def wait_until(condition, timeout: float = 20, interval: float = 0.05) -> bool:
    """Poll condition() until it is true (True) or timeout seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


# --------------------------------------------------------------------------- a project

SECRETS_BASELINE = {"version": "1.5.0", "plugins_used": [{"name": "AWSKeyDetector"}], "filters_used": [],
            "results": {}, "generated_at": "2026-01-01T00:00:00Z"}


def clean_project(root: Path, *, baseline: bool = False, commit: bool = True) -> Path:
    """A small clean project every code scan can run on: two Python packages, one pinned dependency."""
    write_tree(root, {
        ".gitignore": "reports/\n",
        "apps/__init__.py": "",
        "apps/core/views.py": "def health(request):\n    return {'status': 'ok'}\n",
        "config/__init__.py": "",
        "config/settings.py": "DEBUG = False\n",
    })
    write_uv_project(root, [("django", "5.2.19")])
    if baseline:
        (root / ".secrets.baseline").write_text(json.dumps(SECRETS_BASELINE))
    if commit:
        git_commit_all(root)
    return root



# --------------------------------------------------------------------------- stale reports

STALE_MARKER = "stale-result-of-an-earlier-run"


def plant_stale_pass(reports: Path, scans: Sequence[str], gate: str | None = None, *,
                     pinned: Path | None = None) -> None:
    """Results, raw outputs and summaries of an earlier run that passed, each carrying STALE_MARKER.

    pinned: a folder on the same file system where each file gets a second hard link, so that removing the
    files from reports frees no space (for the full-disk tests).
    """
    reports.mkdir(parents=True, exist_ok=True)
    for scan in scans:
        result = {"schema_version": 1, "scan": scan, "status": "pass", "error": None, "target": STALE_MARKER,
                  "policy": {"fail_on": ["CRITICAL"], "min_confidence": None, "count_unfixed": True},
                  "findings": [], "below_threshold": [], "suppressed": [], "expired_suppressions": [],
                  "counts": {"findings": 0, "below_threshold": 0, "suppressed": 0},
                  "finished_at": "1999-12-31T23:59:59Z"}
        (reports / f"{scan}.json").write_text(json.dumps(result))
        (reports / f"{scan}.raw.json").write_text(json.dumps({"note": STALE_MARKER}))
    if gate:
        verdict = {"schema_version": 1, "gate": gate, "verdict": "pass", "exit_code": 0, "error": None, "note": STALE_MARKER,
                   "scans": [{"scan": scan, "status": "pass", "error": None, "counts": {"findings": 0},
                              "result": f"{scan}.json"} for scan in scans],
                   "counts": {"findings": 0}, "reports": {"summary": f"{gate}.md", "sarif": f"{gate}.sarif"},
                   "finished_at": "1999-12-31T23:59:59Z"}
        (reports / f"{gate}.verdict.json").write_text(json.dumps(verdict))
        (reports / f"{gate}.md").write_text(f"## Security gate `{gate}`: ✅ pass\n\n{STALE_MARKER}\n")
        (reports / f"{gate}.sarif").write_text(json.dumps({"version": "2.1.0", "runs": [], "note": STALE_MARKER}))
    if pinned is not None:
        pinned.mkdir(parents=True, exist_ok=True)
        for path in reports.iterdir():
            if path.is_file():
                os.link(path, pinned / path.name)


def stale_files(reports: Path) -> list[str]:
    """The files in reports that still hold STALE_MARKER."""
    if not reports.is_dir():
        return []
    return sorted(p.name for p in reports.iterdir()
                  if p.is_file() and STALE_MARKER in p.read_text(errors="replace"))


def says_pass(reports: Path, scans: Sequence[str], gate: str | None = None) -> list[str]:
    """The files in reports that say "pass": a scan result with status pass, a gate verdict or summary that passed."""
    saying = []
    for scan in scans:
        path = reports / f"{scan}.json"
        if path.is_file():
            try:
                status = json.loads(path.read_text()).get("status")
            except ValueError:
                continue
            if status == "pass":
                saying.append(path.name)
    if gate:
        verdict = reports / f"{gate}.verdict.json"
        if verdict.is_file():
            try:
                if json.loads(verdict.read_text()).get("verdict") == "pass":
                    saying.append(verdict.name)
            except ValueError:
                pass
        summary = reports / f"{gate}.md"
        if summary.is_file() and "✅ pass" in (summary.read_text().splitlines() or [""])[0]:
            saying.append(summary.name)
    return saying


# --------------------------------------------------------------------------- runs in the background


def _default_signals() -> list[str]:
    """A prefix that starts a command with SIGINT and SIGTERM at their defaults, as in a terminal, even when the
    tests themselves run with SIGINT ignored (a background job of a non-interactive shell): bash cannot trap a
    signal that was ignored when it started."""
    probe = subprocess.run(["env", "--default-signal=INT,TERM", "true"], capture_output=True, check=False)
    return ["env", "--default-signal=INT,TERM"] if probe.returncode == 0 else []


def start_command(command: Sequence[str], project: Path, reports: Path, env: dict[str, str] | None = None,
                  path: str | None = None, cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start a command with the gate's environment in a session of its own (its process group can be signalled
    as a terminal's Ctrl-C does)."""
    return subprocess.Popen(
        [*_default_signals(), *command], env=gate_env(project, reports, env, path), cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def start_gate(gate: str, scans: Sequence[str], project: Path, reports: Path,
               env: dict[str, str] | None = None, path: str | None = None) -> subprocess.Popen[str]:
    """Start scripts/run-gate.sh GATE SCANS... (see start_command)."""
    return start_command([str(SCRIPTS / "run-gate.sh"), gate, *scans], project, reports, env, path)


def waiting_for_lock(reports: Path) -> bool:
    """Whether a process of a run into reports is blocked in `flock` (run-gate.sh waiting for the lock)."""
    for pid in processes_of_run(reports):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].endswith(b"flock"):
                return True
        except OSError:
            continue
    return False


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    """Wait for proc; (exit status, stdout + stderr). Kills its process group if it does not end in time."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"still running after {timeout}s:\n{out}{err}") from None
    return proc.returncode, out + err


# --------------------------------------------------------------------------- a full disk


@contextlib.contextmanager
def small_tmpfs(mountpoint: Path, size_kib: int) -> Iterator[Path]:
    """A tmpfs of size_kib at mountpoint for the with block. Raises PermissionError where mounting is not allowed."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PermissionError(f"cannot mount a tmpfs: {proc.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, check=False)


def fill(folder: Path) -> None:
    """Write into folder until its file system has no byte left."""
    for name, chunk in (("filler", b"\0" * 4096), ("filler-tail", b"\0")):
        with open(folder / name, "wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(chunk)
