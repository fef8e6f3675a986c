"""Benchmarks of p0f-client against baselines measured in the same run.

Run with ``make bench`` or ``.venv/bin/python -m benchmarks``.  Each line
compares the library with the plainest code that does the same job (a bare
``struct.unpack``, a bare socket loop), alternating the two over several
rounds and reporting medians and their ratio.  Against the real p0f on the
loopback interface when run as root with p0f installed, else against the
fake daemon; the table says which.

No figure here is asserted by the test suite: machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import select
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Final

import attrs

import p0f
from p0f import RESPONSE_MAGIC, P0f, P0fResponse, Status, decode_response, encode_query
from p0f._codec import RESPONSE_SIZE, RESPONSE_STRUCT
from p0f.testing import FakeP0f, sample_response

HOST: Final = "127.0.0.1"


@attrs.frozen
class Row:
    what: str
    baseline: str
    ours: float  # seconds per operation (median)
    base: float  # seconds per operation (median)
    target: str
    ok: bool

    @property
    def ratio(self) -> float:
        return self.ours / self.base


def _median_pair(
    ours: Callable[[], object],
    base: Callable[[], object],
    inner: int,
    rounds: int,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float]:
    """Median seconds per call of each, alternating rounds so drift hits both
    (by ``clock``: wall-clock time unless told otherwise)."""
    mine: list[float] = []
    theirs: list[float] = []
    ours()  # warm up both (connections, caches)
    base()
    for _ in range(rounds):
        for fn, out in ((base, theirs), (ours, mine)):
            start = clock()
            for _ in range(inner):
                fn()
            out.append((clock() - start) / inner)
    return statistics.median(mine), statistics.median(theirs)


# -- the daemon -----------------------------------------------------------------


@contextlib.contextmanager
def real_daemon(cpus: set[int] | None = None) -> Iterator[str]:
    """Start p0f on lo, give it a host to know (127.0.0.1), yield its socket;
    ``cpus``: the CPUs p0f may run on (all, when ``None``)."""
    binary = shutil.which("p0f") or "/usr/sbin/p0f"
    tmp = tempfile.mkdtemp(prefix="p0f-bench-")
    path = os.path.join(tmp, "p0f.sock")
    proc = subprocess.Popen(
        [binary, "-i", "lo", "-s", path, "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if cpus is not None:
            os.sched_setaffinity(proc.pid, cpus)
        deadline = time.monotonic() + 10
        while not os.path.exists(path):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("p0f did not start")
            time.sleep(0.02)
        client = P0f(path, timeout=2)
        while True:  # traffic until p0f, capturing by now, has seen it
            server = socket.create_server((HOST, 0))
            conn = socket.create_connection(server.getsockname())
            peer, _ = server.accept()
            for s in (conn, peer, server):
                s.close()
            try:
                client.query(HOST)
                break
            except p0f.NoMatchError:
                if time.monotonic() > deadline:
                    raise RuntimeError("p0f saw no traffic on lo") from None
                time.sleep(0.05)
        client.close()
        yield path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def fake_daemon() -> Iterator[str]:
    with FakeP0f() as fake:
        fake.add_host(HOST, sample_response(os_name="Linux", os_flavor="3.11 and newer"))
        yield fake.socket_path


def pick_daemon(
    force_fake: bool, pin: str | None = None
) -> tuple[str, contextlib.AbstractContextManager[str]]:
    binary = shutil.which("p0f") or "/usr/sbin/p0f"
    if not force_fake and os.geteuid() == 0 and os.access(binary, os.X_OK):
        if pin is None:
            return "real p0f on lo", real_daemon()
        mine, theirs = _pinned(pin)
        where = "the same CPU as" if mine == theirs else "another CPU than"
        return f"real p0f on lo, pinned to {where} this process", real_daemon(theirs)
    if pin is not None:
        raise SystemExit("--pin needs the real p0f (run as root, with p0f installed)")
    return "fake daemon (p0f.testing.FakeP0f)", fake_daemon()


def _pinned(pin: str) -> tuple[set[int], set[int]]:
    """Pin this process to one CPU; the CPUs for p0f: that one (``same``) or
    another (``apart``).  Which one the scheduler picks otherwise changes
    the round trip about fourfold (see benchmarks/README.md)."""
    cpus = sorted(os.sched_getaffinity(0))
    if pin == "apart" and len(cpus) < 2:
        raise SystemExit("--pin apart needs two CPUs")
    mine = {cpus[0]}
    os.sched_setaffinity(0, mine)
    return mine, (mine if pin == "same" else {cpus[1]})


# -- bare baselines ----------------------------------------------------------------


def _bare_socket(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    return sock


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)


def bare_one(sock: socket.socket, query: bytes) -> tuple[object, ...]:
    sock.sendall(query)
    return RESPONSE_STRUCT.unpack(_recv_exact(sock, RESPONSE_SIZE))


def bare_many(sock: socket.socket, queries: bytes, count: int) -> list[tuple[object, ...]]:
    sock.sendall(queries)
    data = _recv_exact(sock, count * RESPONSE_SIZE)
    unpack = RESPONSE_STRUCT.unpack_from
    return [unpack(data, i * RESPONSE_SIZE) for i in range(count)]


# -- the benchmarks ---------------------------------------------------------------


def bench_decode(rounds: int, inner: int) -> list[Row]:
    data = sample_response(
        os_name="Windows", os_flavor="7 or 8", http_name="Firefox", language="German"
    ).to_bytes()
    unpack = RESPONSE_STRUCT.unpack
    rows = []
    # Records are built whole, so decoding costs what reading costs; these two
    # rows are shown, and the target is on reading every field (below).
    ours, base = _median_pair(lambda: decode_response(data), lambda: unpack(data), inner, rounds)
    rows.append(Row("decode 232 bytes to RawResponse", "struct.unpack", ours, base, "(info)", True))
    from_raw = P0fResponse.from_raw
    ours, base = _median_pair(
        lambda: from_raw(decode_response(data)), lambda: unpack(data), inner, rounds
    )
    rows.append(Row("decode to P0fResponse", "struct.unpack", ours, base, "(info)", True))

    def read_three() -> object:
        answer = from_raw(decode_response(data))
        return answer.os_name, answer.distance, answer.last_seen

    ours, base = _median_pair(read_three, lambda: unpack(data), inner, rounds)
    rows.append(
        Row("decode to P0fResponse, read 3 fields", "struct.unpack", ours, base, "(info)", True)
    )
    rows += bench_read_all(rounds, inner)
    return rows


def bench_read_all(rounds: int, inner: int) -> list[Row]:
    """Decode answers and read every parsed field, as a user's code would."""
    from benchmarks.records_bench import answers, hand_parse

    pool = answers()
    index = 0

    def next_answer() -> bytes:
        nonlocal index
        index = (index + 1) % len(pool)
        return pool[index]

    from_raw = P0fResponse.from_raw
    unpack = RESPONSE_STRUCT.unpack

    def read_all() -> tuple[object, ...]:
        a = from_raw(decode_response(next_answer()))
        return (
            a.first_seen, a.last_seen, a.total_conn, a.uptime, a.up_mod_days,
            a.last_nat, a.last_chg, a.distance, a.bad_sw, a.os_match_q,
            a.os_name, a.os_flavor, a.http_name, a.http_flavor, a.link_type,
            a.language,
        )  # fmt: skip

    rows = []
    ours, base = _median_pair(read_all, lambda: unpack(next_answer()), inner, rounds)
    rows.append(
        Row("decode to P0fResponse, read every field", "struct.unpack", ours, base, "(info)", True)
    )
    ours, base = _median_pair(read_all, lambda: hand_parse(next_answer()), inner, rounds)
    rows.append(
        Row(
            "decode to P0fResponse and read every field",
            "eager unpack + parse by hand",
            ours,
            base,
            "<= 1.5x",
            ours / base <= 1.5,
        )
    )
    return rows


