"""Crafted traffic that makes a real p0f 3.09b say something about a host.

Scapy builds the packets; every one goes out on ``lo`` at layer 2 (an
Ethernet header with zero MACs, through a raw ``AF_PACKET`` socket), from a loopback source (127.0.0.0/8, or fd00::/8 for IPv6) to a
loopback destination (127.0.0.0/8 or ::1); :func:`send` refuses anything
else.  Each scenario plays its traffic from one source address the caller
picks, so every scenario gets a host of its own in p0f's table.

The packets carry a deliberately wrong checksum (the IPv4 header checksum,
or the TCP checksum for IPv6).  p0f does not check checksums, the kernel
does and drops them, so it never answers a crafted SYN with a RST (which
would make p0f forget the flow before the HTTP request).

The recipes, and what p0f 3.09b answers to each, were found by running the
daemon: see ``README.md`` in this directory.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

from .p0flog import IPAddress

SCAPY_MISSING: str | None
try:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.packet import Packet, Raw
except ImportError as exc:  # the fixtures skip (or fail, on CI) with this
    SCAPY_MISSING = f"scapy cannot be imported ({exc})"
else:
    SCAPY_MISSING = None

IFACE: Final = "lo"
ETH_P_IP: Final = 0x0800
ETH_P_IPV6: Final = 0x86DD
SERVER_V4: Final = ipaddress.IPv4Address("127.0.0.1")
SERVER_V6: Final = ipaddress.IPv6Address("::1")

_LOOPBACK_V4: Final = ipaddress.IPv4Network("127.0.0.0/8")
_ULA_ON_LO: Final = ipaddress.IPv6Network("fd00::/8")

_rng = random.Random()

TcpOption: TypeAlias = tuple[str, object]


class NotLoopbackError(ValueError):
    """A packet would have left the loopback addresses."""


def check_loopback(src: IPAddress, dst: IPAddress) -> None:
    """Refuse any packet that is not from and to a loopback address."""
    if src.version == 4 and dst.version == 4:
        if src in _LOOPBACK_V4 and dst in _LOOPBACK_V4:
            return
    elif src.version == 6 and dst.version == 6:
        if (src == SERVER_V6 or src in _ULA_ON_LO) and dst == SERVER_V6:
            return
    raise NotLoopbackError(f"refusing traffic {src} -> {dst}: not loopback")


def server_for(src: IPAddress) -> IPAddress:
    return SERVER_V4 if src.version == 4 else SERVER_V6


# -- packets -------------------------------------------------------------------


def ip_layer(src: IPAddress, dst: IPAddress, *, ttl: int, df: bool = True) -> Packet:
    check_loopback(src, dst)
    if src.version == 6:
        return IPv6(src=str(src), dst=str(dst), hlim=ttl)
    return IP(
        src=str(src), dst=str(dst), ttl=ttl, flags="DF" if df else 0,
        id=_rng.randint(1, 65535),
    )


def windows_options(mss: int = 1460, wscale: int = 8) -> list[TcpOption]:
    """``mss,nop,ws,nop,nop,sok``: Windows 7 and 8."""
    return [("MSS", mss), ("NOP", None), ("WScale", wscale), ("NOP", None),
            ("NOP", None), ("SAckOK", b"")]


def linux_options(mss: int = 1460, ts: int | None = None) -> list[TcpOption]:
    """``mss,sok,ts,nop,ws`` with window scale 7: Linux 3.11 and newer."""
    stamp = ts if ts is not None else _rng.randint(1000, 10**8)
    return [("MSS", mss), ("SAckOK", b""), ("Timestamp", (stamp, 0)), ("NOP", None),
            ("WScale", 7)]


@dataclass(frozen=True)
class SynShape:
    """What a TCP stack puts in its SYN: the part p0f fingerprints."""

    ttl: int
    window: int
    options: Sequence[TcpOption]
    df: bool = True


def windows_syn(*, ttl: int = 128, mss: int = 1460, wscale: int = 8, df: bool = True) -> SynShape:
    return SynShape(ttl, 8192, windows_options(mss, wscale), df)


def linux_syn(*, ts: int | None = None, mss: int = 1460) -> SynShape:
    return SynShape(64, mss * 20, linux_options(mss, ts))


def syn(
    src: IPAddress, shape: SynShape, *, sport: int, seq: int | None = None,
    dst: IPAddress | None = None, dport: int = 80,
) -> Packet:
    target = dst if dst is not None else server_for(src)
    return ip_layer(src, target, ttl=shape.ttl, df=shape.df) / TCP(
        sport=sport, dport=dport, flags="S",
        seq=seq if seq is not None else _rng.randint(1, 2**31),
        window=shape.window, options=list(shape.options),
    )


def quiet_bytes(packet: Packet) -> bytes:
    """The packet's bytes with a checksum broken, so the kernel drops it."""
    data = bytearray(bytes(packet))
    if data[0] >> 4 == 4:
        data[10] ^= 0x5A  # IPv4 header checksum
    else:
        data[40 + 16] ^= 0x5A  # TCP checksum after the 40-byte IPv6 header
    return bytes(data)


