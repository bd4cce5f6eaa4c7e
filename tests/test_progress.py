"""Progress on long runs: each scan's block as soon as that scan ends, whole, in the order the scans end, and the
gate's verdict line last; while scans run, a plain progress line every SECURITY_PROGRESS_SECONDS when stdout is not
a terminal (none for a run that ends sooner), and one status line rewritten in place on a terminal, erased before
anything else is printed and when the run is interrupted.

The slow scan is the real bandit behind a stand-in that first sleeps SLOW seconds; detect-secrets is the real one,
fast on the small project. The terminal is a pseudo-terminal (pty); what it shows in the end is rendered from the
bytes written to it (carriage return, erase-line, line feed). Since blocks print while other scans still run, a
gate that stops before its verdict must stop those scans first: one left running would write a pass afterwards.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.faults import clean_project, processes_of_run, says_pass, wait_until
from support.gate import REPO_ROOT, SCRIPTS, fake_tool, gate_env, run_gate, tool_path

GATE = "security-code"
SCANS = ("bandit", "detect-secrets")  # bandit is made slow, so it ends last
SLOW = 3  # seconds the slow bandit sleeps before it scans
ERASE = "\r\x1b[K"
HEARTBEAT = re.compile(rf"^{GATE}: still running after \d+s: ", re.M)  # a plain progress line
STATUS = re.compile(rf"{GATE} \d+s: ")  # the status line on a terminal


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return clean_project(tmp_path_factory.mktemp("progress") / "project")


@pytest.fixture(scope="module")
def slow_bandit(tmp_path_factory) -> str:
    """PATH with a bandit that sleeps SLOW seconds, and longer while a detect-secrets of its run has not finished
    (so it ends last however loaded the machine is), then runs the real one."""
    real = subprocess.run(["bash", "-c", "command -v bandit"], env={"PATH": tool_path()}, capture_output=True,
                          text=True, check=True).stdout.strip()
    folder = fake_tool(tmp_path_factory.mktemp("slow"), "bandit", f"""
if [[ "${{1:-}}" != --version ]]; then
  sleep {SLOW}
  for _ in $(seq 300); do
    grep -qs 'did not complete' "$SECURITY_REPORT_DIR/detect-secrets.json" || break
    sleep 0.2
  done
fi
exec {real} "$@"
""")
    return tool_path(folder)


def paragraphs(text: str) -> list[list[str]]:
    """text's paragraphs (runs of lines between blank lines), each a list of lines."""
    return [p.splitlines() for p in re.split(r"\n\s*\n", text.strip("\n")) if p.strip()]


def block_of(paragraph: list[str]) -> str | None:
    """The scan whose block the paragraph is, when all its lines are that scan's ("[scan] ...", "scan: ...",
    indented detail); None for the gate's own lines."""
    for scan in SCANS:
        if paragraph[0].startswith((f"[{scan}] ", f"{scan}: ")) and all(
                line.startswith((f"[{scan}] ", f"{scan}: ", "  ")) for line in paragraph):
            return scan
    return None


def test_in_a_pipe_each_block_comes_whole_as_its_scan_ends_with_plain_progress_lines_between(
        project, reports, slow_bandit, tmp_path):
    run = run_gate(GATE, project, reports, scans=SCANS, path=slow_bandit,
                   env={"SECURITY_PROGRESS_SECONDS": "1", "SECURITY_CACHE_DIR": str(tmp_path / "cache")})

    assert run.rc == 0, run.output
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", run.stdout), repr(run.stdout)  # no control character
    found = paragraphs(run.stdout)
    blocks = [block_of(p) for p in found]
    assert [b for b in blocks if b] == ["detect-secrets", "bandit"], run.stdout  # the order they ended in
    assert "detect-secrets: PASS" in "\n".join(found[blocks.index("detect-secrets")])
    assert "bandit: PASS" in "\n".join(found[blocks.index("bandit")])
    between = [line for p in found[blocks.index("detect-secrets") + 1:blocks.index("bandit")] for line in p]
    assert between and all(HEARTBEAT.match(line) for line in between), run.stdout
    assert any("bandit (" in line for line in between) and not any("detect-secrets" in line for line in between)
    assert found[-1] == [f"{GATE}: PASS (results in {reports})"], run.stdout  # the verdict line last
    assert [line for p in found for line in p if line.startswith(f"{GATE}: ")][-1].startswith(f"{GATE}: PASS")


def test_a_run_that_ends_within_the_interval_prints_no_progress(project, reports, tmp_path):
    run = run_gate(GATE, project, reports, scans=("bandit",), env={"SECURITY_CACHE_DIR": str(tmp_path / "cache")})

    assert run.rc == 0, run.output
    assert not HEARTBEAT.search(run.output), run.output
    assert [block_of(p) for p in paragraphs(run.stdout)] == [None, "bandit", None], run.stdout


def test_progress_0_prints_none_and_a_setting_that_is_no_number_stops_the_gate(project, reports, slow_bandit,
                                                                                tmp_path):
    env = {"SECURITY_PROGRESS_SECONDS": "0", "SECURITY_CACHE_DIR": str(tmp_path / "cache")}
    run = run_gate(GATE, project, reports, scans=("bandit",), path=slow_bandit, env=env)
    assert run.rc == 0 and not HEARTBEAT.search(run.output), run.output

    run = run_gate(GATE, project, reports, scans=("bandit",), env=dict(env, SECURITY_PROGRESS_SECONDS="soon"))
    assert run.rc == 2, run.output
    assert "SECURITY_PROGRESS_SECONDS must be a whole number of seconds" in run.result("bandit")["error"]


def test_a_gate_that_crashes_at_a_block_stops_the_scans_still_running_and_leaves_no_pass(project, reports,
                                                                                        slow_bandit, tmp_path):
    """run-gate.sh failing under set -e as it prints detect-secrets' block (its cat fails), while the slow bandit
    still runs: bandit is stopped, and no result of the run says pass."""
    folder = fake_tool(tmp_path / "crash", "cat",
                       '[[ "${1:-}" == */detect-secrets.log ]] && exit 1\nexec /bin/cat "$@"\n')
    run = run_gate(GATE, project, reports, scans=SCANS, path=f"{folder}{os.pathsep}{slow_bandit}",
                   env={"SECURITY_CACHE_DIR": str(tmp_path / "cache")})

    assert run.rc == 2, run.output
    assert f"the {GATE} run stopped unexpectedly (exit 1) before its verdict" in run.output
    assert wait_until(lambda: processes_of_run(reports) == [], timeout=5), processes_of_run(reports)
    assert says_pass(reports, SCANS, GATE) == [], run.output
    assert "interrupted by SIGTERM" in run.result("bandit")["error"], run.result("bandit")


# --------------------------------------------------------------------------- on a terminal


