"""A fleet of 32 WSGI processes against one real p0f with its default -S 20.

p0f serves at most ``-S`` API connections (20 by default); the next client
connects and is never answered while the others hold theirs, and p0f logs
"Too many API connections" on every turn of its loop meanwhile (issue 15).
Here 32 real processes (see ``fleet.py``) each run the WSGI middleware with
its defaults except the answer cache, which is off, so every request is a
lookup: the worst case for p0f.  They start together behind a barrier and
ask every 5 ms for 10 s.

Figures (per run: workers that never got an answer, share of requests
answered with the host's data, p0f's warning lines, p0f's CPU time) are
printed (``pytest -s``) and recorded as the ``fleet`` property (JUnit XML).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Final

import attrs
import pytest

from p0f import P0f, RawResponse

from .daemon import P0fDaemon
from .fleet import BARRIER_TIMEOUT, Idle, WorkerPlan, WorkerTally, work
from .scenarios import linux_syn, send_syn, windows_syn

pytestmark = pytest.mark.real_daemon

StartP0f = Callable[..., P0fDaemon]

FLEET: Final = 32
SECONDS: Final = 10.0
INTERVAL: Final = 0.005
#: What p0f writes on each loop turn while a connection waits beyond -S.
WARNING: Final = b"Too many API connections"
#: A run's p0f output above this many bytes is cut once counted: kept
#: connections make p0f write its warning some 250,000 times a second.
KEEP_OUTPUT: Final = 1 << 20
#: Longest wait for a worker's tally after the load: its last request may
#: wait out the middleware's timeout, and closing drains what is owed.
RESULT_TIMEOUT: Final = SECONDS + 60.0


@attrs.frozen
class FleetRun:
    """What one fleet run did to p0f and what its workers saw."""

    idle: Idle
    tallies: tuple[WorkerTally, ...]
    #: "Too many API connections" lines p0f wrote from the barrier's release
    #: until every worker had exited.
    warnings: int
    #: Bytes p0f wrote to its output over the same span.
    output_bytes: int
    #: CPU seconds (user + system) p0f used over the same span.
    p0f_cpu: float
    #: Seconds from the barrier's release until every worker had exited.
    wall: float
    #: Seconds from starting the first worker until all 32 were ready.
    startup: float

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.tallies)

    @property
    def answered(self) -> int:
        return sum(t.answered for t in self.tallies)

    @property
    def share_answered(self) -> float:
        return self.answered / self.requests if self.requests else 0.0

    @property
    def starved(self) -> list[int]:
        """Workers that never got an answer."""
        return [t.index for t in self.tallies if t.answered == 0]

    def summary(self) -> str:
        statuses: dict[str, int] = {}
        for tally in self.tallies:
            for name, count in tally.statuses.items():
                statuses[name] = statuses.get(name, 0) + count
        logged: dict[str, int] = {}
        for tally in self.tallies:
            for level, count in tally.logged.items():
                logged[level] = logged.get(level, 0) + count
        first_logged = next((t.first_logged for t in self.tallies if t.first_logged), None)
        per_worker = sorted(t.answered for t in self.tallies)
        return (
            f"fleet of {len(self.tallies)} WSGI processes, idle_timeout={self.idle!r}, "
            f"cache off, a request every {INTERVAL * 1000:g} ms for {SECONDS:g} s:\n"
            f"  workers with no answer: {len(self.starved)} {self.starved}\n"
            f"  requests: {self.requests:,}; answered with the host's data: "
            f"{self.answered:,} ({100 * self.share_answered:.2f} %); "
            f"no data: {sum(t.no_data for t in self.tallies):,}; "
            f"wrong: {sum(t.wrong for t in self.tallies)}\n"
            f"  lookup statuses: {dict(sorted(statuses.items()))}\n"
            f"  logged by the workers: {dict(sorted(logged.items())) or 'nothing'}"
            f"{f' (first: {first_logged})' if first_logged else ''}\n"
            f"  answers per worker: fewest {per_worker[0]:,}, median "
            f"{per_worker[len(per_worker) // 2]:,}, most {per_worker[-1]:,}; slowest request "
            f"{1000 * max(t.slowest for t in self.tallies):.0f} ms\n"
            f"  {len(self.tallies)} workers ready {self.startup:.2f} s after the first started\n"
            f"  p0f: {self.warnings:,} 'Too many API connections' lines "
            f"({self.output_bytes / 1e6:.1f} MB of output), {self.p0f_cpu:.2f} s of CPU "
            f"in {self.wall:.1f} s"
        )


# -- measuring p0f ------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from ``/proc/<pid>/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def count_in_file(path: Path, needle: bytes, start: int) -> int:
    """How many times ``needle`` occurs in ``path`` from byte ``start`` on,
    read in chunks (p0f's output can run to hundreds of MB)."""
    count = 0
    tail = b""
    with path.open("rb") as file:
        file.seek(start)
        while chunk := file.read(1 << 20):
            data = tail + chunk
            count += data.count(needle)
            # Keep the bytes that may start an occurrence cut by the chunk
            # boundary; they cannot hold a whole one, so none is counted twice.
            tail = data[-(len(needle) - 1):]
    return count


# -- the fleet ----------------------------------------------------------------


def seed_hosts(daemon: P0fDaemon) -> dict[str, RawResponse]:
    """Four hosts p0f knows (two Windows, a Linux, an IPv6 Windows) and its
    direct answer about each; no more traffic follows, so every later answer
    about them must equal it."""
    hosts = [daemon.addresses.new(4), daemon.addresses.new(4), daemon.addresses.new(4),
             daemon.addresses.new(6)]
    shapes = [windows_syn(), linux_syn(), windows_syn(ttl=120), windows_syn()]
    for host, shape in zip(hosts, shapes):
        send_syn(host, shape)
    for host in hosts:
        daemon.wait_for_log(host, {"syn": 1, "mtu": 1})
    with P0f(daemon.socket_path, timeout=3.0) as client:
        reference = {str(host): client.get_info(host, return_raw_data=True) for host in hosts}
    assert [raw.os_name for raw in reference.values()] == ["Windows", "Linux", "Windows", "Windows"]
    assert len(set(reference.values())) == len(hosts), f"two hosts look alike: {reference}"
    return reference


def fleet_context() -> ForkServerContext:
    """Processes forked from a server that imported ``fleet`` (and with it
    p0f) once: 32 of them start in under a second, where 32 fresh
    interpreters would each import everything again.

    A session has one fork server, started with the preload list set
    first; the broker's fleet (``test_broker_real.py``) uses it too, so
    its worker module is named here as well (a module that cannot be
    imported is skipped).  Started by the broker's test first, the server
    lacks ``fleet``, and each worker imports it after the fork: slower to
    start, the same test.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.real.fleet", "tests.real.fleet_worker"])
    return context


def run_fleet(daemon: P0fDaemon, reference: dict[str, RawResponse], idle: Idle) -> FleetRun:
    """Start the fleet, release it, wait for every worker, measure p0f."""
    context = fleet_context()
    barrier = context.Barrier(FLEET + 1)
    results: Queue[WorkerTally | str] = context.Queue()
    hosts = tuple(reference.items())
    processes: list[BaseProcess] = [
        context.Process(
            target=work,
            args=(WorkerPlan(index, daemon.socket_path, hosts, idle, SECONDS, INTERVAL),
                  barrier, results),
            name=f"p0f-fleet-{index}",
        )
        for index in range(FLEET)
    ]
    outcomes: list[WorkerTally | str] = []
    try:
        starting = time.monotonic()
        for process in processes:
            process.start()
        cpu_before = cpu_seconds(daemon.pid)
        output_before = daemon.output_path.stat().st_size
        try:
            barrier.wait(BARRIER_TIMEOUT)
        except threading.BrokenBarrierError:
            pytest.fail(f"the fleet never got going: {_early_failures(results)}")
        released = time.monotonic()
        startup = released - starting
        for _ in processes:
            try:
                outcomes.append(results.get(timeout=RESULT_TIMEOUT))
            except queue.Empty:
                exits = {p.name: p.exitcode for p in processes if p.exitcode not in (None, 0)}
                pytest.fail(f"{len(outcomes)} of {FLEET} workers reported in "
                            f"{RESULT_TIMEOUT:g} s; workers that died: {exits}")
        for process in processes:
            process.join(RESULT_TIMEOUT)
            assert process.exitcode == 0, f"{process.name} ended with {process.exitcode}"
        wall = time.monotonic() - released
        cpu = cpu_seconds(daemon.pid) - cpu_before
        output_after = daemon.output_path.stat().st_size
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join()
        results.close()
    daemon.check_alive()
    failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert not failures, "\n".join(failures)
    tallies = tuple(sorted((o for o in outcomes if isinstance(o, WorkerTally)), key=lambda t: t.index))
    assert [t.index for t in tallies] == list(range(FLEET))
    warnings = count_in_file(daemon.output_path, WARNING, output_before)
    if output_after - output_before > KEEP_OUTPUT:
        # Counted: drop the run's output (p0f opened it for appending, so
        # it goes on writing at the new end).
        os.truncate(daemon.output_path, output_before)
    return FleetRun(
        idle=idle,
        tallies=tallies,
        warnings=warnings,
        output_bytes=output_after - output_before,
        p0f_cpu=cpu,
        wall=wall,
        startup=startup,
    )


def _early_failures(results: Queue[WorkerTally | str]) -> str:
    found = []
    try:
        while True:
            found.append(str(results.get(timeout=1.0)))
    except queue.Empty:
        pass
    return "\n".join(found) or "no worker said why"


def report(run: FleetRun, record_property: Callable[[str, object], None]) -> None:
    text = run.summary()
    print(f"\n{text}")
    record_property("fleet", text)


def assert_sound(run: FleetRun) -> None:
    """What holds whatever the policy: no wrong answer, no cache, and the
    workers' load windows overlapped (all 32 were asking at one moment)."""
    wrong = [t for t in run.tallies if t.wrong]
    assert not wrong, f"answers about another host: {[t.wrong_example for t in wrong]}"
    assert sum(t.cached for t in run.tallies) == 0, "the cache was meant to be off"
    last_start = max(t.started for t in run.tallies)
    first_end = min(t.ended for t in run.tallies)
    assert last_start < first_end, (
        f"the workers did not overlap: the last started {last_start - first_end:.2f} s "
        "after the first had finished"
    )


# -- the tests ----------------------------------------------------------------


def test_a_fleet_beyond_the_connection_cap_is_served_with_the_defaults(
    start_p0f: StartP0f, record_property: Callable[[str, object], None]
) -> None:
    daemon = start_p0f()  # the default -S 20
    reference = seed_hosts(daemon)
    run = run_fleet(daemon, reference, "default")
    report(run, record_property)
    assert_sound(run)
    assert run.starved == [], f"workers that never got an answer: {run.starved}"
    assert run.share_answered >= 0.99, run.summary()
    # p0f writes its warning once per loop turn while a connection waits
    # beyond -S.  Connections given back make such waits rare and short
    # (bursts while p0f is off the CPU): 261 to 5,664 lines against 47,000
    # to 58,000 requests in thirteen runs, 0.12 per request at worst, where
    # kept connections make p0f spin: 1.3 to 2.6 million lines, 27 to 47
    # per request, in seven runs.  Two per request sits a factor of 16
    # above the one and 13 below the other.
    assert run.warnings < 2 * run.requests, run.summary()


def test_the_harness_sees_kept_connections_starve_the_fleet(
    start_p0f: StartP0f, record_property: Callable[[str, object], None]
) -> None:
    # The same fleet holding its connections for life (the behaviour before
    # issue 15): the criteria above must fail here, or they prove nothing.
    daemon = start_p0f()
    reference = seed_hosts(daemon)
    run = run_fleet(daemon, reference, None)
    report(run, record_property)
    assert_sound(run)
    assert run.starved or run.share_answered < 0.99, run.summary()
