"""The p0f 3 API wire format, with no I/O in it.

Every part of the library that speaks to p0f (the clients, the fake daemon,
the command line) goes through these functions; none packs bytes itself.

A query is 21 bytes, an answer 232, both in the host's native byte order with
no padding (the API is a Unix socket, so both ends share a host).
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from typing import Final, TypeAlias

from ._enums import Status
from ._errors import (
    BadQueryError,
    InvalidAddressError,
    NoMatchError,
    ProtocolError,
)
from ._models import _RAW_NAMES, RESPONSE_MAGIC, P0fResponse, RawResponse

QUERY_MAGIC: Final = 0x50304601
"""The magic number that starts every query."""

ADDR_IPV4: Final = 4
ADDR_IPV6: Final = 6

QUERY_STRUCT: Final = struct.Struct("=IB16s")
RESPONSE_STRUCT: Final = struct.Struct("=9IhBB32s32s32s32s32s32s")
QUERY_SIZE: Final = QUERY_STRUCT.size
RESPONSE_SIZE: Final = RESPONSE_STRUCT.size

Address: TypeAlias = str | ipaddress.IPv4Address | ipaddress.IPv6Address
"""What the library accepts as a host address."""

_STRING_SIZE: Final = 32
_MAX_DAYS: Final = 999_999_999  # datetime.timedelta's limit
_FIRST_STRING: Final = 12  # index of os_name among the fields


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

    The six strings are split out of their 192 bytes when a field of the
    record is first read (see :class:`RawResponse`).
    """
    if len(data) != RESPONSE_SIZE:
        raise ProtocolError(
            f"an answer is {RESPONSE_SIZE} bytes, got {len(data)}"
        )
    values = _WIRE_STRUCT.unpack(data)
    magic, status = values[0], values[1]
    if magic != RESPONSE_MAGIC and not (magic == 0 and status == Status.BAD_QUERY):
        raise ProtocolError(f"answer has wrong magic 0x{magic:08x}")
    if status not in _STATUSES:
        raise ProtocolError(f"answer has unknown status 0x{status:02x}")
    if values[10] > 2:
        raise ProtocolError(f"answer has bad_sw {values[10]}, expected 0..2")
    if values[11] > 3:
        raise ProtocolError(f"answer has os_match_q {values[11]}, expected 0..3")
    if values[6] > _MAX_DAYS:
        raise ProtocolError(f"answer has up_mod_days {values[6]}, beyond any clock")
    return RawResponse._from_wire(values)


# The twelve numbers, then the six strings as one block (split lazily).
_WIRE_STRUCT: Final = struct.Struct("=9IhBB192s")


_STATUSES: Final = frozenset(int(s) for s in Status)


def _field_bytes(name: str, value: str) -> bytes:
    try:
        encoded = value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} has characters outside Latin-1: {value!r}") from exc
    if b"\0" in encoded or len(encoded) > _STRING_SIZE:
        raise ValueError(
            f"{name} must be at most {_STRING_SIZE} bytes with no NUL: {value!r}"
        )
    return encoded


def encode_response(raw: RawResponse) -> bytes:
    """Encode a :class:`RawResponse` as the daemon would send it.

    Raises :class:`ValueError` for a value the format cannot carry.
    """
    values = [getattr(raw, name) for name in _RAW_NAMES]
    for i in range(_FIRST_STRING, len(values)):
        values[i] = _field_bytes(_RAW_NAMES[i], values[i])
    try:
        return RESPONSE_STRUCT.pack(*values)
    except struct.error as exc:
        raise ValueError(f"cannot encode {raw!r}: {exc}") from exc


def check_status(raw: RawResponse, address: object) -> RawResponse:
    """Return an OK answer; raise :class:`BadQueryError` or :class:`NoMatchError`."""
    status = raw._status
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
    if raw._status == Status.NO_MATCH:
        return None
    return parse(raw, address)
