"""p0f-broker against the fake daemon: routing, faults the real p0f cannot
make on demand, the listening socket, shutdown and the counters."""

from __future__ import annotations

import grp
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from p0f import P0f, P0fConnectionError, P0fError, RawResponse, encode_query
from p0f._codec import QUERY_MAGIC, QUERY_SIZE, QUERY_STRUCT, RESPONSE_SIZE, decode_response
from p0f.broker import BAD_QUERY_ANSWER, BrokerConfig, BrokerError
from p0f.broker._metrics import render
from p0f.broker._server import bind_listener
from p0f.testing import FakeP0f, Fault, sample_response

from .broker_thread import BrokerThread

HOSTS = [f"192.0.2.{n}" for n in range(1, 21)]


def host_answer(n: int) -> RawResponse:
    """An answer that names its host (in total_conn and os_flavor)."""
    return sample_response(total_conn=n, os_flavor=f"host {n}")


# Made once: sample_response() stamps the current time into each answer.
ANSWERS = {host: host_answer(n) for n, host in enumerate(HOSTS, 1)}


@pytest.fixture
def fake() -> Iterator[FakeP0f]:
    """A fake p0f that knows HOSTS; fails the test if anything wrote to a
    connection its client had closed (what kills the real p0f)."""
    daemon = FakeP0f(max_connections=4).start()
    for host, answer in ANSWERS.items():
        daemon.add_host(host, answer)
    try:
        yield daemon
    finally:
        daemon.stop()
    daemon.check()


RunBroker = Callable[..., BrokerThread]


@pytest.fixture
def run_broker(fake: FakeP0f, tmp_path: Path) -> Iterator[RunBroker]:
    started: list[BrokerThread] = []

    def start(**options: Any) -> BrokerThread:
        config = BrokerConfig(
            p0f_socket=fake.socket_path, listen=str(tmp_path / f"broker{len(started)}.sock"),
            **options,
        )
        thread = BrokerThread(config).start()
        started.append(thread)
        return thread

    try:
        yield start
    finally:
        for thread in started:
            thread.stop()


def expected(host: str) -> RawResponse:
    return ANSWERS[host]


