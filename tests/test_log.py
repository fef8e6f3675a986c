"""p0f's log as typed events: the parser, on lines the real daemon wrote and
on every event hypothesis can make."""

from __future__ import annotations

import datetime as dt
import ipaddress
import zoneinfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from p0f import LogFormatError, P0fError
from p0f.log import (
    AnyEvent,
    Distance,
    HostChangeEvent,
    HttpEvent,
    HttpHeader,
    HttpParam,
    HttpSignature,
    LogParser,
    Module,
    MtuEvent,
    PayloadClass,
    Quirk,
    Reason,
    Subject,
    TcpEvent,
    TcpOption,
    TcpParam,
    TcpSignature,
    UptimeEvent,
    WindowType,
    p0f_address,
    parse_line,
    parse_lines,
)

from .strategies import log_events

UTC = dt.timezone.utc

# Lines the real p0f 3.09b wrote (tests/real scenarios, TZ=UTC).
SYN = (
    "[2026/11/27 07:06:17] mod=syn|cli=127.160.77.1/35815|srv=127.0.0.1/80|subj=cli|"
    "os=Windows 7 or 8|dist=0|params=none|"
    "raw_sig=4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0"
)
SYN_UNKNOWN = (
    "[2026/11/27 07:06:17] mod=syn|cli=127.181.142.10/33150|srv=127.0.0.1/80|subj=cli|"
    "os=???|dist=55|params=excess_dist|raw_sig=4:200+?:0:1460:1234,5:mss,nop,nop,ws,eol+2:df,id+:0"
)
SYN_IPV6 = (
    "[2026/11/27 07:06:17] mod=syn|cli=fd00:0:0:0:0:0:7e55:f/22573|srv=0:0:0:0:0:0:0:1/80|"
    "subj=cli|os=Linux 3.11 and newer|dist=0|params=none|"
    "raw_sig=6:64+0:0:1440:mss*20,7:mss,sok,ts,nop,ws::0"
)
SYN_ACK = (
    "[2026/11/27 07:06:18] mod=syn+ack|cli=127.181.142.18/28467|srv=127.0.0.1/80|subj=srv|"
    "os=???|dist=0|params=none|raw_sig=4:64+0:0:65495:43690,7:mss,sok,ts,nop,ws:df,id+:0"
)
MTU = (
    "[2026/11/27 07:06:17] mod=mtu|cli=127.181.142.13/23599|srv=127.0.0.1/80|subj=cli|"
    "link=generic tunnel or VPN|raw_mtu=1440"
)
UPTIME = (
    "[2026/11/27 07:06:18] mod=uptime|cli=fd00:0:0:0:0:0:7e55:f/22574|srv=0:0:0:0:0:0:0:1/80|"
    "subj=cli|uptime=3 days 0 hrs 1 min (modulo 49 days)|raw_freq=998.00 Hz"
)
HTTP = (
    "[2026/11/27 07:06:18] mod=http request|cli=127.181.142.18/28467|srv=127.0.0.1/80|subj=cli|"
    "app=Firefox 10.x or newer|lang=German|params=none|raw_sig=1:Host,User-Agent,"
    "Accept=[text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8],"
    "Accept-Language=[de-DE,de;q=0.8,en-US;q=0.5,en;q=0.3],Accept-Encoding=[gzip, deflate],"
    "Connection=[keep-alive]:Accept-Charset,Keep-Alive:"
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:40.0) Gecko/20100101 Firefox/40.0"
)
CHANGE = (
    "[2026/11/27 07:06:18] mod=host change|cli=127.181.142.21/26704|srv=127.0.0.1/80|subj=cli|"
    "reason=ua_vs_os|raw_hits=0,1,1,1"
)
SHARING = (
    "[2026/11/27 07:06:18] mod=ip sharing|cli=127.181.142.25/31071|srv=127.0.0.1/80|subj=cli|"
    "reason=os_diff|raw_hits=3,3,3,3"
)
REAL_LINES = [SYN, SYN_UNKNOWN, SYN_IPV6, SYN_ACK, MTU, UPTIME, HTTP, CHANGE, SHARING]


# -- lines p0f wrote -----------------------------------------------------------------


