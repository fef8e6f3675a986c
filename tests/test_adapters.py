"""What the WSGI, ASGI and Django middleware share, tested once for each.

Every test here runs through each adapter as an application sees it: the
WSGI middleware called with an environ, the ASGI middleware called with a
scope on an event loop that lives as long as the site, and the Django
middleware through Django's test clients, sync and async.  Tests of what
only one adapter does stay in test_wsgi.py, test_asgi.py and tests/django/.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, Client, override_settings

import p0f.asgi
import p0f.wsgi
from p0f.django import middleware as django_middleware
from p0f.testing import FakeP0f, sample_response

from .django.views import describe
from .privileges import forbidden_socket, unprivileged

PEER = "127.0.0.1"
CLIENT = "203.0.113.9"

#: The options every adapter takes, as keyword arguments; Django names
#: them P0F_ + the upper-case name.
Options = dict[str, Any]


class Site(Protocol):
    def get(self, remote_addr: str = PEER, forwarded_for: str | None = None) -> dict[str, Any]:
        """One request; what the application saw, as :func:`describe` says."""


class Adapter(Protocol):
    name: str
    #: What a bad option raises: at once for WSGI and ASGI, at the first
    #: request for Django.
    bad_option: tuple[type[Exception], ...]

    def site(self, socket_path: str, **options: Any) -> AbstractContextManager[Site]: ...


# -- WSGI -----------------------------------------------------------------------


def wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    found = p0f.wsgi.get_lookup(environ)
    assert found.answer is p0f.wsgi.get_p0f(environ) is environ["p0f"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(describe(found)).encode()]


class WsgiSite:
    def __init__(self, middleware: p0f.wsgi.P0fMiddleware) -> None:
        self.middleware = middleware

    def get(self, remote_addr: str = PEER, forwarded_for: str | None = None) -> dict[str, Any]:
        environ: dict[str, Any] = {"REMOTE_ADDR": remote_addr}
        if forwarded_for is not None:
            environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
        setup_testing_defaults(environ)
        body = b"".join(self.middleware(environ, lambda status, headers, exc_info=None: print))
        found: dict[str, Any] = json.loads(body)
        return found


class Wsgi:
    name = "wsgi"
    bad_option: tuple[type[Exception], ...] = (TypeError, ValueError)

    @contextmanager
    def site(self, socket_path: str, **options: Any) -> Iterator[Site]:
        middleware = p0f.wsgi.P0fMiddleware(wsgi_app, socket_path, **options)
        try:
            yield WsgiSite(middleware)
        finally:
            middleware.close()


# -- ASGI -----------------------------------------------------------------------


async def asgi_app(scope: p0f.asgi.Scope, receive: p0f.asgi.Receive, send: p0f.asgi.Send) -> None:
    found = p0f.asgi.get_lookup(scope)
    assert found.answer is p0f.asgi.get_p0f(scope) is scope["state"]["p0f"]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(describe(found)).encode()})


class AsgiSite:
    def __init__(self, middleware: p0f.asgi.P0fMiddleware, runner: asyncio.Runner) -> None:
        self.middleware = middleware
        self.runner = runner

    def get(self, remote_addr: str = PEER, forwarded_for: str | None = None) -> dict[str, Any]:
        headers = [] if forwarded_for is None else [(b"x-forwarded-for", forwarded_for.encode())]
        scope = {"type": "http", "client": (remote_addr, 50000), "headers": headers}
        sent: list[p0f.asgi.Message] = []

        async def receive() -> p0f.asgi.Message:
            return {"type": "http.request", "body": b""}

        async def send(message: p0f.asgi.Message) -> None:
            sent.append(message)

        self.runner.run(self.middleware(scope, receive, send))
        found: dict[str, Any] = json.loads(sent[-1]["body"])
        return found


class Asgi:
    name = "asgi"
    bad_option: tuple[type[Exception], ...] = (TypeError, ValueError)

    @contextmanager
    def site(self, socket_path: str, **options: Any) -> Iterator[Site]:
        middleware = p0f.asgi.P0fMiddleware(asgi_app, socket_path, **options)
        with asyncio.Runner() as runner:
            try:
                yield AsgiSite(middleware, runner)
            finally:
                runner.run(middleware.aclose())


# -- Django, sync and async -------------------------------------------------------------


class AsyncClientFrom(AsyncClient):
    """Django's async test client, as seen from ``remote_addr``: the ASGI
    scope's "client" is what becomes ``REMOTE_ADDR``."""

    def __init__(self, remote_addr: str) -> None:
        super().__init__()
        self.remote_addr = remote_addr

    def _base_scope(self, **request: Any) -> dict[str, Any]:
        # Not in django-stubs: a private hook of AsyncRequestFactory.
        base = getattr(super(), "_base_scope")
        scope: dict[str, Any] = base(**request)
        scope["client"] = [self.remote_addr, 50000]
        return scope


