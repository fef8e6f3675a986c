"""The in-app User-Agent check against p0f's own, on the real daemon.

For each case, crafted traffic from three fresh hosts, all with the same SYN:

* **clear**: SYN, SYN+ACK, ACK and one plaintext HTTP request carrying the
  User-Agent.  p0f's answer (``bad_sw``) and its log (a ``host change`` or
  ``ip sharing`` line whose ``reason`` holds ``ua_vs_os``) are p0f's
  verdict; :func:`p0f.check_user_agent` on the same answer is the in-app one.
* **primed**: first a request whose User-Agent p0f flags (``bad_sw = 1``),
  then the case's request.  p0f sets ``bad_sw`` back to 0 only when the
  User-Agent "checks out", flags it again on another mismatch, and leaves it
  alone when the User-Agent names no OS: so this tells p0f's "match" from
  its "no claim", which look alike (``bad_sw = 0``) on a fresh host.
* **tls**: the same handshake carrying bytes p0f does not take for HTTP
  (a TLS ClientHello's first bytes).  p0f says nothing about software; the
  application, which alone holds the User-Agent, must reach the verdict the
  clear case reached.

The rules come from the ``p0f.fp`` the daemon is started with (``-f``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import pytest

from p0f import (
    BadSoftware,
    NoMatchError,
    P0f,
    P0fResponse,
    UaOsRules,
    UserAgentVerdict,
    check_user_agent,
)

from .daemon import P0fDaemon
from .p0flog import IPAddress
from .scenarios import (
    FIREFOX_MAC_UA,
    FIREFOX_WINDOWS_UA,
    MSIE_UA,
    Addresses,
    SynShape,
    chrome_request,
    firefox_request,
    http_session,
    linux_syn,
    mac_syn,
    new_port,
    safari_request,
    windows_syn,
)

pytestmark = pytest.mark.real_daemon

FP_FILE: Final = Path("/etc/p0f/p0f.fp")

M, X, U = UserAgentVerdict.MATCH, UserAgentVerdict.MISMATCH, UserAgentVerdict.UNKNOWN
P0fVerdict = Literal["match", "mismatch", "no claim", "dishonest"]

# -- the SYNs -----------------------------------------------------------------------

SYNS: Final[dict[str, SynShape]] = {
    "Windows": windows_syn(),  # Windows 7 or 8
    "Linux": linux_syn(),  # Linux 3.11 and newer
    "Mac OS X": mac_syn(3),  # Mac OS X 10.x
    "MacOS X": mac_syn(4),  # MacOS X 10.9 or newer (sometimes iPhone or iPad)
    "iOS": mac_syn(2),  # iOS iPhone or iPad
    "Windows q=3": windows_syn(wscale=4, df=False),  # generic and fuzzy
    "unknown": SynShape(200, 1234, [("MSS", 1460), ("NOP", None), ("NOP", None),
                                    ("WScale", 5)]),
}

# -- the requests -------------------------------------------------------------------

FIREFOX_LINUX_UA: Final = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:40.0) Gecko/20100101 Firefox/40.0"
FIREFOX_FREEBSD_UA: Final = "Mozilla/5.0 (X11; FreeBSD amd64; rv:40.0) Gecko/20100101 Firefox/40.0"
FIREFOX_NO_OS_UA: Final = "Mozilla/5.0 (rv:40.0) Gecko/20100101 Firefox/40.0"
FIREFOX_ANDROID_UA: Final = "Mozilla/5.0 (Android 5.0; Mobile; rv:40.0) Gecko/40.0 Firefox/40.0"
CHROME_ANDROID_UA: Final = (
    "Mozilla/5.0 (Linux; Android 6.0; Nexus 5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/51.0.2704.81 Mobile Safari/537.36"
)
CHROME_WINDOWS_10_UA: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/51.0.2704.103 Safari/537.36"
)
SAFARI_IPHONE_UA: Final = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 9_3 like Mac OS X) AppleWebKit/601.1.46 "
    "(KHTML, like Gecko) Version/9.0 Mobile/13E233 Safari/601.1"
)


@dataclass(frozen=True)
class Agent:
    """A User-Agent and a request whose headers p0f matches honestly to a browser."""

    label: str
    ua: str
    request: bytes


def _firefox(label: str, ua: str) -> Agent:
    return Agent(label, ua, firefox_request(ua=ua))


AGENTS: Final[dict[str, Agent]] = {
    a.label: a
    for a in (
        _firefox("Firefox Windows", FIREFOX_WINDOWS_UA),
        _firefox("Firefox Mac", FIREFOX_MAC_UA),
        _firefox("Firefox Linux", FIREFOX_LINUX_UA),
        _firefox("Firefox FreeBSD", FIREFOX_FREEBSD_UA),
        _firefox("Firefox no OS", FIREFOX_NO_OS_UA),
        _firefox("Firefox Android", FIREFOX_ANDROID_UA),
        Agent("Chrome Android", CHROME_ANDROID_UA, chrome_request(ua=CHROME_ANDROID_UA)),
        Agent("Chrome Windows 10", CHROME_WINDOWS_10_UA, chrome_request(ua=CHROME_WINDOWS_10_UA)),
        Agent("Safari iPhone", SAFARI_IPHONE_UA, safari_request(ua=SAFARI_IPHONE_UA)),
        # Firefox's headers under MSIE's User-Agent: p0f calls it dishonest.
        Agent("MSIE on Firefox headers", MSIE_UA, firefox_request(ua=MSIE_UA)),
    )
}

TLS_HELLO: Final = bytes.fromhex("16030100c4010000c00303") + bytes(range(32)) + b"\x00" * 40


@dataclass(frozen=True)
class Case:
    syn: str
    agent: str
    p0f: P0fVerdict
    """What p0f concludes in the clear."""
    in_app: UserAgentVerdict
    """What the in-app check concludes, in the clear and over TLS alike."""
    why: str = ""
    """Where the two differ: why."""


_HONEST = [a for a in AGENTS if a != "MSIE on Firefox headers"]
_CLAIMS: Final[dict[str, str | None]] = {
    "Firefox Windows": "Windows", "Firefox Mac": "Mac OS X", "Firefox Linux": "Linux",
    "Firefox FreeBSD": "FreeBSD", "Firefox no OS": None, "Firefox Android": None,
    "Chrome Android": "Linux", "Chrome Windows 10": "Windows", "Safari iPhone": "iOS",
}


def _plain(syn: str, agent: str) -> Case:
    """Where p0f and the check agree: compare the claim with the SYN's OS."""
    claim = _CLAIMS[agent]
    if claim is None:
        return Case(syn, agent, "no claim", U)
    if claim == syn:
        return Case(syn, agent, "match", M)
    return Case(syn, agent, "mismatch", X)


