"""The ``p0f-query`` command line: ask p0f about addresses, print what it knows.

::

    p0f-query -s /var/run/p0f.sock 192.0.2.1 ::1
    p0f-query --json -f addresses.txt        # the socket from $P0F_SOCKET
    zcat addresses.gz | p0f-query --raw -f -
    p0f-query --demo                         # sample answers, no daemon needed

Input is handled a chunk at a time: read up to ``--chunk-size`` addresses,
ask p0f about them in one pipelined :meth:`P0f.query_many` call, print the
answers, repeat.  Memory stays flat whatever the size of the input, and the
answers come out in the order of the input.

Exit codes: 0 every address answered; 1 p0f had no data on some; 2 a usage
error or an input line that is not an address (the other lines are still
answered); 3 p0f could not be reached or sent a broken answer (the run stops).

Everything here is presentation: the wire format, the parsing of answers and
the JSON shapes all come from the library.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import ipaddress
import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, NoReturn, Protocol

import attrs

from . import __version__
from ._base import DEFAULT_TIMEOUT
from ._codec import normalize_address
from ._demo import DEMO_NOTICE, demo_hosts
from ._enums import BadSoftware
from ._errors import (
    InvalidAddressError,
    P0fConnectionError,
    P0fError,
    ProtocolError,
)
from ._models import P0fResponse
from ._sync import P0f
from .converters import make_json_converter, make_raw_converter

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = [
    "DEFAULT_CHUNK",
    "EXIT_BAD_INPUT",
    "EXIT_NO_MATCH",
    "EXIT_OK",
    "EXIT_P0F_FAILED",
    "PROGRESS_AFTER",
    "Fields",
    "Outcome",
    "Result",
    "TextSink",
    "TextSource",
    "answer_chunk",
    "format_json",
    "format_text",
    "format_time",
    "json_fields",
    "main",
    "raw_fields",
    "render_text",
    "run",
]

PROG: Final = "p0f-query"

EXIT_OK: Final = 0
"""Every address was answered."""
EXIT_NO_MATCH: Final = 1
"""p0f had no data on at least one address."""
EXIT_BAD_INPUT: Final = 2
"""A usage error, or an input line that is not an address."""
EXIT_P0F_FAILED: Final = 3
"""p0f could not be reached, timed out or broke the protocol."""
_EXIT_BROKEN_PIPE: Final = 128 + 13  # what a shell reports for SIGPIPE
_EXIT_INTERRUPTED: Final = 128 + 2  # ... and for SIGINT

DEFAULT_CHUNK: Final = 1000
"""Addresses read, asked about and printed at a time."""

PROGRESS_AFTER: Final = 10_000
"""Show progress (on a terminal) once this many addresses are done."""
_PROGRESS_EVERY: Final = 0.25  # seconds between progress updates

_UNKNOWN: Final = "???"
_SOFTWARE_VERDICT: Final = {
    BadSoftware.NONE: "seems legit",
    BadSoftware.OS_MISMATCH: "OS mismatch",
    BadSoftware.FAKE: "is fake",
}


class TextSink(Protocol):
    """Where output goes: ``sys.stdout``, ``sys.stderr`` or an ``io.StringIO``."""

    def write(self, text: str, /) -> object: ...
    def flush(self) -> object: ...
    def isatty(self) -> bool: ...


class TextSource(Protocol):
    """Where ``-f -`` reads lines from: ``sys.stdin`` or an ``io.StringIO``."""

    def __iter__(self) -> Iterator[str]: ...
    def isatty(self) -> bool: ...


# -- rendering ---------------------------------------------------------------


Outcome = Literal["ok", "no_match", "error"]


@attrs.frozen
class Result:
    """What the command line learned about one input address."""

    #: The address as the input gave it.
    address: str
    #: What p0f was asked about (``::ffff:192.0.2.1`` becomes ``192.0.2.1``);
    #: ``None`` when the input is not an address.
    queried: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    #: p0f's answer; ``None`` for "no match" and for bad input.
    response: P0fResponse | None = None
    #: Why the input is not an address, or ``None``.
    error: str | None = None
    #: The input line (for a bad line read from a file), or ``None``.
    line: int | None = None

    @property
    def outcome(self) -> Outcome:
        """``"ok"``, ``"no_match"`` or ``"error"`` (the input is no address)."""
        if self.error is not None:
            return "error"
        return "no_match" if self.response is None else "ok"


def format_time(moment: _dt.datetime) -> str:
    """``2026-11-26 23:04:05 UTC``: whatever the local time zone is."""
    return moment.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _block(rows: Iterable[tuple[str, str]]) -> str:
    # p0f-client's layout: "First seen    = ...".
    return "".join(f"{key:<13} = {value}\n" for key, value in rows)


def _os_text(response: P0fResponse) -> str:
    if response.os_name is None:
        return _UNKNOWN
    text = " ".join(filter(None, (response.os_name, response.os_flavor)))
    quality = response.os_match_q
    if quality.is_generic:
        text += " [generic]"
    if quality.is_fuzzy:
        text += " [fuzzy]"
    return text


def _http_text(response: P0fResponse) -> str:
    if response.http_name is None:
        return _UNKNOWN
    text = " ".join(filter(None, (response.http_name, response.http_flavor)))
    return f"{text} (ID {_SOFTWARE_VERDICT[response.bad_sw]})"


def _uptime_text(minutes: int, wraps: _dt.timedelta | None) -> str:
    text = f"{minutes // 1440} days {minutes // 60 % 24} hrs {minutes % 60} min"
    if wraps is not None:
        text += f" (modulo {wraps.days} days)"
    return text


def render_text(address: str, response: P0fResponse) -> str:
    """A readable block about one host, laid out like p0f's own ``p0f-client``.

    Unknown values read ``???``; the lines for NAT, OS change and uptime are
    left out when p0f saw none.  Times are in UTC and say so.
    """
    rows = [
        ("Address", address),
        ("First seen", format_time(response.first_seen)),
        ("Last update", format_time(response.last_seen)),
        ("Total flows", str(response.total_conn)),
        ("Detected OS", _os_text(response)),
        ("HTTP software", _http_text(response)),
        ("Network link", response.link_type or _UNKNOWN),
        ("Language", response.language or _UNKNOWN),
        ("Distance", _UNKNOWN if response.distance is None else str(response.distance)),
    ]
    if response.last_nat is not None:
        rows.append(("IP sharing", format_time(response.last_nat)))
    if response.last_chg is not None:
        rows.append(("Sys change", format_time(response.last_chg)))
    if response.uptime_min is not None:
        rows.append(("Uptime", _uptime_text(response.uptime_min, response.up_mod_days)))
    return _block(rows)


def _shown(text: str) -> str:
    # An input line is echoed to a terminal: escape what is not printable.
    return text if text.isprintable() else repr(text)[1:-1]


def format_text(result: Result) -> str:
    """The text block for one result: an answer, "no match" or bad input."""
    label = _shown(result.address)
    if result.queried is not None and str(result.queried) != result.address:
        label += f" (queried as {result.queried})"
    if result.response is not None:
        return render_text(label, result.response)
    if result.error is not None:
        where = "" if result.line is None else f"line {result.line}: "
        return _block([("Address", label), ("Result", f"error: {where}{result.error}")])
    return _block([("Address", label), ("Result", "no matching host in p0f cache")])


Fields = Callable[[P0fResponse], Mapping[str, Any]]
"""Turns an answer into the JSON fields of its record."""


def json_fields() -> Fields:
    """The parsed values, shaped by :func:`p0f.converters.make_json_converter`."""
    converter = make_json_converter()

    def fields(response: P0fResponse) -> Mapping[str, Any]:
        data: Mapping[str, Any] = converter.unstructure(response)
        return data

    return fields


def raw_fields() -> Fields:
    """The wire values, shaped by :func:`p0f.converters.make_raw_converter`."""
    converter = make_raw_converter()

    def fields(response: P0fResponse) -> Mapping[str, Any]:
        data: Mapping[str, Any] = converter.unstructure(response.raw)
        return data

    return fields


def format_json(result: Result, fields: Fields) -> str:
    """One JSON Lines record (without the newline) for one result.

    ``address`` is the input as given, ``queried`` what p0f was asked about,
    ``result`` one of ``ok``, ``no_match`` or ``error``.  An ``ok`` record
    adds the answer's ``fields``; an ``error`` record adds ``error`` and,
    for a line of a file, ``line``.  (The key is ``result``, not ``status``,
    because the raw fields already have a ``status``: the wire value.)
    """
    record: dict[str, Any] = {"address": result.address}
    if result.queried is not None:
        record["queried"] = str(result.queried)
    record["result"] = result.outcome
    if result.error is not None:
        record["error"] = result.error
        if result.line is not None:
            record["line"] = result.line
    elif result.response is not None:
        record.update(fields(result.response))
    return json.dumps(record)


# -- input and querying ------------------------------------------------------


class _Item(NamedTuple):
    text: str
    line: int | None  # for input read from a file


def _argument_items(addresses: Iterable[str]) -> Iterator[_Item]:
    for address in addresses:
        yield _Item(address, None)


def _file_items(lines: Iterable[str]) -> Iterator[_Item]:
    """The addresses of a file, one a line: blank lines and ``#`` comments skipped."""
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if text:
            yield _Item(text, number)