def test_syn_line() -> None:
    event = parse_line(SYN + "\n")
    assert isinstance(event, TcpEvent)
    assert event.time == dt.datetime(2026, 11, 27, 7, 6, 17, tzinfo=UTC)
    assert event.module is Module.SYN
    assert event.client == ipaddress.IPv4Address("127.160.77.1")
    assert (event.client_port, event.server_port) == (35815, 80)
    assert event.server == ipaddress.IPv4Address("127.0.0.1")
    assert event.subject is Subject.CLIENT
    assert event.host == event.client and event.port == 35815
    assert (event.os, event.app) == ("Windows 7 or 8", None)
    assert event.distance == Distance(0)
    assert event.params == frozenset() and event.tos is None
    assert event.raw_sig == "4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0"
    assert event.signature == TcpSignature(
        version=4, ttl=128, ttl_distance=0, ip_options_length=0, mss=1460, window=8192,
        window_type=WindowType.SIZE, window_scale=8,
        options=(TcpOption.MSS, TcpOption.NOP, TcpOption.WS, TcpOption.NOP, TcpOption.NOP,
                 TcpOption.SOK),
        eol_padding=0, quirks=frozenset({Quirk.DF, Quirk.NONZERO_ID}),
        payload=PayloadClass.ZERO,
    )
    assert event.signature.initial_ttl == 128


def test_unknown_os_and_a_guessed_distance() -> None:
    event = parse_line(SYN_UNKNOWN)
    assert isinstance(event, TcpEvent)
    assert event.os is None and event.app is None
    assert event.distance == Distance(55)
    assert event.params == {TcpParam.EXCESS_DIST}
    assert event.signature.ttl == 200
    assert event.signature.ttl_distance is None and event.signature.initial_ttl is None
    assert event.signature.options[-1] == TcpOption.EOL
    assert event.signature.eol_padding == 2


def test_ipv6_addresses_are_normalised() -> None:
    event = parse_line(SYN_IPV6)
    assert event.client == ipaddress.IPv6Address("fd00::7e55:f")
    assert str(event.client) == "fd00::7e55:f"
    assert str(event.server) == "::1"
    assert isinstance(event, TcpEvent)
    assert event.signature.window_type is WindowType.MSS and event.signature.window == 20
    assert event.signature.quirks == frozenset()
    assert p0f_address(event.client) == "fd00:0:0:0:0:0:7e55:f"


def test_syn_ack_is_about_the_server() -> None:
    event = parse_line(SYN_ACK)
    assert event.module is Module.SYN_ACK and event.subject is Subject.SERVER
    assert event.host == ipaddress.IPv4Address("127.0.0.1") and event.port == 80


def test_mtu_line() -> None:
    event = parse_line(MTU)
    assert isinstance(event, MtuEvent)
    assert event.link == "generic tunnel or VPN" and event.mtu == 1440


def test_uptime_line() -> None:
    event = parse_line(UPTIME)
    assert isinstance(event, UptimeEvent)
    assert event.uptime == dt.timedelta(days=3, minutes=1)
    assert event.uptime_min == 4321
    assert event.modulo == dt.timedelta(days=49)
    assert event.frequency == 998.0


