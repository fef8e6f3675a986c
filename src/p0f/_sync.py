"""The blocking client, :class:`P0f`."""

from __future__ import annotations

import os
import select
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Literal, TypeVar, overload

from . import _connection, _drain
from ._base import (
    CONNECT_RETRY,
    DEFAULT_TIMEOUT,
    BaseClient,
    connect_failure,
    queue_full,
    unanswered,
)
from ._codec import Address, check_status, encode_query, parse, parse_or_none
from ._connection import MANY_WINDOW, Pipeline
from ._errors import (
    P0fConnectionError,
    P0fConnectionLostError,
    P0fTimeoutError,
    ProtocolError,
)
from ._enums import Status
from ._models import P0fResponse, RawResponse, parse_raw

_RECV_SIZE: Final = 65536
_OK: Final = int(Status.OK)
_T = TypeVar("_T")


def _parsed_if_ok(raw: RawResponse) -> P0fResponse | RawResponse:
    """An OK answer parsed; any other left for the caller to raise, once
    the connection has nothing owed."""
    return parse_raw(raw) if raw.status == _OK else raw


def _as_is(raw: RawResponse) -> RawResponse:
    return raw


# poll() takes a C int of milliseconds (about 24.8 days); a longer timeout
# waits in several polls.
_LONGEST_POLL: Final = 2**31 - 1000


class _Deadline:
    """A point in time a call must finish by; optionally pushed back on progress."""

    __slots__ = ("_at", "_timeout")

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._at = time.monotonic() + timeout

    def remaining(self) -> float:
        left = self._at - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def left(self) -> float:
        """What is left of the call, or 0."""
        return max(0.0, self._at - time.monotonic())

    def expired(self) -> P0fTimeoutError:
        return P0fTimeoutError(f"p0f did not answer within {self._timeout} s")

    def progress(self) -> None:
        self._at = time.monotonic() + self._timeout

    def wait(self, poller: select.poll) -> None:
        """Wait for the poller's events; :class:`P0fTimeoutError` once past
        the deadline.  After a signal, ``poll()`` waits only for what is
        left; a wait longer than one ``poll()`` can take is made of several."""
        while True:
            left = (self._at - time.monotonic()) * 1000
            if left <= 0:
                raise self.expired()
            if left > _LONGEST_POLL:
                if poller.poll(_LONGEST_POLL):
                    return
            elif poller.poll(left):
                return
            else:
                raise self.expired()


_COUNTING_MODULES: Final = (globals(), vars(_connection))


def _interrupted_waiting(exc: BaseException) -> bool:
    """Whether ``exc`` came while a call waited in :meth:`_Deadline.wait`:
    the innermost of this package's frames it passed through (a Python
    signal handler's own frame is inside it) is that wait, which counts
    nothing.  Found from the traceback, so the hot path pays nothing."""
    innermost = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if any(frame.f_globals is scope for scope in _COUNTING_MODULES):
            innermost = frame.f_code
        tb = tb.tb_next
    return innermost is _Deadline.wait.__code__


class _Dead(Exception):
    """The daemon closed or reset the connection."""


def _io_error(exc: OSError) -> Exception:
    """What a socket error means for the call: the daemon hung up, or other."""
    if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
        return _Dead(str(exc))
    return exc