_link_lock = threading.Lock()
_link: socket.socket | None = None


def _link_socket() -> socket.socket:
    """One raw socket on ``lo``, kept open: sending is then quick and its
    timing exact (the uptime scenarios depend on it)."""
    global _link
    with _link_lock:
        if _link is None:
            link = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            link.bind((IFACE, 0))
            _link = link
        return _link


def send(packets: Sequence[Packet]) -> float:
    """Send the packets on ``lo`` in order; return when the first went out."""
    frames: list[bytes] = []
    for packet in packets:
        data = quiet_bytes(packet)
        if data[0] >> 4 == 4:
            src: IPAddress = ipaddress.IPv4Address(data[12:16])
            dst: IPAddress = ipaddress.IPv4Address(data[16:20])
            ethertype = ETH_P_IP
        else:
            src = ipaddress.IPv6Address(data[8:24])
            dst = ipaddress.IPv6Address(data[24:40])
            ethertype = ETH_P_IPV6
        check_loopback(src, dst)
        # Ethernet header: zero destination and source MACs, then the type.
        frames.append(bytes(12) + ethertype.to_bytes(2, "big") + data)
    link = _link_socket()
    sent = time.time()
    for frame in frames:
        link.send(frame)
    return sent


def new_port() -> int:
    return _rng.randint(20000, 50000)


def send_syn(
    src: IPAddress, shape: SynShape, *, sport: int | None = None, dst: IPAddress | None = None
) -> None:
    send([syn(src, shape, sport=sport if sport is not None else new_port(), dst=dst)])


# -- HTTP ----------------------------------------------------------------------

FIREFOX_WINDOWS_UA: Final = (
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:40.0) Gecko/20100101 Firefox/40.0"
)
FIREFOX_MAC_UA: Final = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.10; rv:40.0) Gecko/20100101 Firefox/40.0"
)
MSIE_UA: Final = "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)"
CHROME_LINUX_UA: Final = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/51.0.2704.103 Safari/537.36"
)


def firefox_request(
    *, ua: str = FIREFOX_WINDOWS_UA, language: str = "de-DE,de;q=0.8,en-US;q=0.5,en;q=0.3",
    extra: Sequence[tuple[str, str]] = (),
) -> bytes:
    """Headers in the order of p0f.fp's ``s:!:Firefox:10.x or newer``."""
    headers = [
        ("Host", "localhost"),
        ("User-Agent", ua),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Language", language),
        ("Accept-Encoding", "gzip, deflate"),
        *extra,
        ("Connection", "keep-alive"),
    ]
    return _request(headers)


def chrome_request(
    *, ua: str = CHROME_LINUX_UA, language: str = "ja,en-US;q=0.8,en;q=0.6"
) -> bytes:
    """Headers in the order of p0f.fp's ``s:!:Chrome:51.x or newer``."""
    return _request([
        ("Host", "localhost"),
        ("Connection", "keep-alive"),
        ("Upgrade-Insecure-Requests", "1"),
        ("User-Agent", ua),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("Accept-Encoding", "gzip, deflate, sdch"),
        ("Accept-Language", language),
    ])


def safari_request(*, ua: str, language: str = "en-us") -> bytes:
    """Headers in the order of p0f.fp's ``s:!:Safari:7 or newer``."""
    return _request([
        ("Host", "localhost"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "keep-alive"),
        ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("User-Agent", ua),
        ("Accept-Language", language),
    ])


def _request(headers: Sequence[tuple[str, str]]) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"GET / HTTP/1.1\r\n{lines}\r\n".encode("ascii")


