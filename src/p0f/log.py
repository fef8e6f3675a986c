"""p0f's log (``p0f -o FILE``) as typed events.

::

    from p0f.log import read_log, follow_log, TcpEvent

    for event in read_log("/var/log/p0f.log"):          # dates read as UTC
        if isinstance(event, TcpEvent) and event.os:
            print(event.time, event.host, event.os)

See :mod:`p0f._log` for the format and what each record holds.
"""

from __future__ import annotations

from ._errors import LogFormatError
from ._log import (
    EVENT_TYPES,
    UNKNOWN,
    UTC,
    AnyEvent,
    Distance,
    HostChangeEvent,
    HttpEvent,
    HttpHeader,
    HttpParam,
    HttpSignature,
    LogEvent,
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
from ._logjson import event_to_dict, make_log_json_converter
from ._logfollow import (
    DEFAULT_POLL_INTERVAL,
    MAX_LINE,
    LogFollower,
    LogLine,
    OnError,
    follow_log,
    follow_log_async,
    read_log,
)

__all__ = [
    "AnyEvent",
    "DEFAULT_POLL_INTERVAL",
    "Distance",
    "EVENT_TYPES",
    "HostChangeEvent",
    "HttpEvent",
    "HttpHeader",
    "HttpParam",
    "HttpSignature",
    "LogEvent",
    "LogFollower",
    "LogFormatError",
    "LogLine",
    "LogParser",
    "MAX_LINE",
    "Module",
    "MtuEvent",
    "OnError",
    "PayloadClass",
    "Quirk",
    "Reason",
    "Subject",
    "TcpEvent",
    "TcpOption",
    "TcpParam",
    "TcpSignature",
    "UNKNOWN",
    "UTC",
    "UptimeEvent",
    "WindowType",
    "event_to_dict",
    "follow_log",
    "follow_log_async",
    "make_log_json_converter",
    "p0f_address",
    "parse_line",
    "parse_lines",
    "read_log",
]
