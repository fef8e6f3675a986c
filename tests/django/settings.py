"""Settings for the Django tests (and mypy's django-stubs plugin).

The database is SQLite in memory, or PostgreSQL when ``P0F_TEST_POSTGRES``
is set, either to a libpq connection string
(``postgresql://user:password@host:5432/dbname`` or
``host=... dbname=... user=...``) or to ``1`` to use the libpq variables
``PGHOST``, ``PGPORT``, ``PGDATABASE``, ``PGUSER`` and ``PGPASSWORD``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote, urlsplit


def _postgres(dsn: str) -> dict[str, Any]:
    options: dict[str, str] = {}
    if dsn.startswith(("postgres://", "postgresql://")):
        url = urlsplit(dsn)
        options = {
            "host": unquote(url.hostname or ""),
            "port": str(url.port or ""),
            "dbname": unquote(url.path.lstrip("/")),
            "user": unquote(url.username or ""),
            "password": unquote(url.password or ""),
        }
    elif "=" in dsn:
        for word in dsn.split():
            key, _, value = word.partition("=")
            options[key] = value
    env = os.environ
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": options.get("dbname") or env.get("PGDATABASE", "p0f_test"),
        "USER": options.get("user") or env.get("PGUSER", ""),
        "PASSWORD": options.get("password") or env.get("PGPASSWORD", ""),
        "HOST": options.get("host") or env.get("PGHOST", ""),
        "PORT": options.get("port") or env.get("PGPORT", ""),
    }


_POSTGRES = os.environ.get("P0F_TEST_POSTGRES", "")

DATABASES: dict[str, dict[str, Any]] = {
    "default": _postgres(_POSTGRES)
    if _POSTGRES
    else {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
}

SECRET_KEY = "p0f-client tests; not secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.django.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "p0f.django",
]

MIDDLEWARE = [
    "p0f.django.middleware.P0fMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# The 2014 name, as old projects have it.  The tests point P0F_SOCKET (which
# wins) at a fake daemon; by default nothing listens here.
P0FSOCKET = "/nonexistent/p0f-tests.sock"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast
