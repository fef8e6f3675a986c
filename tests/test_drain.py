"""The drainer: given-up sockets are read until nothing is owed, then closed."""

from __future__ import annotations

import socket
import time

import pytest

from p0f import _drain
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


def test_an_unsure_socket_is_read_past_its_count_until_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The count is one answer short (a query written, then an interrupt
    # before its bytes were counted): the socket stays open for that answer.
    monkeypatch.setattr(_drain, "UNSURE_SETTLE", 1.0)
    ours, daemon = socket.socketpair()
    with daemon:
        hand_off(ours, 232, unsure=True)
        daemon.sendall(b"\0" * 232)
        wait_until(lambda: _drain._drainer.owed.get(ours, 1) <= 0)
        assert pending() == 1  # its count is read, and it is still open
        daemon.sendall(b"\0" * 232)  # the uncounted answer: no EPIPE
        wait_until(lambda: pending() == 0)
        # Closed with nothing unread (else the daemon's side would see a reset).
        assert daemon.recv(1) == b""


def test_an_unsure_socket_short_of_its_count_is_closed_once_silent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The count is one answer long (an answer read, then an interrupt before
    # it was counted): the socket is closed when nothing more comes.
    monkeypatch.setattr(_drain, "UNSURE_QUIET", 0.3)
    ours, daemon = socket.socketpair()
    with daemon:
        hand_off(ours, 464, unsure=True)
        daemon.sendall(b"\0" * 232)
        wait_until(lambda: pending() == 0)
        assert daemon.recv(1) == b""


def test_an_unsure_socket_owed_nothing_is_not_closed_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_drain, "UNSURE_SETTLE", 0.3)
    ours, daemon = socket.socketpair()
    with daemon:
        hand_off(ours, 0, unsure=True)
        assert pending() == 1 and ours.fileno() >= 0
        wait_until(lambda: pending() == 0)
        assert ours.fileno() == -1


def test_a_sure_socket_waits_out_any_silence_for_its_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stopped daemon (SIGSTOP) owes the rest of an answer: only an
    # unsure count is ended by silence, never a trusted one.
    monkeypatch.setattr(_drain, "UNSURE_QUIET", 0.1)
    monkeypatch.setattr(_drain, "UNSURE_SETTLE", 0.1)
    ours, daemon = socket.socketpair()
    with daemon:
        hand_off(ours, 232)
        daemon.sendall(b"\0" * 100)
        wait_until(lambda: _drain._drainer.owed.get(ours) == 132)
        time.sleep(0.5)  # five times the unsure wait, with nothing coming
        assert pending() == 1 and ours.fileno() >= 0
        daemon.sendall(b"\0" * 132)
        wait_until(lambda: pending() == 0)
        assert daemon.recv(1) == b""