def _chunks(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def answer_chunk(client: P0f, items: Sequence[_Item]) -> list[Result]:
    """Ask p0f about a chunk of input in one pipelined call; results in order.

    An input that is not an address becomes an ``error`` result and is not
    sent.  p0f's failures propagate (:class:`P0fError`).
    """
    parsed: list[tuple[_Item, ipaddress.IPv4Address | ipaddress.IPv6Address | str]] = []
    for item in items:
        try:
            parsed.append((item, normalize_address(item.text)))
        except InvalidAddressError as exc:
            parsed.append((item, str(exc)))
    answers = iter(client.query_many([q for _, q in parsed if not isinstance(q, str)]))
    return [
        Result(item.text, error=queried, line=item.line)
        if isinstance(queried, str)
        else Result(item.text, queried, next(answers))
        for item, queried in parsed
    ]


class _Progress:
    """A line on a terminal's stderr counting addresses done, for long runs."""

    def __init__(self, stream: TextSink, enabled: bool) -> None:
        self._stream = stream
        self._enabled = enabled
        self._next = 0.0
        self._shown = False

    def update(self, done: int) -> None:
        if not self._enabled or done < PROGRESS_AFTER:
            return
        now = time.monotonic()
        if now >= self._next:
            self._next = now + _PROGRESS_EVERY
            self._stream.write(f"\r{PROG}: {done:,} addresses done")
            self._stream.flush()
            self._shown = True

    def finish(self, done: int) -> None:
        if self._shown:
            self._stream.write(f"\r{PROG}: {done:,} addresses done\n")
            self._stream.flush()


@attrs.define
class _Tally:
    ok: int = 0
    no_match: int = 0
    bad: int = 0
    first_bad: Result | None = None

    @property
    def done(self) -> int:
        return self.ok + self.no_match + self.bad

    def add(self, result: Result) -> None:
        outcome = result.outcome
        if outcome == "ok":
            self.ok += 1
        elif outcome == "no_match":
            self.no_match += 1
        else:
            self.bad += 1
            if self.first_bad is None:
                self.first_bad = result


# -- arguments ---------------------------------------------------------------


class _ParserExit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    """argparse, writing to the streams given and never calling ``sys.exit``.

    Errors take one line, as every other error of this command does.
    """

    def __init__(self, stdout: TextSink, stderr: TextSink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stdout = stdout
        self.stderr = stderr

    def print_usage(self, file: SupportsWrite[str] | None = None) -> None:
        (file or self.stdout).write(self.format_usage())

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        (file or self.stdout).write(self.format_help())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.stderr.write(message)
        raise _ParserExit(status)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see --help)\n")


def _positive(kind: Callable[[str], float], what: str) -> Callable[[str], Any]:
    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
        return value

    return convert


_EPILOG: Final = """\
addresses may be IPv4 or IPv6 in any form (::1, ::ffff:192.0.2.1,
2001:db8:0:0:0:0:0:1); times are printed in UTC.

--json and --raw print one JSON object per address per line, with
"address" (as given), "queried" (what p0f was asked) and "result"
("ok", "no_match" or "error"); --json adds the parsed values, --raw the
values exactly as p0f sent them.

exit codes: 0 all answered, 1 some had no match, 2 usage error or a bad
input line, 3 p0f unreachable or protocol error.
"""


def _make_parser(stdout: TextSink, stderr: TextSink) -> _Parser:
    parser = _Parser(
        stdout,
        stderr,
        prog=PROG,
        description="Ask the p0f daemon what it knows about hosts.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "addresses", nargs="*", metavar="ADDRESS", help="an IPv4 or IPv6 address"
    )
    parser.add_argument(
        "-f",
        "--file",
        metavar="FILE",
        help="also read addresses from FILE ('-' for stdin), one a line; "
        "blank lines and # comments are skipped",
    )
    daemon = parser.add_mutually_exclusive_group()
    daemon.add_argument(
        "-s",
        "--socket",
        metavar="SOCKET",
        help="p0f's API socket (p0f -s SOCKET); default: $P0F_SOCKET",
    )
    daemon.add_argument(
        "--demo",
        action="store_true",
        help="answer from a built-in fake p0f with sample hosts "
        "(all of them if no address is given)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON Lines of the parsed answers"
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="print JSON Lines of the values as p0f sent them",
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=_positive(float, "a number"),
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for p0f (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--chunk-size",
        type=_positive(int, "a whole number"),
        default=DEFAULT_CHUNK,
        metavar="N",
        help=f"addresses asked about at a time (default: {DEFAULT_CHUNK})",
    )
    parser.add_argument(
        "--version", action="store_true", help="print the version and exit"
    )
    return parser


# -- the command -------------------------------------------------------------


def _fail(stderr: TextSink, message: str, status: int) -> int:
    stderr.write(f"{PROG}: {message}\n")
    return status


def _describe(exc: P0fError) -> str:
    if isinstance(exc, ProtocolError):
        return f"p0f broke the protocol: {exc}"
    if isinstance(exc, P0fConnectionError) and exc.strerror:
        # Built as OSError(errno, message): str() would add "[Errno 2] ".
        return exc.strerror
    return str(exc)


def run(
    argv: Sequence[str],
    *,
    stdin: TextSource,
    stdout: TextSink,
    stderr: TextSink,
    environ: Mapping[str, str],
) -> int:
    """The whole command, on the streams given; returns the exit code."""
    parser = _make_parser(stdout, stderr)
    try:
        args = parser.parse_args(argv)
        if args.version:
            stdout.write(f"{PROG} {__version__}\n")
            return EXIT_OK
        socket_path: str | None = args.socket or environ.get("P0F_SOCKET") or None
        if not args.demo and socket_path is None:
            parser.error("no socket: give -s SOCKET or set P0F_SOCKET, or try --demo")
        if not (args.demo or args.addresses or args.file):
            parser.error("no address: give ADDRESS..., -f FILE, or -f - for stdin")
    except _ParserExit as done:
        return done.status

    if args.raw:
        fields = raw_fields()
    elif args.json:
        fields = json_fields()
    else:
        fields = None
    chunk_size: int = args.chunk_size

    with ExitStack() as stack:
        items: Iterator[_Item] = _argument_items(args.addresses)
        if args.file == "-":
            items = itertools.chain(items, _file_items(stdin))
            if stdin.isatty():
                chunk_size = 1  # someone is typing: answer each line at once
        elif args.file is not None:
            try:
                lines = stack.enter_context(
                    open(args.file, encoding="utf-8", errors="replace")
                )
            except OSError as exc:
                return _fail(
                    stderr, f"cannot read {args.file}: {exc.strerror}", EXIT_BAD_INPUT
                )
            items = itertools.chain(items, _file_items(lines))

        if args.demo:
            from .testing import FakeP0f  # only the demo needs the fake daemon

            fake = stack.enter_context(FakeP0f())
            hosts = demo_hosts()
            for address, answer in hosts:
                fake.add_host(address, answer)
            socket_path = fake.socket_path
            stderr.write(f"{PROG}: {DEMO_NOTICE}\n")
            if not (args.addresses or args.file):
                items = _argument_items(address for address, _ in hosts)

        assert socket_path is not None
        client = stack.enter_context(P0f(socket_path, timeout=args.timeout))
        progress = _Progress(stderr, stderr.isatty() and not stdout.isatty())
        tally = _Tally()
        first = True
        try:
            for chunk in _chunks(items, chunk_size):
                for result in answer_chunk(client, chunk):
                    tally.add(result)
                    if fields is not None:
                        stdout.write(format_json(result, fields) + "\n")
                    else:
                        if not first:
                            stdout.write("\n")
                        stdout.write(format_text(result))
                    first = False
                stdout.flush()
                progress.update(tally.done)
        except P0fError as exc:
            stdout.flush()
            progress.finish(tally.done)
            return _fail(stderr, _describe(exc), EXIT_P0F_FAILED)
        progress.finish(tally.done)

    if tally.first_bad is not None:
        bad = tally.first_bad
        where = "" if bad.line is None else f" on line {bad.line}"
        if tally.bad == 1:
            message = f"1 bad address{where}: {bad.error}"
        else:
            message = f"{tally.bad} bad addresses, the first{where}: {bad.error}"
        return _fail(stderr, message, EXIT_BAD_INPUT)
    return EXIT_NO_MATCH if tally.no_match else EXIT_OK


def _silence_stdout() -> None:
    # The reader went away (``p0f-query ... | head``): point stdout at
    # /dev/null so the interpreter's final flush does not fail again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """The ``p0f-query`` console script; returns the exit code."""
    if isinstance(sys.stdin, io.TextIOWrapper):
        # An undecodable line should be reported as a bad line, not crash.
        sys.stdin.reconfigure(errors="replace")
    try:
        return run(
            sys.argv[1:] if argv is None else argv,
            stdin=sys.stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            environ=os.environ,
        )
    except BrokenPipeError:
        _silence_stdout()
        return _EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{PROG}: interrupted\n")
        return _EXIT_INTERRUPTED
