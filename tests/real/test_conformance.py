"""The client's answers against p0f's own log and against the raw bytes.

Each scenario plays its traffic from a host of its own, then the answer that
:class:`p0f.P0f` parses is compared field by field with

* what p0f wrote to its log about that host (the oracle: see
  :mod:`.p0flog` for how log lines become API fields),
* the same answer read on a bare socket and unpacked without the library
  (:mod:`.bare`),
* and what the scenario is known to produce, so that each scenario keeps
  covering the field it is there for.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from p0f import NoMatchError, P0f, P0fResponse

from .bare import ANSWER_MAGIC, STATUS_NO_MATCH, STATUS_OK, BareAnswer, bare_answer, mapped
from .daemon import P0fDaemon
from .p0flog import IPAddress, LoggedHost, logged_host, split_label
from .scenarios import SCENARIOS, SET, Addresses, Scenario, by_name, send_syn, windows_syn

pytestmark = pytest.mark.real_daemon

_UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def addresses() -> Addresses:
    return Addresses()


@pytest.fixture(scope="module")
def client(module_p0f: P0fDaemon) -> Iterator[P0f]:
    with P0f(module_p0f.socket_path, timeout=3.0) as p0f_client:
        yield p0f_client


@dataclass(frozen=True)
class Played:
    scenario: Scenario
    address: IPAddress
    answer: P0fResponse


_played: list[Played] = []


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    """With ``P0F_REAL_REPORT=path``, write the table of what p0f answered
    (the one in README.md) after the module's tests."""
    yield
    target = os.environ.get("P0F_REAL_REPORT")
    if target and _played:
        Path(target).write_text(markdown_table(_played), encoding="utf-8")


# -- the comparisons ---------------------------------------------------------------


def _moment(seconds: int) -> dt.datetime | None:
    return None if seconds == 0 else dt.datetime.fromtimestamp(seconds, _UTC)


def _seconds(moment: dt.datetime | None) -> int:
    return 0 if moment is None else int(moment.timestamp())


def against_bare(answer: P0fResponse, bare: BareAnswer) -> list[str]:
    """Where the parsed answer departs from the bytes read independently."""
    text = BareAnswer.text
    expected: dict[str, object] = {
        "first_seen": dt.datetime.fromtimestamp(bare.first_seen, _UTC),
        "last_seen": dt.datetime.fromtimestamp(bare.last_seen, _UTC),
        "total_conn": bare.total_conn,
        "uptime": dt.timedelta(minutes=bare.uptime_min) if bare.uptime_min else None,
        "uptime_min": bare.uptime_min or None,
        "up_mod_days": dt.timedelta(days=bare.up_mod_days) if bare.up_mod_days else None,
        "last_nat": _moment(bare.last_nat),
        "last_chg": _moment(bare.last_chg),
        # p0f 3.09b writes -1, or 255 from a u8 holding -1, for "unknown".
        "distance": None if bare.distance in (-1, 255) else bare.distance,
        "bad_sw": bare.bad_sw,
        "os_match_q": bare.os_match_q,
        "os_name": text(bare.os_name) or None,
        "os_flavor": text(bare.os_flavor) or None,
        "http_name": text(bare.http_name) or None,
        "http_flavor": text(bare.http_flavor) or None,
        "link_type": text(bare.link_type) or None,
        "language": text(bare.language) or None,
    }
    problems = [
        f"{name}: client {getattr(answer, name)!r}, bytes say {value!r}"
        for name, value in expected.items()
        if getattr(answer, name) != value
    ]
    raw = answer.raw
    for name in ("magic", "status", "first_seen", "last_seen", "total_conn", "uptime_min",
                 "up_mod_days", "last_nat", "last_chg", "distance", "bad_sw", "os_match_q"):
        if getattr(raw, name) != getattr(bare, name):
            problems.append(f"raw.{name}: {getattr(raw, name)!r} != {getattr(bare, name)!r}")
    for name in ("os_name", "os_flavor", "http_name", "http_flavor", "link_type", "language"):
        field: bytes = getattr(bare, name)
        if getattr(raw, name) != text(field):
            problems.append(f"raw.{name}: {getattr(raw, name)!r} != {field!r}")
    return problems


