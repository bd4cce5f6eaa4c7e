"""Documented placeholders and lock-file digests are no findings (scripts/lib/placeholders.py), in both secret engines.

The unit cases build every value at run time (a provider's prefix and random characters; AWS's documented example
pair comes from placeholders.py), so that this file holds none whole. The end-to-end case runs the real detect-secrets and
kingfisher scans on a fixture tree: the placeholders pass both, the same providers' real-format random tokens fail.
"""

from __future__ import annotations

import secrets
import string

import pytest

from placeholders import AWS_EXAMPLE_KEY_ID, AWS_EXAMPLE_SECRET_KEY, is_digest_line, is_placeholder
from support.gate import run_gate
from support.projects import git_commit_all, write_tree

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


AWS_EXAMPLE_ID, AWS_EXAMPLE_SECRET = AWS_EXAMPLE_KEY_ID, AWS_EXAMPLE_SECRET_KEY

PLACEHOLDERS = [
    AWS_EXAMPLE_ID, AWS_EXAMPLE_SECRET, "sk_live_" + "x" * 24, "ghp_" + "x" * 36, "AKIA" + "X" * 16,
    "xoxb-" + "0" * 12 + "-" + "0" * 13 + "-" + "x" * 24, "dop_v1_" + "0" * 64, "*" * 12,
    "YOUR_API_KEY", "your-token-here", "<api-key>", "${API_KEY}", "{{ api_key }}", "$DB_PASSWORD",
    "postgres://app:${DB_PASSWORD}@db:5432/app", "changeme", "change-me", "CHANGE_ME", "replace_me", "changeme123",
    # user:password@host in documentation; a field's name a keyword rule took for its value (Django's forms).
    "password", "secret", "password1", "usable_password", "api_key_field", "django-insecure-",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_documented_placeholders_are_placeholders(value):
    assert is_placeholder(value)
    assert is_placeholder(f'"{value}"')


def real_tokens() -> list[str]:
    return ["ghp_" + rand(36), "sk_live_" + rand(24), "AKIA" + rand(16, string.ascii_uppercase + "234567"),
            rand(40, ALNUM + "+/"), "dop_v1_" + rand(64, HEX), "xoxb-" + rand(12, string.digits) + "-"
            + rand(13, string.digits) + "-" + rand(24), "shpat_" + rand(32, HEX), rand(50, string.ascii_lowercase
                                                                                       + "!@#$%^&*(-_=+)"),
            "postgres://app:" + rand(16) + "@db:5432/app", rand(12), "Your" + rand(10)]


def test_real_format_random_tokens_are_not_placeholders():
    for _ in range(200):  # a random token must never look like one, whatever it draws
        for value in real_tokens():
            assert not is_placeholder(value), value[:8]


def test_words_are_placeholders_only_whole():
    assert not is_placeholder("changemeplease" + rand(12))
    assert not is_placeholder("hunter2" + rand(8))
    assert not is_placeholder("Password1!")  # a (weak) password, not the word
    assert not is_placeholder("supersecret" + rand(3, string.digits))
    assert not is_placeholder("my_password_" + rand(6))
    assert not is_placeholder("correct-horse-battery-staple-example")  # a passphrase that ends in a word


DIGEST = rand(64, HEX)
DIGEST_LINES = [
    ("requirements.txt", f"django==5.2 --hash=sha256:{DIGEST}"),
    ("pylock.toml", f'hashes = {{sha256 = "{DIGEST}"}}'),
    ("pylock.prod.toml", f'  "{DIGEST}",'),
    ("Pipfile.lock", f'                "sha256:{DIGEST}",'),
    ("Pipfile.lock", f'            "sha256": "{DIGEST}"'),
    ("poetry.lock", f'content-hash = "{DIGEST}"'),
    ("poetry.lock", f'    {{file = "x-1.0.tar.gz", hash = "sha256:{DIGEST}"}},'),
    ("deploy/Dockerfile", f"FROM python:3.12-slim@sha256:{DIGEST}"),
    (".pre-commit-config.yaml", f"    rev: {DIGEST[:40]}  # frozen: v1.2.0"),
    (".pre-commit-config.yaml", f"  - rev: '{DIGEST[:40]}'"),
    (".github/workflows/ci.yml", f"      - uses: actions/checkout@{DIGEST[:40]}"),
    ("package-lock.json", f'      "integrity": "sha512-{rand(86, ALNUM + "+/")}==",'),
]
OTHER_LINES = [
    ("config/settings.py", f'API_KEY = "{DIGEST}"'),
    (".env", f"STRIPE_KEY=sk_live_{rand(24)}"),
    (".pre-commit-config.yaml", f"    token: {DIGEST[:40]}"),
    ("poetry.lock", f'password = "{rand(20)}"'),
    ("config.yml", f"rev: {DIGEST[:40]}"),  # a rev: pin means one in .pre-commit-config.yaml only
    # Credentials in a URL are one, whatever digest stands beside them.
    ("uv.lock", f'wheels = [{{ url = "https://ci:{rand(24)}@pkgs.example.com/x.whl", hash = "sha256:{DIGEST}" }}]'),
]


# The ids name each case by its file and number: the values are random, and pytest-xdist's workers must collect the
# same tests.
@pytest.mark.parametrize(("path", "line"), DIGEST_LINES, ids=[f"{p}-{n}" for n, (p, _) in enumerate(DIGEST_LINES)])
def test_lock_file_digests_and_commit_pins_are_digest_lines(path, line):
    assert is_digest_line(path, line)


@pytest.mark.parametrize(("path", "line"), OTHER_LINES, ids=[f"{p}-{n}" for n, (p, _) in enumerate(OTHER_LINES)])
def test_secrets_and_other_files_lines_are_not_digest_lines(path, line):
    assert not is_digest_line(path, line)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A project with the placeholders in realistic files, and the same providers' real-format random tokens."""
    root = tmp_path_factory.mktemp("placeholders-project")
    real = {
        "deploy/real-aws.env": f"AWS_ACCESS_KEY_ID=AKIA{rand(16, string.ascii_uppercase + '234567')}\n"
                               f"AWS_SECRET_ACCESS_KEY={rand(40, ALNUM + '+/')}\n",
        "deploy/real-github.env": f"GITHUB_TOKEN=ghp_{rand(36)}\n",
        "deploy/real-stripe.env": f"STRIPE_SECRET_KEY=sk_live_{rand(24)}\n",
    }
    fake = {
        "deploy/example-aws.env": f"AWS_ACCESS_KEY_ID={AWS_EXAMPLE_ID}\nAWS_SECRET_ACCESS_KEY={AWS_EXAMPLE_SECRET}\n",
        "deploy/example-github.env": "GITHUB_TOKEN=ghp_" + "x" * 36 + "\n",
        "deploy/example-stripe.env": "STRIPE_SECRET_KEY=sk_live_" + "x" * 24 + "\n",
        "config/example.json": '{\n  "api_key": "YOUR_API_KEY",\n  "password": "<password>"\n}\n',  # pragma: allowlist secret
        "docker-compose.yml": "services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n",
        "pylock.toml": f'[[packages]]\nname = "django"\nhashes = {{sha256 = "{DIGEST}"}}\n',
        ".pre-commit-config.yaml": f"repos:\n  - repo: https://github.com/example/hooks\n    rev: {DIGEST[:40]}\n",
        "apps/views.py": "def index():\n    return 'ok'\n",
    }
    write_tree(root, real | fake)
    git_commit_all(root, "planted")
    reports = tmp_path_factory.mktemp("placeholders-reports")
    run = run_gate("security-code", root, reports, {"SECURITY_CACHE": "off"},
                   scans=("detect-secrets", "kingfisher"))  # both engines at once, each its own result
    return run, real, fake


@pytest.mark.parametrize("scan", ["detect-secrets", "kingfisher"])
def test_a_placeholder_passes_both_engines_while_a_real_token_of_its_provider_fails(planted, scan):
    run, real, fake = planted
    assert run.rc == 1, run.output
    result = run.result(scan)
    reported = {f["location"]["path"] for key in ("findings", "below_threshold", "suppressed") for f in result[key]}
    assert set(real) <= reported, (scan, reported)
    assert not reported & set(fake), (scan, reported & set(fake))
    assert f"[{scan}]" in run.output and "dropped" in run.output
    for text in real.values():
        for line in text.splitlines():
            assert line.split("=", 1)[1] not in run.output
