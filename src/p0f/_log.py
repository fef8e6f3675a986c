"""p0f's log (``p0f -o FILE``) as typed events: the records and the parser.

p0f 3.09b writes one line per observation (``start_observation`` and
``add_observation_field`` in ``p0f.c``)::

    [2026/11/27 07:06:17] mod=syn|cli=127.0.0.5/40001|srv=127.0.0.1/80|subj=cli|os=Windows 7 or 8|dist=0|params=none|raw_sig=4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0

* the date is the capture time of the packet, in the *daemon's local time*
  with no zone: the caller says which zone it is (UTC unless told);
* addresses are IPv4 dotted quads or eight bare hex groups for IPv6
  (``fd00:0:0:0:0:0:0:6``); the records hold :mod:`ipaddress` objects, so
  they print compressed (``fd00::6``);
* the keys after ``subj=`` depend on the module, in a fixed order; p0f
  writes ``???`` where it has no value (a ``NULL`` in its source);
* ``raw_sig`` is always last and runs to the end of the line: an HTTP
  signature may hold ``|``, ``=`` and ``:``.

Which keys p0f can write as ``???`` follows its source: ``os``/``app``
(no signature matched), ``lang`` (a language code it does not know),
``link`` (an MTU it does not know) and ``reason`` (no reason bit).  Every
other value is printed from a number or a fixed word, so ``???`` there is
a malformed line.  ``None`` stands for ``???``; for ``reason`` an empty set
does (p0f prints ``???`` exactly when the set is empty).

Everything here is pure: strings in, records out.  Reading files and
following a live log are in :mod:`p0f._logfollow`.
"""

from __future__ import annotations

import datetime as _dt
import enum
import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeAlias, TypeVar

import attrs

from ._errors import LogFormatError

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

UTC: Final = _dt.timezone.utc
"""The zone log dates are read in unless the caller names another."""

UNKNOWN: Final = "???"
"""What p0f writes for a value it does not have."""

# -- enums ---------------------------------------------------------------------


class Module(enum.StrEnum):
    """What a line is about: ``mod=``, as p0f writes it."""

    #: A client's SYN: its TCP signature, hence the client's OS.
    SYN = "syn"
    #: A server's SYN+ACK: its TCP signature, hence the server's OS.
    SYN_ACK = "syn+ack"
    #: The link's MTU, read from the MSS of a SYN or SYN+ACK.
    MTU = "mtu"
    #: The host's uptime, from TCP timestamps seen some time apart.
    UPTIME = "uptime"
    #: An HTTP request's headers: the client's software and language.
    HTTP_REQUEST = "http request"
    #: An HTTP response's headers: the server's software.
    HTTP_RESPONSE = "http response"
    #: The host looks different from before (another OS, TTL, proxy...).
    HOST_CHANGE = "host change"
    #: Changes came often enough that several systems seem to share the address.
    IP_SHARING = "ip sharing"
    #: A SYN from p0f's own ``p0f-sendsyn`` tool (window 1337, MSS 1331).
    SENDSYN_PROBE = "sendsyn probe"
    #: The SYN+ACK answering a ``p0f-sendsyn`` probe.
    SENDSYN_RESPONSE = "sendsyn response"


class Subject(enum.StrEnum):
    """Which end of the connection the observation is about (``subj=``)."""

    #: The client: the side that sent the SYN.
    CLIENT = "cli"
    #: The server: the side that answered it.
    SERVER = "srv"


class TcpParam(enum.StrEnum):
    """A word of a SYN or SYN+ACK line's ``params=`` (``none`` is no word)."""

    #: The matching signature is a generic one (names only the OS family).
    GENERIC = "generic"
    #: A fuzzy match: TTL or quirks differ a little from the signature.
    FUZZY = "fuzzy"
    #: The signature says the stack picks random TTLs; ``dist`` is an upper bound.
    RANDOM_TTL = "random_ttl"
    #: The distance exceeds 35 hops, so it is a guess.
    EXCESS_DIST = "excess_dist"
    #: The IP type-of-service field is not zero (p0f writes ``tos:0xNN``).
    TOS = "tos"


class HttpParam(enum.StrEnum):
    """A word of an HTTP line's ``params=`` (``none`` is no word)."""

    #: The User-Agent (or Server) contradicts what the headers show.
    DISHONEST = "dishonest"
    #: There was no User-Agent (or Server) header at all.
    ANONYMOUS = "anonymous"
    #: The matching signature is a generic one.
    GENERIC = "generic"


class Reason(enum.StrEnum):
    """Why p0f logged a ``host change`` or ``ip sharing`` (``reason=``)."""

    #: An application signature not expected on the host's OS.
    APP_VS_OS = "app_vs_os"
    #: The OS from a signature differs from the one on record.
    OS_DIFF = "os_diff"
    #: The unknown TCP signature changed.
    SIG_DIFF = "sig_diff"
    #: A signature went from known to unknown or back.
    X_KNOWN = "x_known"
    #: TCP timestamps moved in a way one clock cannot.
    TSTAMP = "tstamp"
    #: The TTL changed.
    TTL = "ttl"
    #: Source ports went backwards.
    PORT = "port"
    #: The MSS (hence the MTU) changed.
    MTU = "mtu"
    #: A signature's match went from exact to fuzzy or back.
    FUZZY = "fuzzy"
    #: A ``Via`` or ``X-Forwarded-For`` header: a proxy.
    VIA = "via"
    #: An HTTP ``Date`` header out of step with the previous one.
    DATE = "date"
    #: The server's HTTP signature changed: a load balancer.
    SRV_SIG_LB = "srv_sig_lb"
    #: An otherwise honest User-Agent names another OS than the packets show.
    UA_VS_OS = "ua_vs_os"


