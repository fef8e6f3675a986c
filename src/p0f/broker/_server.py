"""The broker itself: an asyncio server speaking p0f's API on both sides.

Clients connect to the broker's socket and send 21-byte queries, exactly as
they would to p0f.  Each query becomes a :class:`_Slot` in its client's
ordered queue; a slot is filled by p0f's answer (read back from one of at
most ``upstreams`` connections, in the order the queries were written
there), by the shared cache, or at once with p0f's own "bad query" answer.
A client is written the filled slots at the head of its queue, so it gets
its answers in the order it asked, whatever order they were filled in.

Safety rules the code keeps, from p0f 3.09b's behaviour:

- a connection to p0f is never closed with answers owed on it (p0f dies of
  SIGPIPE): a broken one is drained first, within ``drain_timeout``;
- a client that goes away leaves its slots in place, so that their answers
  are read and dropped;
- an answer is only ever given to the slot at the head of its connection's
  queue when it arrived (or to slots that asked the very same query);
- when an answer cannot come (p0f gone, or unreachable past ``hold``), the
  client's connection is closed after the answers before it: the protocol
  has no error frame, and any answer would be a lie about the query.
"""

from __future__ import annotations

import asyncio
import contextlib
import grp
import logging
import os
import socket
import stat
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Final, cast

import attrs

from .._codec import encode_response
from .._enums import Status
from .._models import RawResponse
from .._wire import (
    ADDR_IPV4,
    ADDR_IPV6,
    QUERY_MAGIC,
    QUERY_SIZE,
    RESPONSE_MAGIC,
    RESPONSE_SIZE,
)
from ._stats import Stats

log = logging.getLogger("p0f.broker")

_MAGIC: Final = struct.pack("=I", QUERY_MAGIC)
_ADDR_TYPES: Final = (ADDR_IPV4, ADDR_IPV6)
_HEAD: Final = struct.Struct("=II")  # an answer's magic and status
_OK: Final = int(Status.OK)
_NO_MATCH: Final = int(Status.NO_MATCH)
_BAD_QUERY: Final = int(Status.BAD_QUERY)


def _bad_query_answer() -> bytes:
    """p0f 3.09b's answer to a malformed query: the proper magic, status 0,
    every other field zero."""
    return encode_response(
        RawResponse(
            magic=RESPONSE_MAGIC, status=_BAD_QUERY, first_seen=0, last_seen=0,
            total_conn=0, uptime_min=0, up_mod_days=0, last_nat=0, last_chg=0,
            distance=0, bad_sw=0, os_match_q=0, os_name="", os_flavor="",
            http_name="", http_flavor="", link_type="", language="",
        )
    )


BAD_QUERY_ANSWER: Final = _bad_query_answer()


#: The listening socket's backlog: clients connecting in a burst (a fleet
#: starting) wait there for the broker to accept them.
LISTEN_BACKLOG: Final = 1024


class BrokerError(Exception):
    """The broker cannot start as configured (a bad path, group or option)."""


def _positive(name: str, value: float, *, zero: bool = False) -> None:
    if not (value > 0 or (zero and value == 0)) or value != value or value == float("inf"):
        raise BrokerError(f"{name} must be {'0 or more' if zero else 'positive'}, got {value!r}")


