"""The ``p0f-log`` command line: p0f's log as readable lines or JSON Lines.

::

    p0f-log /var/log/p0f.log                      # the whole file, dates as UTC
    p0f-log --json --tz Europe/Berlin p0f.log     # JSON Lines, the daemon's zone
    p0f-log --follow /var/log/p0f.log             # new lines as p0f writes them
    p0f-log --follow --from-start p0f.log         # the file so far, then follow
    zcat p0f.log.1.gz | p0f-log -                 # stdin

The conventions are ``p0f-query``'s (:mod:`p0f._console`): exit 0 when
every line was an event, 2 for a usage error or bad lines (each reported on
stderr with its line number as it is met, the run going on; stdout carries
events only), 3 when the log file cannot be read, 130 after Ctrl-C (the
way a ``--follow`` ends), 141 when the reader of stdout went away.

Everything here is presentation: parsing, following and the JSON shape all
come from :mod:`p0f.log`.
"""

from __future__ import annotations

import datetime as _dt
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import Final

from . import __version__
from ._console import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
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
    open_input,
)
from ._errors import LogFormatError
from ._log import UNKNOWN, UTC, AnyEvent, LogParser
from ._logfollow import follow_log
from ._logjson import event_to_dict

__all__ = ["PROG", "format_event", "main", "parse_zone", "run"]

PROG: Final = "p0f-log"

_OFFSET: Final = re.compile(r"([+-])(\d\d):?(\d\d)")

_EPILOG: Final = """\
p0f writes its dates in its own local time with no zone: --tz names that
zone (an IANA name such as Europe/Berlin, UTC, or an offset such as
+02:00; write --tz=-05:00 for a negative one); the default is UTC.

--json prints one JSON object per event: time (ISO 8601 with its offset),
module, client, client_port, server, server_port, subject, then the
module's values under p0f's key names (os, app, lang, link, dist,
raw_mtu, params, reason, raw_sig...) and the parsed signature.

A bad line is reported on stderr with its line number and skipped; a last
line without its newline is reported as incomplete.

exit codes: 0 every line read, 2 usage error or bad lines, 3 the log
cannot be read; 130 after Ctrl-C (how --follow ends).
"""


def parse_zone(text: str) -> _dt.tzinfo:
    """``UTC``, an IANA zone name, or a fixed offset (``+02:00``, ``-0530``)."""
    if text.upper() in ("UTC", "Z"):
        return UTC
    match = _OFFSET.fullmatch(text)
    if match is not None:
        sign, hours, minutes = match.groups()
        offset = _dt.timedelta(hours=int(hours), minutes=int(minutes))
        if offset >= _dt.timedelta(hours=24):
            raise ValueError(f"offset out of range: {text!r}")
        return _dt.timezone(-offset if sign == "-" else offset)
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone: {text!r}") from None


def format_event(event: AnyEvent) -> str:
    """One readable line: time, module, who, which end, then p0f's values."""
    values = ", ".join(f"{key}={value}" for key, value in event._fields())
    return (
        f"{event.time.isoformat(' ')} {event.module.value} "
        f"{event.client}/{event.client_port} -> {event.server}/{event.server_port} "
        f"({event.subject.value}): {values or UNKNOWN}"
    )


def _make_parser(stdout: TextSink, stderr: TextSink) -> Parser:
    parser = Parser(
        stdout,
        stderr,
        prog=PROG,
        description="Print p0f's log (p0f -o FILE) as readable lines or JSON Lines.",
        epilog=_EPILOG,
    )
    parser.add_argument("file", metavar="FILE", nargs="?", help="p0f's log file, or - for stdin")
    parser.add_argument(
        "-f", "--follow", action="store_true",
        help="keep reading new lines as p0f writes them (survives log rotation)",
    )
    parser.add_argument(
        "--from-start", action="store_true",
        help="with --follow: print the lines already in the file first",
    )
    parser.add_argument(
        "--tz", metavar="ZONE", default="UTC",
        help="the zone p0f wrote its dates in (default: UTC)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON Lines")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


class _Report:
    """Bad lines: each on stderr as met, and the count for the closing line."""

    def __init__(self, stderr: TextSink) -> None:
        self._stderr = stderr
        self.count = 0
        self.first: LogFormatError | None = None

    def __call__(self, error: LogFormatError) -> None:
        self.count += 1
        if self.first is None:
            self.first = error
        fail(self._stderr, PROG, str(error), EXIT_BAD_INPUT)

    def summary(self) -> str:
        assert self.first is not None
        first = LogFormatError(self.first.reason, self.first.line)
        return bad_input_summary(self.count, str(first), self.first.lineno, ("line", "lines"))


def _print(events: Iterable[AnyEvent], stdout: TextSink, as_json: bool, follow: bool) -> None:
    printer = Printer(stdout)
    for event in events:
        if as_json:
            printer.record(event_to_dict(event))
        else:
            stdout.write(format_event(event) + "\n")
        if follow:
            stdout.flush()  # someone is watching: show each event as it comes
    printer.flush()


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
        if args.file is None:
            parser.error("no log file: give FILE, or - for stdin")
        if args.from_start and not args.follow:
            parser.error("--from-start goes with --follow (without it the whole file is read)")
        if args.follow and args.file == STDIN:
            parser.error("--follow needs a file, not stdin")
        try:
            tz = parse_zone(args.tz)
        except ValueError as exc:
            parser.error(f"--tz: {exc}")
    except UsageExit as done:
        return done.status

    report = _Report(stderr)
    try:
        if args.follow:
            events: Iterator[AnyEvent] = follow_log(
                args.file, from_start=args.from_start, tz=tz, on_error=report
            )
            _print(events, stdout, args.json, follow=True)
        else:
            with ExitStack() as stack:
                lines = open_input(args.file, stdin, stack)
                events = LogParser(tz).parse_lines(lines, on_error=report, newline_required=True)
                _print(events, stdout, args.json, follow=False)
    except InputError as exc:
        return fail(stderr, PROG, str(exc), EXIT_FAILED)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        return fail(stderr, PROG, f"cannot read {args.file}: {exc.strerror or exc}", EXIT_FAILED)
    if report.count:
        return fail(stderr, PROG, report.summary(), EXIT_BAD_INPUT)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """The ``p0f-log`` console script; returns the exit code."""
    return console_main(PROG, run, argv)
