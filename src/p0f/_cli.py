"""The ``p0f-query`` command line: ask p0f about addresses, print what it knows.

::

    p0f-query -s /var/run/p0f.sock 192.0.2.1 ::1
    p0f-query --json -f addresses.txt        # the socket from $P0F_SOCKET
    zcat addresses.gz | p0f-query --raw      # a piped stdin is read ...
    zcat addresses.gz | p0f-query 192.0.2.1 -   # ... and so is "-"
    p0f-query --demo                         # sample answers, no daemon needed

Input is handled a chunk at a time: read up to ``--chunk-size`` addresses,
ask p0f about them in one pipelined :meth:`P0f.query_many` call, print the
answers, repeat.  Memory stays flat whatever the size of the input, and the
answers come out in the order of the input.

Exit codes: 0 every address answered; 1 p0f had no data on some; 2 a usage
error or an input line that is not an address (the other lines are still
answered); 3 p0f could not be reached or sent a broken answer (the run stops).

The command is :func:`run`, in parts that each do one job: :func:`_parse`
(arguments to :class:`_Options`), :func:`_inputs` (arguments, files and
stdin to numbered items), :func:`_start_demo` (the demo daemon),
:func:`_answer_all` (chunks through the client, to :class:`_Output`, text
or JSON) and :func:`_exit_code`.  The conventions it shares with the other
console commands live in :mod:`p0f._console`.  Everything here is
presentation: the wire format, the parsing of answers and the JSON shapes
all come from the library.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import ipaddress
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import Any, Final, Literal, NamedTuple

import attrs

from . import __version__
from ._base import CLOSE_GRACE, DEFAULT_TIMEOUT, validate_timeout
from ._codec import normalize_address
from ._console import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    STDIN,
    InputError,
    Parser,
    Printer,
    TextSink,
    TextSource,
    UsageExit,
    bad_input_summary,
    console_main,
    fail,
    numbered,
    open_input,
    positive,
    stdin_is_piped,
)
from ._console import EXIT_FAILED as EXIT_P0F_FAILED
from ._demo import DEMO_NOTICE, DemoDaemon, demo_hosts
from ._drain import EXIT_GRACE
from ._enums import BadSoftware
from ._errors import (
    InvalidAddressError,
    P0fError,
    P0fTimeoutError,
    ProtocolError,
)
from ._models import P0fResponse
from ._sync import P0f
from .converters import make_json_converter, make_raw_converter

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
    "json_record",
    "late_answer_wait",
    "main",
    "raw_fields",
    "render_text",
    "run",
]

PROG: Final = "p0f-query"

EXIT_NO_MATCH: Final = 1
"""p0f had no data on at least one address."""

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


def json_record(result: Result, fields: Fields) -> dict[str, Any]:
    """The JSON Lines record for one result.

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
    return record


def format_json(result: Result, fields: Fields) -> str:
    """:func:`json_record` as one line of JSON, without the newline."""
    return json.dumps(json_record(result, fields))


# -- input -------------------------------------------------------------------


class _Item(NamedTuple):
    text: str
    line: int | None  # for input read from a file or stdin


def _argument_items(addresses: Iterable[str]) -> Iterator[_Item]:
    for address in addresses:
        yield _Item(address, None)


def _file_items(lines: Iterable[str]) -> Iterator[_Item]:
    """The addresses of a file, one a line: blank lines and ``#`` comments skipped."""
    for number, line in numbered(lines):
        text = line.split("#", 1)[0].strip()
        if text:
            yield _Item(text, number)