def test_http_line() -> None:
    event = parse_line(HTTP)
    assert isinstance(event, HttpEvent)
    assert (event.os, event.app) == (None, "Firefox 10.x or newer")
    assert event.lang == "German" and event.language == "German"
    assert event.params == frozenset()
    sig = event.signature
    assert sig.version == 1
    assert sig.headers[0] == HttpHeader("Host")
    assert sig.headers[2] == HttpHeader(
        "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    )
    assert [h.name for h in sig.headers] == [
        "Host", "User-Agent", "Accept", "Accept-Language", "Accept-Encoding", "Connection"
    ]
    assert sig.absent == ("Accept-Charset", "Keep-Alive")
    assert sig.software == "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:40.0) Gecko/20100101 Firefox/40.0"


def test_host_change_and_ip_sharing() -> None:
    change = parse_line(CHANGE)
    assert isinstance(change, HostChangeEvent) and change.module is Module.HOST_CHANGE
    assert change.reasons == {Reason.UA_VS_OS} and change.raw_hits == (0, 1, 1, 1)
    sharing = parse_line(SHARING)
    assert isinstance(sharing, HostChangeEvent) and sharing.module is Module.IP_SHARING
    assert sharing.reasons == {Reason.OS_DIFF} and sharing.raw_hits == (3, 3, 3, 3)


@pytest.mark.parametrize("line", REAL_LINES)
def test_real_lines_render_back_exactly(line: str) -> None:
    event = parse_line(line)
    assert event.to_line() == line
    if isinstance(event, (TcpEvent, HttpEvent)):
        assert str(event.signature) == event.raw_sig


# -- values p0f can write ------------------------------------------------------------


def _tcp(**fields: str) -> str:
    values = {"label": "os=Linux", "dist": "0", "params": "none",
              "raw_sig": "4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0"} | fields
    return (
        "[2026/01/02 03:04:05] mod=syn|cli=192.0.2.1/1234|srv=192.0.2.2/80|subj=cli|"
        f"{values['label']}|dist={values['dist']}|params={values['params']}|raw_sig={values['raw_sig']}"
    )


def test_distance_as_an_upper_bound() -> None:
    event = parse_line(_tcp(dist="<= 12", params="random_ttl"))
    assert isinstance(event, TcpEvent)
    assert event.distance == Distance(12, at_most=True)
    assert str(event.distance) == "<= 12"
    assert event.params == {TcpParam.RANDOM_TTL}


def test_tos_and_several_params() -> None:
    event = parse_line(_tcp(params="generic fuzzy tos:0x1c"))
    assert isinstance(event, TcpEvent)
    assert event.params == {TcpParam.GENERIC, TcpParam.FUZZY, TcpParam.TOS}
    assert event.tos == 0x1C
    assert event.to_line() == _tcp(params="generic fuzzy tos:0x1c")


def test_a_tool_signature_is_an_app() -> None:
    event = parse_line(_tcp(label="app=NMap SYN scan"))
    assert isinstance(event, TcpEvent)
    assert (event.os, event.app) == (None, "NMap SYN scan")


def test_sendsyn_modules() -> None:
    line = _tcp(label="app=p0f sendsyn utility", raw_sig="4:64+0:0:*:1337,0:mss::0").replace(
        "mod=syn|", "mod=sendsyn response|"
    )
    event = parse_line(line)
    assert isinstance(event, TcpEvent) and event.module is Module.SENDSYN_RESPONSE
    assert event.signature.mss is None and event.signature.options == (TcpOption.MSS,)
    assert event.to_line() == line


def test_unknown_language_and_none() -> None:
    base = HTTP.replace("lang=German", "lang={}")
    unknown = parse_line(base.format("???"))
    assert isinstance(unknown, HttpEvent) and unknown.lang is None and unknown.language is None
    named_none = parse_line(base.format("none"))
    assert isinstance(named_none, HttpEvent)
    assert named_none.lang == "none" and named_none.language is None


def test_http_signature_with_bars_and_equals() -> None:
    sig = "0:?Referer,X-Thing=[a|b=c:d],Host:Accept:curl/7 | x=y: z"
    line = HTTP.split("|raw_sig=")[0] + "|raw_sig=" + sig
    event = parse_line(line)
    assert isinstance(event, HttpEvent)
    assert event.raw_sig == sig
    assert event.signature == HttpSignature(
        0,
        (HttpHeader("Referer", optional=True), HttpHeader("X-Thing", "a|b=c:d"), HttpHeader("Host")),
        ("Accept",),
        "curl/7 | x=y: z",
    )
    assert event.to_line() == line


def test_http_signature_without_headers_or_software() -> None:
    event = parse_line(HTTP.split("|raw_sig=")[0] + "|raw_sig=1:::")
    assert isinstance(event, HttpEvent)
    assert event.signature == HttpSignature(1, (), (), None)


def test_reason_unknown_is_no_reason() -> None:
    event = parse_line(CHANGE.replace("reason=ua_vs_os", "reason=???"))
    assert isinstance(event, HostChangeEvent) and event.reasons == frozenset()
    assert "reason=???" in event.to_line()


def test_several_reasons_render_in_p0f_order() -> None:
    line = CHANGE.replace("reason=ua_vs_os", "reason=os_diff ttl port ua_vs_os")
    event = parse_line(line)
    assert isinstance(event, HostChangeEvent)
    assert event.reasons == {Reason.OS_DIFF, Reason.TTL, Reason.PORT, Reason.UA_VS_OS}
    assert event.to_line() == line


# -- time zones ----------------------------------------------------------------------


def test_dates_are_read_in_the_zone_given() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    summer = parse_line(SYN.replace("2026/11/27", "2026/07/01"), tz=berlin)
    winter = parse_line(SYN, tz=berlin)
    assert summer.time.utcoffset() == dt.timedelta(hours=2)
    assert winter.time.utcoffset() == dt.timedelta(hours=1)
    assert winter.time == dt.datetime(2026, 11, 27, 6, 6, 17, tzinfo=UTC)
    assert parse_line(SYN).time.tzinfo is UTC
    assert summer.to_line() == SYN.replace("2026/11/27", "2026/07/01")
    assert winter.to_line(tz=UTC) == SYN.replace("07:06:17", "06:06:17")


def test_parser_rejects_a_zone_that_is_not_one() -> None:
    with pytest.raises(TypeError):
        LogParser("UTC")  # type: ignore[arg-type]


# -- the round trip ----------------------------------------------------------------


@given(log_events)
def test_any_event_rendered_as_p0f_prints_it_parses_back_equal(event: AnyEvent) -> None:
    line = event.to_line()
    assert "\n" not in line
    assert parse_line(line, tz=event.time.tzinfo or UTC) == event
    assert parse_line(line + "\n", tz=event.time.tzinfo or UTC) == event


@given(st.lists(log_events, max_size=20))
def test_parse_lines_reads_a_log_of_many_events(events: list[AnyEvent]) -> None:
    tz = events[0].time.tzinfo if events else UTC
    assert tz is not None
    same_zone = [e for e in events if e.time.tzinfo is tz]
    lines = [event.to_line() + "\n" for event in same_zone]
    assert list(parse_lines(lines, tz=tz)) == same_zone


# -- malformed lines -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("", "not a p0f log line"),
        ("hello", "not a p0f log line"),
        (SYN[:25], "not a p0f log line"),
        (SYN[:40], "ends before cli="),
        (SYN[: SYN.index("|dist")], "has keys os; p0f writes os (or app), dist, params, raw_sig"),
        (SYN[:-3], "raw_sig= is not a TCP signature"),
        (HTTP[: HTTP.index("Accept-Encoding") + 20], "raw_sig= is not an HTTP signature"),
        (MTU.replace("mod=mtu", "mod=mtv"), "unknown module mod=mtv"),
        (MTU.replace("raw_mtu=1440", "raw_mtu=14x0"), "raw_mtu is not a number: '14x0'"),
        (MTU.replace("raw_mtu=1440", "raw_mtu=-1440"), "raw_mtu is not a number"),
        (MTU.replace("raw_mtu=1440", "raw_mtu= 1440"), "raw_mtu is not a number"),
        (MTU.replace("raw_mtu=1440", "raw_mtu=99999999"), "raw_mtu over 65595"),
        (MTU.replace("/23599", "/65536"), "cli= port over 65535"),
        (MTU.replace("/23599", ""), "cli= has no /port"),
        (MTU.replace("127.181.142.13", "127.181.142"), "is not an IP address"),
        (MTU.replace("127.181.142.13", "127.181.142.256"), "is not an IP address"),
        (MTU.replace("subj=cli", "subj=who"), "where subj=cli or subj=srv belongs"),
        (MTU.replace("2026/11/27", "2026/13/27"), "month must be in 1..12"),
        (MTU.replace("07:06:17", "07:06:1x"), "is not YYYY/MM/DD HH:MM:SS"),
        (SYN.replace("dist=0", "dist=???"), "dist is not a number: '???'"),
        (SYN.replace("dist=0", "dist=<=4"), "dist is not a number"),
        (SYN.replace("params=none", "params=shiny"), "unknown params= word 'shiny'"),
        (SYN.replace(":df,id+:", ":df,id*:"), "unknown quirk 'id*'"),
        (SYN.replace(",sok:", ",sox:"), "unknown TCP option 'sox'"),
        (SYN.replace("4:128+0", "5:128+0"), "IP version '5'"),
        (UPTIME.replace("1 min", "61 min"), "uptime minutes over 59"),
        (UPTIME.replace("998.00 Hz", "998 Hz"), "raw_freq= is not 'N.NN Hz'"),
        (CHANGE.replace("0,1,1,1", "0,1,1"), "raw_hits= is not four numbers"),
        (CHANGE.replace("ua_vs_os", "ua_vs_ox"), "unknown reason= word 'ua_vs_ox'"),
        (MTU + "|extra=1", "has keys link, raw_mtu, extra"),
        (MTU.replace("link=", "lnk="), "p0f writes link, raw_mtu"),
    ],
)
def test_malformed_lines_say_what_is_wrong(line: str, complaint: str) -> None:
    with pytest.raises(LogFormatError) as caught:
        parse_line(line)
    error = caught.value
    assert complaint in str(error)
    assert error.line == line and error.lineno is None
    assert repr(line[:100])[1:-1][:60] in str(error)
    assert isinstance(error, ValueError) and isinstance(error, P0fError)