class WindowType(enum.StrEnum):
    """How a TCP signature gives the window size."""

    #: A plain size in bytes.
    SIZE = "size"
    #: A multiple of the MSS (``mss*N``).
    MSS = "mss"
    #: A multiple of the MTU (``mtu*N``).
    MTU = "mtu"


class TcpOption(enum.IntEnum):
    """A TCP option p0f names in a signature's option layout (by option kind).

    Other kinds appear in :attr:`TcpSignature.options` as plain ``int``
    (p0f writes them ``?N``).
    """

    #: End of options (``eol+N``: N bytes of padding follow).
    EOL = 0
    #: No-operation padding (``nop``).
    NOP = 1
    #: Maximum segment size (``mss``).
    MSS = 2
    #: Window scale (``ws``).
    WS = 3
    #: Selective ACK permitted (``sok``).
    SOK = 4
    #: Selective ACK (``sack``).
    SACK = 5
    #: Timestamps (``ts``).
    TS = 8


class Quirk(enum.StrEnum):
    """An oddity of a SYN or SYN+ACK that p0f records in the signature."""

    #: IPv4 "don't fragment" set.
    DF = "df"
    #: DF set and a non-zero IP ID.
    NONZERO_ID = "id+"
    #: DF not set and a zero IP ID.
    ZERO_ID = "id-"
    #: Explicit congestion notification.
    ECN = "ecn"
    #: The IPv4 "must be zero" bit is set.
    NONZERO_MBZ = "0+"
    #: A non-zero IPv6 flow label.
    FLOW = "flow"
    #: A zero sequence number.
    ZERO_SEQ = "seq-"
    #: A non-zero ACK number without the ACK flag.
    NONZERO_ACK = "ack+"
    #: A zero ACK number with the ACK flag.
    ZERO_ACK = "ack-"
    #: A non-zero urgent pointer without the URG flag.
    NONZERO_URG = "uptr+"
    #: The URG flag.
    URG = "urgf+"
    #: The PUSH flag.
    PUSH = "pushf+"
    #: A zero own timestamp.
    ZERO_TS1 = "ts1-"
    #: A non-zero peer timestamp on a SYN.
    NONZERO_TS2 = "ts2+"
    #: Non-zero bytes after the end-of-options option.
    OPT_EOL_NONZERO = "opt+"
    #: A window scale over 14.
    EXCESSIVE_WS = "exws"
    #: Malformed TCP options.
    BAD_OPTIONS = "bad"


class PayloadClass(enum.StrEnum):
    """Whether the SYN or SYN+ACK carried data."""

    #: No payload (``0``).
    ZERO = "0"
    #: Some payload (``+``).
    NONZERO = "+"


# -- values ----------------------------------------------------------------------


@attrs.frozen
class Distance:
    """How many hops away the host is, from its TTL (``dist=``)."""

    #: The number p0f wrote.
    hops: int
    #: ``True`` for ``dist=<= N``: the signature says the stack uses random
    #: TTLs, so the host is at most this far.
    at_most: bool = False

    def __str__(self) -> str:
        return f"<= {self.hops}" if self.at_most else str(self.hops)


@attrs.frozen
class TcpSignature:
    """A SYN's or SYN+ACK's ``raw_sig``, field by field (p0f's ``fp_tcp.c``).

    ``ver:ttl+dist:olen:mss:wsize,scale:olayout:quirks:pclass``;
    ``str()`` gives it back in p0f's spelling.
    """

    #: IP version: 4 or 6.
    version: int
    #: The TTL (IPv6 hop limit) the packet arrived with.
    ttl: int
    #: How far below its initial value p0f guesses the TTL is; ``None`` when
    #: p0f wrote ``?`` (a guess over 35 hops).
    ttl_distance: int | None
    #: Length of the IPv4 options, in bytes.
    ip_options_length: int
    #: Maximum segment size; ``None`` for ``*`` (p0f-sendsyn's echoed MSS).
    mss: int | None
    #: The window size, or its multiplier (see :attr:`window_type`).
    window: int
    #: How :attr:`window` is expressed.
    window_type: WindowType
    #: The window scale (0 when the option is absent).
    window_scale: int
    #: The TCP options in order: :class:`TcpOption` members, or plain ``int``
    #: kinds for options p0f has no name for.
    options: tuple[int, ...]
    #: Bytes of padding after an end-of-options (``eol+N``), else 0.
    eol_padding: int
    #: The quirks p0f noticed.
    quirks: frozenset[Quirk]
    #: Whether the packet carried data.
    payload: PayloadClass

    @property
    def initial_ttl(self) -> int | None:
        """The TTL the host started with (``ttl + distance``), if p0f guessed."""
        return None if self.ttl_distance is None else self.ttl + self.ttl_distance

    def __str__(self) -> str:
        distance = "?" if self.ttl_distance is None else self.ttl_distance
        mss = "*" if self.mss is None else self.mss
        if self.window_type is WindowType.SIZE:
            window = str(self.window)
        else:
            window = f"{self.window_type.value}*{self.window}"
        layout = ",".join(
            f"eol+{self.eol_padding}" if kind == TcpOption.EOL else _OPTION_WORDS.get(kind, f"?{kind}")
            for kind in self.options
        )
        quirks = ",".join(quirk.value for quirk in Quirk if quirk in self.quirks)
        return (
            f"{self.version}:{self.ttl}+{distance}:{self.ip_options_length}:{mss}:"
            f"{window},{self.window_scale}:{layout}:{quirks}:{self.payload.value}"
        )

    @classmethod
    def parse(cls, text: str) -> TcpSignature:
        """Read p0f's spelling; :class:`LogFormatError` if it is not one."""
        try:
            return _parse_tcp_signature(text)
        except (_Bad, ValueError) as exc:
            raise LogFormatError(f"bad TCP signature ({exc})", text) from None


