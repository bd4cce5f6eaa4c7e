"""Django settings, read from the environment.

Every variable read here is listed in .env.sample.

Production is the default: DEBUG is off unless DJANGO_DEBUG is truthy (1/true/yes/on).
Only the namespaced DJANGO_DEBUG counts, not a bare DEBUG, so a generic DEBUG=1 left in
a CI or container environment cannot switch off the production hardening.

In production DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS are required; the process refuses
to start (ImproperlyConfigured) without them. In debug a random key is generated per
process, so no secret is ever written in the repository.

Health check and the HTTPS redirect: the container HEALTHCHECK calls
http://127.0.0.1:<port>/healthz/ over plain HTTP from inside the container. Two things
would stop it in production, and both are handled narrowly:
- SECURE_SSL_REDIRECT would answer 301: /healthz/ is listed in SECURE_REDIRECT_EXEMPT.
- Host validation would answer 400 for Host "127.0.0.1:<port>": the loopback names
  (LOOPBACK_HOSTS) are always appended to ALLOWED_HOSTS. They cannot point a browser at
  an attacker's server, so host-header poisoning of generated links is not opened; the
  public names still come only from DJANGO_ALLOWED_HOSTS.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

TRUTHY = frozenset({"1", "true", "yes", "on"})
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
HEALTHCHECK_PATH_RE = r"^healthz/$"  # SECURE_REDIRECT_EXEMPT matches the path without "/".


def env_bool(name: str) -> bool:
    """True if the variable is set to 1/true/yes/on (any case); anything else is False."""
    return os.environ.get(name, "").strip().lower() in TRUTHY


def env_list(name: str) -> list[str]:
    """Comma-separated variable -> list of non-empty, stripped items."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def env_required(name: str) -> str:
    """The variable's value; ImproperlyConfigured if it is unset or blank."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set when DJANGO_DEBUG is off (production). See .env.sample."
        )
    return value


DEBUG = env_bool("DJANGO_DEBUG")

if DEBUG:
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or get_random_secret_key()
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
else:
    SECRET_KEY = env_required("DJANGO_SECRET_KEY")
    if not env_list("DJANGO_ALLOWED_HOSTS"):
        raise ImproperlyConfigured(
            "DJANGO_ALLOWED_HOSTS must list the public host names (comma-separated) when "
            "DJANGO_DEBUG is off (production). See .env.sample."
        )
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") + LOOPBACK_HOSTS

INSTALLED_APPS = [
    "apps.health",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# SQLite; the file is only opened when a query runs (the health check runs none).
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DATABASE_PATH") or str(BASE_DIR / "db.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

if not DEBUG:
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips any value
    # the client sent): without this Django would see every request as plain HTTP.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [HEALTHCHECK_PATH_RE]
    SECURE_HSTS_SECONDS = 31_536_000  # one year
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # Django's defaults, stated so a reader sees the whole production policy here.
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
