"""What ``P0f`` and ``AsyncP0f`` promise alike, one suite run on both:
connection errors that say which failure, the idle policy, a full accept
queue, and the checks of their settings."""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from p0f import (
    AsyncP0f,
    P0f,
    P0fConnectError,
    P0fConnectionError,
    P0fConnectionLostError,
    P0fResponse,
    P0fTimeoutError,
    encode_response,
)
from p0f._base import validate_timeout
from p0f.testing import FakeP0f, Fault

from .helpers import fill_queue, host_response, wait_until, watch_for_full_queue


class Client(Protocol):
    """One client, driven the same way whichever kind it is."""

    def query(self, address: str) -> P0fResponse: ...
    def close(self) -> None: ...
    def wait_until(self, condition: Callable[[], bool]) -> None: ...


class SyncClient:
    def __init__(self, path: str, **settings: Any) -> None:
        self.client = P0f(path, **settings)

    def query(self, address: str) -> P0fResponse:
        return self.client.query(address)

    def close(self) -> None:
        self.client.close()

    def wait_until(self, condition: Callable[[], bool]) -> None:
        wait_until(condition)


class AsyncClient:
    """An ``AsyncP0f`` on one event loop that runs while the test waits."""

    def __init__(self, path: str, **settings: Any) -> None:
        self.runner = asyncio.Runner()
        self.client = AsyncP0f(path, **settings)

    def query(self, address: str) -> P0fResponse:
        return self.runner.run(self.client.query(address))

    def close(self) -> None:
        try:
            self.runner.run(self.client.aclose())
        finally:
            self.runner.close()

    def wait_until(self, condition: Callable[[], bool]) -> None:
        async def poll() -> None:
            for _ in range(2000):  # 10 s at most
                if condition():
                    return
                await asyncio.sleep(0.005)
            raise AssertionError("condition not met in time")

        self.runner.run(poll())


MakeClient = Callable[..., Client]


