"""The example site's URLs, plus ``/p0f.json`` for the real-server tests."""

from __future__ import annotations

from django.urls import include, path

from .web_django_settings import p0f_json

urlpatterns = [path("p0f.json", p0f_json), path("", include("example_site.urls"))]