def bench_user_agent(rounds: int, inner: int) -> list[Row]:
    """The per-request User-Agent check, against a bare loop over the same
    ``ua_os`` pairs and a bare name comparison (the answer already decoded:
    a web request's answer usually comes from the cache)."""
    answer = P0fResponse.from_raw(decode_response(sample_response(os_name="Linux").to_bytes()))
    agent = (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
    )
    pairs = [(e.text, e.os_name) for e in p0f.DEFAULT_UA_OS.entries]
    check = p0f.check_user_agent

    def ours() -> object:
        return check(agent, answer).verdict

    def base() -> object:
        seen = answer.os_name
        for text, name in pairs:
            if text in agent:
                return "match" if name.lower() == (seen or "").lower() else "mismatch"
        return "unknown"

    mine, theirs = _median_pair(ours, base, inner, rounds)
    return [
        Row("check_user_agent, read verdict", "bare ua_os loop", mine, theirs, "<= 3x",
            mine / theirs <= 3)
    ]


def bench_sync(path: str, rounds: int, inner: int) -> list[Row]:
    rows = []
    query = encode_query(HOST)
    with P0f(path, timeout=5) as client, contextlib.closing(_bare_socket(path)) as sock:
        ours, base = _median_pair(
            lambda: client.query(HOST), lambda: bare_one(sock, query), inner, rounds
        )
        rows.append(
            Row("P0f.query, one at a time", "bare socket loop", ours, base, "<= 1.15x", ours / base <= 1.15)
        )
        rows += _wait_floor(path, sock, query, rounds, inner)
        batch = [HOST] * 1000
        queries = query * 1000
        ours, base = _median_pair(
            lambda: client.query_many(batch),
            lambda: bare_many(sock, queries, 1000),
            max(1, inner // 200),
            rounds,
        )
        rows.append(
            Row(
                "P0f.query_many, 1,000 addresses",
                "bare pipelined socket",
                ours / 1000,
                base / 1000,
                ">= 0.75x throughput",
                base / ours >= 0.75,
            )
        )
    return rows


def _wait_floor(
    path: str, sock: socket.socket, query: bytes, rounds: int, inner: int
) -> list[Row]:
    """What the client's guarantees cost with no client code at all: the
    same bare loop, but waiting as a call with a timeout must (a
    non-blocking socket, ``poll()`` then ``recv``; a blocking ``recv`` with
    a kernel timeout restarts it after every signal), and then also
    checking for unasked bytes before each write (a ``poll(0)``)."""
    rows = []
    with contextlib.closing(_bare_socket(path)) as waiting:
        waiting.setblocking(False)
        poller = select.poll()
        poller.register(waiting, select.POLLIN)

        def poll_recv() -> tuple[object, ...]:
            waiting.send(query)
            poller.poll(5000)
            return RESPONSE_STRUCT.unpack(waiting.recv(RESPONSE_SIZE))

        def checked_poll_recv() -> tuple[object, ...]:
            if poller.poll(0):
                raise RuntimeError("unasked bytes")
            return poll_recv()

        for what, fn in (
            ("bare socket: send, poll() then recv", poll_recv),
            ("bare socket: poll(0), send, poll() then recv", checked_poll_recv),
        ):
            ours, base = _median_pair(fn, lambda: bare_one(sock, query), inner, rounds)
            rows.append(Row(what, "bare socket loop", ours, base, "(info)", True))
    return rows


def _hand_five(data: bytes) -> tuple[object, ...]:
    """The five fields a web view reads, parsed by hand from one answer."""
    values = RESPONSE_STRUCT.unpack(data)
    if values[0] != RESPONSE_MAGIC or values[1] != Status.OK:
        raise ValueError("not an OK answer")
    distance = values[9]
    return (
        values[12].partition(b"\0")[0].decode("latin-1") or None,  # os_name
        values[13].partition(b"\0")[0].decode("latin-1") or None,  # os_flavor
        None if distance == -1 or distance == 255 else distance,
        dt.datetime.fromtimestamp(values[3], dt.timezone.utc),  # last_seen
        values[16].partition(b"\0")[0].decode("latin-1") or None,  # link_type
    )


def _records_floor(
    path: str, query: bytes, bare_five: Callable[[], object], rounds: int, inner: int
) -> Row:
    """The five-field row with no client code: a bare non-blocking socket
    that checks for unasked bytes and waits with ``poll()``, as the client
    must, and the library's records (decoded whole, as the issue asks).
    What ``P0f.query`` costs over this is its own bookkeeping."""
    with contextlib.closing(_bare_socket(path)) as sock:
        sock.setblocking(False)
        poller = select.poll()
        poller.register(sock, select.POLLIN)

        def floor_five() -> tuple[object, ...]:
            if poller.poll(0):
                raise RuntimeError("unasked bytes")
            sock.send(query)
            poller.poll(5000)
            a = P0fResponse.from_raw(decode_response(sock.recv(RESPONSE_SIZE)))
            return a.os_name, a.os_flavor, a.distance, a.last_seen, a.link_type

        ours, base = _median_pair(floor_five, bare_five, inner, rounds)
    return Row(
        "bare socket: poll(0), send, poll(), recv, P0fResponse, read five fields",
        "bare socket loop + parse of those five by hand",
        ours,
        base,
        "(info)",
        True,
    )


def bench_client_reads(path: str, rounds: int, inner: int) -> list[Row]:
    """A query's whole cost to a user: ask, then read the fields."""
    from benchmarks.records_bench import hand_parse

    rows = []
    query = encode_query(HOST)
    with P0f(path, timeout=5) as client, contextlib.closing(_bare_socket(path)) as sock:

        def ours_five() -> tuple[object, ...]:
            a = client.query(HOST)
            return a.os_name, a.os_flavor, a.distance, a.last_seen, a.link_type

        def bare_five() -> tuple[object, ...]:
            sock.sendall(query)
            return _hand_five(_recv_exact(sock, RESPONSE_SIZE))

        ours, base = _median_pair(ours_five, bare_five, inner, rounds)
        rows.append(
            Row(
                "P0f.query then read five fields, one at a time",
                "bare socket loop + parse of those five by hand",
                ours,
                base,
                "<= 1.2x",
                ours / base <= 1.2,
            )
        )
        rows.append(_records_floor(path, query, bare_five, rounds, inner))
        batch = [HOST] * 1000
        queries = query * 1000

        def ours_all() -> object:
            return [
                (
                    a.first_seen, a.last_seen, a.total_conn, a.uptime, a.up_mod_days,
                    a.last_nat, a.last_chg, a.distance, a.bad_sw, a.os_match_q,
                    a.os_name, a.os_flavor, a.http_name, a.http_flavor, a.link_type,
                    a.language,
                )  # fmt: skip
                for a in client.query_many(batch)
                if a is not None
            ]

        def bare_all() -> object:
            sock.sendall(queries)
            data = _recv_exact(sock, 1000 * RESPONSE_SIZE)
            return [
                hand_parse(data[i : i + RESPONSE_SIZE])
                for i in range(0, 1000 * RESPONSE_SIZE, RESPONSE_SIZE)
            ]

        ours, base = _median_pair(ours_all, bare_all, max(1, inner // 200), rounds)
        rows.append(
            Row(
                "P0f.query_many 1,000, reading every field",
                "bare pipelined socket + parse by hand",
                ours / 1000,
                base / 1000,
                ">= 0.8x throughput",
                base / ours >= 0.8,
            )
        )
    return rows


def bench_idle(path: str, rounds: int, inner: int) -> list[Row]:
    """What ``idle_timeout=0`` costs per query: a connection each time."""
    with P0f(path, timeout=5, idle_timeout=0) as each, P0f(path, timeout=5) as kept:
        ours, base = _median_pair(
            lambda: each.query(HOST), lambda: kept.query(HOST), inner, rounds
        )
    return [
        Row(
            "P0f.query with idle_timeout=0 (a connection per query)",
            "P0f.query on a kept connection",
            ours,
            base,
            "(info)",
            True,
        )
    ]


def bench_async(path: str, rounds: int, inner: int) -> list[Row]:
    from p0f import AsyncP0f

    query = encode_query(HOST)
    queries = query * 1000
    loop = asyncio.new_event_loop()
    client = AsyncP0f(path, timeout=5)

    async def thousand() -> object:
        return await asyncio.gather(*(client.query(HOST) for _ in range(1000)))

    try:
        with contextlib.closing(_bare_socket(path)) as sock:
            ours, base = _median_pair(
                lambda: loop.run_until_complete(thousand()),
                lambda: bare_many(sock, queries, 1000),
                max(1, inner // 200),
                rounds,
            )
            # The same again in this process's CPU time: less noisy than the
            # wall clock, and what decides the row when p0f, on a core of its
            # own, answers faster than the client can take answers.
            ours_cpu, base_cpu = _median_pair(
                lambda: loop.run_until_complete(thousand()),
                lambda: bare_many(sock, queries, 1000),
                max(1, inner // 200),
                rounds,
                time.process_time,
            )
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()
    return [
        Row(
            "AsyncP0f, 1,000 concurrent query",
            "bare pipelined socket",
            ours / 1000,
            base / 1000,
            ">= 0.5x throughput",
            base / ours >= 0.5,
        ),
        Row(
            "AsyncP0f, 1,000 concurrent query, CPU time",
            "bare pipelined socket, CPU time",
            ours_cpu / 1000,
            base_cpu / 1000,
            "(info)",
            True,
        ),
    ]


@contextlib.contextmanager
def broker_for(path: str) -> Iterator[str]:
    """Run ``p0f-broker`` (as users run it: its own process) in front of the
    daemon at ``path``; yield the broker's socket."""
    tmp = tempfile.mkdtemp(prefix="p0f-broker-bench-")
    listen = os.path.join(tmp, "broker.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "p0f.broker", "-s", path, "-l", listen],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with P0f(listen, timeout=2) as client:
                    client.query(HOST)
                break
            except p0f.P0fError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("p0f-broker did not start") from None
                time.sleep(0.02)
        yield listen
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


BROKER_CLIENTS: Final = 100
BROKER_BATCH: Final = 100


def many_clients(socks: list[socket.socket], queries: bytes, count: int) -> int:
    """Every socket writes ``count`` pipelined queries, then all answers are
    read as they come and unpacked; returns the number of answers."""
    unpack = RESPONSE_STRUCT.unpack_from
    size = count * RESPONSE_SIZE
    answers = 0
    with selectors.DefaultSelector() as selector:
        buffers: dict[socket.socket, bytearray] = {}
        for sock in socks:
            sock.sendall(queries)
            buffers[sock] = bytearray()
            selector.register(sock, selectors.EVENT_READ, sock)
        left = len(socks)
        while left:
            for key, _ in selector.select():
                ready: socket.socket = key.data
                buffer = buffers[ready]
                data = ready.recv(size - len(buffer))
                if not data:
                    raise ConnectionError("the broker closed a connection")
                buffer += data
                if len(buffer) == size:
                    answers += len([unpack(buffer, i) for i in range(0, size, RESPONSE_SIZE)])
                    selector.unregister(ready)
                    left -= 1
    return answers


def bench_broker(path: str, rounds: int, inner: int) -> list[Row]:
    rows = []
    query = encode_query(HOST)
    with broker_for(path) as listen, P0f(path, timeout=5) as direct, P0f(
        listen, timeout=5
    ) as via:
        ours, base = _median_pair(lambda: via.query(HOST), lambda: direct.query(HOST), inner, rounds)
        rows.append(
            Row("P0f.query through p0f-broker, one at a time", "P0f.query direct",
                ours, base, "<= 2x", ours / base <= 2)
        )
        socks = [_bare_socket(listen) for _ in range(BROKER_CLIENTS)]
        total = BROKER_CLIENTS * BROKER_BATCH
        try:
            with contextlib.closing(_bare_socket(path)) as sock:
                batch = query * BROKER_BATCH
                thousand = query * 1000
                ours, base = _median_pair(
                    lambda: many_clients(socks, batch, BROKER_BATCH),
                    lambda: bare_many(sock, thousand, 1000),
                    max(1, inner // 500),
                    rounds,
                )
        finally:
            for s in socks:
                s.close()
        rows.append(
            Row(
                f"{BROKER_CLIENTS} clients through p0f-broker, {BROKER_BATCH} pipelined each",
                "bare pipelined socket, direct",
                ours / total,
                base / 1000,
                ">= 0.6x throughput",
                base / 1000 / (ours / total) >= 0.6,
            )
        )
    return rows


def bench_django(path: str | None, rounds: int, inner: int) -> list[Row]:
    try:
        import django  # noqa: F401 - the [django] extra may be missing
    except ImportError:
        return []
    from benchmarks import django_bench

    return django_bench.run(path, rounds, inner, Row)


def bench_log(rounds: int, count: int) -> list[Row]:
    from benchmarks import log_bench

    return log_bench.run(rounds, count, Row, _median_pair)


def render(rows: list[Row], daemon: str) -> str:
    lines = [
        f"p0f-client {p0f.__version__}; Python {platform.python_version()}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs; daemon: {daemon}",
        "",
        "| what | baseline | ours (median) | baseline (median) | ratio | target | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "throughput" in row.target:
            ratio = f"{row.base / row.ours:.2f}x throughput"
        else:
            ratio = f"{row.ratio:.2f}x time"
        lines.append(
            f"| {row.what} | {row.baseline} | {_fmt(row.ours)} | {_fmt(row.base)} "
            f"| {ratio} | {row.target} | {'yes' if row.ok else 'NO'} |"
        )
    return "\n".join(lines)


def _fmt(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    return f"{seconds * 1e3:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few rounds, for a smoke test")
    parser.add_argument("--fake", action="store_true", help="use the fake daemon even as root")
    parser.add_argument(
        "--pin",
        choices=("same", "apart"),
        help="pin p0f and this process to the same CPU, or to two different ones",
    )
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else 9
    scale = 0.02 if args.quick else 1.0
    daemon, context = pick_daemon(args.fake, args.pin)
    rows = bench_decode(rounds, max(100, int(50_000 * scale)))
    rows += bench_user_agent(rounds, max(100, int(50_000 * scale)))
    rows += bench_log(rounds, max(2_000, int(100_000 * scale)))
    with context as path:
        rows += bench_sync(path, rounds, max(20, int(3_000 * scale)))
        rows += bench_client_reads(path, rounds, max(20, int(3_000 * scale)))
        rows += bench_idle(path, rounds, max(20, int(1_000 * scale)))
        rows += bench_async(path, rounds, max(200, int(3_000 * scale)))
        rows += bench_django(path, rounds, max(50, int(3_000 * scale)))
        rows += bench_broker(path, rounds, max(50, int(3_000 * scale)))
    print(render(rows, daemon))
    return 0


if __name__ == "__main__":
    sys.exit(main())