def _synack(src: IPAddress, dst: IPAddress, *, sport: int, dport: int, seq: int, ack: int) -> Packet:
    """The server's SYN+ACK (Linux-like); p0f needs it before it reads data."""
    return ip_layer(src, dst, ttl=64) / TCP(
        sport=sport, dport=dport, flags="SA", seq=seq, ack=ack, window=43690,
        options=[("MSS", 65495), ("SAckOK", b""), ("Timestamp", (12345, 0)),
                 ("NOP", None), ("WScale", 7)],
    )


def http_session(
    src: IPAddress, shape: SynShape, request: bytes, *, sport: int | None = None
) -> None:
    """SYN, SYN+ACK, ACK, then one segment holding ``request`` (any bytes:
    what p0f does not take for HTTP, it ignores, as it does TLS)."""
    server = server_for(src)
    sport = sport if sport is not None else new_port()
    cseq, sseq = _rng.randint(1, 2**31), _rng.randint(1, 2**31)
    ack = ip_layer(src, server, ttl=shape.ttl, df=shape.df) / TCP(
        sport=sport, dport=80, flags="A", seq=cseq + 1, ack=sseq + 1, window=256)
    data = ip_layer(src, server, ttl=shape.ttl, df=shape.df) / TCP(
        sport=sport, dport=80, flags="PA", seq=cseq + 1, ack=sseq + 1, window=256,
    ) / Raw(request)
    send([
        syn(src, shape, sport=sport, seq=cseq),
        _synack(server, src, sport=80, dport=sport, seq=sseq, ack=cseq + 1),
        ack,
        data,
    ])


# -- uptime --------------------------------------------------------------------

HZ: Final = 1000
"""The timestamp clock the uptime scenarios fake (p0f rounds what it measures)."""


def uptime_pair(src: IPAddress, *, minutes: int, gap: float, mss: int = 1460) -> None:
    """Two Linux SYNs ``gap`` s apart whose timestamps tick at :data:`HZ`.

    p0f compares the second SYN's timestamp with the host's previous SYN
    (needs 25 ms to 10 min apart and a clock it can round, so the gap must
    dwarf the send jitter).  Ports go up, so p0f sees no NAT sign.
    """
    port = new_port()
    ts1 = minutes * 60 * HZ
    sent = send([syn(src, linux_syn(ts=ts1, mss=mss), sport=port)])
    time.sleep(max(0.0, sent + gap - time.time()))
    ts2 = ts1 + round((time.time() - sent) * HZ)
    send([syn(src, linux_syn(ts=ts2, mss=mss), sport=port + 1)])


def uptime_handshake(src: IPAddress, *, minutes: int, gap: float) -> None:
    """One connection: SYN and SYN+ACK, then ``gap`` s later the client's ACK
    with its timestamp advanced (p0f checks ACKs of a tracked flow too)."""
    server = server_for(src)
    sport = new_port()
    cseq, sseq = _rng.randint(1, 2**31), _rng.randint(1, 2**31)
    ts1 = minutes * 60 * HZ
    sent = send([
        syn(src, linux_syn(ts=ts1), sport=sport, seq=cseq),
        _synack(server, src, sport=80, dport=sport, seq=sseq, ack=cseq + 1),
    ])
    time.sleep(max(0.0, sent + gap - time.time()))
    ts2 = ts1 + round((time.time() - sent) * HZ)
    send([ip_layer(src, server, ttl=64) / TCP(
        sport=sport, dport=80, flags="A", seq=cseq + 1, ack=sseq + 1, window=229,
        options=[("NOP", None), ("NOP", None), ("Timestamp", (ts2, 1))],
    )])


# -- the scenarios ---------------------------------------------------------------


class _Set:
    """Expectation: the field has a value (a time p0f chose), not ``None``."""

    def __repr__(self) -> str:
        return "SET"


SET: Final = _Set()
"""Expect the field to be set, whatever its value."""

Expected: TypeAlias = str | int | None | _Set