@attrs.frozen
class HttpHeader:
    """One header of an HTTP signature's header order."""

    #: The header's name, as sent (unknown headers) or as p0f knows it.
    name: str
    #: The value p0f shows (the first 200 printable bytes), or ``None``:
    #: p0f leaves out values that vary (``Host``, ``User-Agent``...).
    value: str | None = None
    #: ``True`` for ``?Name``: a header p0f's signatures treat as optional.
    optional: bool = False

    def __str__(self) -> str:
        text = f"?{self.name}" if self.optional else self.name
        return text if self.value is None else f"{text}=[{self.value}]"


@attrs.frozen
class HttpSignature:
    """An HTTP request's or response's ``raw_sig`` (p0f's ``fp_http.c``).

    ``ver:horder:habsent:sw``; ``str()`` gives it back in p0f's spelling.
    """

    #: 0 for HTTP/1.0, 1 for HTTP/1.1.
    version: int
    #: The headers in the order they came.
    headers: tuple[HttpHeader, ...]
    #: Common headers that were missing.
    absent: tuple[str, ...]
    #: The User-Agent (request) or Server (response), or ``None`` if absent.
    software: str | None

    def __str__(self) -> str:
        headers = ",".join(str(header) for header in self.headers)
        absent = ",".join(self.absent)
        return f"{self.version}:{headers}:{absent}:{self.software or ''}"

    @classmethod
    def parse(cls, text: str) -> HttpSignature:
        """Read p0f's spelling; :class:`LogFormatError` if it is not one."""
        try:
            return _parse_http_signature(text)
        except (_Bad, ValueError) as exc:
            raise LogFormatError(f"bad HTTP signature ({exc})", text) from None


# -- events ----------------------------------------------------------------------


@attrs.frozen
class LogEvent:
    """What every line says: when, which connection, which end it is about."""

    #: The packet's capture time, in the zone the log was read in.
    time: _dt.datetime
    #: The kind of observation (``mod=``).
    module: Module
    #: The client's address (``cli=``).
    client: IPAddress
    #: The client's port.
    client_port: int
    #: The server's address (``srv=``).
    server: IPAddress
    #: The server's port.
    server_port: int
    #: Which end the observation is about (``subj=``).
    subject: Subject

    @property
    def host(self) -> IPAddress:
        """The address the observation is about (client or server)."""
        return self.client if self.subject is Subject.CLIENT else self.server

    @property
    def port(self) -> int:
        """The port of the end the observation is about."""
        return self.client_port if self.subject is Subject.CLIENT else self.server_port

    def _head(self, tz: _dt.tzinfo | None) -> str:
        moment = self.time if tz is None else self.time.astimezone(tz)
        return (
            f"[{moment.year:04d}/{moment.month:02d}/{moment.day:02d} "
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}] "
            f"mod={self.module.value}|cli={p0f_address(self.client)}/{self.client_port}|"
            f"srv={p0f_address(self.server)}/{self.server_port}|subj={self.subject.value}"
        )

    def to_line(self, tz: _dt.tzinfo | None = None) -> str:
        """The line as p0f writes it (without the newline).

        The date is :attr:`time`'s wall clock, or converted to ``tz`` first.
        """
        return self._head(tz) + "".join(f"|{key}={value}" for key, value in self._fields())

    def _fields(self) -> list[tuple[str, str]]:
        return []


def _label(os: str | None, app: str | None, default: str) -> tuple[str, str]:
    if os is not None:
        return ("os", os)
    if app is not None:
        return ("app", app)
    return (default, UNKNOWN)


@attrs.frozen
class TcpEvent(LogEvent):
    """A SYN or SYN+ACK fingerprinted (``syn``, ``syn+ack``, ``sendsyn ...``)."""

    #: ``name flavor`` of the OS signature that matched, ``None`` if none did.
    os: str | None
    #: ``name flavor`` of a tool's signature (nmap, p0f-sendsyn...), or ``None``.
    #: At most one of :attr:`os` and :attr:`app` is set.
    app: str | None
    #: The distance in hops.
    distance: Distance
    #: The words of ``params=``.
    params: frozenset[TcpParam]
    #: The type-of-service value of ``tos:0xNN``, ``None`` if p0f wrote none.
    tos: int | None
    #: The signature exactly as logged.
    raw_sig: str
    #: The signature, parsed.
    signature: TcpSignature

    def _fields(self) -> list[tuple[str, str]]:
        words = [param.value for param in TcpParam if param in self.params and param is not TcpParam.TOS]
        if self.tos is not None:
            words.append(f"tos:0x{self.tos:02x}")
        return [
            _label(self.os, self.app, "os"),
            ("dist", str(self.distance)),
            ("params", " ".join(words) or "none"),
            ("raw_sig", self.raw_sig),
        ]


