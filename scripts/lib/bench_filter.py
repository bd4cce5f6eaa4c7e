"""Summary: the gate's placeholder and digest filter as a detect-secrets custom filter, for the benchmark's reference.
Usage: detect-secrets scan --filter file://scripts/lib/bench_filter.py::is_placeholder_or_digest ...
       (scripts/lib/bench-by-hand.sh: the tools by hand run with the gate's settings, and dropping documented
       placeholders and lock-file digests is one of them)

The same decision as the gate's (scans/detect-secrets/widen.py drops these inside the scan): the value, or the
whole token of the line it is part of, is a documented placeholder, or the line is a lock-file digest
(scripts/lib/placeholders.py). detect-secrets passes the arguments by name. True: not a finding.
"""

from __future__ import annotations

import importlib.util
import os


def _load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HERE = os.path.dirname(os.path.abspath(__file__))
_rules = _load("placeholders", os.path.join(HERE, "placeholders.py"))
_widen = _load("widen", os.path.join(HERE, "..", "..", "scans", "detect-secrets", "widen.py"))


def is_placeholder_or_digest(filename: str, secret: str, line: str) -> bool:
    return (any(_rules.is_placeholder(v) for v in _widen.whole_tokens(secret, line))
            or _rules.is_digest_line(filename, line))
