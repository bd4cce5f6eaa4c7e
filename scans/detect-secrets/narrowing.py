"""Summary: how a .secrets.baseline narrows detect-secrets' scan, each way as one coverage gap.
Usage: DETECT_SECRETS_PYTHON scans/detect-secrets/narrowing.py BASELINE   (scans/detect-secrets/run.sh runs it)

A committed baseline supplies detect-secrets' settings. Compared with the defaults of the detect-secrets that
runs it (the pinned one), it narrows the scan when:
- a default plugin is missing from plugins_used             id narrowed:baseline-plugin:NAME
- an entropy plugin's limit is above its default, or KeywordDetector excludes keywords
                                                              id narrowed:baseline-plugin-setting:NAME.SETTING
- filters_used holds a regex filter (--exclude-files, --exclude-lines, --exclude-secrets), a word list, the
  gibberish model or a custom filter file                   id narrowed:baseline-filter:KIND:PATTERN
Prints one {"id", "message"} a line (none when nothing is narrowed); exit 0, or 2 when it cannot judge.
"""

from __future__ import annotations

import inspect
import json
import sys
from typing import Any

REGEX_FILTERS = {
    "detect_secrets.filters.regex.should_exclude_file": "exclude-files",
    "detect_secrets.filters.regex.should_exclude_line": "exclude-lines",
    "detect_secrets.filters.regex.should_exclude_secret": "exclude-secrets",  # pragma: allowlist secret
}
OTHER_FILTERS = {
    "detect_secrets.filters.wordlist.should_exclude_secret": ("wordlist", "file_name"),
    "detect_secrets.filters.gibberish.should_exclude_secret": ("gibberish", "model"),
}


def default_plugins() -> dict[str, dict[str, Any]]:
    """The plugins detect-secrets scans with when nothing narrows it, and their default settings."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    plugins = {}
    for cls in get_mapping_from_secret_type_to_class().values():
        params = inspect.signature(cls.__init__).parameters.items()
        plugins[cls.__name__] = {k: p.default for k, p in params if k != "self" and p.default is not p.empty}
    return plugins


def gap(gap_id: str, message: str) -> dict[str, str]:
    return {"id": gap_id, "message": message + " (.secrets.baseline narrows the scan)"}


def plugin_gaps(used: Any, defaults: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    if not isinstance(used, list):
        return [gap("narrowed:baseline-plugin:*", "plugins_used is not a list of plugins")]
    by_name = {p.get("name"): p for p in used if isinstance(p, dict)}
    gaps = [gap(f"narrowed:baseline-plugin:{name}", f"the default plugin {name} is not in plugins_used")
            for name in sorted(defaults) if name not in by_name]
    for name, settings in sorted((n, s) for n, s in by_name.items() if n in defaults):
        limit, default = settings.get("limit"), defaults[name].get("limit")
        if isinstance(limit, (int, float)) and isinstance(default, (int, float)) and limit > default:
            gaps.append(gap(f"narrowed:baseline-plugin-setting:{name}.limit",
                            f"{name} reports only strings above entropy {limit} (default {default})"))
        if name == "KeywordDetector" and settings.get("keyword_exclude"):
            gaps.append(gap("narrowed:baseline-plugin-setting:KeywordDetector.keyword_exclude",
                            f"KeywordDetector ignores keywords matching {settings['keyword_exclude']!r}"))
    return gaps


def filter_gaps(used: Any) -> list[dict[str, str]]:
    if used is None:
        return []
    if not isinstance(used, list):
        return [gap("narrowed:baseline-filter:*", "filters_used is not a list of filters")]
    gaps = []
    for item in used:
        path = item.get("path", "") if isinstance(item, dict) else ""
        if path in REGEX_FILTERS:
            patterns = item.get("pattern") or []
            for pattern in patterns if isinstance(patterns, list) else [patterns]:
                kind = REGEX_FILTERS[path]
                gaps.append(gap(f"narrowed:baseline-filter:{kind}:{pattern}",
                                f"filters_used has --{kind} {pattern!r}, which drops whatever it matches"))
        elif path in OTHER_FILTERS:
            kind, key = OTHER_FILTERS[path]
            gaps.append(gap(f"narrowed:baseline-filter:{kind}:{item.get(key, '')}",
                            f"filters_used drops secrets by the {kind} filter ({item.get(key, '')})"))
        elif path.startswith("file://"):
            gaps.append(gap(f"narrowed:baseline-filter:custom:{path}", f"filters_used has the custom filter {path}"))
    return gaps


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        baseline = json.load(f)
    if not isinstance(baseline, dict):
        raise ValueError("the baseline is not a JSON object")
    gaps = []
    if "plugins_used" in baseline:
        gaps += plugin_gaps(baseline["plugins_used"], default_plugins())
    gaps += filter_gaps(baseline.get("filters_used"))
    for item in gaps:
        print(json.dumps(item))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as error:  # noqa: BLE001 - any failure means the baseline could not be judged
        print(f"narrowing.py: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(2)
