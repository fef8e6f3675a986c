"""The blocking client against the fake daemon: answers, faults, threads."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import signal
import socket
import sys
import termios
import threading
import time
from typing import cast

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from p0f import (
    BadQueryError,
    InvalidAddressError,
    NoMatchError,
    P0f,
    P0fConnectionError,
    P0fConnectionLostError,
    P0fError,
    P0fException,
    P0fResponse,
    P0fTimeoutError,
    ProtocolError,
    RawResponse,
    encode_query,
)
from p0f import _drain, _sync
from p0f._base import MAX_TIMEOUT
from p0f._drain import pending as pending_drainers
from p0f.testing import FakeP0f, Fault, sample_response

from .helpers import child_alive, host_response, wait_until
from .strategies import addresses, raw_responses


def answer_once_owed_is_read(client: P0f, address: str) -> P0fResponse:
    """Ask until the late answer still owed has come and been dropped (each
    try times out without sending anything while it is owed)."""
    for _ in range(100):
        try:
            return client.query(address)
        except P0fTimeoutError:
            continue
    raise AssertionError("the owed answer never came")


# -- answers --------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=raw_responses(), address=addresses)
def test_any_answer_comes_back_equal(
    fake_p0f: FakeP0f,
    p0f_client: P0f,
    raw: RawResponse,
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    fake_p0f.add_host(address, raw)
    assert p0f_client.get_info(address, True) == raw
    assert p0f_client.query(str(address)) == P0fResponse.from_raw(raw)
    assert p0f_client.query(address).raw == raw


def test_query_ipv4_ipv6_and_mapped(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("2001:db8::1", host_response(2))
    assert p0f_client.query("192.0.2.1").total_conn == 1
    assert p0f_client.query("::ffff:192.0.2.1").total_conn == 1
    assert p0f_client.query("2001:db8::1").total_conn == 2
    assert p0f_client.query(ipaddress.IPv6Address("2001:db8::1")).total_conn == 2
    sent = [address for _, address in fake_p0f.queries]
    assert sent == [
        ipaddress.IPv4Address("192.0.2.1"),
        ipaddress.IPv4Address("192.0.2.1"),
        ipaddress.IPv6Address("2001:db8::1"),
        ipaddress.IPv6Address("2001:db8::1"),
    ]


def test_no_match_is_a_key_error(p0f_client: P0f) -> None:
    with pytest.raises(NoMatchError) as info:
        p0f_client.query("192.0.2.99")
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, P0fException)
    assert "192.0.2.99" in str(info.value)
    with pytest.raises(KeyError):
        p0f_client.get_info("192.0.2.99", True)


def test_bad_query_status(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    fake_p0f.add_host("192.0.2.1", sample_response(status=0))
    with pytest.raises(BadQueryError):
        p0f_client.query("192.0.2.1")


def test_invalid_address_sends_nothing(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    with pytest.raises(InvalidAddressError):
        p0f_client.query("192.0.2")
    with pytest.raises(InvalidAddressError):
        p0f_client.query_many(["192.0.2.1", "nonsense"])
    assert fake_p0f.queries == []
    assert fake_p0f.connections_served == 0


def test_query_many_in_order_with_none_for_no_match(
    fake_p0f: FakeP0f, p0f_client: P0f
) -> None:
    for n in range(0, 3000, 2):
        fake_p0f.add_host(ipaddress.IPv4Address(0x0A000000 + n), host_response(n))
    addresses = [ipaddress.IPv4Address(0x0A000000 + n) for n in range(3000)]
    results = p0f_client.query_many(addresses)
    assert len(results) == 3000
    for n, result in enumerate(results):
        if n % 2:
            assert result is None
        else:
            assert result is not None and result.total_conn == n
    assert p0f_client.query_many([]) == []
    assert fake_p0f.connections_served == 1


def test_one_connection_is_reused(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    fake_p0f.add_host("192.0.2.1")
    for _ in range(50):
        p0f_client.query("192.0.2.1")
    assert fake_p0f.connections_served == 1


# -- never another host's answer --------------------------------------------


def test_stale_answer_is_drained_not_returned(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))
    client = P0f(fake_p0f.socket_path, timeout=0.3)
    fake_p0f.inject(Fault(delay=0.45), address="192.0.2.1")
    started = time.monotonic()
    with pytest.raises(P0fTimeoutError) as info:
        client.query("192.0.2.1")
    assert time.monotonic() - started > 0.25  # it waited its timeout
    assert isinstance(info.value, TimeoutError) and isinstance(info.value, OSError)
    # The late answer about .1 arrives while we ask about .2: we get .2's.
    assert client.query("192.0.2.2").total_conn == 2
    assert client.query("192.0.2.1").total_conn == 1
    assert fake_p0f.connections_served == 1
    client.close()
    fake_p0f.stop()
    assert fake_p0f.harm == []


def test_stalled_daemon_times_out_again_rather_than_answering_wrongly(
    fake_p0f: FakeP0f,
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))
    client = P0f(fake_p0f.socket_path, timeout=0.2)
    fake_p0f.inject(Fault(delay=0.9), address="192.0.2.1")
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.2")  # still owed the first answer: nothing sent
    assert len(fake_p0f.queries) == 1
    assert answer_once_owed_is_read(client, "192.0.2.2").total_conn == 2
    assert [str(a) for _, a in fake_p0f.queries] == ["192.0.2.1", "192.0.2.2"]
    client.close()


def test_partial_answer_then_timeout(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))
    client = P0f(fake_p0f.socket_path, timeout=0.3)
    fake_p0f.inject(Fault(trickle=0.004), address="192.0.2.1")  # ~0.9 s for 232 bytes
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    assert answer_once_owed_is_read(client, "192.0.2.2").total_conn == 2
    client.close()


def test_trickled_bytes_are_assembled(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.inject(Fault(trickle=0.0005))
    assert p0f_client.query("192.0.2.1").total_conn == 1


# -- faults ------------------------------------------------------------------


def test_wrong_magic_is_a_protocol_error_and_the_next_query_works(
    fake_p0f: FakeP0f, p0f_client: P0f
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    spoiled = attrs.evolve(host_response(1), magic=0x12345678).to_bytes()
    fake_p0f.inject(Fault(payload=spoiled))
    with pytest.raises(ProtocolError, match="magic"):
        p0f_client.query("192.0.2.1")
    assert isinstance(ProtocolError("x"), ValueError)
    assert p0f_client.query("192.0.2.1").total_conn == 1
    assert fake_p0f.connections_served == 2


def test_too_long_answer_is_a_protocol_error(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.inject(Fault(payload=host_response(1).to_bytes() + b"\0" * 8))
    with pytest.raises(ProtocolError):
        p0f_client.query("192.0.2.1")
    assert p0f_client.query("192.0.2.1").total_conn == 1


def test_bytes_sent_after_a_whole_answer_are_never_the_next_hosts(
    fake_p0f: FakeP0f, p0f_client: P0f
) -> None:
    # A faulty daemon sends host 1's answer and then, in later reads, host
    # 2's too.  The call for host 1 returns as soon as its answer is whole;
    # the next query (host 3) must not take the unasked answer as its own.
    for n in (1, 2, 3):
        fake_p0f.add_host(f"192.0.2.{n}", host_response(n))
    twice = host_response(1).to_bytes() + host_response(2).to_bytes()
    fake_p0f.inject(Fault(payload=twice, trickle=0.0005), address="192.0.2.1")
    assert p0f_client.query("192.0.2.1").total_conn == 1
    sock = p0f_client._conn.sock if p0f_client._conn is not None else None
    assert sock is not None

    def unread() -> int:
        return int.from_bytes(fcntl.ioctl(sock, termios.FIONREAD, bytes(4)), sys.byteorder)

    wait_until(lambda: unread() >= len(twice) - 232)  # all sent, nothing read
    with pytest.raises(ProtocolError):
        p0f_client.query("192.0.2.3")
    assert p0f_client.query("192.0.2.3").total_conn == 3  # on a new connection
    fake_p0f.stop()
    assert fake_p0f.harm == []


def test_truncated_answer_then_close(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.inject(Fault(truncate=100))
    with pytest.raises(P0fConnectionError) as info:
        p0f_client.query("192.0.2.1")
    assert not isinstance(info.value, P0fTimeoutError)
    assert p0f_client.query("192.0.2.1").total_conn == 1


def test_truncated_answer_then_hang(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = P0f(fake_p0f.socket_path, timeout=0.2)
    fake_p0f.inject(Fault(truncate=100, hang=True))
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    client.close()  # the fake never answers: a drainer keeps the socket
    assert pending_drainers() == 1
    fake_p0f.drop_connections()
    wait_until(lambda: pending_drainers() == 0)


def test_client_dropped_with_answers_owed_does_not_close_early(
    fake_p0f: FakeP0f,
) -> None:
    import gc

    fake_p0f.add_host("192.0.2.1")
    client = P0f(fake_p0f.socket_path, timeout=0.1)
    # The answer comes 2 s late, so it is still owed when the client is
    # dropped, however slowly a loaded machine runs this test.
    fake_p0f.inject(Fault(delay=2.0))
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    del client
    gc.collect()
    assert pending_drainers() == 1
    wait_until(lambda: pending_drainers() == 0)
    fake_p0f.stop()
    assert fake_p0f.harm == []


def test_connection_refused_and_missing_socket(tmp_path: object) -> None:
    missing = P0f("/nonexistent/p0f.sock", timeout=0.2)
    with pytest.raises(P0fConnectionError) as info:
        missing.query("192.0.2.1")
    assert isinstance(info.value, OSError) and isinstance(info.value, P0fError)
    with FakeP0f() as fake:
        fake.add_host("192.0.2.1", host_response(1))
        client = P0f(fake.socket_path, timeout=0.2)
        fake.refuse_connections()
        with pytest.raises(P0fConnectionError, match="cannot connect"):
            client.query("192.0.2.1")
        fake.accept_connections()
        assert client.query("192.0.2.1").total_conn == 1
        client.close()


def test_daemon_restart_is_survived(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    assert p0f_client.query("192.0.2.1").total_conn == 1
    fake_p0f.restart()
    assert p0f_client.query("192.0.2.1").total_conn == 1
    assert fake_p0f.connections_served == 2


def test_connection_dropped_mid_batch_fails_that_call_only(
    fake_p0f: FakeP0f, p0f_client: P0f
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.5", host_response(5))
    batch = ["192.0.2.1"] * 4 + ["192.0.2.5"] + ["192.0.2.1"] * 5
    p0f_client.query("192.0.2.1")
    fake_p0f.inject(Fault(close=True, delay=0.05), address="192.0.2.5")
    with pytest.raises(P0fConnectionError, match="lost"):
        p0f_client.query_many(batch)
    results = p0f_client.query_many(batch)
    assert [r.total_conn if r else None for r in results] == [1] * 4 + [5] + [1] * 5


def test_connection_dropped_before_any_answer_is_retried_once(
    fake_p0f: FakeP0f, p0f_client: P0f
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    p0f_client.query("192.0.2.1")
    fake_p0f.inject(Fault(close=True))
    assert p0f_client.query("192.0.2.1").total_conn == 1
    assert fake_p0f.connections_served == 2
    fake_p0f.inject(Fault(close=True), count=2)
    with pytest.raises(P0fConnectionError):
        p0f_client.query("192.0.2.1")


def test_connection_cap_gives_timeout_then_works(tmp_path: object) -> None:
    with FakeP0f(max_connections=2) as fake:
        fake.add_host("192.0.2.1", host_response(1))
        first, second = P0f(fake.socket_path), P0f(fake.socket_path)
        first.query("192.0.2.1")
        second.query("192.0.2.1")
        third = P0f(fake.socket_path, timeout=0.3)
        with pytest.raises(P0fTimeoutError, match="-S connection limit"):
            third.query("192.0.2.1")
        first.close()
        assert P0f(fake.socket_path).timeout == 1.0
        assert third.query("192.0.2.1").total_conn == 1
        second.close()
        third.close()


# -- closing -------------------------------------------------------------------


def test_close_is_idempotent_and_client_reconnects(
    fake_p0f: FakeP0f, p0f_client: P0f
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    p0f_client.query("192.0.2.1")
    p0f_client.close()
    p0f_client.close()
    wait_until(lambda: fake_p0f.connection_count == 0)
    assert p0f_client.query("192.0.2.1").total_conn == 1
    assert fake_p0f.connections_served == 2


def test_context_manager_closes(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1")
    with P0f(fake_p0f.socket_path) as client:
        client.query("192.0.2.1")
        assert fake_p0f.connection_count == 1
    wait_until(lambda: fake_p0f.connection_count == 0)


def test_close_waits_for_owed_answers(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1")
    client = P0f(fake_p0f.socket_path, timeout=0.1)
    fake_p0f.inject(Fault(delay=0.5))
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started > 0.3  # it waited for the answer
    assert pending_drainers() == 0  # and read it: nothing left to a drainer
    fake_p0f.stop()
    assert fake_p0f.harm == []


def test_close_hands_a_stalled_connection_to_a_drainer(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("192.0.2.1")
    client = P0f(fake_p0f.socket_path, timeout=0.1)
    fake_p0f.inject(Fault(delay=4.0))
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    started = time.monotonic()
    client.close()
    assert time.monotonic() - started > 0.9  # the one-second grace, though timeout is 0.1
    assert pending_drainers() == 1  # returned before the answer came
    wait_until(lambda: pending_drainers() == 0)
    fake_p0f.stop()
    assert fake_p0f.harm == []


def test_the_fake_records_a_careless_client(fake_p0f: FakeP0f) -> None:
    # What the 2014 client did after a timeout: close with the answer owed.
    fake_p0f.add_host("192.0.2.1")
    fake_p0f.inject(Fault(delay=0.2))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(fake_p0f.socket_path)
    sock.sendall(encode_query("192.0.2.1"))
    wait_until(lambda: len(fake_p0f.queries) == 1)
    sock.close()
    wait_until(lambda: bool(fake_p0f.harm))
    fake_p0f.harm.clear()  # seen; do not fail the fixture's teardown


# -- threads -----------------------------------------------------------------


def test_threads_share_one_client(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    hosts = 64
    for n in range(hosts):
        fake_p0f.add_host(f"10.1.0.{n}", host_response(n))
    errors: list[str] = []

    def worker(seed: int) -> None:
        for i in range(2000):
            n = (seed * 7 + i) % hosts
            got = p0f_client.query(f"10.1.0.{n}")
            if got.total_conn != n or got.os_flavor != host_response(n).os_flavor:
                errors.append(f"asked {n}, got {got.total_conn}")

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(fake_p0f.queries) == 16000
    assert fake_p0f.connections_served == 1


def test_threads_with_timeouts_never_get_wrong_answers(fake_p0f: FakeP0f) -> None:
    hosts = 16
    for n in range(hosts):
        fake_p0f.add_host(f"10.2.0.{n}", host_response(n))
    client = P0f(fake_p0f.socket_path, timeout=0.05)
    for n in range(0, hosts, 4):
        fake_p0f.inject(Fault(delay=0.08), address=f"10.2.0.{n}", count=3)
    wrong: list[str] = []
    answered = 0
    lock = threading.Lock()

    def worker(seed: int) -> None:
        nonlocal answered
        for i in range(150):
            n = (seed + i) % hosts
            try:
                got = client.query(f"10.2.0.{n}")
            except P0fTimeoutError:
                continue
            with lock:
                answered += 1
                if got.total_conn != n:
                    wrong.append(f"asked {n}, got {got.total_conn}")

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client.close()
    assert wrong == []
    assert answered > 300


def test_forked_child_gets_its_own_connection(fake_p0f: FakeP0f, p0f_client: P0f) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    p0f_client.query("192.0.2.1")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        try:
            ok = p0f_client.query("192.0.2.1").total_conn == 1
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert p0f_client.query("192.0.2.1").total_conn == 1
    assert fake_p0f.connections_served == 2


# -- arguments ----------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan")])
def test_bad_timeouts(timeout: float) -> None:
    with pytest.raises(ValueError):
        P0f("/tmp/x.sock", timeout=timeout)


def test_bad_timeout_type_and_path() -> None:
    with pytest.raises(TypeError):
        P0f("/tmp/x.sock", timeout="1")  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(ValueError):
        P0f("")


def test_repr_and_properties() -> None:
    client = P0f("/run/p0f.sock", timeout=0.5)
    assert repr(client) == "P0f('/run/p0f.sock', timeout=0.5)"
    assert client.socket_path == "/run/p0f.sock"
    assert client.timeout == 0.5


# -- found in review: bounds that must hold on every path -----------------------


def test_signals_more_often_than_the_timeout_do_not_stretch_a_call(fake_p0f: FakeP0f) -> None:
    # An interval timer (a profiler, say) interrupts the wait every 50 ms.
    # With kernel socket timeouts Python retried the interrupted recv() with
    # the whole timeout again, so the call lasted as long as p0f stalled.
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = P0f(fake_p0f.socket_path, timeout=0.5)
    client.query("192.0.2.1")
    fake_p0f.inject(Fault(delay=8.0))
    ticks: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: ticks.append(signum))
    signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
    try:
        start = time.monotonic()
        with pytest.raises(P0fTimeoutError):
            client.query("192.0.2.1")
        took = time.monotonic() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert ticks, "the timer never interrupted the call"
    assert took < 5.0  # generous: the timeout is 0.5 s, the stall 8 s
    client.close()  # the late answer is drained in the background
    fake_p0f.drop_connections()
    wait_until(lambda: pending_drainers() == 0)


@pytest.mark.parametrize("timeout", [30 * 86400.0, MAX_TIMEOUT])
def test_a_timeout_longer_than_poll_can_wait_still_works(
    fake_p0f: FakeP0f, timeout: float
) -> None:
    # poll() takes a C int of milliseconds, about 24.8 days: a longer
    # timeout (any accepted one) must not overflow when a call waits.
    one, two = host_response(1), host_response(2)
    fake_p0f.add_host("192.0.2.1", one)
    fake_p0f.add_host("192.0.2.2", two)
    with P0f(fake_p0f.socket_path, timeout=timeout) as client:
        assert client.query("192.0.2.1").raw == one
        fake_p0f.inject(Fault(delay=0.2))  # the call waits in poll()
        assert client.query("192.0.2.2").raw == two
        answers = client.query_many(["192.0.2.2", "192.0.2.1"])
        assert [a.raw if a else None for a in answers] == [two, one]


def test_a_call_past_its_time_before_it_sends_sends_nothing(
    fake_p0f: FakeP0f, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The thread stalls between the call's start and its write (another
    # thread holds the GIL when poll() returns, the process is descheduled):
    # by the write the call's time is up.  It times out without sending, so
    # that it leaves nothing owed, as a call on a connection owed answers
    # does; a query written after the deadline is never waited for.
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = P0f(fake_p0f.socket_path, timeout=0.5)
    assert client.query("192.0.2.1").total_conn == 1  # connection open, clean

    class Stalled:
        # Each look at the clock finds a second gone by.
        def __init__(self) -> None:
            self.offset = 0.0

        def monotonic(self) -> float:
            self.offset += 1.0
            return time.monotonic() + self.offset

        def sleep(self, seconds: float) -> None:
            time.sleep(seconds)

    monkeypatch.setattr(_sync, "time", Stalled())
    for ask in (client.query, client.get_info):
        with pytest.raises(P0fTimeoutError):
            ask("192.0.2.1")
    monkeypatch.undo()
    assert len(fake_p0f.queries) == 1
    assert client._conn is not None and client._conn.pipe.owed == 0
    assert client.query("192.0.2.1").total_conn == 1
    client.close()


def test_a_connection_p0f_dropped_before_its_first_query_is_reported_once(
    fake_p0f: FakeP0f, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A call connects, then runs out of time before it writes (the clock
    # jumps once the connection is made): the connection is kept, with
    # nothing asked and nothing owed.  p0f then drops it.  The next call
    # finds the hang-up before writing; the connection never answered, so
    # that is an error, said once, not wrapped as "failed: ... lost: ...".
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = P0f(fake_p0f.socket_path, timeout=0.5)

    class JumpsAfterConnect:
        def __init__(self) -> None:
            self.jumped = False

        def monotonic(self) -> float:
            return time.monotonic() + (10.0 if self.jumped else 0.0)

        def sleep(self, seconds: float) -> None:
            time.sleep(seconds)

    clock = JumpsAfterConnect()
    connect = P0f._connect

    def connect_then_jump(self: P0f, deadline: _sync._Deadline) -> _sync._Connection:
        made = connect(self, deadline)
        clock.jumped = True
        return made

    monkeypatch.setattr(_sync, "time", clock)
    monkeypatch.setattr(P0f, "_connect", connect_then_jump)
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    monkeypatch.undo()
    assert fake_p0f.queries == [] and client._conn is not None
    fake_p0f.restart()
    with pytest.raises(P0fConnectionLostError) as raised:
        client.query("192.0.2.1")
    assert str(raised.value) == "p0f connection lost: p0f closed the connection"
    assert client.query("192.0.2.1").total_conn == 1  # a new connection
    client.close()


def test_a_late_reconnect_is_still_bounded_by_the_timeout(fake_p0f: FakeP0f) -> None:
    # The daemon hangs up near the end of the call's time; the retry's new
    # connection must get a timeout too (none would mean "wait forever").
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = P0f(fake_p0f.socket_path, timeout=0.3)
    client.query("192.0.2.1")
    fake_p0f.inject(Fault(close=True, delay=0.29))
    fake_p0f.inject(Fault(truncate=0, hang=True))
    outcome: list[BaseException] = []

    def ask() -> None:
        try:
            client.query("192.0.2.1")
        except BaseException as exc:  # noqa: BLE001 - recorded for the assert
            outcome.append(exc)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(10.0)  # a thread, so that a regression fails instead of hanging
    assert not thread.is_alive(), "the query outlived its timeout"
    assert len(outcome) == 1 and isinstance(outcome[0], P0fConnectionError)
    client.close()
    fake_p0f.drop_connections()
    wait_until(lambda: pending_drainers() == 0)


def test_a_protocol_error_does_not_keep_the_caller_past_its_timeout(
    fake_p0f: FakeP0f,
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))
    spoiled = attrs.evolve(host_response(1), magic=0x12345678).to_bytes()
    fake_p0f.inject(Fault(payload=spoiled), address="192.0.2.1")
    fake_p0f.inject(Fault(delay=30.0), address="192.0.2.2")
    client = P0f(fake_p0f.socket_path, timeout=0.1)
    started = time.monotonic()
    with pytest.raises(ProtocolError):
        client.query_many(["192.0.2.1", "192.0.2.2"])
    assert time.monotonic() - started < 10.0  # not the 30 s the answer takes
    assert pending_drainers() == 1  # the late answer is still read
    fake_p0f.drop_connections()
    wait_until(lambda: pending_drainers() == 0)
    fake_p0f.stop()
    assert fake_p0f.harm == []


def test_a_process_exiting_waits_for_its_drainers(fake_p0f: FakeP0f) -> None:
    import subprocess
    import sys

    fake_p0f.add_host("192.0.2.1")
    fake_p0f.inject(Fault(delay=1.6))  # past close()'s one second, within exit's two
    script = (
        "import sys\n"
        "from p0f import P0f, P0fTimeoutError\n"
        "client = P0f(sys.argv[1], timeout=0.1)\n"
        "try:\n"
        "    client.query('192.0.2.1')\n"
        "except P0fTimeoutError:\n"
        "    pass\n"
        "client.close()\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, fake_p0f.socket_path], check=True, timeout=30
    )
    fake_p0f.stop()
    assert fake_p0f.harm == []


def test_a_forked_child_lets_go_of_the_parents_connection(
    fake_p0f: FakeP0f, p0f_client: P0f
) -> None:
    fake_p0f.add_host("192.0.2.1", host_response(1))
    p0f_client.query("192.0.2.1")
    with child_alive():
        p0f_client.close()
        assert p0f_client.query("192.0.2.1").total_conn == 1
        # The old connection is gone although the child still lives.
        wait_until(lambda: fake_p0f.connection_count == 1)


def test_an_address_whose_repr_fails_is_an_invalid_address(fake_p0f: FakeP0f) -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("repr refused")

    class HostileText(str):
        def __repr__(self) -> str:
            raise RuntimeError("repr refused")

    client = P0f(fake_p0f.socket_path)
    for bad in (Hostile(), HostileText("not an address")):
        with pytest.raises(InvalidAddressError):
            client.query(bad)  # type: ignore[arg-type]  # wrong on purpose
        with pytest.raises(InvalidAddressError):
            client.query_many([bad])  # type: ignore[list-item]  # wrong on purpose
    assert fake_p0f.connections_served == 0


def test_the_query_cache_keeps_no_long_strings() -> None:
    import gc
    import tracemalloc

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(500):
            # A zone suffix is dropped, so these are valid: 100 KB each.
            encode_query(f"fe80::{n:x}%" + "z" * 100_000)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 5 * 1024 * 1024, f"{kept} bytes kept after 50 MB of addresses"


def test_a_forked_child_closes_its_copies_of_the_drainers_sockets(fake_p0f: FakeP0f) -> None:
    import gc

    fake_p0f.add_host("192.0.2.1")
    fake_p0f.inject(Fault(delay=0.5))
    client = P0f(fake_p0f.socket_path, timeout=0.1)
    with pytest.raises(P0fTimeoutError):
        client.query("192.0.2.1")
    del client
    gc.collect()
    assert pending_drainers() == 1
    with child_alive():
        # The parent's drainer reads the late answer and closes; the child's
        # copy of that socket must not keep the connection (a p0f slot) open.
        wait_until(lambda: pending_drainers() == 0)
        wait_until(lambda: fake_p0f.connection_count == 0)
    fake_p0f.stop()
    assert fake_p0f.harm == []


class _ScriptedPoller:
    """A stand-in for ``select.poll()`` that answers from a script and
    records the timeouts it was given."""

    def __init__(self, *answers: list[tuple[int, int]]) -> None:
        self.answers = list(answers)
        self.timeouts: list[float] = []

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        self.timeouts.append(timeout)
        return self.answers.pop(0)


def test_a_wait_longer_than_one_poll_can_take_is_made_of_several() -> None:
    # poll() takes a C int of milliseconds; 30 days is more than that.
    deadline = _sync._Deadline(30 * 86400.0)
    poller = _ScriptedPoller([], [], [(3, 1)])
    deadline.wait(poller)  # type: ignore[arg-type]  # duck-typed on purpose
    assert poller.timeouts[:2] == [_sync._LONGEST_POLL] * 2
    assert 0 < poller.timeouts[2] <= _sync._LONGEST_POLL


def test_a_wait_that_ends_with_nothing_to_read_is_a_timeout() -> None:
    deadline = _sync._Deadline(5.0)
    poller = _ScriptedPoller([])
    with pytest.raises(P0fTimeoutError, match="within 5.0 s"):
        deadline.wait(poller)  # type: ignore[arg-type]  # duck-typed on purpose
    assert len(poller.timeouts) == 1 and 0 < poller.timeouts[0] <= 5000


class _InterruptedAfter:
    """A client's socket whose next ``send`` or ``recv`` does its work and
    then raises, as a signal handler's exception can between a system call
    and the line after it."""

    def __init__(self, sock: socket.socket, call: str) -> None:
        self._sock = sock
        self._call: str | None = call

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)

    def _interrupt(self, call: str) -> None:
        if self._call == call:
            self._call = None
            raise KeyboardInterrupt

    def send(self, data: bytes) -> int:
        sent = self._sock.send(data)
        self._interrupt("send")
        return sent

    def recv(self, size: int) -> bytes:
        data = self._sock.recv(size)
        self._interrupt("recv")
        return data


def _interrupt_next(client: P0f, call: str) -> None:
    conn = client._conn
    assert conn is not None
    conn.sock = cast(socket.socket, _InterruptedAfter(conn.sock, call))


def test_an_interrupt_after_a_send_leaves_the_answer_to_the_drainer(
    fake_p0f: FakeP0f, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Written, not yet counted: the count says nothing is owed, but p0f
    # will answer, and must not find the connection closed.
    monkeypatch.setattr(_drain, "UNSURE_SETTLE", 1.0)
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = P0f(fake_p0f.socket_path, timeout=2)
    assert client.query("192.0.2.1").total_conn == 1
    fake_p0f.inject(Fault(delay=0.2), address="192.0.2.1")
    _interrupt_next(client, "send")
    with pytest.raises(KeyboardInterrupt):
        client.query("192.0.2.1")
    assert client._conn is None and pending_drainers() == 1
    wait_until(lambda: pending_drainers() == 0 and fake_p0f.connection_count == 0)
    fake_p0f.check()  # no answer written to a closed connection
    assert len(fake_p0f.queries) == 2
    assert client.query("192.0.2.1").total_conn == 1  # a new connection
    client.close()


def test_an_interrupt_after_a_recv_does_not_keep_the_connection_for_ever(
    fake_p0f: FakeP0f, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read, not yet counted: the count says an answer is owed that already
    # came.  The drainer must not wait for it for the process's life (the
    # connection would hold one of p0f's few slots).
    monkeypatch.setattr(_drain, "UNSURE_QUIET", 0.3)
    fake_p0f.add_host("192.0.2.1", host_response(1))
    fake_p0f.add_host("192.0.2.2", host_response(2))
    client = P0f(fake_p0f.socket_path, timeout=2)
    assert client.query("192.0.2.1").total_conn == 1
    _interrupt_next(client, "recv")
    with pytest.raises(KeyboardInterrupt):
        client.query("192.0.2.2")
    wait_until(lambda: pending_drainers() == 0 and fake_p0f.connection_count == 0)
    fake_p0f.check()
    assert client.query("192.0.2.2").total_conn == 2
    client.close()


def test_an_interrupt_while_waiting_for_an_answer_keeps_the_count_trusted(
    fake_p0f: FakeP0f, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C, or a gunicorn worker's abort, lands most often while the call
    # waits in poll(): every byte sent and read is counted then, so the
    # count is exact and silence must not end it.  A daemon slower than the
    # unsure wait (stopped, or the connection still in its backlog) must
    # find the connection open when it answers.
    monkeypatch.setattr(_drain, "UNSURE_QUIET", 0.1)
    monkeypatch.setattr(_drain, "UNSURE_SETTLE", 0.1)
    fake_p0f.add_host("192.0.2.1", host_response(1))
    client = P0f(fake_p0f.socket_path, timeout=30)
    assert client.query("192.0.2.1").total_conn == 1
    fake_p0f.inject(Fault(delay=1.5), address="192.0.2.1")

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            client.query("192.0.2.1")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert client._conn is None and pending_drainers() == 1
    wait_until(lambda: pending_drainers() == 0 and fake_p0f.connection_count == 0)
    fake_p0f.check()  # the late answer found its connection open
    client.close()