_NO_TCP_OS = "p0f has no OS for the host, yet flags any claim (its host OS id is -1)"
_APPLE = "p0f 3.09b cannot tell iOS from macOS by TCP; an iPad sends a Mac User-Agent"
_SPELLING = "p0f 3.09b's label spells macOS 10.9+ 'MacOS X', its ua_os says 'Mac OS X'"
_GENERIC = "a fuzzy generic match leaves only an option layout that other OSes share"
_DISHONEST = ("p0f does not run its User-Agent check on a dishonest request (bad_sw 2); "
              "the application has no HTTP signatures and checks the claim")

# Where p0f and the check differ, among the SYN x User-Agent grid.
_DIFFER: Final = {
    ("Mac OS X", "Safari iPhone"): Case("Mac OS X", "Safari iPhone", "mismatch", U, _APPLE),
}

CASES: Final[tuple[Case, ...]] = (
    *(
        _DIFFER.get((syn, agent)) or _plain(syn, agent)
        for syn in ("Windows", "Linux", "Mac OS X")
        for agent in _HONEST
    ),
    _plain("MacOS X", "Firefox no OS"),
    Case("MacOS X", "Firefox Mac", "mismatch", M, _SPELLING),
    Case("MacOS X", "Safari iPhone", "mismatch", U, _APPLE),
    _plain("MacOS X", "Firefox Windows"),
    _plain("iOS", "Safari iPhone"),
    Case("iOS", "Firefox Mac", "mismatch", U, _APPLE),
    _plain("iOS", "Chrome Windows 10"),
    Case("Windows q=3", "Firefox Linux", "mismatch", U, _GENERIC),
    Case("Windows q=3", "Chrome Windows 10", "match", M),
    Case("unknown", "Firefox Linux", "mismatch", U, _NO_TCP_OS),
    Case("unknown", "Firefox no OS", "no claim", U),
    Case("Windows", "MSIE on Firefox headers", "dishonest", M, _DISHONEST),
    Case("Linux", "MSIE on Firefox headers", "dishonest", X, _DISHONEST),
)

