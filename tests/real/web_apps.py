"""The applications the real-server tests run (tests/real/test_web_real.py).

Each answers ``GET /p0f.json`` with what its p0f middleware found and how
long the request spent from the outermost layer (a timestamp taken before
the p0f middleware runs) to the view: the lookup's cost, settle included.

- ``wsgi_application``: a plain WSGI app in :class:`p0f.wsgi.P0fMiddleware`;
- ``asgi_application``: a Starlette app in :class:`p0f.asgi.P0fMiddleware`;
- the Django example site runs with :mod:`tests.real.web_django_settings`.

The socket comes from ``P0F_SOCKET``; ``P0F_TRUSTED_PROXIES`` (comma
separated) names trusted proxies; ``P0F_SETTLE_SECONDS``, if set, replaces
the default settle time (to measure what settling changes).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import p0f.asgi
import p0f.wsgi
from p0f._web import DEFAULT_SETTLE_SECONDS
from p0f.asgi import P0fLookup

STAMP = "p0f_test_stamp"
SOCKET = os.environ.get("P0F_SOCKET", "/nonexistent/p0f.sock")
TRUSTED = [item for item in os.environ.get("P0F_TRUSTED_PROXIES", "").split(",") if item]
SETTLE = float(os.environ.get("P0F_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS))


def report(found: P0fLookup, stamp: float) -> dict[str, Any]:
    """What a test reads: the lookup, and the milliseconds since ``stamp``."""
    answer = found.answer
    return {
        "os_name": None if answer is None else answer.os_name,
        "http_name": None if answer is None else answer.http_name,
        "address": None if found.address is None else str(found.address),
        "status": found.status.value,
        "cached": found.cached,
        "lookup_ms": (time.perf_counter() - stamp) * 1000,
        "pid": os.getpid(),
    }


# -- WSGI -------------------------------------------------------------------


def _wsgi_json(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = json.dumps(report(p0f.wsgi.get_lookup(environ), environ[STAMP])).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def _stamped_wsgi(app: WSGIApplication) -> WSGIApplication:
    def stamped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ[STAMP] = time.perf_counter()
        return app(environ, start_response)

    return stamped


wsgi_application = _stamped_wsgi(
    p0f.wsgi.P0fMiddleware(_wsgi_json, SOCKET, trusted_proxies=TRUSTED, settle_seconds=SETTLE)
)


# -- ASGI -------------------------------------------------------------------


async def _asgi_json(request: Request) -> JSONResponse:
    return JSONResponse(report(p0f.asgi.get_lookup(request.scope), request.scope[STAMP]))


class _StampedASGI:
    def __init__(self, app: p0f.asgi.ASGIApp) -> None:
        self.app = app

    async def __call__(
        self, scope: p0f.asgi.Scope, receive: p0f.asgi.Receive, send: p0f.asgi.Send
    ) -> None:
        scope[STAMP] = time.perf_counter()
        await self.app(scope, receive, send)


asgi_application = _StampedASGI(
    p0f.asgi.P0fMiddleware(
        Starlette(routes=[Route("/p0f.json", _asgi_json)]),
        SOCKET,
        trusted_proxies=TRUSTED,
        settle_seconds=SETTLE,
    )
)
