"""Everything this library raises, under one root.

::

    P0fError                      (P0fException is the 2014 name for it)
    ├── InvalidAddressError       also ValueError: bad input, nothing was sent
    ├── BadQueryError             p0f answered "bad query" (status 0x00)
    ├── NoMatchError              also KeyError: p0f has no data for the host
    ├── ProtocolError             also ValueError: the answer broke the format
    ├── LogFormatError            also ValueError: a line of p0f's log is malformed
    └── P0fConnectionError        also OSError: the socket could not be used
        ├── P0fConnectError       could not connect: no socket there, not a
        │                         socket, refused, no permission
        ├── P0fConnectionLostError  connected, then p0f closed or reset it
        └── P0fTimeoutError       also TimeoutError: no answer in time (p0f
                                  stalled, or at its -S connection limit)

A connection error keeps the operating system's ``errno`` when there was
one (``exc.errno == errno.ENOENT``), but its message is plain words, with
no ``[Errno N]`` prefix; match on the class, never on the text.

A caller that wants "anything went wrong with p0f" catches ``P0fError``.
Code written for the 2014 client keeps working: it caught ``KeyError`` for
"no data", ``ValueError`` for an answer with impossible values, and
``P0fException`` for everything else.
"""

from __future__ import annotations

from typing import overload


class P0fError(Exception):
    """Root of every exception this library raises on purpose."""


P0fException = P0fError
"""The 2014 client's name for :class:`P0fError`."""


class InvalidAddressError(P0fError, ValueError):
    """The address is not an IPv4 or IPv6 address; nothing was sent."""


class BadQueryError(P0fError):
    """The daemon said the query was malformed (status 0x00)."""


class NoMatchError(P0fError, KeyError):
    """The daemon has no data for this address (status 0x20)."""

    def __str__(self) -> str:
        # KeyError quotes its argument with repr(); a message reads better.
        return Exception.__str__(self)


class ProtocolError(P0fError, ValueError):
    """The daemon's answer does not follow the p0f 3 API format."""


class P0fConnectionError(P0fError, OSError):
    """The daemon's socket could not be reached, written or read."""

    @overload
    def __init__(self, message: str, errno: int | None = None, /) -> None: ...
    @overload
    def __init__(self, errno: int, message: str, /) -> None: ...
    def __init__(self, first: str | int, second: int | str | None = None, /) -> None:
        # (message, errno) as this library raises it; (errno, message) as
        # OSError is built, kept for code that built these the 2.0.0.dev0 way.
        message, code = (second, first) if isinstance(first, int) else (first, second)
        super().__init__(message)
        if isinstance(code, int):
            self.errno = code


class P0fConnectError(P0fConnectionError):
    """No connection could be made to the daemon's socket."""


class P0fConnectionLostError(P0fConnectionError):
    """The daemon closed or reset a connection that was working."""


class P0fTimeoutError(P0fConnectionError, TimeoutError):
    """The daemon did not answer within the timeout."""


class LogFormatError(P0fError, ValueError):
    """A line of p0f's log (``p0f -o``) is not in the format p0f writes.

    ``reason`` says what is wrong, ``line`` is the line, ``lineno`` its
    number in the file (``None`` when parsed on its own).
    """

    def __init__(self, reason: str, line: str, lineno: int | None = None) -> None:
        super().__init__(reason, line, lineno)
        self.reason = reason
        self.line = line
        self.lineno = lineno

    def __str__(self) -> str:
        where = "" if self.lineno is None else f"line {self.lineno}: "
        shown = self.line.rstrip("\r\n")
        if len(shown) > 300:
            shown = shown[:300] + "..."
        return f"{where}{self.reason}: {shown!r}"
