"""ASGI entry point (``uvicorn example_site.asgi:application``): the
middleware takes its async path, with p0f.AsyncP0f."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_site.settings")
application = get_asgi_application()