@attrs.frozen
class MtuEvent(LogEvent):
    """The link type, from the MTU a SYN's or SYN+ACK's MSS implies (``mtu``)."""

    #: The link p0f names for the MTU (``Ethernet or modem``), or ``None``.
    link: str | None
    #: The MTU (``raw_mtu=``): MSS + 40 for IPv4, + 60 for IPv6.
    mtu: int

    def _fields(self) -> list[tuple[str, str]]:
        return [("link", UNKNOWN if self.link is None else self.link), ("raw_mtu", str(self.mtu))]


@attrs.frozen
class UptimeEvent(LogEvent):
    """The host's uptime, from its TCP timestamp clock (``uptime``)."""

    #: Time since the timestamp clock was at zero, to the minute.
    uptime: _dt.timedelta
    #: The clock wraps around after this many whole days.
    modulo: _dt.timedelta
    #: The clock's measured frequency, in Hz (``raw_freq=``).
    frequency: float

    def _fields(self) -> list[tuple[str, str]]:
        minutes = int(self.uptime.total_seconds()) // 60
        return [
            (
                "uptime",
                f"{minutes // 1440} days {minutes // 60 % 24} hrs {minutes % 60} min "
                f"(modulo {self.modulo.days} days)",
            ),
            ("raw_freq", f"{self.frequency:.2f} Hz"),
        ]

    @property
    def uptime_min(self) -> int:
        """The uptime in whole minutes (the API's ``uptime_min``)."""
        return int(self.uptime.total_seconds()) // 60


@attrs.frozen
class HttpEvent(LogEvent):
    """An HTTP request or response fingerprinted (``http request``/``response``)."""

    #: ``name flavor`` of an OS-class HTTP signature, or ``None``.
    os: str | None
    #: ``name flavor`` of the software that matched, ``None`` if none did.
    #: At most one of :attr:`os` and :attr:`app` is set.
    app: str | None
    #: The language of ``Accept-Language``: a name such as ``German``, the
    #: word ``none`` when the request named none, ``None`` when p0f did not
    #: know the code (``???``).
    lang: str | None
    #: The words of ``params=``.
    params: frozenset[HttpParam]
    #: The signature exactly as logged.
    raw_sig: str
    #: The signature, parsed.
    signature: HttpSignature

    @property
    def language(self) -> str | None:
        """The language's name, or ``None`` (none named, or unknown)."""
        return None if self.lang in (None, "none") else self.lang

    def _fields(self) -> list[tuple[str, str]]:
        words = [param.value for param in HttpParam if param in self.params]
        return [
            _label(self.os, self.app, "app"),
            ("lang", UNKNOWN if self.lang is None else self.lang),
            ("params", " ".join(words) or "none"),
            ("raw_sig", self.raw_sig),
        ]


@attrs.frozen
class HostChangeEvent(LogEvent):
    """p0f scored signs of a changed host (``host change``) or of several
    hosts behind the address (``ip sharing``)."""

    #: Why (``reason=``); empty when p0f wrote ``???``.
    reasons: frozenset[Reason]
    #: ``raw_hits=``: how many of the host's recent scores were over 5, 2, 1 and 0.
    raw_hits: tuple[int, int, int, int]

    def _fields(self) -> list[tuple[str, str]]:
        words = " ".join(reason.value for reason in Reason if reason in self.reasons)
        return [("reason", words or UNKNOWN), ("raw_hits", ",".join(map(str, self.raw_hits)))]


AnyEvent: TypeAlias = TcpEvent | MtuEvent | UptimeEvent | HttpEvent | HostChangeEvent
"""Every concrete event record."""

EVENT_TYPES: Final[dict[Module, type[AnyEvent]]] = {
    Module.SYN: TcpEvent,
    Module.SYN_ACK: TcpEvent,
    Module.SENDSYN_PROBE: TcpEvent,
    Module.SENDSYN_RESPONSE: TcpEvent,
    Module.MTU: MtuEvent,
    Module.UPTIME: UptimeEvent,
    Module.HTTP_REQUEST: HttpEvent,
    Module.HTTP_RESPONSE: HttpEvent,
    Module.HOST_CHANGE: HostChangeEvent,
    Module.IP_SHARING: HostChangeEvent,
}
"""The record each module's lines become."""


def p0f_address(address: IPAddress) -> str:
    """The address as p0f writes it: ``fd00:0:0:0:0:0:0:6`` for IPv6."""
    if address.version == 4:
        return str(address)
    packed = address.packed
    return ":".join(f"{packed[i] << 8 | packed[i + 1]:x}" for i in range(0, 16, 2))


# -- parsing -----------------------------------------------------------------------


class _Bad(Exception):
    """What is wrong with a line (becomes a :class:`LogFormatError`)."""


_OPTION_WORDS: Final[dict[int, str]] = {
    TcpOption.NOP: "nop",
    TcpOption.MSS: "mss",
    TcpOption.WS: "ws",
    TcpOption.SOK: "sok",
    TcpOption.SACK: "sack",
    TcpOption.TS: "ts",
}
_OPTION_BY_WORD: Final = {word: TcpOption(kind) for kind, word in _OPTION_WORDS.items()}
_QUIRKS: Final = {quirk.value: quirk for quirk in Quirk}
_PAYLOADS: Final = {payload.value: payload for payload in PayloadClass}
_HEADER_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")


def _uint(text: str, what: str, limit: int) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise _Bad(f"{what} is not a number: {text!r}")
    value = int(text)
    if value > limit:
        raise _Bad(f"{what} over {limit}: {text!r}")
    return value


