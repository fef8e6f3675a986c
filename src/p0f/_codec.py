"""Queries and answers as bytes, with no I/O in it.

Every part of the library that speaks to p0f (the clients, the fake daemon,
the command line) goes through these functions; none packs bytes itself.
The layout and the constants of the wire format are :mod:`p0f._wire`'s;
this module adds addresses, the records and the status of an answer.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Final, TypeAlias

from ._enums import Status
from ._errors import (
    BadQueryError,
    InvalidAddressError,
    NoMatchError,
    ProtocolError,
)
from ._models import P0fResponse, RawResponse, decode_raw, parse_raw
from ._wire import ADDR_IPV4, ADDR_IPV6

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
                f"not an IPv4 or IPv6 address: {_describe(address)}"
            ) from exc
    elif isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        parsed = address
    else:
        raise InvalidAddressError(
            "an address must be a str, IPv4Address or IPv6Address, "
            f"not {type(address).__name__}: {_describe(address)}"
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
    if type(address) is str and len(address) <= _CACHED_LENGTH:
        # Parsing an address string costs more than the rest of a query;
        # servers ask about the same visitors over and over.
        return _encode_text(address)
    return _encode(address)


def _encode(address: object) -> bytes:
    parsed = normalize_address(address)
    kind = ADDR_IPV4 if parsed.version == 4 else ADDR_IPV6
    return QUERY_STRUCT.pack(QUERY_MAGIC, kind, parsed.packed)


# Bounded in count and in the length of its keys (an IPv6 address with an
# IPv4 tail is 45 characters; a zone suffix may be anything): at most about
# 1 MiB however callers spell their addresses.
_CACHED_LENGTH: Final = 64
_encode_text: Final = functools.lru_cache(maxsize=4096)(_encode)


def _describe(value: object) -> str:
    """``repr(value)``, or a stand-in when its ``__repr__`` fails."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a caller's object, any fault
        return f"<{type(value).__name__} object>"
    return text if len(text) <= 200 else text[:200] + "..."


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
    return decode_raw(data)


def encode_response(raw: RawResponse) -> bytes:
    """Encode a :class:`RawResponse` as the daemon would send it.

    Raises :class:`ValueError` for a value the format cannot carry.
    """
    return raw.to_bytes()


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
    return parse_raw(check_status(raw, address))


def parse_or_none(raw: RawResponse, address: object) -> P0fResponse | None:
    """Like :func:`parse`, but ``None`` for "no match" (for batch calls)."""
    if raw.status == Status.NO_MATCH:
        return None
    return parse(raw, address)
