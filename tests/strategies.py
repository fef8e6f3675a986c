"""Hypothesis strategies for the p0f wire format, in one place."""

from __future__ import annotations

import datetime as dt
import ipaddress
import zoneinfo
from typing import Any

import attrs
from hypothesis import strategies as st

from p0f import RESPONSE_MAGIC, BadSoftware, MatchQuality, P0fResponse, RawResponse, Status
from p0f import log as _log

u32 = st.integers(min_value=0, max_value=2**32 - 1)
i16 = st.integers(min_value=-(2**15), max_value=2**15 - 1)

#: Strings a p0f field can carry: Latin-1, no NUL, at most 32 bytes.
field_text = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=32
)

ipv4 = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
ipv6 = st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1)).filter(
    lambda a: a.ipv4_mapped is None
)
addresses = st.one_of(ipv4, ipv6)


def raw_responses(status: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[RawResponse]:
    """Any answer the format can carry with valid enums (OK status by default)."""
    return st.builds(
        RawResponse,
        magic=st.just(RESPONSE_MAGIC),
        status=status if status is not None else st.just(int(Status.OK)),
        first_seen=u32,
        last_seen=u32,
        total_conn=u32,
        uptime_min=u32,
        up_mod_days=st.integers(0, 999_999_999),
        last_nat=u32,
        last_chg=u32,
        distance=i16,
        bad_sw=st.integers(0, 2),
        os_match_q=st.integers(0, 3),
        os_name=field_text,
        os_flavor=field_text,
        http_name=field_text,
        http_flavor=field_text,
        link_type=field_text,
        language=field_text,
    )


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MAX_DAYS = 999_999_999  # the decoder's limit for up_mod_days (a timedelta's)

#: A time the wire can carry: whole seconds from 1970 to 2106, in UTC.
moments = u32.map(lambda seconds: EPOCH + dt.timedelta(seconds=seconds))
#: The same but 1970-01-01 00:00, which the wire spells like "never".
known_moments = st.integers(1, 2**32 - 1).map(
    lambda seconds: EPOCH + dt.timedelta(seconds=seconds)
)
#: A string p0f knows: not empty, since "" is how the wire says "unknown".
known_text = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=255), min_size=1, max_size=32
)


def parsed_responses() -> st.SearchStrategy[P0fResponse]:
    """Any parsed answer the wire can carry, built from parsed values."""
    return st.builds(
        P0fResponse,
        first_seen=moments,
        last_seen=moments,
        total_conn=u32,
        uptime=st.none() | st.integers(1, 2**32 - 1).map(lambda m: dt.timedelta(minutes=m)),
        up_mod_days=st.none() | st.integers(1, MAX_DAYS).map(lambda d: dt.timedelta(days=d)),
        last_nat=st.none() | known_moments,
        last_chg=st.none() | known_moments,
        distance=st.none() | i16.filter(lambda hops: hops not in (-1, 255)),
        bad_sw=st.sampled_from(BadSoftware),
        os_match_q=st.sampled_from(MatchQuality),
        os_name=st.none() | known_text,
        os_flavor=st.none() | known_text,
        http_name=st.none() | known_text,
        http_flavor=st.none() | known_text,
        link_type=st.none() | known_text,
        language=st.none() | known_text,
    )


# -- p0f's log (p0f.log) ----------------------------------------------------------


#: Zones a log may be read in: UTC, fixed offsets, zones with summer time.
log_zones = st.sampled_from(
    [
        dt.timezone.utc,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(-dt.timedelta(hours=8)),
        zoneinfo.ZoneInfo("Europe/Berlin"),
        zoneinfo.ZoneInfo("America/New_York"),
    ]
)

#: A label p0f takes from p0f.fp (``Windows 7 or 8``): printable, no ``|``.
log_labels = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, blacklist_characters="|"),
    min_size=1,
    max_size=40,
).filter(lambda text: text != _log.UNKNOWN)
_printable = st.characters(min_codepoint=0x20, max_codepoint=0x7F, blacklist_characters="]")
_header_names = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
    min_size=1,
    max_size=20,
)
ports = st.integers(0, 65535)
u8 = st.integers(0, 255)


def _common(modules: list[_log.Module]) -> dict[str, st.SearchStrategy[Any]]:
    return {
        "time": st.tuples(
            st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1)),
            log_zones,
        ).map(lambda pair: pair[0].replace(microsecond=0, tzinfo=pair[1])),
        "module": st.sampled_from(modules),
        "client": addresses,
        "client_port": ports,
        "server": addresses,
        "server_port": ports,
        "subject": st.sampled_from(_log.Subject),
    }


