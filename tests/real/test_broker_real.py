"""p0f-broker in front of the real p0f: fleets past ``-S``, bare clients, harm.

The broker runs as users run it (``python -m p0f.broker``, a process of its
own); the fleet is 100 real processes, each holding a long-lived
:class:`p0f.P0f` connected to the broker, against p0f with its default
``-S 20``.
"""

from __future__ import annotations

import ipaddress
import multiprocessing
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from p0f import NoMatchError, P0f, P0fError, RawResponse

from .bare import (
    ANSWER_SIZE,
    STATUS_BAD_QUERY,
    STATUS_NO_MATCH,
    STATUS_OK,
    BareAnswer,
    bare_answer,
    mapped,
    query_bytes,
)
from .daemon import P0fDaemon, wait_until
from .p0flog import IPAddress
from .scenarios import SCENARIOS, SynShape, linux_options, send_syn, windows_syn
from .test_harm import Tally, assert_answers_correctly, seed_hosts

pytestmark = pytest.mark.real_daemon

StartP0f = Callable[..., P0fDaemon]
TOO_MANY: str = "Too many API connections"


class BrokerProcess:
    """``python -m p0f.broker -s DAEMON -l SOCK [args]`` for a test."""

    def __init__(self, daemon: P0fDaemon, workdir: Path, *args: str) -> None:
        self.socket_path = str(workdir / "broker.sock")
        self.log_path = workdir / "broker.err"
        with self.log_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "p0f.broker", "-s", daemon.socket_path,
                 "-l", self.socket_path, *args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            )
        wait_until(lambda: os.path.exists(self.socket_path) or self.proc.poll() is not None,
                   timeout=15, what="the broker's socket")
        self.check_alive()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"the broker exited ({code}) on its own:\n{self.output()}")

    def stop(self) -> str:
        """SIGTERM; the broker must drain and exit 0. Returns its log."""
        self.check_alive()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the broker did not stop on SIGTERM:\n{self.output()}") from None
        assert code == 0, self.output()
        return self.output()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def start_broker(tmp_path: Path) -> Iterator[Callable[..., BrokerProcess]]:
    brokers: list[BrokerProcess] = []

    def start(daemon: P0fDaemon, *args: str) -> BrokerProcess:
        workdir = tmp_path / f"broker{len(brokers)}"
        workdir.mkdir()
        broker = BrokerProcess(daemon, workdir, *args)
        brokers.append(broker)
        return broker

    try:
        yield start
    finally:
        for broker in brokers:
            broker.kill()


# -- a fleet larger than -S -------------------------------------------------------------------

FLEET = 100
FLEET_SECONDS = 4.0


def fleet_hosts(daemon: P0fDaemon) -> dict[IPAddress, RawResponse]:
    """100 hosts whose answers all differ: 64 Windows hosts at distances
    0..63 and 36 Linux hosts at distances 0..35 (from the TTL), each asked
    directly of p0f for its reference answer."""
    shapes: list[SynShape] = []
    for d in range(64):
        shapes.append(windows_syn(ttl=128 - d))
    for d in range(FLEET - 64):
        shapes.append(SynShape(64 - d, 29200, linux_options()))
    hosts = {daemon.addresses.new(4): shape for shape in shapes}
    for host, shape in hosts.items():
        send_syn(host, shape)
    reference: dict[IPAddress, RawResponse] = {}
    with P0f(daemon.socket_path, timeout=3.0) as direct:
        deadline = time.monotonic() + 10
        for host in hosts:
            while True:
                try:
                    reference[host] = direct.get_info(host, return_raw_data=True)
                    break
                except NoMatchError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
    # Precondition of the "right host's answer" check: no two are alike.
    assert len({raw.to_bytes() for raw in reference.values()}) == FLEET
    assert len({(raw.os_name, raw.distance) for raw in reference.values()}) == FLEET
    return reference


