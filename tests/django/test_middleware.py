"""The Django middleware: request.p0f in sync and async views, against the
fake daemon, with the daemon down or slow, behind proxies and without."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings

import p0f._sync
from p0f import P0fResponse
from p0f.django import middleware
from p0f.django.middleware import P0fMiddleware, get_p0f
from p0f.testing import FakeP0f, Fault, sample_response

T = TypeVar("T")

CLIENT = "203.0.113.9"  # a visitor behind the proxy
PROXY = "127.0.0.1"  # the test client's REMOTE_ADDR


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run an async scenario on a loop of its own, closing the middleware's
    async client before the loop ends."""

    async def scenario() -> T:
        try:
            return await coroutine
        finally:
            await middleware.aclose()

    return asyncio.run(scenario())


class ClientResponse(Protocol):
    """What the test clients return, sync and async."""

    status_code: int

    def json(self) -> Any: ...


def answer_of(response: ClientResponse) -> Any:
    assert response.status_code == 200
    return response.json()["p0f"]


def os_of(response: ClientResponse) -> str | None:
    answer = answer_of(response)
    return None if answer is None else answer["os_name"]


def queried(fake: FakeP0f) -> list[str]:
    return [str(address) for _, address in fake.queries]


# -- answers reach the view ---------------------------------------------------


def test_sync_view_gets_the_answer(p0f_fake: FakeP0f) -> None:
    p0f_fake.add_host(PROXY, sample_response(os_name="Linux", http_name="Firefox"))
    answer = answer_of(Client().get("/sync/"))
    assert answer["os_name"] == "Linux"
    assert answer["http_name"] == "Firefox"
    assert queried(p0f_fake) == [PROXY]


def test_request_p0f_is_the_parsed_response(p0f_fake: FakeP0f) -> None:
    raw = p0f_fake.add_host(PROXY, sample_response(os_name="Windows", distance=3))
    seen: list[object] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(getattr(request, "p0f"))
        seen.append(get_p0f(request))
        return HttpResponse("ok")

    P0fMiddleware(view)(RequestFactory().get("/"))
    assert seen == [P0fResponse.from_raw(raw)] * 2


def test_async_view_gets_the_answer_from_the_async_client(
    p0f_fake: FakeP0f, monkeypatch: pytest.MonkeyPatch
) -> None:
    p0f_fake.add_host(PROXY, sample_response(os_name="Linux"))

    def no_blocking_calls(*args: object) -> P0fResponse:
        raise AssertionError("the async path used the blocking client")

    monkeypatch.setattr(p0f._sync.P0f, "query", no_blocking_calls)

    async def scenario() -> tuple[Any, Any]:
        client = AsyncClient()
        return answer_of(await client.get("/async/")), answer_of(await client.get("/sync/"))

    on_async_view, on_sync_view = run(scenario())
    assert on_async_view["os_name"] == "Linux"
    assert on_sync_view["os_name"] == "Linux"


def test_middleware_follows_the_stack_it_is_in() -> None:
    def sync_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    async def async_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse()

    assert P0fMiddleware.sync_capable and P0fMiddleware.async_capable
    assert not asyncio.iscoroutinefunction(P0fMiddleware(sync_view))
    assert not P0fMiddleware(sync_view).async_mode
    assert P0fMiddleware(async_view).async_mode


def test_each_async_loop_gets_its_own_client(p0f_fake: FakeP0f) -> None:
    p0f_fake.add_host(PROXY, sample_response(os_name="Linux"))
    with override_settings(P0F_CACHE_SECONDS=0):
        for _ in range(3):
            assert os_of(run(AsyncClient().get("/async/"))) == "Linux"
    assert p0f_fake.connections_served == 3


# -- one client, cached answers -------------------------------------------


def test_cached_answers_expire(p0f_fake: FakeP0f) -> None:
    p0f_fake.add_host(PROXY, sample_response(os_name="Linux"))
    with override_settings(P0F_CACHE_SECONDS=0.05):
        client = Client()
        assert os_of(client.get("/sync/")) == "Linux"
        p0f_fake.add_host(PROXY, sample_response(os_name="Windows"))
        assert os_of(client.get("/sync/")) == "Linux"
        time.sleep(0.1)
        assert os_of(client.get("/sync/")) == "Windows"


# -- the daemon down or slow ------------------------------------------------


def test_no_daemon_gives_none_and_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with override_settings(P0F_SOCKET="/nonexistent/p0f.sock"), caplog.at_level(logging.WARNING):
        assert answer_of(Client().get("/sync/")) is None
        assert answer_of(run(AsyncClient().get("/async/"))) is None
    assert "there is no socket at /nonexistent/p0f.sock" in caplog.text
    assert "skipping lookups for 1 s" in caplog.text


