"""request.p0f_lookup.user_agent: the User-Agent check in the Django middleware."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.test import RequestFactory, override_settings

from p0f import UserAgentVerdict
from p0f.django import middleware
from p0f.django.middleware import P0fMiddleware, get_lookup
from p0f.testing import FakeP0f, sample_response

PEER = "127.0.0.1"
WINDOWS_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) Version/17.1 Safari/604.1"

seen: list[tuple[str | None, UserAgentVerdict | None]] = []


def view(request: HttpRequest) -> HttpResponse:
    check = get_lookup(request).user_agent
    seen.append((None, None) if check is None else (check.user_agent_os, check.verdict))
    return HttpResponse()


async def async_view(request: HttpRequest) -> HttpResponse:
    return view(request)


@pytest.fixture(autouse=True)
def clear_seen() -> None:
    seen.clear()


def test_sync_and_async_check_each_request(p0f_fake: FakeP0f) -> None:
    p0f_fake.add_host(PEER, sample_response(os_name="Windows"))
    factory = RequestFactory()
    with override_settings(P0F_CACHE_SECONDS=60):
        sync = P0fMiddleware(view)
        for agent in (WINDOWS_UA, IPHONE_UA):
            sync(factory.get("/", HTTP_USER_AGENT=agent, REMOTE_ADDR=PEER))

        async def twice() -> None:
            try:
                awaited = P0fMiddleware(async_view)
                for agent in (IPHONE_UA, WINDOWS_UA):
                    result = awaited(factory.get("/", HTTP_USER_AGENT=agent, REMOTE_ADDR=PEER))
                    assert not isinstance(result, HttpResponseBase)
                    await result
            finally:
                await middleware.aclose()

        asyncio.run(twice())
    M, X = UserAgentVerdict.MATCH, UserAgentVerdict.MISMATCH
    assert seen == [("Windows", M), ("iOS", X), ("iOS", X), ("Windows", M)]


def test_setting_turns_it_off(p0f_fake: FakeP0f) -> None:
    with override_settings(P0F_USER_AGENT_CHECK=False):
        P0fMiddleware(view)(RequestFactory().get("/", HTTP_USER_AGENT=WINDOWS_UA))
    with override_settings(P0F_ENABLED=False):
        P0fMiddleware(view)(RequestFactory().get("/", HTTP_USER_AGENT=WINDOWS_UA))
    assert seen == [(None, None), (None, None)]
    assert get_lookup(HttpRequest()).user_agent is None


def test_rules_file_setting(p0f_fake: FakeP0f, tmp_path: Path) -> None:
    rules = tmp_path / "p0f.fp"
    rules.write_text("[http:request]\nua_os = Windows=[Win64]\n")
    p0f_fake.add_host(PEER, sample_response(os_name="Windows"))
    with override_settings(P0F_UA_OS_FILE=str(rules)):
        P0fMiddleware(view)(RequestFactory().get("/", HTTP_USER_AGENT="x; Win64", REMOTE_ADDR=PEER))
    assert seen == [("Windows", UserAgentVerdict.MATCH)]
    rules.write_text("[tcp:request]\nua_os = Linux\n")
    with override_settings(P0F_UA_OS_FILE=str(tmp_path / "other.fp")):
        with pytest.raises(ImproperlyConfigured, match="P0F_UA_OS_FILE"):
            P0fMiddleware(view)(RequestFactory().get("/"))
    with override_settings(P0F_UA_OS_FILE=3):
        with pytest.raises(ImproperlyConfigured, match="P0F_UA_OS_FILE"):
            P0fMiddleware(view)(RequestFactory().get("/"))


def test_system_check_e009(fake_p0f: FakeP0f, tmp_path: Path) -> None:
    from p0f.django.checks import check_settings

    def ids() -> list[str]:
        return [m.id for m in check_settings() if m.id is not None]

    good = tmp_path / "good.fp"
    good.write_text("[http:request]\nua_os = Linux\n")
    bad = tmp_path / "bad.fp"
    bad.write_text("[http:request]\nua_os = Linux,,\n")
    with override_settings(P0F_SOCKET=fake_p0f.socket_path):
        for value, expected in [
            (None, []), (str(good), []), (str(bad), ["p0f.E009"]),
            (str(tmp_path / "missing.fp"), ["p0f.E009"]), (3, ["p0f.E009"]),
        ]:
            with override_settings(P0F_UA_OS_FILE=value):
                assert ids() == expected, value
        with override_settings(P0F_UA_OS_FILE=str(bad), P0F_USER_AGENT_CHECK=False):
            assert ids() == []
