#!/usr/bin/env python3
"""Summary: the benchmark behind `make bench` (scripts/bench.sh runs it with the locked tools on PATH).
Usage: python3 scripts/lib/bench.py --repeats N [--corpus DIR] [--keep]   (scripts/bench.sh: make bench)

Corpus: the Django source that `uv sync` installed in .venv, copied into a temporary git repository with this
repository's pyproject.toml, uv.lock and .security-suppressions.json (so that pip-audit audits the same lock,
bandit reads the same [tool.bandit] and the gate accepts its narrowing as here); every file is committed, so "all files" and "tracked files" are the same set.

Runs, alternating, N times each: (a) the three tools by hand, one after the other, with the gate's settings
(scripts/lib/bench-by-hand.sh); (b) the gate with an empty cache; (c) the gate again on the unchanged tree;
(d) the gate after one Python file changed (a comment appended; the file is restored afterwards).
pip-audit asks a local OSV server (scripts/lib/osv_server.py) in (a) and in the gate alike.
Then the same on this repository itself, (a), (b) and (c), for the harness's own overhead.

With --only history (BENCH_ONLY=history) only the full-history secret scan runs, side by side (it also runs last
in a full bench, once): kingfisher's own full-history scan (`kingfisher scan --git-history full --no-validate`),
the gate's two secret scans (detect-secrets and kingfisher: `scripts/run-gate.sh security-code detect-secrets
kingfisher`, what `make security-code CODE_SCANS=...` runs) with SECRETS_SINCE=all on an empty cache, then warm;
on a generated history of HISTORY_COMMITS commits (Django's source growing, one `git fast-import`), or on a clone of
BENCH_HISTORY_REPO.
Targets: cold at most 30x kingfisher and under 90 s, warm under 3 s, peak memory under 300 MB.

With --only recall (BENCH_ONLY=recall) only the recall benchmark of the secret engines runs
(scripts/lib/recall_bench.py): detect-secrets alone, kingfisher alone and the gate, side by side, on a labelled corpus
built at run time (scripts/lib/recall_corpus.py) and the clean files of Django and pip.

With --only change (BENCH_ONLY=change) only the comparisons of "cost follows the change" run; without, they run
after the ones above. Corpus: five copies of that Django source in one repository (django-1/ ... django-5/):
  (i)   the pre-commit detect-secrets hook (scripts/pre-commit.sh detect-secrets) with one staged file, against
        detect-secrets' own detect-secrets-hook on that file; each with a cold (empty) cache;
  (ii)  the gate again on the unchanged tree (warm), against the tools by hand (one run of each, cold, first: they
        take minutes), and in seconds;
  (iii) the detect-secrets scan with a 50-commit range (SECRETS_SINCE=HEAD~50: 50 commits changing 10 files five
        times each), against the tree scan alone (SECRETS_SINCE=HEAD, an empty range); each on a cache warmed by
        one run of its own.

Measures wall time, CPU time (user + system of the run and every process it waited for, os.wait4) and max RSS
(the largest single process of the run). Prints the medians, the ratios to (a) with the issue's targets, and
whether each run's findings and raw reports are exactly (a)'s.
Exit: 0 done (a target missed is printed, not failed: timings are noisy), 1 a run found something else than
(a), 2 the benchmark could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osv_server import OsvServer

REPO = Path(__file__).resolve().parents[2]
# The files of this repository the corpus takes: the same lock, [tool.bandit] and accepted narrowing as here.
PROJECT_FILES = ("pyproject.toml", "uv.lock", ".security-suppressions.json")



def makefile_list(name: str) -> tuple[str, ...]:
    """The words of the Makefile's `NAME := ...` line (the gate's list of scans)."""
    match = re.search(rf"^{name}\s*:?=(.*)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"bench: the Makefile has no {name} line")
    return tuple(match.group(1).split())


def by_hand_scans() -> tuple[str, ...]:
    """The code gate's scans that scripts/lib/bench-by-hand.sh can run by hand (a function by_hand_SCAN)."""
    text = (REPO / "scripts" / "lib" / "bench-by-hand.sh").read_text()
    return tuple(s for s in makefile_list("CODE_SCANS") if re.search(rf"^by_hand_{re.escape(s)}\(\)", text, re.M))