class DjangoSite:
    def __init__(self, asynchronous: bool, runner: asyncio.Runner | None) -> None:
        self.asynchronous = asynchronous
        self.runner = runner

    def get(self, remote_addr: str = PEER, forwarded_for: str | None = None) -> dict[str, Any]:
        headers = {} if forwarded_for is None else {"X-Forwarded-For": forwarded_for}
        if self.runner is not None:
            answered = self.runner.run(
                AsyncClientFrom(remote_addr).get("/async/", headers=headers)
            )
            status, content = answered.status_code, answered.json()
        else:
            response = Client().get("/sync/", headers=headers, REMOTE_ADDR=remote_addr)
            status, content = response.status_code, response.json()
        assert status == 200
        body = content["p0f_lookup"]
        assert isinstance(body, dict)
        return body


class Django:
    bad_option: tuple[type[Exception], ...] = (ImproperlyConfigured,)

    def __init__(self, asynchronous: bool) -> None:
        self.asynchronous = asynchronous
        self.name = "django-async" if asynchronous else "django-sync"

    @contextmanager
    def site(self, socket_path: str, **options: Any) -> Iterator[Site]:
        settings = {"P0F_" + name.upper(): value for name, value in options.items()}
        django_middleware.reset()
        with ExitStack() as stack:
            stack.enter_context(override_settings(P0F_SOCKET=socket_path, **settings))
            runner = stack.enter_context(asyncio.Runner()) if self.asynchronous else None
            try:
                yield DjangoSite(self.asynchronous, runner)
            finally:
                if runner is not None:
                    runner.run(django_middleware.aclose())
                django_middleware.reset()


ADAPTERS: list[Adapter] = [Wsgi(), Asgi(), Django(False), Django(True)]


@pytest.fixture(params=ADAPTERS, ids=lambda adapter: adapter.name)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    chosen: Adapter = request.param
    return chosen


@pytest.fixture
def open_site(
    adapter: Adapter, fake_p0f: FakeP0f
) -> Iterator[Callable[..., Site]]:
    """Open sites on the fake daemon with these options (closed at the end)."""
    with ExitStack() as stack:

        def open_(**options: Any) -> Site:
            options.setdefault("timeout", 2.0)
            return stack.enter_context(adapter.site(fake_p0f.socket_path, **options))

        yield open_


def queried(fake: FakeP0f) -> list[str]:
    return [str(address) for _, address in fake.queries]


# -- the tests ------------------------------------------------------------------------------