def test_parse_lines_names_the_line_number() -> None:
    lines = [SYN + "\n", "garbage\n", MTU + "\n"]
    with pytest.raises(LogFormatError, match=r"^line 2: not a p0f log line") as caught:
        list(parse_lines(lines))
    assert caught.value.lineno == 2


def test_parse_lines_hands_bad_lines_to_on_error_and_goes_on() -> None:
    errors: list[LogFormatError] = []
    lines = [SYN + "\n", "garbage\n", "\n", MTU[:50] + "\n", MTU + "\n"]
    events = list(parse_lines(lines, on_error=errors.append))
    assert [e.module for e in events] == [Module.SYN, Module.MTU]
    assert [e.lineno for e in errors] == [2, 4]


def test_a_long_bad_line_is_shortened_in_the_message() -> None:
    with pytest.raises(LogFormatError) as caught:
        parse_line("x" * 10_000)
    assert len(str(caught.value)) < 400


_line_texts = st.text(max_size=300) | st.sampled_from(REAL_LINES).flatmap(
    lambda line: st.one_of(
        st.integers(0, len(line)).map(lambda cut: line[:cut]),
        st.tuples(st.integers(0, len(line) - 1), st.text(min_size=1, max_size=3)).map(
            lambda edit: line[: edit[0]] + edit[1] + line[edit[0] + 1 :]
        ),
        st.tuples(st.integers(0, len(line)), st.text(min_size=1, max_size=20)).map(
            lambda edit: line[: edit[0]] + edit[1] + line[edit[0] :]
        ),
    )
)


