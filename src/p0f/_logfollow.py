"""Reading p0f's log from a file, and following it while p0f writes.

p0f writes its log through a stdio buffer and flushes it whenever it has
been idle for 250 ms, or when the 4 KiB buffer fills: a reader can see half
a line.  It opens the file once (``O_APPEND``) and never reopens it, so log
rotation is either *copytruncate* (the file is copied, then cut to zero
while p0f keeps writing to it) or *rename and restart p0f*.  The follower
handles both, the way ``tail -F`` does:

* only whole lines are parsed; a partial line waits for its newline;
* when the path names another file (renamed away, a new one created), the
  old file is read to its end first, then the new one from its start;
* while the path names no file (renamed, not yet recreated, or not created
  yet at all), the follower keeps reading the file it has, and waits;
* when the file shrinks below what was read, or the bytes just before the
  read position are no longer those that were read (truncated and written
  again between two polls), it was truncated: reading starts over at 0.

A line cut off for good (by truncation or rotation, or longer than
:data:`MAX_LINE` bytes) is reported as a :class:`~p0f.LogFormatError`, not
parsed: a cut ``raw_mtu=15`` would otherwise read as an MTU of 15.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Final

import attrs

from ._errors import LogFormatError
from ._log import UTC, AnyEvent, LogParser

MAX_LINE: Final = 1 << 20
"""A line longer than this (bytes) is reported and skipped; p0f's longest
lines (HTTP signatures) stay well under 10 KiB."""

DEFAULT_POLL_INTERVAL: Final = 0.2
"""Seconds between looks at a log with nothing new (p0f itself flushes
after 250 ms idle)."""

_CHUNK: Final = 1 << 20
_TAIL: Final = 64
_ENCODING: Final = "utf-8"

OnError = Callable[[LogFormatError], object]
"""Called with each bad line; the reading goes on (unless it raises)."""


@attrs.frozen
class LogLine:
    """A line read from the log file."""

    #: The line's number in its file (1 for the first line).
    lineno: int
    #: The text, without its newline (UTF-8; undecodable bytes replaced).
    text: str
    #: Why this is not a whole line (``None`` for a whole line).
    problem: str | None = None


def read_log(
    path: str | os.PathLike[str],
    *,
    tz: _dt.tzinfo = UTC,
    on_error: OnError | None = None,
) -> Iterator[AnyEvent]:
    """The events of a log file, read as the iteration goes (flat memory).

    Dates are read in ``tz`` (UTC by default).  A bad line raises
    :class:`~p0f.LogFormatError` with its line number, or with ``on_error``
    is handed to it and skipped.  A last line without its newline is
    reported as incomplete (p0f may still be writing it), not parsed.
    """
    parser = LogParser(tz)
    with open(path, encoding=_ENCODING, errors="replace", newline="\n") as lines:
        yield from parser.parse_lines(lines, on_error=on_error, newline_required=True)


class LogFollower:
    """Reads whole new lines of a log file, across rotations (see the module).

    Without ``from_start``, reading starts where the file ends when the
    follower is made (or at the start of a file created later); the lines
    already there are counted once (a fast pass over the bytes), so line
    numbers stay the file's own.

    The I/O part of :func:`follow_log` and :func:`follow_log_async`:
    :meth:`poll` never blocks (it reads what is there, at most about 1 MiB
    a call) and returns the whole lines that arrived.  Use it as a context
    manager, or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike[str], *, from_start: bool = False) -> None:
        self.path = Path(path)
        self._from_start = from_start
        self._fd: int | None = None
        self._ident: tuple[int, int] = (0, 0)
        self._pos = 0
        self._tail = b""
        self._partial = b""
        self._skipping = False
        self._lineno = 0
        self._opened_once = False
        self._open([])  # "the end" is where the file ends now

    def __enter__(self) -> LogFollower:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (a later :meth:`poll` opens it again)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @property
    def lineno(self) -> int:
        """How many lines of the current file have been read or skipped."""
        return self._lineno

    def poll(self) -> list[LogLine]:
        """The whole lines written since the last call (maybe none)."""
        out: list[LogLine] = []
        if self._fd is None and not self._open(out):
            return out
        assert self._fd is not None
        self._check_truncation(out)
        if self._read(out) < _CHUNK:  # at the end: has the path moved on?
            self._check_rotation(out)
        return out

    @property
    def more_waiting(self) -> bool:
        """Whether the last :meth:`poll` stopped before the end of the file."""
        if self._fd is None:
            return False
        try:
            return os.fstat(self._fd).st_size > self._pos
        except OSError:
            return False

    # -- opening and rotation ------------------------------------------------------

    def _open(self, out: list[LogLine]) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            self._opened_once = True  # a file created later is read from its start
            return False
        stat = os.fstat(fd)
        self._fd = fd
        self._ident = (stat.st_dev, stat.st_ino)
        self._pos, self._tail, self._partial, self._skipping, self._lineno = 0, b"", b"", False, 0
        if not self._opened_once and not self._from_start:
            self._skip_to_end(stat.st_size)
        self._opened_once = True
        return True

    def _skip_to_end(self, size: int) -> None:
        # Start after the last whole line; count the lines skipped so later
        # line numbers are the file's own.
        assert self._fd is not None
        pos = 0
        last = b""
        while pos < size:
            data = os.pread(self._fd, min(_CHUNK, size - pos), pos)
            if not data:
                break
            self._lineno += data.count(b"\n")
            last = data
            pos += len(data)
        self._pos = pos
        self._tail = os.pread(self._fd, _TAIL, max(0, pos - _TAIL)) if pos else b""
        if last and not last.endswith(b"\n"):
            self._skipping = True  # the rest of a line written before we came

    def _check_truncation(self, out: list[LogLine]) -> None:
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        truncated = size < self._pos
        if not truncated and self._tail:
            start = self._pos - len(self._tail)
            truncated = os.pread(self._fd, len(self._tail), start) != self._tail
        if truncated:
            self._lost("the file was truncated (copytruncate rotation?) before this line ended", out)
            self._pos, self._tail, self._lineno = 0, b"", 0

    def _check_rotation(self, out: list[LogLine]) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return  # renamed away: p0f may still write to the old file; keep it
        if (stat.st_dev, stat.st_ino) == self._ident:
            return
        while self._read(out):  # what the old file got before the switch
            pass
        self._lost("the file was rotated before this line ended", out)
        self.close()
        self._open(out)
        if self._fd is not None:
            self._read(out)

    def _lost(self, why: str, out: list[LogLine]) -> None:
        if self._partial and not self._skipping:
            self._lineno += 1
            out.append(LogLine(self._lineno, self._decode(self._partial), f"incomplete line: {why}"))
        self._partial = b""
        self._skipping = False

    # -- reading -------------------------------------------------------------------

    def _read(self, out: list[LogLine]) -> int:
        assert self._fd is not None
        data = os.pread(self._fd, _CHUNK, self._pos)
        if data:
            self._pos += len(data)
            self._tail = (self._tail + data)[-_TAIL:]
            self._feed(data, out)
        return len(data)

    def _feed(self, data: bytes, out: list[LogLine]) -> None:
        end = data.rfind(b"\n")
        if end < 0:
            if not self._skipping:
                self._partial += data
                if len(self._partial) > MAX_LINE:
                    self._lineno += 1
                    out.append(LogLine(
                        self._lineno, self._decode(self._partial[:200]),
                        f"line longer than {MAX_LINE} bytes (skipped)",
                    ))
                    self._partial = b""
                    self._skipping = True
            return
        complete = self._partial + data[: end + 1]
        self._partial = data[end + 1 :]
        if self._skipping:
            first = complete.find(b"\n")
            complete = complete[first + 1 :]
            self._skipping = False
            self._lineno += 1
        texts = self._decode(complete).split("\n")
        texts.pop()  # after the last newline: nothing
        lineno = self._lineno
        out.extend(LogLine(lineno + i, text) for i, text in enumerate(texts, 1))
        self._lineno = lineno + len(texts)
        if len(self._partial) > MAX_LINE:
            self._feed(b"", out)

    @staticmethod
    def _decode(data: bytes) -> str:
        return data.decode(_ENCODING, "replace")