def against_log(answer: P0fResponse, logged: LoggedHost) -> list[str]:
    """Where the parsed answer departs from what p0f logged about the host."""
    problems: list[str] = []

    def check(name: str, got: object, want: object) -> None:
        if got != want:
            problems.append(f"{name}: client {got!r}, log says {want!r}")

    check("first_seen", _seconds(answer.first_seen), logged.first_seen)
    check("last_seen", _seconds(answer.last_seen), logged.last_seen)
    check("total_conn", answer.total_conn, logged.total_conn)
    if logged.os is None:
        check("os_name", answer.os_name, None)
        check("os_flavor", answer.os_flavor, None)
    elif not split_label(logged.os, answer.os_name or "", answer.os_flavor or ""):
        problems.append(f"os: client {answer.os_name!r}/{answer.os_flavor!r}, "
                        f"log says {logged.os!r}")
    check("os_match_q", int(answer.os_match_q), logged.os_match_q)
    check("distance", answer.distance, logged.distance)
    check("link_type", answer.link_type, logged.link_type)
    if logged.app is None:
        check("http_name", answer.http_name, None)
        check("http_flavor", answer.http_flavor, None)
    elif not split_label(logged.app, answer.http_name or "", answer.http_flavor or ""):
        problems.append(f"app: client {answer.http_name!r}/{answer.http_flavor!r}, "
                        f"log says {logged.app!r}")
    check("language", answer.language, logged.language)
    check("bad_sw", int(answer.bad_sw), logged.bad_sw)
    check("last_chg", _seconds(answer.last_chg), logged.last_chg)
    check("last_nat", _seconds(answer.last_nat), logged.last_nat)
    if logged.uptime is None:
        check("uptime_min", answer.uptime_min, None)
        check("up_mod_days", answer.up_mod_days, None)
    else:
        check("uptime_min", answer.uptime_min, logged.uptime.minutes)
        check("up_mod_days", answer.up_mod_days, dt.timedelta(days=logged.uptime.modulo_days))
    return problems


def against_expectation(answer: P0fResponse, scenario: Scenario) -> list[str]:
    problems = []
    for name, want in scenario.expect.items():
        got: object = getattr(answer, name)
        if name == "up_mod_days" and isinstance(got, dt.timedelta):
            got = got.days
        if want is SET:
            ok = got is not None
        else:
            ok = got == want
        if not ok:
            problems.append(f"{name}: p0f answered {got!r}, scenario expects {want!r}")
    return problems


def against_raw_expectation(bare: BareAnswer, scenario: Scenario) -> list[str]:
    return [
        f"wire {name}: p0f sent {getattr(bare, name)!r}, scenario expects {want!r}"
        for name, want in scenario.expect_raw.items()
        if getattr(bare, name) != want
    ]


def settled_log(daemon: P0fDaemon, answer: P0fResponse, address: IPAddress) -> LoggedHost:
    """The log about ``address`` once it agrees with ``answer``, or after 1 s
    (p0f updates its table a little before the line reaches the file)."""
    deadline = time.monotonic() + 1.0
    while True:
        logged = logged_host(daemon.log(), address)
        assert logged is not None, f"p0f logged nothing about {address}"
        if not against_log(answer, logged) or time.monotonic() > deadline:
            return logged
        time.sleep(0.02)


# -- every scenario ------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(
    real_p0f: P0fDaemon, client: P0f, addresses: Addresses, scenario: Scenario
) -> None:
    address = addresses.new(scenario.family)
    scenario.play(address)
    real_p0f.wait_for_log(address, dict(scenario.log))

    before = bare_answer(real_p0f.socket_path, address)
    answer = client.query(address)
    raw = client.get_info(str(address), return_raw_data=True)
    after = bare_answer(real_p0f.socket_path, address)
    assert before == after, "the answer changed while no traffic was sent"
    assert (before.magic, before.status) == (ANSWER_MAGIC, STATUS_OK)
    assert raw == answer.raw
    logged = settled_log(real_p0f, answer, address)

    problems = (
        [f"[bytes] {p}" for p in against_bare(answer, before)]
        + [f"[log] {p}" for p in against_log(answer, logged)]
        + [f"[scenario] {p}" for p in against_expectation(answer, scenario)]
        + [f"[scenario] {p}" for p in against_raw_expectation(before, scenario)]
    )
    assert not problems, (
        f"{scenario.name} from {address}:\n  " + "\n  ".join(problems)
        + "\nlog lines:\n" + "\n".join(map(repr, logged.lines))
    )
    assert abs(_seconds(answer.last_seen) - time.time()) < 60
    _played.append(Played(scenario, address, answer))


