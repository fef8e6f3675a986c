"""The ASGI middleware under Starlette (HTTP, websocket, lifespan) and as a
bare ASGI app, against the fake daemon."""

from __future__ import annotations

import asyncio
import ipaddress
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

from p0f import P0fResponse, check_user_agent
from p0f.asgi import (
    LOOKUP_KEY,
    STATE_KEY,
    LookupStatus,
    Message,
    P0fLookup,
    P0fMiddleware,
    Scope,
    get_lookup,
    get_p0f,
)
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
    options.setdefault("settle_seconds", 0)
    options.setdefault("idle_timeout", None)  # the lifespan tests watch the connection
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


def test_websockets_get_the_answer_too(fake_p0f: FakeP0f, client: TestClient) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    with client.websocket_connect("/ws") as websocket:
        assert websocket.receive_json() == {"os_name": "Linux"}


def test_lifespan_shutdown_closes_the_connection(fake_p0f: FakeP0f) -> None:
    with TestClient(make_app(fake_p0f), client=(PEER, 50000)) as test_client:
        os_of(test_client)
        assert fake_p0f.connection_count == 1
    deadline = time.monotonic() + 5
    while fake_p0f.connection_count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_p0f.connection_count == 0


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
    answer = P0fResponse.from_raw(raw)
    assert with_state["state"] == {
        "from_lifespan": 1,
        STATE_KEY: answer,
        LOOKUP_KEY: P0fLookup(
            answer=answer, address=ipaddress.ip_address(PEER), status=LookupStatus.ANSWERED,
            user_agent=check_user_agent(None, answer),  # no User-Agent header: no claim
        ),
    }
    assert get_p0f(with_state) == answer
    assert get_lookup(with_state).address == ipaddress.ip_address(PEER)
    assert without_client["state"] == {
        STATE_KEY: None,
        LOOKUP_KEY: P0fLookup(
            answer=None, address=None, status=LookupStatus.NO_ADDRESS,
            user_agent=check_user_agent(None, None),
        ),
    }
    assert custom is scopes[2] and "state" not in custom
    assert get_p0f(custom) is None
    assert get_lookup(custom).status is LookupStatus.DISABLED
    assert [str(a) for _, a in fake_p0f.queries] == [PEER]