@attrs.frozen
class BrokerConfig:
    """How a :class:`Broker` runs; every option of ``p0f-broker``."""

    #: p0f's API socket (p0f's ``-s``).
    p0f_socket: str
    #: The broker's own socket, which clients connect to.
    listen: str
    #: At most this many connections to p0f (p0f serves 20 by default).
    upstreams: int = 1
    #: Permission bits of the listening socket (p0f's own is 0666).
    mode: int = 0o666
    #: Group of the listening socket, by name or number; ``None`` keeps it.
    group: str | None = None
    #: Seconds an answer with data is reused for the same query; 0 = no cache.
    cache_ttl: float = 0.0
    #: Seconds a "no match" answer is reused (never longer than cache_ttl).
    no_match_ttl: float = 1.0
    #: Most answers the cache holds; the oldest stored goes first.
    cache_size: int = 65536
    #: Answers one client may be owed before the broker stops reading its
    #: queries (until half of them are written back).
    client_queue: int = 1024
    #: Seconds a query may wait while p0f cannot be reached; then the broker
    #: closes that client's connection.  Twice this (this library's clients
    #: ask once more on a new connection) stays within their default 1 s.
    hold: float = 0.4
    #: Seconds to wait, at shutdown, for the answers p0f still owes.
    drain_timeout: float = 10.0
    #: Reconnect back-off: first delay and the most it grows to, in seconds.
    reconnect_min: float = 0.05
    reconnect_max: float = 2.0
    #: Log a warning when p0f owes answers and has sent nothing for this long.
    stall_warning: float = 5.0

    def __attrs_post_init__(self) -> None:
        if not self.p0f_socket or not self.listen:
            raise BrokerError("both the p0f socket and the listening socket are needed")
        if os.path.abspath(self.p0f_socket) == os.path.abspath(self.listen):
            raise BrokerError("the broker cannot listen on p0f's own socket")
        if self.upstreams < 1 or self.upstreams > 100:
            raise BrokerError(f"upstreams must be 1 to 100 (p0f's -S limit), got {self.upstreams}")
        if not 0 <= self.mode <= 0o777:
            raise BrokerError(f"mode must be permission bits (0 to 0o777), got {self.mode:o}")
        if self.cache_size < 1 or self.client_queue < 1:
            raise BrokerError("cache_size and client_queue must be at least 1")
        _positive("cache_ttl", self.cache_ttl, zero=True)
        _positive("no_match_ttl", self.no_match_ttl, zero=True)
        for name in ("hold", "drain_timeout", "reconnect_min", "reconnect_max", "stall_warning"):
            _positive(name, getattr(self, name))
        if self.reconnect_max < self.reconnect_min:
            raise BrokerError("reconnect_max must not be below reconnect_min")


class _Slot:
    """One answer a client is owed, and where it will come from."""

    __slots__ = ("client", "query", "data", "sent")

    def __init__(self, client: _Client, query: bytes, data: bytes | None = None) -> None:
        self.client = client
        self.query = query
        self.data = data  # the answer, once it is known
        self.sent = 0.0  # when it was written to p0f (or began to wait)


class _Client(asyncio.Protocol):
    """One client connection to the broker."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.transport: asyncio.Transport | None = None
        self.inbuf = b""
        self.slots: deque[_Slot] = deque()
        self.closed = False  # no more writes: gone, cut off, or shut down
        self.eof = False  # the client will send no more queries
        self.reading = True
        self.write_paused = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.broker._client_made(self)

    def data_received(self, data: bytes) -> None:
        self.broker._queries(self, data)

    def eof_received(self) -> bool:
        # A client may shut its writing side down and still read its answers.
        self.eof = True
        self.inbuf = b""
        if not self.slots and self.transport is not None:
            self.transport.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.broker._client_lost(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.broker._update_reading(self)

    def resume_writing(self) -> None:
        self.write_paused = False
        self.broker._update_reading(self)


class _Upstream(asyncio.Protocol):
    """One connection to p0f."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.transport: asyncio.Transport | None = None
        self.owed: deque[_Slot] = deque()
        self.inbuf = b""
        self.sent = 0  # whole queries written
        self.received = 0  # answer bytes read
        self.usable = True  # False once lost or broken: take no new queries
        self.last_read = 0.0
        #: Set when the connection can take no more queries.
        self.unusable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        #: Set when the socket is closed.
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.last_read = asyncio.get_running_loop().time()

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.usable:
            self.broker._answers(self, data)
        elif self.received >= self.sent * RESPONSE_SIZE and self.transport is not None:
            # A retired connection has now been paid everything: close it.
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.broker._upstream_lost(self, exc)
        if not self.closed.done():
            self.closed.set_result(None)

    def owed_bytes(self) -> int:
        return self.sent * RESPONSE_SIZE - self.received

    def write(self, slots: list[_Slot], data: bytes, now: float) -> None:
        if not self.owed:
            self.last_read = now  # the stall clock starts with the first owed
        for slot in slots:
            slot.sent = now
        self.owed.extend(slots)
        self.sent += len(slots)
        assert self.transport is not None
        self.transport.write(data)


