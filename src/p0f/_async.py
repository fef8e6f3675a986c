"""The asyncio client, :class:`AsyncP0f`.

It goes through the same codec as :class:`~p0f.P0f`: each connection keeps a
:class:`~p0f._codec.Pipeline`, whose tokens are here the futures that callers
await.  Only the moving of bytes differs: an :class:`asyncio.Protocol` is fed
by the event loop, and hands each answer to whoever asked for it, in order.
"""

from __future__ import annotations

import asyncio
import enum
import os
import socket
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import Final, Literal, TypeAlias, TypeVar, cast, overload

from ._base import (
    CONNECT_RETRY,
    DEFAULT_TIMEOUT,
    BaseClient,
    connect_failure,
    queue_full,
    unanswered,
)
from ._codec import Address, encode_query, parse, parse_or_none
from ._connection import MANY_WINDOW, Pipeline, owed_bytes
from ._errors import (
    P0fConnectionError,
    P0fConnectionLostError,
    P0fError,
    P0fTimeoutError,
    ProtocolError,
)
from ._models import P0fResponse, RawResponse
from . import _drain

_READ_SIZE: Final = 65536

DEFAULT_MAX_CONNECTIONS: Final = 1
"""Connections an :class:`AsyncP0f` opens at most unless told otherwise.

p0f answers from one single-threaded loop, so a second connection adds no
speed; one pipelined connection serves any number of callers."""

_T = TypeVar("_T")
_Answer: TypeAlias = "asyncio.Future[RawResponse]"
_Failure: TypeAlias = Callable[[], P0fError]


def _closed_error() -> P0fError:
    return P0fConnectionError("AsyncP0f.aclose() was called before p0f answered")


def _gone_error() -> P0fError:
    return P0fConnectionError("the connection to p0f was closed")


def _forget(answer: _Answer) -> None:
    """Give up on an answer: the connection will read it and drop it."""
    if not answer.done():
        answer.cancel()
    elif not answer.cancelled():
        answer.exception()  # mark it retrieved, so asyncio does not log it


class _State(enum.Enum):
    CONNECTING = "connecting"  # queries wait in a buffer until connected
    OPEN = "open"  # queries are written as they come
    RETIRING = "retiring"  # takes no queries; drains what is owed, then closes
    CLOSED = "closed"  # nothing more comes from it


# The states as plain names: a member read through its enum class costs about
# 50 ns on Python 3.11, and the state is checked on the path of every query.
_CONNECTING: Final = _State.CONNECTING
_OPEN: Final = _State.OPEN
_RETIRING: Final = _State.RETIRING
_CLOSED: Final = _State.CLOSED


