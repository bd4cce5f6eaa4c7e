"""The recall benchmark's corpus on a small slice, through the real engines (make bench BENCH_ONLY=recall runs it whole).

scripts/lib/recall_corpus.py builds, at run time, real-format secrets of a few provider classes (the ones issue 29
found missed: a class that only the gate's own rules or only one engine finds is in the slice), its placeholder
files, and a few clean files of the installed Django package; the gate (detect-secrets and kingfisher through
scripts/run-gate.sh, findings merged as its reports merge them) must find each class and report no placeholder.
The gate's rule for passwords in environment files (scans/kingfisher/rules/gate.yml, gate.env.password), which the
benchmark showed detect-secrets alone misses for some values, has its own positive and negative cases here.
"""

from __future__ import annotations

import secrets
import string

import pytest

import recall_bench
from support.gate import run_scan
from support.projects import git_commit_all, write_tree

SLICE = [
    "Slack app-level token (xapp-)",  # kingfisher alone (detect-secrets missed it)
    "Databricks token (dapi)",
    "AWS access key ID",  # detect-secrets alone (kingfisher wants the secret key beside it)
    "Discord webhook URL",  # the gate's own rule
    "Django SECRET_KEY",  # the gate's own rule, with ^%(*# characters
    "Password in .env",
]


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    work = tmp_path_factory.mktemp("recall")
    repo, corpus, _ = recall_bench.make_corpus(work, classes=SLICE, clean_limit=12, per_class=2)
    found = recall_bench.run_engines(repo, work, which=("gate",))["gate"][0]
    return corpus, recall_bench.score(corpus, found), work


def test_the_slice_holds_each_class_and_the_placeholders(measured):
    corpus, _, _ = measured
    assert corpus.classes == [c.name for c in recall_bench.recall_corpus.CLASSES if c.name in SLICE]
    assert len(corpus.secrets) == 2 * len(SLICE)
    assert len(corpus.placeholders) >= 8


def test_the_gate_finds_each_class_of_the_slice(measured):
    _, score, _ = measured
    assert {cls: hits for cls, (hits, _) in score["per_class"].items() if not hits} == {}, score["missed"]


def test_the_gate_reports_no_placeholder(measured):
    _, score, _ = measured
    assert score["placeholders"] == []


def test_the_gate_prints_no_value_of_the_corpus(measured):
    corpus, _, work = measured
    output = (work / "gate.log").read_text()
    for label in corpus.secrets:
        text = (work / "recall" / label.path).read_text().splitlines()[label.first - 1]
        value = text.split("=", 1)[-1].split(":", 1)[-1].strip().strip('"')
        assert value not in output, label.path


def rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@pytest.fixture(scope="module")
def env_passwords(tmp_path_factory):
    root = tmp_path_factory.mktemp("env-password")
    symbols = "*%!@+"
    positives = {
        "deploy/.env": ("DEBUG=false\nDB_PASSWORD={v}\n", rand(12) + rand(3, symbols) + "e"),
        "deploy/worker.sh": ('#!/bin/sh\nexport REDIS_PASS="{v}"\nexec worker\n', rand(14) + rand(2, symbols)),
        "deploy/mail.env": ("SMTP_PWD='{v}'\n", rand(10) + rand(2, symbols)),
    }
    negatives = {
        "deploy/ref.env": "DB_PASSWORD=${DB_PASSWORD}\nexport ADMIN_PASSWORD=\"$(cat /run/secrets/admin)\"\n",
        "deploy/example.env": "DB_PASSWORD=changeme\nSMTP_PASSWORD=<password>\n",
        "config/settings.py": "PASSWORD_RESET_TIMEOUT = 259200\nAUTH_PASSWORD_VALIDATORS = [\n]\n",
        "deploy/lower.env": f"db_password = {rand(4)}\n",  # short, lower case: not this rule's
    }
    write_tree(root, {p: t.format(v=v) for p, (t, v) in positives.items()} | negatives)
    git_commit_all(root, "env passwords")
    reports = tmp_path_factory.mktemp("env-password-reports")
    run = run_scan("kingfisher", root, reports, {"SECURITY_CACHE": "off"})
    return run, positives, negatives


def test_a_password_assigned_in_an_env_file_or_shell_script_fails_naming_its_file(env_passwords):
    run, positives, _ = env_passwords
    assert run.rc == 1, run.output
    found = {f["location"]["path"]: f for f in run.result("kingfisher")["findings"]}
    for path in positives:
        assert found[path]["id"] == "gate.env.password", (path, found.get(path))
    for _, value in positives.values():
        assert value not in run.output


def test_references_placeholders_and_settings_names_are_no_env_password(env_passwords):
    run, _, negatives = env_passwords
    result = run.result("kingfisher")
    listed = {f["location"]["path"] for key in ("findings", "below_threshold", "suppressed") for f in result[key]}
    assert not listed & set(negatives), listed & set(negatives)
