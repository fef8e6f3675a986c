"""``p0f-query --demo``: sample hosts, and a tiny daemon that answers for them.

:class:`DemoDaemon` listens on a Unix socket in a private temporary
directory and answers p0f's API from a fixed table, encoding with the
library's own codec.  The command then runs exactly as against p0f: the
same client, connection, pipelining, wire format both ways, decoding and
output; only the daemon is stood in for.  It does not use
:mod:`p0f.testing` (a test helper with fault injection and recording).

They are made up, but each one is what p0f 3.09b could plausibly say about
a real client, and together they show every line of the text output:
generic and fuzzy matches, all three ``bad_sw`` values, NAT and OS change
detection, uptime with its wrap-around, an unknown distance and an IPv6
host.  Addresses are from the documentation ranges (RFC 5737, RFC 3849).

Times are relative to ``now``: p0f forgets a host after 120 idle minutes,
so every ``last_seen`` is within that.
"""

from __future__ import annotations

import ipaddress
import os
import selectors
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import Final

from ._codec import decode_query, encode_response
from ._enums import BadSoftware, MatchQuality, Status
from ._models import RawResponse, status_only
from ._wire import QUERY_MAGIC, QUERY_SIZE, RESPONSE_MAGIC

__all__ = ["DEMO_NOTICE", "DemoDaemon", "demo_hosts"]

DEMO_NOTICE: Final = (
    "demo mode: these are sample answers from a built-in fake p0f, "
    "not observations of real hosts"
)


def _host(
    now: int,
    *,
    first_ago: int,
    last_ago: int,
    total_conn: int,
    os_name: str,
    os_flavor: str,
    distance: int,
    link_type: str,
    os_match_q: MatchQuality = MatchQuality.NORMAL,
    http_name: str = "",
    http_flavor: str = "",
    bad_sw: BadSoftware = BadSoftware.NONE,
    language: str = "",
    uptime_min: int = 0,
    up_mod_days: int = 0,
    nat_ago: int | None = None,
    chg_ago: int | None = None,
) -> RawResponse:
    return RawResponse(
        magic=RESPONSE_MAGIC,
        status=int(Status.OK),
        first_seen=now - first_ago,
        last_seen=now - last_ago,
        total_conn=total_conn,
        uptime_min=uptime_min,
        up_mod_days=up_mod_days,
        last_nat=0 if nat_ago is None else now - nat_ago,
        last_chg=0 if chg_ago is None else now - chg_ago,
        distance=distance,
        bad_sw=int(bad_sw),
        os_match_q=int(os_match_q),
        os_name=os_name,
        os_flavor=os_flavor,
        http_name=http_name,
        http_flavor=http_flavor,
        link_type=link_type,
        language=language,
    )


def demo_hosts(now: int | None = None) -> list[tuple[str, RawResponse]]:
    """The sample hosts as ``(address, answer)``, times relative to ``now``."""
    if now is None:
        now = int(time.time())
    return [
        # A desktop browsing in German: exact SYN match, honest User-Agent.
        (
            "192.0.2.17",
            _host(
                now,
                first_ago=5520,
                last_ago=12,
                total_conn=23,
                os_name="Windows",
                os_flavor="7 or 8",
                distance=8,
                link_type="Ethernet or modem",
                http_name="Firefox",
                http_flavor="10.x or newer",
                language="German",
            ),
        ),
        # A server reached over a few hops, matched by a generic signature.
        (
            "198.51.100.4",
            _host(
                now,
                first_ago=3310,
                last_ago=45,
                total_conn=5,
                os_name="Linux",
                os_flavor="2.2.x-3.x",
                os_match_q=MatchQuality.GENERIC,
                distance=11,
                link_type="Ethernet or modem",
            ),
        ),
        (
            "198.51.100.23",
            _host(
                now,
                first_ago=1800,
                last_ago=300,
                total_conn=9,
                os_name="Mac OS X",
                os_flavor="10.x",
                distance=12,
                link_type="Ethernet or modem",
                http_name="Safari",
                http_flavor="5.1-6",
                language="English",
            ),
        ),
        # A crawler whose User-Agent claims a browser its headers contradict.
        (
            "203.0.113.66",
            _host(
                now,
                first_ago=960,
                last_ago=3,
                total_conn=41,
                os_name="Linux",
                os_flavor="3.11 and newer",
                os_match_q=MatchQuality.FUZZY,
                distance=17,
                link_type="DSL",
                http_name="MSIE",
                http_flavor="8 or newer",
                bad_sw=BadSoftware.FAKE,
            ),
        ),
        # An office gateway: several machines behind one address (NAT), so
        # the browser's OS disagrees with the SYN's, and the OS changed.
        (
            "192.0.2.200",
            _host(
                now,
                first_ago=7080,
                last_ago=1,
                total_conn=312,
                os_name="Linux",
                os_flavor="3.x",
                distance=6,
                link_type="Ethernet or modem",
                http_name="Chrome",
                http_flavor="11 or newer",
                bad_sw=BadSoftware.OS_MISMATCH,
                language="English",
                uptime_min=4 * 1440 + 2 * 60 + 13,
                up_mod_days=49,
                nat_ago=640,
                chg_ago=1900,
            ),
        ),
        # An IPv6 client seen once; its distance could not be worked out.
        (
            "2001:db8:4a1::6b",
            _host(
                now,
                first_ago=95,
                last_ago=95,
                total_conn=1,
                os_name="FreeBSD",
                os_flavor="9.x or newer",
                distance=-1,
                link_type="Ethernet or modem",
            ),
        ),
    ]


