"""Reading what p0f still owes on connections nobody uses any more.

p0f dies of SIGPIPE when it writes an answer to a connection its client has
closed, so a connection given up with answers owed is handed here: one
background thread reads those answers, throws them away, and only then
closes the socket.  Both clients use it; it keeps no client state.

At exit (an :mod:`atexit` hook, so before the interpreter starts tearing
itself down) the thread is stopped and what it still holds is drained in
the exiting thread for up to :data:`EXIT_GRACE` seconds, then closed: no
thread is ever started during interpreter shutdown (on 3.11
``Thread.start()`` then blocks forever, on 3.12+ it raises), and a stalled
daemon never keeps a process from exiting.  A socket handed over later
still (a client collected while modules are torn down) is drained in the
caller, within what is left of that same grace.
"""

from __future__ import annotations

import atexit
import math
import os
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Final

EXIT_GRACE: Final = 2.0
"""Seconds a process waits at exit for answers still owed to given-up
connections, so that a merely late daemon is not written to a closed socket."""

UNSURE_QUIET: Final = 2.0
"""Seconds a connection whose count of owed bytes cannot be trusted must
stay silent before it is closed, while short of its count (see
:func:`hand_off`)."""

UNSURE_SETTLE: Final = 0.25
"""The same, once its count is read: time for one more answer to come."""

_READ_SIZE: Final = 65536


class _Drainer:
    """The sockets being drained, and the one thread that drains them."""

    def __init__(self) -> None:
        # Reentrant: a client's finalizer may run (by the garbage collector)
        # in whichever thread holds the lock, the drainer's own included.
        self.lock = threading.RLock()
        self.owed: dict[socket.socket, int] = {}
        # Sockets whose count is not trusted: when each may be closed, if
        # nothing arrives before then.
        self.quiet_until: dict[socket.socket, float] = {}
        self.thread: threading.Thread | None = None
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.stopping = False
        self.exit_at: float | None = None  # set once the exit hook has run
        self.in_exit_hook = False

    def add(self, sock: socket.socket, owed: int, unsure: bool = False) -> None:
        with self.lock:
            self.owed[sock] = owed
            if unsure:
                self.quiet_until[sock] = _quiet_until(owed)
            if self.exit_at is not None:
                if not self.in_exit_hook:
                    self.drain_until(self.exit_at)
                return
            if sys.is_finalizing():
                # Past the exit hook (or it never ran): no new thread may
                # start now.  Read what arrives at once, then close.
                self.drain_until(time.monotonic())
                return
            if self.thread is None or not self.thread.is_alive():
                self.stopping = False
                self.thread = threading.Thread(
                    target=self.run, name="p0f-drainer", daemon=True
                )
                self.thread.start()
            else:
                self.wake()

    def wake(self) -> None:
        try:
            self.wake_w.send(b"\0")
        except OSError:
            pass  # already awake: its buffer is full of wake-ups

    def run(self) -> None:
        while True:
            with self.lock:
                if self.stopping or not self.owed:
                    self.thread = None
                    return
                socks = list(self.owed)
                timeout = self.until_quiet()
            self.poll(socks, timeout)
            with self.lock:
                self.close_quiet()

    def until_quiet(self) -> float | None:
        """Seconds until the next unsure socket may be closed, if any."""
        if not self.quiet_until:
            return None
        return max(0.0, min(self.quiet_until.values()) - time.monotonic())

    def close_quiet(self) -> None:
        """Close the unsure sockets that stayed silent for their time."""
        now = time.monotonic()
        for sock, until in list(self.quiet_until.items()):
            if until <= now:
                self.close(sock)

    def poll(self, socks: list[socket.socket], timeout: float | None) -> None:
        """Wait until one socket has bytes (or ``timeout`` passes); read them."""
        poller = select.poll()
        poller.register(self.wake_r, select.POLLIN)
        by_fd: dict[int, socket.socket] = {}
        for sock in socks:
            fd = sock.fileno()
            if fd >= 0:
                by_fd[fd] = sock
                poller.register(fd, select.POLLIN)
        try:
            events = poller.poll(None if timeout is None else max(0, math.ceil(timeout * 1000)))
        except InterruptedError:
            return
        for fd, _ in events:
            if fd == self.wake_r.fileno():
                try:
                    self.wake_r.recv(_READ_SIZE)
                except OSError:
                    pass
            elif fd in by_fd:
                self.read(by_fd[fd])

    def read(self, sock: socket.socket) -> None:
        with self.lock:
            owed = self.owed.get(sock)
            if owed is None:
                return
            # Unsure: its count may be short (a query written but not
            # counted) or long (an answer read but not counted), so it is
            # read past its count, and only silence ends it.
            unsure = sock in self.quiet_until
            done = False
            got = 0
            try:
                while owed > 0 or unsure:
                    data = sock.recv(_READ_SIZE)
                    if not data:
                        done = True
                        break
                    owed -= len(data)
                    got += len(data)
            except BlockingIOError:
                pass
            except OSError:
                done = True  # reset: nothing more will come
            if done or (owed <= 0 and not unsure):
                self.close(sock)
                return
            self.owed[sock] = owed
            if unsure and got:
                self.quiet_until[sock] = _quiet_until(owed)

    def close(self, sock: socket.socket) -> None:
        self.owed.pop(sock, None)
        self.quiet_until.pop(sock, None)
        sock.close()

    def drain_until(self, end: float) -> None:
        """Drain in the calling thread until nothing is owed or ``end``;
        then close whatever is left (the process is going away)."""
        while self.owed:
            left = end - time.monotonic()
            if left <= 0:
                break
            quiet = self.until_quiet()
            self.poll(list(self.owed), left if quiet is None else min(left, quiet))
            self.close_quiet()
        for sock in list(self.owed):
            self.close(sock)

    def at_exit(self, end: float) -> None:
        """Stop the thread, then drain what is left here until ``end``."""
        with self.lock:
            self.stopping = True
            thread = self.thread
            self.wake()
        if thread is not None:
            thread.join(max(0.0, end - time.monotonic()))
        with self.lock:
            self.in_exit_hook = False
            self.drain_until(end)

    def after_fork_in_child(self) -> None:
        # The parent's thread does not exist here, and the parent goes on
        # draining its own descriptors: close the child's copies, so that
        # the child holds none of p0f's few connection slots.
        self.lock = threading.RLock()
        self.thread = None
        for sock in list(self.owed):
            sock.close()
        self.owed.clear()
        self.quiet_until.clear()
        self.wake_r.close()
        self.wake_w.close()
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)


