"""The idle policy and a full p0f, against the real daemon with a low -S.

p0f serves at most ``-S`` API connections; the next ones wait in its listen
queue (whose length is also ``-S``), and once that is full ``connect()``
fails at once with EAGAIN.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from p0f import P0f, P0fTimeoutError

from ..helpers import fill_queue, watch_for_full_queue
from .daemon import P0fDaemon
from .test_harm import assert_answers_correctly, seed_hosts

pytestmark = pytest.mark.real_daemon

StartP0f = Callable[..., P0fDaemon]


def test_idle_timeout_zero_lets_more_clients_than_slots_take_turns(
    start_p0f: StartP0f,
) -> None:
    daemon = start_p0f("-S", "1")
    reference = seed_hosts(daemon)
    hosts = list(reference)
    clients = [P0f(daemon.socket_path, timeout=3.0, idle_timeout=0) for _ in range(4)]
    try:
        for n in range(40):
            client, host = clients[n % 4], hosts[n % 2]
            assert client.get_info(host, return_raw_data=True) == reference[host]
    finally:
        for client in clients:
            client.close()
    assert_answers_correctly(daemon, reference)


@pytest.fixture
def eagain_seen(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    return watch_for_full_queue(monkeypatch)


def test_a_full_accept_queue_is_waited_out(
    start_p0f: StartP0f, eagain_seen: threading.Event
) -> None:
    daemon = start_p0f("-S", "1")
    reference = seed_hosts(daemon)
    host = next(iter(reference))
    holder = P0f(daemon.socket_path, timeout=3.0)
    assert holder.get_info(host, return_raw_data=True) == reference[host]
    fillers = fill_queue(daemon.socket_path)
    assert fillers, "p0f's queue took no connection at all"
    outcome: list[object] = []

    def ask() -> None:
        late = P0f(daemon.socket_path, timeout=10.0)
        try:
            outcome.append(late.get_info(host, return_raw_data=True))
        except BaseException as exc:  # noqa: BLE001 - recorded for the assert
            outcome.append(exc)
        finally:
            late.close()

    thread = threading.Thread(target=ask)
    thread.start()
    try:
        assert eagain_seen.wait(10.0), "connect() never met a full queue"
        # Free the slot and the queue: the waiting client gets in.
        for filler in fillers:
            filler.close()
        holder.close()
    finally:
        thread.join(15.0)
    assert not thread.is_alive()
    assert outcome == [reference[host]]
    assert_answers_correctly(daemon, reference)


def test_a_connection_p0f_never_serves_names_the_limit(start_p0f: StartP0f) -> None:
    daemon = start_p0f("-S", "1")
    reference = seed_hosts(daemon)
    host = next(iter(reference))
    with P0f(daemon.socket_path, timeout=3.0) as holder:
        assert holder.get_info(host, return_raw_data=True) == reference[host]
        beyond = P0f(daemon.socket_path, timeout=0.5)
        with pytest.raises(P0fTimeoutError, match="-S connection limit"):
            beyond.query(host)
        holder.close()  # frees the slot: the owed answer comes, and is read
        beyond.close()
    assert_answers_correctly(daemon, reference)


