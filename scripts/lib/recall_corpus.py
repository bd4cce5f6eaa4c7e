"""Summary: the recall benchmark's labelled corpus, built at run time: real-format secrets in realistic files, and placeholders.
Usage: from recall_corpus import CLASSES, build      (scripts/lib/recall_bench.py: make bench BENCH_ONLY=recall;
       corpus = build(root, classes=None)            tests/test_recall.py builds a slice of it)
       python3 scripts/lib/recall_corpus.py DIR      (writes the corpus into DIR and prints its labels as JSON)

Every secret is assembled now from its provider's documented format (prefix, length, alphabet, a GitHub token's
CRC32 checksum) and random characters, or made now by openssl or ssh-keygen (private keys): none is stored anywhere,
none is live. Each class has PER_CLASS secrets, each alone in a realistic file (.env, settings.py,
docker-compose.yml, JSON, INI, shell, PEM, .npmrc, .pypirc, ...) under services/CLASS-N/, among ordinary settings;
a label names its class, file and the lines it spans. PLACEHOLDERS are files of the documented placeholders
(AWS's example key pair, sk_live_xxxx..., ghp_xxxx..., YOUR_API_KEY, <...>, ${...}, {{...}}, changeme) under
examples/: no engine of the gate may report them (scripts/lib/placeholders.py).
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import subprocess
import sys
import tempfile
import uuid
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from placeholders import AWS_EXAMPLE_KEY_ID, AWS_EXAMPLE_SECRET_KEY

ALNUM = string.ascii_letters + string.digits
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
HEX = "0123456789abcdef"
UPPER = string.ascii_uppercase + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
PER_CLASS = 4
FORMATS = ("env", "py", "compose", "json", "ini", "sh")


def rand(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def github(prefix: str) -> str:
    """A GitHub token: prefix, 30 random base62 characters, their CRC32 in base62 (6 characters, zero-padded)."""
    body = rand(30)
    crc, digits = zlib.crc32(body.encode()), ""
    while crc:
        crc, d = divmod(crc, 62)
        digits = BASE62[d] + digits
    return prefix + body + digits.rjust(6, "0")


def password(symbols: str = "!%*+@") -> str:
    """A password as a password manager makes them (letters, digits, a few symbols, shuffled)."""
    chars = list(rand(6, string.ascii_lowercase) + rand(4, string.digits) + rand(2, symbols) + rand(6, string.ascii_uppercase))
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def url_password() -> str:
    """A password in a URL: of URL-safe characters (RFC 3986's unreserved), as one must write it there unencoded."""
    return password("-_.~")


def db_url(scheme: str, user: str, where: str) -> str:
    """A URL of SCHEME with USER and a password made now before WHERE (its host, port and path)."""
    return scheme + "://" + user + ":" + url_password() + "@" + where


def django_key() -> str:
    """A key as django-admin startproject makes them: 51 of its characters, ^%(*# among them."""
    chars = list(rand(46, string.ascii_lowercase + string.digits + "!@$&-_=+)") + "^%(*#")
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def openssl(*args: str) -> str:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, text=True).stdout


def rsa_key() -> str:
    return openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")


def ec_key() -> str:
    return openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout")


def openssh_key() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "deploy@build", "-f", f"{tmp}/k"],
                       check=True, capture_output=True)
        return Path(tmp, "k").read_text()


def jwt() -> str:
    head = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps({"sub": rand(8, string.digits), "name": "svc",
                                                "iat": 1700000000}).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{rand(43, URLSAFE)}"


@dataclass(frozen=True)
class Class:
    name: str  # what the benchmark prints
    var: str  # the setting's name in the files
    make: Callable[[], str]
    formats: tuple[str, ...] = FORMATS


