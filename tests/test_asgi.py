"""The ASGI middleware under Starlette (HTTP, websocket, lifespan) and as a
bare ASGI app, against the fake daemon."""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from p0f import P0fResponse
from p0f.asgi import STATE_KEY, Message, P0fMiddleware, Scope, get_p0f
from p0f.testing import FakeP0f, sample_response

with warnings.catch_warnings():
    # Starlette 1.x would rather have httpx2; httpx still works.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

CLIENT = "203.0.113.9"
PEER = "127.0.0.1"


async def show(request: Request) -> JSONResponse:
    answer = get_p0f(request.scope)
    assert answer is request.state.p0f
    return JSONResponse({"os_name": None if answer is None else answer.os_name})


async def socket_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    answer = websocket.state.p0f
    await websocket.send_json({"os_name": None if answer is None else answer.os_name})
    await websocket.close()


def make_app(fake: FakeP0f, **options: Any) -> Starlette:
    options.setdefault("timeout", 2.0)
    options.setdefault("cache_seconds", 0)
    return Starlette(
        routes=[Route("/", show), WebSocketRoute("/ws", socket_endpoint)],
        middleware=[Middleware(P0fMiddleware, socket_path=fake.socket_path, **options)],
    )


@pytest.fixture
def client(fake_p0f: FakeP0f) -> Iterator[TestClient]:
    # As a context manager, the test client runs the lifespan (one event
    # loop for every request, and the middleware's client closed at the end).
    with TestClient(make_app(fake_p0f), client=(PEER, 50000)) as test_client:
        yield test_client


def os_of(test_client: TestClient, **headers: str) -> Any:
    response = test_client.get("/", headers=headers)
    assert response.status_code == 200
    return response.json()["os_name"]


def test_request_state_has_the_answer(fake_p0f: FakeP0f, client: TestClient) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    assert os_of(client) == "Linux"
    assert [str(a) for _, a in fake_p0f.queries] == [PEER]


def test_no_data_is_none(fake_p0f: FakeP0f, client: TestClient) -> None:
    assert os_of(client) is None
    assert len(fake_p0f.queries) == 1


def test_websockets_get_the_answer_too(fake_p0f: FakeP0f, client: TestClient) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {"os_name": "Linux"}


def test_one_connection_serves_every_request(fake_p0f: FakeP0f, client: TestClient) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    assert [os_of(client) for _ in range(20)] == ["Linux"] * 20
    assert len(fake_p0f.queries) == 20
    assert fake_p0f.connections_served == 1


def test_lifespan_shutdown_closes_the_connection(fake_p0f: FakeP0f) -> None:
    with TestClient(make_app(fake_p0f), client=(PEER, 50000)) as test_client:
        os_of(test_client)
        assert fake_p0f.connection_count == 1
    deadline = time.monotonic() + 5
    while fake_p0f.connection_count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_p0f.connection_count == 0


def test_answers_are_cached(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    app = make_app(fake_p0f, cache_seconds=60)
    with TestClient(app, client=(PEER, 50000)) as test_client:
        assert [os_of(test_client) for _ in range(5)] == ["Linux"] * 5
    assert len(fake_p0f.queries) == 1


def test_a_burst_against_a_dead_daemon_tries_to_connect_once(
    fake_p0f: FakeP0f, connect_attempts: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    fake_p0f.refuse_connections()
    app = make_app(fake_p0f, backoff=30)
    with TestClient(app, client=(PEER, 50000)) as test_client:
        with caplog.at_level(logging.WARNING, logger="p0f.web"):
            assert [os_of(test_client) for _ in range(200)] == [None] * 200
    assert len(connect_attempts) == 1
    assert len(caplog.records) == 1


def test_after_the_pause_one_request_tries_again(
    fake_p0f: FakeP0f, connect_attempts: list[str]
) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    fake_p0f.refuse_connections()
    with TestClient(make_app(fake_p0f, backoff=0.05), client=(PEER, 50000)) as test_client:
        assert os_of(test_client) is None
        fake_p0f.accept_connections()
        time.sleep(0.1)
        assert os_of(test_client) == "Linux"
    assert len(connect_attempts) == 2


def test_without_trusted_proxies_the_header_is_ignored(
    fake_p0f: FakeP0f, client: TestClient
) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    fake_p0f.add_host(CLIENT, sample_response(os_name="Windows"))
    assert os_of(client, **{"X-Forwarded-For": CLIENT}) == "Linux"


def test_a_trusted_proxy_names_the_client(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host(CLIENT, sample_response(os_name="Windows"))
    app = make_app(fake_p0f, trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    forwarded = {"X-Forwarded-For": f"6.6.6.6, {CLIENT}, 10.0.0.2"}
    with TestClient(app, client=(PEER, 50000)) as test_client:
        assert os_of(test_client, **forwarded) == "Windows"
        with test_client.websocket_connect("/ws", headers=forwarded) as websocket:
            assert websocket.receive_json() == {"os_name": "Windows"}
    with TestClient(app, client=("192.0.2.99", 50000)) as untrusted:
        assert os_of(untrusted, **forwarded) is None
    assert [str(a) for _, a in fake_p0f.queries] == [CLIENT, CLIENT, "192.0.2.99"]


# -- as a bare ASGI app --------------------------------------------------------


def test_the_scope_is_copied_and_other_scopes_pass_through(fake_p0f: FakeP0f) -> None:
    raw = fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    seen: list[Scope] = []

    async def inner(scope: Scope, receive: Any, send: Any) -> None:
        seen.append(scope)

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    async def discard(message: Message) -> None:
        pass

    middleware = P0fMiddleware(inner, fake_p0f.socket_path)
    server_state = {"from_lifespan": 1}
    scopes: list[Scope] = [
        {"type": "http", "client": (PEER, 1), "headers": [], "state": server_state},
        {"type": "http", "client": None, "headers": []},
        {"type": "custom"},
    ]

    async def scenario() -> None:
        try:
            for scope in scopes:
                await middleware(scope, nothing, discard)
        finally:
            await middleware.aclose()

    asyncio.run(scenario())
    with_state, without_client, custom = seen
    assert with_state is not scopes[0]
    assert with_state["state"] == {"from_lifespan": 1, STATE_KEY: P0fResponse.from_raw(raw)}
    assert get_p0f(with_state) == P0fResponse.from_raw(raw)
    assert without_client["state"] == {STATE_KEY: None}
    assert custom is scopes[2] and "state" not in custom
    assert get_p0f(custom) is None
    assert [str(a) for _, a in fake_p0f.queries] == [PEER]


@pytest.mark.parametrize(
    "options",
    [{"timeout": 0}, {"trusted_proxies": "127.0.0.1"}, {"cache_size": 0}, {"backoff": -1}],
)
def test_bad_options_are_refused_at_once(options: dict[str, Any]) -> None:
    async def inner(scope: Scope, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(ValueError):
        P0fMiddleware(inner, "/run/p0f.sock", **options)
    with pytest.raises(ValueError):
        P0fMiddleware(inner, "")