def _parse_tcp_signature(text: str) -> TcpSignature:
    parts = text.split(":")
    if len(parts) != 8:
        raise _Bad(f"{len(parts)} ':'-separated fields, not 8")
    version_text, ttl_text, olen_text, mss_text, window_text, layout, quirks_text, pclass = parts
    if version_text not in ("4", "6"):
        raise _Bad(f"IP version {version_text!r}")
    ttl_part, plus, distance_part = ttl_text.partition("+")
    if not plus:
        raise _Bad(f"TTL without '+distance': {ttl_text!r}")
    ttl = _uint(ttl_part, "TTL", 255)
    distance = None if distance_part == "?" else _uint(distance_part, "TTL distance", 255)
    mss = None if mss_text == "*" else _uint(mss_text, "MSS", 65535)
    size_text, comma, scale_text = window_text.partition(",")
    if not comma:
        raise _Bad(f"window without ',scale': {window_text!r}")
    if size_text[:4] == "mss*":
        window_type, window = WindowType.MSS, _uint(size_text[4:], "window multiplier", 65535)
    elif size_text[:4] == "mtu*":
        window_type, window = WindowType.MTU, _uint(size_text[4:], "window multiplier", 65535)
    else:
        window_type, window = WindowType.SIZE, _uint(size_text, "window size", 65535)
    scale = _uint(scale_text, "window scale", 255)
    options: list[int] = []
    padding = 0
    if layout:
        words = layout.split(",")
        for i, word in enumerate(words):
            option = _OPTION_BY_WORD.get(word)
            if option is not None:
                options.append(option)
            elif word[:4] == "eol+" and i == len(words) - 1:
                options.append(TcpOption.EOL)
                padding = _uint(word[4:], "EOL padding", 255)
            elif word[:1] == "?":
                kind = _uint(word[1:], "option kind", 255)
                options.append(TcpOption(kind) if kind in TcpOption._value2member_map_ else kind)
            else:
                raise _Bad(f"unknown TCP option {word!r}")
    quirks: set[Quirk] = set()
    if quirks_text:
        for word in quirks_text.split(","):
            quirk = _QUIRKS.get(word)
            if quirk is None:
                raise _Bad(f"unknown quirk {word!r}")
            quirks.add(quirk)
    payload = _PAYLOADS.get(pclass)
    if payload is None:
        raise _Bad(f"payload class {pclass!r}")
    return TcpSignature(
        int(version_text), ttl, distance, _uint(olen_text, "IP options length", 255), mss,
        window, window_type, scale, tuple(options), padding, frozenset(quirks), payload,
    )


def _parse_http_signature(text: str) -> HttpSignature:
    version_text = text[:2]
    if version_text not in ("0:", "1:"):
        raise _Bad(f"HTTP version {text[:2]!r}")
    pos = 2
    end = len(text)
    headers: list[HttpHeader] = []
    if text[pos : pos + 1] == ":":
        pos += 1
    else:
        while True:
            optional = text[pos : pos + 1] == "?"
            if optional:
                pos += 1
            match = _HEADER_NAME.match(text, pos)
            if match is None:
                raise _Bad(f"no header name at {pos}")
            name = match.group()
            pos = match.end()
            value = None
            if text[pos : pos + 2] == "=[":
                close = text.find("]", pos + 2)
                if close < 0:
                    raise _Bad(f"header value of {name} without ']'")
                value = text[pos + 2 : close]
                pos = close + 1
            headers.append(HttpHeader(name, value, optional))
            if pos >= end:
                raise _Bad("ends in the header list")
            separator = text[pos]
            pos += 1
            if separator == ":":
                break
            if separator != ",":
                raise _Bad(f"{separator!r} after header {name}")
    colon = text.find(":", pos)
    if colon < 0:
        raise _Bad("no ':' after the absent headers")
    absent = text[pos:colon].split(",") if colon > pos else []
    for name in absent:
        if _HEADER_NAME.fullmatch(name) is None:
            raise _Bad(f"absent header name {name!r}")
    software = text[colon + 1 :]
    return HttpSignature(int(version_text[0]), tuple(headers), tuple(absent), software or None)


_SUBJECTS: Final = {"subj=cli": Subject.CLIENT, "subj=srv": Subject.SERVER}
_TCP_PARAMS: Final = {param.value: param for param in TcpParam if param is not TcpParam.TOS}
_HTTP_PARAMS: Final = {param.value: param for param in HttpParam}
_REASONS: Final = {reason.value: reason for reason in Reason}
_EXPECTED: Final = {
    TcpEvent: "os (or app), dist, params, raw_sig",
    MtuEvent: "link, raw_mtu",
    UptimeEvent: "uptime, raw_freq",
    HttpEvent: "app (or os), lang, params, raw_sig",
    HostChangeEvent: "reason, raw_hits",
}
_CACHE_SIZE: Final = 4096
_FREQUENCY: Final = re.compile(r"\d{1,10}\.\d\d Hz")
_UPTIME_WORDS: Final = ("days", "hrs", "min", "(modulo")

_Common: TypeAlias = tuple[_dt.datetime, Module, IPAddress, int, IPAddress, int, Subject]
_Builder: TypeAlias = Callable[["LogParser", _Common, list[str], "str | None"], AnyEvent]


def _keys(parts: list[str], raw: str | None) -> str:
    keys = [part.partition("=")[0] for part in parts[4:]]
    if raw is not None:
        keys.append("raw_sig")
    return ", ".join(keys) or "none"


