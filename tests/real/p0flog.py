"""A reader for the log p0f writes with ``-o``: the oracle the tests trust.

p0f writes one line per observation::

    [2026/11/26 23:06:59] mod=syn|cli=127.0.0.5/40001|srv=127.0.0.1/80|subj=cli|os=Windows 7 or 8|dist=0|params=none|raw_sig=...

The date is the capture time of the packet that caused the observation, in
the daemon's local time (the tests run p0f with ``TZ=UTC``), and it is the
same clock p0f puts in the API's ``first_seen``, ``last_seen``, ``last_chg``
and ``last_nat``.  IPv6 addresses are written as eight bare hex groups.

:func:`logged_host` turns the lines about one host into what p0f's API must
then say about that host, by the rules of p0f 3.09b's ``process.c``:

* a host is created, and ``total_conn`` counts one, at every SYN naming it
  as client or server (one ``mod=syn`` line each); ``last_seen`` moves only
  then;
* ``os_name``/``os_flavor``/``os_match_q`` come from the last SYN (or
  SYN+ACK, for a server) about the host that matched a signature; a ``???``
  line leaves the previous match in place; ``distance`` comes from the last
  one whatever it matched;
* ``link_type``, ``http_name``/``http_flavor`` and ``language`` likewise
  keep the last known value (``???``, ``none`` change nothing);
* ``last_chg`` is the time of the last ``host change``, ``last_nat`` that of
  the last ``ip sharing``; ``bad_sw`` is 2 after a request logged
  ``params=dishonest`` and 1 after a request followed by a ``ua_vs_os``
  change (p0f's ``NAT_APP_UA``);
* ``uptime_min``/``up_mod_days`` come from the last ``mod=uptime`` line.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeAlias

from p0f.log import parse_line as typed_line

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN: Final = "???"
"""What p0f logs for "no match"."""

_LINE: Final = re.compile(
    r"^\[(?P<date>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)\] "
    r"mod=(?P<mod>[^|]*)\|"
    r"cli=(?P<cli>[^|/]*)/(?P<cli_port>\d+)\|"
    r"srv=(?P<srv>[^|/]*)/(?P<srv_port>\d+)\|"
    r"subj=(?P<subj>cli|srv)"
    r"(?P<rest>\|.*)?$"
)
_UPTIME: Final = re.compile(
    r"^(?P<days>\d+) days (?P<hrs>\d+) hrs (?P<min>\d+) min \(modulo (?P<mod>\d+) days\)$"
)


class LogFormatError(ValueError):
    """A line of p0f's log does not have the shape p0f writes."""


@dataclass(frozen=True)
class LogLine:
    """One observation p0f logged."""

    when: int
    """Unix time (seconds) of the packet, on p0f's clock."""
    mod: str
    client: IPAddress
    client_port: int
    server: IPAddress
    server_port: int
    subject: Literal["cli", "srv"]
    fields: Mapping[str, str]
    """The ``key=value`` pairs after ``subj``; ``raw_sig`` keeps any ``|``."""

    @property
    def host(self) -> IPAddress:
        """The host the observation is about."""
        return self.client if self.subject == "cli" else self.server

    def involves(self, address: IPAddress) -> bool:
        return address in (self.client, self.server)

    def field(self, key: str) -> str:
        try:
            return self.fields[key]
        except KeyError:
            raise LogFormatError(f"mod={self.mod} line has no {key}=: {self!r}") from None

    @property
    def params(self) -> frozenset[str]:
        """The words of ``params=`` (``none`` is no word)."""
        value = self.fields.get("params", "none")
        return frozenset(word for word in value.split() if word != "none")


def parse_line(line: str) -> LogLine:
    """Parse one line of the log; :class:`LogFormatError` if it is not p0f's.

    Every line is also read by the library's parser (:mod:`p0f.log`), which
    must agree on what the line is about: the oracle backs the library.
    """
    text = line.rstrip("\r\n")
    match = _LINE.match(text)
    if match is None:
        raise LogFormatError(f"not a p0f log line: {text!r}")
    fields: dict[str, str] = {}
    parts = (match["rest"] or "")[1:].split("|") if match["rest"] else []
    for i, part in enumerate(parts):
        key, sep, value = part.partition("=")
        if not sep:
            raise LogFormatError(f"field without '=' ({part!r}) in {text!r}")
        if key == "raw_sig":
            fields[key] = "|".join([value, *parts[i + 1 :]])
            break
        fields[key] = value
    subject: Literal["cli", "srv"] = "cli" if match["subj"] == "cli" else "srv"
    parsed = LogLine(
        when=calendar.timegm(time.strptime(match["date"], "%Y/%m/%d %H:%M:%S")),
        mod=match["mod"],
        client=ipaddress.ip_address(match["cli"]),
        client_port=int(match["cli_port"]),
        server=ipaddress.ip_address(match["srv"]),
        server_port=int(match["srv_port"]),
        subject=subject,
        fields=fields,
    )
    _cross_check(parsed, text)
    return parsed


