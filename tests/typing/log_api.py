"""What users' code sees of ``p0f.log``: checked by mypy, never run by pytest."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import threading
import zoneinfo
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, assert_type

import cattrs

from p0f import LogFormatError, P0fError
from p0f.log import (
    AnyEvent,
    Distance,
    HostChangeEvent,
    HttpEvent,
    HttpHeader,
    HttpParam,
    HttpSignature,
    LogEvent,
    LogFollower,
    LogLine,
    LogParser,
    Module,
    MtuEvent,
    PayloadClass,
    Quirk,
    Reason,
    Subject,
    TcpEvent,
    TcpParam,
    TcpSignature,
    UptimeEvent,
    WindowType,
    event_to_dict,
    follow_log,
    follow_log_async,
    make_log_json_converter,
    parse_line,
    parse_lines,
    read_log,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def parsing(line: str, lines: list[str]) -> None:
    event = parse_line(line)
    assert_type(event, AnyEvent)
    assert_type(parse_line(line, tz=zoneinfo.ZoneInfo("Europe/Berlin")), AnyEvent)
    assert_type(parse_lines(lines), Iterator[AnyEvent])
    errors: list[LogFormatError] = []
    assert_type(parse_lines(lines, on_error=errors.append), Iterator[AnyEvent])
    parser = LogParser(dt.timezone.utc)
    assert_type(parser.parse(line), AnyEvent)
    assert_type(parser.tz, dt.tzinfo)

    assert_type(event.time, dt.datetime)
    assert_type(event.module, Module)
    assert_type(event.client, IPAddress)
    assert_type(event.client_port, int)
    assert_type(event.server, IPAddress)
    assert_type(event.subject, Subject)
    assert_type(event.host, IPAddress)
    assert_type(event.to_line(), str)

    if isinstance(event, TcpEvent):
        assert_type(event.os, str | None)
        assert_type(event.app, str | None)
        assert_type(event.distance, Distance)
        assert_type(event.distance.hops, int)
        assert_type(event.distance.at_most, bool)
        assert_type(event.params, frozenset[TcpParam])
        assert_type(event.tos, int | None)
        assert_type(event.raw_sig, str)
        sig = event.signature
        assert_type(sig, TcpSignature)
        assert_type(sig.ttl_distance, int | None)
        assert_type(sig.initial_ttl, int | None)
        assert_type(sig.mss, int | None)
        assert_type(sig.window_type, WindowType)
        assert_type(sig.options, tuple[int, ...])
        assert_type(sig.quirks, frozenset[Quirk])
        assert_type(sig.payload, PayloadClass)
    elif isinstance(event, MtuEvent):
        assert_type(event.link, str | None)
        assert_type(event.mtu, int)
    elif isinstance(event, UptimeEvent):
        assert_type(event.uptime, dt.timedelta)
        assert_type(event.modulo, dt.timedelta)
        assert_type(event.frequency, float)
        assert_type(event.uptime_min, int)
    elif isinstance(event, HttpEvent):
        assert_type(event.lang, str | None)
        assert_type(event.language, str | None)
        assert_type(event.params, frozenset[HttpParam])
        assert_type(event.signature, HttpSignature)
        assert_type(event.signature.headers, tuple[HttpHeader, ...])
        assert_type(event.signature.software, str | None)
    else:
        assert_type(event, HostChangeEvent)
        assert_type(event.reasons, frozenset[Reason])
        assert_type(event.raw_hits, tuple[int, int, int, int])


def errors(line: str) -> None:
    try:
        parse_line(line)
    except LogFormatError as error:
        assert_type(error.reason, str)
        assert_type(error.line, str)
        assert_type(error.lineno, int | None)
        assert isinstance(error, ValueError) and isinstance(error, P0fError)


def files(path: Path, stop: threading.Event) -> None:
    assert_type(read_log(path), Iterator[AnyEvent])
    assert_type(read_log("p0f.log", tz=dt.timezone.utc), Iterator[AnyEvent])
    assert_type(follow_log(path, from_start=True, stop=stop), Iterator[AnyEvent])
    with LogFollower(path) as follower:
        assert_type(follower.poll(), list[LogLine])


async def following(path: Path, stop: asyncio.Event) -> None:
    assert_type(follow_log_async(path, stop=stop), AsyncIterator[AnyEvent])
    async for event in follow_log_async(path):
        assert_type(event, AnyEvent)


def converting(event: AnyEvent) -> None:
    converter = make_log_json_converter()
    assert_type(converter, cattrs.Converter)
    data: dict[str, Any] = event_to_dict(event)
    assert_type(converter.structure(data, LogEvent), LogEvent)
