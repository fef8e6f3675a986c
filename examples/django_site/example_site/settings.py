"""Settings of the example site: a page that shows ``request.p0f``."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "example site only; not secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "p0f.django",  # checks, the P0fRecord model and its admin
    "demo",
]

MIDDLEWARE = [
    "p0f.django.middleware.P0fMiddleware",  # sets request.p0f
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

# The daemon's socket: p0f's -s.  By default the fake daemon's
# (`python manage.py run_fake_p0f`); point P0F_SOCKET at a real p0f with
# the environment variable of that name.
P0F_SOCKET = os.environ.get("P0F_SOCKET", str(BASE_DIR / "p0f.sock"))
P0F_TIMEOUT = 0.25
# Behind a reverse proxy on this host, believe its X-Forwarded-For:
# P0F_TRUSTED_PROXIES = ["127.0.0.1", "::1"]

ROOT_URLCONF = "example_site.urls"
WSGI_APPLICATION = "example_site.wsgi.application"
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
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
# p0f's warnings on the console, each once: "propagate" off, so a handler
# on the root logger (a server's, or Django's when DEBUG) does not print
# them again; existing loggers (p0f.web is made at import) stay enabled.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"p0f": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
