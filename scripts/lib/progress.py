"""Summary: the Python side of a scan's progress line (common.sh's scan_progress writes the same file).
Usage: sys.path.insert(0, "<gate>/scripts/lib"); import progress; progress.advance(3); progress.counted(iterator)

A scan run by scripts/run-gate.sh has SECURITY_PROGRESS_FILE in its environment: one line, "PHASE<TAB>DONE<TAB>
TOTAL", that the gate reads for its progress line and the scan replaces (through a rename, so a reader never sees
half a line). The scan's shell script writes the phase and the counts it knows (scan_progress); a helper that does
the counted work (bandit's chunks, detect-secrets' pool) only advances DONE. Progress is a view: nothing here
fails, and with no SECURITY_PROGRESS_FILE (a scan run on its own) nothing is written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

# The least time between two writes of the line by counted(): a write per file would cost more than it tells.
MIN_INTERVAL = 0.5


def _file() -> str:
    return os.environ.get("SECURITY_PROGRESS_FILE", "")


def advance(count: int) -> None:
    """Add count to DONE in the progress line the scan wrote (nothing when there is none, or no count in it)."""
    path = _file()
    if not path or count <= 0:
        return
    try:
        with open(path, encoding="utf-8") as f:
            phase, done, total = (f.readline().rstrip("\n").split("\t") + ["", ""])[:3]
        line = f"{phase}\t{int(done) + count}\t{total}\n"
        tmp = f"{path}.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(line)
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass


def counted(items: Iterator[T]) -> Iterator[T]:
    """items, unchanged; each one counts as one more done (written at most every MIN_INTERVAL, and at the end)."""
    if not _file():
        yield from items
        return
    pending, last = 0, time.monotonic()
    try:
        for item in items:
            yield item
            pending += 1
            now = time.monotonic()
            if now - last >= MIN_INTERVAL:
                advance(pending)
                pending, last = 0, now
    finally:
        advance(pending)