_READ_SIZE: Final = 65536


class DemoDaemon:
    """Answers p0f's API for a fixed set of hosts, from a thread, until closed.

    Use it as a context manager; :attr:`socket_path` is where to connect.
    Like p0f, it answers each 21-byte query in order, "no match" for an
    unknown host and "bad query" for a wrong magic or address type, on any
    number of connections.
    """

    def __init__(self, hosts: Iterable[tuple[str, RawResponse]]) -> None:
        self._answers = {
            ipaddress.ip_address(address): encode_response(raw) for address, raw in hosts
        }
        self._no_match = encode_response(status_only(Status.NO_MATCH))
        self._bad_query = encode_response(status_only(Status.BAD_QUERY))
        self._dir = tempfile.mkdtemp(prefix="p0f-demo-")  # mode 0700: ours alone
        self.socket_path: Final = os.path.join(self._dir, "p0f.sock")
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector = selectors.DefaultSelector()
        # Per connection: query bytes not yet a whole query, answers not yet sent.
        self._pending: dict[socket.socket, tuple[bytearray, bytearray]] = {}
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name="p0f-demo", daemon=True)

    def __enter__(self) -> DemoDaemon:
        try:
            self._listener.bind(self.socket_path)
            self._listener.listen()
        except BaseException:
            self._cleanup()
            raise
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop = True
        self._wake_w.send(b"\0")
        self._thread.join()
        self._cleanup()

    def _cleanup(self) -> None:
        for conn in list(self._pending):
            conn.close()
        self._pending.clear()
        self._selector.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def answer(self, query: bytes) -> bytes:
        """The 232-byte answer to one 21-byte query."""
        magic, _, address = decode_query(query)
        if magic != QUERY_MAGIC or address is None:
            return self._bad_query
        return self._answers.get(address, self._no_match)

    def _serve(self) -> None:
        while not self._stop:
            for key, events in self._selector.select():
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    self._accept()
                elif sock is self._wake_r:
                    continue  # woken to stop
                elif events & selectors.EVENT_READ:
                    self._read(sock)
                else:
                    self._write(sock)

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self._pending[conn] = (bytearray(), bytearray())
        self._selector.register(conn, selectors.EVENT_READ)

    def _drop(self, conn: socket.socket) -> None:
        self._selector.unregister(conn)
        del self._pending[conn]
        conn.close()

    def _read(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(_READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)  # the client hung up
            return
        incoming, outgoing = self._pending[conn]
        incoming += data
        whole = len(incoming) - len(incoming) % QUERY_SIZE
        for start in range(0, whole, QUERY_SIZE):
            outgoing += self.answer(bytes(incoming[start : start + QUERY_SIZE]))
        del incoming[:whole]
        self._write(conn)

    def _write(self, conn: socket.socket) -> None:
        _, outgoing = self._pending[conn]
        if outgoing:
            try:
                sent = conn.send(outgoing)
            except BlockingIOError:
                sent = 0
            except OSError:
                self._drop(conn)  # the client hung up
                return
            del outgoing[:sent]
        # Wait for room to write only while answers are left over.
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if outgoing else 0)
        if self._selector.get_key(conn).events != wanted:
            self._selector.modify(conn, wanted)