class LogParser:
    """Turns lines of p0f's log into events, reading dates in one time zone.

    A parser keeps small bounded caches (the last date, addresses,
    signatures), which make a log of many similar lines much faster to
    read; memory stays flat however long the log.  Threads may share one.

    With ``in_order`` (the default) the lines are taken to come in the
    log's order, which tells the two passes of a repeated wall-clock hour
    apart (summer time ending: a time before the previous line's is the
    second pass); without it, and for the first line read, a repeated time
    is read as its first pass.
    """

    def __init__(self, tz: _dt.tzinfo = UTC, *, in_order: bool = True) -> None:
        if not isinstance(tz, _dt.tzinfo):
            raise TypeError(f"tz must be a datetime.tzinfo, not {type(tz).__name__}")
        self._tz = tz
        self._in_order = in_order
        # The last date read, as one tuple so threads sharing the parser
        # never see one line's text with another's time.
        self._last: tuple[str, _dt.datetime] = ("", _dt.datetime(1970, 1, 1, tzinfo=tz))
        # Caches, each keyed by the text it was parsed from.
        self._addresses: dict[str, IPAddress] = {}
        self._clients: dict[str, tuple[IPAddress, int]] = {}
        self._servers: dict[str, tuple[IPAddress, int]] = {}
        self._labels: dict[str, tuple[str, str | None]] = {}
        self._distances: dict[str, Distance] = {}
        self._tcp_params: dict[str, tuple[frozenset[TcpParam], int | None]] = {}
        self._http_params: dict[str, frozenset[HttpParam]] = {}
        self._mtus: dict[str, int] = {}
        self._tcp_signatures: dict[str, TcpSignature] = {}
        self._http_signatures: dict[str, HttpSignature] = {}

    @property
    def tz(self) -> _dt.tzinfo:
        """The zone log dates are read in."""
        return self._tz

    def parse(self, line: str) -> AnyEvent:
        """One line (with or without its newline) as an event.

        Raises :class:`LogFormatError` (a ``ValueError``) naming the line
        and what is wrong with it; nothing else.
        """
        try:
            return self._parse(line)
        except _Bad as exc:
            raise LogFormatError(str(exc), line) from None
        except (ValueError, IndexError, KeyError, OverflowError, TypeError) as exc:
            # A value the checks above let through but Python refused.
            raise LogFormatError(str(exc), line) from exc

    def parse_lines(
        self,
        lines: Iterable[str],
        *,
        on_error: Callable[[LogFormatError], object] | None = None,
        first_lineno: int = 1,
        newline_required: bool = False,
    ) -> Iterator[AnyEvent]:
        """The events of ``lines``, in order, parsed as they are read.

        A bad line raises :class:`LogFormatError` with its line number
        (counting from ``first_lineno``), or, with ``on_error``, is handed
        to it and skipped.  Blank lines are skipped.  With
        ``newline_required``, a line without its newline (the last line of
        a file p0f is still writing) is reported as incomplete, not parsed.
        """
        parse = self._parse
        for lineno, line in enumerate(lines, first_lineno):
            try:
                if newline_required and line[-1:] != "\n":
                    raise _Bad("incomplete line: no newline at its end (p0f may still be writing it)")
                yield parse(line)
            except (_Bad, ValueError, IndexError, KeyError, OverflowError, TypeError) as exc:
                if line.strip() == "":
                    continue
                error = LogFormatError(str(exc), line, lineno)
                if on_error is None:
                    raise error from (None if isinstance(exc, _Bad) else exc)
                on_error(error)

    # -- the line ------------------------------------------------------------------
    #
    # The hot path: one find, one split, and a dictionary look-up for each
    # part; every distinct "key=value" text is parsed once and cached (the
    # caches are cleared when full, so memory stays flat).

    def _parse(self, line: str) -> AnyEvent:
        end = -1 if line[-1:] == "\n" else None
        if line[20:26] != "] mod=" or line[:1] != "[":
            raise _Bad("not a p0f log line (no '[date] mod=' at its start)")
        stamp = line[1:20]
        last = self._last
        moment = last[1] if stamp == last[0] else self._read_date(stamp)
        cut = line.find("|raw_sig=", 26)
        raw: str | None
        if cut >= 0:
            raw = line[cut + 9 : end]
            parts = line[26:cut].split("|")
        else:
            raw = None
            parts = line[26:end].split("|")
        if len(parts) < 4:
            raise _Bad("ends before cli=, srv= and subj=")
        dispatch = _DISPATCH.get(parts[0])
        if dispatch is None:
            raise _Bad(f"unknown module mod={parts[0]}")
        cli = parts[1]
        client = self._clients.get(cli) or self._endpoint(cli, "cli=", self._clients)
        srv = parts[2]
        server = self._servers.get(srv) or self._endpoint(srv, "srv=", self._servers)
        subject = _SUBJECTS.get(parts[3])
        if subject is None:
            raise _Bad(f"{parts[3]!r} where subj=cli or subj=srv belongs")
        module, build = dispatch
        return build(self, (moment, module, *client, *server, subject), parts, raw)

    def _read_date(self, stamp: str) -> _dt.datetime:
        if (
            stamp[4] != "/" or stamp[7] != "/" or stamp[10] != " "
            or stamp[13] != ":" or stamp[16] != ":"
        ):
            raise _Bad(f"date {stamp!r} is not YYYY/MM/DD HH:MM:SS")
        digits = stamp[:4] + stamp[5:7] + stamp[8:10] + stamp[11:13] + stamp[14:16] + stamp[17:]
        if not (digits.isascii() and digits.isdigit()):
            raise _Bad(f"date {stamp!r} is not YYYY/MM/DD HH:MM:SS")
        try:
            moment = _dt.datetime(
                int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10]),
                int(stamp[11:13]), int(stamp[14:16]), int(stamp[17:]), tzinfo=self._tz,
            )
        except ValueError as exc:
            raise _Bad(f"date {stamp!r}: {exc}") from None
        later = moment.replace(fold=1)
        previous_stamp, previous = self._last
        if later.utcoffset() != moment.utcoffset() and self._in_order and previous_stamp:
            # A wall-clock time the zone repeats (summer time ending).  p0f
            # logs in capture order: a time before the previous line's
            # instant is the second pass.
            if _instant(moment) < _instant(previous):
                moment = later
        self._last = (stamp, moment)
        return moment

    def _endpoint(
        self, part: str, prefix: str, cache: dict[str, tuple[IPAddress, int]]
    ) -> tuple[IPAddress, int]:
        key = prefix[:-1]
        if part[:4] != prefix:
            raise _Bad(f"{part.partition('=')[0]!r} where {key}= belongs")
        text = part[4:]
        address_text, slash, port_text = text.rpartition("/")
        if not slash:
            raise _Bad(f"{key}= has no /port: {text!r}")
        address = self._addresses.get(address_text)
        if address is None:
            address = _ip_address(address_text, key)
            _store(self._addresses, address_text, address)
        port = _uint(port_text, f"{key}= port", 65535)
        return _store(cache, part, (address, port))

    # -- the values ----------------------------------------------------------------

    def _label(self, part: str) -> tuple[str, str | None]:
        key, equals, text = part.partition("=")
        if not equals:
            raise _Bad(f"{part!r} is not key=value")
        return _store(self._labels, part, (key, None if text == UNKNOWN else text))

    def _distance(self, part: str) -> Distance:
        text = _value(part, "dist=")
        if text[:3] == "<= ":
            distance = Distance(_uint(text[3:], "dist", 255), True)
        else:
            distance = Distance(_uint(text, "dist", 255))
        return _store(self._distances, part, distance)

    def _tcp_param_words(self, part: str) -> tuple[frozenset[TcpParam], int | None]:
        text = _value(part, "params=")
        params: set[TcpParam] = set()
        tos = None
        if text != "none":
            for word in text.split(" "):
                param = _TCP_PARAMS.get(word)
                if param is not None:
                    params.add(param)
                elif word[:6] == "tos:0x" and len(word) == 8:
                    tos = int(word[6:], 16)
                    params.add(TcpParam.TOS)
                else:
                    raise _Bad(f"unknown params= word {word!r}")
        return _store(self._tcp_params, part, (frozenset(params), tos))

    def _http_param_words(self, part: str) -> frozenset[HttpParam]:
        text = _value(part, "params=")
        params: frozenset[HttpParam] = frozenset()
        if text != "none":
            try:
                params = frozenset(_HTTP_PARAMS[word] for word in text.split(" "))
            except KeyError as exc:
                raise _Bad(f"unknown params= word {exc.args[0]!r}") from None
        return _store(self._http_params, part, params)

    def _tcp_signature(self, raw: str) -> TcpSignature:
        try:
            signature = _parse_tcp_signature(raw)
        except _Bad as exc:
            raise _Bad(f"raw_sig= is not a TCP signature: {exc}") from None
        return _store(self._tcp_signatures, raw, signature)

    def _http_signature(self, raw: str) -> HttpSignature:
        try:
            signature = _parse_http_signature(raw)
        except _Bad as exc:
            raise _Bad(f"raw_sig= is not an HTTP signature: {exc}") from None
        return _store(self._http_signatures, raw, signature)

    def _mtu(self, part: str) -> int:
        return _store(self._mtus, part, _uint(_value(part, "raw_mtu="), "raw_mtu", 65535 + 60))


