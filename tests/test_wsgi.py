"""The WSGI middleware around a plain WSGI application, against the fake daemon."""

from __future__ import annotations

import json
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
from p0f.wsgi import ENVIRON_KEY, LookupStatus, P0fMiddleware, get_lookup, get_p0f

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
    wrapped = P0fMiddleware(
        app,
        fake_p0f.socket_path,
        timeout=2.0,
        cache_seconds=0,
        settle_seconds=0,
        idle_timeout=None,  # these tests count connections
    )
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


def test_get_p0f_without_the_middleware_is_none() -> None:
    assert get_p0f({}) is None
    assert get_p0f({"p0f": "something else"}) is None
    assert get_lookup({}).status is LookupStatus.DISABLED
    assert get_lookup({"p0f.lookup": "something else"}).answer is None


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


def test_no_daemon_at_all_is_none(tmp_path: Path) -> None:
    wrapped = P0fMiddleware(app, tmp_path / "nothing.sock")
    assert call(wrapped) == {"present": True, "os_name": None}


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


def test_a_whole_flask_app_wrapped_as_the_readme_says(fake_p0f: FakeP0f) -> None:
    from flask import Flask, request
    from werkzeug.test import Client

    fake_p0f.add_host(CLIENT, sample_response(os_name="Windows"))
    flask_app = Flask(__name__)

    @flask_app.route("/")
    def home() -> dict[str, Any]:
        answer = get_p0f(request.environ)
        return {
            "os_name": None if answer is None else answer.os_name,
            "address": str(get_lookup(request.environ).address),
        }

    application = P0fMiddleware(
        flask_app, fake_p0f.socket_path, trusted_proxies=["127.0.0.1"], settle_seconds=0
    )
    try:
        response = Client(application).get(
            "/", headers={"X-Forwarded-For": CLIENT}, environ_base={"REMOTE_ADDR": PEER}
        )
    finally:
        application.close()
    assert response.status_code == 200
    assert response.json == {"os_name": "Windows", "address": CLIENT}