def start_in_pty(project: Path, reports: Path, path: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """The gate with a pseudo-terminal as its stdin, stdout and stderr, in a session of its own; (process, the
    terminal's controller side)."""
    controller, terminal = pty.openpty()
    command = [str(SCRIPTS / "run-gate.sh"), GATE, *SCANS]
    if subprocess.run(["env", "--default-signal=INT", "true"], capture_output=True).returncode == 0:
        command = ["env", "--default-signal=INT,TERM", *command]  # as in a terminal, even if the tests ignore INT
    proc = subprocess.Popen(command, stdin=terminal, stdout=terminal, stderr=terminal,
                            env=gate_env(project, reports, dict(env, TERM="xterm"), path), start_new_session=True)
    os.close(terminal)
    return proc, controller


def read_pty(controller: int, until=lambda seen: False, timeout: float = 120) -> str:
    """What the terminal receives until it closes (or `until(seen)` is true, or timeout seconds pass)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(seen.decode(errors="replace")):
        ready, _, _ = select.select([controller], [], [], 0.2)
        if not ready:
            continue
        try:
            data = os.read(controller, 65536)
        except OSError:  # the other side closed
            break
        if not data:
            break
        seen += data
    return seen.decode(errors="replace")


def screen(output: str) -> list[str]:
    """The lines a terminal shows after output: \\r returns to the line's start, ESC[K erases to its end."""
    lines, line, column = [], [], 0
    for token in re.findall(r"\x1b\[K|\r|\n|[^\r\n\x1b]+|\x1b", output):
        if token == "\n":
            lines.append("".join(line))
            line, column = [], 0
        elif token == "\r":
            column = 0
        elif token == "\x1b[K":
            del line[column:]
        else:
            for char in token:
                if column < len(line):
                    line[column] = char
                else:
                    line.append(char)
                column += 1
    return lines + ["".join(line)]


def test_on_a_terminal_one_status_line_is_rewritten_in_place_and_leaves_nothing_behind(project, reports,
                                                                                       slow_bandit, tmp_path):
    proc, controller = start_in_pty(project, reports, slow_bandit, {"SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    try:
        output = read_pty(controller)
    finally:
        os.close(controller)
    assert proc.wait(timeout=30) == 0, output

    redraws = re.findall(rf"{re.escape(ERASE)}({STATUS.pattern}[^\r\n]*)", output)
    assert len(redraws) >= 2, repr(output)  # rewritten in place, about every second
    assert any("bandit (" in line for line in redraws), redraws
    shown = screen(output)
    assert not any(STATUS.search(line) for line in shown), shown  # erased, no partial line left
    assert shown[-1] == "" and shown[-2] == f"{GATE}: PASS (results in {reports})", shown
    assert [block_of(p) for p in paragraphs("\n".join(shown)) if block_of(p)] == ["detect-secrets", "bandit"]


def test_ctrl_c_on_a_terminal_erases_the_status_line_and_stops_the_progress(project, reports, slow_bandit,
                                                                             tmp_path):
    proc, controller = start_in_pty(project, reports, slow_bandit, {"SECURITY_CACHE_DIR": str(tmp_path / "cache")})
    try:
        output = read_pty(controller, until=lambda seen: bool(STATUS.search(seen)), timeout=60)
        assert STATUS.search(output), repr(output)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal's foreground process group
        output += read_pty(controller, timeout=30)
    finally:
        os.close(controller)
    assert proc.wait(timeout=30) == 130, output

    shown = screen(output)
    assert not any(STATUS.search(line) for line in shown), shown
    assert any("interrupted by SIGINT" in line for line in shown) and shown[-1] == "", shown
    assert wait_until(lambda: processes_of_run(reports) == [], timeout=5), processes_of_run(reports)


# --------------------------------------------------------------------------- what the scans' helpers count


def test_the_helpers_advance_the_count_the_scan_wrote(tmp_path):
    """batched-pool.py counts each file's result that detect-secrets' pool hands back; bandit's run-chunks counts
    each chunk's files when the chunk ends. Both add to the count the scan's shell script wrote."""
    progress = tmp_path / "progress"
    entry = tmp_path / "entry.py"
    entry.write_text("import multiprocessing\n"
                     "with multiprocessing.Pool(2) as pool:\n"
                     "    assert sorted(pool.imap_unordered(abs, [-1, -2, -3, -4, -5])) == [1, 2, 3, 4, 5]\n")
    progress.write_text("scanning files\t2\t7\n")
    env = dict(os.environ, SECURITY_PROGRESS_FILE=str(progress))
    subprocess.run([sys.executable, str(REPO_ROOT / "scans" / "detect-secrets" / "batched-pool.py"), str(entry)],
                   env=env, check=True, timeout=60)
    assert progress.read_text() == "scanning files\t7\t7\n"

    work = tmp_path / "work"
    work.mkdir()
    (work / "plan.json").write_text('{"chunks": 2, "jobs": 2}')
    (work / "chunk-0.args").write_bytes(b"a.py\0b.py\0c.py\0")
    (work / "chunk-1.args").write_bytes(b"d.py\0")
    progress.write_text("scanning files\t1\t5\n")
    subprocess.run([sys.executable, "-S", str(REPO_ROOT / "scans" / "bandit" / "cache_adapter.py"), "run-chunks",
                    "--work", str(work), "--", "true"], env=env, check=True, timeout=60)
    assert progress.read_text() == "scanning files\t5\t5\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.py", "progress", "work"]  # no temporary left