def _events(
    parser: LogParser, lines: list[LogLine], on_error: OnError | None
) -> Iterator[AnyEvent]:
    for line in lines:
        if line.problem is None:
            try:
                yield parser.parse(line.text)
                continue
            except LogFormatError as exc:
                if not line.text.strip():
                    continue  # a blank line, skipped as parse_lines does
                error = LogFormatError(exc.reason, line.text, line.lineno)
        else:
            error = LogFormatError(line.problem, line.text, line.lineno)
        if on_error is None:
            raise error
        on_error(error)


def follow_log(
    path: str | os.PathLike[str],
    *,
    from_start: bool = False,
    tz: _dt.tzinfo = UTC,
    on_error: OnError | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    stop: threading.Event | None = None,
) -> Iterator[AnyEvent]:
    """The events p0f writes to its log, as it writes them; never ends on its own.

    Starts at the end of the file (only new lines), or with ``from_start``
    at its beginning; waits for a file that does not exist yet; survives
    rotation (see :mod:`p0f._logfollow`).  Dates are read in ``tz`` (UTC by
    default).  A bad line raises :class:`~p0f.LogFormatError` with its line
    number, or with ``on_error`` is handed to it and skipped.  Setting
    ``stop`` (from another thread) ends the iteration within
    ``poll_interval``; so does closing the generator.
    """
    parser = LogParser(tz)
    with LogFollower(path, from_start=from_start) as follower:
        while stop is None or not stop.is_set():
            lines = follower.poll()
            yield from _events(parser, lines, on_error)
            if not lines or not follower.more_waiting:
                if stop is not None:
                    stop.wait(poll_interval)
                else:
                    time.sleep(poll_interval)


async def follow_log_async(
    path: str | os.PathLike[str],
    *,
    from_start: bool = False,
    tz: _dt.tzinfo = UTC,
    on_error: OnError | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    stop: asyncio.Event | None = None,
) -> AsyncIterator[AnyEvent]:
    """:func:`follow_log` for asyncio: ``async for event in follow_log_async(...)``.

    Each look at the file reads at most about 1 MiB, so the event loop is
    never held up for long; the waits are ``asyncio.sleep``.  Ends when
    ``stop`` is set or the task is cancelled.
    """
    parser = LogParser(tz)
    with LogFollower(path, from_start=from_start) as follower:
        while stop is None or not stop.is_set():
            lines = follower.poll()
            for event in _events(parser, lines, on_error):
                yield event
            if lines and follower.more_waiting:
                await asyncio.sleep(0)
            elif stop is None:
                await asyncio.sleep(poll_interval)
            else:
                try:
                    await asyncio.wait_for(stop.wait(), poll_interval)
                except TimeoutError:
                    pass