_T = TypeVar("_T")


def _store(cache: dict[str, _T], key: str, value: _T) -> _T:
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value
    return value


def _instant(moment: _dt.datetime) -> _dt.datetime:
    # Comparing two times of one zone ignores fold; in UTC it cannot.
    return moment.astimezone(UTC)


def _ip_address(text: str, key: str) -> IPAddress:
    # inet_pton is strict (a dotted quad; eight groups or "::" forms) and
    # several times quicker than ipaddress.ip_address on text.
    try:
        if ":" in text:
            return ipaddress.IPv6Address(socket.inet_pton(socket.AF_INET6, text))
        return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):
        raise _Bad(f"{key}= address {text!r} is not an IP address") from None


def _value(part: str, prefix: str) -> str:
    if part[: len(prefix)] != prefix:
        raise _Bad(f"{part.partition('=')[0]!r} where {prefix[:-1]}= belongs")
    return part[len(prefix) :]


def _wrong_keys(kind: type[AnyEvent], parts: list[str], raw: str | None) -> _Bad:
    return _Bad(f"mod={parts[0]} has keys {_keys(parts, raw)}; p0f writes {_EXPECTED[kind]}")


def _build_tcp(parser: LogParser, common: _Common, parts: list[str], raw: str | None) -> TcpEvent:
    if len(parts) != 7 or raw is None:
        raise _wrong_keys(TcpEvent, parts, raw)
    key, label = parser._labels.get(parts[4]) or parser._label(parts[4])
    if key == "os":
        os, app = label, None
    elif key == "app":
        os, app = None, label
    else:
        raise _wrong_keys(TcpEvent, parts, raw)
    distance = parser._distances.get(parts[5]) or parser._distance(parts[5])
    params, tos = parser._tcp_params.get(parts[6]) or parser._tcp_param_words(parts[6])
    signature = parser._tcp_signatures.get(raw) or parser._tcp_signature(raw)
    return TcpEvent(*common, os, app, distance, params, tos, raw, signature)


