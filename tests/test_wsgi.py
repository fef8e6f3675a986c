"""The WSGI middleware around a plain WSGI application, against the fake daemon."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import pytest

from p0f import P0fResponse
from p0f.testing import FakeP0f, sample_response
from p0f.wsgi import ENVIRON_KEY, P0fMiddleware, get_p0f

CLIENT = "203.0.113.9"
PEER = "127.0.0.1"


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Says what the middleware left in the environ."""
    answer = get_p0f(environ)
    body = json.dumps(
        {
            "present": ENVIRON_KEY in environ,
            "os_name": None if answer is None else answer.os_name,
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def call(wsgi_app: Any, remote_addr: str = PEER, **headers: str) -> dict[str, Any]:
    environ: dict[str, Any] = {"REMOTE_ADDR": remote_addr, "QUERY_STRING": ""}
    environ.update({"HTTP_" + name.upper(): value for name, value in headers.items()})
    setup_testing_defaults(environ)
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    result = wsgi_app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    assert statuses == ["200 OK"]
    found: dict[str, Any] = json.loads(body)
    return found


@pytest.fixture
def middleware(fake_p0f: FakeP0f) -> Iterator[P0fMiddleware]:
    wrapped = P0fMiddleware(app, fake_p0f.socket_path, timeout=2.0, cache_seconds=0)
    try:
        yield wrapped
    finally:
        wrapped.close()


def test_the_answer_is_in_the_environ(fake_p0f: FakeP0f) -> None:
    raw = fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    seen: list[object] = []

    def spy(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ["p0f"])
        return app(environ, start_response)

    wrapped = P0fMiddleware(spy, fake_p0f.socket_path)
    try:
        assert call(validator(wrapped)) == {"present": True, "os_name": "Linux"}
    finally:
        wrapped.close()
    assert seen == [P0fResponse.from_raw(raw)]


def test_no_data_is_none(fake_p0f: FakeP0f, middleware: P0fMiddleware) -> None:
    assert call(middleware) == {"present": True, "os_name": None}
    assert [str(a) for _, a in fake_p0f.queries] == [PEER]


def test_get_p0f_without_the_middleware_is_none() -> None:
    assert get_p0f({}) is None
    assert get_p0f({"p0f": "something else"}) is None


def test_one_connection_serves_every_request_and_thread(
    fake_p0f: FakeP0f, middleware: P0fMiddleware
) -> None:
    for n in range(8):
        fake_p0f.add_host(f"192.0.2.{n}", sample_response(os_name=f"OS {n}"))
    wrong: list[object] = []

    def worker(n: int) -> None:
        for _ in range(25):
            found = call(middleware, remote_addr=f"192.0.2.{n}")
            if found["os_name"] != f"OS {n}":
                wrong.append(found)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert len(fake_p0f.queries) == 200
    assert fake_p0f.connections_served == 1


def test_answers_are_cached(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    wrapped = P0fMiddleware(app, fake_p0f.socket_path, cache_seconds=60)
    try:
        for _ in range(5):
            assert call(wrapped)["os_name"] == "Linux"
    finally:
        wrapped.close()
    assert len(fake_p0f.queries) == 1


def test_a_burst_against_a_dead_daemon_tries_to_connect_once(
    fake_p0f: FakeP0f, connect_attempts: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    fake_p0f.refuse_connections()
    wrapped = P0fMiddleware(app, fake_p0f.socket_path, cache_seconds=0, backoff=30)
    with caplog.at_level(logging.WARNING, logger="p0f.web"):
        assert [call(wrapped)["os_name"] for _ in range(200)] == [None] * 200
    assert len(connect_attempts) == 1
    assert len(caplog.records) == 1


def test_after_the_pause_one_request_tries_again(
    fake_p0f: FakeP0f, connect_attempts: list[str]
) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    fake_p0f.refuse_connections()
    wrapped = P0fMiddleware(app, fake_p0f.socket_path, cache_seconds=0, backoff=0.05)
    try:
        assert call(wrapped)["os_name"] is None
        fake_p0f.accept_connections()
        time.sleep(0.1)
        assert call(wrapped)["os_name"] == "Linux"
        assert len(connect_attempts) == 2
    finally:
        wrapped.close()


def test_no_daemon_at_all_is_none(tmp_path: Path) -> None:
    wrapped = P0fMiddleware(app, tmp_path / "nothing.sock")
    assert call(wrapped) == {"present": True, "os_name": None}


def test_without_trusted_proxies_the_header_is_ignored(
    fake_p0f: FakeP0f, middleware: P0fMiddleware
) -> None:
    fake_p0f.add_host(CLIENT, sample_response(os_name="Windows"))
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    assert call(middleware, x_forwarded_for=CLIENT)["os_name"] == "Linux"


def test_a_trusted_proxy_names_the_client(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host(CLIENT, sample_response(os_name="Windows"))
    wrapped = P0fMiddleware(
        app, fake_p0f.socket_path, trusted_proxies=["127.0.0.1", "10.0.0.0/8"]
    )
    try:
        forwarded = f"6.6.6.6, {CLIENT}, 10.0.0.2"
        assert call(wrapped, x_forwarded_for=forwarded)["os_name"] == "Windows"
        # The same header from a peer that is no trusted proxy is ignored.
        assert call(wrapped, remote_addr="192.0.2.99", x_forwarded_for=forwarded)["os_name"] is None
    finally:
        wrapped.close()
    assert [str(a) for _, a in fake_p0f.queries] == [CLIENT, "192.0.2.99"]


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": 11},
        {"trusted_proxies": "127.0.0.1"},
        {"trusted_proxies": ["localhost"]},
        {"cache_seconds": -1},
        {"cache_size": 0},
        {"backoff": 0},
        {"backoff": 5, "max_backoff": 1},
    ],
)
def test_bad_options_are_refused_at_once(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        P0fMiddleware(app, "/run/p0f.sock", **options)


def test_close_closes_the_connection_and_a_request_reopens_it(
    fake_p0f: FakeP0f, middleware: P0fMiddleware
) -> None:
    call(middleware)
    assert fake_p0f.connection_count == 1
    middleware.close()
    deadline = time.monotonic() + 5
    while fake_p0f.connection_count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake_p0f.connection_count == 0
    call(middleware)
    assert fake_p0f.connections_served == 2