def _cross_check(parsed: LogLine, text: str) -> None:
    try:
        event = typed_line(text)
    except ValueError as exc:
        raise LogFormatError(f"p0f.log cannot read a line the oracle reads ({exc})") from exc
    ours = (parsed.mod, parsed.client, parsed.client_port, parsed.server, parsed.server_port,
            parsed.subject, parsed.when)
    theirs = (event.module.value, event.client, event.client_port, event.server,
              event.server_port, event.subject.value, int(event.time.timestamp()))
    if ours != theirs or event.to_line() != text:
        raise LogFormatError(f"p0f.log reads {theirs} where the oracle reads {ours}: {text!r}")


def read_log(path: Path) -> list[LogLine]:
    """Every complete line of the log so far (a line still being written is
    left for the next read)."""
    try:
        text = path.read_text(encoding="latin-1")
    except FileNotFoundError:
        return []
    complete, _, _ = text.rpartition("\n")
    return [parse_line(line) for line in complete.splitlines() if line]


def p0f_address(address: IPAddress) -> str:
    """The address as p0f writes it (``fd00:0:0:0:0:0:0:6`` for IPv6)."""
    if address.version == 4:
        return str(address)
    packed = address.packed
    return ":".join(f"{packed[i] << 8 | packed[i + 1]:x}" for i in range(0, 16, 2))


def split_label(logged: str, name: str, flavor: str) -> bool:
    """Whether ``name``/``flavor`` from the API are the logged ``name flavor``.

    p0f copies each API string with ``strncpy(..., 32)``, so a flavor of 32
    bytes may be the start of a longer logged one.
    """
    joined = f"{name} {flavor}" if flavor else name
    if logged == joined:
        return True
    return len(flavor.encode("latin-1")) == 32 and logged.startswith(joined)


@dataclass(frozen=True)
class Uptime:
    minutes: int
    modulo_days: int


def parse_uptime(value: str) -> Uptime:
    """``0 days 20 hrs 34 min (modulo 49 days)`` as minutes and days."""
    match = _UPTIME.match(value)
    if match is None:
        raise LogFormatError(f"unexpected uptime= value {value!r}")
    minutes = int(match["days"]) * 1440 + int(match["hrs"]) * 60 + int(match["min"])
    return Uptime(minutes=minutes, modulo_days=int(match["mod"]))


@dataclass(frozen=True)
class LoggedHost:
    """What the log says p0f's API must answer about one host."""

    address: IPAddress
    lines: Sequence[LogLine]
    first_seen: int
    last_seen: int
    total_conn: int
    os: str | None
    """``name flavor`` of the last matching SYN/SYN+ACK, or ``None``."""
    os_match_q: int
    distance: int | None
    link_type: str | None
    app: str | None
    """``name flavor`` of the last identified HTTP software, or ``None``."""
    language: str | None
    bad_sw: int
    last_chg: int
    last_nat: int
    uptime: Uptime | None

    def mods(self) -> dict[str, int]:
        """How many lines of each ``mod`` are about (or name) the host."""
        counts: dict[str, int] = {}
        for line in self.lines:
            counts[line.mod] = counts.get(line.mod, 0) + 1
        return counts


_FUZZY: Final = 1
_GENERIC: Final = 2


def logged_host(lines: Iterable[LogLine], address: IPAddress) -> LoggedHost | None:
    """The API answer the log implies for ``address``; ``None`` if never seen."""
    mine = [line for line in lines if line.involves(address)]
    syns = [line for line in mine if line.mod == "syn"]
    if not syns:
        return None
    about = [line for line in mine if line.host == address]
    os: str | None = None
    quality = 0
    distance: int | None = None
    link: str | None = None
    app: str | None = None
    language: str | None = None
    bad_sw = 0
    last_chg = 0
    last_nat = 0
    uptime: Uptime | None = None
    for line in about:
        if line.mod in ("syn", "syn+ack"):
            distance = int(line.field("dist"))
            label = line.field("os")
            if label != UNKNOWN:
                os = label
                quality = (_FUZZY if "fuzzy" in line.params else 0) | (
                    _GENERIC if "generic" in line.params else 0
                )
        elif line.mod == "mtu":
            if line.field("link") != UNKNOWN:
                link = line.field("link")
        elif line.mod == "http request":
            if line.field("app") != UNKNOWN:
                app = line.field("app")
            if line.field("lang") not in ("none", UNKNOWN):
                language = line.field("lang")
            if "dishonest" in line.params:
                bad_sw = 2
        elif line.mod in ("host change", "ip sharing"):
            if line.mod == "host change":
                last_chg = line.when
            else:
                last_nat = line.when
            if "ua_vs_os" in line.fields.get("reason", "").split() and bad_sw == 0:
                bad_sw = 1
        elif line.mod == "uptime":
            uptime = parse_uptime(line.field("uptime"))
    return LoggedHost(
        address=address,
        lines=mine,
        first_seen=syns[0].when,
        last_seen=syns[-1].when,
        total_conn=len(syns),
        os=os,
        os_match_q=quality,
        distance=distance,
        link_type=link,
        app=app,
        language=language,
        bad_sw=bad_sw,
        last_chg=last_chg,
        last_nat=last_nat,
        uptime=uptime,
    )
