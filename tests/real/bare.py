"""The p0f API spoken by hand, without the library: a second opinion.

Written from the p0f 3 ``api.h`` layout, not from :mod:`p0f._codec`, so that
the library's decoding can be checked against an independent reading of the
same bytes.  A connection here always reads every answer it asked for
before it closes (closing earlier can kill p0f with SIGPIPE).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass
from types import TracebackType
from typing import Final

from .p0flog import IPAddress

QUERY_MAGIC: Final = 0x50304601
ANSWER_MAGIC: Final = 0x50304602
STATUS_BAD_QUERY: Final = 0x00
STATUS_OK: Final = 0x10
STATUS_NO_MATCH: Final = 0x20

# struct p0f_api_query { u32 magic; u8 addr_type; u8 addr[16]; } packed
_QUERY: Final = struct.Struct("=L B 16s")
# struct p0f_api_response: nine u32, s16 distance, u8 bad_sw, u8 os_match_q,
# then six char[32] strings, packed, in the host's byte order.
_ANSWER: Final = struct.Struct("=LLLLLLLLL h B B 32s 32s 32s 32s 32s 32s")
ANSWER_SIZE: Final = _ANSWER.size


@dataclass(frozen=True)
class BareAnswer:
    """An answer as plain numbers and the raw 32-byte string fields."""

    magic: int
    status: int
    first_seen: int
    last_seen: int
    total_conn: int
    uptime_min: int
    up_mod_days: int
    last_nat: int
    last_chg: int
    distance: int
    bad_sw: int
    os_match_q: int
    os_name: bytes
    os_flavor: bytes
    http_name: bytes
    http_flavor: bytes
    link_type: bytes
    language: bytes

    @classmethod
    def unpack(cls, data: bytes) -> BareAnswer:
        if len(data) != ANSWER_SIZE:
            raise ValueError(f"an answer is {ANSWER_SIZE} bytes, not {len(data)}")
        (
            magic, status, first_seen, last_seen, total_conn, uptime_min,
            up_mod_days, last_nat, last_chg, distance, bad_sw, os_match_q,
            os_name, os_flavor, http_name, http_flavor, link_type, language,
        ) = _ANSWER.unpack(data)
        return cls(
            magic, status, first_seen, last_seen, total_conn, uptime_min,
            up_mod_days, last_nat, last_chg, distance, bad_sw, os_match_q,
            os_name, os_flavor, http_name, http_flavor, link_type, language,
        )

    @staticmethod
    def text(field: bytes) -> str:
        """A C string field: up to its NUL, or all 32 bytes when it has none."""
        return field.split(b"\0", 1)[0].decode("latin-1")


def query_bytes(address: IPAddress, *, addr_type: int | None = None) -> bytes:
    """A query; ``addr_type`` overrides the type the address would get."""
    kind = addr_type if addr_type is not None else address.version
    return _QUERY.pack(QUERY_MAGIC, kind, address.packed.ljust(16, b"\0"))


def mapped(address: ipaddress.IPv4Address) -> ipaddress.IPv6Address:
    """``::ffff:a.b.c.d`` for an IPv4 address."""
    return ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed)


class BareConnection:
    """One API connection, used one query at a time."""

    def __init__(self, socket_path: str, *, timeout: float = 3.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._owed = 0  # answer bytes p0f will still write
        try:
            self._sock.connect(socket_path)
        except BaseException:
            self._sock.close()
            raise

    def ask(self, query: bytes) -> bytes:
        """Send one query and read its whole answer."""
        self._sock.sendall(query)
        self._owed += ANSWER_SIZE
        data = b""
        while len(data) < ANSWER_SIZE:
            chunk = self._sock.recv(ANSWER_SIZE - len(data))
            if not chunk:
                self._owed = 0
                raise ConnectionError(f"p0f hung up after {len(data)} answer bytes")
            data += chunk
            self._owed -= len(chunk)
        return data

    def answer(self, address: IPAddress, *, addr_type: int | None = None) -> BareAnswer:
        return BareAnswer.unpack(self.ask(query_bytes(address, addr_type=addr_type)))

    def close(self) -> None:
        """Close, after reading any answer a failed :meth:`ask` left owed."""
        try:
            self._sock.settimeout(10.0)
            while self._owed > 0:
                chunk = self._sock.recv(self._owed)
                if not chunk:
                    break
                self._owed -= len(chunk)
        except OSError:
            pass
        finally:
            self._sock.close()

    def __enter__(self) -> BareConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def bare_answer(
    socket_path: str, address: IPAddress, *, addr_type: int | None = None
) -> BareAnswer:
    """Ask once on a connection of its own."""
    with BareConnection(socket_path) as conn:
        return conn.answer(address, addr_type=addr_type)