def _chunks(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


@attrs.frozen
class _Options:
    """What the arguments asked for, checked."""

    #: ADDRESS arguments in order; ``-`` stands for the lines of stdin.
    addresses: tuple[str, ...]
    #: ``-f FILE`` (``-`` for stdin), read after the arguments.
    file: str | None
    #: The daemon's socket; ``None`` with ``--demo``.
    socket_path: str | None
    demo: bool
    #: How to turn an answer into JSON fields; ``None`` for text output.
    fields: Fields | None
    timeout: float
    chunk_size: int

    @property
    def explicit_input(self) -> bool:
        """Whether any address or file was given (else stdin, or the demo's)."""
        return bool(self.addresses) or self.file is not None

    @property
    def reads_stdin(self) -> bool:
        """Whether stdin is read: as ``-``, ``-f -``, or for want of input."""
        if STDIN in self.addresses or self.file == STDIN:
            return True
        return not (self.explicit_input or self.demo)

    def chunk_size_for(self, stdin: TextSource) -> int:
        """``--chunk-size``, but 1 when someone is typing the addresses:
        each line is answered at once."""
        if self.reads_stdin and not stdin_is_piped(stdin):
            return 1
        return self.chunk_size


def _parse(
    argv: Sequence[str],
    *,
    stdin: TextSource,
    stdout: TextSink,
    stderr: TextSink,
    environ: Mapping[str, str],
) -> _Options | int:
    """The checked options, or the exit code when there is nothing to run
    (``--help``, ``--version``, a usage error)."""
    parser = _make_parser(stdout, stderr)
    try:
        args = parser.parse_args(argv)
        if args.version:
            stdout.write(f"{PROG} {__version__}\n")
            return EXIT_OK
        socket_path: str | None = args.socket or environ.get("P0F_SOCKET") or None
        _check(parser, args, socket_path, stdin)
    except UsageExit as done:
        return done.status
    return _Options(
        addresses=tuple(args.addresses),
        file=args.file,
        socket_path=None if args.demo else socket_path,
        demo=args.demo,
        fields=_fields(args),
        timeout=args.timeout,
        chunk_size=args.chunk_size,
    )


def _check(
    parser: Parser, args: argparse.Namespace, socket_path: str | None, stdin: TextSource
) -> None:
    """What argparse cannot check: a daemon, something to read, stdin once."""
    if not args.demo and socket_path is None:
        parser.error("no socket: give -s SOCKET or set P0F_SOCKET, or try --demo")
    if args.addresses.count(STDIN) + (args.file == STDIN) > 1:
        parser.error("stdin ('-') can be read only once")
    if not (args.demo or args.addresses or args.file is not None or stdin_is_piped(stdin)):
        parser.error("no address: give ADDRESS..., -f FILE, or pipe addresses to stdin")


def _fields(args: argparse.Namespace) -> Fields | None:
    """JSON fields for ``--raw`` (which wins) or ``--json``; ``None`` for text."""
    if args.raw:
        return raw_fields()
    return json_fields() if args.json else None


def _inputs(options: _Options, stdin: TextSource, stack: ExitStack) -> Iterator[_Item]:
    """The input in order: the arguments (``-`` being stdin), then ``-f``;
    with neither, a piped stdin.  Opens ``-f FILE`` now: :class:`InputError`."""
    sources: list[Iterable[_Item]] = [
        _file_items(stdin) if address == STDIN else [_Item(address, None)]
        for address in options.addresses
    ]
    if options.file is not None:
        sources.append(_file_items(open_input(options.file, stdin, stack)))
    if not (options.explicit_input or options.demo):
        sources.append(_file_items(stdin))  # _parse checked that it is piped
    return itertools.chain.from_iterable(sources)


def _start_demo(stack: ExitStack, stderr: TextSink) -> tuple[str, list[str]]:
    """Start the demo daemon (stopped with ``stack``) and say so on stderr;
    returns its socket path and the sample addresses."""
    hosts = demo_hosts()
    daemon = stack.enter_context(DemoDaemon(hosts))
    stderr.write(f"{PROG}: {DEMO_NOTICE}\n")
    return daemon.socket_path, [address for address, _ in hosts]


# -- querying and output -----------------------------------------------------


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


class _Output:
    """Prints results as text blocks, or as JSON Lines records of ``fields``."""

    def __init__(self, stdout: TextSink, fields: Fields | None) -> None:
        self._printer = Printer(stdout)
        self._fields = fields

    def write(self, result: Result) -> None:
        if self._fields is None:
            self._printer.block(format_text(result))
        else:
            self._printer.record(json_record(result, self._fields))

    def flush(self) -> None:
        self._printer.flush()


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


def _answer_all(
    client: P0f,
    items: Iterable[_Item],
    chunk_size: int,
    output: _Output,
    progress: _Progress,
    tally: _Tally,
) -> None:
    """Read, ask and print a chunk at a time, counting in ``tally``;
    p0f's failures propagate, after the chunks already printed."""
    for chunk in _chunks(items, chunk_size):
        for result in answer_chunk(client, chunk):
            tally.add(result)
            output.write(result)
        output.flush()
        progress.update(tally.done)


# -- exit codes and errors ---------------------------------------------------


def late_answer_wait(timeout: float) -> float:
    """The longest ``p0f-query`` waits, after a timeout, before it exits.

    ``close()`` waits up to ``max(1 s, timeout)`` for the answers p0f still
    owes, then the interpreter up to its exit grace (2 s): closing with
    answers owed can kill p0f (SIGPIPE).
    """
    return max(CLOSE_GRACE, timeout) + EXIT_GRACE


_WAIT_FORMULA: Final = f"max({CLOSE_GRACE:g}, SECONDS) + {EXIT_GRACE:g}"
""":func:`late_answer_wait` as ``--help`` writes it."""


def _describe(exc: P0fError, timeout: float) -> str:
    if isinstance(exc, ProtocolError):
        return f"p0f broke the protocol: {exc}"
    if isinstance(exc, P0fTimeoutError):
        return (
            f"{exc}; waiting up to {late_answer_wait(timeout):g} s more for the "
            f"answers p0f still owes before exiting (closing sooner can kill p0f)"
        )
    return str(exc)


def _exit_code(tally: _Tally, stderr: TextSink) -> int:
    """0, 1 (no match) or 2 (bad input, summed up on stderr) for a whole run."""
    bad = tally.first_bad
    if bad is not None:
        assert bad.error is not None
        summary = bad_input_summary(tally.bad, bad.error, bad.line, ("address", "addresses"))
        return fail(stderr, PROG, summary, EXIT_BAD_INPUT)
    return EXIT_NO_MATCH if tally.no_match else EXIT_OK


# -- arguments ---------------------------------------------------------------


_EPILOG: Final = """\
addresses may be IPv4 or IPv6 in any form (::1, ::ffff:192.0.2.1,
2001:db8:0:0:0:0:0:1); times are printed in UTC.  ADDRESS '-' reads
addresses from stdin, one a line; with no ADDRESS and no -f, a piped
stdin is read (a terminal is not: that is a usage error).

--json and --raw print one JSON object per address per line, with
"address" (as given), "queried" (what p0f was asked) and "result"
("ok", "no_match" or "error"); --json adds the parsed values, --raw the
values exactly as p0f sent them.

after a timeout, p0f-query reports it at once, but exits only once p0f
has sent the answers it still owes, or after waiting up to
{wait} seconds more: closing a connection with answers
owed can kill p0f.

exit codes: 0 all answered, 1 some had no match, 2 usage error or a bad
input line, 3 p0f unreachable, timed out or protocol error.
"""


def _seconds(text: str) -> float:
    """``-t``: a number, checked by the clients' own timeout check."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    try:
        return validate_timeout(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _make_parser(stdout: TextSink, stderr: TextSink) -> Parser:
    parser = Parser(
        stdout,
        stderr,
        prog=PROG,
        description="Ask the p0f daemon what it knows about hosts.",
        epilog=_EPILOG.format(wait=_WAIT_FORMULA),
    )
    parser.add_argument(
        "addresses",
        nargs="*",
        metavar="ADDRESS",
        help="an IPv4 or IPv6 address; '-' for addresses from stdin",
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
        "(all of them if no ADDRESS or -f is given)",
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
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"how long to wait for p0f (default: {DEFAULT_TIMEOUT:g}); after a "
        f"timeout, exiting waits up to {_WAIT_FORMULA} s more for p0f's "
        "late answers",
    )
    parser.add_argument(
        "--chunk-size",
        type=positive(int, "a whole number"),
        default=DEFAULT_CHUNK,
        metavar="N",
        help=f"addresses asked about at a time (default: {DEFAULT_CHUNK})",
    )
    parser.add_argument(
        "--version", action="store_true", help="print the version and exit"
    )
    return parser


# -- the command -------------------------------------------------------------


def _query(
    options: _Options,
    socket_path: str,
    items: Iterable[_Item],
    stack: ExitStack,
    *,
    stdin: TextSource,
    stdout: TextSink,
    stderr: TextSink,
) -> int:
    """Answer every item through a client closed with ``stack``; the exit code."""
    client = stack.enter_context(P0f(socket_path, timeout=options.timeout))
    chunk_size = options.chunk_size_for(stdin)
    output = _Output(stdout, options.fields)
    progress = _Progress(stderr, stderr.isatty() and not stdout.isatty())
    tally = _Tally()
    try:
        _answer_all(client, items, chunk_size, output, progress, tally)
    except P0fError as exc:
        output.flush()
        progress.finish(tally.done)
        # Said before the client closes: closing may wait for owed answers.
        status = fail(stderr, PROG, _describe(exc, options.timeout), EXIT_P0F_FAILED)
        stderr.flush()
        return status
    progress.finish(tally.done)
    return _exit_code(tally, stderr)


def run(
    argv: Sequence[str],
    *,
    stdin: TextSource,
    stdout: TextSink,
    stderr: TextSink,
    environ: Mapping[str, str],
) -> int:
    """The whole command, on the streams given; returns the exit code."""
    options = _parse(argv, stdin=stdin, stdout=stdout, stderr=stderr, environ=environ)
    if isinstance(options, int):
        return options
    with ExitStack() as stack:
        try:
            items = _inputs(options, stdin, stack)
        except InputError as exc:
            return fail(stderr, PROG, str(exc), EXIT_BAD_INPUT)
        socket_path = options.socket_path
        if options.demo:
            try:
                socket_path, samples = _start_demo(stack, stderr)
            except OSError as exc:  # e.g. $TMPDIR too long for a socket path
                message = f"cannot start the demo daemon: {exc}"
                return fail(stderr, PROG, message, EXIT_P0F_FAILED)
            if not options.explicit_input:
                items = _argument_items(samples)
        assert socket_path is not None
        return _query(
            options, socket_path, items, stack, stdin=stdin, stdout=stdout, stderr=stderr
        )


def main(argv: Sequence[str] | None = None) -> int:
    """The ``p0f-query`` console script; returns the exit code."""
    return console_main(PROG, run, argv)
