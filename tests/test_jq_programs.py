"""The gate's jq programs, tested as programs: each case runs jq on an input and checks what comes out.

The cases sit next to the program they test, one table per program:
  jq/tests/<program>.cases.json            for jq/<program>.jq (gate, suppressions, report, summary, ...)
  scans/<scan>/tests/<program>.cases.json  for scans/<scan>/<program>.jq (normalize, problems, ...)
so a scan's unit carries its own cases, and this one runner finds them all by listing (a new table is picked up
with no edit here). jq runs the way the scripts run it: `jq -L jq/ -f PROGRAM`.

A table: {"program": "<name>.jq", "null_input": bool, "slurp": bool, "raw_output": bool,
          "defaults": {"arg": {...}, "argjson": {...}, "slurpfile": {...}}, "cases": [CASE, ...]}
A case:  {"name": "...",
          "input": JSON value | "input_text": "raw text (truncated or malformed JSON)",  (neither with null_input)
          "arg": {name: string}, "argjson": {name: value}, "slurpfile": {name: [value, ...]},  (over the defaults)
          and exactly one of:
          "output": the whole output (one JSON value),
          "expect": {jq filter: value, ...}, each filter applied to the output must give that value,
          "output_text": the exact text printed (raw_output programs; "" when it prints nothing),
          "error": a text jq's error message must contain (true: any error), with nothing printed}
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JQ_LIB = ROOT / "jq"
TABLES = sorted([*ROOT.glob("jq/tests/*.cases.json"), *ROOT.glob("scans/*/tests/*.cases.json")])
OUTCOMES = ("output", "expect", "output_text", "error")


def load(table: Path) -> dict:
    return json.loads(table.read_text())


def program_of(table: Path) -> Path:
    """jq/tests/gate.cases.json tests jq/gate.jq; scans/x/tests/normalize.cases.json tests scans/x/normalize.jq."""
    return table.parent.parent / (table.name.removesuffix(".cases.json") + ".jq")


def cases() -> list:
    params = []
    for table in TABLES:
        spec = load(table)
        for case in spec["cases"]:
            label = f"{table.relative_to(ROOT).as_posix().removesuffix('.cases.json')}: {case['name']}"
            params.append(pytest.param(table, spec, case, id=label))
    return params


def jq_command(spec: dict, case: dict, program: Path, workdir: Path) -> list[str]:
    command = ["jq", "-L", str(JQ_LIB)]
    if spec.get("null_input"):
        command.append("-n")
    if spec.get("slurp"):
        command.append("-s")
    command.append("-r" if spec.get("raw_output") else "-c")
    defaults = spec.get("defaults", {})
    for name, value in {**defaults.get("arg", {}), **case.get("arg", {})}.items():
        command += ["--arg", name, value]
    for name, value in {**defaults.get("argjson", {}), **case.get("argjson", {})}.items():
        command += ["--argjson", name, json.dumps(value)]
    for name, values in {**defaults.get("slurpfile", {}), **case.get("slurpfile", {})}.items():
        file = workdir / f"slurp-{name}.json"
        file.write_text("".join(json.dumps(value) + "\n" for value in values))
        command += ["--slurpfile", name, str(file)]
    return [*command, "-f", str(program)]


def stdin_of(spec: dict, case: dict) -> str:
    if "input_text" in case:
        return case["input_text"]
    if "input" in case:
        return json.dumps(case["input"])
    assert spec.get("null_input"), "a case needs an input unless its table runs jq -n"
    return ""


def single_value(stdout: str):
    values = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert len(values) == 1, f"expected one JSON value, got {len(values)}: {stdout[:500]}"
    return values[0]


@pytest.mark.parametrize("table, spec, case", cases())
def test_jq_program_case(table, spec, case, tmp_path):
    program = program_of(table)
    [outcome] = [key for key in OUTCOMES if key in case]
    completed = subprocess.run(jq_command(spec, case, program, tmp_path), input=stdin_of(spec, case),
                               capture_output=True, text=True, timeout=30, check=False)

    if outcome == "error":
        assert completed.returncode != 0, f"expected an error, got: {completed.stdout[:500]}"
        assert completed.stdout == ""
        if case["error"] is not True:
            assert case["error"] in completed.stderr, completed.stderr
        return
    assert completed.returncode == 0, completed.stderr
    if outcome == "output_text":
        assert completed.stdout == case["output_text"]
    elif outcome == "output":
        assert single_value(completed.stdout) == case["output"]
    else:
        output = single_value(completed.stdout)
        filters = list(case["expect"])
        projection = "[" + ", ".join(f"[{f}]" for f in filters) + "]"
        projected = subprocess.run(["jq", "-c", projection], input=json.dumps(output), capture_output=True,
                                   text=True, timeout=30, check=True).stdout
        got = dict(zip(filters, (values[0] if len(values) == 1 else values for values in json.loads(projected))))
        assert got == case["expect"]


@pytest.mark.parametrize("table", TABLES, ids=[t.relative_to(ROOT).as_posix() for t in TABLES])
def test_each_table_names_its_program_and_each_case_one_outcome(table):
    spec = load(table)
    names = [case["name"] for case in spec["cases"]]

    assert program_of(table).is_file() and spec["program"] == program_of(table).name
    assert len(names) == len(set(names)), "case names must be unique within a table"
    for case in spec["cases"]:
        assert sum(key in case for key in OUTCOMES) == 1, case["name"]


@pytest.mark.parametrize("normalize", sorted(ROOT.glob("scans/*/normalize.jq")),
                         ids=lambda p: p.parent.name)
def test_every_scan_normalize_program_is_tested_on_valid_wrong_shape_and_truncated_input(normalize):
    table = normalize.parent / "tests" / "normalize.cases.json"
    assert table.is_file(), f"{table.relative_to(ROOT)} is missing"
    spec = load(table)

    assert any("output" in c and c["output"] != [] for c in spec["cases"]), "no case of a valid report with findings"
    assert any("input" in c and "error" in c for c in spec["cases"]), "no case of a report of the wrong shape"
    assert any("input_text" in c and "error" in c for c in spec["cases"]), "no case of a truncated report"
