"""Summary: the recall benchmark of the gate's secret engines (make bench BENCH_ONLY=recall; scripts/lib/bench.py runs it).
Usage: from recall_bench import recall_bench, run_engines, score   (bench.py; tests/test_recall.py runs a slice)

The corpus, one git repository built at run time: the labelled secrets and the placeholder files of
scripts/lib/recall_corpus.py (services/, examples/), and a clean corpus of real projects' files (clean/): the Django
package and the pip package installed in .venv (site-packages/django, site-packages/pip), as installed.
.secrets.baseline is this repository's, its results emptied: the gate's detect-secrets settings, no audit.
Three runs, each on an empty cache (cold) and SECRETS_SINCE=HEAD (the tree alone), through the gate's own scan
units: detect-secrets alone (scans/detect-secrets/run.sh), kingfisher alone (scans/kingfisher/run.sh), and the gate
with both (scripts/run-gate.sh security-code detect-secrets kingfisher; its findings merged by jq/dedupe.jq, as its
reports show them). For each: recall per class and in total (a secret is found when a finding names its file at a
line it spans), false positives per 1,000 clean files (findings under clean/), placeholder hits (findings under
examples/), and the cold wall time. Then the cold secret scan of the Django package alone: the gate with both engines
against detect-secrets alone (median of REPEATS runs, alternating). Prints the targets of issue 29 and whether each
is met; the false positives are listed by rule id and file (never a value).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import recall_corpus

REPO = Path(__file__).resolve().parents[2]
ENGINES = ("detect-secrets", "kingfisher")
TARGETS = {"recall": 95.0, "fp_per_1000": 10.0, "django_ratio": 1.15}
CLEAN_PACKAGES = ("django", "pip")  # site-packages of .venv


class RecallError(Exception):
    pass


def git(cwd: Path, *args: str) -> None:
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
                    "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null",
                    *args], cwd=cwd, env=env, check=True, capture_output=True)


def site_packages() -> Path:
    found = sorted((REPO / ".venv" / "lib").glob("python3*/site-packages"))
    if not found:
        raise RecallError("no .venv (run 'make setup')")
    return found[0]


def settings_baseline(dest: Path) -> None:
    """This repository's .secrets.baseline with its results emptied: the gate's plugin settings, nothing audited."""
    baseline = json.loads((REPO / ".secrets.baseline").read_text())
    baseline["results"] = {}
    (dest / ".secrets.baseline").write_text(json.dumps(baseline, indent=2) + "\n")


def commit(repo: Path) -> None:
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "corpus")


def make_corpus(dest: Path, classes: list[str] | None = None, clean_limit: int | None = None,
                per_class: int = recall_corpus.PER_CLASS) -> tuple[Path, recall_corpus.Corpus, dict[str, int]]:
    """The benchmark's repository in dest: the labelled corpus (classes: only those, per_class secrets each), and the
    clean corpus, the CLEAN_PACKAGES of .venv (clean_limit: the first N files of each only); (path, labels,
    {clean name: files})."""
    repo = dest / "recall"
    repo.mkdir(parents=True)
    corpus = recall_corpus.build(repo, classes, per_class)
    clean = {name: site_packages() / name for name in CLEAN_PACKAGES}
    counts = {}
    for name, source in clean.items():
        files = sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and not p.name.endswith(".pyc"))
        for p in files[:clean_limit]:
            target = repo / "clean" / name / p.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, target)
        counts[name] = len(files[:clean_limit])
    settings_baseline(repo)
    commit(repo)
    return repo, corpus, counts


def gate_env(repo: Path, reports: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURITY_", "SECRETS_", "GITHUB_STEP_SUMMARY"))}
    env.update(PROJECT_DIR=str(repo), SECURITY_REPORT_DIR=str(reports), SECURITY_CACHE_DIR=str(cache),
               SECRETS_SINCE="HEAD", SECURITY_PROGRESS_SECONDS="0", SCAN_TIMEOUT=env.get("SCAN_TIMEOUT", "1800"),
               PATH=os.pathsep.join((str(REPO / ".venv" / "bin"), env.get("PATH", ""))))  # the locked tools first
    return env


def timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int]:
    """Run cmd; (its wall time, its CPU time with every process it waited for, its exit status)."""
    with open(log, "wb") as out:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        return time.monotonic() - start, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def findings_of(result_file: Path) -> list[dict[str, Any]]:
    result = json.loads(result_file.read_text())
    if result.get("status") not in ("pass", "fail"):
        raise RecallError(f"{result.get('scan')} did not complete: {result.get('error')}")
    return result["findings"] + result["below_threshold"]


def merged(reports: Path) -> list[dict[str, Any]]:
    """The gate's findings of both engines, one per secret and place, as jq/dedupe.jq makes them for its reports."""
    results = [str(reports / f"{e}.json") for e in ENGINES]
    proc = subprocess.run(["jq", "-c", "-s", "-L", str(REPO / "jq"), "--arg", "engines", " ".join(ENGINES), "-f",
                           str(REPO / "jq" / "dedupe.jq"), *results], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RecallError(f"jq/dedupe.jq failed: {proc.stderr.strip()}")
    found = []
    for line in proc.stdout.splitlines():
        r = json.loads(line)
        if r.get("status") not in ("pass", "fail"):
            raise RecallError(f"{r.get('scan')} did not complete in the gate: {r.get('error')}")
        found += r["findings"] + r["below_threshold"]
    return found


def run_engines(repo: Path, work: Path, which: tuple[str, ...] = ("detect-secrets", "kingfisher", "gate"),
                ) -> dict[str, tuple[list[dict[str, Any]], float, float]]:
    """Each of which ("detect-secrets", "kingfisher": the scan unit alone; "gate": both through run-gate.sh), cold:
    {name: (findings, wall seconds, CPU seconds)}."""
    out = {}
    for name in which:
        reports, cache = work / f"reports-{name}", work / f"cache-{name}"
        shutil.rmtree(cache, ignore_errors=True)
        env = gate_env(repo, reports, cache)
        if name == "gate":
            cmd = [str(REPO / "scripts" / "run-gate.sh"), "security-code", *ENGINES]
        else:
            cmd = [str(REPO / "scans" / name / "run.sh")]
        wall, cpu, rc = timed(cmd, env, work / f"{name}.log")
        if rc not in (0, 1):
            raise RecallError(f"{name} could not complete (exit {rc}): see {work / (name + '.log')}")
        out[name] = (merged(reports) if name == "gate" else findings_of(reports / f"{name}.json"), wall, cpu)
    return out


def score(corpus: recall_corpus.Corpus, findings: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall per class, the false positives (findings under clean/: (id, path)), the placeholder hits."""
    at: dict[str, list[int | None]] = {}
    for f in findings:
        at.setdefault(f["location"]["path"], []).append(f["location"].get("line"))
    per_class: dict[str, list[int]] = {c: [0, 0] for c in corpus.classes}
    missed = []
    for label in corpus.secrets:
        hit = any(line is None or label.first <= line <= label.last for line in at.get(label.path, []))
        per_class[label.cls][1] += 1
        per_class[label.cls][0] += hit
        if not hit:
            missed.append(label.path)
    fps = [(f["id"], f["location"]["path"]) for f in findings if f["location"]["path"].startswith("clean/")]
    placeholders = [(f["id"], f["location"]["path"]) for f in findings
                    if f["location"]["path"] in set(corpus.placeholders)]
    found = sum(h for h, _ in per_class.values())
    return {"per_class": per_class, "found": found, "total": len(corpus.secrets), "missed": missed,
            "fps": fps, "placeholders": placeholders}


def django_ratio(work: Path, repeats: int) -> tuple[dict[str, tuple[float, float]], str]:
    """The cold secret scan of the Django package alone: {"gate" (both engines), "detect-secrets" (alone): (median
    wall seconds, median CPU seconds)} of REPEATS runs, alternating, and a description."""
    dest = work / "django-only"
    repo = dest / "django"
    shutil.copytree(site_packages() / "django", repo, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    settings_baseline(repo)
    commit(repo)
    files = sum(1 for p in repo.rglob("*") if p.is_file() and ".git" not in p.relative_to(repo).parts)
    runs: dict[str, list[tuple[float, float]]] = {"gate": [], "detect-secrets": []}
    for n in range(max(1, repeats)):
        for name in ("detect-secrets", "gate"):
            reports, cache = dest / f"reports-{name}-{n}", dest / f"cache-{name}-{n}"
            cmd = ([str(REPO / "scripts" / "run-gate.sh"), "security-code", *ENGINES] if name == "gate"
                   else [str(REPO / "scans" / "detect-secrets" / "run.sh")])
            wall, cpu, rc = timed(cmd, gate_env(repo, reports, cache), dest / f"{name}-{n}.log")
            if rc not in (0, 1):
                raise RecallError(f"{name} on Django could not complete (exit {rc}): see {dest}/{name}-{n}.log")
            runs[name].append((wall, cpu))
            shutil.rmtree(cache, ignore_errors=True)
        print(f"  Django repetition {n + 1}/{max(1, repeats)}: detect-secrets {runs['detect-secrets'][-1][0]:.1f}s, "
              f"gate {runs['gate'][-1][0]:.1f}s", file=sys.stderr, flush=True)
    medians = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in runs.items()}
    return medians, f"{files} files"


def recall_bench(work: Path, repeats: int) -> bool:
    """The whole benchmark, printed; True when every engine run completed (targets missed are printed, not failed)."""
    repo, corpus, clean = make_corpus(work)
    clean_files = sum(clean.values())
    versions = {p.name.removesuffix(".dist-info") for p in site_packages().glob("*.dist-info")}
    described = ", ".join(f"{v.replace('-', ' ')} ({clean[v.split('-')[0]]} files)" for v in sorted(versions)
                          if v.split("-")[0] in clean)
    print(f"make bench: recall: {len(corpus.secrets)} secrets in {len(corpus.classes)} classes, "
          f"{len(corpus.placeholders)} placeholder files; clean: {described}", file=sys.stderr, flush=True)
    runs = run_engines(repo, work)
    scores = {name: score(corpus, run[0]) for name, run in runs.items()}
    names = ("detect-secrets", "kingfisher", "gate")
    print(f"\nRecall: {len(corpus.secrets)} secrets in {len(corpus.classes)} provider classes (built at run time), "
          f"{len(corpus.placeholders)} placeholder files; clean corpus: {described}, {clean_files} files")
    header = f"{'class':44}{'secrets':>8}" + "".join(f"{n:>16}" for n in names)
    print(header)
    print("-" * len(header))
    for cls in corpus.classes:
        hits = [scores[n]["per_class"][cls] for n in names]
        print(f"{cls[:43]:44}{hits[0][1]:8}" + "".join(f"{h:>16}" for h, _ in hits))
    print("-" * len(header))

    def row(label: str, values: list[str]) -> None:
        print(f"{label:52}" + "".join(f"{v:>16}" for v in values))

    row("recall", [f"{100 * scores[n]['found'] / scores[n]['total']:.1f} %" for n in names])
    row("classes with no hit", [str(sum(1 for h, _ in scores[n]["per_class"].values() if not h)) for n in names])
    row("false positives / 1,000 clean files",
        [f"{1000 * len(scores[n]['fps']) / clean_files:.1f} ({len(scores[n]['fps'])})" for n in names])
    row("placeholder hits", [str(len(scores[n]["placeholders"])) for n in names])
    row("cold wall s", [f"{runs[n][1]:.1f}" for n in names])
    row("cold CPU s", [f"{runs[n][2]:.1f}" for n in names])
    for n in names:
        for rule, count in Counter(scores[n]["fps"]).most_common(15):
            print(f"  {n}: false positive {rule[0]} in {rule[1]} ({count})")
        for rule, path in scores[n]["placeholders"]:
            print(f"  {n}: placeholder reported: {rule} in {path}")
    for path in scores["gate"]["missed"]:
        print(f"  gate: missed {path}")
    medians, files = django_ratio(work, repeats)
    (gate_s, gate_cpu), (ds_s, ds_cpu) = medians["gate"], medians["detect-secrets"]
    ratio = gate_s / ds_s if ds_s else float("inf")
    print(f"\nCold secret scan of the installed Django package ({files}), median of {max(1, repeats)}, alternating: "
          f"gate (both engines) {gate_s:.1f} s wall, {gate_cpu:.1f} s CPU; detect-secrets alone {ds_s:.1f} s wall, "
          f"{ds_cpu:.1f} s CPU: {ratio:.2f}x wall, {gate_cpu / ds_cpu if ds_cpu else float('inf'):.2f}x CPU")
    g = scores["gate"]
    recall = 100 * g["found"] / g["total"]
    fp = 1000 * len(g["fps"]) / clean_files
    checks = [(f"gate recall {recall:.1f} % (target: at least {TARGETS['recall']:.0f} %)", recall >= TARGETS["recall"]),
              ("gate: a hit in every class", all(h for h, _ in g["per_class"].values())),
              (f"gate: {len(g['placeholders'])} placeholder(s) reported (target: none)", not g["placeholders"]),
              (f"gate: {fp:.1f} false positives / 1,000 clean files (target: at most {TARGETS['fp_per_1000']:.0f})",
               fp <= TARGETS["fp_per_1000"]),
              (f"cold Django scan, gate / detect-secrets alone {ratio:.2f}x (target: at most "
               f"{TARGETS['django_ratio']})", ratio <= TARGETS["django_ratio"])]
    for text, met in checks:
        print(f"  {text}: {'met' if met else 'MISSED'}")
    return True
