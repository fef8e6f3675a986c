"""The drainer: given-up sockets are read until nothing is owed, then closed."""

from __future__ import annotations

import socket

from p0f._drain import hand_off, pending

from .helpers import wait_until


def test_a_socket_is_closed_once_its_owed_bytes_are_read() -> None:
    ours, daemon = socket.socketpair()
    with daemon:
        hand_off(ours, 464)
        assert pending() == 1
        daemon.sendall(b"\0" * 300)
        daemon.sendall(b"\0" * 164)
        wait_until(lambda: pending() == 0)
        # Closed only now: the daemon's side sees the end.
        assert daemon.recv(1) == b""


def test_the_daemon_hanging_up_ends_the_wait() -> None:
    ours, daemon = socket.socketpair()
    hand_off(ours, 232)
    assert pending() == 1
    daemon.close()
    wait_until(lambda: pending() == 0)


def test_nothing_owed_closes_at_once() -> None:
    ours, daemon = socket.socketpair()
    with daemon:
        hand_off(ours, 0)
        assert pending() == 0
        assert ours.fileno() == -1
