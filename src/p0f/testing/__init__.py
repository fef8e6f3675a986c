"""A fake p0f daemon for tests: :class:`FakeP0f`.

It serves the p0f 3 API on a Unix socket from a background thread, as p0f
3.09b does, byte for byte: answers in the order the queries came, status
0x00 for a wrong magic or address type, status 0x20 for a host it does not
know, and at most ``max_connections`` clients served at once (the next one
connects, then waits without an answer until a slot frees, as with p0f).

Unlike the real daemon it can be told to misbehave (:class:`Fault`), and it
records what would have killed the real one: writing to a connection its
client had already closed (p0f dies of SIGPIPE then).

.. typecheck-context:
   from p0f import P0f
   from p0f.testing import FakeP0f, sample_response

It needs no pytest::

    with FakeP0f() as fake:
        fake.add_host("192.0.2.1", sample_response(os_name="Linux"))
        print(P0f(fake.socket_path).query("192.0.2.1"))

For pytest, opt in to the fixtures with
``pytest_plugins = ["p0f.testing.pytest_plugin"]``.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import selectors
import shutil
import socket
import tempfile
import threading
import time
from collections import deque
from types import TracebackType
from typing import Any, Final

import attrs

from .._codec import (
    QUERY_MAGIC,
    QUERY_SIZE,
    Address,
    decode_query,
    encode_response,
    normalize_address,
)
from .._enums import Status
from .._models import P0fResponse, RawResponse, status_only
from .._wire import RESPONSE_MAGIC

__all__ = ["Fault", "FakeP0f", "FakeP0fError", "no_match_response", "sample_response"]

_TICK: Final = 0.05


class FakeP0fError(AssertionError):
    """The fake daemon failed, or saw what would have killed the real one."""


def sample_response(**fields: Any) -> RawResponse:
    """An OK answer about a plausible Linux host; ``fields`` override values
    (by :func:`attrs.evolve`, so an unknown name is a :class:`TypeError`)."""
    now = int(time.time())
    base = attrs.evolve(
        no_match_response(Status.OK),
        first_seen=now - 600,
        last_seen=now,
        total_conn=3,
        os_name="Linux",
        os_flavor="2.2.x-3.x",
        link_type="Ethernet or modem",
    )
    return attrs.evolve(base, **fields)


def no_match_response(status: int = Status.NO_MATCH, magic: int = RESPONSE_MAGIC) -> RawResponse:
    """What p0f sends for a host it does not know: zeros but magic and status."""
    return status_only(status, magic)


@attrs.frozen
class Fault:
    """How to spoil one answer.  Combine fields as needed.

    - ``delay``: seconds to wait before the answer starts (later answers on
      that connection wait behind it, as with p0f);
    - ``payload``: bytes to send instead of the real answer (a wrong magic,
      a wrong length);
    - ``truncate``: send only the first this many bytes, then close the
      connection (``hang=False``) or never send anything again (``hang=True``);
    - ``trickle``: send one byte at a time, this many seconds apart;
    - ``close``: close the connection instead of answering at all.
    """

    delay: float = 0.0
    payload: bytes | None = None
    truncate: int | None = None
    hang: bool = False
    trickle: float | None = None
    close: bool = False


@attrs.define
class _Plan:
    fault: Fault
    remaining: int
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None


@attrs.define
class _Output:
    ready_at: float
    data: bytes
    trickle: float | None = None
    then: str = ""  # "", "close" or "hang"


@attrs.define(eq=False)
class _Client:
    sock: socket.socket
    number: int
    inbuf: bytearray = attrs.Factory(bytearray)
    outq: deque[_Output] = attrs.Factory(deque)
    hung: bool = False
    writing: bool = False


class FakeP0f:
    """A fake p0f daemon on a Unix socket, run by a background thread."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str] | None = None,
        *,
        max_connections: int = 20,
        bad_query_magic: int = RESPONSE_MAGIC,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._tmpdir: str | None = None
        if socket_path is None:
            self._tmpdir = tempfile.mkdtemp(prefix="p0f-fake-")
            socket_path = os.path.join(self._tmpdir, "p0f.sock")
        self.socket_path: Final = os.fspath(socket_path)
        self.max_connections: Final = max_connections
        self.bad_query_magic = bad_query_magic
        self._lock = threading.Lock()
        self._hosts: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, RawResponse] = {}
        self._plans: list[_Plan] = []
        self._calls: deque[tuple[str, threading.Event]] = deque()
        self._clients: dict[int, _Client] = {}
        self._listener: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._accepting = True
        self._served = 0
        #: Every query received, as (connection number, address or None).
        self.queries: list[tuple[int, ipaddress.IPv4Address | ipaddress.IPv6Address | None]] = []
        #: Exceptions raised inside the server thread.
        self.errors: list[BaseException] = []
        #: What would have killed p0f: a client closed with answers owed.
        self.harm: list[str] = []

    # -- host table -------------------------------------------------------

    def add_host(self, address: Address, response: RawResponse | P0fResponse | None = None) -> RawResponse:
        """Answer queries for ``address`` with ``response`` (default: a sample)."""
        if response is None:
            response = sample_response()
        raw = response.raw if isinstance(response, P0fResponse) else response
        encode_response(raw)  # fail here, not in the server thread
        with self._lock:
            self._hosts[normalize_address(address)] = raw
        return raw

    def remove_host(self, address: Address) -> None:
        """Forget ``address``: its queries get "no match" from now on."""
        with self._lock:
            self._hosts.pop(normalize_address(address), None)

    # -- faults -----------------------------------------------------------

    def inject(self, fault: Fault, *, count: int = 1, address: Address | None = None) -> None:
        """Spoil the next ``count`` answers (for ``address`` only, if given)."""
        key = None if address is None else normalize_address(address)
        with self._lock:
            self._plans.append(_Plan(fault, count, key))

    def refuse_connections(self) -> None:
        """Stop listening: connecting fails at once (as with a dead daemon)."""
        self._call("refuse")

    def accept_connections(self) -> None:
        """Listen again after :meth:`refuse_connections`."""
        self._call("accept")

    def drop_connections(self) -> None:
        """Close every client connection at once, answers owed or not."""
        self._call("drop")

    def restart(self) -> None:
        """Like a daemon restart: drop every connection, then listen anew."""
        self._call("drop")
        self._call("refuse")
        self._call("accept")

    # -- observation ------------------------------------------------------

    @property
    def connection_count(self) -> int:
        """Client connections currently being served."""
        with self._lock:
            return len(self._clients)

    @property
    def connections_served(self) -> int:
        """Client connections accepted since start."""
        with self._lock:
            return self._served

    def check(self) -> None:
        """Raise :class:`FakeP0fError` for a server error or recorded harm."""
        if self.errors:
            raise FakeP0fError(f"the fake p0f failed: {self.errors[0]!r}") from self.errors[0]
        if self.harm:
            raise FakeP0fError(
                f"{len(self.harm)} write(s) to closed connections, which kill "
                f"p0f 3.09b; first: {self.harm[0]}"
            )

    # -- life cycle -------------------------------------------------------

    def start(self) -> FakeP0f:
        """Listen and serve from a background thread; returns ``self``."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._listen()
        self._thread = threading.Thread(target=self._serve, name="fake-p0f", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close everything and remove the socket file."""
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        self._wake()
        thread.join(10)
        self._thread = None
        assert self._selector is not None
        for client in list(self._clients.values()):
            client.sock.close()
        self._clients.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        self._unlink()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)

    def __enter__(self) -> FakeP0f:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if exc_type is None:
            self.check()

    # -- the server thread ------------------------------------------------

    def _unlink(self) -> None:
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    def _listen(self) -> None:
        self._unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_path)
        os.chmod(self.socket_path, 0o666)
        listener.listen(self.max_connections)
        listener.setblocking(False)
        self._listener = listener
        self._accepting = True
        self._update_listener()

    def _update_listener(self) -> None:
        # Like p0f, leave extra clients in the backlog while all slots are taken.
        assert self._selector is not None
        listener = self._listener
        if listener is None:
            return
        want = self._accepting and len(self._clients) < self.max_connections
        registered = listener in self._selector.get_map()
        if want and not registered:
            self._selector.register(listener, selectors.EVENT_READ, "listen")
        elif not want and registered:
            self._selector.unregister(listener)

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _call(self, name: str) -> None:
        if self._thread is None:
            raise RuntimeError("the fake p0f is not running")
        done = threading.Event()
        with self._lock:
            self._calls.append((name, done))
        self._wake()
        if not done.wait(10):
            raise FakeP0fError(f"the fake p0f did not carry out {name!r}")

    def _serve(self) -> None:
        selector = self._selector
        assert selector is not None
        try:
            while not self._stopping:
                timeout = self._next_timeout()
                for key, events in selector.select(timeout):
                    try:
                        self._handle(key, events)
                    except Exception as exc:  # recorded, re-raised by check()
                        self.errors.append(exc)
                self._run_calls()
                self._write_ready()
        except BaseException as exc:
            self.errors.append(exc)

    def _next_timeout(self) -> float:
        now = time.monotonic()
        soonest = _TICK
        for client in self._clients.values():
            if client.outq and not client.hung and not client.writing:
                soonest = min(soonest, max(0.0, client.outq[0].ready_at - now))
        return soonest

    def _run_calls(self) -> None:
        while True:
            with self._lock:
                if not self._calls:
                    return
                name, done = self._calls.popleft()
            if name == "refuse":
                if self._listener is not None:
                    assert self._selector is not None
                    self._accepting = False
                    self._update_listener()
                    self._listener.close()
                    self._listener = None
                    # The file stays: connecting to it is refused, as when
                    # p0f died without cleaning up.
            elif name == "accept":
                if self._listener is None:
                    self._listen()
            elif name == "drop":
                for client in list(self._clients.values()):
                    self._close(client)
            done.set()

    def _handle(self, key: selectors.SelectorKey, events: int) -> None:
        if key.data == "wake":
            self._wake_r.recv(4096)
        elif key.data == "listen":
            self._accept()
        else:
            client = key.data
            assert isinstance(client, _Client)
            if events & selectors.EVENT_WRITE:
                self._want_write(client, False)
            if events & selectors.EVENT_READ:
                self._read(client)

    def _want_write(self, client: _Client, want: bool) -> None:
        # Wait for a full socket buffer to drain without spinning.
        if client.writing != want and client.number in self._clients:
            assert self._selector is not None
            client.writing = want
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self._selector.modify(client.sock, events, client)

    def _accept(self) -> None:
        assert self._listener is not None and self._selector is not None
        while len(self._clients) < self.max_connections:
            try:
                sock, _ = self._listener.accept()
            except BlockingIOError:
                break
            sock.setblocking(False)
            with self._lock:
                self._served += 1
                client = _Client(sock, self._served)
                self._clients[client.number] = client
            self._selector.register(sock, selectors.EVENT_READ, client)
        self._update_listener()

    def _close(self, client: _Client) -> None:
        assert self._selector is not None
        with self._lock:
            if self._clients.pop(client.number, None) is None:
                return
        try:
            self._selector.unregister(client.sock)
        except (KeyError, ValueError):
            pass
        client.sock.close()
        self._update_listener()

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except BlockingIOError:
            return
        if data:
            client.inbuf += data
            while len(client.inbuf) >= QUERY_SIZE:
                query = bytes(client.inbuf[:QUERY_SIZE])
                del client.inbuf[:QUERY_SIZE]
                self._answer(client, query)
            return
        # The client hung up.  p0f would now write what it still owes, and die.
        owed = sum(1 for out in client.outq if out.data)
        if owed and not client.hung:
            self.harm.append(
                f"connection {client.number} closed with {owed} answer(s) owed"
            )
        self._close(client)

    def _answer(self, client: _Client, query: bytes) -> None:
        magic, _, address = decode_query(query)
        self.queries.append((client.number, address if magic == QUERY_MAGIC else None))
        if magic != QUERY_MAGIC or address is None:
            raw = no_match_response(Status.BAD_QUERY, self.bad_query_magic)
            address = None
        else:
            with self._lock:
                known = self._hosts.get(address)
            raw = no_match_response() if known is None else known
        data = encode_response(raw)
        fault = self._take_fault(address)
        now = time.monotonic()
        if fault is None:
            client.outq.append(_Output(now, data))
            return
        if fault.close:
            client.outq.append(_Output(now + fault.delay, b"", then="close"))
            return
        if fault.payload is not None:
            data = fault.payload
        then = ""
        if fault.truncate is not None:
            data = data[: fault.truncate]
            then = "hang" if fault.hang else "close"
        client.outq.append(_Output(now + fault.delay, data, fault.trickle, then))

    def _take_fault(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    ) -> Fault | None:
        with self._lock:
            for plan in self._plans:
                if plan.remaining > 0 and plan.address in (None, address):
                    plan.remaining -= 1
                    fault = plan.fault
                    self._plans = [p for p in self._plans if p.remaining > 0]
                    return fault
        return None

    def _write_ready(self) -> None:
        now = time.monotonic()
        for client in list(self._clients.values()):
            while client.outq and not client.hung and not client.writing:
                out = client.outq[0]
                if out.ready_at > now:
                    break
                if out.data:
                    chunk = out.data[:1] if out.trickle else out.data
                    try:
                        sent = client.sock.send(chunk)
                    except BlockingIOError:
                        self._want_write(client, True)
                        break
                    except (BrokenPipeError, ConnectionResetError) as exc:
                        self.harm.append(
                            f"connection {client.number}: wrote to a closed "
                            f"connection ({errno.errorcode.get(exc.errno or 0, exc)})"
                        )
                        self._close(client)
                        break
                    out.data = out.data[sent:]
                    if out.data:
                        if out.trickle:
                            out.ready_at = now + out.trickle
                        else:
                            self._want_write(client, True)
                        break
                client.outq.popleft()
                if out.then == "close":
                    self._close(client)
                    break
                if out.then == "hang":
                    client.hung = True
