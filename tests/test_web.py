"""The helpers every middleware shares (p0f._web): the client's address
behind proxies, the answer cache, the back-off and one lookup."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p0f import (
    Address,
    NoMatchError,
    P0fConnectError,
    P0fConnectionError,
    P0fResponse,
    P0fTimeoutError,
    ProtocolError,
)
from p0f._web import (
    MISS,
    AnswerCache,
    IPAddress,
    Backoff,
    Lookup,
    LookupStatus,
    P0fLookup,
    PerLoop,
    build_lookup,
    check_backoff,
    check_cache,
    check_idle_timeout,
    check_negative_cache,
    check_settle,
    check_timeout,
    client_address,
    describe_failure,
    parse_trusted_proxies,
    settle_schedule,
    with_user_agent,
)
from p0f.testing import sample_response

ip = ipaddress.ip_address
TRUSTED = parse_trusted_proxies(["127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8"])


class Clock:
    """A timer the tests move by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(os_name: str = "Linux") -> P0fResponse:
    return P0fResponse.from_raw(sample_response(os_name=os_name))


# -- the client's address -------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        # Only the peer counts when the peer is no trusted proxy.
        ("192.0.2.1", None, "192.0.2.1"),
        ("192.0.2.1", "203.0.113.9", "192.0.2.1"),
        # A trusted proxy: its last entry names the client.
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", " 203.0.113.9 ", "203.0.113.9"),
        ("127.0.0.1", "198.51.100.1, 203.0.113.9", "203.0.113.9"),
        # A chain of trusted proxies is walked; the visitor's own entries not.
        ("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2, 10.9.9.9", "203.0.113.9"),
        ("127.0.0.1", "10.0.0.2,203.0.113.9", "203.0.113.9"),
        # Every hop trusted: the leftmost is the client (an internal host).
        ("127.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),
        # A trusted proxy without the header: the proxy itself.
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "", "127.0.0.1"),
        # Ports, brackets, IPv6, IPv4-mapped and zones.
        ("127.0.0.1", "203.0.113.9:51234", "203.0.113.9"),
        ("127.0.0.1", "[2001:db8::7]:443", "2001:db8::7"),
        ("127.0.0.1", "2001:db8::7", "2001:db8::7"),
        ("::1", "2001:db8::7, fd00::1", "2001:db8::7"),
        ("::ffff:127.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("::ffff:192.0.2.1", None, "192.0.2.1"),
        ("fe80::1%eth0", None, "fe80::1"),
        # A trusted hop that wrote no address: the client is unknown.
        ("127.0.0.1", "203.0.113.9, unknown", None),
        ("127.0.0.1", "203.0.113.9, ", None),
        ("127.0.0.1", "[2001:db8::7", None),
        # An entry left of the client may be garbage: it is never read.
        ("127.0.0.1", "garbage, 203.0.113.9", "203.0.113.9"),
        # No peer address (a Unix socket), or a garbled one.
        (None, "203.0.113.9", None),
        ("", "203.0.113.9", None),
        ("not-an-ip", None, None),
    ],
)
def test_client_address(remote: str | None, forwarded: str | None, expected: str | None) -> None:
    found = client_address(remote, forwarded, TRUSTED)
    assert found == (None if expected is None else ip(expected))


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert client_address("127.0.0.1", "203.0.113.9", ()) == ip("127.0.0.1")
    assert client_address("127.0.0.1", "unknown", ()) == ip("127.0.0.1")


def test_an_ipv4_peer_is_not_in_an_ipv6_network() -> None:
    trusted = parse_trusted_proxies(["::/0"])
    assert client_address("127.0.0.1", "203.0.113.9", trusted) == ip("127.0.0.1")


@given(visitor=st.text())
def test_a_visitor_never_chooses_the_address(visitor: str) -> None:
    # Whatever the visitor sent, the trusted proxies appended what they saw.
    forwarded = f"{visitor}, 203.0.113.9, 10.0.0.7"
    assert client_address("127.0.0.1", forwarded, TRUSTED) == ip("203.0.113.9")
    assert client_address("192.0.2.1", visitor, TRUSTED) == ip("192.0.2.1")


