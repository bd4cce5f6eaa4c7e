"""The Django service: settings from the environment, production hardening, /healthz/.

In-process tests load the production settings once (module fixture) and talk to the app
through django.test.Client. Start-up behaviour is tested in subprocesses with a clean
environment, since Django settings can only be loaded once per process.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PUBLIC_HOST = "service.example.com"
# What a container HEALTHCHECK sends: python -c "urllib.request.urlopen('http://127.0.0.1:8000/healthz/')"
LOOPBACK_HOST = "127.0.0.1:8000"


def production_env(**extra: str) -> dict[str, str]:
    """A clean environment with production settings; a fresh random key each call."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",  # leave no __pycache__ in the repo
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": PUBLIC_HOST,
    }
    env.update(extra)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python -c code` from the repo root with exactly `env`."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


LOAD_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'key': s.SECRET_KEY, 'hosts': s.ALLOWED_HOSTS, "
    "'ssl_redirect': getattr(s, 'SECURE_SSL_REDIRECT', False), 'db': s.DATABASES['default']['NAME']}))"
)


def load_settings(env: dict[str, str]) -> dict:
    proc = run_python(LOAD_SETTINGS, env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """A test client for the app loaded with production settings in this process."""
    import django
    from django.conf import settings

    env = production_env()
    del env["PATH"], env["PYTHONDONTWRITEBYTECODE"]
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(REPO_ROOT))
        mp.delenv("DJANGO_DEBUG", raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        if settings.configured:  # another test module loaded Django first
            pytest.skip("Django settings were already loaded in this process")
        django.setup()
        assert settings.DEBUG is False
        assert settings.SECURE_SSL_REDIRECT is True

        from django.test import Client

        yield Client()


def test_healthz_answers_200_json_over_plain_http_on_loopback(client) -> None:
    response = client.get("/healthz/", HTTP_HOST=LOOPBACK_HOST)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_answers_on_the_public_host_too(client) -> None:
    response = client.get("/healthz/", HTTP_HOST=PUBLIC_HOST, secure=True)

    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


def test_healthz_answers_head(client) -> None:
    assert client.head("/healthz/", HTTP_HOST=LOOPBACK_HOST).status_code == 200


def test_healthz_refuses_post(client) -> None:
    assert client.post("/healthz/", HTTP_HOST=LOOPBACK_HOST).status_code == 405


def test_plain_http_is_redirected_to_https_except_healthz(client) -> None:
    response = client.get("/anything/", HTTP_HOST=PUBLIC_HOST)

    assert response.status_code == 301
    assert response["Location"] == f"https://{PUBLIC_HOST}/anything/"


def test_proxy_forwarded_https_is_trusted_and_gets_hsts(client) -> None:
    response = client.get("/healthz/", HTTP_HOST=PUBLIC_HOST, HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_unknown_host_is_rejected(client) -> None:
    assert client.get("/healthz/", HTTP_HOST="evil.example.net").status_code == 400


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_required_variable(missing: str) -> None:
    env = production_env()
    del env[missing]

    proc = run_python("import django; django.setup()", env)

    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr
    assert f"{missing} must" in proc.stderr


def test_production_refuses_blank_allowed_hosts() -> None:
    proc = run_python("import django; django.setup()", production_env(DJANGO_ALLOWED_HOSTS=" , "))

    assert proc.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must" in proc.stderr


def test_bare_debug_variable_does_not_switch_off_production() -> None:
    env = production_env(DEBUG="1")
    del env["DJANGO_SECRET_KEY"]

    proc = run_python("import django; django.setup()", env)

    assert proc.returncode != 0
    assert "DJANGO_SECRET_KEY must" in proc.stderr


@pytest.mark.parametrize(("value", "debug"), [("ON", True), ("0", False), ("ture", False)])
def test_debug_is_on_only_when_django_debug_is_truthy(value: str, debug: bool) -> None:
    assert load_settings(production_env(DJANGO_DEBUG=value))["debug"] is debug


def test_debug_mode_starts_without_variables_and_generates_a_key_per_process() -> None:
    env = production_env(DJANGO_DEBUG="True")
    del env["DJANGO_SECRET_KEY"], env["DJANGO_ALLOWED_HOSTS"]

    first = load_settings(env)
    second = load_settings(env)

    assert first["debug"] is True
    assert first["ssl_redirect"] is False
    assert len(first["key"]) >= 50
    assert first["key"] != second["key"]


def test_production_allows_public_hosts_plus_loopback_for_the_healthcheck() -> None:
    loaded = load_settings(production_env(DJANGO_ALLOWED_HOSTS="a.example.com, b.example.com"))

    assert loaded["hosts"] == ["a.example.com", "b.example.com", "localhost", "127.0.0.1", "[::1]"]


def test_database_path_comes_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "service.sqlite3"

    assert load_settings(production_env(DATABASE_PATH=str(db)))["db"] == str(db)


def test_check_deploy_passes_with_production_env() -> None:
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


def test_check_deploy_fails_with_a_weak_secret_key() -> None:
    """Guards the test above: check --deploy does look at the key we pass."""
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=production_env(DJANGO_SECRET_KEY="short"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode != 0
    assert "security.W009" in proc.stderr + proc.stdout


def test_env_sample_lists_every_variable_settings_reads() -> None:
    settings_src = (REPO_ROOT / "config" / "settings.py").read_text()
    sample = (REPO_ROOT / ".env.sample").read_text()
    sample_vars = {line.split("=", 1)[0] for line in sample.splitlines()
                   if line and not line.startswith("#") and "=" in line}

    read_vars = set(re.findall(r'env_\w+\("([A-Z_]+)"\)|os\.environ\.get\("([A-Z_]+)"', settings_src))
    read_vars = {a or b for a, b in read_vars}

    assert read_vars, "no variables found: the pattern no longer matches settings.py"
    assert read_vars <= sample_vars, read_vars - sample_vars