def test_the_application_gets_the_answer_and_the_address(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux", http_name="Firefox"))
    site = open_site()
    assert site.get() == {"os_name": "Linux", "address": PEER, "status": "answered", "cached": False}
    assert site.get()["cached"] is True
    assert queried(fake_p0f) == [PEER]


def test_the_connection_is_given_back_after_each_lookup(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    # p0f serves few connections: an idle web process must not hold one.
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    fake_p0f.add_host("192.0.2.7", sample_response(os_name="Windows"))
    site = open_site()
    assert site.get()["os_name"] == "Linux"
    assert site.get(remote_addr="192.0.2.7")["os_name"] == "Windows"
    wait_for(lambda: fake_p0f.connection_count == 0, "the connection to be closed")
    assert fake_p0f.connections_served == 2


def test_idle_timeout_none_keeps_one_connection(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    for n in range(5):
        fake_p0f.add_host(f"192.0.2.{n}", sample_response(os_name=f"OS {n}"))
    site = open_site(idle_timeout=None)
    assert [site.get(remote_addr=f"192.0.2.{n}")["os_name"] for n in range(5)] == [
        f"OS {n}" for n in range(5)
    ]
    assert fake_p0f.connections_served == 1
    assert fake_p0f.connection_count == 1


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.005)


def test_no_data_is_none_after_settling(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    site = open_site(settle_seconds=0.005)
    assert site.get() == {"os_name": None, "address": PEER, "status": "no data", "cached": False}
    # Asked at once, then 2, 3, 4 and 5 ms after the first "no data".
    assert queried(fake_p0f) == [PEER] * 5


def test_a_host_p0f_learns_about_while_settling_is_answered(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    site = open_site(settle_seconds=1.0)
    learned = threading.Event()

    def learn_after_two_queries() -> None:
        deadline = time.monotonic() + 10
        while len(fake_p0f.queries) < 2 and time.monotonic() < deadline:
            time.sleep(0.0005)
        fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
        learned.set()

    thread = threading.Thread(target=learn_after_two_queries)
    thread.start()
    try:
        found = site.get()
    finally:
        thread.join()
    assert learned.is_set()
    assert found["os_name"] == "Linux" and found["status"] == "answered"
    assert 3 <= len(fake_p0f.queries) < 20


def test_no_data_is_reused_only_briefly(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    site = open_site(settle_seconds=0, negative_cache_seconds=0.2, cache_seconds=60)
    assert site.get()["os_name"] is None
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    assert site.get() == {"os_name": None, "address": PEER, "status": "no data", "cached": True}
    time.sleep(0.3)  # let the "no data" entry expire: the behaviour under test
    assert site.get()["os_name"] == "Linux"
    assert queried(fake_p0f) == [PEER, PEER]


def test_answers_are_cached_per_address(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux", http_name="Firefox"))
    fake_p0f.add_host("192.0.2.7", sample_response(os_name="Windows", http_name="Chrome"))
    site = open_site(cache_seconds=60, negative_cache_seconds=60, settle_seconds=0)
    for _ in range(5):
        assert site.get()["os_name"] == "Linux"
        assert site.get(remote_addr="192.0.2.7")["os_name"] == "Windows"
        assert site.get(remote_addr="192.0.2.8")["os_name"] is None
    assert sorted(queried(fake_p0f)) == [PEER, "192.0.2.7", "192.0.2.8"]


def test_an_answer_without_http_fields_is_asked_again_once(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux", http_name=""))
    site = open_site(cache_seconds=60)
    assert site.get()["cached"] is False
    fake_p0f.add_host(PEER, sample_response(os_name="Linux", http_name="Firefox"))
    time.sleep(0.05)  # past the recheck time (20 ms): the behaviour under test
    assert site.get()["cached"] is False  # asked again
    assert [site.get()["cached"] for _ in range(3)] == [True] * 3
    assert queried(fake_p0f) == [PEER, PEER]


def test_the_trusted_proxy_names_the_address_looked_up(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    fake_p0f.add_host(CLIENT, sample_response(os_name="Windows"))
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    site = open_site(trusted_proxies=["127.0.0.1", "10.0.0.0/8"], settle_seconds=0)
    forwarded = f"6.6.6.6, {CLIENT}, 10.0.0.2"
    found = site.get(forwarded_for=forwarded)
    assert (found["os_name"], found["address"]) == ("Windows", CLIENT)
    # The same header from a peer that is no trusted proxy is ignored.
    found = site.get(remote_addr="192.0.2.99", forwarded_for=forwarded)
    assert (found["os_name"], found["address"]) == (None, "192.0.2.99")
    assert queried(fake_p0f) == [CLIENT, "192.0.2.99"]


def test_without_trusted_proxies_the_header_is_ignored(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    fake_p0f.add_host(CLIENT, sample_response(os_name="Windows"))
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    found = open_site().get(forwarded_for=CLIENT)
    assert (found["os_name"], found["address"]) == ("Linux", PEER)


def test_a_garbled_trusted_hop_means_no_lookup(
    fake_p0f: FakeP0f, open_site: Callable[..., Site]
) -> None:
    site = open_site(trusted_proxies=["127.0.0.1"])
    found = site.get(forwarded_for=f"{CLIENT}, unknown")
    assert found == {"os_name": None, "address": None, "status": "no address", "cached": False}
    assert fake_p0f.queries == []


def test_a_burst_against_a_dead_daemon_tries_to_connect_once(
    fake_p0f: FakeP0f,
    open_site: Callable[..., Site],
    connect_attempts: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_p0f.refuse_connections()
    site = open_site(backoff=30, cache_seconds=0)
    with caplog.at_level(logging.INFO, logger="p0f.web"):
        assert {site.get()["status"] for _ in range(100)} == {"unavailable"}
    assert len(connect_attempts) == 1
    (record,) = caplog.records
    assert "skipping lookups for 30 s" in record.getMessage()
    assert "[Errno" not in record.getMessage()


def test_one_line_says_when_p0f_is_back(
    fake_p0f: FakeP0f, open_site: Callable[..., Site], caplog: pytest.LogCaptureFixture
) -> None:
    fake_p0f.add_host(PEER, sample_response(os_name="Linux"))
    fake_p0f.refuse_connections()
    site = open_site(backoff=0.05, max_backoff=0.05, cache_seconds=0)
    with caplog.at_level(logging.INFO, logger="p0f.web"):
        assert site.get()["status"] == "unavailable"
        fake_p0f.accept_connections()
        time.sleep(0.1)  # past the pause: the behaviour under test
        assert [site.get()["os_name"] for _ in range(3)] == ["Linux"] * 3
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages
    assert "skipping lookups for 0.05 s" in messages[0]
    assert messages[1].startswith("p0f answers again, after ")


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_path_that_is_no_socket_is_reported_as_such(
    kind: str, adapter: Adapter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "p0f.sock"
    if kind == "file":
        path.write_text("")
    else:
        path.mkdir()
    with adapter.site(str(path), timeout=1.0) as site, caplog.at_level(
        logging.WARNING, logger="p0f.web"
    ):
        assert site.get()["status"] == "unavailable"
    (record,) = caplog.records
    what = "a regular file" if kind == "file" else "a directory"
    assert f"cannot connect to p0f at {path}: not a socket but {what}" in record.getMessage()
    assert "[Errno" not in record.getMessage()


def test_a_socket_nobody_listens_on_is_reported_as_such(
    adapter: Adapter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import socket

    path = str(tmp_path / "p0f.sock")
    with socket.socket(socket.AF_UNIX) as stale:  # what a killed p0f leaves
        stale.bind(path)
        with adapter.site(path, timeout=1.0) as site, caplog.at_level(
            logging.WARNING, logger="p0f.web"
        ):
            assert site.get()["status"] == "unavailable"
    (record,) = caplog.records
    assert f"nobody is listening on {path}" in record.getMessage()


# Forked (see tests/privileges.py): Django's async path needs asgiref's
# threads, which a forked child lacks; it reports failures as the sync path.
@pytest.mark.parametrize(
    "adapter", [Wsgi(), Asgi(), Django(False)], ids=lambda adapter: adapter.name
)
def test_permission_denied_is_reported_as_such(adapter: Adapter) -> None:
    def visit() -> str:
        records: list[logging.LogRecord] = []

        class Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append(record)

        handler = Collect()
        log = logging.getLogger("p0f.web")
        log.addHandler(handler)
        try:
            with adapter.site(path, timeout=1.0) as site:
                status = site.get()["status"]
        finally:
            log.removeHandler(handler)
        return f"{status}: " + " / ".join(record.getMessage() for record in records)

    with forbidden_socket() as path:
        seen = unprivileged(visit)
    assert seen.startswith("unavailable: p0f lookup of 127.0.0.1 failed: ")
    assert f"permission denied connecting to {path}" in seen
    assert "[Errno" not in seen


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": 11},
        {"trusted_proxies": "127.0.0.1"},
        {"cache_seconds": -1},
        {"cache_size": 0},
        {"negative_cache_seconds": -1},
        {"settle_seconds": 2},
        {"settle_seconds": "0.01"},
        {"backoff": 0},
        {"backoff": 5, "max_backoff": 1},
        {"idle_timeout": -1},
        {"idle_timeout": "never"},
    ],
)
def test_bad_options_are_refused(adapter: Adapter, options: Options) -> None:
    with pytest.raises(adapter.bad_option):
        with adapter.site("/run/p0f.sock", **options) as site:
            site.get()  # Django reads its settings at the first request