def _build_mtu(parser: LogParser, common: _Common, parts: list[str], raw: str | None) -> MtuEvent:
    if len(parts) != 6 or raw is not None:
        raise _wrong_keys(MtuEvent, parts, raw)
    key, link = parser._labels.get(parts[4]) or parser._label(parts[4])
    if key != "link":
        raise _wrong_keys(MtuEvent, parts, raw)
    mtu = parser._mtus.get(parts[5])
    if mtu is None:
        mtu = parser._mtu(parts[5])
    return MtuEvent(*common, link, mtu)


def _build_uptime(parser: LogParser, common: _Common, parts: list[str], raw: str | None) -> UptimeEvent:
    if len(parts) != 6 or raw is not None:
        raise _wrong_keys(UptimeEvent, parts, raw)
    text = _value(parts[4], "uptime=")
    words = text.split(" ")
    if len(words) != 9 or (words[1], words[3], words[5], words[6]) != _UPTIME_WORDS or words[8] != "days)":
        raise _Bad(f"uptime= is not 'D days H hrs M min (modulo N days)': {text!r}")
    days = _uint(words[0], "uptime days", 10**8)
    hours = _uint(words[2], "uptime hours", 23)
    minutes = _uint(words[4], "uptime minutes", 59)
    modulo = _uint(words[7], "uptime modulo", 10**8)
    frequency_text = _value(parts[5], "raw_freq=")
    if _FREQUENCY.fullmatch(frequency_text) is None:
        raise _Bad(f"raw_freq= is not 'N.NN Hz': {frequency_text!r}")
    return UptimeEvent(
        *common,
        _dt.timedelta(days=days, hours=hours, minutes=minutes),
        _dt.timedelta(days=modulo),
        float(frequency_text[:-3]),
    )


def _build_http(parser: LogParser, common: _Common, parts: list[str], raw: str | None) -> HttpEvent:
    if len(parts) != 7 or raw is None:
        raise _wrong_keys(HttpEvent, parts, raw)
    key, label = parser._labels.get(parts[4]) or parser._label(parts[4])
    if key == "app":
        os, app = None, label
    elif key == "os":
        os, app = label, None
    else:
        raise _wrong_keys(HttpEvent, parts, raw)
    key, lang = parser._labels.get(parts[5]) or parser._label(parts[5])
    if key != "lang":
        raise _wrong_keys(HttpEvent, parts, raw)
    params = parser._http_params.get(parts[6])
    if params is None:
        params = parser._http_param_words(parts[6])
    signature = parser._http_signatures.get(raw) or parser._http_signature(raw)
    return HttpEvent(*common, os, app, lang, params, raw, signature)


def _build_change(parser: LogParser, common: _Common, parts: list[str], raw: str | None) -> HostChangeEvent:
    if len(parts) != 6 or raw is not None:
        raise _wrong_keys(HostChangeEvent, parts, raw)
    words = _value(parts[4], "reason=")
    reasons: frozenset[Reason] = frozenset()
    if words != UNKNOWN:
        try:
            reasons = frozenset(_REASONS[word] for word in words.split(" "))
        except KeyError as exc:
            raise _Bad(f"unknown reason= word {exc.args[0]!r}") from None
    hits_text = _value(parts[5], "raw_hits=")
    hits = hits_text.split(",")
    if len(hits) != 4:
        raise _Bad(f"raw_hits= is not four numbers: {hits_text!r}")
    a, b, c, d = (_uint(hit, "raw_hits", 255) for hit in hits)
    return HostChangeEvent(*common, reasons, (a, b, c, d))


_BUILD_BY_TYPE: Final[dict[type[AnyEvent], _Builder]] = {
    TcpEvent: _build_tcp,
    MtuEvent: _build_mtu,
    UptimeEvent: _build_uptime,
    HttpEvent: _build_http,
    HostChangeEvent: _build_change,
}
_DISPATCH: Final = {
    module.value: (module, _BUILD_BY_TYPE[kind]) for module, kind in EVENT_TYPES.items()
}

_parsers: dict[_dt.tzinfo, LogParser] = {}


def _parser_for(tz: _dt.tzinfo) -> LogParser:
    parser = _parsers.get(tz)
    if parser is None:
        if len(_parsers) > 64:
            _parsers.clear()
        parser = _parsers[tz] = LogParser(tz, in_order=False)
    return parser


def parse_line(line: str, *, tz: _dt.tzinfo = UTC) -> AnyEvent:
    """One line of p0f's log as an event; dates read in ``tz`` (UTC by default).

    Raises :class:`LogFormatError` (a ``ValueError``) naming the line and
    what is wrong with it; nothing else.
    """
    return _parser_for(tz).parse(line)


def parse_lines(
    lines: Iterable[str],
    *,
    tz: _dt.tzinfo = UTC,
    on_error: Callable[[LogFormatError], object] | None = None,
) -> Iterator[AnyEvent]:
    """The events of any iterable of lines (a file, a list...), one at a time.

    Memory stays flat: each line is parsed as it is read.  A bad line
    raises :class:`LogFormatError` with its line number, or with
    ``on_error`` is handed to it and skipped.  Blank lines are skipped.
    """
    return LogParser(tz).parse_lines(lines, on_error=on_error)
