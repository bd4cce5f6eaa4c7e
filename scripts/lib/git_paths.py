"""Summary: a path that came from git (a tree entry, the index) is data: the one check before it becomes a file-system path.
Usage: python3 -S scripts/lib/git_paths.py check [WHERE] <NUL-separated paths   (exit 0: all fine; 2: the first bad
       one named on stderr, with WHERE, e.g. "the index", saying where it came from)
       from git_paths import path_problem                                          (scans/detect-secrets/history.py)

git's own checkout refuses such entries, but `git mktree`, `git fast-import` or a crafted pack can build a tree that
holds them, and `git fetch` does not fsck by default: a path is refused when it is empty, absolute, has an empty,
"." or ".." component, a ".git" component (in any case: case-insensitive file systems), a NUL byte, or a component
or a whole longer than the file system can hold (255 and 4,095 bytes). Nothing here touches the file system: a
caller that writes a file for an accepted path still writes it under a folder of its own (never outside it).
"""

from __future__ import annotations

import os
import sys

NAME_MAX = 255
PATH_MAX = 4095


def path_problem(raw: bytes | str) -> str | None:
    """Why the path from git (bytes, or str as os.fsdecode gives them) must not become a file-system path; None when it
    may (relative, below the folder it is written under)."""
    path = os.fsencode(raw) if isinstance(raw, str) else raw
    if not path:
        return "is empty"
    if b"\0" in path:
        return "holds a NUL byte"
    if path.startswith(b"/"):
        return "is absolute"
    if len(path) > PATH_MAX:
        return f"is longer than a file system path may be ({len(path)} bytes)"
    for part in path.split(b"/"):
        if part in (b"", b".", b".."):
            return f"has a {'empty' if not part else repr(part.decode())} component"
        if part.lower() == b".git":
            return "has a .git component"
        if len(part) > NAME_MAX:
            return f"has a component longer than a file name may be ({len(part)} bytes)"
    return None


def shown(raw: bytes | str) -> str:
    """The path for a message: printable ASCII as it is, anything else escaped (never a control character)."""
    path = os.fsencode(raw) if isinstance(raw, str) else raw
    text = path[:300].decode("ascii", "backslashreplace")
    return "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in text) + ("..." if len(path) > 300 else "")


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "check" or len(argv) > 2:
        print("usage: git_paths.py check [WHERE] <NUL-separated paths", file=sys.stderr)
        return 2
    where = argv[1] if len(argv) > 1 else "git"
    for raw in sys.stdin.buffer.read().split(b"\0"):
        if not raw:
            continue
        problem = path_problem(raw)
        if problem:
            print(f"a path in {where}, {shown(raw)!r}, {problem}: refused (it must not become a path outside the "
                  "work folder)", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