def test_an_async_burst_against_a_dead_daemon_hardly_tries_to_connect(
    p0f_fake: FakeP0f, connect_attempts: list[str]
) -> None:
    p0f_fake.refuse_connections()
    in_flight: list[int] = []

    async def burst() -> list[Any]:
        client = AsyncClient()
        # 100 at once: they share the async client's one connection attempt,
        # but a request let through just before the first failure is
        # recorded may make one more.  Every later request is skipped.
        responses = list(await asyncio.gather(*(client.get("/async/") for _ in range(100))))
        in_flight.append(len(connect_attempts))
        for _ in range(100):
            responses.append(await client.get("/async/"))
        return [answer_of(response) for response in responses]

    with override_settings(P0F_BACKOFF=30, P0F_CACHE_SECONDS=0):
        assert run(burst()) == [None] * 200
    (concurrent,) = in_flight
    assert 1 <= concurrent <= 3
    assert len(connect_attempts) == concurrent


def test_a_hung_daemon_costs_one_timeout_not_one_per_request(p0f_fake: FakeP0f) -> None:
    p0f_fake.add_host(PROXY, sample_response(os_name="Linux"))
    p0f_fake.inject(Fault(delay=0.5))
    with override_settings(P0F_TIMEOUT=0.1, P0F_BACKOFF=30, P0F_CACHE_SECONDS=0):
        client = Client()
        started = time.monotonic()
        answers = [answer_of(client.get("/sync/")) for _ in range(50)]
        elapsed = time.monotonic() - started
    assert answers == [None] * 50
    assert elapsed < 2.5  # one 0.1 s timeout, where 50 would take 5 s
    assert len(p0f_fake.queries) == 1


def test_a_late_answer_is_not_given_to_the_next_request(p0f_fake: FakeP0f) -> None:
    p0f_fake.add_host(PROXY, sample_response(os_name="Linux"))
    p0f_fake.add_host("192.0.2.7", sample_response(os_name="Windows"))
    p0f_fake.inject(Fault(delay=0.3))
    with override_settings(P0F_TIMEOUT=0.1, P0F_BACKOFF=0.05, P0F_CACHE_SECONDS=0):
        client = Client()
        assert answer_of(client.get("/sync/")) is None  # timed out
        time.sleep(0.4)
        # The late answer (Linux) was owed on the connection: it is read and
        # dropped, and this request gets its own.
        assert os_of(client.get("/sync/", REMOTE_ADDR="192.0.2.7")) == "Windows"


def test_disabled_middleware_asks_nothing(p0f_fake: FakeP0f) -> None:
    p0f_fake.add_host(PROXY)
    with override_settings(P0F_ENABLED=False):
        assert answer_of(Client().get("/sync/")) is None
        assert answer_of(run(AsyncClient().get("/async/"))) is None
    with override_settings(P0FENABLED=False):  # the 2014 name
        assert answer_of(Client().get("/sync/")) is None
    assert p0f_fake.queries == []


def test_the_2014_socket_setting_still_works(fake_p0f: FakeP0f) -> None:
    # The test settings set only P0FSOCKET, as a 2014 project would.
    fake_p0f.add_host(PROXY, sample_response(os_name="Linux"))
    with override_settings(P0FSOCKET=fake_p0f.socket_path):
        assert os_of(Client().get("/sync/")) == "Linux"
    with override_settings(P0F_SOCKET=fake_p0f.socket_path, P0FSOCKET="/nonexistent"):
        assert os_of(Client().get("/sync/")) == "Linux"  # the new name wins


def test_changed_settings_take_effect(p0f_fake: FakeP0f) -> None:
    p0f_fake.add_host(PROXY, sample_response(os_name="Linux"))
    with FakeP0f() as other:
        other.add_host(PROXY, sample_response(os_name="Windows"))
        assert os_of(Client().get("/sync/")) == "Linux"
        with override_settings(P0F_SOCKET=other.socket_path):
            assert os_of(Client().get("/sync/")) == "Windows"
        assert os_of(Client().get("/sync/")) == "Linux"


# -- proxies ------------------------------------------------------------------


# -- misconfiguration -----------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"P0F_SOCKET": None, "P0FSOCKET": None}, "P0F_SOCKET"),
        ({"P0F_TIMEOUT": 0}, "P0F_TIMEOUT"),
        ({"P0F_TRUSTED_PROXIES": "127.0.0.1"}, "P0F_TRUSTED_PROXIES"),
        ({"P0F_CACHE_SIZE": 0}, "P0F_CACHE_SIZE"),
        ({"P0F_BACKOFF": 0}, "P0F_BACKOFF"),
    ],
)
def test_unusable_settings_fail_loudly(settings: dict[str, Any], message: str) -> None:
    # Unlike a daemon that is down, a broken setting is the developer's to
    # fix (the system checks report it too).
    with override_settings(**settings), pytest.raises(ImproperlyConfigured, match=message):
        Client().get("/sync/")