@pytest.fixture(params=["sync", "async"])
def make_client(request: pytest.FixtureRequest) -> Iterator[MakeClient]:
    made: list[Client] = []

    def make(path: str, **settings: Any) -> Client:
        client: Client = (SyncClient if request.param == "sync" else AsyncClient)(
            path, **settings
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


# -- connection errors say which failure ----------------------------------------


def test_a_missing_socket_is_a_connect_error(make_client: MakeClient, tmp_path: Path) -> None:
    client = make_client(str(tmp_path / "nothing.sock"), timeout=1.0)
    with pytest.raises(P0fConnectError) as info:
        client.query("192.0.2.1")
    assert info.value.errno == errno.ENOENT
    assert isinstance(info.value, P0fConnectionError) and isinstance(info.value, OSError)
    assert "[Errno" not in str(info.value)
    assert str(info.value).endswith("nothing.sock: No such file or directory")


@pytest.mark.parametrize("kind", ["regular file", "directory"])
def test_a_path_that_is_not_a_socket_says_so(
    make_client: MakeClient, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "p0f.sock"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_text("")
    client = make_client(str(path), timeout=1.0)
    with pytest.raises(P0fConnectError, match=f"not a socket but a {kind}") as info:
        client.query("192.0.2.1")
    assert info.value.errno == errno.ECONNREFUSED
    assert "[Errno" not in str(info.value)


def test_a_connection_closed_by_p0f_is_a_lost_connection(
    make_client: MakeClient, fake_p0f: FakeP0f
) -> None:
    fake_p0f.add_host("192.0.2.1")
    fake_p0f.inject(Fault(close=True))
    client = make_client(fake_p0f.socket_path)
    with pytest.raises(P0fConnectionLostError, match="lost"):
        client.query("192.0.2.1")
    assert not isinstance(P0fConnectionLostError("x"), TimeoutError)


def test_a_new_connection_never_answered_names_the_connection_limit(
    make_client: MakeClient, tmp_path: Path
) -> None:
    # What a client beyond p0f's -S limit sees: connected, never served.
    path = str(tmp_path / "full.sock")
    with socket.socket(socket.AF_UNIX) as never_served:
        never_served.bind(path)
        never_served.listen(16)
        client = make_client(path, timeout=0.2)
        with pytest.raises(P0fTimeoutError, match="-S connection limit"):
            client.query("192.0.2.1")
        never_served.close()  # so the client's close reads an end, not a wait


# -- a full accept queue: wait and try again, within the timeout --------------------


@pytest.fixture
def full_queue(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A listening socket whose queue of unaccepted connections is full, so
    that ``connect()`` fails at once with EAGAIN (as at p0f's -S limit)."""
    path = str(tmp_path / "queue.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(0)
    fillers = fill_queue(path)
    yield server, path
    for filler in fillers:
        filler.close()
    server.close()


def test_a_queue_that_stays_full_times_out_naming_the_limit(
    make_client: MakeClient, full_queue: tuple[socket.socket, str]
) -> None:
    _, path = full_queue
    client = make_client(path, timeout=0.3)
    with pytest.raises(P0fTimeoutError, match="-S connection limit") as info:
        client.query("192.0.2.1")
    assert info.value.errno == errno.EAGAIN


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_full_queue_is_waited_out_within_the_timeout(
    kind: str, full_queue: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, path = full_queue
    refused = watch_for_full_queue(monkeypatch)
    outcome: list[object] = []

    def ask() -> None:
        client = (SyncClient if kind == "sync" else AsyncClient)(path, timeout=10.0)
        try:
            outcome.append(client.query("192.0.2.1"))
        except BaseException as exc:  # noqa: BLE001 - recorded for the assert
            outcome.append(exc)
        finally:
            client.close()

    thread = threading.Thread(target=ask)
    thread.start()
    try:
        assert refused.wait(10.0), "the client never met the full queue"
        filler, _ = server.accept()  # frees the queue: the client gets in
        filler.close()
        conn, _ = server.accept()
        with conn:
            assert len(conn.recv(21)) == 21
            conn.sendall(encode_response(host_response(1)))
            thread.join(10.0)
    finally:
        thread.join(10.0)
    assert len(outcome) == 1 and isinstance(outcome[0], P0fResponse), outcome
    assert outcome[0].total_conn == 1


# -- idle_timeout ----------------------------------------------------------------------


def test_idle_timeout_zero_closes_after_each_call(
    make_client: MakeClient, fake_p0f: FakeP0f
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = make_client(fake_p0f.socket_path, idle_timeout=0)
    for n in range(1, 4):
        assert client.query("192.0.2.1").total_conn == 1
        client.wait_until(lambda: fake_p0f.connection_count == 0)
        assert fake_p0f.connections_served == n


def test_idle_timeout_keeps_a_busy_connection_and_closes_an_idle_one(
    make_client: MakeClient, fake_p0f: FakeP0f
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    # 1 s idle: far longer than the gap between two calls, even on a
    # loaded machine, and still short enough to wait for.
    client = make_client(fake_p0f.socket_path, idle_timeout=1.0)
    for _ in range(5):
        client.query("192.0.2.1")
    assert fake_p0f.connections_served == 1
    # Nobody calls: the connection is closed on its own once idle 1 s.
    client.wait_until(lambda: fake_p0f.connection_count == 0)
    assert client.query("192.0.2.1").total_conn == 1
    assert fake_p0f.connections_served == 2


def test_idle_timeout_never_closes_with_answers_owed(
    make_client: MakeClient, fake_p0f: FakeP0f
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))
    fake_p0f.inject(Fault(delay=0.4), address="192.0.2.1")
    client = make_client(fake_p0f.socket_path, timeout=0.1, idle_timeout=0)
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    assert fake_p0f.connection_count == 1  # still owed: kept
    client.wait_until(lambda: len(fake_p0f.queries) == 1)
    # The late answer is read and dropped before this call's own.
    answer: P0fResponse | None = None
    for _ in range(20):
        try:
            answer = client.query("192.0.2.2")
            break
        except P0fTimeoutError:
            continue  # still owed the late answer: nothing was sent
    assert answer is not None and answer.total_conn == 2
    client.wait_until(lambda: fake_p0f.connection_count == 0)
    fake_p0f.stop()
    assert fake_p0f.harm == []


# -- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [P0f, AsyncP0f])
@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("timeout", "1", TypeError),
        ("timeout", True, TypeError),
        ("timeout", None, TypeError),
        ("timeout", 0, ValueError),
        ("timeout", -1, ValueError),
        ("timeout", float("inf"), ValueError),
        ("timeout", float("nan"), ValueError),
        ("idle_timeout", "0", TypeError),
        ("idle_timeout", -0.5, ValueError),
        ("idle_timeout", float("inf"), ValueError),
    ],
)
def test_settings_are_checked_alike(
    cls: type[P0f] | type[AsyncP0f], name: str, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match=name):
        cls("/run/p0f.sock", **{name: value})  # type: ignore[arg-type]  # wrong on purpose


def test_validate_timeout_is_the_one_check() -> None:
    assert validate_timeout(2) == 2.0 and isinstance(validate_timeout(2), float)
    assert validate_timeout(0, "idle_timeout", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match="cache_ttl must be positive"):
        validate_timeout(0, "cache_ttl")
    with pytest.raises(TypeError, match="a number of seconds"):
        validate_timeout("1")


@pytest.mark.parametrize("cls", [P0f, AsyncP0f])
def test_idle_timeout_is_shown_and_defaults_to_none(cls: type[P0f] | type[AsyncP0f]) -> None:
    assert cls("/run/p0f.sock").idle_timeout is None
    client = cls("/run/p0f.sock", idle_timeout=5)
    assert client.idle_timeout == 5.0
    assert "idle_timeout=5.0" in repr(client)
    assert "idle_timeout" not in repr(cls("/run/p0f.sock"))