@dataclass(frozen=True)
class Scenario:
    """Traffic from one host, and what p0f is known to answer about it.

    ``expect`` names fields of :class:`p0f.P0fResponse` (``os_match_q`` and
    ``bad_sw`` as plain ints, ``up_mod_days`` in days); fields it does not
    name are still checked against p0f's log.  ``log`` gives how many lines
    of each ``mod`` the traffic makes p0f write about the host: the tests
    wait for them before asking, since p0f logs after it updates its table.
    """

    name: str
    family: Literal[4, 6]
    covers: str
    play: Callable[[IPAddress], None]
    expect: Mapping[str, Expected]
    log: Mapping[str, int] = field(default_factory=lambda: {"syn": 1, "mtu": 1})
    expect_raw: Mapping[str, int] = field(default_factory=dict)
    """Wire values (fields of the 232-byte answer) known for this scenario."""


def _syn_only(shape: SynShape) -> Callable[[IPAddress], None]:
    def play(src: IPAddress) -> None:
        send_syn(src, shape)
    return play


def _repeat(*shapes: SynShape) -> Callable[[IPAddress], None]:
    """SYNs of several shapes from one host, from increasing ports."""
    def play(src: IPAddress) -> None:
        port = new_port()
        for i, shape in enumerate(shapes):
            send_syn(src, shape, sport=port + i)
    return play


def _http(shape: SynShape, request: bytes) -> Callable[[IPAddress], None]:
    def play(src: IPAddress) -> None:
        http_session(src, shape, request)
    return play


_WIN: Final[dict[str, Expected]] = {"os_name": "Windows", "os_flavor": "7 or 8", "os_match_q": 0}
_ETHERNET: Final = "Ethernet or modem"
_NOTHING_ELSE: Final[dict[str, Expected]] = {
    "http_name": None, "http_flavor": None, "language": None, "bad_sw": 0,
    "last_nat": None, "last_chg": None, "uptime_min": None, "up_mod_days": None,
}
_HTTP_HOST: Final[dict[str, Expected]] = {"total_conn": 1, "uptime_min": None, "up_mod_days": None, "last_nat": None}
_MAC_OPTIONS: Final[list[TcpOption]] = [
    # 23 option bytes; scapy pads them to 24 with a zero byte: "eol+1".
    ("MSS", 1460), ("NOP", None), ("WScale", 3), ("NOP", None), ("NOP", None),
    ("Timestamp", (4242424, 0)), ("SAckOK", b""), ("EOL", None),
]


def _partner(host: IPAddress) -> IPAddress:
    """A client for ``host`` that no other scenario uses (the .255 of its /24)."""
    assert host.version == 4
    return ipaddress.IPv4Address(int(host) | 0xFF)


def _mac(wscale: int) -> SynShape:
    options = list(_MAC_OPTIONS)
    options[2] = ("WScale", wscale)
    return SynShape(64, 65535, options)


def mac_syn(wscale: int = 3) -> SynShape:
    """An Apple SYN; p0f 3.09b names it by the window scale: 1 or 3 ``Mac OS X``
    10.x, 4 ``MacOS X`` 10.9 or newer, 2 ``iOS``."""
    return _mac(wscale)


SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario(
        "windows", 4, "os_name/os_flavor (Windows), link_type from MSS 1460",
        _syn_only(windows_syn()),
        {**_WIN, "distance": 0, "link_type": _ETHERNET, "total_conn": 1, **_NOTHING_ELSE},
    ),
    Scenario(
        "linux", 4, "os_name/os_flavor (Linux)",
        _syn_only(linux_syn()),
        {"os_name": "Linux", "os_flavor": "3.11 and newer", "os_match_q": 0,
         "distance": 0, "link_type": _ETHERNET, **_NOTHING_ELSE},
    ),
    Scenario(
        "freebsd", 4, "os_name/os_flavor (FreeBSD)",
        _syn_only(SynShape(64, 65535, [("MSS", 1460), ("NOP", None), ("WScale", 6),
                                       ("SAckOK", b""), ("Timestamp", (777777, 0))])),
        {"os_name": "FreeBSD", "os_flavor": "9.x or newer", "os_match_q": 0, "distance": 0},
    ),
    Scenario(
        "macos", 4, "os_name/os_flavor (Mac OS X)",
        _syn_only(_mac(3)),
        {"os_name": "Mac OS X", "os_flavor": "10.x", "os_match_q": 0},
    ),
    Scenario(
        "macos_long_flavor", 4,
        "os_flavor of 32 bytes with no NUL (p0f cuts a longer label)",
        _syn_only(_mac(4)),
        {"os_name": "MacOS X", "os_flavor": "10.9 or newer (sometimes iPhone "},
    ),
    Scenario(
        "solaris", 4, "os_name/os_flavor (Solaris)",
        _syn_only(SynShape(64, 1460 * 34, [("MSS", 1460), ("NOP", None), ("WScale", 0),
                                           ("NOP", None), ("NOP", None), ("SAckOK", b"")])),
        {"os_name": "Solaris", "os_flavor": "10"},
    ),
    Scenario(
        "fuzzy", 4, "os_match_q 1: the Windows SYN without DF",
        _syn_only(windows_syn(df=False)),
        {**_WIN, "os_match_q": 1},
    ),
    Scenario(
        "generic", 4, "os_match_q 2: window scale 4 fits only a generic signature",
        _syn_only(windows_syn(wscale=4)),
        {"os_name": "Windows", "os_flavor": "NT kernel 6.x", "os_match_q": 2},
    ),
    Scenario(
        "generic_fuzzy", 4, "os_match_q 3: generic and without DF",
        _syn_only(windows_syn(wscale=4, df=False)),
        {"os_name": "Windows", "os_flavor": "NT kernel 6.x", "os_match_q": 3},
    ),
    Scenario(
        "unknown_os", 4, "a known host with no OS: os fields None, distance guessed",
        _syn_only(SynShape(200, 1234, [("MSS", 1460), ("NOP", None), ("NOP", None),
                                       ("WScale", 5)])),
        {"os_name": None, "os_flavor": None, "os_match_q": 0, "distance": 55,
         "total_conn": 1},
    ),
    Scenario(
        "distance", 4, "distance 8 from TTL 120 where 128 is expected",
        _syn_only(windows_syn(ttl=120)),
        {**_WIN, "distance": 8},
    ),
    Scenario(
        "link_dsl", 4, "link_type DSL from MSS 1452 (MTU 1492)",
        _syn_only(windows_syn(mss=1452)),
        {**_WIN, "link_type": "DSL"},
    ),
    Scenario(
        "link_tunnel", 4, "link_type from MSS 1400 (MTU 1440)",
        _syn_only(windows_syn(mss=1400)),
        {**_WIN, "link_type": "generic tunnel or VPN"},
    ),
    Scenario(
        "ipv6", 6, "an IPv6 host (MSS 1440 is MTU 1500 over IPv6)",
        _syn_only(windows_syn(mss=1440)),
        {**_WIN, "distance": 0, "link_type": _ETHERNET, "total_conn": 1},
    ),
    Scenario(
        "ipv6_uptime", 6, "an IPv6 Linux host with an uptime",
        lambda src: uptime_pair(src, minutes=4321, gap=0.5, mss=1440),
        {"os_name": "Linux", "os_flavor": "3.11 and newer", "link_type": _ETHERNET,
         "uptime_min": 4321, "up_mod_days": 49, "total_conn": 2},
        {"syn": 2, "uptime": 1},
    ),
    Scenario(
        "seen_as_server", 4,
        "distance unknown: a host only seen as a SYN's destination (p0f sends 255)",
        lambda host: send_syn(_partner(host), windows_syn(), dst=host),
        {"os_name": None, "os_flavor": None, "distance": None, "link_type": None,
         "total_conn": 1, **_NOTHING_ELSE},
        {"syn": 1},
        {"distance": 255},
    ),
    Scenario(
        "three_connections", 4, "total_conn counts connections (3 SYNs)",
        _repeat(windows_syn(), windows_syn(), windows_syn()),
        {**_WIN, "total_conn": 3, "last_chg": None, "last_nat": None},
        {"syn": 3},
    ),
    Scenario(
        "http_firefox", 4, "http_name/http_flavor and language after a handshake",
        _http(windows_syn(), firefox_request()),
        {**_WIN, "http_name": "Firefox", "http_flavor": "10.x or newer",
         "language": "German", "bad_sw": 0, "last_chg": None, **_HTTP_HOST},
        {"syn": 1, "http request": 1},
    ),
    Scenario(
        "http_french", 4, "another language",
        _http(windows_syn(), firefox_request(language="fr-FR,fr;q=0.5")),
        {"http_name": "Firefox", "language": "French", "bad_sw": 0},
        {"syn": 1, "http request": 1},
    ),
    Scenario(
        "http_chrome_linux", 4, "another browser on another OS, and Japanese",
        _http(linux_syn(), chrome_request()),
        {"os_name": "Linux", "http_name": "Chrome", "http_flavor": "51.x or newer",
         "language": "Japanese", "bad_sw": 0, "last_chg": None},
        {"syn": 1, "http request": 1},
    ),
    Scenario(
        "ua_names_other_os", 4,
        "bad_sw 1 and last_chg: an honest Firefox whose User-Agent says Mac on a Windows SYN",
        _http(windows_syn(), firefox_request(ua=FIREFOX_MAC_UA)),
        {**_WIN, "http_name": "Firefox", "bad_sw": 1, "last_chg": SET, **_HTTP_HOST},
        {"syn": 1, "http request": 1, "host change": 1},
    ),
    Scenario(
        "ua_dishonest", 4,
        "bad_sw 2: Firefox's headers under an MSIE User-Agent",
        _http(windows_syn(), firefox_request(ua=MSIE_UA)),
        {**_WIN, "http_name": "Firefox", "http_flavor": "10.x or newer", "bad_sw": 2,
         "last_chg": None, **_HTTP_HOST},
        {"syn": 1, "http request": 1},
    ),
    Scenario(
        "via_header", 4, "last_chg from a Via header (a proxy sign)",
        _http(windows_syn(), firefox_request(extra=[("Via", "1.1 proxy")])),
        {"http_name": "Firefox", "bad_sw": 0, "last_chg": SET, **_HTTP_HOST},
        {"syn": 1, "http request": 1, "host change": 1},
    ),
    Scenario(
        "os_change", 4, "last_chg from a Windows SYN then a Linux SYN",
        _repeat(windows_syn(), linux_syn()),
        {"os_name": "Linux", "total_conn": 2, "last_chg": SET, "last_nat": None},
        {"syn": 2, "host change": 1},
    ),
    Scenario(
        "nat_os_flips", 4, "last_nat from an OS flipping Windows/Linux 3 times",
        _repeat(windows_syn(), linux_syn(), windows_syn(), linux_syn()),
        {"os_name": "Linux", "total_conn": 4, "last_chg": SET, "last_nat": SET},
        {"syn": 4, "host change": 2, "ip sharing": 1},
    ),
    Scenario(
        "nat_ttl", 4, "last_nat from a TTL going back and forth (128/124)",
        _repeat(*[windows_syn(ttl=128 if i % 2 == 0 else 124) for i in range(6)]),
        {**_WIN, "total_conn": 6, "distance": 4, "last_chg": SET, "last_nat": SET},
        {"syn": 6, "ip sharing": 1},
    ),
    Scenario(
        "uptime", 4, "uptime_min/up_mod_days from two SYNs' TCP timestamps 0.5 s apart",
        lambda src: uptime_pair(src, minutes=1234, gap=0.5),
        {"os_name": "Linux", "uptime_min": 1234, "up_mod_days": 49, "total_conn": 2,
         "last_chg": None, "last_nat": None},
        {"syn": 2, "uptime": 1},
    ),
    Scenario(
        "uptime_one_connection", 4, "uptime from the SYN and a later ACK of one connection",
        lambda src: uptime_handshake(src, minutes=777, gap=0.5),
        {"os_name": "Linux", "uptime_min": 777, "up_mod_days": 49, "total_conn": 1},
        {"syn": 1, "uptime": 1},
    ),
)
"""Every scenario, each to be played from an address of its own."""


def by_name(name: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.name == name:
            return scenario
    raise KeyError(name)


class Addresses:
    """Hands out source addresses no one else on this machine is likely to use.

    The loopback interface is shared with every other test run on the
    machine, and each p0f sees all of it, so each run takes a random block.
    """

    def __init__(self) -> None:
        self._run = _rng.randrange(1, 40_000)
        self._next = 0

    def new(self, family: Literal[4, 6]) -> IPAddress:
        self._next += 1
        n = self._next
        if n > 254:
            raise RuntimeError("this block of addresses is used up; make another")
        if family == 6:
            return ipaddress.IPv6Address(f"fd00::{self._run:x}:{n:x}")
        return ipaddress.IPv4Address(
            f"127.{20 + self._run // 200}.{self._run % 200 + 1}.{n}"
        )