# The provider classes: their documented formats. Each makes PER_CLASS secrets, in its formats in turn.
CLASSES = (
    Class("AWS access key ID", "AWS_ACCESS_KEY_ID", lambda: "AKIA" + rand(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")),
    Class("AWS secret access key", "AWS_SECRET_ACCESS_KEY", lambda: rand(40, B64)),
    Class("GitHub personal access token (ghp_)", "GITHUB_TOKEN", lambda: github("ghp_")),
    Class("GitHub OAuth token (gho_)", "GH_OAUTH_TOKEN", lambda: github("gho_")),
    Class("GitHub app token (ghs_)", "GH_APP_TOKEN", lambda: github("ghs_")),
    Class("GitHub fine-grained token (github_pat_)", "GITHUB_PAT",
          lambda: f"github_pat_11{rand(20, UPPER)}_{rand(59)}"),
    Class("GitLab personal access token (glpat-)", "GITLAB_TOKEN", lambda: "glpat-" + rand(20, URLSAFE)),
    Class("Slack bot token (xoxb-)", "SLACK_BOT_TOKEN",
          lambda: f"xoxb-{rand(12, string.digits)}-{rand(13, string.digits)}-{rand(24)}"),
    Class("Slack user token (xoxp-)", "SLACK_USER_TOKEN",
          lambda: f"xoxp-{rand(12, string.digits)}-{rand(12, string.digits)}-{rand(13, string.digits)}-{rand(32, HEX)}"),
    Class("Slack app-level token (xapp-)", "SLACK_APP_TOKEN",
          lambda: f"xapp-1-A{rand(10, UPPER)}-{rand(13, string.digits)}-{rand(64, HEX)}"),
    Class("Slack webhook URL", "SLACK_WEBHOOK_URL",
          lambda: f"https://hooks.slack.com/services/T{rand(10, UPPER)}/B{rand(10, UPPER)}/{rand(24)}"),
    Class("Stripe live secret key (sk_live_)", "STRIPE_SECRET_KEY", lambda: "sk_live_" + rand(99)),
    Class("Stripe restricted key (rk_live_)", "STRIPE_RESTRICTED_KEY", lambda: "rk_live_" + rand(99)),
    Class("Databricks token (dapi)", "DATABRICKS_TOKEN", lambda: "dapi" + rand(32, HEX)),
    Class("Shopify access token (shpat_)", "SHOPIFY_ACCESS_TOKEN", lambda: "shpat_" + rand(32, HEX)),
    Class("Shopify shared secret (shpss_)", "SHOPIFY_SHARED_SECRET", lambda: "shpss_" + rand(32, HEX)),
    Class("DigitalOcean token (dop_v1_)", "DIGITALOCEAN_TOKEN", lambda: "dop_v1_" + rand(64, HEX)),
    Class("Discord webhook URL", "DISCORD_WEBHOOK_URL",
          lambda: f"https://discord.com/api/webhooks/{rand(19, string.digits)}/{rand(68, URLSAFE)}"),
    Class("Discord bot token", "DISCORD_BOT_TOKEN",
          lambda: f"M{rand(23)}.{rand(6, URLSAFE)}.{rand(38, URLSAFE)}"),
    Class("Square access token (EAAA)", "SQUARE_ACCESS_TOKEN", lambda: "EAAA" + rand(60, URLSAFE)),
    Class("Square OAuth secret (sq0csp-)", "SQUARE_OAUTH_SECRET", lambda: "sq0csp-" + rand(43, URLSAFE)),
    Class("Hugging Face token (hf_)", "HF_TOKEN", lambda: "hf_" + rand(34, string.ascii_letters)),
    Class("OpenAI API key", "OPENAI_API_KEY", lambda: f"sk-proj-{rand(20)}T3BlbkFJ{rand(20)}"),
    Class("Anthropic API key (sk-ant-)", "ANTHROPIC_API_KEY", lambda: f"sk-ant-api03-{rand(93, URLSAFE)}AA"),
    Class("Google API key (AIza)", "GOOGLE_API_KEY", lambda: "AIza" + rand(35, URLSAFE)),
    Class("npm token (npm_)", "NPM_TOKEN", lambda: "npm_" + rand(36), ("npmrc", "env", "sh", "npmrc")),
    Class("PyPI upload token (pypi-)", "PYPI_TOKEN",
          lambda: "pypi-AgEIcHlwaS5vcmc" + rand(70, URLSAFE), ("pypirc", "env", "sh", "pypirc")),
    Class("SendGrid API key (SG.)", "SENDGRID_API_KEY", lambda: f"SG.{rand(22, URLSAFE)}.{rand(43, URLSAFE)}"),
    Class("Twilio API key (SK)", "TWILIO_API_KEY", lambda: "SK" + rand(32, HEX)),
    Class("Mailchimp API key", "MAILCHIMP_API_KEY", lambda: f"{rand(32, HEX)}-us{rand(1, '123456789')}{rand(1, string.digits)}"),
    Class("Mailgun API key (key-)", "MAILGUN_API_KEY", lambda: "key-" + rand(32, HEX)),
    Class("Heroku API key", "HEROKU_API_KEY", lambda: str(uuid.uuid4())),
    Class("Telegram bot token", "TELEGRAM_BOT_TOKEN", lambda: f"{rand(10, string.digits)}:AA{rand(33, URLSAFE)}"),
    Class("Docker Hub token (dckr_pat_)", "DOCKERHUB_TOKEN", lambda: "dckr_pat_" + rand(27, URLSAFE)),
    Class("HashiCorp Vault token (hvs.)", "VAULT_TOKEN", lambda: "hvs.CAESI" + rand(86, URLSAFE)),
    Class("Grafana service account token (glsa_)", "GRAFANA_TOKEN", lambda: f"glsa_{rand(32)}_{rand(8, HEX)}"),
    Class("New Relic user key (NRAK-)", "NEW_RELIC_API_KEY", lambda: "NRAK-" + rand(27, UPPER)),
    Class("Postman API key (PMAK-)", "POSTMAN_API_KEY", lambda: f"PMAK-{rand(24, HEX)}-{rand(34, HEX)}"),
    Class("Azure storage connection string", "AZURE_STORAGE_CONNECTION_STRING",
          lambda: f"DefaultEndpointsProtocol=https;AccountName=acct{rand(6, string.ascii_lowercase)};"
                  f"AccountKey={rand(86, B64)}==;EndpointSuffix=core.windows.net"),
    Class("JSON Web Token", "AUTH_JWT", jwt),
    Class("PostgreSQL URL with a password", "DATABASE_URL",
          lambda: db_url("postgres", "app", "db.internal:5432/app")),
    Class("MySQL URL with a password", "MYSQL_URL", lambda: db_url("mysql", "svc", "mysql.internal:3306/shop")),
    Class("Redis URL with a password", "REDIS_URL", lambda: db_url("redis", "", "cache.internal:6379/0")),
    Class("AMQP URL with a password", "BROKER_URL", lambda: db_url("amqp", "worker", "rabbit.internal:5672/jobs")),
    Class("MongoDB URL with a password", "MONGO_URL",
          lambda: db_url("mongodb+srv", "api", f"cluster0.{rand(5, string.ascii_lowercase)}.mongodb.net/prod")),
    Class("Password in .env", "DB_PASSWORD", password, ("env", "env", "env", "env")),
    Class("Password in INI", "password", password, ("ini", "ini", "cfg", "ini")),
    Class("Password in JSON", "password", password, ("json", "json", "json", "json")),
    Class("Django SECRET_KEY", "SECRET_KEY", django_key, ("py", "py", "py", "py")),
    Class("RSA private key (PEM)", "", rsa_key, ("pem", "pem", "pem-py", "pem")),
    Class("EC private key (PEM)", "", ec_key, ("pem", "pem", "pem", "pem-py")),
    Class("OpenSSH private key", "", openssh_key, ("ssh", "ssh", "ssh", "ssh")),
)

PLACEHOLDERS = {
    "examples/aws.env": lambda: (f"AWS_ACCESS_KEY_ID={AWS_EXAMPLE_KEY_ID}\n"
                                 f"AWS_SECRET_ACCESS_KEY={AWS_EXAMPLE_SECRET_KEY}\n"),
    "examples/stripe.env": lambda: "STRIPE_SECRET_KEY=sk_live_" + "x" * 24 + "\n",
    "examples/github.env": lambda: "GITHUB_TOKEN=ghp_" + "x" * 36 + "\n",
    "examples/config.json": lambda: '{\n  "api_key": "YOUR_API_KEY",\n  "password": "<your-password>"\n}\n',  # pragma: allowlist secret
    "examples/settings.py": lambda: ('SLACK_BOT_TOKEN = "xoxb-' + "0" * 12 + "-" + "0" * 13 + "-" + "x" * 24 + '"\n'
                                     'SECRET_KEY = "change-me"\n'),  # pragma: allowlist secret
    "examples/docker-compose.yml": lambda: ("services:\n  db:\n    environment:\n"
                                            "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n"
                                            "      DATABASE_URL: postgres://app:${POSTGRES_PASSWORD}@db:5432/app\n"
                                            "      REDIS_PASSWORD: changeme\n"),
    "examples/deploy.sh": lambda: ('export API_TOKEN="{{ api_token }}"\nexport DB_PASSWORD="$DB_PASSWORD"\n'
                                   'export OPENAI_API_KEY="sk-' + "X" * 48 + '"\n'),
    "examples/app.ini": lambda: "[database]\nuser = app\npassword = changeme\n\n[mail]\npassword = <password>\n",
    "examples/.npmrc": lambda: "//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n",
    "examples/aws-config.py": lambda: ('AWS = {\n    "access_key": "' + "AKIA" + "XXXXXXXXXXXXXXXX" + '",\n'
                                       '    "secret_key": "YOUR_SECRET_ACCESS_KEY",\n}\n'),  # pragma: allowlist secret
}


@dataclass
class Label:
    cls: str
    path: str
    first: int  # the lines the secret spans, 1-based
    last: int


@dataclass
class Corpus:
    secrets: list[Label]
    placeholders: list[str]
    classes: list[str]


def render(fmt: str, var: str, value: str) -> tuple[str, str, int, int]:
    """(file name, text, first line, last line of the secret) of VALUE set as VAR in a file of format FMT."""
    lines: list[str]
    if fmt == "env":
        lines = ["# service settings", "DEBUG=false", "ALLOWED_HOSTS=api.example.com", f"{var}={value}", "LOG_LEVEL=info"]
        return ".env", "\n".join(lines) + "\n", 4, 4
    if fmt == "py":
        lines = ['"""Production settings."""', "from .base import *  # noqa", "", "DEBUG = False",
                 'ALLOWED_HOSTS = ["api.example.com"]', f"{var} = {json.dumps(value)}", 'TIME_ZONE = "UTC"']
        return "settings.py", "\n".join(lines) + "\n", 6, 6
    if fmt == "compose":
        lines = ["services:", "  web:", "    image: registry.example.com/web:1.4", "    environment:",
                 "      DJANGO_SETTINGS_MODULE: config.settings", f"      {var}: \"{value}\"", "    ports:",
                 '      - "8000:8000"']
        return "docker-compose.yml", "\n".join(lines) + "\n", 6, 6
    if fmt == "json":
        key = var.lower()
        lines = ["{", '  "name": "billing",', '  "region": "eu-west-1",', f'  "{key}": {json.dumps(value)},',
                 '  "retries": 3', "}"]
        return "config.json", "\n".join(lines) + "\n", 4, 4
    if fmt in ("ini", "cfg"):
        key = var.lower()
        lines = ["[server]", "host = 0.0.0.0", "port = 8080", "", "[credentials]", "user = svc", f"{key} = {value}"]
        return ("app.ini" if fmt == "ini" else "setup.cfg"), "\n".join(lines) + "\n", 7, 7
    if fmt == "sh":
        lines = ["#!/bin/sh", "set -eu", "cd /srv/app", f'export {var}="{value}"', "exec ./bin/worker"]
        return "deploy.sh", "\n".join(lines) + "\n", 4, 4
    if fmt == "npmrc":
        lines = ["registry=https://registry.npmjs.org/", f"//registry.npmjs.org/:_authToken={value}",
                 "always-auth=true"]
        return ".npmrc", "\n".join(lines) + "\n", 2, 2
    if fmt == "pypirc":
        lines = ["[distutils]", "index-servers =", "    pypi", "", "[pypi]", "username = __token__",
                 f"password = {value}"]
        return ".pypirc", "\n".join(lines) + "\n", 7, 7
    if fmt in ("pem", "ssh"):
        text = value if value.endswith("\n") else value + "\n"
        return ("server.key" if fmt == "pem" else "id_ed25519"), text, 1, text.count("\n")
    if fmt == "pem-py":
        head = ['"""JWT signing key."""', "", 'JWT_PRIVATE_KEY = """']
        body = value.rstrip("\n").split("\n")
        text = "\n".join(head + body + ['"""']) + "\n"
        return "jwt_keys.py", text, len(head) + 1, len(head) + len(body)
    raise ValueError(fmt)


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-").replace("--", "-")[:40]


def build(root: Path, classes: list[str] | None = None, per_class: int = PER_CLASS,
          placeholders: bool = True) -> Corpus:
    """The corpus written under root (services/ and examples/); CLASSES' names to build only some."""
    labels, chosen = [], []
    for k, c in enumerate(CLASSES):
        if classes is not None and c.name not in classes:
            continue
        chosen.append(c.name)
        for n in range(per_class):
            fmt = c.formats[(k + n) % len(c.formats)] if c.formats is FORMATS else c.formats[n % len(c.formats)]
            name, text, first, last = render(fmt, c.var, c.make())
            path = f"services/{slug(c.name)}-{n + 1}/{name}"
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text, encoding="utf-8")
            labels.append(Label(c.name, path, first, last))
    listed = []
    if placeholders:
        for path, make in PLACEHOLDERS.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(make(), encoding="utf-8")
            listed.append(path)
    return Corpus(labels, listed, chosen)


if __name__ == "__main__":
    corpus = build(Path(sys.argv[1]))
    print(json.dumps({"secrets": [asdict(x) for x in corpus.secrets], "placeholders": corpus.placeholders}, indent=1))
