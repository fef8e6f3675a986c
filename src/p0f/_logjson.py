"""cattrs converters between the log's events and JSON-ready dictionaries.

:func:`make_log_json_converter` returns a new private
:class:`cattrs.Converter` (never cattrs' global one).  An event becomes::

    {"time": "2026-11-27T07:06:17+00:00", "module": "syn",
     "client": "fd00::6", "client_port": 40001,
     "server": "::1", "server_port": 80, "subject": "cli",
     "os": "Windows 7 or 8", "app": null, "dist": 0, "dist_at_most": false,
     "params": [], "raw_sig": "4:128+0:0:1460:8192,8:...", "signature": {...}}

* ``time``: ISO 8601 with the UTC offset of the zone the log was read in;
* ``module``, ``subject``, ``params``, ``reason``: p0f's own words;
* ``client``/``server``: the standard (compressed) form of the address;
* the module's values under p0f's key names: ``os``, ``app``, ``lang``,
  ``link`` (``null`` for ``???``; ``lang`` may be ``"none"``), ``dist``
  (with ``dist_at_most`` for ``<= N``), ``raw_mtu``, ``uptime`` (p0f's
  text; the numbers are ``uptime_min`` and ``up_mod_days``), ``raw_freq``
  (a number of Hz), ``reason``, ``raw_hits`` (four numbers), ``raw_sig``
  (the exact text);
* ``signature``: the parsed TCP or HTTP signature.

``structure(data, LogEvent)`` picks the record by ``module``; structuring
gives back an event equal to the one unstructured.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from collections.abc import Mapping
from typing import Any, Final

import cattrs

from ._log import (
    EVENT_TYPES,
    UNKNOWN,
    AnyEvent,
    Distance,
    HostChangeEvent,
    HttpEvent,
    HttpHeader,
    HttpParam,
    HttpSignature,
    LogEvent,
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
    _OPTION_WORDS,
)

__all__ = ["event_to_dict", "make_log_json_converter"]

_WORD_OPTIONS: Final = {word: TcpOption(kind) for kind, word in _OPTION_WORDS.items()}


def make_log_json_converter() -> cattrs.Converter:
    """Log events (and their signatures) to and from JSON-ready data."""
    converter = cattrs.Converter()
    for kind in (TcpEvent, MtuEvent, UptimeEvent, HttpEvent, HostChangeEvent, LogEvent):
        converter.register_unstructure_hook(kind, event_to_dict)
        converter.register_structure_hook(kind, _structure_event)
    converter.register_unstructure_hook(TcpSignature, _tcp_signature_to_dict)
    converter.register_structure_hook(TcpSignature, lambda data, _: _tcp_signature(data))
    converter.register_unstructure_hook(HttpSignature, _http_signature_to_dict)
    converter.register_structure_hook(HttpSignature, lambda data, _: _http_signature(data))
    return converter


# -- to JSON -----------------------------------------------------------------------


def event_to_dict(event: LogEvent) -> dict[str, Any]:
    """The JSON-ready dictionary of one event (see the module)."""
    data: dict[str, Any] = {
        "time": event.time.isoformat(),
        "module": event.module.value,
        "client": str(event.client),
        "client_port": event.client_port,
        "server": str(event.server),
        "server_port": event.server_port,
        "subject": event.subject.value,
    }
    if isinstance(event, TcpEvent):
        words = [p.value for p in TcpParam if p in event.params and p is not TcpParam.TOS]
        if event.tos is not None:
            words.append(f"tos:0x{event.tos:02x}")
        data.update(
            os=event.os,
            app=event.app,
            dist=event.distance.hops,
            dist_at_most=event.distance.at_most,
            params=words,
            raw_sig=event.raw_sig,
            signature=_tcp_signature_to_dict(event.signature),
        )
    elif isinstance(event, MtuEvent):
        data.update(link=event.link, raw_mtu=event.mtu)
    elif isinstance(event, UptimeEvent):
        fields = dict(event._fields())
        data.update(
            uptime=fields["uptime"],
            uptime_min=event.uptime_min,
            up_mod_days=event.modulo.days,
            raw_freq=event.frequency,
        )
    elif isinstance(event, HttpEvent):
        data.update(
            os=event.os,
            app=event.app,
            lang=event.lang,
            params=[p.value for p in HttpParam if p in event.params],
            raw_sig=event.raw_sig,
            signature=_http_signature_to_dict(event.signature),
        )
    elif isinstance(event, HostChangeEvent):
        data.update(
            reason=[r.value for r in Reason if r in event.reasons],
            raw_hits=list(event.raw_hits),
        )
    return data


def _tcp_signature_to_dict(sig: TcpSignature) -> dict[str, Any]:
    return {
        "version": sig.version,
        "ttl": sig.ttl,
        "ttl_distance": sig.ttl_distance,
        "initial_ttl": sig.initial_ttl,
        "ip_options_length": sig.ip_options_length,
        "mss": sig.mss,
        "window": sig.window,
        "window_type": sig.window_type.value,
        "window_scale": sig.window_scale,
        "options": [
            "eol" if kind == TcpOption.EOL else _OPTION_WORDS.get(kind, f"?{kind}")
            for kind in sig.options
        ],
        "eol_padding": sig.eol_padding,
        "quirks": [q.value for q in Quirk if q in sig.quirks],
        "payload": sig.payload.value,
    }


def _http_signature_to_dict(sig: HttpSignature) -> dict[str, Any]:
    return {
        "version": sig.version,
        "headers": [
            {"name": h.name, "value": h.value, "optional": h.optional} for h in sig.headers
        ],
        "absent": list(sig.absent),
        "software": sig.software,
    }


# -- from JSON ---------------------------------------------------------------------


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    try:
        value = data[key]
    except KeyError:
        raise ValueError(f"missing key {key!r}") from None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise TypeError(f"{key!r} is {value!r}, not {getattr(kind, '__name__', kind)}")
    return value


def _optional_text(data: Mapping[str, Any], key: str) -> str | None:
    value = _get(data, key, (str, type(None)))
    if value == UNKNOWN:
        raise ValueError(f"{key!r}: null stands for ???, not the text")
    return value  # type: ignore[no-any-return]  # checked just above


def _moment(text: Any) -> _dt.datetime:
    if not isinstance(text, str):
        raise TypeError(f"'time' is {text!r}, not a string")
    moment = _dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time without a UTC offset: {text!r}")
    return moment


def _structure_event(data: Any, kind: type[Any]) -> AnyEvent:
    if not isinstance(data, Mapping):
        raise TypeError(f"an event is a mapping, not {type(data).__name__}")
    module = Module(_get(data, "module", str))
    event_type = EVENT_TYPES[module]
    if kind is not LogEvent and kind is not event_type:
        raise ValueError(f"mod={module.value} makes a {event_type.__name__}, not a {kind.__name__}")
    common = (
        _moment(data.get("time")),
        module,
        ipaddress.ip_address(_get(data, "client", str)),
        _get(data, "client_port", int),
        ipaddress.ip_address(_get(data, "server", str)),
        _get(data, "server_port", int),
        Subject(_get(data, "subject", str)),
    )
    if event_type is TcpEvent:
        params: set[TcpParam] = set()
        tos = None
        for word in _get(data, "params", list):
            if isinstance(word, str) and word.startswith("tos:0x"):
                tos = int(word[6:], 16)
                params.add(TcpParam.TOS)
            else:
                params.add(TcpParam(word))
        return TcpEvent(
            *common,
            _optional_text(data, "os"),
            _optional_text(data, "app"),
            Distance(_get(data, "dist", int), _get(data, "dist_at_most", bool)),
            frozenset(params),
            tos,
            _get(data, "raw_sig", str),
            _tcp_signature(_get(data, "signature", Mapping)),
        )
    if event_type is MtuEvent:
        return MtuEvent(*common, _optional_text(data, "link"), _get(data, "raw_mtu", int))
    if event_type is UptimeEvent:
        return UptimeEvent(
            *common,
            _dt.timedelta(minutes=_get(data, "uptime_min", int)),
            _dt.timedelta(days=_get(data, "up_mod_days", int)),
            float(_get(data, "raw_freq", (int, float))),
        )
    if event_type is HttpEvent:
        return HttpEvent(
            *common,
            _optional_text(data, "os"),
            _optional_text(data, "app"),
            _optional_text(data, "lang"),
            frozenset(HttpParam(word) for word in _get(data, "params", list)),
            _get(data, "raw_sig", str),
            _http_signature(_get(data, "signature", Mapping)),
        )
    hits = _get(data, "raw_hits", list)
    if len(hits) != 4 or not all(isinstance(hit, int) for hit in hits):
        raise ValueError(f"'raw_hits' is {hits!r}, not four numbers")
    return HostChangeEvent(
        *common,
        frozenset(Reason(word) for word in _get(data, "reason", list)),
        (hits[0], hits[1], hits[2], hits[3]),
    )


def _tcp_signature(data: Mapping[str, Any]) -> TcpSignature:
    options: list[int] = []
    for word in _get(data, "options", list):
        if word == "eol":
            options.append(TcpOption.EOL)
        elif word in _WORD_OPTIONS:
            options.append(_WORD_OPTIONS[word])
        elif isinstance(word, str) and word.startswith("?") and word[1:].isdigit():
            kind = int(word[1:])
            options.append(TcpOption(kind) if kind in TcpOption._value2member_map_ else kind)
        else:
            raise ValueError(f"unknown TCP option {word!r}")
    return TcpSignature(
        version=_get(data, "version", int),
        ttl=_get(data, "ttl", int),
        ttl_distance=_get(data, "ttl_distance", (int, type(None))),
        ip_options_length=_get(data, "ip_options_length", int),
        mss=_get(data, "mss", (int, type(None))),
        window=_get(data, "window", int),
        window_type=WindowType(_get(data, "window_type", str)),
        window_scale=_get(data, "window_scale", int),
        options=tuple(options),
        eol_padding=_get(data, "eol_padding", int),
        quirks=frozenset(Quirk(word) for word in _get(data, "quirks", list)),
        payload=PayloadClass(_get(data, "payload", str)),
    )


def _http_signature(data: Mapping[str, Any]) -> HttpSignature:
    headers = []
    for header in _get(data, "headers", list):
        if not isinstance(header, Mapping):
            raise TypeError(f"a header is a mapping, not {header!r}")
        headers.append(
            HttpHeader(
                _get(header, "name", str),
                _get(header, "value", (str, type(None))),
                _get(header, "optional", bool),
            )
        )
    absent = _get(data, "absent", list)
    if not all(isinstance(name, str) for name in absent):
        raise TypeError(f"'absent' is {absent!r}, not a list of names")
    return HttpSignature(
        _get(data, "version", int),
        tuple(headers),
        tuple(absent),
        _get(data, "software", (str, type(None))),
    )
