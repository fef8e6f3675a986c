"""What users' code sees: checked by mypy, never run by pytest."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import assert_type

import p0f
from p0f import (
    BadSoftware,
    MatchQuality,
    NoMatchError,
    P0f,
    P0fError,
    P0fException,
    P0fResponse,
    RawResponse,
)


def sync_api(client: P0f, flag: bool) -> None:
    answer = client.query("192.0.2.1")
    assert_type(answer, P0fResponse)
    assert_type(client.query(ipaddress.IPv6Address("::1")), P0fResponse)
    assert_type(client.get_info("192.0.2.1"), P0fResponse)
    assert_type(client.get_info("192.0.2.1", False), P0fResponse)
    assert_type(client.get_info("192.0.2.1", True), RawResponse)
    assert_type(client.get_info("192.0.2.1", return_raw_data=True), RawResponse)
    assert_type(client.get_info("192.0.2.1", flag), P0fResponse | RawResponse)
    assert_type(client.query_many(["192.0.2.1"]), list[P0fResponse | None])
    with P0f("/run/p0f.sock", timeout=0.5) as scoped:
        assert_type(scoped, P0f)


def records(answer: P0fResponse) -> None:
    assert_type(answer.raw, RawResponse)
    assert_type(answer.first_seen, dt.datetime)
    assert_type(answer.last_nat, dt.datetime | None)
    assert_type(answer.uptime, dt.timedelta | None)
    assert_type(answer.uptime_min, int | None)
    assert_type(answer.uptime_sec, int | None)
    assert_type(answer.distance, int | None)
    assert_type(answer.os_name, str | None)
    assert_type(answer.bad_sw, BadSoftware)
    assert_type(answer.os_match_q, MatchQuality)
    assert_type(answer.os_match_q.is_fuzzy, bool)
    assert_type(answer.os_match_q.is_generic, bool)
    assert_type(answer["first_seen"], dt.datetime)
    assert_type(answer["os_name"], str | None)
    assert_type(answer["bad_sw"], BadSoftware)
    assert_type(answer.raw.os_name, str)
    assert_type(answer.raw.distance, int)
    assert_type(answer.raw.status, int)
    assert_type(answer.raw["os_name"], str)
    assert_type(answer.raw["last_seen"], int)
    assert_type(answer["uptime"], dt.timedelta | None)
    assert_type(answer["raw"], RawResponse)
    assert_type(answer.to_raw(), RawResponse)
    assert_type(P0fResponse.from_raw(answer.raw), P0fResponse)
    assert_type(RawResponse.from_bytes(answer.raw.to_bytes()), RawResponse)
    # Plain slotted records: mypy knows every attribute, and no other.
    answer.no_such  # type: ignore[attr-defined]  # the point: not an attribute
    answer.raw.no_such  # type: ignore[attr-defined]  # the point: not an attribute


def converters(answer: P0fResponse) -> None:
    from p0f.converters import make_json_converter, make_parsing_converter

    assert_type(make_parsing_converter().structure(answer.raw, P0fResponse), P0fResponse)
    assert_type(make_json_converter().structure({}, P0fResponse), P0fResponse)


def errors() -> None:
    try:
        P0f("/run/p0f.sock").query("192.0.2.1")
    except NoMatchError as exc:
        assert_type(exc, NoMatchError)
        key_error: KeyError = exc
        root: P0fError = exc
        del key_error, root
    assert_type(P0fException, type[P0fError])
    assert_type(p0f.encode_query("192.0.2.1"), bytes)
    assert_type(p0f.decode_response(b""), RawResponse)


def idle_and_connection_errors() -> None:
    client = P0f("/run/p0f.sock", timeout=0.5, idle_timeout=0)
    assert_type(client.idle_timeout, float | None)
    assert_type(p0f.AsyncP0f("/run/p0f.sock", idle_timeout=30.0).idle_timeout, float | None)
    try:
        client.query("192.0.2.1")
    except p0f.P0fConnectError as exc:
        connection: p0f.P0fConnectionError = exc
        os_error: OSError = exc
        assert_type(exc.errno, int | None)
        del connection, os_error
    except p0f.P0fConnectionLostError as exc:
        lost: p0f.P0fConnectionError = exc
        del lost
