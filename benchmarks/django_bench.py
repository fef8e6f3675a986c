"""The Django middleware's cost on a trivial view, through Django's WSGI handler."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.__main__ import Row

MIDDLEWARE = "p0f.django.middleware.P0fMiddleware"


def _configure() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="benchmark",
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            USE_TZ=True,
            LOGGING_CONFIG=None,
        )
        django.setup()


def trivial_view(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(b"ok")


def _urlpatterns() -> list[Any]:
    from django.urls import path

    return [path("", trivial_view)]


def __getattr__(name: str) -> Any:
    # Django imports ROOT_URLCONF lazily and reads urlpatterns from it.
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def _environ() -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
    }


def _request(handler: Any) -> Callable[[], object]:
    def start_response(status: str, headers: object, exc_info: object = None) -> None:
        if not status.startswith("200"):
            raise RuntimeError(f"the view answered {status}")

    def one() -> object:
        response = handler(_environ(), start_response)
        response.close()
        return response

    return one


def run(
    path: str | None,
    rounds: int,
    inner: int,
    row: type[Row],
) -> list[Row]:
    _configure()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    from benchmarks.__main__ import _median_pair
    from p0f.django import middleware

    with override_settings(MIDDLEWARE=[]):
        plain = _request(WSGIHandler())
    with override_settings(MIDDLEWARE=[MIDDLEWARE]):
        with_p0f = _request(WSGIHandler())

    cases: list[tuple[str, dict[str, Any], str, float]] = [
        ("Django middleware, daemon up (answers cached)", {"P0F_SOCKET": path}, "<= 1.3x", 1.3),
        (
            # Every request waits on a round trip to p0f: shown, not judged.
            "Django middleware, daemon up, no cache",
            {"P0F_SOCKET": path, "P0F_CACHE_SECONDS": 0},
            "(info)",
            float("inf"),
        ),
        (
            "Django middleware, daemon down",
            {"P0F_SOCKET": "/nonexistent/p0f.sock"},
            "<= 1.1x",
            1.1,
        ),
    ]
    rows = []
    for what, overrides, target, bound in cases:
        with override_settings(**overrides):
            middleware.reset()
            ours, base = _median_pair(with_p0f, plain, inner, rounds)
        rows.append(row(what, "the view without it", ours, base, target, ours / base <= bound))
    middleware.reset()
    return rows
