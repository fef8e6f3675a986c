"""Queries and answers as bytes, with no I/O in it.

Every part of the library that speaks to p0f (the clients, the fake daemon,
the command line) goes through these functions; none packs bytes itself.
The layout and the constants of the wire format are :mod:`p0f._wire`'s;
this module adds addresses, the records and the status of an answer.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from typing import Final, TypeAlias

from ._enums import Status
from ._errors import (
    BadQueryError,
    InvalidAddressError,
    NoMatchError,
    ProtocolError,
)
from ._models import P0fResponse, RawResponse
from ._wire import ADDR_IPV4, ADDR_IPV6, unpack_response

# The wire constants the clients and the fake daemon take from here.
from ._wire import QUERY_MAGIC as QUERY_MAGIC
from ._wire import QUERY_SIZE as QUERY_SIZE
from ._wire import QUERY_STRUCT as QUERY_STRUCT
from ._wire import RESPONSE_SIZE as RESPONSE_SIZE
from ._wire import RESPONSE_STRUCT as RESPONSE_STRUCT

Address: TypeAlias = str | ipaddress.IPv4Address | ipaddress.IPv6Address
"""What the library accepts as a host address."""


def normalize_address(address: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address p0f keys the host on, or :class:`InvalidAddressError`.

    An IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) becomes the IPv4
    address, since p0f files IPv4 hosts under IPv4; a zone suffix
    (``fe80::1%eth0``) is dropped, since p0f keys hosts on address bytes.
    """
    if isinstance(address, str):
        try:
            if ":" in address:
                parsed: ipaddress.IPv4Address | ipaddress.IPv6Address
                parsed = ipaddress.IPv6Address(address)
            else:
                parsed = ipaddress.IPv4Address(address)
        except ValueError as exc:
            raise InvalidAddressError(
                f"not an IPv4 or IPv6 address: {address!r}"
            ) from exc
    elif isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        parsed = address
    else:
        raise InvalidAddressError(
            "an address must be a str, IPv4Address or IPv6Address, "
            f"not {type(address).__name__}: {address!r}"
        )
    if isinstance(parsed, ipaddress.IPv6Address):
        mapped = parsed.ipv4_mapped
        if mapped is not None:
            return mapped
        if parsed.scope_id is not None:
            return ipaddress.IPv6Address(parsed.packed)
    return parsed


def encode_query(address: Address) -> bytes:
    """The 21-byte query for one address; :class:`InvalidAddressError` if bad."""
    if type(address) is str:
        # Parsing an address string costs more than the rest of a query;
        # servers ask about the same visitors over and over.
        query = _query_cache.get(address)
        if query is not None:
            return query
    parsed = normalize_address(address)
    if parsed.version == 4:
        query = QUERY_STRUCT.pack(QUERY_MAGIC, ADDR_IPV4, parsed.packed)
    else:
        query = QUERY_STRUCT.pack(QUERY_MAGIC, ADDR_IPV6, parsed.packed)
    if type(address) is str:
        if len(_query_cache) >= _QUERY_CACHE_SIZE:
            _query_cache.clear()
        _query_cache[address] = query
    return query


_query_cache: dict[str, bytes] = {}
_QUERY_CACHE_SIZE: Final = 4096