# A request p0f flags on each SYN: its claim is not the SYN's OS.
_PRIMER: Final = {"Windows": "Firefox Linux", "Windows q=3": "Firefox Mac"}


def _primer(syn: str) -> Agent:
    return AGENTS[_PRIMER.get(syn, "Firefox Windows")]


# -- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def daemon(
    real_daemon_requirements: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[P0fDaemon]:
    """p0f reading Debian's p0f.fp explicitly, so the check reads the same."""
    running = P0fDaemon(tmp_path_factory.mktemp("p0f-ua"), args=("-f", str(FP_FILE)))
    try:
        yield running.start()
    finally:
        died = running.stop()
        if died is not None:
            pytest.fail(f"p0f died on its own: {running.output_tail()}", pytrace=False)


@pytest.fixture(scope="module")
def rules(daemon: P0fDaemon) -> UaOsRules:
    return UaOsRules.from_file(FP_FILE)


@pytest.fixture(scope="module")
def client(daemon: P0fDaemon) -> Iterator[P0f]:
    with P0f(daemon.socket_path, timeout=3.0) as p0f_client:
        yield p0f_client


@pytest.fixture(scope="module")
def addresses() -> Addresses:
    return Addresses()


_rows: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    """With ``P0F_UA_REPORT=path``, write the agreement table after the module."""
    yield
    target = os.environ.get("P0F_UA_REPORT")
    if target and _rows:
        head = ("| SYN | p0f os (q) | User-Agent | claims | p0f bad_sw | p0f log reason "
                "| p0f verdict | in-app (clear) | in-app (TLS) | agree |\n"
                "|---|---|---|---|---|---|---|---|---|---|\n")
        Path(target).write_text(head + "\n".join(_rows) + "\n", encoding="utf-8")


# -- helpers ------------------------------------------------------------------------


def _session(daemon: P0fDaemon, host: IPAddress, syn: SynShape, request: bytes, *,
             sport: int, requests: int) -> None:
    """One connection carrying ``request``; ``requests`` is how many HTTP
    requests p0f will then have logged about the host (0 for TLS)."""
    http_session(host, syn, request, sport=sport)
    daemon.wait_for_log(host, {"syn": max(requests, 1), "http request": requests})


def _ua_reasons(daemon: P0fDaemon, host: IPAddress) -> list[str]:
    """The ``reason`` of every host change / ip sharing line naming ``ua_vs_os``."""
    return [
        line.fields.get("reason", "")
        for line in daemon.log()
        if line.mod in ("host change", "ip sharing") and line.host == host
        and "ua_vs_os" in line.fields.get("reason", "").split()
    ]


@dataclass(frozen=True)
class Clear:
    answer: P0fResponse
    reasons: list[str]


def _clear(daemon: P0fDaemon, client: P0f, host: IPAddress, case: Case) -> Clear:
    _session(daemon, host, SYNS[case.syn], AGENTS[case.agent].request, sport=new_port(), requests=1)
    answer = client.query(host)  # p0f finishes the packet (and its log) before answering
    return Clear(answer, _ua_reasons(daemon, host))