class _Connection:
    """One socket to the daemon and the bookkeeping of what it owes.

    The socket is non-blocking; a call waits for it with ``poll()``, given
    what is left of the call's time.  Not Python's timeout mode, which polls
    before every ``send`` and ``recv`` (a query's ``send`` almost never has
    to wait), and not kernel timeouts (``SO_RCVTIMEO``): a signal makes the
    kernel end a timed ``recv()`` early and Python retries it with the whole
    timeout again, so a process that gets a signal more often than its
    timeout (an interval timer, a profiler, children exiting) would wait as
    long as the daemon stalls.  After a signal, Python's ``poll()`` waits
    only for what is left.
    """

    __slots__ = ("sock", "pipe", "outgoing", "handed_off", "idle_until", "poller")

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.handed_off = False
        self.pipe: Pipeline[None] = Pipeline()
        self.outgoing = bytearray()  # queued query bytes not yet written
        self.idle_until = 0.0  # when an idle_timeout closes it; 0: not idle
        self.poller = select.poll()  # is there anything to read?
        self.poller.register(sock, select.POLLIN)

    def send(self, data: bytes | bytearray, deadline: _Deadline) -> int:
        """Write what the socket takes now, waiting for room if it takes none."""
        while True:
            try:
                n = self.sock.send(data)
            except BlockingIOError:
                writable = select.poll()
                writable.register(self.sock, select.POLLOUT)
                deadline.wait(writable)
                continue
            except OSError as exc:
                raise _io_error(exc) from exc
            self.pipe.sent += n
            return n

    def write(self, data: bytes, deadline: _Deadline) -> None:
        """Write ``data`` after anything still queued; what a timeout leaves
        unwritten stays queued for the next call."""
        if not self.outgoing:
            try:
                n = self.send(data, deadline)
            except P0fTimeoutError:
                self.outgoing += data  # still owed an answer: send it later
                raise
            if n == len(data):
                return
            data = data[n:]
        self.outgoing += data
        self.flush(deadline)

    def flush(self, deadline: _Deadline) -> None:
        outgoing = self.outgoing
        while outgoing:
            del outgoing[: self.send(outgoing, deadline)]

    def read(self, deadline: _Deadline) -> list[tuple[None, RawResponse]]:
        """Wait for bytes and return the answers they complete (maybe none)."""
        deadline.wait(self.poller)  # bytes, an error or the end to read
        try:
            data = self.sock.recv(_RECV_SIZE)
        except BlockingIOError:
            return []  # woken for nothing: the caller waits again
        except OSError as exc:
            raise _io_error(exc) from exc
        if not data:
            raise _Dead("p0f closed the connection")
        pipe = self.pipe
        got = pipe.receive(data)
        if pipe.broken is not None:
            raise ProtocolError(str(pipe.broken)) from pipe.broken
        return got

    def one(self, query: bytes, deadline: _Deadline) -> RawResponse:
        """One query on an idle connection: a web request's lookup.

        The same steps as :meth:`write` then :meth:`read`, in one frame:
        right after a wake-up, when the daemon has answered, every Python
        call costs several times what it costs warm."""
        # First, even on a deadline set a moment ago (the time may have gone
        # on the lock, on settling, or to a thread that got the GIL back
        # late after the check before writing): if the call's time is up,
        # it times out with nothing owed.
        deadline.remaining()
        pipe = self.pipe
        pipe.queue(query, None)
        sock = self.sock
        try:
            sent = sock.send(query)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise _io_error(exc) from exc
        pipe.sent += sent
        if sent != len(query):
            self.outgoing += query[sent:]
            self.flush(deadline)
        deadline.wait(self.poller)
        got: list[tuple[None, RawResponse]] = []
        try:
            data = sock.recv(_RECV_SIZE)
        except BlockingIOError:
            pass  # woken for nothing: wait again below
        except OSError as exc:
            raise _io_error(exc) from exc
        else:
            if not data:
                raise _Dead("p0f closed the connection")
            got = pipe.receive(data)
            if pipe.broken is not None:
                raise ProtocolError(str(pipe.broken)) from pipe.broken
        while not got:  # a partial answer
            got = self.read(deadline)
        return got[0][1]

    def quiet(self) -> bool:
        """Check, before writing a query, that a connection owed nothing has
        nothing to read: ``False`` if the daemon hung up meanwhile.

        Bytes waiting now were never asked for (a faulty daemon, an answer
        sent twice); read as the next answer they would be another host's,
        so they break the stream (:class:`ProtocolError`) instead."""
        if not self.poller.poll(0):
            return True
        try:
            data = self.sock.recv(_RECV_SIZE)
        except BlockingIOError:
            return True  # woken for nothing
        except ConnectionResetError:
            return False
        except OSError as exc:
            raise _io_error(exc) from exc
        if not data:
            return False
        pipe = self.pipe
        pipe.receive(data)  # owed nothing: this breaks the stream
        assert pipe.broken is not None
        raise ProtocolError(f"{pipe.broken} (they came while it owed nothing)") from pipe.broken

    def settle(self, deadline: _Deadline) -> None:
        """Finish what earlier, abandoned calls left: write, then read and drop."""
        self.flush(deadline)
        while self.pipe.owed:
            self.read(deadline)

    def run(
        self,
        queries: Sequence[bytes],
        deadline: _Deadline,
        steady: bool,
        convert: Callable[[RawResponse], _T],
    ) -> list[_T]:
        """Write the queries (at most two windows ahead) and read their
        answers, each converted as it comes: while p0f works on the next."""
        pipe = self.pipe
        answers: list[_T] = []
        count = len(queries)
        queued = 0
        while len(answers) < count:
            if queued < count and pipe.owed <= MANY_WINDOW:
                batch = queries[queued : queued + MANY_WINDOW]
                for query in batch:
                    pipe.queue(query, None)
                queued += len(batch)
                self.write(b"".join(batch), deadline)
            got = self.read(deadline)
            if got:
                answers.extend([convert(raw) for _, raw in got])
                if steady:
                    deadline.progress()
        return answers

    def retire(self, grace: float) -> None:
        """Close once every answer owed has been read; never before.

        Whatever is not read within ``grace`` seconds is left to a background
        thread: p0f dies of SIGPIPE if it writes to a closed connection.
        """
        sock = self.sock
        try:
            deadline = _Deadline(grace)
            if self.outgoing and grace > 0:  # with no time, nothing more owed
                self.flush(deadline)
            while self.pipe.owed_bytes > 0:
                deadline.wait(self.poller)
                try:
                    data = sock.recv(_RECV_SIZE)
                except BlockingIOError:
                    continue  # woken for nothing
                if not data:
                    break
                self.pipe.received += len(data)
        except TimeoutError:  # the daemon's
            self.handed_off = True
            _drain.hand_off(sock, self.pipe.owed_bytes)
            return
        except (OSError, _Dead):
            pass  # the daemon hung up or reset: nothing is owed any more
        sock.close()

    def __del__(self) -> None:
        # A client dropped without close(): the socket must not simply be
        # closed while p0f still owes answers on it.
        if self.handed_off or self.sock.fileno() < 0:
            return
        try:
            self.handed_off = True
            _drain.hand_off(self.sock, self.pipe.owed_bytes)
        except Exception:  # noqa: BLE001 - nothing may escape a finalizer
            pass