def _quiet_until(owed: int) -> float:
    return time.monotonic() + (UNSURE_QUIET if owed > 0 else UNSURE_SETTLE)


_drainer = _Drainer()


def hand_off(sock: socket.socket, owed: int, *, unsure: bool = False) -> None:
    """Take ``sock``, owed ``owed`` more answer bytes; close it once read.

    ``unsure``: the count cannot be trusted, because the caller was
    interrupted (a signal handler's exception, say) between a ``send`` or a
    ``recv`` and the counting of its bytes.  Too short, closing at the
    count would leave p0f to write to a closed socket; too long, the wait
    would never end.  Such a socket is closed once silent for
    :data:`UNSURE_SETTLE` seconds after its count is read, or for
    :data:`UNSURE_QUIET` seconds short of it: p0f answers within
    microseconds unless it is stopped."""
    if owed <= 0 and not unsure:
        sock.close()
        return
    try:
        sock.setblocking(False)
    except OSError:
        sock.close()  # already dead: nothing will come
        return
    _drainer.add(sock, owed, unsure)


def exit_time_left() -> float:
    """Seconds left of the exit grace (0 outside the exit hooks)."""
    end = _drainer.exit_at
    return 0.0 if end is None else max(0.0, end - time.monotonic())


def pending() -> int:
    """How many connections are still being drained."""
    with _drainer.lock:
        return len(_drainer.owed)


_exit_hooks: list[Callable[[], None]] = []


def on_exit(hook: Callable[[], None]) -> None:
    """Run ``hook`` at exit, before the drainer's last drain; a hook hands
    its clients' connections over with :func:`hand_off`."""
    _exit_hooks.append(hook)


def _at_exit() -> None:
    end = time.monotonic() + EXIT_GRACE
    with _drainer.lock:
        _drainer.in_exit_hook = True
        _drainer.exit_at = end
    for hook in _exit_hooks:
        try:
            hook()
        except Exception:  # noqa: BLE001 - one client must not stop the others
            pass
    _drainer.at_exit(end)


atexit.register(_at_exit)
os.register_at_fork(after_in_child=_drainer.after_fork_in_child)
