"""The p0f 3 API wire format: its layout, its constants and its checks.

This is the only module that knows how a query and an answer are laid out
in bytes; the codec, the records, the fake daemon and the command line take
their constants and their packing from here.  It imports no other module of
the package but the enums and the errors, so nothing here can form an
import cycle.

A query is 21 bytes, an answer 232, both in the host's native byte order
with no padding (the API is a Unix socket, so both ends share a host)::

    query   magic u32, addr_type u8, addr 16 bytes
    answer  magic, status, first_seen, last_seen, total_conn, uptime_min,
            up_mod_days, last_nat, last_chg (u32 each), distance s16,
            bad_sw u8, os_match_q u8, then six 32-byte strings
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from typing import Any, Final, Literal, get_args

from ._enums import BadSoftware, MatchQuality, Status
from ._errors import ProtocolError

QUERY_MAGIC: Final = 0x50304601
"""The magic number that starts every query."""

RESPONSE_MAGIC: Final = 0x50304602
"""The magic number that starts every well-formed answer."""

ADDR_IPV4: Final = 4
ADDR_IPV6: Final = 6

QUERY_STRUCT: Final = struct.Struct("=IB16s")
RESPONSE_STRUCT: Final = struct.Struct("=9IhBB32s32s32s32s32s32s")
QUERY_SIZE: Final = QUERY_STRUCT.size
RESPONSE_SIZE: Final = RESPONSE_STRUCT.size

STRING_SIZE: Final = 32
"""Bytes of each string field: NUL-padded, or filled with no NUL at all."""

RawIntField = Literal[
    "magic",
    "status",
    "first_seen",
    "last_seen",
    "total_conn",
    "uptime_min",
    "up_mod_days",
    "last_nat",
    "last_chg",
    "distance",
    "bad_sw",
    "os_match_q",
]
"""The name of a number of an answer (for typed ``raw["..."]``)."""

StrField = Literal["os_name", "os_flavor", "http_name", "http_flavor", "link_type", "language"]
"""The name of a string of an answer."""

INT_FIELDS: Final[tuple[str, ...]] = get_args(RawIntField)
"""The numbers of an answer, in wire order."""

STRING_FIELDS: Final[tuple[str, ...]] = get_args(StrField)
"""The strings of an answer, in wire order, after the numbers."""

RESPONSE_FIELDS: Final = INT_FIELDS + STRING_FIELDS
"""Every field of an answer, in wire order."""

STATUSES: Final = frozenset(int(s) for s in Status)
"""The status words p0f sends."""

MAX_DAYS: Final = 999_999_999
"""The largest ``up_mod_days`` accepted: what a timedelta can hold."""

_BAD_SW_MAX: Final = max(BadSoftware)
_OS_MATCH_Q_MAX: Final = max(MatchQuality)

# The twelve numbers, then the six strings as one block, split by _texts.
_PACKED: Final = struct.Struct(f"=9IhBB{STRING_SIZE * len(STRING_FIELDS)}s")
_STRING_OFFSETS: Final = tuple(range(0, STRING_SIZE * len(STRING_FIELDS), STRING_SIZE))


@functools.lru_cache(maxsize=1024)
def _texts(block: bytes) -> tuple[str, ...]:
    # p0f's strings come from its small signature files, so the same blocks
    # come back again and again, and splitting one costs several look-ups
    # of the cache: decoding and reading every field measured 1.4x the
    # hand-written parse with this cache, 1.5x to 1.9x without.
    return tuple(
        block[i : i + STRING_SIZE].partition(b"\0")[0].decode("latin-1")
        for i in _STRING_OFFSETS
    )


def unpack_response(data: bytes) -> tuple[Any, ...]:
    """The 18 values of a 232-byte answer, in :data:`RESPONSE_FIELDS` order.

    Checks the length, the magic, the status and the ranges of ``bad_sw``,
    ``os_match_q`` and ``up_mod_days``, raising :class:`ProtocolError` for
    any violation.  A "bad query" answer may carry magic 0 (some p0f builds
    never set it on that path); any other wrong magic is an error.  Strings
    end at their first NUL and are decoded as Latin-1 (p0f writes ASCII),
    so decoding a string never fails and encoding gives the same bytes.
    """
    if len(data) != RESPONSE_SIZE:
        raise ProtocolError(f"an answer is {RESPONSE_SIZE} bytes, got {len(data)}")
    values = _PACKED.unpack(data)
    magic, status = values[0], values[1]
    if magic != RESPONSE_MAGIC and not (magic == 0 and status == Status.BAD_QUERY):
        raise ProtocolError(f"answer has wrong magic 0x{magic:08x}")
    if status not in STATUSES:
        raise ProtocolError(f"answer has unknown status 0x{status:02x}")
    if values[10] > _BAD_SW_MAX:
        raise ProtocolError(f"answer has bad_sw {values[10]}, expected 0..{_BAD_SW_MAX}")
    if values[11] > _OS_MATCH_Q_MAX:
        raise ProtocolError(
            f"answer has os_match_q {values[11]}, expected 0..{_OS_MATCH_Q_MAX}"
        )
    if values[6] > MAX_DAYS:
        raise ProtocolError(f"answer has up_mod_days {values[6]}, beyond any clock")
    return values[:12] + _texts(values[12])


def _string_bytes(name: str, value: str) -> bytes:
    try:
        encoded = value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} has characters outside Latin-1: {value!r}") from exc
    if b"\0" in encoded or len(encoded) > STRING_SIZE:
        raise ValueError(
            f"{name} must be at most {STRING_SIZE} bytes with no NUL: {value!r}"
        )
    return encoded


def pack_response(values: Sequence[Any]) -> bytes:
    """The 232 bytes of an answer from its 18 values (:data:`RESPONSE_FIELDS`
    order); :class:`ValueError` for a value the format cannot carry."""
    numbers = values[: len(INT_FIELDS)]
    strings = [
        _string_bytes(name, value)
        for name, value in zip(STRING_FIELDS, values[len(INT_FIELDS) :])
    ]
    try:
        return RESPONSE_STRUCT.pack(*numbers, *strings)
    except struct.error as exc:
        raise ValueError(f"cannot encode the answer {tuple(values)!r}: {exc}") from exc