class _Connection(asyncio.BufferedProtocol):
    """One socket to the daemon, fed by the event loop.

    Bytes in go through the :class:`Pipeline`, which returns each answer with
    its future.  A future whose caller gave up is already done (cancelled),
    so its answer is dropped; nobody else can get it.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        path: str,
        timeout: float,
        grace: float,
        on_closed: Callable[[_Connection], None],
        idle: float | None = None,
    ) -> None:
        self.state = _CONNECTING
        self.pipe: Pipeline[_Answer] = Pipeline()
        #: The connection died without a byte since it last sat idle: it was
        #: probably dead before its callers used it (the daemon restarted).
        self.stale = False
        #: Done once the connection is closed or handed to a drainer thread.
        self.closed: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._grace = grace
        self._on_closed = on_closed
        self._transport: asyncio.Transport | None = None
        self._idle = idle  # the client's idle_timeout
        # While open, the idle_timeout's; while retiring, the grace period's.
        self._timer: asyncio.TimerHandle | None = None
        self._why: _Failure = _gone_error  # what a late submit fails with
        self._handed_over = False  # hand_over() done: its loop is gone
        # Callers' deadlines in the order they asked; all share one timeout,
        # so they come in order too and one timer serves them all.
        self._deadlines: deque[tuple[float, _Answer]] = deque()
        self._expiry: asyncio.TimerHandle | None = None
        self._timeout = timeout
        # Queries not yet written: those asked while connecting, then those
        # of one turn of the loop, written together.
        self._outgoing = bytearray()
        # Reads land in one buffer, kept for the connection's life: asyncio's
        # plain protocols allocate a fresh 256 KiB object for every read.
        self._inbuf = memoryview(bytearray(_READ_SIZE))
        self._task = loop.create_task(self._run(path, timeout), name="p0f-connection")

    @property
    def usable(self) -> bool:
        """Whether it takes queries: connecting, or open and not failing."""
        if self.state is _OPEN:
            assert self._transport is not None
            return not self._transport.is_closing()
        return self.state is _CONNECTING

    # -- callers' side ------------------------------------------------------

    def submit(self, queries: Sequence[bytes]) -> list[_Answer]:
        """Queue encoded queries; one future per answer, in the same order.

        Queries asked in one turn of the event loop go out in one write."""
        return [self._queue(query) for query in queries]

    def ask(self, query: bytes, deadline: float) -> _Answer:
        """Queue one encoded query whose caller gives up at ``deadline``
        (event-loop time): the future then fails with the timeout error.

        Only on a connection its caller found :attr:`usable` in this same
        turn of the event loop: unlike :meth:`_queue`, it does not check
        again (this is the path of every query)."""
        answer = self._put(query)
        self._deadlines.append((deadline, answer))
        if self._expiry is None:
            self._expiry = self._loop.call_at(deadline, self._expire)
        return answer

    def _queue(self, query: bytes) -> _Answer:
        if not self.usable:
            answer: _Answer = self._loop.create_future()
            answer.set_exception(self._why())
            return answer
        return self._put(query)

    def _put(self, query: bytes) -> _Answer:
        """Owe ``query`` an answer, and write it at the end of this turn."""
        loop = self._loop
        answer: _Answer = loop.create_future()
        if self._timer is not None:  # the idle timer: no longer idle
            self._timer.cancel()
            self._timer = None
        self.pipe.queue(query, answer)
        outgoing = self._outgoing
        if not outgoing and self.state is _OPEN:
            loop.call_soon(self._flush)
        outgoing += query
        return answer

    def _expire(self) -> None:
        self._expiry = None
        deadlines = self._deadlines
        now = self._loop.time()
        while deadlines and deadlines[0][0] <= now:
            _, answer = deadlines.popleft()
            if not answer.done():
                answer.set_exception(unanswered(self._timeout, self.pipe.received == 0))
        self._arm_expiry()

    def _arm_expiry(self) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].done():
            deadlines.popleft()
        if deadlines and self._expiry is None:
            self._expiry = self._loop.call_at(deadlines[0][0], self._expire)

    def retire(self, failure: _Failure) -> None:
        """Take no more queries, fail every caller still waiting, close when
        nothing is owed; after the grace period hand the socket to a thread."""
        if self.state is _CONNECTING:
            self.state = _RETIRING
            self._fail(failure)
            self._task.cancel()  # nothing was written: no answer is owed
            return
        if self.state is not _OPEN:
            return
        self.state = _RETIRING
        self._fail(failure)
        if self._timer is not None:  # the idle timer
            self._timer.cancel()
        self._timer = self._loop.call_later(self._grace, self._hand_off)
        self._close_if_settled()

    # -- the event loop's side ------------------------------------------------

    async def _run(self, path: str, timeout: float) -> None:
        """Connect, then stand guard until the connection is closed."""
        try:
            async with asyncio.timeout(timeout):
                sock = await _connect_unix(path)
                await self._loop.create_unix_connection(lambda: self, sock=sock)
        except asyncio.CancelledError:  # by retire(), or by the loop's end
            self._finish(self._why)
            raise
        except TimeoutError:
            self._finish(lambda: queue_full(path, timeout))
            return
        except OSError as exc:
            cause = exc  # Python unbinds ``exc`` when the except block ends
            self._finish(lambda: connect_failure(path, cause))
            return
        if self.state is not _CONNECTING:
            return  # lost, or spoke unasked, before this task resumed
        self.state = _OPEN
        if self._outgoing:
            self._flush()
        try:
            await asyncio.shield(self.closed)
        except asyncio.CancelledError:
            # Once connected, only the event loop's end cancels this task
            # (asyncio.run cancels every task left).  The loop will close
            # the socket without reading what is owed: hand it off first.
            self._abandon()
            raise

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._inbuf

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._inbuf[:nbytes].tobytes())

    def data_received(self, data: bytes) -> None:
        pipe = self.pipe
        if self.state is _CONNECTING:
            # Bytes before any query was written: no answer can be trusted.
            pipe.received += len(data)
            self._finish(lambda: ProtocolError("p0f sent bytes before it was asked"))
            if self._transport is not None:
                self._transport.abort()
            return
        was_broken = pipe.broken is not None
        for answer, raw in pipe.receive(data):
            if not answer.done():
                answer.set_result(raw)
        if pipe.broken is not None:
            if not was_broken:
                # The byte stream is out of step: the answers after the
                # fault are lost; those before it were delivered above.
                cause = pipe.broken
                message = f"{cause} (every answer owed on that connection is lost)"

                def failure() -> P0fError:
                    error = ProtocolError(message)
                    error.__cause__ = cause
                    return error

                self.retire(failure)
            self._close_if_settled()
            return
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].done():
            deadlines.popleft()
        if self.state is _RETIRING:
            self._close_if_settled()
        elif self._idle is not None and self._timer is None and pipe.idle:
            self._timer = self._loop.call_later(self._idle, self._close_idle)

    def _close_idle(self) -> None:
        """Idle for the client's idle_timeout: give the p0f slot back."""
        self._timer = None
        if self.state is _OPEN and self.pipe.idle:
            self.retire(_gone_error)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state is _CLOSED:
            return
        self.stale = self.state is _OPEN and self.pipe.may_retry
        reason = "p0f closed the connection" if exc is None else str(exc)
        self._finish(lambda: P0fConnectionLostError(f"p0f connection lost: {reason}"))

    # -- inner workings -----------------------------------------------------------

    def _flush(self) -> None:
        transport = self._transport
        data = bytes(self._outgoing)
        self._outgoing.clear()
        if transport is None or transport.is_closing() or not data:
            return  # a write failed; connection_lost() will fail the callers
        # Counted first: an exception between the two (a signal handler's,
        # with a loop run by hand) then leaves the count high, which holds
        # the connection until exit; low, it would let a hand-off close it
        # before p0f writes an answer (SIGPIPE).
        self.pipe.wrote(len(data))
        transport.write(data)

    def _fail(self, failure: _Failure) -> None:
        self._why = failure
        for answer in self.pipe.tokens():
            if not answer.done():
                answer.set_exception(failure())

    def _close_if_settled(self) -> None:
        # Only once every query handed over is answered: closing with an
        # answer owed makes p0f die of SIGPIPE when it writes that answer.
        transport = self._transport
        if transport is not None and self.pipe.owed_bytes <= 0:
            transport.close()

    def _abandon(self) -> None:
        if self.state is _OPEN:
            self.state = _RETIRING
            self._fail(lambda: P0fConnectionError("the event loop is shutting down"))
        if self._timer is not None:
            self._timer.cancel()
        self._hand_off()

    def _hand_off(self) -> None:
        """The grace period is over: let a thread drain what is still owed."""
        self._timer = None
        transport = self._transport
        if self.state is not _RETIRING or transport is None:
            return
        owed = self._owed_on_socket(transport)
        if owed <= 0:
            transport.abort()
            return
        spare = _duplicate(transport)
        if spare is None:
            # No descriptor to spare: go on draining on the event loop, and
            # stop counting this connection against the client's limit.
            self._release()
            return
        transport.abort()  # the duplicate keeps the connection open
        _drain.hand_off(spare, owed)
        self._release()

    def hand_over(self) -> None:
        """This connection's loop will not run again (the process is exiting
        with it stopped, or it was closed): let the drainer read what is
        owed on a duplicate of its socket, which outlives the transport."""
        transport = self._transport
        if transport is None or self.closed.done() or self._handed_over:
            return
        self._handed_over = True  # (its futures belong to the dead loop)
        owed = self._owed_on_socket(transport)
        spare = _duplicate(transport) if owed > 0 else None
        if spare is not None:
            _drain.hand_off(spare, owed)

    def _owed_on_socket(self, transport: asyncio.Transport) -> int:
        """Answer bytes p0f will still write on the socket, once it is taken
        from the transport: queries still in the transport's buffer are
        dropped with it, never sent, so nothing is owed for them."""
        sent = self.pipe.sent - transport.get_write_buffer_size()
        return owed_bytes(sent, self.pipe.received)

    def _finish(self, failure: _Failure) -> None:
        if self.state is _CLOSED:
            return
        self.state = _CLOSED
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self._deadlines.clear()
        try:
            self._fail(failure)
        finally:
            # Whatever failing the callers raised, the connection is gone:
            # aclose() and _pick() wait for this, and would wait for ever.
            self._release()

    def _release(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
            self._on_closed(self)


async def _connect_unix(path: str) -> socket.socket:
    """A socket connected to ``path``.  While p0f's queue of connections
    waiting to be accepted is full (``EAGAIN``), wait and try again; the
    caller's timeout ends the attempts.  (asyncio's own connect takes that
    EAGAIN for a connection in progress, and "connects" a dead socket.)"""
    pause, longest = CONNECT_RETRY
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.connect(path)
            return sock
        except BlockingIOError:
            sock.close()
        except BaseException:
            sock.close()
            raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, longest)


