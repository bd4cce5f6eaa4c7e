"""Summary: run detect-secrets' own entry point widened (widen.py) and with its pool handing out work in batches.
Usage: TOOL_PYTHON scans/detect-secrets/batched-pool.py [--record DIR] [--files-from LIST] [--chdir DIR] ENTRY_POINT ARGS...
       (scans/detect-secrets/run.sh runs it)

--record DIR: install widen.py's patches (every file scanned, its name recorded in DIR; comment-dropping
transformers' files scanned as raw lines too) and add its --disable-filter options to ARGS. --files-from LIST:
the NUL-separated file names in LIST are appended to ARGS after "--" (no command line holds them, so no
argument-length limit applies). --chdir DIR: run the tool in DIR (the history's blobs, written out under their
paths, are scanned from there).

detect-secrets scans its files in a multiprocessing pool with Pool.imap_unordered's default chunk size of 1:
every file is a round trip between the parent and a worker, and on Django's 3,600 files the parent alone spends
about 2 s of CPU handing them out. This runs the tool's entry point script (the same script the shell would run,
as __main__, with ARGS) after raising that default to a few files per hand-out: the same files are scanned by
the same code, and only the order in which results come back changes, which imap_unordered never fixed anyway
(detect-secrets sorts its report). A call that names its own chunk size, or an iterable without a length, is
left as it is. Each file's result that comes back counts as one file done on the scan's progress line
(scripts/lib/progress.py). Exit: the entry point's.
"""

from __future__ import annotations

import multiprocessing.pool
import os
import runpy
import sys

# Files handed to a worker at once, at most: small enough that the last hand-outs still even out the workers.
MAX_BATCH = 16
# Hand-outs per worker, at least (multiprocessing's own Pool.map aims at 4).
MIN_ROUNDS = 4

_imap_unordered = multiprocessing.pool.Pool.imap_unordered
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lib"))
import progress  # noqa: E402

del sys.path[0]  # the tool's own imports see the path they always saw


def batch_size(items: int, workers: int) -> int:
    """Files per hand-out for items files over workers processes."""
    return max(1, min(MAX_BATCH, items // (max(1, workers) * MIN_ROUNDS)))


def imap_unordered(self, func, iterable, chunksize=1):
    if chunksize == 1 and hasattr(iterable, "__len__"):
        chunksize = batch_size(len(iterable), getattr(self, "_processes", 1))
    return progress.counted(_imap_unordered(self, func, iterable, chunksize))


def main(argv: list[str]) -> None:
    record, files = None, []
    while argv[:1] in (["--record"], ["--files-from"], ["--chdir"]) and len(argv) >= 2:
        if argv[0] == "--record":
            record = argv[1]
        elif argv[0] == "--chdir":
            os.chdir(argv[1])
        else:
            with open(argv[1], "rb") as f:
                files = [os.fsdecode(name) for name in f.read().split(b"\0") if name]
        argv = argv[2:]
    if not argv:
        sys.exit("usage: batched-pool.py [--record DIR] [--files-from LIST] [--chdir DIR] ENTRY_POINT ARGS...")
    entry = argv[0]
    multiprocessing.pool.Pool.imap_unordered = imap_unordered
    if record is not None:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import widen

        widen.install(record)
        argv = argv + widen.cli_args()
    sys.argv = argv + (["--"] + files if files else [])
    sys.path[0] = os.path.dirname(os.path.abspath(entry))
    runpy.run_path(entry, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
