"""The User-Agent check in the ASGI and WSGI middleware: per request, from
the request's own User-Agent, even when the answer comes from the cache."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from p0f import UserAgentCheck
from p0f import asgi as p0f_asgi
from p0f import wsgi as p0f_wsgi
from p0f.testing import FakeP0f, sample_response

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

PEER = "127.0.0.1"
WINDOWS_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
MAC_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:120.0) Gecko/20100101 Firefox/120.0"


def _shown(check: UserAgentCheck | None) -> Any:
    if check is None:
        return None
    return [check.user_agent_os, check.p0f_os, check.verdict.value, check.reason.value]


# -- ASGI ---------------------------------------------------------------------------


async def show(request: Request) -> JSONResponse:
    found = p0f_asgi.get_lookup(request.scope)
    assert found is request.state.p0f_lookup
    return JSONResponse(_shown(found.user_agent))


def asgi_client(fake: FakeP0f, **options: Any) -> TestClient:
    app = Starlette(
        routes=[Route("/", show)],
        middleware=[Middleware(p0f_asgi.P0fMiddleware, socket_path=fake.socket_path,
                               timeout=2.0, **options)],
    )
    return TestClient(app, client=(PEER, 50000))


def test_asgi_checks_each_request_own_user_agent(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Windows", os_match_q=2))
    with asgi_client(fake_p0f, cache_seconds=60) as client:
        seen = [
            client.get("/", headers={"User-Agent": ua}).json()
            for ua in (WINDOWS_UA, MAC_UA, "curl/8.0", WINDOWS_UA)
        ]
    assert seen == [
        ["Windows", "Windows", "match", "same_os"],
        ["Mac OS X", "Windows", "mismatch", "other_os"],
        [None, "Windows", "unknown", "no_claim"],
        ["Windows", "Windows", "match", "same_os"],
    ]
    assert len(fake_p0f.queries) == 1  # one answer, cached; four checks


def test_asgi_no_answer_is_unknown_and_the_check_can_be_off(fake_p0f: FakeP0f) -> None:
    with asgi_client(fake_p0f, cache_seconds=0) as client:
        assert client.get("/", headers={"User-Agent": MAC_UA}).json() == [
            "Mac OS X", None, "unknown", "no_p0f_os"
        ]
    with asgi_client(fake_p0f, cache_seconds=0, user_agent_check=False) as client:
        assert client.get("/", headers={"User-Agent": MAC_UA}).json() is None


def test_asgi_reads_the_daemons_file(fake_p0f: FakeP0f, tmp_path: Path) -> None:
    rules = tmp_path / "p0f.fp"
    rules.write_text("[http:request]\nua_os = Windows,Mac OS X=[Macintosh]\n")
    fake_p0f.add_host(PEER, sample_response(os_name="Mac OS X"))
    with asgi_client(fake_p0f, cache_seconds=0, ua_os_file=rules) as client:
        # A made-up rule: "Macintosh" names Mac OS X, checked before Mac OS X.
        assert client.get("/", headers={"User-Agent": "Macintosh"}).json()[2] == "match"


def test_asgi_without_middleware_there_is_no_check() -> None:
    assert p0f_asgi.get_lookup({"type": "http"}).user_agent is None


# -- WSGI ---------------------------------------------------------------------------


def wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    environ["test.shown"] = _shown(p0f_wsgi.get_lookup(environ).user_agent)
    return [b""]


def call(app: Any, user_agent: str | None) -> Any:
    environ: dict[str, Any] = {"REMOTE_ADDR": PEER}
    if user_agent is not None:
        environ["HTTP_USER_AGENT"] = user_agent
    setup_testing_defaults(environ)
    list(app(environ, lambda status, headers, exc_info=None: None))
    return environ["test.shown"]


def test_wsgi_checks_each_request_own_user_agent(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    app = p0f_wsgi.P0fMiddleware(wsgi_app, fake_p0f.socket_path, timeout=2.0, cache_seconds=60)
    try:
        seen = [call(app, ua) for ua in (WINDOWS_UA, None, "X11; Linux x86_64")]
    finally:
        app.close()
    assert seen == [
        ["Windows", "Linux", "mismatch", "other_os"],
        [None, "Linux", "unknown", "no_claim"],
        ["Linux", "Linux", "match", "same_os"],
    ]
    assert len(fake_p0f.queries) == 1


def test_wsgi_check_can_be_off(fake_p0f: FakeP0f) -> None:
    app = p0f_wsgi.P0fMiddleware(wsgi_app, fake_p0f.socket_path, user_agent_check=False)
    try:
        assert call(app, WINDOWS_UA) is None
    finally:
        app.close()
    assert p0f_wsgi.get_lookup({}).user_agent is None


def test_a_bad_rules_file_is_refused_at_once(fake_p0f: FakeP0f, tmp_path: Path) -> None:
    bad = tmp_path / "p0f.fp"
    bad.write_text("[http:request]\nua_os = ,Linux\n")
    with pytest.raises(ValueError, match="ua_os"):
        p0f_asgi.P0fMiddleware(Starlette(), fake_p0f.socket_path, ua_os_file=bad)
    with pytest.raises(ValueError, match="ua_os"):
        p0f_wsgi.P0fMiddleware(wsgi_app, fake_p0f.socket_path, ua_os_file=bad)
