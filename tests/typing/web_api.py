"""What users of the web middleware see: checked by mypy, never run by pytest."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Awaitable, Iterable
from typing import Literal, assert_type
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import starlette.types
from django.core.checks import CheckMessage
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request

import p0f.asgi
import p0f.wsgi
from p0f import P0fResponse
from p0f.django.checks import check_settings
from p0f.django.conf import conf
from p0f.django.middleware import (
    P0fHttpRequest,
    P0fLookup,
    P0fMiddleware,
    get_lookup,
    get_p0f,
)
from p0f.django.models import P0fRecord


def wsgi(app: WSGIApplication, environ: WSGIEnvironment, start: StartResponse) -> None:
    wrapped = p0f.wsgi.P0fMiddleware(
        app,
        "/run/p0f.sock",
        timeout=0.25,
        cache_seconds=10,
        cache_size=1000,
        trusted_proxies=["127.0.0.1", "10.0.0.0/8"],
        backoff=1,
        max_backoff=60,
        settle_seconds=0.025,
        negative_cache_seconds=1,
        idle_timeout=None,
    )
    as_app: WSGIApplication = wrapped  # it is itself a WSGI application
    assert_type(as_app(environ, start), Iterable[bytes])
    assert_type(p0f.wsgi.get_p0f(environ), P0fResponse | None)
    found = p0f.wsgi.get_lookup(environ)
    assert_type(found, p0f.wsgi.P0fLookup)
    assert_type(found.answer, P0fResponse | None)
    assert_type(found.address, ipaddress.IPv4Address | ipaddress.IPv6Address | None)
    assert_type(found.status, p0f.wsgi.LookupStatus)
    assert_type(found.cached, bool)
    assert_type(p0f.wsgi.LOOKUP_KEY, Literal["p0f.lookup"])
    found.answer = None  # type: ignore[misc]  # a lookup is frozen
    assert_type(p0f.wsgi.ENVIRON_KEY, Literal["p0f"])
    assert_type(p0f.asgi.STATE_KEY, Literal["p0f"])
    wrapped.close()
    p0f.wsgi.P0fMiddleware(app, "/run/p0f.sock", timeout="1")  # type: ignore[arg-type]  # seconds are numbers
    p0f.wsgi.P0fMiddleware(app, "/run/p0f.sock", 0.5)  # type: ignore[call-arg]  # options are keyword-only


async def asgi(app: starlette.types.ASGIApp, request: Request) -> None:
    wrapped = p0f.asgi.P0fMiddleware(app, "/run/p0f.sock", trusted_proxies=["::1"])
    as_app: starlette.types.ASGIApp = wrapped  # fits Starlette's own ASGI type
    as_own: p0f.asgi.ASGIApp = wrapped
    del as_app, as_own
    assert_type(await wrapped.aclose(), None)
    assert_type(p0f.asgi.get_p0f(request.scope), P0fResponse | None)
    assert_type(p0f.asgi.get_lookup(request.scope), p0f.asgi.P0fLookup)
    assert_type(p0f.asgi.LOOKUP_KEY, Literal["p0f_lookup"])
    Starlette(middleware=[Middleware(p0f.asgi.P0fMiddleware, socket_path="/run/p0f.sock")])


def django_views(request: HttpRequest, tagged: P0fHttpRequest) -> None:
    assert_type(get_p0f(request), P0fResponse | None)
    assert_type(tagged.p0f, P0fResponse | None)
    assert_type(tagged.p0f_lookup, P0fLookup)
    assert_type(get_lookup(request), P0fLookup)
    request.p0f  # type: ignore[attr-defined]  # a plain HttpRequest does not promise it


def django_middleware() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    sync = P0fMiddleware(view)
    assert_type(sync(HttpRequest()), HttpResponseBase | Awaitable[HttpResponseBase])
    P0fMiddleware(async_view)


def django_settings_and_checks() -> None:
    assert_type(conf.P0F_SOCKET, str | None)
    assert_type(conf.P0F_ENABLED, bool)
    assert_type(conf.P0F_TIMEOUT, float)
    assert_type(conf.P0F_CACHE_SECONDS, float)
    assert_type(conf.P0F_CACHE_SIZE, int)
    assert_type(conf.P0F_BACKOFF, float)
    assert_type(conf.P0F_MAX_BACKOFF, float)
    assert_type(conf.P0F_SETTLE_SECONDS, float)
    assert_type(conf.P0F_NEGATIVE_CACHE_SECONDS, float)
    assert_type(conf.P0F_IDLE_TIMEOUT, float | None)
    assert_type(check_settings(), list[CheckMessage])


def django_model(answer: P0fResponse) -> None:
    record = P0fRecord.from_response("192.0.2.1", answer)
    assert_type(record, P0fRecord)
    assert_type(record.to_response(), P0fResponse)
    assert_type(record.address, str)
    assert_type(record.first_seen, dt.datetime)
    assert_type(record.uptime, dt.timedelta | None)
    assert_type(record.distance, int | None)
    assert_type(record.os_name, str)
    assert_type(P0fRecord.objects.filter(os_name="Linux").first(), P0fRecord | None)
