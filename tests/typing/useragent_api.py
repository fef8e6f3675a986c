"""The User-Agent check as users' code sees it: checked by mypy, never run."""

from __future__ import annotations

from typing import assert_type
from wsgiref.types import WSGIApplication, WSGIEnvironment

from django.http import HttpRequest

import p0f.asgi
import p0f.wsgi
from p0f import (
    DEFAULT_UA_OS,
    P0fResponse,
    UaOsEntry,
    UaOsRules,
    UserAgentCheck,
    UserAgentReason,
    UserAgentVerdict,
    check_user_agent,
)
from p0f.asgi import ASGIApp
from p0f.django.middleware import P0fHttpRequest, get_lookup


def checks(answer: P0fResponse | None, agent: str | None) -> None:
    check = check_user_agent(agent, answer)
    assert_type(check, UserAgentCheck)
    assert_type(check.user_agent_os, str | None)
    assert_type(check.p0f_os, str | None)
    assert_type(check.verdict, UserAgentVerdict)
    assert_type(check.reason, UserAgentReason)
    assert_type(check.verdict.value, str)
    rules = UaOsRules.from_file("/etc/p0f/p0f.fp")
    assert_type(check_user_agent(agent, answer, rules=rules), UserAgentCheck)
    assert_type(UaOsRules.parse("ua_os = Linux"), UaOsRules)
    assert_type(DEFAULT_UA_OS.claimed_os(agent), str | None)
    assert_type(DEFAULT_UA_OS.entries, tuple[UaOsEntry, ...])
    if check.verdict is UserAgentVerdict.MISMATCH:
        print(check.user_agent_os, check.p0f_os)


def web(
    wsgi_app: WSGIApplication, environ: WSGIEnvironment, asgi_app: ASGIApp, request: HttpRequest
) -> None:
    p0f.wsgi.P0fMiddleware(wsgi_app, "/run/p0f.sock", user_agent_check=False)
    p0f.wsgi.P0fMiddleware(wsgi_app, "/run/p0f.sock", ua_os_file="/etc/p0f/p0f.fp")
    p0f.asgi.P0fMiddleware(asgi_app, "/run/p0f.sock", user_agent_check=True, ua_os_file=None)
    assert_type(p0f.wsgi.get_lookup(environ).user_agent, UserAgentCheck | None)
    assert_type(p0f.asgi.get_lookup({"type": "http"}).user_agent, UserAgentCheck | None)
    assert_type(get_lookup(request).user_agent, UserAgentCheck | None)


def django_view(request: P0fHttpRequest) -> None:
    assert_type(request.p0f_lookup.user_agent, UserAgentCheck | None)