def decode_query(
    data: bytes,
) -> tuple[int, int, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    """Split a 21-byte query into ``(magic, addr_type, address)``.

    The address is ``None`` when the type is neither 4 nor 6; checking the
    magic is left to the caller, as the daemon answers a bad one itself.
    """
    if len(data) != QUERY_SIZE:
        raise ProtocolError(f"a query is {QUERY_SIZE} bytes, got {len(data)}")
    magic, addr_type, packed = QUERY_STRUCT.unpack(data)
    if addr_type == ADDR_IPV4:
        return magic, addr_type, ipaddress.IPv4Address(packed[:4])
    if addr_type == ADDR_IPV6:
        return magic, addr_type, ipaddress.IPv6Address(packed)
    return magic, addr_type, None


def decode_response(data: bytes) -> RawResponse:
    """Decode one 232-byte answer into a :class:`RawResponse`.

    Checks the length, the magic, the status and the ranges of ``bad_sw``
    (0..2), ``os_match_q`` (0..3) and ``up_mod_days`` (what a
    :class:`~datetime.timedelta` holds), raising :class:`ProtocolError` for
    any violation.  A "bad query" answer may carry magic 0 (some p0f builds
    never set it on that path); any other wrong magic is an error.
    """
    return RawResponse(*unpack_response(data))


def encode_response(raw: RawResponse) -> bytes:
    """Encode a :class:`RawResponse` as the daemon would send it.

    Raises :class:`ValueError` for a value the format cannot carry.
    """
    return raw.to_bytes()


def owed_bytes(sent: int, received: int) -> int:
    """Answer bytes the daemon will still write on a connection.

    ``sent`` counts query bytes the daemon has been given, ``received`` answer
    bytes read back.  Only whole queries are answered: a query cut short by a
    failed write is never answered, so it owes nothing.
    """
    return (sent // QUERY_SIZE) * RESPONSE_SIZE - received


def check_status(raw: RawResponse, address: object) -> RawResponse:
    """Return an OK answer; raise :class:`BadQueryError` or :class:`NoMatchError`."""
    status = raw.status
    if status == Status.OK:
        return raw
    if status == Status.NO_MATCH:
        raise NoMatchError(f"p0f has no data for {address}")
    raise BadQueryError(f"p0f rejected the query for {address}")


def parse(raw: RawResponse, address: object) -> P0fResponse:
    """The parsed view of an OK answer, or the status's exception."""
    return P0fResponse.from_raw(check_status(raw, address))


def parse_or_none(raw: RawResponse, address: object) -> P0fResponse | None:
    """Like :func:`parse`, but ``None`` for "no match" (for batch calls)."""
    if raw.status == Status.NO_MATCH:
        return None
    return parse(raw, address)


class Pipeline:
    """The state of one connection to p0f, without the connection.

    :meth:`send` turns an address into query bytes and records that an
    answer is owed; :meth:`receive` takes whatever bytes arrived and returns
    the complete answers, decoded, in the order the queries were sent.  The
    clients move the bytes; this class decides what they mean.

    Each owed answer carries a token of the caller's choosing (a future, a
    slot index), handed back with the answer.  A query its caller gave up on
    stays owed: its answer will still come and must still be read.
    """

    __slots__ = ("_buffer", "_owed")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._owed: deque[object] = deque()

    @property
    def owed(self) -> int:
        """How many answers the daemon still owes on this connection."""
        return len(self._owed)

    @property
    def partial(self) -> int:
        """How many bytes of an incomplete answer have arrived."""
        return len(self._buffer)

    def send(self, address: Address, token: object = None) -> bytes:
        """The query bytes for ``address``; its answer is now owed."""
        return self.queue(encode_query(address), token)

    def queue(self, query: bytes, token: object = None) -> bytes:
        """Record that the already encoded ``query`` is owed an answer."""
        self._owed.append(token)
        return query

    def tokens(self) -> list[object]:
        """The tokens of the answers still owed, oldest first."""
        return list(self._owed)

    def missing(self) -> int:
        """How many bytes must still arrive for every owed answer."""
        return len(self._owed) * RESPONSE_SIZE - len(self._buffer)

    def receive(self, data: bytes) -> list[tuple[object, RawResponse]]:
        """Take arrived bytes; return ``(token, answer)`` for each complete one.

        Raises :class:`ProtocolError` for bytes nobody asked for or an answer
        that breaks the format; the connection is then beyond use.
        """
        buffer = self._buffer
        if not buffer and len(data) == RESPONSE_SIZE and self._owed:
            # The common case, one whole answer: no buffering.
            raw = decode_response(data)
            return [(self._owed.popleft(), raw)]
        buffer += data
        if len(buffer) > len(self._owed) * RESPONSE_SIZE:
            raise ProtocolError(
                f"p0f sent {len(buffer)} bytes, more than the "
                f"{len(self._owed)} answer(s) owed"
            )
        done: list[tuple[object, RawResponse]] = []
        size = RESPONSE_SIZE
        count = len(buffer) // size
        if count:
            view = bytes(buffer[: count * size])
            del buffer[: count * size]
            owed = self._owed
            for offset in range(0, count * size, size):
                token = owed.popleft()
                done.append((token, decode_response(view[offset : offset + size])))
        return done
