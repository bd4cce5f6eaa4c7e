"""Summary: the files detect-secrets would skip without a word: unreadable ones, and text that is not UTF-8.
Usage: DETECT_SECRETS_PYTHON scripts/lib/unscannable.py LIST [BASELINE]

detect-secrets skips a file it cannot open or cannot decode as UTF-8 and says nothing, so a secret in a Latin-1
text file would go unseen. Run with the interpreter that runs detect-secrets, so that its own file-name filters
(the default ones, or the baseline's, e.g. --exclude-files) decide which files it would have read at all.
LIST holds the NUL-separated paths to scan. A file with a NUL byte is binary and is left out, as detect-secrets
would read only what decodes. Prints a JSON array of {"path", "reason"}; exits 0, or 2 when it cannot judge.
"""

from __future__ import annotations

import json
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


def reason(path: str) -> str | None:
    """Why detect-secrets would not read path, or None when it would."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if b"\0" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "is text but not UTF-8"
    return None


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    from detect_secrets.core.scan import _is_filtered_out

    with open(argv[1], "rb") as f:
        paths = [p.decode("utf-8", "surrogateescape") for p in f.read().split(b"\0") if p]
    found = []
    with settings(argv[2] if len(argv) == 3 else None):
        for path in paths:
            if _is_filtered_out(required_filter_parameters=["filename"], filename=path):
                continue
            why = reason(path)
            if why:
                found.append({"path": path, "reason": why})
    json.dump(found, sys.stdout)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as error:  # noqa: BLE001 - any failure means the files could not be judged
        print(f"unscannable.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(2)
