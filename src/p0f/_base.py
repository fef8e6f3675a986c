"""What the sync and async clients share: settings, checks, and the words
their connection errors are made of."""

from __future__ import annotations

import errno
import math
import os
import stat
import threading
from typing import Final

from ._errors import P0fConnectError, P0fTimeoutError

DEFAULT_TIMEOUT: Final = 1.0
"""Seconds a call waits for the daemon before :class:`P0fTimeoutError`."""

CLOSE_GRACE: Final = 1.0
"""The least time ``close()`` waits for answers still owed before handing the
connection to a background drainer."""

CONNECT_RETRY: Final = (0.002, 0.05)
"""First and longest pause between connection attempts while p0f's accept
queue is full (``EAGAIN``); the attempts go on until the call's timeout."""


MAX_TIMEOUT: Final = threading.TIMEOUT_MAX
"""The longest timeout accepted: the most a thread lock can wait (about 292
years on Linux).  Longer ones overflow the clock arithmetic of sockets and
of lock waits, deep inside a call instead of where the client is made."""


def validate_timeout(value: object, name: str = "timeout", *, allow_zero: bool = False) -> float:
    """``value`` as seconds, or :class:`TypeError` (not a number) or
    :class:`ValueError` (negative, zero unless ``allow_zero``, infinite, NaN,
    or above :data:`MAX_TIMEOUT`).

    The one check of a timeout for the clients, the web settings and the
    command line, so that all three refuse the same values the same way.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {_shown(value)}")
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        seconds = math.inf
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        what = "zero or more" if allow_zero else "positive"
        raise ValueError(f"{name} must be {what} and finite, got {_shown(value)}")
    if seconds > MAX_TIMEOUT:
        raise ValueError(f"{name} must be at most {MAX_TIMEOUT:.0f} s, got {_shown(value)}")
    return seconds


def _shown(value: object) -> str:
    """``repr(value)``, short: an int may have millions of digits."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - an int past the digit limit, say
        return f"<{type(value).__name__} object>"
    return text if len(text) <= 60 else text[:60] + "..."


def validate_idle_timeout(value: object) -> float | None:
    """An ``idle_timeout``: ``None`` (keep the connection), or seconds >= 0."""
    if value is None:
        return None
    return validate_timeout(value, "idle_timeout", allow_zero=True)


def connect_failure(path: str, exc: OSError) -> P0fConnectError:
    """The error for a failed ``connect()`` to ``path``, in plain words."""
    code = exc.errno
    reason = exc.strerror or str(exc)
    if code == errno.ECONNREFUSED:
        reason = _not_a_socket(path) or reason
    error = P0fConnectError(f"cannot connect to p0f at {path}: {reason}", code)
    error.__cause__ = exc
    return error


def _not_a_socket(path: str) -> str | None:
    """What ``path`` is when it is not a socket (connect() says "refused")."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # ValueError: a NUL byte (an abstract socket)
        return None
    if stat.S_ISSOCK(mode):
        return None
    if stat.S_ISDIR(mode):
        return "not a socket but a directory"
    return "not a socket but a regular file" if stat.S_ISREG(mode) else "not a socket"


def queue_full(path: str, timeout: float) -> P0fTimeoutError:
    """The error when p0f's accept queue stayed full for a whole call."""
    return P0fTimeoutError(
        f"cannot connect to p0f at {path} within {timeout} s: its queue of "
        "waiting connections stayed full (p0f is at its -S connection limit)",
        errno.EAGAIN,
    )


def unanswered(timeout: float, fresh: bool) -> P0fTimeoutError:
    """The error when no answer came within ``timeout``; ``fresh`` when the
    connection is new and p0f has never sent a byte on it."""
    if fresh:
        return P0fTimeoutError(
            f"p0f did not answer within {timeout} s (nothing ever came back on "
            "this connection: p0f may be at its -S connection limit)"
        )
    return P0fTimeoutError(f"p0f did not answer within {timeout} s")


class BaseClient:
    """Settings and argument checks common to :class:`P0f` and :class:`AsyncP0f`."""

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        idle_timeout: float | None = None,
    ) -> None:
        path = os.fspath(socket_path)
        if not isinstance(path, str) or not path:
            raise ValueError(f"socket_path must be a non-empty path, got {socket_path!r}")
        self._socket_path: Final = path
        self._timeout: Final = validate_timeout(timeout)
        self._idle_timeout: Final = validate_idle_timeout(idle_timeout)

    @property
    def socket_path(self) -> str:
        """The path of the daemon's API socket (p0f's ``-s``)."""
        return self._socket_path

    @property
    def timeout(self) -> float:
        """Seconds each call may wait for the daemon."""
        return self._timeout

    @property
    def idle_timeout(self) -> float | None:
        """Seconds a connection owed nothing stays open after its last answer
        (``0``: closed at once; ``None``: kept for the client's life)."""
        return self._idle_timeout

    @property
    def _close_grace(self) -> float:
        """How long closing waits for answers owed before the drainer takes
        over: the larger of :data:`CLOSE_GRACE` and the timeout."""
        return max(CLOSE_GRACE, self._timeout)

    def _settings_repr(self) -> str:
        text = f"{self._socket_path!r}, timeout={self._timeout}"
        if self._idle_timeout is not None:
            text += f", idle_timeout={self._idle_timeout}"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._settings_repr()})"