def _forget_descriptor(transport: asyncio.Transport | None) -> None:
    """In a forked child: let go of the parent's socket without touching the
    parent's event loop (whose epoll instance the child shares).  The
    descriptor is pointed at /dev/null, so whatever closes it later closes
    nothing of the parent's, and the child holds no p0f slot."""
    sock = None if transport is None else transport.get_extra_info("socket")
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def _duplicate(transport: asyncio.Transport) -> socket.socket | None:
    """A second descriptor for the transport's socket, or ``None``."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    try:
        fd = os.dup(sock.fileno())
    except OSError:
        return None
    try:
        return socket.socket(fileno=fd)
    except OSError:
        os.close(fd)
        return None


_clients: weakref.WeakSet[AsyncP0f] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_clients):
        client._forget_after_fork()


def _hand_over_at_exit() -> None:
    # A loop left open (never closed, not running) keeps its connections to
    # the process's end, when the OS closes them with answers perhaps owed.
    for client in list(_clients):
        loop = client._loop
        if loop is not None and not loop.is_running():
            for conn in client._conns:
                conn.hand_over()


os.register_at_fork(after_in_child=_after_fork_in_child)
_drain.on_exit(_hand_over_at_exit)


class AsyncP0f(BaseClient):
    """An asyncio client for one p0f daemon, for use from one event loop.

    Any number of tasks may call it at once.  Their queries share at most
    ``max_connections`` connections (one by default), opened on first use:
    each query is written as it comes, and each answer goes to its caller in
    the order the queries were written, which is the order p0f answers in.

    ``timeout`` bounds each call: waiting for a connection, connecting, and
    waiting for the answer, which may queue behind answers owed to earlier
    callers (for :meth:`query_many`, waiting for each next answer).  A caller
    that times out or is cancelled gives up its answer; the connection still
    reads it and drops it, so the order is never broken and no other caller
    gets it.

    A connection that dies fails the callers waiting on it, and the next call
    opens a new one.  If it dies before sending a byte since it last sat idle
    (the daemon restarted meanwhile), its callers try once more on a new
    connection, as :class:`~p0f.P0f` does.

    The client is bound to the event loop it is used from; it holds no locks,
    so do not share it between threads or loops.  After :meth:`aclose` it may
    be used again, from any loop.
    """

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        idle_timeout: float | None = None,
    ) -> None:
        super().__init__(socket_path, timeout=timeout, idle_timeout=idle_timeout)
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise TypeError(f"max_connections must be an int, got {max_connections!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections!r}")
        self._max_connections: Final = max_connections
        self._conns: list[_Connection] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closes = 0  # aclose() calls so far
        _clients.add(self)

    @property
    def max_connections(self) -> int:
        """The most connections this client holds open at once."""
        return self._max_connections

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._settings_repr()}, "
            f"max_connections={self._max_connections})"
        )

    async def query(self, address: Address) -> P0fResponse:
        """What p0f knows about ``address``.

        Raises :class:`InvalidAddressError` (before any I/O),
        :class:`NoMatchError` when p0f has no data, :class:`BadQueryError`,
        :class:`ProtocolError`, :class:`P0fConnectionError` or
        :class:`P0fTimeoutError`.
        """
        # The common case, a connection at hand: its timer enforces the
        # deadline, sparing a timeout scope (and a timer) per call.  All in
        # this one coroutine: a helper coroutine for the asking cost 9.9 us
        # of CPU per query of 1,000 concurrent ones (no I/O), this 9.2 us.
        query = encode_query(address)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        conn = self._ready(loop)
        if conn is None:
            raw = await self._retry(query, deadline, 2)
        else:
            answer = conn.ask(query, deadline)
            try:
                raw = await answer
            except P0fConnectionError as exc:
                if isinstance(exc, P0fTimeoutError) or not conn.stale:
                    raise
                raw = await self._retry(query, deadline, 1)
            except BaseException:
                _forget(answer)
                raise
        return parse(raw, address)

    @overload
    async def get_info(
        self, address: Address, return_raw_data: Literal[False] = False
    ) -> P0fResponse: ...
    @overload
    async def get_info(self, address: Address, return_raw_data: Literal[True]) -> RawResponse: ...
    @overload
    async def get_info(
        self, address: Address, return_raw_data: bool
    ) -> P0fResponse | RawResponse: ...
    async def get_info(
        self, address: Address, return_raw_data: bool = False
    ) -> P0fResponse | RawResponse:
        """The 2014 client's call: :meth:`query`, or the unparsed answer."""
        answer = await self.query(address)
        return answer.raw if return_raw_data else answer

    async def query_many(self, addresses: Iterable[Address]) -> list[P0fResponse | None]:
        """Ask about many addresses at once; one result per address, in order.

        ``None`` stands for "no data".  The queries go out on one connection,
        at most two windows ahead of the answers read.  Every address is
        checked before anything is sent.
        """
        addresses = list(addresses)
        queries = [encode_query(address) for address in addresses]
        if not queries:
            return []
        raws = await self._ask_many(queries)
        return [parse_or_none(raw, a) for raw, a in zip(raws, addresses)]

    async def aclose(self) -> None:
        """Close every connection once the answers it is owed have been read.

        Callers still waiting fail at once with :class:`P0fConnectionError`;
        their answers are read and dropped.  Waits up to the larger of the
        timeout and one second; a connection still owed answers after that
        is handed to a background thread, which reads them, then closes it
        (p0f dies of SIGPIPE if it writes to a closed connection).  A later
        call opens a new connection.
        """
        if not self._conns:
            return
        self._bind(asyncio.get_running_loop())  # forgets those of a closed loop
        conns = list(self._conns)
        self._closes += 1
        for conn in conns:
            conn.retire(_closed_error)
        # Each one closes, or is handed off, within the grace period.
        await asyncio.wait([conn.closed for conn in conns])

    async def __aenter__(self) -> AsyncP0f:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- inner workings -----------------------------------------------------------

    def _forget_after_fork(self) -> None:
        # The parent's connections and loop are the parent's: the child
        # starts afresh, from whatever loop it uses.
        for conn in self._conns:
            _forget_descriptor(conn._transport)
        self._conns = []
        self._loop = None

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            return
        old = self._loop
        if self._conns and old is not None and not old.is_closed():
            raise RuntimeError(
                "this AsyncP0f has connections on another event loop; "
                "await aclose() there before using it here"
            )
        # Any left belong to a closed loop (closed without aclose()): their
        # sockets would be closed when collected, answers owed or not.
        for conn in self._conns:
            conn.hand_over()
        self._conns.clear()
        self._loop = loop

    def _timed_out(self, exc: TimeoutError, conn: _Connection | None) -> P0fTimeoutError:
        if isinstance(exc, P0fTimeoutError):
            return exc
        if conn is not None and conn.state is _CONNECTING:
            return queue_full(self.socket_path, self.timeout)
        return unanswered(self.timeout, conn is not None and conn.pipe.received == 0)

    def _forget_connection(self, conn: _Connection) -> None:
        if conn in self._conns:
            self._conns.remove(conn)

    async def _pick(self) -> _Connection:
        """The connection owing fewest answers; a new one while under the limit."""
        loop = asyncio.get_running_loop()
        self._bind(loop)
        closes = self._closes
        limit = self._max_connections
        while True:
            best = self._ready(loop)
            if best is not None:
                return best
            conns = self._conns
            if len(conns) < limit:
                conn = _Connection(
                    loop,
                    self.socket_path,
                    self.timeout,
                    self._close_grace,
                    self._forget_connection,
                    self.idle_timeout,
                )
                conns.append(conn)
                return conn
            # Every slot holds a connection being drained: wait for one to go.
            await asyncio.wait([c.closed for c in conns], return_when=asyncio.FIRST_COMPLETED)
            if self._closes != closes:
                raise _closed_error()

    def _ready(self, loop: asyncio.AbstractEventLoop) -> _Connection | None:
        """What :meth:`_pick` would return without waiting, or ``None``."""
        if self._loop is not loop:
            return None
        conns = self._conns
        if len(conns) == self._max_connections == 1:  # the default, quickly
            return conns[0] if conns[0].usable else None
        best: _Connection | None = None
        for conn in conns:
            if conn.usable and (best is None or conn.pipe.owed < best.pipe.owed):
                best = conn
        if best is not None and (
            best.pipe.owed == 0 or len(self._conns) >= self._max_connections
        ):
            return best
        return None

    async def _retry(self, query: bytes, deadline: float, tries: int) -> RawResponse:
        """One query the slow way: wait for a connection, or open one, and
        try again on a new one if it died stale; all by ``deadline``."""
        return await self._attempt(
            lambda conn: _one(conn, query), asyncio.timeout_at(deadline), tries
        )

    async def _ask_many(self, queries: list[bytes]) -> list[RawResponse]:
        scope = asyncio.timeout(self.timeout)
        return await self._attempt(lambda conn: self._many(conn, queries, scope), scope)

    async def _attempt(
        self,
        attempt: Callable[[_Connection], Awaitable[_T]],
        scope: asyncio.Timeout,
        tries: int = 2,
    ) -> _T:
        """``attempt`` on a connection within ``scope``; again on a new one
        (``tries`` in all) while the one it used died stale (see
        :attr:`~p0f._connection.Pipeline.may_retry`)."""
        conn: _Connection | None = None
        try:
            async with scope:
                while True:
                    conn = await self._pick()
                    try:
                        return await attempt(conn)
                    except P0fConnectionError:
                        tries -= 1
                        if tries <= 0 or not conn.stale:
                            raise
        except TimeoutError as exc:
            raise self._timed_out(exc, conn) from None

    async def _many(
        self, conn: _Connection, queries: list[bytes], scope: asyncio.Timeout
    ) -> list[RawResponse]:
        """The answers to ``queries``, at most two windows written ahead;
        each answer pushes ``scope``'s deadline back by the timeout."""
        loop = asyncio.get_running_loop()
        answers: list[RawResponse] = []
        count = len(queries)
        pending: deque[_Answer] = deque()
        queued = 0
        try:
            while len(answers) < count:
                if queued < count and len(pending) <= MANY_WINDOW:
                    pending.extend(conn.submit(queries[queued : queued + MANY_WINDOW]))
                    queued = min(count, queued + MANY_WINDOW)
                answers.append(await pending[0])
                pending.popleft()
                scope.reschedule(loop.time() + self.timeout)
            return answers
        finally:
            for answer in pending:
                _forget(answer)


async def _one(conn: _Connection, query: bytes) -> RawResponse:
    (answer,) = conn.submit((query,))
    try:
        return await answer
    finally:
        _forget(answer)
