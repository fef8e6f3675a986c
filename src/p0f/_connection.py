"""The state of one connection to p0f, without the connection (sans-I/O).

:class:`Pipeline` is to a p0f connection what h11's ``Connection`` is to an
HTTP one: the clients' shells (:mod:`p0f._sync`, :mod:`p0f._async`) move
bytes, keep time and map OS errors; everything those bytes mean is decided
here.  (The broker keeps a ledger of its own: it forwards answers as bytes,
checking only their magic and status, and never builds records.)  What
is decided here:

- which answer belongs to which caller (a token per owed answer, in order);
- how many answer bytes the daemon still owes (p0f dies of SIGPIPE when it
  writes to a closed connection, so a connection may only be closed when
  that is zero, or given to the drainer);
- the broken state after a malformed answer: the answers decoded before the
  fault are delivered, the callers after it get the :class:`ProtocolError`,
  and the bytes still owed are counted but never decoded;
- whether a connection that died may have its queries resent elsewhere
  (:attr:`Pipeline.may_retry`);
- the batching window of ``query_many`` (:data:`MANY_WINDOW`).
"""

from __future__ import annotations

from collections import deque
from typing import Final, Generic, TypeVar

from ._codec import Address, encode_query
from ._wire import QUERY_SIZE, RESPONSE_SIZE
from ._errors import ProtocolError
from ._models import RawResponse, decode_raw

T = TypeVar("T")

MANY_WINDOW: Final = 256
"""Queries ``query_many`` writes ahead of the answers it has read.

Two windows of answers (about 118 KiB) fit in a Unix socket's default buffer,
so neither side ever blocks on a full buffer while the other waits for it."""


def owed_bytes(sent: int, received: int) -> int:
    """Answer bytes the daemon will still write on a connection.

    ``sent`` counts query bytes the daemon has been given, ``received`` answer
    bytes read back.  Only whole queries are answered: a query cut short by a
    failed write is never answered, so it owes nothing.
    """
    return (sent // QUERY_SIZE) * RESPONSE_SIZE - received


class Pipeline(Generic[T]):
    """One connection's answers owed, bytes written and read, and faults.

    :meth:`queue` (or :meth:`send`) records a query whose answer is owed,
    with a token of the caller's choosing (a future, a slot index);
    :meth:`wrote` records how many query bytes the socket took;
    :meth:`receive` takes whatever bytes arrived and returns the complete
    answers with their tokens, in the order the queries were queued.  A
    query its caller gave up on stays owed: its answer will still come, and
    is read and handed back with the old token for the caller to drop.
    """

    __slots__ = ("_buffer", "_owed", "_busy_mark", "sent", "received", "broken")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._owed: deque[T] = deque()
        self._busy_mark = -1  # `received` when it last left idle
        #: Query bytes the daemon has been given.
        self.sent = 0
        #: Answer bytes read back, decoded or not.
        self.received = 0
        #: The fault that broke the stream, once one did; from then on bytes
        #: are only counted, and the tokens still owed will never be answered.
        self.broken: ProtocolError | None = None

    @property
    def owed(self) -> int:
        """How many answers callers still wait for (none once broken)."""
        return len(self._owed)

    @property
    def partial(self) -> int:
        """How many bytes of an incomplete answer have arrived."""
        return len(self._buffer)

    @property
    def owed_bytes(self) -> int:
        """Answer bytes the daemon will still write for what was sent."""
        return owed_bytes(self.sent, self.received)

    @property
    def idle(self) -> bool:
        """Whether nothing is owed, so that closing harms nobody."""
        return not self._owed and self.owed_bytes <= 0

    @property
    def may_retry(self) -> bool:
        """Whether queries lost with this connection may be resent on a new
        one: it had answered before, and nothing arrived since it last sat
        idle, so it was most likely dead before they were written (p0f
        restarted).  A new connection that dies is a real failure."""
        return self.received > 0 and self.received == self._busy_mark

    def send(self, address: Address, token: T) -> bytes:
        """The query bytes for ``address``; its answer is now owed."""
        return self.queue(encode_query(address), token)

    def queue(self, query: bytes, token: T) -> bytes:
        """Record that the already encoded ``query`` is owed an answer."""
        if not self._owed:
            self._busy_mark = self.received
        self._owed.append(token)
        return query

    def wrote(self, count: int) -> None:
        """Record that the socket took ``count`` more query bytes."""
        self.sent += count

    def tokens(self) -> list[T]:
        """The tokens of the answers still owed, oldest first."""
        return list(self._owed)

    def take_tokens(self) -> list[T]:
        """Forget every token (their callers are failed); the bytes stay owed."""
        tokens = list(self._owed)
        self._owed.clear()
        return tokens

    def missing(self) -> int:
        """How many bytes must still arrive for every owed answer."""
        return len(self._owed) * RESPONSE_SIZE - len(self._buffer)

    def receive(self, data: bytes) -> list[tuple[T, RawResponse]]:
        """Take arrived bytes; return ``(token, answer)`` for each complete one.

        An answer that breaks the format, or bytes nobody asked for, set
        :attr:`broken`; the answers decoded before the fault are still
        returned, and the tokens after it stay in :meth:`tokens`, for the
        caller to fail with that error.
        """
        self.received += len(data)
        if self.broken is not None:
            return []
        owed = self._owed
        buffer = self._buffer
        if not buffer and len(data) == RESPONSE_SIZE and owed:
            # The common case, one whole answer: no buffering.
            try:
                raw = decode_raw(data)
            except ProtocolError as exc:
                self.broken = exc
                return []
            return [(owed.popleft(), raw)]
        if buffer:
            buffer += data
            data = bytes(buffer)
            buffer.clear()
        size = RESPONSE_SIZE
        if len(data) > len(owed) * size:
            # Out of step: which bytes belong to which answer is unknown, so
            # nothing in this read is trusted.
            self.broken = ProtocolError(
                f"p0f sent {len(data)} bytes, more than the "
                f"{len(owed)} answer(s) owed"
            )
            return []
        # Answers are cut from ``data`` itself (one copy each, not two), and
        # only an incomplete tail is kept in the buffer.
        done: list[tuple[T, RawResponse]] = []
        whole = len(data) - len(data) % size
        for offset in range(0, whole, size):
            try:
                raw = decode_raw(data[offset : offset + size])
            except ProtocolError as exc:
                self.broken = exc
                return done
            done.append((owed.popleft(), raw))
        if whole < len(data):
            buffer += data[whole:]
        return done
