"""The example Django site (examples/django_site) as the real-server tests
run it: its own settings, plus a first middleware that takes a timestamp
and a ``/p0f.json`` view (see :mod:`tests.real.web_apps`), added to the
example's URLs by :mod:`tests.real.web_django_urls`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from example_site.settings import *  # noqa: F403 - the example, unchanged
from example_site.settings import MIDDLEWARE

from .web_apps import STAMP, report

MIDDLEWARE = ["tests.real.web_django_settings.Stamp", *MIDDLEWARE]
ROOT_URLCONF = "tests.real.web_django_urls"
P0F_TRUSTED_PROXIES = [
    item for item in os.environ.get("P0F_TRUSTED_PROXIES", "").split(",") if item
]


class Stamp:
    """Takes the time before the p0f middleware runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META[STAMP] = time.perf_counter()
        return self.get_response(request)


def p0f_json(request: HttpRequest) -> JsonResponse:
    # Imported here: settings load before the app registry is ready.
    from p0f.django.middleware import get_lookup

    return JsonResponse(report(get_lookup(request), request.META[STAMP]))