# The code gate's scans that (a) to (d) compare, each run by hand (bench-by-hand.sh) and by the gate; the others
# (kingfisher) are measured by --only history and --only recall.
SCANS = by_hand_scans()
EDITED = "utils/text.py"  # the file (d) changes, relative to the corpus
TARGETS = {"b": 0.95, "c": 0.10, "d": 0.15}
LABELS = {
    "a": "(a) tools by hand, one after the other",
    "b": "(b) gate, empty cache",
    "c": "(c) gate again, tree unchanged",
    "d": "(d) gate, one file changed",
}


class BenchError(Exception):
    pass


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    rc: int


@dataclass
class Variant:
    key: str
    samples: list[Sample] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    cache: list[str] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(s, attr) for s in self.samples)

    def spread(self, attr: str) -> str:
        values = [getattr(s, attr) for s in self.samples]
        return f"{min(values):.1f}-{max(values):.1f}"


def measure(cmd: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> Sample:
    """Run cmd; its wall time, CPU time (with every process it waited for) and the largest process's RSS."""
    with open(log, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Sample(wall, usage.ru_utime + usage.ru_stime, rss, proc.returncode)


def jq(program: str, infile: Path, *args: str) -> Any:
    """PROGRAM (a path under scans/, e.g. "bandit/normalize.jq") run on INFILE with the gate's jq library."""
    proc = subprocess.run(["jq", "-L", str(REPO / "jq"), "-f", str(REPO / "scans" / program), *args, str(infile)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BenchError(f"jq {program} on {infile}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def finding_keys(findings: list[dict[str, Any]]) -> list[tuple]:
    return sorted((f["id"], f["location"]["path"], f["location"]["line"] or 0, f["location"]["detail"] or "")
                  for f in findings)


def raw_view(scan: str, raw: Any) -> Any:
    """A raw report without what differs between two runs of the same scan: the time, the temporary path of the
    detect-secrets working baseline, pip-audit's canary, each secret's hash (the gate keeps it salted, the tool by
    hand does not)."""
    raw = json.loads(json.dumps(raw))
    if isinstance(raw, dict):
        raw.pop("generated_at", None)
        if scan == "detect-secrets":  # by hand, placeholders are dropped by a custom filter (bench_filter.py)
            raw["filters_used"] = [f for f in raw.get("filters_used") or []
                                   if not (isinstance(f, dict) and "bench_filter.py" in str(f.get("path", "")))]
        if scan == "pip-audit":
            raw.pop("canary", None)  # the gate's canary (scans/pip-audit/run.sh), audited alongside the lock
        if scan == "detect-secrets":
            for secrets in (raw.get("results") or {}).values():
                for secret in secrets:
                    secret.pop("hashed_secret", None)
        for item in raw.get("filters_used") or []:
            if isinstance(item, dict) and item.get("path", "").endswith("is_baseline_file"):
                item["filename"] = "<working copy>"
    return raw


@dataclass
class Reference:
    findings: dict[str, list[tuple]]
    raws: dict[str, Any]


def reference(project: Path, out: Path) -> Reference:
    """(a)'s findings, normalized by the gate's own jq programs, and its raw reports as the gate keeps them."""
    baseline = project / ".secrets.baseline"
    committed = out / "baseline-committed.json"
    committed.write_text(baseline.read_text() if baseline.exists() else '{"results": {}}')
    findings = {
        # No inventory (every finding at uv.lock) and no advisory mirror: the gate's own settings for this lock.
        "pip-audit": finding_keys(jq("pip-audit/normalize.jq", out / "pip-audit.json",
                                     "--argjson", "inventory", '[{"source": "uv.lock", "packages": []}]',
                                     "--argjson", "advisories", "[]")),
        "bandit": finding_keys(jq("bandit/normalize.jq", out / "bandit.json")),
        "detect-secrets": finding_keys(jq("detect-secrets/normalize.jq", out / "detect-secrets.json",
                                          "--slurpfile", "baseline", str(committed))),
    }
    raws = {
        "pip-audit": raw_view("pip-audit", json.loads((out / "pip-audit.json").read_text())),
        "bandit": raw_view("bandit", jq("bandit/sanitize.jq", out / "bandit.json")),
        "detect-secrets": raw_view("detect-secrets", json.loads((out / "detect-secrets.json").read_text())),
    }
    return Reference(findings, raws)


def compare(ref: Reference, reports: Path) -> tuple[list[str], dict[str, Any]]:
    """What differs between the gate's results in reports and the reference; the results' cache fields."""
    differences, caches = [], {}
    for scan in SCANS:
        result = json.loads((reports / f"{scan}.json").read_text())
        if result["status"] == "error":
            differences.append(f"{scan}: error: {result['error']}")
            continue
        found = finding_keys(result["findings"] + result["below_threshold"] + result["suppressed"])
        if found != ref.findings[scan]:
            missing = sorted(set(ref.findings[scan]) - set(found))[:3]
            extra = sorted(set(found) - set(ref.findings[scan]))[:3]
            differences.append(f"{scan}: {len(found)} findings, by hand {len(ref.findings[scan])}; "
                               f"missing {missing}, extra {extra}")
        raw = raw_view(scan, json.loads((reports / f"{scan}.raw.json").read_text()))
        if raw != ref.raws[scan]:
            differences.append(f"{scan}: the raw report differs from the one by hand")
        caches[scan] = result.get("cache")
    return differences, caches


def cache_text(caches: dict[str, Any]) -> str:
    parts = []
    for scan in ("bandit", "detect-secrets"):
        c = caches.get(scan) or {}
        if c.get("enabled"):
            parts.append(f"{c['hits']}/{c['hits'] + c['misses']}")
        else:
            parts.append("off")
    return ", ".join(parts)


def git(cwd: Path, *args: str) -> None:
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                    "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null",
                    *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_corpus(dest: Path) -> tuple[Path, str]:
    """The Django source of .venv as a git repository in dest; (path, a description)."""
    found = sorted((REPO / ".venv" / "lib").glob("python3*/site-packages/django"))
    if not found:
        raise BenchError("no Django in .venv (run 'make setup')")
    source = found[0]
    version = next(iter(sorted(source.parent.glob("django-*.dist-info"))), None)
    corpus = dest / "django"
    shutil.copytree(source, corpus, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, corpus / name)
    git(corpus, "init", "-q")
    git(corpus, "add", "-A")
    git(corpus, "commit", "-q", "-m", "corpus")
    files = [p for p in corpus.rglob("*") if p.is_file() and ".git" not in p.relative_to(corpus).parts]
    python = sum(1 for p in files if p.suffix == ".py")
    name = version.name.removesuffix(".dist-info").replace("-", " ") if version else "Django"
    return corpus, f"{name} source: {len(files)} files, {python} Python"


class Bench:
    def __init__(self, work: Path, osv_url: str) -> None:
        self.work = work
        self.osv_url = osv_url
        self.run_number = 0

    def env(self, project: Path, reports: Path, cache: Path, targets: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PIP_AUDIT_", "BANDIT_", "SECURITY_", "GITHUB_STEP_SUMMARY"))}
        env.update(PROJECT_DIR=str(project), SECURITY_REPORT_DIR=str(reports), SECURITY_CACHE_DIR=str(cache),
                   PIP_AUDIT_OSV_URL=self.osv_url)
        if targets:
            env["BANDIT_TARGETS"] = targets
        return env

    def by_hand(self, project: Path, targets: str | None) -> tuple[Sample, Reference]:
        self.run_number += 1
        out = self.work / f"run-{self.run_number}-a"
        env = self.env(project, out, self.work / "unused-cache", targets)
        sample = measure([str(REPO / "scripts" / "lib" / "bench-by-hand.sh"), str(project), str(out), *SCANS], env,
                         self.work / f"run-{self.run_number}-a.log")
        if sample.rc != 0:
            raise BenchError(f"the tools by hand failed (exit {sample.rc}): see {self.work}/run-{self.run_number}-a.log")
        return sample, reference(project, out)

    def gate(self, key: str, project: Path, cache: Path, targets: str | None) -> tuple[Sample, Path]:
        self.run_number += 1
        reports = self.work / f"run-{self.run_number}-{key}"
        env = self.env(project, reports, cache, targets)
        sample = measure([str(REPO / "scripts" / "run-gate.sh"), "security-code", *SCANS], env,
                         self.work / f"run-{self.run_number}-{key}.log")
        if sample.rc not in (0, 1):
            raise BenchError(f"the gate could not complete (exit {sample.rc}): see {reports}")
        return sample, reports


COPIES = 5
RANGE_COMMITS = 50
RANGE_FILES = 10  # the 50 commits change these files, five times each (so the range holds blobs the tree does not)
HOOKED = "django-1/utils/text.py"  # the file (i) stages
CHANGE_TARGETS = {"hook": 2.0, "warm": 0.10, "warm_seconds": 2.5, "range": 1.5}


def make_copies(dest: Path) -> tuple[Path, str]:
    """COPIES copies of the Django source of .venv in one git repository in dest; (path, a description)."""
    single, _ = make_corpus(dest / "single")
    corpus = dest / "copies"
    corpus.mkdir()
    for n in range(1, COPIES + 1):
        shutil.copytree(single, corpus / f"django-{n}", ignore=shutil.ignore_patterns(".git", *PROJECT_FILES))
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, corpus / name)
    git(corpus, "init", "-q")
    git(corpus, "add", "-A")
    git(corpus, "commit", "-q", "-m", "corpus")
    shutil.rmtree(single)
    files = sum(1 for p in corpus.rglob("*") if p.is_file() and ".git" not in p.relative_to(corpus).parts)
    return corpus, f"{COPIES} copies of Django's source: {files} files"


def median_of(samples: list[Sample]) -> float:
    return statistics.median(s.wall for s in samples)


def spread_of(samples: list[Sample]) -> str:
    return f"{min(s.wall for s in samples):.2f}-{max(s.wall for s in samples):.2f}"


def change_bench(bench: Bench, corpus: Path, description: str, repeats: int, parts: set[str]) -> bool:
    """The three comparisons of "cost follows the change" on the corpus of copies; prints them; True when every
    gate run found what the tools by hand found."""
    work = bench.work
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURITY_", "SECRETS_", "GITHUB_STEP_SUMMARY"))}
    hook, by_hand_hook, warm, by_hand, runs, mismatches = [], [], [], None, {}, []
    cold_gate = None
    path = corpus / HOOKED
    original = path.read_bytes()
    for rep in range(1, repeats + 1 if "hook" in parts else 1):
        path.write_bytes(original + f"\n# staged edit {rep}\n".encode())
        git(corpus, "add", HOOKED)
        cold = work / f"hook-cache-{rep}"
        hook.append(measure([str(REPO / "scripts" / "pre-commit.sh"), "detect-secrets"],
                            dict(env, SECURITY_CACHE_DIR=str(cold)), work / f"hook-{rep}.log", cwd=corpus))
        by_hand_hook.append(measure(["detect-secrets-hook", HOOKED], env, work / f"hook-by-hand-{rep}.log", cwd=corpus))
        git(corpus, "reset", "-q", "HEAD", HOOKED)
        path.write_bytes(original)
        if hook[-1].rc != 0 or by_hand_hook[-1].rc != 0:
            raise BenchError(f"a hook failed (exit {hook[-1].rc}, by hand {by_hand_hook[-1].rc}): see {work}/hook-{rep}.log")
        print(f"  (i) repetition {rep}/{repeats}: hook {hook[-1].wall:.2f}s, detect-secrets-hook "
              f"{by_hand_hook[-1].wall:.2f}s", file=sys.stderr, flush=True)

    cache = work / "cache-copies"
    if parts & {"warm", "range"}:
        print("  (ii) the tools by hand and the cold gate, once each (minutes)", file=sys.stderr, flush=True)
        by_hand, ref = bench.by_hand(corpus, ".")
        cold_gate, reports = bench.gate("b", corpus, cache, ".")
        mismatches = [f"cold: {d}" for d in compare(ref, reports)[0]]
    for rep in range(1, repeats + 1 if "warm" in parts else 1):
        sample, reports = bench.gate("c", corpus, cache, ".")
        differences, caches = compare(ref, reports)
        mismatches += [f"warm run {rep}: {d}" for d in differences]
        warm.append(sample)
        print(f"  (ii) repetition {rep}/{repeats}: warm gate {sample.wall:.2f}s (cache hits {cache_text(caches)})",
              file=sys.stderr, flush=True)

    if "range" in parts:
        runs = range_runs(corpus, cache, work, env, repeats)

    def row(label: str, ours: list[Sample], theirs: list[Sample], target: float, theirs_label: str) -> None:
        ratio = median_of(ours) / median_of(theirs)
        cpu = statistics.median(x.cpu for x in ours) / statistics.median(x.cpu for x in theirs)
        print(f"{label:52} {median_of(ours):7.2f} ({spread_of(ours):>11})  {theirs_label:34} "
              f"{median_of(theirs):7.2f} ({spread_of(theirs):>13})  {ratio:6.2f}  <= {target:<5}"
              f"{'yes' if ratio <= target else 'NO':>4}  {cpu:9.2f}")

    print(f"Cost follows the change: {description}; median of {repeats} runs (wall s, min-max), alternating")
    header = (f"{'':52} {'wall s':>21}  {'against':34} {'wall s':>23}  {'ratio':>6}  target  met  CPU ratio")
    print(header)
    print("-" * len(header))
    if hook:
        row("(i) pre-commit hook, one staged file, cold cache", hook, by_hand_hook, CHANGE_TARGETS["hook"],
            "detect-secrets-hook on that file")
    if warm and by_hand and cold_gate:
        row("(ii) gate again, tree unchanged (warm)", warm, [by_hand], CHANGE_TARGETS["warm"],
            "the tools by hand (one run)")
        print(f"{'(ii) the same, in seconds':52} {median_of(warm):7.2f} {'':13}  {'(the cold gate: one run)':34} "
              f"{cold_gate.wall:7.2f} {'':15}  {'':6}  <= {str(CHANGE_TARGETS['warm_seconds']) + ' s':<5}"
              f"{'yes' if median_of(warm) <= CHANGE_TARGETS['warm_seconds'] else 'NO':>4}")
    if runs:
        history = runs.pop("history")
        row(f"(iii) detect-secrets, {RANGE_COMMITS}-commit range, warm", runs["range"][2], runs["tree"][2],
            CHANGE_TARGETS["range"], "the tree scan alone, warm")
        print(f"(iii) the range: {history.get('commit_count')} commits, {history.get('blobs')} blobs "
              f"({history.get('blobs_from_cache')} from the cache, {history.get('blobs_read')} read)")
    for m in mismatches:
        print(f"  DIFFERS: {m}")
    print()
    return not mismatches


def range_runs(corpus: Path, cache: Path, work: Path, env: dict[str, str], repeats: int) -> dict[str, Any]:
    """(iii): RANGE_COMMITS commits on the corpus, then the detect-secrets scan with that range and with none, each
    on its own copy of the warm cache; {"tree": (since, cache, samples), "range": (...), "history": the range's}."""
    for n in range(RANGE_COMMITS):
        edited = corpus / f"django-{n % COPIES + 1}" / "utils" / f"{['text', 'html', 'crypto', 'dates', 'timezone', 'http', 'encoding', 'functional', 'formats', 'timesince'][n % RANGE_FILES]}.py"
        with open(edited, "a", encoding="utf-8") as f:
            f.write(f"# range edit {n}\n")
        git(corpus, "commit", "-q", "-a", "-m", f"range edit {n}")
    tree_cache, range_cache = work / "cache-tree-alone", work / "cache-range"
    shutil.copytree(cache, tree_cache)
    shutil.copytree(cache, range_cache)
    scan = [str(REPO / "scans" / "detect-secrets" / "run.sh")]
    runs = {"tree": ("HEAD", tree_cache, []), "range": (f"HEAD~{RANGE_COMMITS}", range_cache, [])}
    for rep in range(0, repeats + 1):  # repetition 0 warms each cache with its own run
        for key, (since, folder, samples) in runs.items():
            out = work / f"range-{key}-{rep}"
            sample = measure(scan, dict(env, PROJECT_DIR=str(corpus), SECURITY_REPORT_DIR=str(out),
                                        SECURITY_CACHE_DIR=str(folder), SECRETS_SINCE=since), out.with_suffix(".log"))
            if sample.rc not in (0, 1):
                raise BenchError(f"the detect-secrets scan ({key}) could not complete: see {out}.log")
            if rep:
                samples.append(sample)
        if rep:
            print(f"  (iii) repetition {rep}/{repeats}: tree alone {runs['tree'][2][-1].wall:.2f}s, "
                  f"{RANGE_COMMITS}-commit range {runs['range'][2][-1].wall:.2f}s", file=sys.stderr, flush=True)
    runs["history"] = json.loads((work / f"range-range-{repeats}" / "detect-secrets.json").read_text()).get("history") or {}
    return runs


def run_variants(bench: Bench, project: Path, targets: str | None, keys: str, repeats: int,
                 edit: str | None) -> dict[str, Variant]:
    variants = {k: Variant(k) for k in keys}
    cache = bench.work / f"cache-{project.name}"
    for rep in range(1, repeats + 1):
        sample, ref = bench.by_hand(project, targets)
        variants["a"].samples.append(sample)
        for key in keys[1:]:
            if key == "b":
                shutil.rmtree(cache, ignore_errors=True)
            original = None
            if key == "d":
                path = project / edit
                original = path.read_bytes()
                path.write_bytes(original + f"\n# benchmark edit {rep}\n".encode())
            try:
                sample, reports = bench.gate(key, project, cache, targets)
            finally:
                if original is not None:
                    (project / edit).write_bytes(original)
            differences, caches = compare(ref, reports)
            variants[key].samples.append(sample)
            variants[key].mismatches += [f"run {rep}: {d}" for d in differences]
            variants[key].cache.append(cache_text(caches))
        print(f"  repetition {rep}/{repeats}: " + ", ".join(
            f"{k} {variants[k].samples[-1].wall:.1f}s" for k in keys), file=sys.stderr, flush=True)
    return variants


def print_table(title: str, variants: dict[str, Variant], targets: dict[str, float]) -> bool:
    """The table of one corpus; True when every run found exactly what (a) found."""
    a = variants["a"].median("wall")
    print(title)
    header = (f"{'':40} {'wall s (min-max)':>18} {'CPU s':>7} {'max RSS MB':>10} {'x (a)':>6} {'target':>7}"
              f"  {'met':>3}  {'same as (a)':>11}  cache hits: bandit, detect-secrets")
    print(header)
    print("-" * len(header))
    identical = True
    for key, v in variants.items():
        ratio = v.median("wall") / a
        target = targets.get(key)
        met = "-" if target is None else ("yes" if ratio <= target else "NO")
        same = "reference" if key == "a" else ("yes" if not v.mismatches else "NO")
        identical &= not v.mismatches
        cache = " | ".join(sorted(set(v.cache))) if v.cache else "-"
        print(f"{LABELS[key]:40} {v.median('wall'):7.1f} ({v.spread('wall'):>9}) {v.median('cpu'):7.1f} "
              f"{v.median('rss_mb'):10.0f} {ratio:6.2f} {'<= %.2f' % target if target else '':>7}  {met:>3}  "
              f"{same:>11}  {cache}")
    for key, v in variants.items():
        for m in v.mismatches:
            print(f"  {key}: DIFFERS: {m}")
    print()
    return identical


HISTORY_COMMITS = 6000  # the generated history's length (the bar: at least 5,000)
HISTORY_TARGETS = {"ratio": 30.0, "cold": 90.0, "warm": 3.0, "rss": 300.0}


def make_history(dest: Path) -> tuple[Path, str]:
    """A repository of HISTORY_COMMITS commits built with one `git fast-import` from the Django source of .venv:
    the first commit adds 400 of its Python files, each later one appends a piece of another file (20 lines) to one
    of them, as a project's history grows (and every 500th adds a new file); (path, a description)."""
    found = sorted((REPO / ".venv" / "lib").glob("python3*/site-packages/django"))
    if not found:
        raise BenchError("no Django in .venv (run 'make setup')")
    sources = sorted(p for p in found[0].rglob("*.py") if "__pycache__" not in p.parts)
    texts = [p.read_bytes() for p in sources]
    names = [str(p.relative_to(found[0])) for p in sources]
    current = {names[n]: texts[n] for n in range(min(400, len(names)))}
    stream = []

    def commit(n: int, files: dict[str, bytes]) -> None:
        stream.append(b"commit refs/heads/main\ncommitter B <b@example.com> %d +0000\ndata 8\nc%07d\n"
                      % (1_600_000_000 + n * 60, n % 10_000_000))
        for path, data in files.items():
            stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
        stream.append(b"\n")

    commit(0, current)
    for n in range(1, HISTORY_COMMITS):
        piece = texts[(n * 7) % len(texts)].split(b"\n")
        start = (n * 13) % max(1, len(piece) - 20)
        if n % 500 == 0 and len(current) < len(names):
            path = names[len(current)]
        else:
            path = names[(n * 31) % min(400, len(names))]
        current[path] = current.get(path, b"") + b"\n".join(piece[start:start + 20]) + b"\n"
        commit(n, {path: current[path]})
    repo = dest / "history"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=b"".join(stream), env=env, check=True)
    git(repo, "checkout", "-q", "main")
    return repo, f"a generated history of {HISTORY_COMMITS} commits (Django's source growing, {len(current)} files)"


HISTORY_SCANS = ("detect-secrets", "kingfisher")  # the gate's secret scans, both of which read the history


def history_statuses(reports: Path) -> list[str]:
    """The status of each of HISTORY_SCANS' results in reports ("missing" when there is none)."""
    found = []
    for scan in HISTORY_SCANS:
        try:
            found.append(f"{scan} {json.loads((reports / f'{scan}.json').read_text())['status']}")
        except (OSError, ValueError, KeyError):
            found.append(f"{scan} missing")
    return found


def history_bench(work: Path, repeats: int) -> bool:
    """The full-history secret scan side by side: kingfisher's own full-history scan (the anchor), the gate's
    two secret scans (HISTORY_SCANS) with SECRETS_SINCE=all cold (empty cache), then warm; on BENCH_HISTORY_REPO
    (a clone of a real repository) or a generated history. Prints the table with the targets; True when every gate run ended in
    a result (pass or fail, never error)."""
    given = os.environ.get("BENCH_HISTORY_REPO", "")
    if given:
        repo = work / "history"
        subprocess.run(["git", "clone", "-q", "--no-local", given, str(repo)], check=True)
        description = f"a clone of {given}"
    else:
        repo, description = make_history(work)
    count = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=repo, capture_output=True, text=True,
                           check=True).stdout.strip()
    kingfisher = shutil.which("kingfisher")
    if kingfisher is None:
        raise BenchError("no kingfisher on PATH (run 'make setup': kingfisher-bin is in the dev group)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURITY_", "SECRETS_", "GITHUB_STEP_SUMMARY"))}
    cache = work / "history-cache"
    gate = dict(env, PROJECT_DIR=str(repo), SECURITY_REPORT_DIR=str(work / "history-reports"),
                SECURITY_CACHE_DIR=str(cache), SECRETS_SINCE="all", SCAN_TIMEOUT="3600")
    scan = [str(REPO / "scripts" / "run-gate.sh"), "security-code", *HISTORY_SCANS]
    anchor = [kingfisher, "scan", str(repo), "--git-history", "full", "--no-validate", "--no-update-check",
              "-f", "json", "-o", str(work / "kingfisher.json")]
    runs: dict[str, list[Sample]] = {"kingfisher": [], "cold": [], "warm": []}
    statuses = []
    print(f"make bench: history: {description}, {count} commits", file=sys.stderr)
    for n in range(max(1, repeats)):
        runs["kingfisher"].append(measure(anchor, env, work / f"kingfisher-{n}.log"))
        shutil.rmtree(cache, ignore_errors=True)
        runs["cold"].append(measure(scan, gate, work / f"history-cold-{n}.log"))
        statuses += history_statuses(work / "history-reports")
        runs["warm"].append(measure(scan, gate, work / f"history-warm-{n}.log"))
        statuses += history_statuses(work / "history-reports")
    med = {k: (median_of(v), statistics.median(s.cpu for s in v), max(s.rss_mb for s in v)) for k, v in runs.items()}
    print(f"\nFull-history secret scan: {description}, {count} commits; median of {max(1, repeats)} runs, "
          "alternating (a shared machine is noisy)")
    print(f"{'':34}{'wall s':>9}{'CPU s':>9}{'max RSS MB':>12}")
    for key, label in (("kingfisher", "kingfisher --git-history full"), ("cold", "gate (both engines), cold"),
                       ("warm", "gate (both engines), warm")):
        wall, cpu, rss = med[key]
        print(f"{label:34}{wall:9.1f}{cpu:9.1f}{rss:12.0f}")
    ratio = med["cold"][0] / med["kingfisher"][0] if med["kingfisher"][0] else float("inf")
    checks = [(f"cold / kingfisher {ratio:.1f}x (target: at most {HISTORY_TARGETS['ratio']:.0f}x)",
               ratio <= HISTORY_TARGETS["ratio"]),
              (f"cold {med['cold'][0]:.1f} s (target: under {HISTORY_TARGETS['cold']:.0f} s)",
               med["cold"][0] < HISTORY_TARGETS["cold"]),
              (f"warm {med['warm'][0]:.1f} s (target: under {HISTORY_TARGETS['warm']:.0f} s)",
               med["warm"][0] < HISTORY_TARGETS["warm"]),
              (f"peak memory {max(med['cold'][2], med['warm'][2]):.0f} MB (target: under "
               f"{HISTORY_TARGETS['rss']:.0f} MB)", max(med["cold"][2], med["warm"][2]) < HISTORY_TARGETS["rss"])]
    for text, met in checks:
        print(f"  {text}: {'met' if met else 'MISSED'}")
    ended = all(s.split()[-1] in ("pass", "fail") for s in statuses)
    print(f"  every gate run ended in a result: {'yes' if ended else 'NO: ' + ', '.join(statuses)}")
    return ended


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, required=True, help="runs of each measurement (scripts/bench.sh passes BENCH_REPEATS)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (reports, logs, corpus)")
    p.add_argument("--only", default="", help="change (or some of hook,warm,range): only those comparisons of cost "
                   "following the change; history; recall (scripts/bench.sh passes BENCH_ONLY)")
    args = p.parse_args(argv)
    parts = {"hook", "warm", "range"} if args.only in ("", "change", "history", "recall") else set(args.only.split(","))
    if not parts <= {"hook", "warm", "range"}:
        p.error(f"--only takes change, history, recall, or hook, warm and range separated by commas, not {args.only!r}")
    work = Path(tempfile.mkdtemp(prefix="security-bench."))
    try:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        if args.only == "recall":
            import recall_bench  # scripts/lib/recall_bench.py: the secret engines' recall, side by side

            print(f"make bench: recall; {cpus} CPUs", file=sys.stderr)
            try:
                return 0 if recall_bench.recall_bench(work, args.repeats) else 1
            except recall_bench.RecallError as e:
                raise BenchError(str(e)) from e
        if args.only == "history":
            print(f"make bench: history; {cpus} CPUs", file=sys.stderr)
            return 0 if history_bench(work, args.repeats) else 1
        if args.only:
            copies, description = make_copies(work)
            with OsvServer() as osv:
                print(f"make bench: {description}; {args.repeats} alternating runs of each; {cpus} CPUs "
                      "(a shared machine is noisy: read medians)", file=sys.stderr)
                ok = change_bench(Bench(work, osv.url), copies, f"{description}; {cpus} CPUs", args.repeats, parts)
            return 0 if ok else 1
        corpus, description = make_corpus(work)
        with OsvServer() as osv:
            bench = Bench(work, osv.url)
            print(f"make bench: {description}; {args.repeats} alternating runs of each; {cpus} CPUs", file=sys.stderr)
            large = run_variants(bench, corpus, ".", "abcd", args.repeats, EDITED)
            print("make bench: this repository", file=sys.stderr)
            small = run_variants(bench, REPO, None, "abc", args.repeats, None)
        print()
        ok = print_table(f"{description} (BANDIT_TARGETS=.); {cpus} CPUs; median of {args.repeats} runs, "
                         "alternating", large, TARGETS)
        ok &= print_table(f"This repository ({REPO}), tools installed; median of {args.repeats} runs", small, {})
        a = small["a"].median("wall")
        for key in ("b", "c"):
            overhead = small[key].median("wall") - a
            print(f"harness overhead on this repository, {LABELS[key][4:]}: {overhead:+.2f} s wall "
                  f"({small[key].median('cpu') - small['a'].median('cpu'):+.2f} s CPU) against the tools by hand "
                  f"(target: under 1 s) {'met' if overhead < 1 else 'MISSED'}")
        copies, copies_description = make_copies(work)
        with OsvServer() as osv:
            print(f"make bench: {copies_description}", file=sys.stderr)
            changed = change_bench(Bench(work, osv.url), copies, f"{copies_description}; {cpus} CPUs", args.repeats,
                                   parts)
        ok &= changed
        ok &= history_bench(work, 1)
        print("\nfindings and raw reports of every gate run: " + ("identical to the tools by hand" if ok
              else "DIFFERENT from the tools by hand (see above)"))
        return 0 if ok else 1
    except (BenchError, subprocess.CalledProcessError, OSError) as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"(work directory kept: {work})", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