def test_parse_trusted_proxies_takes_addresses_and_networks() -> None:
    parsed = parse_trusted_proxies(
        ["127.0.0.1", " 10.0.0.0/8", "::1", ip("192.0.2.1"), ipaddress.ip_network("fd00::/8")]
    )
    assert parsed == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("192.0.2.1/32"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert parse_trusted_proxies(None) == ()
    assert parse_trusted_proxies(()) == ()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("127.0.0.1", "must be a list"),
        (b"127.0.0.1", "must be a list"),
        (42, "must be a list"),
        (["10.0.0.1/8"], "has host bits set"),
        (["proxy.example"], "is not an address or network"),
        ([None], "is a NoneType"),
    ],
)
def test_parse_trusted_proxies_refuses(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_trusted_proxies(value)


# -- settings checks ------------------------------------------------------------


def test_setting_checks() -> None:
    assert check_timeout(1) == 1.0
    assert check_timeout(10) == 10.0
    assert check_cache(0, 1) == (0.0, 1)
    assert check_backoff(1, 1) == (1.0, 1.0)
    for bad in (0, 10.01, -1, float("nan")):
        with pytest.raises(ValueError):
            check_timeout(bad)
    for not_a_number in (True, "1", None):  # as the clients refuse them
        with pytest.raises(TypeError):
            check_timeout(not_a_number)
    for seconds, size in ((-0.1, 1), (float("inf"), 1), (1, 0), (1, 2.0), (1, False)):
        with pytest.raises(ValueError):
            check_cache(seconds, size)
    for first, longest in ((0, 1), (2, 1), (1, float("inf")), (None, 1)):
        with pytest.raises((TypeError, ValueError)):
            check_backoff(first, longest)
    assert check_idle_timeout(None) is None and check_idle_timeout(0) == 0.0
    with pytest.raises(ValueError):
        check_idle_timeout(-1)
    assert check_settle(0) == 0.0 and check_settle(1) == 1.0
    assert check_negative_cache(0) == 0.0
    bad_settle: tuple[object, ...] = (-0.001, 1.01, float("nan"), "0.1", None)
    for value in bad_settle:
        with pytest.raises((TypeError, ValueError), match="settle time"):
            check_settle(value)
    bad_negative: tuple[object, ...] = (-1, float("inf"), "1")
    for value in bad_negative:
        with pytest.raises((TypeError, ValueError), match="negative cache time"):
            check_negative_cache(value)
    with pytest.raises(ValueError, match="cache size"):
        build_lookup(cache_size=0)


# -- the cache ------------------------------------------------------------------


def test_cache_keeps_answers_and_no_data_for_a_while() -> None:
    clock = Clock()
    cache = AnswerCache(30, 100, timer=clock)
    linux = answer()
    cache.put(ip("192.0.2.1"), linux)
    cache.put(ip("192.0.2.2"), None)
    assert cache.get(ip("192.0.2.1")) is linux
    assert cache.get(ip("192.0.2.2")) is None
    assert cache.get(ip("192.0.2.3")) is MISS
    clock.now += 29.9
    assert cache.get(ip("192.0.2.1")) is linux
    clock.now += 0.2
    assert cache.get(ip("192.0.2.1")) is MISS
    assert len(cache) == 0


def test_cache_is_bounded() -> None:
    cache = AnswerCache(30, 10, timer=Clock())
    for n in range(100):
        cache.put(ip(f"192.0.2.{n}"), None)
    assert len(cache) == 10
    cache.clear()
    assert len(cache) == 0


def test_cache_of_zero_seconds_keeps_nothing() -> None:
    cache = AnswerCache(0, 10)
    cache.put(ip("192.0.2.1"), answer())
    assert cache.get(ip("192.0.2.1")) is MISS
    assert len(cache) == 0


def test_cache_keeps_no_data_only_the_negative_time() -> None:
    clock = Clock()
    cache = AnswerCache(30, 100, negative_seconds=1, timer=clock)
    linux = answer()
    cache.put(ip("192.0.2.1"), None)
    cache.put(ip("192.0.2.2"), linux)
    clock.now += 0.9
    assert cache.get(ip("192.0.2.1")) is None  # held: "no data"
    clock.now += 0.1
    assert cache.get(ip("192.0.2.1")) is MISS
    assert cache.get(ip("192.0.2.2")) is linux
    assert len(cache) == 1
    never = AnswerCache(30, 100, negative_seconds=0, timer=clock)
    never.put(ip("192.0.2.1"), None)
    assert never.get(ip("192.0.2.1")) is MISS


def test_cache_entry_says_when_it_was_asked_and_until_when_it_serves() -> None:
    clock = Clock()
    cache = AnswerCache(30, 100, negative_seconds=2, timer=clock)
    cache.put(ip("192.0.2.1"), answer(), rechecked=True)
    cache.put(ip("192.0.2.2"), None)
    held = cache.entry(ip("192.0.2.1"))
    assert held is not None and held.rechecked
    assert (held.asked_at, held.expires_at) == (1000.0, 1030.0)
    assert held.found.cached and held.found.address == ip("192.0.2.1")
    no_data = cache.entry(ip("192.0.2.2"))
    assert no_data is not None and no_data.expires_at == 1002.0
    assert no_data.found.status is LookupStatus.NO_DATA


def test_cache_makes_way_for_the_least_recently_used() -> None:
    clock = Clock()
    cache = AnswerCache(30, 3, timer=clock)
    first, second, third, fourth = (ip(f"192.0.2.{n}") for n in range(1, 5))
    for address in (first, second, third):
        cache.put(address, answer())
    assert cache.get(first) is not MISS  # used: now the most recent
    cache.put(fourth, answer())
    assert cache.get(second) is MISS
    assert all(cache.get(address) is not MISS for address in (first, third, fourth))
    cache.put(third, answer("Windows"))  # replacing an address evicts nothing
    assert len(cache) == 3
    held = cache.get(third)
    assert held is not MISS and held is not None and held.os_name == "Windows"


def test_a_full_cache_drops_what_expired_before_what_is_still_good() -> None:
    # "No data" is kept 1 s, answers 30 s: a full cache makes way with the
    # expired entries first (as a time-aware LRU cache does), not with an
    # answer that still serves because it was used longer ago.
    clock = Clock()
    cache = AnswerCache(30, 3, negative_seconds=1, timer=clock)
    first, second, gone, new = (ip(f"192.0.2.{n}") for n in range(1, 5))
    cache.put(first, answer())
    cache.put(second, answer())
    cache.put(gone, None)  # the most recently used, and soon expired
    clock.now += 2
    cache.put(new, answer())
    assert all(cache.get(address) is not MISS for address in (first, second, new))
    assert cache.get(gone) is MISS
    assert len(cache) == 3
    # With nothing expired, the least recently used makes way, as before.
    cache.put(gone, answer())
    assert cache.get(first) is MISS and len(cache) == 3


def test_what_the_cache_keeps_for_expiry_stays_within_one_keeping_time() -> None:
    # Each put queues its entry for expiry; entries replaced or expired
    # leave the queues once their time is up, so the memory held stays
    # what was put within one keeping time, however long the cache runs.
    clock = Clock()
    cache = AnswerCache(10, 100, negative_seconds=1, timer=clock)
    hosts = [ip(f"192.0.2.{n}") for n in range(1, 6)]
    for _ in range(1_000):
        for host in hosts:
            cache.put(host, answer())
            cache.put(host, None)  # replaces it, queued in the other kind
        clock.now += 0.5
    answers, no_data = cache._queues
    assert len(answers) <= 5 * 21 and len(no_data) <= 5 * 3
    assert len(cache) == 5  # the "no data" of the last round, not yet expired
    clock.now += 1
    assert len(cache) == 0


def test_cache_readers_beside_writers_get_the_address_they_ask_about() -> None:
    # Reads take no lock: while other threads put, replace and evict, a
    # read gives the entry of the address asked about, or nothing.
    cache = AnswerCache(30, 20)
    addresses = [ip(f"198.51.100.{n}") for n in range(60)]
    answers = {address: answer(str(address)) for address in addresses}
    errors: list[BaseException] = []
    served = [0]
    stop = threading.Event()

    def write(offset: int) -> None:
        try:
            while not stop.is_set():
                for address in addresses[offset::3]:
                    cache.put(address, answers[address])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(300):
                for address in addresses:
                    entry = cache.entry(address)
                    if entry is not None:
                        assert entry.answer is answers[address]
                        assert entry.found.address == address
                        served[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in writers + readers:
        thread.start()
    for thread in readers:
        thread.join()
    stop.set()
    for thread in writers:
        thread.join()
    assert errors == []
    assert served[0] > 0
    assert len(cache) <= 20


def test_cache_is_safe_to_share_between_threads() -> None:
    cache = AnswerCache(30, 50)
    errors: list[BaseException] = []

    def hammer(base: int) -> None:
        try:
            for n in range(2000):
                address = ip(f"10.{base}.{n // 256}.{n % 256}")
                cache.put(address, None)
                cache.get(address)
                len(cache)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(cache) <= 50


# -- the back-off ---------------------------------------------------------------


def test_backoff_pauses_then_lets_one_caller_probe() -> None:
    clock = Clock()
    backoff = Backoff(1, 8, timer=clock)
    assert backoff.allow() and not backoff.is_open()
    assert backoff.failure() == 1
    assert backoff.is_open()
    assert not backoff.allow()
    clock.now += 0.99
    assert not backoff.allow()
    clock.now += 0.01
    assert backoff.allow()  # the probe
    assert not backoff.allow()  # everyone else waits for it
    assert backoff.failure() == 2  # the probe failed: twice as long
    clock.now += 1.99
    assert not backoff.allow()
    clock.now += 0.01
    assert backoff.allow()
    assert backoff.failure() == 4
    clock.now += 4
    assert backoff.allow()
    assert backoff.failure() == 8
    clock.now += 8
    assert backoff.allow()
    assert backoff.failure() == 8  # no longer than the maximum
    clock.now += 8
    assert backoff.allow()
    backoff.success()
    assert not backoff.is_open()
    assert backoff.allow() and backoff.allow()
    assert backoff.failure() == 1  # back to the start


def test_backoff_failures_of_calls_already_under_way_do_not_lengthen_the_pause() -> None:
    clock = Clock()
    backoff = Backoff(1, 30, timer=clock)
    assert backoff.failure() == 1
    clock.now += 0.5
    assert backoff.failure() is None  # started before the first failure
    clock.now += 0.5
    assert backoff.allow()


def test_backoff_lets_another_probe_through_if_one_never_reports() -> None:
    clock = Clock()
    backoff = Backoff(1, 30, timer=clock)
    backoff.failure()
    clock.now += 1
    assert backoff.allow()  # this probe is cancelled and never reports
    clock.now += 0.5
    assert not backoff.allow()
    clock.now += 0.5
    assert backoff.allow()


# -- one lookup -------------------------------------------------------------------


class Outcomes:
    """Answers, or errors to raise, in order; records what was asked."""

    def __init__(self, *outcomes: P0fResponse | BaseException) -> None:
        self.outcomes = list(outcomes)
        self.asked: list[Address] = []

    def next(self, address: Address) -> P0fResponse:
        self.asked.append(address)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class StubClient(Outcomes):
    def query(self, address: Address) -> P0fResponse:
        return self.next(address)


class AsyncStubClient(Outcomes):
    async def query(self, address: Address) -> P0fResponse:
        await asyncio.sleep(0)
        return self.next(address)


def no_match() -> NoMatchError:
    return NoMatchError("no match")


def with_http(os_name: str = "Linux") -> P0fResponse:
    return P0fResponse.from_raw(sample_response(os_name=os_name, http_name="Firefox"))


class Setup:
    """A lookup on a hand-moved clock whose sleeps move the clock."""

    def __init__(self, *, settle: float = 0.025, cache: float = 30, negative: float = 1) -> None:
        self.clock = Clock()
        self.slept: list[float] = []
        self.lookup = Lookup(
            AnswerCache(cache, 100, negative_seconds=negative, timer=self.clock),
            Backoff(1, 30, timer=self.clock),
            settle=settle,
            sleep=self.sleep,
        )

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.now += seconds


A = ip("192.0.2.1")
B = ip("192.0.2.2")


def test_lookup_asks_once_then_serves_from_the_cache() -> None:
    setup = Setup()
    linux = with_http()
    client = StubClient(linux)
    first = setup.lookup.lookup(client, A)
    assert first == P0fLookup(answer=linux, address=A, status=LookupStatus.ANSWERED)
    again = setup.lookup.lookup(client, A)
    assert again.answer is linux and again.cached and again.address == A
    assert client.asked == [A]
    assert setup.slept == []  # a known host costs no wait


def test_no_data_is_asked_again_on_the_settle_schedule() -> None:
    setup = Setup()
    linux = answer()
    client = StubClient(no_match(), no_match(), no_match(), linux)
    found = setup.lookup.lookup(client, A)
    assert found.answer is linux and found.status is LookupStatus.ANSWERED
    assert client.asked == [A] * 4
    assert sum(setup.slept) == pytest.approx(settle_schedule(0.025)[2])


def test_settling_gives_up_after_its_budget_and_caches_no_data_briefly() -> None:
    setup = Setup()
    schedule = settle_schedule(0.025)
    client = StubClient(*[no_match()] * (len(schedule) + 2), answer())
    found = setup.lookup.lookup(client, A)
    assert found == P0fLookup(answer=None, address=A, status=LookupStatus.NO_DATA)
    assert len(client.asked) == 1 + len(schedule)
    assert sum(setup.slept) == pytest.approx(0.025)
    setup.clock.now += 0.9
    assert setup.lookup.lookup(client, A).cached  # "no data", reused for a second
    assert len(client.asked) == 1 + len(schedule)
    setup.clock.now += 0.2
    # Expired after a second: asked again, and p0f knows it one settle step on.
    assert setup.lookup.lookup(client, A).answer == answer()
    assert len(client.asked) == 1 + len(schedule) + 2


def test_settle_zero_asks_once() -> None:
    setup = Setup(settle=0)
    client = StubClient(no_match())
    assert setup.lookup.lookup(client, A).status is LookupStatus.NO_DATA
    assert client.asked == [A] and setup.slept == []


def test_negative_cache_zero_keeps_no_data_at_all() -> None:
    setup = Setup(settle=0, negative=0)
    client = StubClient(no_match(), no_match())
    setup.lookup.lookup(client, A)
    setup.lookup.lookup(client, A)
    assert client.asked == [A, A]


def test_no_data_is_never_kept_longer_than_answers() -> None:
    assert AnswerCache(0.5, 10, negative_seconds=5).negative_seconds == 0.5


def test_an_answer_without_http_fields_is_asked_again_once() -> None:
    setup = Setup()
    bare, full = answer(), with_http()
    client = StubClient(bare, full, answer("Other"))
    assert setup.lookup.lookup(client, A).answer is bare
    # Too soon for p0f to have read the request sent with the first one.
    assert setup.lookup.lookup(client, A).answer is bare
    assert client.asked == [A]
    setup.clock.now += setup.lookup.http_recheck + 0.001
    found = setup.lookup.lookup(client, A)
    assert found.answer is full and not found.cached
    setup.clock.now += 10
    assert setup.lookup.lookup(client, A).answer is full  # complete: kept
    assert client.asked == [A, A]


def test_an_answer_still_without_http_fields_is_not_asked_again_and_again() -> None:
    # A site behind TLS: p0f never sees the HTTP request.
    setup = Setup()
    client = StubClient(answer(), answer(), answer())
    for _ in range(5):
        setup.lookup.lookup(client, A)
        setup.clock.now += 1
    assert client.asked == [A, A]
    setup.clock.now += 30  # the entry expired: asked afresh
    setup.lookup.lookup(client, A)
    assert client.asked == [A, A, A]


def test_a_failed_recheck_keeps_the_answer_held(caplog: pytest.LogCaptureFixture) -> None:
    setup = Setup()
    bare = answer()
    client = StubClient(bare, P0fTimeoutError("p0f did not answer within 0.5 s"))
    setup.lookup.lookup(client, A)
    setup.clock.now += 1
    with caplog.at_level(logging.WARNING, logger="p0f.web"):
        found = setup.lookup.lookup(client, A)
    assert found.answer is bare and found.cached
    assert setup.lookup.backoff.is_open()


def test_a_recheck_that_finds_no_data_keeps_the_answer_held() -> None:
    # p0f forgot the host between the first ask and the HTTP recheck (it
    # restarted, or made room in its host table): what it said stands.
    for settle in (0.025, 0):
        setup = Setup(settle=settle)
        bare = answer()
        client = StubClient(bare, no_match())
        setup.lookup.lookup(client, A)
        setup.clock.now += 1
        found = setup.lookup.lookup(client, A)
        assert found.answer is bare and found.cached
        assert client.asked == [A, A]
        assert setup.slept == []  # no settling: p0f had recorded the host
        held = setup.lookup.cache.entry(A)
        assert held is not None and held.rechecked and held.answer is bare
        assert (held.asked_at, held.expires_at) == (1000.0, 1030.0)  # not renewed
        for _ in range(3):  # not asked again, by either path
            assert setup.lookup.known(A, None, None) == found
            assert setup.lookup.lookup(NeverAsked(), A) == found
        setup.clock.now += 29  # expired: asked afresh
        assert setup.lookup.known(A, None, None) is None


def test_a_rechecked_entry_expires_with_the_entry_it_marks() -> None:
    clock = Clock()
    cache = AnswerCache(30, 100, timer=clock)
    cache.put(A, answer())
    entry = cache.entry(A)
    assert entry is not None
    cache.put_rechecked(A, entry)
    held = cache.entry(A)
    assert held is not None and held.rechecked and held.expires_at == entry.expires_at
    cache.put_rechecked(A, entry)  # no longer the one held: nothing changes
    assert cache.entry(A) is held
    clock.now += 31
    cache.put(B, answer())  # drops what has expired, by the queue
    assert len(cache) == 1 and cache.entry(A) is None


class NeverAsked:
    """A client for a lookup that :meth:`Lookup.known` said needs no asking."""

    def query(self, address: Address) -> P0fResponse:
        raise AssertionError(f"asked about {address} although known() answered")


LONG_AGENT = "Mozilla/5.0 (X11; Linux x86_64) " + "x" * 600  # too long to memoise


@pytest.mark.parametrize("agent", [None, "curl/8.0", "Mozilla/5.0 (Windows NT 10.0)", LONG_AGENT])
@pytest.mark.parametrize("checked", [True, False])
def test_the_fast_path_gives_what_the_full_path_gives(agent: str | None, checked: bool) -> None:
    from p0f import DEFAULT_UA_OS

    rules = DEFAULT_UA_OS if checked else None
    setup = Setup(settle=0)
    lookup, clock = setup.lookup, setup.clock

    def both(address: IPAddress | None) -> P0fLookup | None:
        # known()'s answer, and the full path's for the same request, which
        # must not ask p0f then; None when p0f is to be asked.
        fast = lookup.known(address, rules, agent)
        if fast is not None:
            full = with_user_agent(lookup.lookup(NeverAsked(), address), rules, agent)
            assert full == fast
            if agent is not LONG_AGENT:  # then made once and shared
                assert full is fast
        return fast

    assert both(None) is not None  # no address: never asked
    client = StubClient(refused("/x"), answer(), refused("/x"), answer(), with_http(), answer())
    # p0f down: the first request asks and fails; the next ones are answered
    # "unavailable" without asking, until the pause is over.
    assert both(A) is None
    assert lookup.lookup(client, A).status is LookupStatus.UNAVAILABLE
    down = both(A)
    assert down is not None and down.status is LookupStatus.UNAVAILABLE
    clock.now += 1
    # The probe is due: known() leaves it to the full path, and takes no
    # turn from it (the full path still gets to ask).
    assert both(A) is None and both(A) is None
    bare = lookup.lookup(client, A)
    assert client.asked == [A, A] and bare.answer is not None and not bare.cached
    # A cached answer without HTTP fields: served until the recheck is due.
    served = both(A)
    assert served is not None and served.cached and served.answer is bare.answer
    clock.now += lookup.http_recheck + 0.001
    assert both(A) is None
    # The recheck fails: p0f is down again, the answer held is served (by
    # the full path, which knows the recheck is owed, without asking).
    assert lookup.lookup(client, A).answer is bare.answer
    assert both(A) is None
    held = lookup.lookup(NeverAsked(), A)
    assert held.answer is bare.answer and held.cached
    clock.now += 2  # the pause (now 2 s) is over: the probe is the full path's
    assert both(A) is None
    assert lookup.lookup(client, A).status is LookupStatus.ANSWERED
    assert both(A) is not None
    clock.now += 31  # expired: asked afresh
    assert both(A) is None
    assert lookup.lookup(client, A).answer is not None and len(client.asked) == 5
    complete = both(A)  # an answer with HTTP fields: served for its 30 s
    assert complete is not None and complete.answer is not None
    assert complete.answer.http_name is not None
    assert both(B) is None  # another address, p0f up: asked


def test_lookup_of_no_address_asks_nothing() -> None:
    client = StubClient()
    found = Lookup().lookup(client, None)
    assert found == P0fLookup(answer=None, address=None, status=LookupStatus.NO_ADDRESS)
    assert client.asked == []


@pytest.mark.parametrize(
    "error",
    [
        P0fConnectionError(111, "cannot connect to p0f at /x: Connection refused"),
        P0fTimeoutError("p0f did not answer within 0.5 s"),
        ProtocolError("answer has wrong magic 0x00000000"),
    ],
)
def test_lookup_failures_give_none_pause_and_log(
    error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    setup = Setup()
    windows = answer("Windows")  # built once: its times come from the clock
    client = StubClient(error, windows)
    with caplog.at_level(logging.WARNING, logger="p0f.web"):
        found = setup.lookup.lookup(client, A)
        assert found == P0fLookup(answer=None, address=A, status=LookupStatus.UNAVAILABLE)
        assert setup.lookup.lookup(client, A).status is LookupStatus.UNAVAILABLE  # paused
    assert client.asked == [A]
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert "skipping lookups for 1 s" in record.getMessage()
    assert "[Errno" not in record.getMessage()
    caplog.clear()
    setup.clock.now += 1.5
    with caplog.at_level(logging.INFO, logger="p0f.web"):
        assert setup.lookup.lookup(client, A).answer == windows
    assert not setup.lookup.backoff.is_open()
    (back,) = caplog.records  # one line when p0f is back
    assert back.getMessage() == "p0f answers again, after 1.5 s of failed lookups"


def test_a_failure_while_settling_ends_the_lookup(caplog: pytest.LogCaptureFixture) -> None:
    setup = Setup()
    client = StubClient(no_match(), P0fConnectionError("p0f connection lost"), answer())
    with caplog.at_level(logging.WARNING, logger="p0f.web"):
        found = setup.lookup.lookup(client, A)
    assert found.status is LookupStatus.UNAVAILABLE
    assert client.asked == [A, A]
    assert setup.lookup.backoff.is_open()


def test_lookup_survives_an_unexpected_error(caplog: pytest.LogCaptureFixture) -> None:
    lookup = Lookup()
    client = StubClient(RuntimeError("a bug"))
    with caplog.at_level(logging.WARNING, logger="p0f.web"):
        assert lookup.lookup(client, A).answer is None
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert lookup.backoff.is_open()


def test_alookup_does_the_same_with_an_async_client(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    lookup = Lookup(AnswerCache(30, 10, timer=clock), Backoff(1, 30, timer=clock), settle=0.005)
    linux = answer()
    windows = answer("Windows")  # built once: its times come from the clock
    client = AsyncStubClient(
        linux,
        no_match(),
        windows,  # after one settle retry
        P0fConnectionError("down"),
        RuntimeError("bug"),
    )
    c = ip("192.0.2.3")

    async def scenario() -> list[P0fResponse | None]:
        return [
            (await lookup.alookup(client, A)).answer,
            (await lookup.alookup(client, A)).answer,
            (await lookup.alookup(client, B)).answer,
            (await lookup.alookup(client, None)).answer,
            (await lookup.alookup(client, c)).answer,  # fails: pause
            (await lookup.alookup(client, c)).answer,  # paused
        ]

    with caplog.at_level(logging.WARNING, logger="p0f.web"):
        assert asyncio.run(scenario()) == [linux, linux, windows, None, None, None]
        assert client.asked == [A, B, B, c]
        clock.now += 1
        assert asyncio.run(lookup.alookup(client, c)).answer is None  # the bug
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.ERROR]


def test_the_settle_schedule() -> None:
    assert settle_schedule(0) == ()
    assert settle_schedule(0.005) == (0.002, 0.003, 0.004, 0.005)
    default = settle_schedule(0.025)
    assert default[:5] == (0.002, 0.003, 0.004, 0.005, 0.006)
    assert default[-1] == 0.025
    gaps = [b - a for a, b in zip(default, default[1:])]
    assert all(0.001 - 1e-9 <= gap <= 0.005 + 1e-9 for gap in gaps)
    assert settle_schedule(1.0)[-1] == 1.0


# -- what a failure says ----------------------------------------------------------


def refused(path: str) -> P0fConnectError:
    return P0fConnectError(f"cannot connect to p0f at {path}: Connection refused", errno.ECONNREFUSED)


def test_a_socket_nobody_listens_on_says_so(tmp_path: Path) -> None:
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(path)
        assert describe_failure(refused(path), path) == f"nobody is listening on {path} (p0f stopped?)"
    # What the client says of a path that is no socket is kept as it is.
    message = f"cannot connect to p0f at {tmp_path}: not a socket but a directory"
    error = P0fConnectError(message, errno.ECONNREFUSED)
    assert describe_failure(error, str(tmp_path)) == message


def test_missing_socket_and_permission_denied(tmp_path: Path) -> None:
    path = str(tmp_path / "nothing")
    missing = P0fConnectError("cannot connect: No such file or directory", errno.ENOENT)
    assert describe_failure(missing, path).startswith(f"there is no socket at {path}")
    denied = P0fConnectError("cannot connect: Permission denied", errno.EACCES)
    assert describe_failure(denied, path).startswith(f"permission denied connecting to {path}")
    assert describe_failure(P0fTimeoutError("no answer within 1 s"), path) == "no answer within 1 s"
    assert describe_failure(OSError(32, "Broken pipe"), None) == "Broken pipe"


# -- one object per event loop -------------------------------------------------------


def test_per_loop_makes_one_object_per_loop() -> None:
    made: list[object] = []

    def factory() -> object:
        made.append(object())
        return made[-1]

    per_loop: PerLoop[object] = PerLoop(factory)

    async def twice() -> tuple[object, object]:
        return per_loop.get(), per_loop.get()

    first, again = asyncio.run(twice())
    assert first is again
    second, _ = asyncio.run(twice())
    assert second is not first
    assert len(made) == 2
    # The first loop has closed: its entry went when the second was made.
    assert [item for _, item in per_loop.pop_all()] == [second]

    async def pop() -> object | None:
        item = per_loop.get()
        assert per_loop.pop() is item
        return per_loop.pop()

    assert asyncio.run(pop()) is None


# -- the User-Agent check's memo ------------------------------------------------


def test_the_checked_lookup_is_shared_only_where_the_lookup_is() -> None:
    from p0f import DEFAULT_UA_OS
    from p0f._web import _checked, _unavailable, with_user_agent

    agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    # A cached lookup, and "unavailable" while p0f is down, are one object
    # for many requests: the check is made once for each User-Agent.
    setup = Setup(settle=0)
    setup.lookup.lookup(StubClient(with_http()), A)
    cached = setup.lookup.lookup(StubClient(), A)
    assert cached.cached
    for shared in (cached, _unavailable(A)):
        first = with_user_agent(shared, DEFAULT_UA_OS, agent)
        assert first.user_agent is not None and first.user_agent.user_agent_os == "Linux"
        assert with_user_agent(shared, DEFAULT_UA_OS, agent) is first
        other = with_user_agent(shared, DEFAULT_UA_OS, "curl/8.0")
        assert other is not first and other.user_agent != first.user_agent
    # A fresh lookup ("no data" included) is its request's own: checking it
    # keeps nothing, however many new visitors come.
    held = len(_checked)
    fresh = Setup(settle=0, negative=0)
    for n in range(50):
        found = fresh.lookup.lookup(StubClient(no_match()), ip(f"198.51.100.{n}"))
        assert not found.cached and found.status is LookupStatus.NO_DATA
        assert with_user_agent(found, DEFAULT_UA_OS, agent).user_agent is not None
    assert len(_checked) == held


def test_the_checked_lookup_is_each_set_of_rules_own() -> None:
    from p0f import DEFAULT_UA_OS, UaOsRules
    from p0f._web import _unavailable, with_user_agent

    # Two middleware with their own ua_os rules share the "unavailable"
    # lookups (made once per address): each gets the check by its rules,
    # however the requests interleave.
    mine = UaOsRules.parse("ua_os = Plan 9=[Firefox]")
    agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    shared = _unavailable(ip("203.0.113.77"))
    for _ in range(2):
        theirs = with_user_agent(shared, DEFAULT_UA_OS, agent).user_agent
        ours = with_user_agent(shared, mine, agent).user_agent
        assert theirs is not None and theirs.user_agent_os == "Linux"
        assert ours is not None and ours.user_agent_os == "Plan 9"


def test_the_memos_are_bounded() -> None:
    from p0f._web import _MEMO_SIZE, _unavailable, _unavailable_memo

    first = _unavailable(ip("203.0.113.1"))
    assert _unavailable(ip("203.0.113.1")) is not first  # another object: another entry
    addresses = [ip(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}") for n in range(_MEMO_SIZE + 100)]
    for address in addresses:
        assert _unavailable(address).status is LookupStatus.UNAVAILABLE
    assert len(_unavailable_memo) == _MEMO_SIZE
    assert _unavailable(addresses[-1]) is _unavailable(addresses[-1])  # the newest kept