_clients: weakref.WeakSet[P0f] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    _reaper.after_fork_in_child()
    for client in list(_clients):
        client._forget_after_fork()


def _hand_over_at_exit() -> None:
    # A client still referenced when the process exits (a module-level one)
    # is never collected before the interpreter's teardown: hand its
    # connection to the drainer now, which drains it within the exit grace.
    for client in list(_clients):
        client._hand_over()


os.register_at_fork(after_in_child=_after_fork_in_child)
_drain.on_exit(_hand_over_at_exit)


class P0f(BaseClient):
    """A blocking client for one p0f daemon, safe to share between threads.

    It keeps one connection to the daemon, opened on first use and reused by
    every call; calls from several threads take turns on it.  A call that
    times out leaves its answer owed: the next call reads and drops it before
    asking anything, so no call ever gets another call's answer.

    ``timeout`` bounds each call: connecting, reading answers owed by earlier
    calls, writing, and reading the answer (for :meth:`query_many`, waiting
    for each next answer).
    """

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        idle_timeout: float | None = None,
    ) -> None:
        super().__init__(socket_path, timeout=timeout, idle_timeout=idle_timeout)
        self._lock = threading.Lock()
        self._conn: _Connection | None = None
        _clients.add(self)

    def query(self, address: Address) -> P0fResponse:
        """What p0f knows about ``address``.

        Raises :class:`InvalidAddressError` (before any I/O),
        :class:`NoMatchError` when p0f has no data, :class:`BadQueryError`,
        :class:`ProtocolError`, :class:`P0fConnectionError` or
        :class:`P0fTimeoutError`.
        """
        raw = self._ask(encode_query(address))
        if raw.status == _OK:
            return parse_raw(raw)
        return parse(raw, address)  # raises the status's error

    @overload
    def get_info(
        self, address: Address, return_raw_data: Literal[False] = False
    ) -> P0fResponse: ...
    @overload
    def get_info(self, address: Address, return_raw_data: Literal[True]) -> RawResponse: ...
    @overload
    def get_info(
        self, address: Address, return_raw_data: bool
    ) -> P0fResponse | RawResponse: ...
    def get_info(
        self, address: Address, return_raw_data: bool = False
    ) -> P0fResponse | RawResponse:
        """The 2014 client's call: :meth:`query`, or the unparsed answer."""
        raw = self._ask(encode_query(address))
        return check_status(raw, address) if return_raw_data else parse(raw, address)

    def query_many(self, addresses: Iterable[Address]) -> list[P0fResponse | None]:
        """Ask about many addresses at once; one result per address, in order.

        ``None`` stands for "no data".  Queries are written ahead of the
        answers (pipelined), which is many times faster than one at a time.
        Every address is checked before anything is sent.
        """
        addresses = list(addresses)
        queries = [encode_query(address) for address in addresses]
        if not queries:
            return []
        answers = self._exchange(queries, True, _parsed_if_ok)
        return [
            answer if isinstance(answer, P0fResponse) else parse_or_none(answer, address)
            for answer, address in zip(answers, addresses)
        ]

    def close(self) -> None:
        """Close the connection once every answer it is owed has been read.

        Waits up to the larger of the timeout and one second; answers still
        owed after that are read by a background thread, which then closes.
        Calling ``close()`` again does nothing; a later query reconnects.
        """
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.retire(self._close_grace)

    def __enter__(self) -> P0f:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _forget_after_fork(self) -> None:
        # The child shares the parent's socket, which the parent goes on
        # using: close the child's copy, or it would hold one of p0f's few
        # connection slots for the child's life.  The parent keeps its own
        # descriptor until nothing is owed (or a drainer holds it), so this
        # close never ends a connection with answers owed.
        self._lock = threading.Lock()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.handed_off = True  # no finalizer work for this copy
            conn.sock.close()

    def _hand_over(self) -> None:
        # At exit: give the connection to the drainer.  A (daemon) thread
        # still inside a call ends it within its timeout: wait for that
        # within the exit grace, so that the answer it leaves owed is read
        # too; past the grace, the process's end closes the connection.
        if not self._lock.acquire(timeout=_drain.exit_time_left()):
            return
        try:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.handed_off = True
                _drain.hand_off(conn.sock, conn.pipe.owed_bytes)
        finally:
            self._lock.release()

    def _connect(self, deadline: _Deadline) -> _Connection:
        path = self._socket_path
        pause, longest = CONNECT_RETRY
        while True:
            left = deadline.remaining()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(left)
                sock.connect(path)
                return _Connection(sock)
            except BlockingIOError:
                # p0f's queue of connections waiting to be accepted is full
                # (it is at its -S limit): wait, and try again in time.
                sock.close()
                if deadline.left() <= pause:
                    raise queue_full(path, self._timeout) from None
                time.sleep(pause)
                pause = min(pause * 2, longest)
            except TimeoutError:
                sock.close()
                raise queue_full(path, self._timeout) from None
            except OSError as exc:
                sock.close()
                raise connect_failure(path, exc) from exc
            except BaseException:
                sock.close()
                raise

    def _ask(self, query: bytes) -> RawResponse:
        """The answer to one query, for :meth:`query` and :meth:`get_info`.

        The usual case (the lock free, the connection open, nothing owed
        and nothing waiting to be read) runs here as
        :meth:`_exchange_locked` would run it, in fewer Python calls: with
        p0f on the client's CPU the round trip is about 12 µs, and each
        call on the way costs about 1 % of it.  Any other case, and any
        fault, goes through :meth:`_exchange_locked` and :meth:`_fault`."""
        lock = self._lock
        if not lock.acquire(False):
            return self._exchange((query,), False, _as_is)[0]
        try:
            deadline = _Deadline(self._timeout)
            conn = self._conn
            if (
                conn is None
                or conn.idle_until
                or conn.outgoing
                or conn.pipe.owed
                or conn.poller.poll(0)  # bytes nobody asked for, or a hang-up
            ):
                return self._exchange_locked((query,), deadline, False, _as_is)[0]
            try:
                return conn.one(query, deadline)
            except BaseException as exc:
                self._fault(conn, exc, deadline)  # raises, or returns to retry
            return self._exchange_locked((query,), deadline, False, _as_is)[0]
        finally:
            self._release()

    def _exchange(
        self, queries: Sequence[bytes], steady: bool, convert: Callable[[RawResponse], _T]
    ) -> Sequence[_T]:
        deadline = _Deadline(self._timeout)
        lock = self._lock
        if not lock.acquire(False) and not lock.acquire(True, self._timeout):
            raise P0fTimeoutError(
                f"the connection stayed busy with other threads for {self._timeout} s"
            )
        try:
            return self._exchange_locked(queries, deadline, steady, convert)
        finally:
            self._release()

    def _release(self) -> None:
        # Also after a call that failed (timed out, say) with the connection
        # kept: the slot must be given back all the same.
        conn = self._conn
        if conn is not None and self._idle_timeout is not None:
            self._rest(conn, self._idle_timeout)
        self._lock.release()

    def _rest(self, conn: _Connection, idle: float) -> None:
        """The call is over: let go of the connection now (``idle_timeout=0``)
        or have the reaper let go of it once unused that long.  Letting go is
        closing when nothing is owed; after a call that timed out, it is
        handing the connection to the drainer, which reads the late answers
        and then closes (never with answers owed, never holding the slot)."""
        if idle == 0:
            self._conn = None
            conn.handed_off = True
            _drain.hand_off(conn.sock, conn.pipe.owed_bytes)  # closes if owed nothing
        else:
            conn.idle_until = time.monotonic() + idle
            _reaper.watch(self, conn.idle_until)

    def _reap(self, now: float) -> float | None:
        """Close the connection if it sat idle past its time (the reaper's
        call); otherwise return when to look again, or ``None``."""
        if not self._lock.acquire(blocking=False):
            return now + 0.05  # in use: look again shortly
        try:
            conn = self._conn
            if conn is None or not conn.idle_until:
                return None
            if conn.idle_until > now:
                return conn.idle_until
            self._conn = None
            conn.handed_off = True
            _drain.hand_off(conn.sock, conn.pipe.owed_bytes)  # reads what is owed, closes
            return None
        finally:
            self._lock.release()

    def _exchange_locked(
        self,
        queries: Sequence[bytes],
        deadline: _Deadline,
        steady: bool,
        convert: Callable[[RawResponse], _T],
    ) -> Sequence[_T]:
        while True:
            conn = self._conn
            if conn is not None and conn.idle_until:
                if conn.idle_until <= time.monotonic():
                    # Idle past its time, the reaper not there yet: a new one.
                    self._conn = None
                    conn.handed_off = True
                    _drain.hand_off(conn.sock, conn.pipe.owed_bytes)
                    conn = None
                else:
                    conn.idle_until = 0.0
            if conn is None:
                conn = self._conn = self._connect(deadline)
            try:
                if conn.outgoing or conn.pipe.owed:
                    conn.settle(deadline)
                if not conn.quiet():
                    # p0f hung up while the connection sat idle (restarted):
                    # nothing is owed, nothing was asked yet; a new one.
                    self._conn = None
                    conn.sock.close()
                    if conn.pipe.received:
                        continue
                    raise P0fConnectionLostError("p0f connection lost: p0f closed the connection")
                if len(queries) == 1:
                    return (convert(conn.one(queries[0], deadline)),)
                return conn.run(queries, deadline, steady, convert)
            except BaseException as exc:
                self._fault(conn, exc, deadline)  # raises, or returns to retry

    def _fault(self, conn: _Connection, exc: BaseException, deadline: _Deadline) -> None:
        """What a failed exchange on ``conn`` means: raises the caller's
        error, or returns when the queries may be asked again on a new
        connection."""
        if isinstance(exc, _Dead):
            # The daemon went away (restarted, say): nothing more is owed,
            # so closing harms nobody.  A reused connection may just be
            # stale, so try once more on a new one.
            self._conn = None
            conn.sock.close()
            if not conn.pipe.may_retry:
                raise P0fConnectionLostError(f"p0f connection lost: {exc}") from None
            return
        if isinstance(exc, ProtocolError):
            # Read what is owed within the call's time; a drainer thread
            # reads the rest, so the caller is not kept waiting.
            self._conn = None
            conn.retire(deadline.left())
            raise exc
        if isinstance(exc, TimeoutError):
            raise unanswered(self._timeout, fresh=conn.pipe.received == 0) from None
        if isinstance(exc, P0fConnectionError):
            raise exc  # this module's own, already saying what happened
        if isinstance(exc, OSError):
            self._conn = None
            conn.retire(deadline.left())
            raise P0fConnectionLostError(
                f"p0f connection failed: {exc.strerror or exc}", exc.errno
            ) from exc
        # Interrupted (KeyboardInterrupt, or another signal handler's
        # exception).  While the call waited in poll(), where it spends
        # nearly all its time, every byte is counted: the count is trusted,
        # and never ended by silence.  Anywhere else it may have landed
        # between a send() or a recv() and the counting of its bytes: the
        # drainer reads until the connection is silent.
        self._conn = None
        conn.handed_off = True
        unsure = not _interrupted_waiting(exc)
        _drain.hand_off(conn.sock, conn.pipe.owed_bytes, unsure=unsure)
        raise exc