# -- addresses ---------------------------------------------------------------------


def test_ipv4_mapped_query_finds_the_ipv4_host(
    real_p0f: P0fDaemon, client: P0f, addresses: Addresses
) -> None:
    address = addresses.new(4)
    assert isinstance(address, ipaddress.IPv4Address)
    send_syn(address, windows_syn())
    real_p0f.wait_for_log(address, {"syn": 1})
    as_ipv4 = client.query(address)
    as_mapped = client.query(f"::ffff:{address}")
    assert as_mapped == as_ipv4 and as_mapped.raw == as_ipv4.raw
    assert as_mapped.os_name == "Windows"
    assert client.query(mapped(address)).raw == as_ipv4.raw
    # Why the client maps: p0f itself files the mapped form under IPv6.
    assert bare_answer(real_p0f.socket_path, mapped(address)).status == STATUS_NO_MATCH
    assert bare_answer(real_p0f.socket_path, address).status == STATUS_OK


@pytest.mark.parametrize("family", [4, 6])
def test_unknown_host_is_no_match(
    real_p0f: P0fDaemon, client: P0f, addresses: Addresses, family: int
) -> None:
    address = addresses.new(4 if family == 4 else 6)
    with pytest.raises(NoMatchError):
        client.query(address)
    with pytest.raises(KeyError):
        client.get_info(address, return_raw_data=True)
    assert client.query_many([address]) == [None]
    bare = bare_answer(real_p0f.socket_path, address)
    assert (bare.magic, bare.status) == (ANSWER_MAGIC, STATUS_NO_MATCH)


def test_total_conn_counts_each_new_connection(
    real_p0f: P0fDaemon, client: P0f, addresses: Addresses
) -> None:
    address = addresses.new(4)
    for n in range(1, 4):
        send_syn(address, windows_syn())
        real_p0f.wait_for_log(address, {"syn": n})
        assert client.query(address).total_conn == n


def test_query_many_equals_one_by_one(
    real_p0f: P0fDaemon, client: P0f, addresses: Addresses
) -> None:
    """A pipelined batch over hosts of every kind, repeated and with unknowns
    mixed in, gives exactly the one-at-a-time answers."""
    hosts: list[IPAddress] = []
    for name in ("windows", "linux", "unknown_os", "ipv6", "http_firefox"):
        scenario = by_name(name)
        address = addresses.new(scenario.family)
        scenario.play(address)
        real_p0f.wait_for_log(address, dict(scenario.log))
        hosts.append(address)
    unknown = [addresses.new(4), addresses.new(6)]
    single = {address: client.query(address) for address in hosts}
    batch = (hosts + unknown) * 300
    results = client.query_many(batch)
    assert len(results) == len(batch)
    for address, result in zip(batch, results):
        if address in unknown:
            assert result is None
        else:
            assert result is not None and result.raw == single[address].raw


# -- the table in README.md ----------------------------------------------------------


def markdown_table(rows: list[Played]) -> str:
    def cell(value: object) -> str:
        if value is None:
            return "–"
        if isinstance(value, dt.datetime):
            return "set"
        if isinstance(value, dt.timedelta):
            return f"{value.days} d"
        return str(value).replace("|", "\\|")

    header = ("scenario", "family", "os_name", "os_flavor", "q", "dist", "link_type",
              "http_name", "http_flavor", "language", "bad_sw", "conn", "uptime_min",
              "up_mod", "last_chg", "last_nat")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        a = row.answer
        values = (row.scenario.name, f"IPv{row.scenario.family}", a.os_name, a.os_flavor,
                  int(a.os_match_q), a.distance, a.link_type, a.http_name, a.http_flavor,
                  a.language, int(a.bad_sw), a.total_conn, a.uptime_min, a.up_mod_days,
                  a.last_chg, a.last_nat)
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines) + "\n"
