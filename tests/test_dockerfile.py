"""The image definition: deploy/docker/Dockerfile, .dockerignore and docker-compose.yml.

No container engine runs here: hadolint lints the Dockerfile, the structure is
checked instruction by instruction, and the image's CMD and HEALTHCHECK are run
with the locked gunicorn from .venv against the real Django project.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from support.engine import BASE_SUITE

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
VENV_BIN = REPO_ROOT / ".venv" / "bin"

DIGEST_PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


@dataclass
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest of the logical line, continuations joined
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/HEALTHCHECK CMD, else None."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = re.sub(r"^(--\S+\s+)*CMD\s+", "", text)
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) else None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into stages of instructions (comments dropped, continuations joined)."""
    stages: list[Stage] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        logical = " ".join(part for part in pending if part)
        pending = []
        keyword, _, args = logical.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip(), start)
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif stages:
            stages[-1].instructions.append(instruction)
    assert not pending, "Dockerfile ends inside a line continuation"
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


# --------------------------------------------------------------------------- lint


def test_hadolint_reports_nothing_on_the_dockerfile() -> None:
    completed = subprocess.run(
        [str(VENV_BIN / "hadolint"), "--no-color", "--format", "json", "--failure-threshold", "style",
         str(DOCKERFILE.relative_to(REPO_ROOT))],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert json.loads(completed.stdout or "null") == [], completed.stdout + completed.stderr
    assert completed.returncode == 0, completed.stderr


# --------------------------------------------------------------------------- structure


def test_build_is_multi_stage_and_the_runtime_copies_from_the_build(stages: list[Stage], final: Stage) -> None:
    assert len(stages) >= 2
    earlier = {stage.name for stage in stages[:-1]}
    copied_from = {
        match.group(1)
        for copy in final.all("COPY")
        for match in [re.search(r"--from=(\S+)", copy.args)]
        if match
    }
    assert copied_from and copied_from <= earlier


def test_every_from_is_pinned_by_sha256_digest(stages: list[Stage]) -> None:
    names = {stage.name for stage in stages if stage.name}
    for stage in stages:
        if stage.base in names:  # FROM an earlier stage
            continue
        assert DIGEST_PINNED.match(stage.base), f"FROM {stage.base} is not pinned by digest"


def test_both_stages_start_from_one_python_312_slim_base_of_the_debian_release_the_image_test_builds(
        stages: list[Stage]) -> None:
    """A tag Dependabot can move (python:3.12.N-slim-<suite>) with its digest; the end-to-end test's stand-in base
    (tests/support/engine.py, BASE_SUITE) is of the same Debian release."""
    bases = {stage.base for stage in stages if DIGEST_PINNED.match(stage.base)}
    assert len(bases) == 1, bases
    (base,) = bases
    assert re.fullmatch(rf"python:3\.12\.\d+-slim-{BASE_SUITE}@sha256:[0-9a-f]{{64}}", base), base


def test_final_stage_runs_as_a_non_root_user(final: Stage) -> None:
    users = final.all("USER")
    assert users, "the final stage has no USER"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0", ""}


def test_final_stage_has_a_healthcheck_on_healthz_without_curl(final: Stage) -> None:
    (check,) = final.all("HEALTHCHECK")
    command = check.exec_form()
    assert command, "HEALTHCHECK must use the exec form"
    assert command[0] == "python"
    assert "urllib.request" in command[-1]
    assert "127.0.0.1:8000/healthz/" in command[-1]
    assert not re.search(r"\b(curl|wget)\b", check.args)


def test_final_stage_serves_the_wsgi_app_with_gunicorn_on_port_8000(final: Stage) -> None:
    (cmd,) = final.all("CMD")
    command = cmd.exec_form()
    assert command and command[0] == "gunicorn"
    assert command[command.index("--bind") + 1] == "0.0.0.0:8000"
    assert command[-1] == "config.wsgi:application"
    assert any(expose.args.split() == ["8000"] for expose in final.all("EXPOSE"))


def test_final_stage_sets_python_runtime_environment(final: Stage) -> None:
    env = " ".join(instruction.args for instruction in final.all("ENV"))
    assert re.search(r"\bPYTHONDONTWRITEBYTECODE=1\b", env)
    assert re.search(r"\bPYTHONUNBUFFERED=1\b", env)


def test_final_stage_installs_nothing(final: Stage) -> None:
    run = " ".join(instruction.args for instruction in final.all("RUN"))
    assert not re.search(r"\b(apt-get|apt|apk|dnf|yum)\s+install\b", run)
    assert not re.search(r"\bpip\s+install\b", run)
    assert not re.search(r"\buv\s+(sync|pip|add)\b", run)
    assert not re.search(r"\b(gcc|build-essential|make)\b", run)
    assert not final.all("ADD")


def test_dependencies_come_from_uv_lock_with_hash_pinned_uv(stages: list[Stage]) -> None:
    build = stages[0]
    run = " ".join(instruction.args for instruction in build.all("RUN"))
    assert re.search(r"pip install .*--require-hashes -r \S*uv-requirements\.txt", run)
    sync = re.search(r"uv sync(?P<flags>[^&;]*)", run)
    assert sync, "the build stage does not run uv sync"
    assert {"--frozen", "--no-dev", "--no-install-project"} <= set(sync.group("flags").split())
    copied = " ".join(instruction.args for instruction in build.all("COPY"))
    assert "scripts/uv-requirements.txt" in copied and "uv.lock" in copied


def test_image_definition_carries_no_secrets(stages: list[Stage]) -> None:
    for stage in stages:
        for instruction in stage.instructions:
            if instruction.keyword in {"ENV", "ARG"}:
                assert not re.search(r"(SECRET|PASSWORD|TOKEN|API_KEY)\w*=", instruction.args, re.I), instruction
            if instruction.keyword in {"COPY", "ADD"}:
                assert not re.search(r"(^|\s|/)\.env\b", instruction.args), instruction
                assert not re.search(r"(^|\s)\.(\s|$)", instruction.args), "COPY . copies the whole context"


# --------------------------------------------------------------------------- run the CMD and HEALTHCHECK


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port: int, server: subprocess.Popen[str], timeout: float) -> None:
    """Return once 127.0.0.1:port accepts connections; fail if the server exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited before listening"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            if client.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def test_image_command_serves_healthz_and_the_healthcheck_passes(final: Stage, tmp_path: Path) -> None:
    port = _free_port()
    cmd = final.all("CMD")[0].exec_form()
    health = final.all("HEALTHCHECK")[0].exec_form()
    assert cmd and health
    cmd = [str(VENV_BIN / cmd[0]), *(f"127.0.0.1:{port}" if arg == "0.0.0.0:8000" else arg for arg in cmd[1:])]
    assert f"127.0.0.1:{port}" in cmd
    probe = health[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    # The image's user has no home directory; a HOME that is a file is unusable even for root.
    home = tmp_path / "no-home"
    home.write_text("")
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "service.example.com",
        "DATABASE_PATH": str(tmp_path / "db.sqlite3"),
    }
    server = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_port(port, server, timeout=20)
        check = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=10, check=False)
        assert check.returncode == 0, f"health check failed: {check.stderr}"
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=20)
    assert "ERROR" not in log, log


# --------------------------------------------------------------------------- .dockerignore


def _dockerignore_regex(pattern: str) -> re.Pattern[str]:
    """Translate one .dockerignore pattern (Go filepath.Match plus **) to a regex."""
    pattern = pattern.strip("/")
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def dockerignore_excludes(path: str, rules: list[str]) -> bool:
    """Whether the build context leaves path out: the last matching rule wins, and a
    rule matching a parent directory covers everything under it."""
    parents = ["/".join(path.split("/")[: n + 1]) for n in range(path.count("/") + 1)]
    excluded = False
    for rule in rules:
        negated = rule.startswith("!")
        regex = _dockerignore_regex(rule[1:] if negated else rule)
        if any(regex.fullmatch(candidate) for candidate in parents):
            excluded = not negated
    return excluded


@pytest.fixture(scope="module")
def dockerignore_rules() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize(
    "path",
    [".git/config", ".venv/bin/python", ".env", ".env.production", "reports/security/trivy.json",
     "tests/test_dockerfile.py", "node_modules/x/index.js", "apps/health/__pycache__/views.cpython-312.pyc",
     ".pytest_cache/v/cache/nodeids", "db.sqlite3"],
)
def test_dockerignore_keeps_out(dockerignore_rules: list[str], path: str) -> None:
    assert dockerignore_excludes(path, dockerignore_rules)


@pytest.mark.parametrize(
    "path",
    [".env.sample", "manage.py", "config/wsgi.py", "apps/health/views.py", "pyproject.toml", "uv.lock",
     "scripts/uv-requirements.txt", "deploy/docker/Dockerfile"],
)
def test_dockerignore_lets_in(dockerignore_rules: list[str], path: str) -> None:
    assert not dockerignore_excludes(path, dockerignore_rules)


def test_every_path_the_dockerfile_copies_is_in_the_build_context(
    stages: list[Stage], dockerignore_rules: list[str]
) -> None:
    for stage in stages:
        for copy in stage.all("COPY"):
            if "--from=" in copy.args:
                continue
            sources = [w for w in shlex.split(copy.args) if not w.startswith("--")][:-1]
            for source in sources:
                assert (REPO_ROOT / source).exists(), source
                assert not dockerignore_excludes(source, dockerignore_rules), source


# --------------------------------------------------------------------------- docker-compose.yml


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    completed = subprocess.run(
        [str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_compose_builds_the_dockerfile_with_env_file_on_port_8000() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    (service,) = services.values()
    build = service["build"]
    assert (REPO_ROOT / build["context"]).resolve() == REPO_ROOT
    assert (REPO_ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    env_files = service["env_file"]
    assert ".env" in ([env_files] if isinstance(env_files, str) else env_files)
    assert any(str(port).endswith(":8000") for port in service["ports"])