class Broker:
    """Serve p0f's API on ``config.listen`` over few connections to p0f."""

    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.stats = Stats()
        self._ready: list[_Upstream] = []
        self._all_upstreams: set[_Upstream] = set()
        self._clients: set[_Client] = set()
        self._waiting: deque[_Slot] = deque()  # queries with no p0f to go to
        self._cache: dict[bytes, tuple[bytes, float]] | None = (
            {} if config.cache_ttl > 0 else None
        )
        #: With the cache on: queries written to p0f and not yet answered,
        #: with the slots of later identical queries waiting for that answer.
        self._inflight: dict[bytes, list[_Slot]] = {}
        self._ok_ttl = config.cache_ttl
        self._no_match_ttl = min(config.cache_ttl, config.no_match_ttl)
        self._server: asyncio.Server | None = None
        self._listen_stat: os.stat_result | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._hold_timer: asyncio.TimerHandle | None = None
        self._stopping = False
        self._stop_requested: asyncio.Event | None = None
        self._drained: asyncio.Event | None = None
        self._connected_once: asyncio.Event | None = None
        # The loop's clock, bound once: asyncio.get_running_loop() makes a
        # getpid() system call on every call (Python 3.11).
        self._time: Callable[[], float] = time.monotonic

    # -- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Bind the listening socket and begin connecting to p0f."""
        loop = asyncio.get_running_loop()
        self._time = loop.time
        self._stop_requested = asyncio.Event()
        self._drained = asyncio.Event()
        self._connected_once = asyncio.Event()
        sock = bind_listener(self.config.listen, self.config.mode, self.config.group)
        self._listen_stat = os.stat(self.config.listen)
        self._server = await loop.create_unix_server(
            lambda: _Client(self), sock=sock, backlog=LISTEN_BACKLOG
        )
        for index in range(self.config.upstreams):
            self._tasks.append(loop.create_task(self._keep_upstream(index)))
        self._tasks.append(loop.create_task(self._watch_stalls()))
        log.info(
            "listening on %s (mode %o), for p0f at %s over at most %d connection(s); cache %s",
            self.config.listen, self.config.mode, self.config.p0f_socket,
            self.config.upstreams,
            f"{self.config.cache_ttl:g} s" if self._cache is not None else "off",
        )

    async def wait_connected(self) -> None:
        """Return once a connection to p0f has been made (for tests and tools)."""
        assert self._connected_once is not None, "start() first"
        await self._connected_once.wait()

    def request_stop(self) -> None:
        """Ask :meth:`serve` to shut down (safe from a signal handler)."""
        if self._stop_requested is not None:
            self._stop_requested.set()

    async def serve(self) -> None:
        """Start, serve until :meth:`request_stop`, then shut down."""
        await self.start()
        await self.run_until_stopped()

    async def run_until_stopped(self) -> None:
        """After :meth:`start`: serve until :meth:`request_stop`, then shut down."""
        assert self._stop_requested is not None, "start() first"
        try:
            await self._stop_requested.wait()
            log.info("stopping: no new clients; waiting for the answers p0f owes")
        finally:
            await self.shutdown()

    async def shutdown(self) -> None:
        """Stop accepting, answer what p0f still owes, close everything."""
        if self._stopping:
            return
        self._stopping = True
        assert self._drained is not None
        if self._server is not None:
            self._server.close()
        self._unlink_listener()
        for client in list(self._clients):
            client.inbuf = b""
            self._update_reading(client)
        for slot in self._waiting:
            self._cut_off(slot.client)
        self._waiting.clear()
        self._check_drained()
        try:
            await asyncio.wait_for(self._drained.wait(), self.config.drain_timeout)
        except TimeoutError:
            log.warning(
                "p0f still owed %d answer(s) after %g s; closing anyway",
                self.owed(), self.config.drain_timeout,
            )
        for client in list(self._clients):
            self._flush(client)
            client.closed = True
            if client.transport is not None:
                client.transport.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for upstream in list(self._all_upstreams):
            upstream.usable = False  # closed on purpose, not lost
            if upstream in self._ready:
                self._ready.remove(upstream)
            if upstream.transport is not None:
                upstream.transport.close()
        waits = [c.done for c in self._clients] + [u.closed for u in self._all_upstreams]
        if waits:
            await asyncio.wait(waits, timeout=2.0)
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        if self._server is not None:
            await self._server.wait_closed()
        log.info("stopped: %s", self.stats.summary())

    def _unlink_listener(self) -> None:
        # Remove the socket file only if it is still the one we made.
        path = self.config.listen
        try:
            now = os.stat(path)
        except OSError:
            return
        made = self._listen_stat
        if made is not None and (now.st_ino, now.st_dev) == (made.st_ino, made.st_dev):
            with contextlib.suppress(OSError):
                os.unlink(path)

    def _stopping_now(self) -> bool:
        # A method, so that type checkers do not take the flag for constant
        # across an await.
        return self._stopping

    # -- state for observers -------------------------------------------------------

    def owed(self) -> int:
        """Answers p0f owes the broker right now."""
        # list(): the metrics thread calls this while the loop runs.
        return sum(len(u.owed) for u in list(self._all_upstreams))

    def client_count(self) -> int:
        return len(self._clients)

    def upstream_count(self) -> int:
        return len(self._ready)

    # -- clients ----------------------------------------------------------------------

    def _client_made(self, client: _Client) -> None:
        if self._stopping:
            assert client.transport is not None
            client.closed = True
            client.transport.close()
        self._clients.add(client)
        self.stats.clients_accepted += 1
        self.stats.clients_open += 1
        log.debug("client connected (%d open)", self.stats.clients_open)

    def _client_lost(self, client: _Client) -> None:
        client.closed = True
        self._clients.discard(client)
        self.stats.clients_open -= 1
        # Its slots stay in the upstream queues: p0f's answers to them will
        # be read and dropped.  Those still waiting for p0f are skipped later.
        if client.slots:
            log.debug("client gone with %d answer(s) owed; they will be dropped",
                      len(client.slots))
        client.slots.clear()
        if not client.done.done():
            client.done.set_result(None)
        if self._stopping:
            self._check_drained()

    def _update_reading(self, client: _Client) -> None:
        transport = client.transport
        if transport is None or client.closed or transport.is_closing():
            return
        if client.reading:
            if (
                self._stopping or client.write_paused
                or len(client.slots) >= self.config.client_queue
            ):
                client.reading = False
                transport.pause_reading()
        elif not (
            self._stopping or client.write_paused
            or len(client.slots) > self.config.client_queue // 2
        ):
            client.reading = True
            transport.resume_reading()

    def _queries(self, client: _Client, data: bytes) -> None:
        if client.closed or client.eof or self._stopping:
            return
        if client.inbuf:
            data = client.inbuf + data
        count = len(data) // QUERY_SIZE
        end = count * QUERY_SIZE
        client.inbuf = data[end:] if end != len(data) else b""
        if not count:
            return
        stats = self.stats
        stats.queries += count
        slots = client.slots
        now = self._time()
        cache = self._cache
        if count == 1 and cache is None and data[:4] == _MAGIC and data[4] in _ADDR_TYPES:
            # The common case: one good query, no cache.
            query = data if end == len(data) else data[:end]
            slot = _Slot(client, query)
            slots.append(slot)
            ready = self._ready
            if len(ready) == 1:
                upstream = ready[0]
                slot.sent = now
                if not upstream.owed:
                    upstream.last_read = now
                upstream.owed.append(slot)
                upstream.sent += 1
                assert upstream.transport is not None
                upstream.transport.write(query)
            else:
                self._send([slot], query, now)
        else:
            outgoing: list[_Slot] = []
            filled = False
            for offset in range(0, end, QUERY_SIZE):
                query = data[offset : offset + QUERY_SIZE]
                if query[:4] != _MAGIC or query[4] not in _ADDR_TYPES:
                    stats.bad_queries += 1
                    slots.append(_Slot(client, query, BAD_QUERY_ANSWER))
                    filled = True
                    continue
                if cache is not None:
                    hit = cache.get(query)
                    if hit is not None:
                        if hit[1] > now:
                            stats.cache_hits += 1
                            slots.append(_Slot(client, query, hit[0]))
                            filled = True
                            continue
                        del cache[query]
                    followers = self._inflight.get(query)
                    if followers is not None:
                        # The same question is already with p0f: share its answer.
                        stats.cache_hits += 1
                        slot = _Slot(client, query)
                        slots.append(slot)
                        followers.append(slot)
                        continue
                slot = _Slot(client, query)
                slots.append(slot)
                outgoing.append(slot)
            if outgoing:
                if len(outgoing) == count:
                    self._send(outgoing, data if end == len(data) else data[:end], now)
                else:
                    self._send(outgoing, b"".join(s.query for s in outgoing), now)
            if filled:
                self._flush(client)
        if len(slots) >= self.config.client_queue:
            self._update_reading(client)

    def _flush(self, client: _Client) -> None:
        """Write the answers at the head of the client's queue that are known."""
        slots = client.slots
        if client.closed:
            return
        out: list[bytes] = []
        while slots:
            data = slots[0].data
            if data is None:
                break
            out.append(data)
            slots.popleft()
        if not out:
            return
        self.stats.answers += len(out)
        assert client.transport is not None
        client.transport.write(out[0] if len(out) == 1 else b"".join(out))
        self._after_write(client)

    def _after_write(self, client: _Client) -> None:
        if not client.reading:
            self._update_reading(client)
        if client.eof and not client.slots and client.transport is not None:
            client.transport.close()

    def _cut_off(self, client: _Client) -> None:
        """Close a client whose answer cannot come: the protocol has no error
        frame, and a hang-up is what a client sees when p0f itself fails."""
        if client.closed:
            return
        self._flush(client)  # answers before the lost one are good
        client.closed = True
        self.stats.clients_cut_off += 1
        if client.transport is not None:
            client.transport.close()

    # -- upstream ---------------------------------------------------------------------

    def _send(self, slots: list[_Slot], data: bytes, now: float) -> None:
        ready = self._ready
        if ready and self._cache is not None:
            inflight = self._inflight
            for slot in slots:
                inflight.setdefault(slot.query, [])
        if len(ready) == 1:
            ready[0].write(slots, data, now)
        elif ready:
            min(ready, key=lambda u: len(u.owed)).write(slots, data, now)
        else:
            for slot in slots:
                slot.sent = now
            self._waiting.extend(slots)
            self._arm_hold()

    def _arm_hold(self) -> None:
        if self._hold_timer is None and self._waiting:
            loop = asyncio.get_running_loop()
            when = self._waiting[0].sent + self.config.hold
            self._hold_timer = loop.call_at(when, self._expire_waiting)

    def _expire_waiting(self) -> None:
        self._hold_timer = None
        now = self._time()
        waiting = self._waiting
        hold = self.config.hold
        expired = 0
        while waiting and (waiting[0].client.closed or waiting[0].sent + hold <= now):
            slot = waiting.popleft()
            if not slot.client.closed:
                expired += 1
                self._cut_off(slot.client)
        if expired:
            log.warning(
                "p0f could not be reached for %g s: closed %d waiting client(s)", hold, expired
            )
        self._arm_hold()

    def _dispatch_waiting(self) -> None:
        waiting = [s for s in self._waiting if not s.client.closed]
        self._waiting.clear()
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        if waiting:
            now = self._time()
            self._send(waiting, b"".join(s.query for s in waiting), now)

    def _answers(self, upstream: _Upstream, data: bytes) -> None:
        now = self._time()
        upstream.last_read = now
        owed = upstream.owed
        if len(data) == RESPONSE_SIZE and not upstream.inbuf and owed:
            # The common case when clients ask one at a time: one whole
            # answer for a client waiting for nothing else.
            magic, status = _HEAD.unpack_from(data)
            if magic == RESPONSE_MAGIC and self._cache is None and (
                status == _OK or status == _NO_MATCH
            ):
                slot = owed.popleft()
                self.stats.observe_latency(now - slot.sent)
                client = slot.client
                if client.closed:
                    self.stats.dropped_answers += 1
                elif len(client.slots) == 1 and client.slots[0] is slot:
                    client.slots.clear()
                    self.stats.answers += 1
                    assert client.transport is not None
                    client.transport.write(data)
                    if not client.reading or client.eof:
                        self._after_write(client)
                else:
                    slot.data = data
                    if client.slots and client.slots[0] is slot:
                        self._flush(client)
                if self._stopping and not owed:
                    self._check_drained()
                return
        if upstream.inbuf:
            data = upstream.inbuf + data
        count = len(data) // RESPONSE_SIZE
        end = count * RESPONSE_SIZE
        upstream.inbuf = data[end:] if end != len(data) else b""
        owed = upstream.owed
        if len(data) > len(owed) * RESPONSE_SIZE:
            self._upstream_broken(
                upstream, f"p0f sent {len(data)} bytes, more than the {len(owed)} answer(s) owed"
            )
            return
        stats = self.stats
        cache = self._cache
        unpack = _HEAD.unpack_from
        touched: list[_Client] = []
        for offset in range(0, end, RESPONSE_SIZE):
            magic, status = unpack(data, offset)
            if (magic != RESPONSE_MAGIC and not (magic == 0 and status == _BAD_QUERY)) or (
                status != _OK and status != _NO_MATCH and status != _BAD_QUERY
            ):
                self._upstream_broken(
                    upstream, f"p0f sent an answer with magic 0x{magic:08x}, status 0x{status:02x}"
                )
                for client in touched:
                    self._flush(client)
                return
            answer = data if count == 1 and end == len(data) else data[offset : offset + RESPONSE_SIZE]
            slot = owed.popleft()
            stats.observe_latency(now - slot.sent)
            if cache is not None:
                if status != _BAD_QUERY:
                    ttl = self._ok_ttl if status == _OK else self._no_match_ttl
                    if ttl > 0:
                        self._store(cache, slot.query, answer, now + ttl)
                for follower in self._inflight.pop(slot.query, ()):
                    if follower.client.closed:
                        continue
                    follower.data = answer
                    if follower.client.slots and follower.client.slots[0] is follower:
                        touched.append(follower.client)
            client = slot.client
            if client.closed:
                stats.dropped_answers += 1
                continue
            slot.data = answer
            if client.slots and client.slots[0] is slot:
                touched.append(client)
        for client in touched:
            self._flush(client)
        if self._stopping and not owed:
            self._check_drained()

    def _store(self, cache: dict[bytes, tuple[bytes, float]], query: bytes,
               answer: bytes, expires: float) -> None:
        if cache.pop(query, None) is None and len(cache) >= self.config.cache_size:
            del cache[next(iter(cache))]
        cache[query] = (answer, expires)

    def _check_drained(self) -> None:
        if self._drained is not None and not any(u.owed for u in self._all_upstreams):
            self._drained.set()

    def _retire(self, upstream: _Upstream, reason: str) -> None:
        """Take no more queries on ``upstream``; cut off its clients."""
        if not upstream.usable:
            return
        upstream.usable = False
        self.stats.upstream_failures += 1
        if upstream in self._ready:
            self._ready.remove(upstream)
        owed = list(upstream.owed)
        upstream.owed.clear()
        # Those waiting for the same answers lose them too.
        shared = [f for slot in owed for f in self._inflight.pop(slot.query, ())]
        clients = {slot.client for slot in owed + shared if not slot.client.closed}
        for client in clients:
            self._cut_off(client)
        if clients or owed:
            log.warning("%s: %d answer(s) lost, %d client(s) cut off", reason, len(owed), len(clients))
        else:
            log.warning("%s", reason)
        if not upstream.unusable.done():
            upstream.unusable.set_result(None)
        if self._stopping:
            self._check_drained()

    def _upstream_broken(self, upstream: _Upstream, reason: str) -> None:
        """p0f's answers stopped making sense: the stream cannot be trusted.
        Stop using it, but read what is still owed before closing it."""
        self._retire(upstream, f"{reason}; dropping that connection to p0f")
        upstream.inbuf = b""
        if upstream.owed_bytes() <= 0 and upstream.transport is not None:
            upstream.transport.close()
        elif upstream.transport is not None:
            transport = upstream.transport
            asyncio.get_running_loop().call_later(self.config.drain_timeout, transport.abort)

    def _upstream_lost(self, upstream: _Upstream, exc: Exception | None) -> None:
        self._all_upstreams.discard(upstream)
        self.stats.upstream_open -= 1
        if upstream.usable:
            cause = f" ({exc})" if exc else ""
            self._retire(upstream, f"p0f closed the connection{cause}")

    async def _connect(self) -> _Upstream:
        loop = asyncio.get_running_loop()
        _, upstream = await loop.create_unix_connection(
            lambda: _Upstream(self), self.config.p0f_socket
        )
        return upstream

    async def _keep_upstream(self, index: int) -> None:
        """Keep connection number ``index`` to p0f open, reconnecting with
        back-off while p0f cannot be reached."""
        config = self.config
        delay = config.reconnect_min
        failing = False
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                upstream = await self._connect()
            except OSError as exc:
                if not failing:
                    log.warning("cannot connect to p0f at %s: %s; retrying", config.p0f_socket, exc)
                    failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, config.reconnect_max)
                continue
            if self._stopping_now():
                assert upstream.transport is not None
                upstream.transport.close()
                return
            self.stats.upstream_connects += 1
            self.stats.upstream_open += 1
            self._all_upstreams.add(upstream)
            self._ready.append(upstream)
            if failing or self.stats.upstream_connects > config.upstreams:
                log.info("connected to p0f at %s (connection %d)", config.p0f_socket, index + 1)
            failing = False
            assert self._connected_once is not None
            self._connected_once.set()
            self._dispatch_waiting()
            opened = loop.time()
            await upstream.unusable
            if loop.time() - opened < 1.0:
                # Lost at once (p0f dying, or at its -S limit): do not spin.
                await asyncio.sleep(delay)
                delay = min(delay * 2, config.reconnect_max)
            else:
                delay = config.reconnect_min

    async def _watch_stalls(self) -> None:
        """Warn when p0f owes answers and has sent nothing for a while (frozen,
        overloaded, or holding the broker in its backlog at its -S limit)."""
        limit = self.config.stall_warning
        loop = asyncio.get_running_loop()
        warned: set[_Upstream] = set()
        while True:
            await asyncio.sleep(limit / 2)
            now = loop.time()
            for upstream in list(self._ready):
                stalled = upstream.owed and now - upstream.last_read > limit
                if stalled and upstream not in warned:
                    warned.add(upstream)
                    log.warning(
                        "p0f has owed %d answer(s) for %.1f s without answering "
                        "(stopped, overloaded, or at its -S connection limit?)",
                        len(upstream.owed), now - upstream.last_read,
                    )
                elif not stalled and upstream in warned:
                    warned.discard(upstream)
                    log.info("p0f answers again")
            warned &= set(self._ready)


def _resolve_group(group: str) -> int:
    if group.isdigit():
        return int(group)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise BrokerError(f"no such group: {group!r}") from None


def bind_listener(path: str, mode: int, group: str | None) -> socket.socket:
    """A listening Unix socket at ``path`` with ``mode`` and ``group``.

    Like p0f, refuses to replace a path that exists and is not a socket;
    also refuses a socket something still answers on (another broker); a
    stale socket file is replaced.
    """
    gid = _resolve_group(group) if group is not None else -1
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise BrokerError(f"{path} exists and is not a socket; refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: a leftover
        else:
            raise BrokerError(f"something already listens on {path}")
        finally:
            probe.close()
    # Bound, given its mode and group and listening under a temporary name,
    # then renamed into place: a client never finds the path refusing
    # connections or with the wrong permissions.
    temporary = os.path.join(os.path.dirname(path) or ".", f".p0f-broker-{os.getpid()}.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        sock.bind(temporary)
        if gid != -1:
            os.chown(temporary, -1, gid)
        os.chmod(temporary, mode)
        sock.listen(LISTEN_BACKLOG)
        os.rename(temporary, path)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise BrokerError(f"cannot listen on {path}: {exc}") from exc
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return sock