def test_hundred_processes_through_the_broker_all_answered_none_wrong(
    start_p0f: StartP0f, start_broker: Callable[..., BrokerProcess]
) -> None:
    """p0f with its default -S 20; 100 processes, each with one long-lived
    P0f connected to the broker, all connected at once, asking about their
    own host as fast as they can for a few seconds."""
    daemon = start_p0f()
    reference = fleet_hosts(daemon)
    broker = start_broker(daemon)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.real.fleet_worker"])
    from .fleet_worker import ask_until

    start = ctx.Barrier(FLEET + 1)
    results = ctx.SimpleQueue()
    workers = [
        ctx.Process(
            target=ask_until,
            args=(broker.socket_path, str(host), raw.to_bytes(), start, FLEET_SECONDS, 0.0,
                  results),
        )
        for host, raw in reference.items()
    ]
    for worker in workers:
        worker.start()
    start.wait(60)  # every process has connected and been answered once
    began = time.monotonic()
    summaries: list[dict[str, Any]] = [results.get() for _ in workers]
    elapsed = time.monotonic() - began
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    daemon.check_alive()
    broker.check_alive()
    log = broker.stop()

    answered = [s for s in summaries if s["answers"] > 1]
    total = sum(s["answers"] for s in summaries)
    wrong = sum(s["wrong"] for s in summaries)
    errors = [e for s in summaries for e in s["errors"]]
    warnings = daemon.output_path.read_text(errors="replace").count(TOO_MANY)
    report = (
        f"{len(answered)} of {FLEET} processes answered, {total} answers in {elapsed:.1f} s "
        f"({total / elapsed:,.0f}/s), {wrong} wrong, {len(errors)} errors, "
        f"{warnings} '{TOO_MANY}' lines; broker: {log.strip().splitlines()[-1]}"
    )
    print(report)
    (Path(os.environ.get("P0F_BROKER_REPORT_DIR", daemon.workdir)) / "fleet-report.txt").write_text(report)
    assert len(answered) == FLEET, report
    assert wrong == 0, report
    assert not errors, report
    assert warnings == 0, report
    assert "1 connection(s) to p0f (0 reconnects, 0 lost)" in log, log


# -- a bare client, one connection per query ---------------------------------------------------


def test_bare_client_gets_through_the_broker_what_p0f_says(
    real_p0f: P0fDaemon, start_broker: Callable[..., BrokerProcess]
) -> None:
    """socket + struct, one connection per query (as p0f's C p0f-client and
    the PHP and Perl clients do): byte for byte the daemon's answers, for
    every scenario host, an unknown host, a mapped address and bad queries."""
    hosts: list[IPAddress] = []
    for scenario in SCENARIOS:
        if "uptime" in scenario.name:
            continue  # slow to play; nothing a broker could change
        host = real_p0f.addresses.new(scenario.family)
        scenario.play(host)
        hosts.append(host)
    for host, scenario in zip(hosts, [s for s in SCENARIOS if "uptime" not in s.name]):
        real_p0f.wait_for_log(host, scenario.log)
    broker = start_broker(real_p0f)
    unknown = real_p0f.addresses.new(4)
    checked = 0
    for host in [*hosts, unknown]:
        direct = bare_answer(real_p0f.socket_path, host)
        through = bare_answer(broker.socket_path, host)
        assert through == direct, host
        checked += 1
    assert bare_answer(broker.socket_path, unknown).status == STATUS_NO_MATCH
    assert sum(bare_answer(broker.socket_path, h).status == STATUS_OK for h in hosts) == len(hosts)
    v4 = next(h for h in hosts if h.version == 4)
    assert isinstance(v4, ipaddress.IPv4Address)
    assert bare_answer(broker.socket_path, mapped(v4)) == bare_answer(real_p0f.socket_path, mapped(v4))
    # Bad queries: the broker answers them itself, exactly as p0f does.
    for addr_type in (0, 5):
        direct = bare_answer(real_p0f.socket_path, v4, addr_type=addr_type)
        through = bare_answer(broker.socket_path, v4, addr_type=addr_type)
        assert direct.status == STATUS_BAD_QUERY and through == direct
    wrong_magic = b"\x00\x00\x00\x00" + query_bytes(v4)[4:]
    answers = []
    for path in (real_p0f.socket_path, broker.socket_path):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(3)
            sock.connect(path)
            sock.sendall(wrong_magic)
            data = b""
            while len(data) < ANSWER_SIZE:
                chunk = sock.recv(ANSWER_SIZE - len(data))
                assert chunk
                data += chunk
            answers.append(BareAnswer.unpack(data))
    assert answers[0].status == STATUS_BAD_QUERY and answers[1] == answers[0]
    assert checked == len(hosts) + 1
    log = broker.stop()
    assert "bad queries refused" in log


# -- harm ---------------------------------------------------------------------------------------


def test_clients_closing_with_hundreds_owed_harm_neither(
    start_p0f: StartP0f, start_broker: Callable[..., BrokerProcess]
) -> None:
    """300 connections that send 500 queries and close without reading (or
    after reading one answer).  Directly, each such close risks killing p0f
    by SIGPIPE (rarely per close: none of 900 in a run here, once in 300 in
    another measurement); through the broker p0f never sees a client close
    at all: its one connection must be neither lost nor reopened."""
    daemon = start_p0f()
    reference = seed_hosts(daemon)
    broker = start_broker(daemon)
    batch = b"".join(query_bytes(h) for h in list(reference) * 250)
    for n in range(300):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(broker.socket_path)
            sock.sendall(batch)
            if n % 3 == 0:
                sock.recv(ANSWER_SIZE)
    broker.check_alive()
    daemon.check_alive()
    assert_answers_correctly(daemon, reference)  # directly
    with P0f(broker.socket_path, timeout=5) as client:  # and through the broker
        hosts = list(reference)
        assert [r.raw if r else None for r in client.query_many(hosts * 300)] == [
            reference[h] for h in hosts * 300
        ]
    log = broker.stop()
    daemon.check_alive()
    assert "0 clients cut off" in log and "(0 reconnects, 0 lost)" in log, log