tcp_signatures = st.builds(
    _log.TcpSignature,
    version=st.sampled_from([4, 6]),
    ttl=u8,
    ttl_distance=st.none() | u8,
    ip_options_length=u8,
    mss=st.none() | st.integers(0, 65535),
    window=st.integers(0, 65535),
    window_type=st.sampled_from(_log.WindowType),
    window_scale=u8,
    options=st.lists(
        st.sampled_from([o for o in _log.TcpOption if o is not _log.TcpOption.EOL])
        | u8.filter(lambda kind: kind not in _log.TcpOption._value2member_map_),
        max_size=8,
    ).flatmap(
        lambda options: st.sampled_from([tuple(options), (*options, _log.TcpOption.EOL)])
    ),
    eol_padding=u8,
    quirks=st.frozensets(st.sampled_from(_log.Quirk)),
    payload=st.sampled_from(_log.PayloadClass),
).map(lambda sig: sig if _log.TcpOption.EOL in sig.options else attrs_evolve(sig, eol_padding=0))

http_signatures = st.builds(
    _log.HttpSignature,
    version=st.sampled_from([0, 1]),
    headers=st.lists(
        st.builds(
            _log.HttpHeader,
            name=_header_names,
            value=st.none() | st.text(alphabet=_printable, max_size=30),
            optional=st.booleans(),
        ),
        max_size=6,
    ).map(tuple),
    absent=st.lists(_header_names, max_size=4).map(tuple),
    software=st.none() | st.text(alphabet=_printable, min_size=1, max_size=60),
)


def attrs_evolve(record: Any, **changes: Any) -> Any:
    return attrs.evolve(record, **changes)


def _with_raw(event: Any) -> Any:
    return attrs_evolve(event, raw_sig=str(event.signature))


_TCP_MODULES = [
    _log.Module.SYN, _log.Module.SYN_ACK, _log.Module.SENDSYN_PROBE, _log.Module.SENDSYN_RESPONSE
]


tcp_events = st.builds(
    _log.TcpEvent,
    **_common(_TCP_MODULES),
    os=st.none() | log_labels,
    app=st.none(),
    distance=st.builds(_log.Distance, u8, st.booleans()),
    params=st.frozensets(st.sampled_from([p for p in _log.TcpParam if p is not _log.TcpParam.TOS])),
    tos=st.none() | st.integers(1, 255),
    raw_sig=st.just(""),
    signature=tcp_signatures,
).flatmap(
    lambda event: st.sampled_from(
        [event, attrs_evolve(event, os=None, app=event.os)] if event.os is not None else [event]
    )
).map(
    lambda event: _with_raw(
        attrs_evolve(
            event,
            params=event.params | {_log.TcpParam.TOS} if event.tos is not None else event.params,
        )
    )
)

mtu_events = st.builds(
    _log.MtuEvent,
    **_common([_log.Module.MTU]),
    link=st.none() | log_labels,
    mtu=st.integers(0, 65535 + 60),
)

uptime_events = st.builds(
    _log.UptimeEvent,
    **_common([_log.Module.UPTIME]),
    uptime=st.integers(0, 10**6).map(lambda minutes: dt.timedelta(minutes=minutes)),
    modulo=st.integers(0, 10**4).map(lambda days: dt.timedelta(days=days)),
    frequency=st.integers(0, 10**7).map(lambda hundredths: hundredths / 100),
)

http_events = st.builds(
    _log.HttpEvent,
    **_common([_log.Module.HTTP_REQUEST, _log.Module.HTTP_RESPONSE]),
    os=st.none(),
    app=st.none() | log_labels,
    lang=st.none() | st.just("none") | log_labels,
    params=st.frozensets(st.sampled_from(_log.HttpParam)),
    raw_sig=st.just(""),
    signature=http_signatures,
).flatmap(
    lambda event: st.sampled_from(
        [event, attrs_evolve(event, app=None, os=event.app)] if event.app is not None else [event]
    )
).map(_with_raw)

host_change_events = st.builds(
    _log.HostChangeEvent,
    **_common([_log.Module.HOST_CHANGE, _log.Module.IP_SHARING]),
    reasons=st.frozensets(st.sampled_from(_log.Reason)),
    raw_hits=st.tuples(u8, u8, u8, u8),
)

#: Any event p0f could log.
log_events: st.SearchStrategy[_log.AnyEvent] = st.one_of(
    tcp_events, mtu_events, uptime_events, http_events, host_change_events
)