def _primed_verdict(daemon: P0fDaemon, client: P0f, host: IPAddress, case: Case) -> P0fVerdict:
    port = new_port()
    _session(daemon, host, SYNS[case.syn], _primer(case.syn).request, sport=port, requests=1)
    assert client.query(host).bad_sw is BadSoftware.OS_MISMATCH, "the primer was not flagged"
    flagged = len(_ua_reasons(daemon, host))
    _session(daemon, host, SYNS[case.syn], AGENTS[case.agent].request, sport=port + 1, requests=2)
    answer = client.query(host)
    if len(_ua_reasons(daemon, host)) > flagged:
        assert answer.bad_sw is BadSoftware.OS_MISMATCH
        return "mismatch"
    return "match" if answer.bad_sw is BadSoftware.NONE else "no claim"


def _p0f_verdict(clear: Clear, primed: P0fVerdict) -> P0fVerdict:
    if clear.answer.bad_sw is BadSoftware.FAKE:
        assert not clear.reasons
        return "dishonest"
    flagged = clear.answer.bad_sw is BadSoftware.OS_MISMATCH
    assert flagged == bool(clear.reasons), (clear.answer.bad_sw, clear.reasons)
    assert flagged == (primed == "mismatch"), (clear.answer.bad_sw, primed)
    return primed


def _agrees(p0f: P0fVerdict, in_app: UserAgentVerdict) -> bool:
    expected = {"match": M, "mismatch": X, "no claim": U}.get(p0f)
    return expected is in_app


# -- the test -----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.syn}-{c.agent}".replace(" ", "_"))
def test_in_app_verdict_is_p0fs(
    daemon: P0fDaemon, client: P0f, rules: UaOsRules, addresses: Addresses, case: Case
) -> None:
    agent = AGENTS[case.agent]

    clear = _clear(daemon, client, addresses.new(4), case)
    assert clear.answer.http_name is not None, "p0f did not identify the browser"
    primed = (
        "dishonest" if case.agent == "MSIE on Firefox headers"
        else _primed_verdict(daemon, client, addresses.new(4), case)
    )
    p0f_says = _p0f_verdict(clear, primed)
    in_clear = check_user_agent(agent.ua, clear.answer, rules=rules)

    tls_host = addresses.new(4)
    _session(daemon, tls_host, SYNS[case.syn], TLS_HELLO, sport=new_port(), requests=0)
    try:
        tls_answer: P0fResponse | None = client.query(tls_host)
    except NoMatchError:  # pragma: no cover - p0f knows every host that sent a SYN
        tls_answer = None
    assert tls_answer is not None
    # Over TLS p0f is blind to software: no application, no bad_sw, no UA reason.
    assert (tls_answer.http_name, tls_answer.bad_sw) == (None, BadSoftware.NONE)
    assert _ua_reasons(daemon, tls_host) == []
    over_tls = check_user_agent(agent.ua, tls_answer, rules=rules)

    agree = _agrees(p0f_says, in_clear.verdict)
    _rows.append(
        f"| {case.syn} | {clear.answer.os_name or '–'} ({int(clear.answer.os_match_q)}) "
        f"| {case.agent} | {in_clear.user_agent_os or '–'} | {int(clear.answer.bad_sw)} "
        f"| {', '.join(clear.reasons) or '–'} | {p0f_says} | {in_clear.verdict} "
        f"({in_clear.reason}) | {over_tls.verdict} | {'yes' if agree else 'no: ' + case.why} |"
    )

    assert p0f_says == case.p0f, f"p0f said {p0f_says}"
    assert in_clear.verdict is case.in_app, in_clear
    assert over_tls == in_clear, "over TLS the check must reach the verdict of the clear"
    assert agree == (case.why == ""), f"agreement {agree} but why={case.why!r}"
    assert in_clear.user_agent_os == _CLAIMS.get(case.agent, "Windows")


def test_every_case_has_its_own_pair() -> None:
    pairs = [(c.syn, c.agent) for c in CASES]
    assert len(pairs) == len(set(pairs))
    assert {c.syn for c in CASES} == set(SYNS)
    assert {c.agent for c in CASES} == set(AGENTS)
