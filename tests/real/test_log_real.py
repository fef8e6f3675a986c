"""``p0f.log`` against the log the real p0f 3.09b writes.

One daemon plays every scenario of :mod:`.scenarios` (each from a host of
its own) while :func:`p0f.log.follow_log` follows its log in a thread.  Then:

* every line of the log parses, and renders back to exactly the same text
  (so no key or value was left unparsed or misread);
* for each scenario, the events about its host, folded the way p0f's
  ``process.c`` and ``fp_*.c`` update a host, agree with what p0f's API
  answers about it: OS and match quality, distance, link, HTTP software,
  language, ``bad_sw``, NAT and change times, uptime, connection count and
  first/last seen;
* the follower, reading while p0f wrote in its buffered pieces, saw the same
  events, whole;
* a follower keeps going when the real daemon's log is rotated by
  copytruncate and by rename and restart.

With ``P0F_REAL_LOG=path``, p0f's log of the scenarios is kept there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from p0f import LogFormatError, P0f, P0fResponse
from p0f.log import (
    AnyEvent,
    HostChangeEvent,
    HttpEvent,
    HttpParam,
    LogEvent,
    Module,
    MtuEvent,
    Reason,
    TcpEvent,
    TcpParam,
    UptimeEvent,
    follow_log,
    make_log_json_converter,
    parse_line,
    read_log,
)

from .daemon import P0fDaemon, wait_until
from .p0flog import IPAddress, split_label
from .scenarios import SCENARIOS, Addresses, Scenario, by_name

pytestmark = pytest.mark.real_daemon

UTC = dt.timezone.utc
WAIT = 30.0  # seconds: a bound for a shared machine, never a timing


@dataclass(frozen=True)
class Played:
    scenario: Scenario
    address: IPAddress
    answer: P0fResponse


@dataclass
class Followed:
    events: list[AnyEvent]
    errors: list[LogFormatError]
    lines: int  # lines in the file once every scenario was logged


class Follower:
    """``follow_log`` in a thread, collecting what it yields."""

    def __init__(self, path: Path) -> None:
        self.events: list[AnyEvent] = []
        self.errors: list[LogFormatError] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        for event in follow_log(
            path, from_start=True, on_error=self._error, poll_interval=0.02, stop=self._stop
        ):
            with self._lock:
                self.events.append(event)

    def _error(self, error: LogFormatError) -> None:
        with self._lock:
            self.errors.append(error)

    def about(self, address: IPAddress) -> list[AnyEvent]:
        with self._lock:
            return [event for event in self.events if event.host == address]

    def count(self) -> int:
        with self._lock:
            return len(self.events) + len(self.errors)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "follow_log did not stop"


@pytest.fixture(scope="module")
def played(module_p0f: P0fDaemon) -> Iterator[tuple[list[Played], Followed]]:
    follower = Follower(module_p0f.log_path)
    addresses = Addresses()
    played: list[Played] = []
    try:
        with P0f(module_p0f.socket_path, timeout=3.0) as client:
            for scenario in SCENARIOS:
                address = addresses.new(scenario.family)
                scenario.play(address)
                module_p0f.wait_for_log(address, dict(scenario.log))
                played.append(Played(scenario, address, client.query(address)))
        lines = _line_count(module_p0f.log_path)
        wait_until(lambda: follower.count() >= lines, timeout=WAIT,
                   what=f"the follower to read all {lines} lines")
    finally:
        follower.stop()
    kept = os.environ.get("P0F_REAL_LOG")
    if kept:  # keep p0f's log of the scenarios, for reading or for bug reports
        shutil.copyfile(module_p0f.log_path, kept)
    yield played, Followed(follower.events, follower.errors, lines)


def _line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n")


# -- every line --------------------------------------------------------------------


def test_every_line_of_the_real_log_parses(
    played: tuple[list[Played], Followed], module_p0f: P0fDaemon
) -> None:
    errors: list[LogFormatError] = []
    events = list(read_log(module_p0f.log_path, on_error=errors.append))
    assert errors == []
    assert len(events) == _line_count(module_p0f.log_path)
    modules = {event.module for event in events}
    assert modules >= {Module.SYN, Module.SYN_ACK, Module.MTU, Module.UPTIME,
                       Module.HTTP_REQUEST, Module.HOST_CHANGE, Module.IP_SHARING}


def test_no_key_is_left_unparsed(
    played: tuple[list[Played], Followed], module_p0f: P0fDaemon
) -> None:
    converter = make_log_json_converter()
    text = module_p0f.log_path.read_text(encoding="utf-8")
    for line in text.splitlines():
        event = parse_line(line)
        assert event.to_line() == line  # every value understood, none dropped
        data = converter.unstructure(event)
        assert json.loads(json.dumps(data)) == data
        assert converter.structure(data, LogEvent) == event
        p0f_keys = {part.partition("=")[0] for part in line.split("|raw_sig=")[0].split("|")[1:]}
        p0f_keys = {"client" if k == "cli" else "server" if k == "srv" else
                    "subject" if k == "subj" else k for k in p0f_keys}
        if "raw_sig=" in line:
            p0f_keys.add("raw_sig")
        assert p0f_keys <= set(data), line


def test_the_follower_saw_the_same_events_whole(
    played: tuple[list[Played], Followed], module_p0f: P0fDaemon
) -> None:
    _, followed = played
    assert followed.errors == []
    assert len(followed.events) >= followed.lines
    # p0f may have logged a little more since the follower stopped.
    assert followed.events == list(read_log(module_p0f.log_path))[: len(followed.events)]


# -- the events against the API ----------------------------------------------------


@dataclass
class Folded:
    """What the events about one host say the API must answer."""

    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    total_conn: int = 0
    os: str | None = None
    os_match_q: int = 0
    distance: int | None = None
    link: str | None = None
    app: str | None = None
    language: str | None = None
    bad_sw: int = 0
    last_chg: dt.datetime | None = None
    last_nat: dt.datetime | None = None
    uptime: UptimeEvent | None = None


def fold(events: list[AnyEvent], address: IPAddress) -> Folded:
    """The host record p0f keeps, rebuilt from its log lines (p0f 3.09b)."""
    host = Folded()
    for event in events:
        if event.module is Module.SYN and address in (event.client, event.server):
            # A SYN creates or touches both ends and counts a connection.
            host.first_seen = host.first_seen or event.time
            host.last_seen = event.time
            host.total_conn += 1
        if event.host != address:
            continue
        if isinstance(event, TcpEvent):
            if not event.distance.at_most:  # "<= N" does not set the distance
                host.distance = event.distance.hops
            if event.os is not None:
                host.os = event.os
                host.os_match_q = (1 if TcpParam.FUZZY in event.params else 0) | (
                    2 if TcpParam.GENERIC in event.params else 0
                )
        elif isinstance(event, MtuEvent):
            host.link = event.link or host.link
        elif isinstance(event, HttpEvent):
            host.app = event.app or host.app
            host.language = event.language or host.language
            if HttpParam.DISHONEST in event.params:
                host.bad_sw = 2
        elif isinstance(event, HostChangeEvent):
            if event.module is Module.HOST_CHANGE:
                host.last_chg = event.time
            else:
                host.last_nat = event.time
            if Reason.UA_VS_OS in event.reasons and host.bad_sw == 0:
                host.bad_sw = 1
        elif isinstance(event, UptimeEvent):
            host.uptime = event
    return host


def disagreements(answer: P0fResponse, host: Folded) -> list[str]:
    problems: list[str] = []

    def check(name: str, api: object, events: object) -> None:
        if api != events:
            problems.append(f"{name}: API {api!r}, events {events!r}")

    check("first_seen", answer.first_seen, host.first_seen)
    check("last_seen", answer.last_seen, host.last_seen)
    check("total_conn", answer.total_conn, host.total_conn)
    if host.os is None:
        check("os", (answer.os_name, answer.os_flavor), (None, None))
    elif not split_label(host.os, answer.os_name or "", answer.os_flavor or ""):
        problems.append(f"os: API {answer.os_name!r}/{answer.os_flavor!r}, events {host.os!r}")
    check("os_match_q", int(answer.os_match_q), host.os_match_q)
    check("distance", answer.distance, host.distance)
    check("link_type", answer.link_type, host.link)
    if host.app is None:
        check("http", (answer.http_name, answer.http_flavor), (None, None))
    elif not split_label(host.app, answer.http_name or "", answer.http_flavor or ""):
        problems.append(f"http: API {answer.http_name!r}/{answer.http_flavor!r}, events {host.app!r}")
    check("language", answer.language, host.language)
    check("bad_sw", int(answer.bad_sw), host.bad_sw)
    check("last_chg", answer.last_chg, host.last_chg)
    check("last_nat", answer.last_nat, host.last_nat)
    if host.uptime is None:
        check("uptime", (answer.uptime_min, answer.up_mod_days), (None, None))
    else:
        check("uptime_min", answer.uptime_min, host.uptime.uptime_min)
        check("up_mod_days", answer.up_mod_days, host.uptime.modulo)
    return problems


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_events_agree_with_the_api(
    played: tuple[list[Played], Followed], name: str
) -> None:
    runs, followed = played
    run = next(p for p in runs if p.scenario.name == name)
    host = fold(followed.events, run.address)
    problems = disagreements(run.answer, host)
    about = [e.to_line() for e in followed.events if run.address in (e.client, e.server)]
    assert not problems, f"{name} from {run.address}:\n  " + "\n  ".join(problems) + (
        "\nlog:\n" + "\n".join(about)
    )


def test_the_scenarios_cover_what_the_events_carry(played: tuple[list[Played], Followed]) -> None:
    runs, followed = played
    folded = [fold(followed.events, p.address) for p in runs]
    assert any(h.os_match_q == 3 for h in folded)
    assert any(h.last_nat is not None for h in folded)
    assert any(h.last_chg is not None for h in folded)
    assert any(h.bad_sw == 1 for h in folded) and any(h.bad_sw == 2 for h in folded)
    assert {h.uptime.uptime_min for h in folded if h.uptime} >= {1234, 4321, 777}
    assert {h.language for h in folded} >= {"German", "French", "Japanese"}
    assert any(e.client.version == 6 for e in followed.events)


# -- rotation with the real daemon -------------------------------------------------


def _wait_for(follower: Follower, address: IPAddress, modules: set[Module]) -> None:
    wait_until(
        lambda: modules <= {e.module for e in follower.about(address)},
        timeout=WAIT,
        what=f"the follower to see {sorted(modules)} about {address}",
    )


def test_follow_across_copytruncate_and_rename_with_the_real_daemon(
    start_p0f: Callable[..., P0fDaemon],
) -> None:
    daemon = start_p0f()
    addresses = Addresses()
    follower = Follower(daemon.log_path)
    try:
        first = addresses.new(4)
        by_name("windows").play(first)
        _wait_for(follower, first, {Module.SYN, Module.MTU})

        # copytruncate: copy, then cut the file p0f keeps writing (O_APPEND).
        shutil.copyfile(daemon.log_path, daemon.log_path.with_name("p0f.log.1"))
        os.truncate(daemon.log_path, 0)
        second = addresses.new(4)
        by_name("linux").play(second)
        _wait_for(follower, second, {Module.SYN, Module.MTU})
        assert daemon.log_path.stat().st_size < daemon.log_path.with_name("p0f.log.1").stat().st_size

        # rename and restart: p0f never reopens its log, so rotation by
        # rename means starting p0f again, which makes a new file.
        daemon.log_path.rename(daemon.log_path.with_name("p0f.log.2"))
        daemon.restart()
        third = addresses.new(4)
        by_name("http_firefox").play(third)
        _wait_for(follower, third, {Module.SYN, Module.HTTP_REQUEST})
        assert follower.errors == []
        # Nothing read twice: the first host's lines came once, before the cut.
        assert [e.module for e in follower.about(first)].count(Module.SYN) == 1
    finally:
        follower.stop()
    seen = {e.host for e in follower.events}
    assert {first, second, third} <= seen


def test_p0f_log_command_on_the_real_log(
    played: tuple[list[Played], Followed], module_p0f: P0fDaemon
) -> None:
    script = shutil.which("p0f-log", path=os.path.dirname(sys.executable))
    assert script is not None, "p0f-log is not installed next to this Python"
    result = subprocess.run(
        [script, "--json", str(module_p0f.log_path)],
        capture_output=True, text=True, timeout=WAIT, check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    converter = make_log_json_converter()
    records = [converter.structure(json.loads(line), LogEvent) for line in result.stdout.splitlines()]
    assert records == list(read_log(module_p0f.log_path))[: len(records)]
    assert len(records) >= played[1].lines
