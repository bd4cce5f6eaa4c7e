"""Summary: what the gate changes inside detect-secrets' own process, so that nothing is narrowed silently.
Usage: imported by scans/detect-secrets/batched-pool.py (install, cli_args);
       python3 scans/detect-secrets/widen.py prints cli_args() one a line (for scripts/lib/bench-by-hand.sh).

install(record_dir) patches the detect-secrets modules of this process before the tool's entry point runs; its
worker processes are forked from it and inherit the patches:
- FILE_HEURISTICS, the default filters that skip a file by its name alone (.css, .svg, .map, .lock, .prefs,
  .iml, lock files such as poetry.lock or package-lock.json, any path containing "swagger"), never skip: every
  file the gate lists is read. They are also disabled on the command line (cli_args), so that the report's
  filters_used says so; on its own that is not enough: detect-secrets' worker processes put is_non_text_file
  back (settings.Settings.DEFAULT_FILTERS), so a command line can disable it for a scan of one file only. A file that is not text fails detect-secrets' UTF-8 decoding and is not read;
  the gate names it (binary files as excluded, any other as not scanned).
- every file detect-secrets opens and reads is recorded (its name, NUL-terminated, appended to
  RECORD_DIR/<pid>, one unbuffered write per file, so a worker stopped by the pool loses nothing): the
  scanned set the gate checks its inventory against.
- a file whose lines came from a transformer that drops comments (YAML; any file that parses as INI) is
  scanned as raw lines too: a key in a YAML comment is found as the same line in a .txt file is. A secret
  found both ways is reported once (detect-secrets' own identity: file, type and hash). detect-secrets'
  _get_lines_from_file is replaced by a copy that notes which files those are (and records every file read).
- a secret whose value is a documented placeholder or whose line is a lock-file digest (scripts/lib/placeholders.py,
  the filters kingfisher's findings go through too) is dropped: one line naming why (never the value) appended to
  RECORD_DIR.dropped, which the scan counts.
"""

from __future__ import annotations

import importlib.util
import os
import re

FILE_HEURISTICS = (
    "detect_secrets.filters.heuristic.is_non_text_file",
    "detect_secrets.filters.heuristic.is_lock_file",
    "detect_secrets.filters.heuristic.is_swagger_file",
)

_record_fd: dict[int, int] = {}


def _record(record_dir: str, filename: str) -> None:
    pid = os.getpid()
    fd = _record_fd.get(pid)
    if fd is None:
        fd = os.open(os.path.join(record_dir, str(pid)), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _record_fd[pid] = fd
    os.write(fd, os.fsencode(filename) + b"\0")


def _placeholders():
    """scripts/lib/placeholders.py, loaded from its path: the tool's own imports keep the sys.path they always had."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "lib", "placeholders.py")
    spec = importlib.util.spec_from_file_location("placeholders", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOKEN = re.compile(r"[A-Za-z0-9_.+/-]*")


def whole_tokens(value: str, line: str) -> list[str]:
    """The value, and the token of the line it begins: some plugins' value is the start of what they matched (the
    GitHub plugin's is its prefix, "ghp"), and a placeholder is told by the whole token (ghp_xxxx...). Never what
    stands before the value: a real key at the end of a long run of one character (a/a/a/.../AKIA...) is a key."""
    found = [value]
    at = line.find(value)
    if at >= 0:
        end = TOKEN.match(line, at + len(value)).end()
        if line[at:end] != value:
            found.append(line[at:end])
    return found


def _dropper(record_dir: str):
    """drop(filename, secret): whether detect-secrets' secret is a placeholder or a digest (each drop counted in
    RECORD_DIR.dropped, one line of its reason: never its value)."""
    rules = _placeholders()
    lines: dict[str, list[str]] = {}

    def line_of(filename: str, number: int) -> str:
        if filename not in lines:
            try:
                with open(filename, encoding="utf-8", errors="replace") as f:
                    lines[filename] = f.read().split("\n")
            except OSError:
                lines[filename] = []
            if len(lines) > 64:  # the workers read each file once: keep a few
                lines.pop(next(iter(lines)))
        text = lines[filename]
        return text[number - 1] if 1 <= number <= len(text) else ""

    def drop(filename: str, secret) -> bool:
        value = secret.secret_value
        line = line_of(filename, secret.line_number or 0)
        if isinstance(value, str) and any(rules.is_placeholder(v) for v in whole_tokens(value, line)):
            why = "placeholder"
        elif rules.is_digest_line(filename, line):
            why = "digest"
        else:
            return False
        fd = os.open(record_dir.rstrip("/") + ".dropped", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, why.encode() + b"\n")
        finally:
            os.close(fd)
        return True

    return drop


def _never_skips(path: str):
    """A filename filter (detect-secrets injects its arguments by name) that keeps every file."""

    def keep(filename: str) -> bool:
        return False

    keep.__name__ = path.rsplit(".", 1)[1]
    return keep


def cli_args() -> list[str]:
    """detect-secrets' options that disable FILE_HEURISTICS."""
    return ["--disable-filter", *FILE_HEURISTICS]


def keep_every_file() -> None:
    """FILE_HEURISTICS keep every file, in this process and the ones it forks."""
    import importlib

    for path in FILE_HEURISTICS:
        module, name = path.rsplit(".", 1)
        setattr(importlib.import_module(module), name, _never_skips(path))


def install(record_dir: str) -> None:
    from detect_secrets.core import scan

    keep_every_file()

    scan_file = scan.scan_file
    drop = _dropper(record_dir)
    transformed: set[str] = set()  # the files whose lines came from a (comment-dropping) transformer

    def recorded_lines_from_file(filename: str):
        """detect-secrets' own _get_lines_from_file (core/scan.py, 1.5.0), recording the file once it is read
        and whether a non-eager transformer (YAML; an INI parse that succeeded) gave its lines."""
        with open(filename) as f:
            scan.log.info(f"Checking file: {filename}")
            try:
                lines = scan.get_transformed_file(f)
                if lines:
                    transformed.add(filename)
                else:
                    lines = f.readlines()
            except UnicodeDecodeError:
                return
            _record(record_dir, filename)
            yield lines
            f.seek(0)
            lines = scan.get_transformed_file(f, use_eager_transformers=True)
            if not lines:
                return
            yield lines

    def scan_file_and_raw_lines(filename: str):
        found = []
        for secret in scan_file(filename):
            found.append(secret)
            if not drop(filename, secret):
                yield secret
        if filename not in transformed:
            return
        transformed.discard(filename)
        try:
            with open(filename, encoding="utf-8") as f:
                raw = f.readlines()
        except (OSError, UnicodeDecodeError):
            return
        for secret in scan._process_line_based_plugins(lines=list(enumerate(raw, start=1)), filename=filename):
            if secret not in found:
                found.append(secret)
                if not drop(filename, secret):
                    yield secret

    scan._get_lines_from_file = recorded_lines_from_file
    scan.scan_file = scan_file_and_raw_lines