def raw_socket(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(path)
    return sock


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


# -- routing ------------------------------------------------------------------------------


def test_each_client_gets_its_own_answers_in_its_order(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker()
    errors: list[str] = []

    def client(seed: int) -> None:
        order = [HOSTS[(seed * 7 + i * (seed + 1)) % len(HOSTS)] for i in range(600)]
        with P0f(broker.socket_path, timeout=5) as p0f:
            for round_ in range(5):
                got = p0f.query_many(order)
                if [r.raw if r else None for r in got] != [expected(h) for h in order]:
                    errors.append(f"client {seed} round {round_}: wrong answers")
                for host in order[:20]:
                    if p0f.get_info(host, return_raw_data=True) != expected(host):
                        errors.append(f"client {seed}: wrong single answer for {host}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors[:5]
    # Twelve clients, one connection to p0f.
    assert fake.connections_served == 1
    stats = broker.broker.stats
    assert stats.queries == stats.answers == 12 * 5 * 620


def test_up_to_n_upstream_connections_are_used(fake: FakeP0f, run_broker: RunBroker) -> None:
    broker = run_broker(upstreams=3)
    assert broker.call(broker.broker.upstream_count) in (1, 2, 3)
    clients = [P0f(broker.socket_path, timeout=5) for _ in range(10)]
    try:
        for _ in range(20):
            for client in clients:
                assert client.get_info(HOSTS[3], return_raw_data=True) == expected(HOSTS[3])
    finally:
        for client in clients:
            client.close()
    assert fake.connections_served == 3


def test_queries_split_across_writes_are_reassembled(run_broker: RunBroker) -> None:
    broker = run_broker()
    queries = b"".join(encode_query(h) for h in HOSTS[:5])
    with raw_socket(broker.socket_path) as sock:
        for i in range(0, len(queries), 8):  # 8-byte pieces across query edges
            sock.sendall(queries[i : i + 8])
            time.sleep(0.001)
        data = recv_exact(sock, 5 * RESPONSE_SIZE)
    answers = [decode_response(data[i : i + RESPONSE_SIZE]) for i in range(0, len(data), RESPONSE_SIZE)]
    assert answers == [expected(h) for h in HOSTS[:5]]


def test_bad_queries_get_p0fs_bad_query_answer_without_reaching_p0f(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker()
    good = encode_query(HOSTS[0])
    wrong_magic = QUERY_STRUCT.pack(QUERY_MAGIC ^ 1, 4, bytes(16))
    wrong_type = QUERY_STRUCT.pack(QUERY_MAGIC, 5, bytes(16))
    with raw_socket(broker.socket_path) as sock:
        sock.sendall(wrong_magic + good + wrong_type + good)
        data = recv_exact(sock, 4 * RESPONSE_SIZE)
    parts = [data[i : i + RESPONSE_SIZE] for i in range(0, len(data), RESPONSE_SIZE)]
    assert parts[0] == parts[2] == BAD_QUERY_ANSWER
    assert decode_response(parts[0]).status == 0x00
    assert decode_response(parts[1]) == decode_response(parts[3]) == expected(HOSTS[0])
    # p0f saw only the two good queries.
    assert [str(address) for _, address in fake.queries] == [HOSTS[0], HOSTS[0]]
    assert broker.broker.stats.bad_queries == 2


def test_broker_answer_to_a_bad_query_matches_the_daemons(tmp_path: Path) -> None:
    # The fake answers bad queries as p0f 3.09b does; the broker must agree.
    with FakeP0f() as fake, raw_socket(fake.socket_path) as sock:
        sock.sendall(QUERY_STRUCT.pack(0x12345678, 4, bytes(16)))
        assert recv_exact(sock, RESPONSE_SIZE) == BAD_QUERY_ANSWER


def test_client_that_shuts_down_writing_still_gets_its_answers(run_broker: RunBroker) -> None:
    broker = run_broker()
    with raw_socket(broker.socket_path) as sock:
        sock.sendall(encode_query(HOSTS[1]) + encode_query(HOSTS[2]))
        sock.shutdown(socket.SHUT_WR)
        data = recv_exact(sock, 2 * RESPONSE_SIZE)
        assert sock.recv(1) == b""  # then the broker closes
    assert decode_response(data[:RESPONSE_SIZE]) == expected(HOSTS[1])
    assert decode_response(data[RESPONSE_SIZE:]) == expected(HOSTS[2])


# -- clients that misbehave ---------------------------------------------------------------


def test_clients_vanishing_with_answers_owed_never_reach_p0f(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    """Hundreds of queries owed, then close: the broker reads and drops the
    answers, so p0f (the fake records it) is never written to a closed
    connection, and other clients are unaffected."""
    broker = run_broker()
    fake.inject(Fault(delay=0.2), count=1)  # answers are late: still owed at close
    batch = b"".join(encode_query(HOSTS[i % len(HOSTS)]) for i in range(500))
    for _ in range(40):
        sock = raw_socket(broker.socket_path)
        sock.sendall(batch)
        sock.close()
    with P0f(broker.socket_path, timeout=5) as client:
        assert [r.raw if r else None for r in client.query_many(HOSTS * 10)] == [
            expected(h) for h in HOSTS * 10
        ]

    def all_answered() -> bool:
        return broker.call(broker.broker.owed) == 0

    wait_for(all_answered, "p0f to pay every answer owed")
    stats = broker.broker.stats
    assert stats.dropped_answers > 0
    assert stats.dropped_answers + stats.answers == stats.queries
    assert fake.connections_served == 1  # the upstream was never closed
    fake.check()


def test_a_client_that_does_not_read_cannot_eat_memory(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker(client_queue=64)
    query = encode_query(HOSTS[4])
    sock = raw_socket(broker.socket_path)
    sock.settimeout(0.5)
    sent = 0
    with pytest.raises(TimeoutError):
        for _ in range(200_000):  # 4 MiB of queries, never reading an answer
            sent += sock.send(query * 50)
    # The broker stopped reading: far fewer queries than were offered got in,
    # bounded by socket buffers, not by what the client sent.
    queries = broker.broker.stats.queries
    assert queries * QUERY_SIZE < 3 * 1024 * 1024
    held = broker.call(lambda: sum(len(c.slots) for c in broker.broker._clients))
    assert held <= 64 + 262144 // QUERY_SIZE
    # Reading resumes the flow; every answer is the right one.
    sock.settimeout(10)
    total = sent // QUERY_SIZE
    received = 0
    remainder = b""
    while received < total:
        remainder += sock.recv(1 << 20)
        whole = len(remainder) // RESPONSE_SIZE * RESPONSE_SIZE
        for i in range(0, whole, RESPONSE_SIZE):
            assert remainder[i : i + RESPONSE_SIZE] == expected(HOSTS[4]).to_bytes()
        received += whole // RESPONSE_SIZE
        remainder = remainder[whole:]
    sock.close()


# -- faults of p0f --------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_p0f_restart_cuts_off_waiting_clients_then_service_resumes(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker()
    with P0f(broker.socket_path, timeout=3) as client:
        assert client.get_info(HOSTS[0], return_raw_data=True) == expected(HOSTS[0])
        fake.inject(Fault(delay=5.0))  # the next answer will not come in time
        result: list[object] = []

        def ask() -> None:
            try:
                result.append(client.get_info(HOSTS[1], return_raw_data=True))
            except P0fError as exc:
                result.append(exc)

        thread = threading.Thread(target=ask)
        started = time.monotonic()
        thread.start()
        wait_for(lambda: broker.call(broker.broker.owed) == 1, "the query to reach p0f")
        fake.restart()  # drops the broker's connection with that answer owed
        thread.join(10)
        # The client saw its connection close, reconnected (once, by its own
        # rule), and was answered by the restarted daemon, well before its
        # timeout.
        assert time.monotonic() - started < 3
        assert result and result[0] == expected(HOSTS[1]), result
        wait_for(lambda: broker.broker.stats.upstream_reconnects == 1, "the reconnect")
        assert broker.broker.stats.clients_cut_off == 1
        assert client.get_info(HOSTS[2], return_raw_data=True) == expected(HOSTS[2])


def test_p0f_down_longer_than_hold_gives_errors_within_the_clients_timeout(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker(hold=0.3, reconnect_max=0.1)
    with P0f(broker.socket_path, timeout=2) as client:
        assert client.get_info(HOSTS[0], return_raw_data=True) == expected(HOSTS[0])
        fake.refuse_connections()
        fake.drop_connections()
        wait_for(lambda: broker.call(broker.broker.upstream_count) == 0, "the upstream to go")
        started = time.monotonic()
        with pytest.raises(P0fConnectionError):
            client.query(HOSTS[0])
        took = time.monotonic() - started
        assert 0.25 < took < 2.0  # held for `hold`, then closed; within the timeout
        fake.accept_connections()
        wait_for(lambda: broker.call(broker.broker.upstream_count) == 1, "the reconnect")
        assert client.get_info(HOSTS[0], return_raw_data=True) == expected(HOSTS[0])


def test_queries_wait_through_a_short_outage(fake: FakeP0f, run_broker: RunBroker) -> None:
    broker = run_broker(hold=5.0, reconnect_max=0.05)
    fake.refuse_connections()
    fake.drop_connections()
    wait_for(lambda: broker.call(broker.broker.upstream_count) == 0, "the upstream to go")
    with P0f(broker.socket_path, timeout=5) as client:
        got: list[RawResponse] = []
        thread = threading.Thread(
            target=lambda: got.append(client.get_info(HOSTS[5], return_raw_data=True))
        )
        thread.start()
        wait_for(lambda: broker.call(lambda: len(broker.broker._waiting)) == 1, "the query to wait")
        fake.accept_connections()
        thread.join(10)
        assert got == [expected(HOSTS[5])]


def test_garbage_from_p0f_is_never_passed_on_and_the_stream_is_drained(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker()
    fake.inject(Fault(payload=b"\x01" * RESPONSE_SIZE), address=HOSTS[7])
    answers: list[object] = []
    with P0f(broker.socket_path, timeout=3) as client:
        for host in HOSTS:
            try:
                answers.append(client.get_info(host, return_raw_data=True))
            except P0fError as exc:
                answers.append(exc)
    # Every answer given is the right host's (the client retried the one cut
    # off on a fresh connection, by its own rule).
    assert answers == [expected(h) for h in HOSTS]
    assert broker.broker.stats.upstream_failures == 1
    assert broker.broker.stats.clients_cut_off == 1
    wait_for(lambda: fake.connections_served == 2, "a new connection to p0f")
    fake.check()  # the broken connection was drained, not closed with answers owed


def test_p0f_sending_more_than_owed_is_a_broken_stream(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker()
    fake.inject(Fault(payload=expected(HOSTS[0]).to_bytes() * 2), address=HOSTS[9])
    with P0f(broker.socket_path, timeout=3) as client:
        assert client.get_info(HOSTS[0], return_raw_data=True) == expected(HOSTS[0])
        # Cut off, retried on a new connection: still the right answer.
        assert client.get_info(HOSTS[9], return_raw_data=True) == expected(HOSTS[9])
    assert broker.broker.stats.upstream_failures == 1


def test_truncated_answer_then_close(fake: FakeP0f, run_broker: RunBroker) -> None:
    broker = run_broker()
    fake.inject(Fault(truncate=100), address=HOSTS[3])
    with P0f(broker.socket_path, timeout=3) as client:
        assert client.get_info(HOSTS[0], return_raw_data=True) == expected(HOSTS[0])
        assert client.get_info(HOSTS[3], return_raw_data=True) == expected(HOSTS[3])
        assert client.get_info(HOSTS[4], return_raw_data=True) == expected(HOSTS[4])
    assert broker.broker.stats.upstream_failures == 1


# -- cache ------------------------------------------------------------------------------------


def test_cache_answers_repeats_without_asking_p0f(fake: FakeP0f, run_broker: RunBroker) -> None:
    broker = run_broker(cache_ttl=60, no_match_ttl=0)
    with P0f(broker.socket_path, timeout=3) as client:
        for _ in range(5):
            assert client.get_info(HOSTS[0], return_raw_data=True) == expected(HOSTS[0])
            assert client.query_many(["198.51.100.1"]) == [None]  # no match: never cached
    asked = [str(address) for _, address in fake.queries]
    assert asked.count(HOSTS[0]) == 1
    assert asked.count("198.51.100.1") == 5
    assert broker.broker.stats.cache_hits == 4


def test_cache_entries_expire(fake: FakeP0f, run_broker: RunBroker) -> None:
    broker = run_broker(cache_ttl=0.2)
    with P0f(broker.socket_path, timeout=3) as client:
        client.get_info(HOSTS[0], return_raw_data=True)

        def asked_again() -> bool:
            client.get_info(HOSTS[0], return_raw_data=True)
            return [str(a) for _, a in fake.queries].count(HOSTS[0]) == 2

        wait_for(asked_again, "the cached answer to expire")
    assert broker.broker.stats.cache_hits >= 1


def test_no_match_is_cached_briefly(fake: FakeP0f, run_broker: RunBroker) -> None:
    broker = run_broker(cache_ttl=60, no_match_ttl=0.3)
    unknown = "198.51.100.7"
    with P0f(broker.socket_path, timeout=3) as client:
        for _ in range(3):
            assert client.query_many([unknown]) == [None]
        assert [str(a) for _, a in fake.queries].count(unknown) == 1
        fake.add_host(unknown, expected(HOSTS[0]))

        def answered() -> bool:
            return client.query_many([unknown]) != [None]

        wait_for(answered, "the no-match answer to expire")
    assert broker.broker.stats.cache_hits >= 2


# -- the listening socket --------------------------------------------------------------------


def test_refuses_to_replace_a_path_that_is_not_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("precious")
    with pytest.raises(BrokerError, match="not a socket"):
        bind_listener(str(path), 0o666, None)
    assert path.read_text() == "precious"


def test_replaces_a_stale_socket_but_not_a_live_one(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    live = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    live.bind(path)
    live.listen(1)
    with pytest.raises(BrokerError, match="already listens"):
        bind_listener(path, 0o666, None)
    live.close()  # the file stays, nobody listens: stale
    bind_listener(path, 0o666, None).close()


def test_mode_and_group_are_applied(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    gid = os.getgid()
    sock = bind_listener(path, 0o660, grp.getgrgid(gid).gr_name)
    try:
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660
        assert st.st_gid == gid
    finally:
        sock.close()
    with pytest.raises(BrokerError, match="no such group"):
        bind_listener(str(tmp_path / "t.sock"), 0o660, "no-such-group-p0f")


def test_config_is_checked() -> None:
    with pytest.raises(BrokerError):
        BrokerConfig(p0f_socket="/x", listen="/x")
    with pytest.raises(BrokerError):
        BrokerConfig(p0f_socket="/x", listen="/y", upstreams=0)
    with pytest.raises(BrokerError):
        BrokerConfig(p0f_socket="/x", listen="/y", cache_ttl=-1)


# -- the command: SIGTERM, metrics -------------------------------------------------------


def start_command(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "p0f.broker", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_socket(path: str, proc: subprocess.Popen[str]) -> None:
    wait_for(lambda: os.path.exists(path) or proc.poll() is not None, f"{path} to appear")
    assert proc.poll() is None, proc.communicate()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_sigterm_drains_then_exits_with_a_summary(fake: FakeP0f, tmp_path: Path) -> None:
    listen = str(tmp_path / "b.sock")
    port = free_port()
    proc = start_command("-s", fake.socket_path, "-l", listen, "--metrics", str(port))
    try:
        wait_for_socket(listen, proc)
        with P0f(listen, timeout=5) as client:
            assert client.get_info(HOSTS[0], return_raw_data=True) == expected(HOSTS[0])
            wait_for(lambda: _metrics_up(port), "the metrics endpoint")
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
            assert b"p0f_broker_queries_total 1.0" in text
            assert b"p0f_broker_upstream_latency_seconds_count 1.0" in text
            # A slow answer is in flight when SIGTERM comes: it is still delivered.
            fake.inject(Fault(delay=0.5))
            sock = raw_socket(listen)
            sock.sendall(encode_query(HOSTS[1]))
            wait_for(lambda: fake.queries[-1][1] is not None and str(fake.queries[-1][1]) == HOSTS[1],
                     "the query to reach p0f")
            proc.send_signal(signal.SIGTERM)
            assert decode_response(recv_exact(sock, RESPONSE_SIZE)) == expected(HOSTS[1])
            assert sock.recv(1) == b""
            sock.close()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped: 2 client connection(s); 2 queries; 2 answers" in err
    assert not os.path.exists(listen)
    fake.check()


def _metrics_up(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read()
    except OSError:
        return False
    return True


def test_command_refuses_a_path_that_is_not_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "not-a-socket"
    path.write_text("x")
    result = subprocess.run(
        [sys.executable, "-m", "p0f.broker", "-s", str(tmp_path / "p0f.sock"), "-l", str(path)],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "not a socket; refusing to replace it" in result.stderr


def test_metrics_text_has_every_counter(run_broker: RunBroker) -> None:
    broker = run_broker()
    with P0f(broker.socket_path, timeout=3) as client:
        client.query_many(HOSTS)
        text = broker.call(lambda: render(broker.broker))
    for name in (
        "p0f_broker_client_connections_total 1.0", "p0f_broker_queries_total 20.0",
        "p0f_broker_answers_total 20.0", "p0f_broker_cache_hits_total 0.0",
        "p0f_broker_upstream_reconnects_total 0.0", "p0f_broker_clients 1.0",
        "p0f_broker_upstream_latency_seconds_count 20.0",
    ):
        assert name in text, name


def test_broker_all_is_sorted_and_complete() -> None:
    import p0f.broker

    assert p0f.broker.__all__ == sorted(p0f.broker.__all__)
    for name in p0f.broker.__all__:
        assert hasattr(p0f.broker, name), name


def test_a_stalled_p0f_is_logged_and_its_late_answer_still_delivered(
    fake: FakeP0f, run_broker: RunBroker, caplog: pytest.LogCaptureFixture
) -> None:
    broker = run_broker(stall_warning=0.2)
    fake.inject(Fault(delay=1.0))
    with caplog.at_level("INFO", logger="p0f.broker"), P0f(broker.socket_path, timeout=5) as client:
        assert client.get_info(HOSTS[6], return_raw_data=True) == expected(HOSTS[6])
        wait_for(lambda: "p0f answers again" in caplog.text, "the recovery to be logged")
    assert "without answering" in caplog.text


def test_with_the_defaults_a_default_client_gets_a_connection_error_in_time(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker()
    with P0f(broker.socket_path) as client:  # the default 1 s timeout
        assert client.get_info(HOSTS[0], return_raw_data=True) == expected(HOSTS[0])
        fake.refuse_connections()
        fake.drop_connections()
        wait_for(lambda: broker.call(broker.broker.upstream_count) == 0, "the upstream to go")
        started = time.monotonic()
        with pytest.raises(P0fConnectionError) as caught:
            client.query(HOSTS[0])
        assert not isinstance(caught.value, TimeoutError)  # told, not left to time out
        assert time.monotonic() - started < client.timeout


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "p0f-broker"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "-s P0F_SOCKET" in result.stdout and "-l LISTEN_SOCKET" in result.stdout


def test_with_the_cache_identical_questions_in_flight_share_one_answer(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker(cache_ttl=30)
    fake.inject(Fault(delay=0.5), address=HOSTS[8])  # the first asker waits
    socks = [raw_socket(broker.socket_path) for _ in range(8)]
    try:
        socks[0].sendall(encode_query(HOSTS[8]))
        wait_for(lambda: broker.call(broker.broker.owed) == 1, "the query to reach p0f")
        for sock in socks[1:]:
            sock.sendall(encode_query(HOSTS[8]) + encode_query(HOSTS[9]))
        answers = [recv_exact(sock, RESPONSE_SIZE) for sock in socks]
        seconds = [recv_exact(sock, RESPONSE_SIZE) for sock in socks[1:]]
    finally:
        for sock in socks:
            sock.close()
    assert {decode_response(a) for a in answers} == {expected(HOSTS[8])}
    assert {decode_response(a) for a in seconds} == {expected(HOSTS[9])}
    asked = [str(address) for _, address in fake.queries]
    assert asked.count(HOSTS[8]) == 1  # one question to p0f for eight askers
    assert asked.count(HOSTS[9]) >= 1


def test_shared_answers_lost_with_p0f_cut_off_every_asker(
    fake: FakeP0f, run_broker: RunBroker
) -> None:
    broker = run_broker(cache_ttl=30)
    fake.inject(Fault(delay=5.0), address=HOSTS[8])
    socks = [raw_socket(broker.socket_path) for _ in range(4)]
    try:
        socks[0].sendall(encode_query(HOSTS[8]))
        wait_for(lambda: broker.call(broker.broker.owed) == 1, "the query to reach p0f")
        for sock in socks[1:]:
            sock.sendall(encode_query(HOSTS[8]))
        wait_for(lambda: broker.broker.stats.cache_hits == 3, "the askers to share the query")
        fake.drop_connections()  # p0f "dies" with the shared answer owed
        for sock in socks:  # every asker is told at once, none left waiting
            assert sock.recv(1) == b""
    finally:
        for sock in socks:
            sock.close()
    assert broker.broker.stats.clients_cut_off == 4


def test_stopping_while_p0f_is_unreachable_is_prompt(fake: FakeP0f, tmp_path: Path) -> None:
    config = BrokerConfig(
        p0f_socket=fake.socket_path, listen=str(tmp_path / "b.sock"), hold=30, drain_timeout=30
    )
    thread = BrokerThread(config).start()
    try:
        fake.refuse_connections()
        fake.drop_connections()
        wait_for(lambda: thread.call(thread.broker.upstream_count) == 0, "the upstream to go")
        sock = raw_socket(config.listen)
        sock.sendall(encode_query(HOSTS[0]))
        wait_for(lambda: thread.call(lambda: len(thread.broker._waiting)) == 1, "the query to wait")
    finally:
        started = time.monotonic()
        thread.stop()
    # Nothing is owed by p0f, so nothing to drain: the waiting client is
    # told at once (a hang-up), not held for `hold` or `drain_timeout`.
    assert time.monotonic() - started < 5
    assert sock.recv(1) == b""
    sock.close()
    assert thread.broker.stats.clients_cut_off == 1
