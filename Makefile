# The security gate's front door: `make help` lists the targets.
# Tunables are environment variables read by the scripts; each script's header names the ones it reads, with
# the default and meaning, and `make help` prints them from there.
# `make security-code BANDIT_TARGETS=src` and `BANDIT_TARGETS=src make security-code` both work.
# Variables (`make help` prints these lines; the format is in scripts/help.sh):
#   ADVISORY_MIRROR_PORT=8686  the port make advisory-mirror listens on
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

VENV := .venv
SYNCED := $(VENV)/.synced
# The scans of each gate: each word names a unit, scans/<word>/run.sh with its programs (README: Layout).
CODE_SCANS := pip-audit bandit detect-secrets kingfisher
DOCKER_SCANS := trivy
# Extra arguments for pytest: `make test ARGS="-k cache -x"`.
ARGS ?=

# The locked tools first on PATH, then uv wherever bootstrap found or installed it.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/.tools/uv/bin:$(PATH)

.PHONY: help setup security-code security-docker secrets-baseline test uv-cache-prune bench advisory-mirror clean forget-verdict-security-code forget-verdict-security-docker

help: ## List the targets and the variables that tune them
	@scripts/help.sh

setup: $(SYNCED) ## Install uv (when missing) and every tool pinned in uv.lock into .venv

$(SYNCED): uv.lock pyproject.toml scripts/uv-requirements.txt
	@scripts/bootstrap.sh && touch $@

# make exits 0 or 2 (any failed recipe); the gate's own 0 pass / 1 findings / 2 error is in
# SECURITY_REPORT_DIR/<gate>.verdict.json: `scripts/verdict.sh <gate>` prints it and exits with it.
# forget-verdict-<gate> comes first, so a run that setup stops leaves an "error" verdict, never an old pass.
security-code: forget-verdict-security-code $(SYNCED) ## Run the code scans (CODE_SCANS) on PROJECT_DIR (make: 0 pass, 2 otherwise; see scripts/verdict.sh)
	@scripts/run-gate.sh security-code $(CODE_SCANS)

security-docker: forget-verdict-security-docker $(SYNCED) ## Build the image (or take IMAGE / IMAGE_TAR) and run the image scans (DOCKER_SCANS) on it
	@scripts/run-gate.sh security-docker $(DOCKER_SCANS)

secrets-baseline: $(SYNCED) ## Record every current secret finding of the tree and the history (SECRETS_SINCE; all: every commit) in .security-secrets-adopted.json, to review and commit: then only new secrets fail
	@scripts/secrets-baseline.sh

forget-verdict-security-code forget-verdict-security-docker:
	@scripts/verdict.sh --forget $(@:forget-verdict-%=%)

test: $(SYNCED) ## Run the test suite (real scanners on fixture trees), shellcheck, hadolint, zizmor; ARGS go to pytest
	@scripts/test.sh $(ARGS)

uv-cache-prune: ## Prune uv's cache (UV_CACHE_DIR) before CI saves it: uv cache prune --ci
	@uv cache prune --ci

bench: $(SYNCED) ## Time the gate (cold, warm, one file changed) against the tools by hand on Django's source; then hook, warm gate and a 50-commit range on five copies (BENCH_ONLY=change: only those; BENCH_ONLY=history: the full-history secret scan against kingfisher's; BENCH_ONLY=recall: the secret engines' recall)
	@scripts/bench.sh

advisory-mirror: $(SYNCED) ## Serve PIP_AUDIT_ADVISORY_DB (pypa/advisory-database checkout or OSV all.zip) as an OSV API on 127.0.0.1
	@scripts/advisory-mirror.py --port "$${ADVISORY_MIRROR_PORT:-8686}" "$${PIP_AUDIT_ADVISORY_DB:?set PIP_AUDIT_ADVISORY_DB to a checkout of pypa/advisory-database or an OSV all.zip}"

clean: ## Remove reports and caches made by the gate and the tests (keeps .venv)
	rm -rf reports .cache .pytest_cache
