"""Summary: why detect-secrets did not read the listed files: binary, unreadable, not UTF-8, or a filter.
Usage: DETECT_SECRETS_PYTHON scans/detect-secrets/unscannable.py LIST [BASELINE]

LIST holds the NUL-separated paths the gate gave detect-secrets and that it did not read (widen.py records
what it read). detect-secrets skips a file it cannot open or cannot decode as UTF-8 (it runs in UTF-8 mode) and
one a filename filter removes, without a word. Run with the interpreter that runs detect-secrets, so that the
baseline's filters (e.g. --exclude-files) can be named. Prints a JSON array of {"path", "reason", "binary",
"filtered"}: binary is true for a file with a NUL byte that is not UTF-8 (not text: nothing for detect-secrets to
read), filtered for one a filename filter of the baseline removed (a narrowing the gate checks on its own).
Exits 0, or 2 when it cannot judge.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import AbstractContextManager


def settings(baseline_path: str | None) -> AbstractContextManager:
    """detect-secrets' settings for this scan: the baseline's when there is one, else its defaults."""
    from detect_secrets.settings import default_settings, transient_settings

    if not baseline_path:
        return default_settings()
    with open(baseline_path, encoding="utf-8") as f:
        baseline = json.load(f)
    return transient_settings(baseline)


def content_reason(path: str) -> tuple[str | None, bool]:
    """(why detect-secrets could not read path's content, whether it is binary); (None, False) when it could."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        return f"cannot be read ({error.strerror})", False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        if b"\0" in data:
            return "is binary (a NUL byte, not UTF-8 text)", True
        return "is text but not UTF-8", False
    return None, False


def filter_reason(path: str) -> str | None:
    """The detect-secrets filename filter that removes path, named; None when none does."""
    from detect_secrets.settings import get_filters
    from detect_secrets.util.inject import call_function_with_arguments

    for function in get_filters():
        if function.injectable_variables == {"filename"} and call_function_with_arguments(function, filename=path):
            return f"is skipped by detect-secrets' filter {function.path}"
    return None


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        paths = [p.decode("utf-8", "surrogateescape") for p in f.read().split(b"\0") if p]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import widen

    widen.keep_every_file()  # as in the scan: the filters that skip files by name alone are off
    found = []
    with settings(argv[2] if len(argv) == 3 else None):
        for path in paths:
            why, binary = content_reason(path)
            filtered = None if why else filter_reason(path)
            why = why or filtered or "was not read by detect-secrets (no reason known)"
            found.append({"path": path, "reason": why, "binary": binary, "filtered": filtered is not None})
    sys.stdout.write(json.dumps(found))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as error:  # noqa: BLE001 - any failure means the files could not be judged
        print(f"unscannable.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(2)