class _Reaper:
    """One daemon thread that closes idle connections of every ``P0f`` with
    an ``idle_timeout``.  It never blocks: a client in use is looked at again
    later, and the thread never keeps a process from exiting."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.due: weakref.WeakKeyDictionary[P0f, float] = weakref.WeakKeyDictionary()
        self.thread: threading.Thread | None = None

    def watch(self, client: P0f, when: float) -> None:
        with self.cond:
            self.due[client] = when
            if self.thread is None:
                if sys.is_finalizing():
                    return
                self.thread = threading.Thread(target=self.run, name="p0f-reaper", daemon=True)
                self.thread.start()
            self.cond.notify()

    def run(self) -> None:
        with self.cond:
            while True:
                now = time.monotonic()
                for client, when in list(self.due.items()):
                    if when <= now:
                        self.cond.release()  # never hold this while taking a client's lock
                        try:
                            again = client._reap(now)
                        finally:
                            self.cond.acquire()
                        if again is None:
                            self.due.pop(client, None)
                        elif self.due.get(client, again) <= again:
                            self.due[client] = again
                soonest = min(self.due.values(), default=None)
                self.cond.wait(None if soonest is None else max(0.0, soonest - time.monotonic()))

    def after_fork_in_child(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.thread = None
        self.due = weakref.WeakKeyDictionary()


_reaper = _Reaper()