def test_frozen_and_restarted_p0f_under_load_no_wrong_answer(
    start_p0f: StartP0f, start_broker: Callable[..., BrokerProcess]
) -> None:
    """Clients with short timeouts and clients that give up on batches keep
    asking through the broker while p0f is frozen (SIGSTOP) again and again
    and then restarted.  Every answer given is the right host's; p0f and the
    broker are alive at the end and answer correctly."""
    daemon = start_p0f()
    reference = seed_hosts(daemon)
    hosts = list(reference)
    # What makes an answer the right host's across p0f's restart (first_seen
    # and total_conn start again): its OS and distance.
    identity = {h: (raw.os_name, raw.distance) for h, raw in reference.items()}
    assert len(set(identity.values())) == len(hosts)
    broker = start_broker(daemon, "--hold", "0.5")
    stop = threading.Event()
    tally = Tally()

    def check(host: IPAddress, raw: RawResponse) -> None:
        if (raw.os_name, raw.distance) != identity[host]:
            tally.complain(f"{host} got {raw!r}")

    def impatient(timeout: float) -> None:
        client = P0f(broker.socket_path, timeout=timeout)
        n = 0
        while not stop.is_set():
            host = hosts[n % 2]
            n += 1
            try:
                check(host, client.get_info(host, return_raw_data=True))
                tally.note("answered")
            except NoMatchError:
                tally.note("no match")  # p0f restarted and has not seen it yet
            except P0fError:
                tally.note("error")
        client.close()

    def quitter(seed: int) -> None:
        rng = random.Random(seed)
        batch = b"".join(query_bytes(h) for h in hosts * 150)
        while not stop.is_set():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(rng.uniform(0.01, 0.2))
                try:
                    sock.connect(broker.socket_path)
                    sock.sendall(batch)
                    data = b""
                    while len(data) < len(batch) // 21 * ANSWER_SIZE:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    tally.note("batch given up")
                    continue
            for i in range(len(data) // ANSWER_SIZE):
                answer = BareAnswer.unpack(data[i * ANSWER_SIZE : (i + 1) * ANSWER_SIZE])
                host = hosts[i % 2]
                if answer.status == STATUS_OK:
                    got = (BareAnswer.text(answer.os_name), answer.distance)
                    if got != identity[host]:
                        tally.complain(f"batch: {host} got {got}")
            tally.note("batch done")

    threads = [threading.Thread(target=impatient, args=(t,), daemon=True) for t in (0.02, 0.1, 1.0)]
    threads += [threading.Thread(target=quitter, args=(s,), daemon=True) for s in range(3)]
    for thread in threads:
        thread.start()
    rng = random.Random()
    try:
        for round_ in range(10):
            time.sleep(rng.uniform(0.1, 0.3))
            daemon.check_alive()
            broker.check_alive()
            if round_ == 5:
                daemon.restart()
                for host in hosts:
                    send_syn(host, windows_syn() if identity[host][0] == "Windows" else
                             SynShape(64, 29200, linux_options()))
                continue
            daemon.freeze()
            time.sleep(rng.uniform(0.2, 0.4))
            daemon.thaw()
        time.sleep(0.3)
    finally:
        stop.set()
        daemon.thaw()
        for thread in threads:
            thread.join(15)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    daemon.check_alive()
    broker.check_alive()
    assert not tally.problems, "\n".join(tally.problems)
    counts = tally.counts
    assert counts["answered"] > 0 and counts["batch done"] > 0, counts
    # After the storm: the broker answers exactly what p0f answers.
    with P0f(daemon.socket_path, timeout=3) as direct, P0f(broker.socket_path, timeout=3) as via:
        for host in hosts:
            wait_until(lambda: _knows(direct, host), timeout=5, what=f"p0f to know {host}")
            assert via.get_info(host, return_raw_data=True) == direct.get_info(
                host, return_raw_data=True
            )
    log = broker.stop()
    daemon.check_alive()
    print(f"storm: {dict(counts)}; broker: {log.strip().splitlines()[-1]}")
    assert "reconnects" in log


def _knows(client: P0f, host: IPAddress) -> bool:
    try:
        client.get_info(host, return_raw_data=True)
    except NoMatchError:
        return False
    return True