@given(_line_texts)
@example("[2026/11/27 07:06:17] mod=mtu|cli=1.2.3.4/1|srv=1.2.3.4/٣|subj=cli|link=x|raw_mtu=1")
@example("[2026/11/27 07:06:17] mod=mtu|cli=1.2.3.4\x00/1|srv=1.2.3.4/3|subj=cli|link=x|raw_mtu=1")
@example("[0000/11/27 07:06:17] mod=mtu|cli=1.2.3.4/1|srv=1.2.3.4/3|subj=cli|link=x|raw_mtu=1")
def test_nothing_but_log_format_error_escapes(line: str) -> None:
    try:
        event = parse_line(line)
    except LogFormatError as error:
        assert error.line == line
        assert str(error)
    else:
        assert event.module in Module


def test_caches_stay_bounded() -> None:
    parser = LogParser()
    for n in range(10_000):
        parser.parse(MTU.replace("127.181.142.13/23599", f"10.0.{n // 256}.{n % 256}/{n + 1}"))
    assert len(parser._clients) <= 4096 and len(parser._addresses) <= 4096


def test_p0f_log_all_is_sorted_and_complete() -> None:
    import p0f.log

    assert p0f.log.__all__ == sorted(p0f.log.__all__)
    for name in p0f.log.__all__:
        assert hasattr(p0f.log, name), name
    public = {
        name
        for name, value in vars(p0f.log).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("p0f.")
    }
    assert public <= set(p0f.log.__all__)


def test_a_repeated_hour_is_read_in_order() -> None:
    # Europe/Berlin falls back from 03:00 CEST to 02:00 CET on 2026-10-25:
    # p0f's local dates repeat 02:00-02:59, and capture order tells them apart.
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    stamps = ["02:30:00", "02:59:59", "02:00:00", "02:30:00", "03:00:00"]
    lines = [MTU.replace("2026/11/27 07:06:17", f"2026/10/25 {stamp}") for stamp in stamps]
    events = list(parse_lines(lines, tz=berlin))
    assert [e.time.astimezone(UTC).strftime("%H:%M:%S") for e in events] == [
        "00:30:00", "00:59:59", "01:00:00", "01:30:00", "02:00:00"
    ]
    assert [e.time.utcoffset() for e in events] == [dt.timedelta(hours=h) for h in (2, 2, 1, 1, 1)]
    assert [e.to_line() for e in events] == lines
    # A line on its own has no order to go by: the first pass.
    assert parse_line(lines[3], tz=berlin).time.utcoffset() == dt.timedelta(hours=2)
