"""What the Django, ASGI and WSGI middleware share; no web framework in here.

Each middleware does the same four things per request, with these helpers:

1. find the client's address: :func:`client_address`, from the peer address
   and ``X-Forwarded-For``, trusting the header only as far as
   :func:`parse_trusted_proxies` says;
2. look in a short-lived cache of answers: :class:`AnswerCache`;
3. skip asking while the daemon is known to be down: :class:`Backoff`;
4. ask, and turn every failure into ``None`` plus a log line: :class:`Lookup`,
   which runs steps 2 to 4 with a sync or an async client, asking again
   for a short while (:func:`settle_schedule`) when p0f has no data yet,
   and gives a :class:`P0fLookup`: the answer and the address looked up.

:class:`PerLoop` keeps one async client per event loop, since an async
client belongs to the loop it was first used in.
"""

from __future__ import annotations

import asyncio
import enum
import errno
import functools
import ipaddress
import logging
import os
import stat
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Final, Generic, Protocol, TypeAlias, TypeVar

import attrs

from ._base import validate_idle_timeout, validate_timeout
from ._codec import Address, normalize_address
from ._errors import (
    InvalidAddressError,
    NoMatchError,
    P0fConnectError,
    P0fConnectionError,
    P0fError,
)
from ._models import P0fResponse
from ._useragent import UaOsRules, UserAgentCheck, check_user_agent, load_ua_os

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Answer: TypeAlias = P0fResponse | None

DEFAULT_TIMEOUT: Final = 0.5
"""Seconds a middleware waits for the daemon: it sits on every request."""
MAX_TIMEOUT: Final = 10.0
"""The longest timeout a middleware accepts."""
DEFAULT_CACHE_SECONDS: Final = 30.0
"""How long an answer is reused.  p0f learns more about a host as its
traffic goes on (the HTTP fingerprint comes after the SYN), so keep it short."""
DEFAULT_NEGATIVE_CACHE_SECONDS: Final = 1.0
"""How long a "no data" answer is reused: p0f may learn about the host any
moment, so never for long."""
DEFAULT_SETTLE_SECONDS: Final = 0.02
"""How long a lookup keeps asking when p0f has no data yet for the address.

Measured on loopback against p0f 3.09b (``scripts/measure_settle.py``, 200
fresh addresses): p0f answers 3.9 to 5.1 ms after ``connect()`` returns
(median 4.6), and has an HTTP request's fields 4.2 to 5.2 ms after it was
sent.  An application sees the request about a millisecond after the
connection opened, so p0f usually needs 3 to 4 ms more; 20 ms leaves room
for a loaded machine and keeps the worst case under 30 ms."""
MAX_SETTLE_SECONDS: Final = 1.0
"""The longest settle budget accepted: it is waited on a visitor's request."""
DEFAULT_IDLE_TIMEOUT: Final[float | None] = 0.0
"""Seconds a web process keeps a connection to p0f that is owed nothing.

0: given back as soon as the answer is read.  p0f serves at most ``-S``
(20 by default) connections and leaves the others waiting unserved, so a
fleet of web processes each holding one starves some of them; most lookups
are answered from the cache, so a process rarely needs the connection.
Measured (benchmarks/README.md, real p0f, 32 processes at ``-S 20``):
kept connections left 12 processes unserved; with 0 every process was
served, at about 0.1 ms more per lookup (a connect and p0f's accept)."""
DEFAULT_CACHE_SIZE: Final = 10_000
"""At most this many addresses are cached; the least recently used make way."""
DEFAULT_BACKOFF: Final = 1.0
"""Seconds lookups are skipped after the daemon first fails."""
DEFAULT_MAX_BACKOFF: Final = 30.0
"""The longest pause: each failed retry doubles the pause up to this."""

logger: Final = logging.getLogger("p0f.web")


# -- settings checks ------------------------------------------------------


# Every check raises TypeError for a value that is not a number, ValueError
# for a number out of range: the clients' rule (p0f._base.validate_timeout).


def _number(name: str, value: object) -> float:
    return validate_timeout(value, name, allow_zero=True)


def check_timeout(value: object) -> float:
    """``value`` as a timeout in seconds, or :class:`TypeError` /
    :class:`ValueError` saying why not."""
    seconds = _number("the timeout", value)
    if not 0 < seconds <= MAX_TIMEOUT:
        raise ValueError(
            f"the timeout must be more than 0 and at most {MAX_TIMEOUT:g} s "
            f"(it is waited on every request), got {value!r}"
        )
    return seconds


def check_cache(seconds: object, size: object) -> tuple[float, int]:
    """Cache time (0 turns caching off) and size, or :class:`ValueError`."""
    time_ = _number("the cache time", seconds)
    if time_ < 0:
        raise ValueError(f"the cache time must not be negative, got {seconds!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"the cache size must be a whole number of at least 1, got {size!r}")
    return time_, size


def check_settle(value: object) -> float:
    """The settle budget in seconds (0 turns it off), or :class:`ValueError`."""
    seconds = _number("the settle time", value)
    if not 0 <= seconds <= MAX_SETTLE_SECONDS:
        raise ValueError(
            f"the settle time must be at least 0 and at most {MAX_SETTLE_SECONDS:g} s "
            f"(it is waited on a new visitor's request), got {value!r}"
        )
    return seconds


def check_negative_cache(value: object) -> float:
    """How long "no data" is reused, in seconds (0: never), or :class:`ValueError`."""
    seconds = _number("the negative cache time", value)
    if seconds < 0:
        raise ValueError(f"the negative cache time must not be negative, got {value!r}")
    return seconds


def settle_schedule(budget: float) -> tuple[float, ...]:
    """When to ask again after a "no data" answer: seconds after it, rising.

    Every millisecond from 2 to 6 ms, where p0f's answers fall on an idle
    machine, then in steps growing by half up to 5 ms, and at ``budget``
    last.  ``budget=0`` gives no retry at all.
    """
    if budget <= 0:
        return ()
    offsets: list[float] = []
    moment, step = 0.002, 0.001
    while moment < budget - 1e-9:
        offsets.append(round(moment, 6))
        if moment >= 0.006:
            step = min(step * 1.5, 0.005)
        moment += step
    if offsets and budget - offsets[-1] < 0.001:
        offsets.pop()  # no two asks closer than a millisecond
    offsets.append(budget)
    return tuple(offsets)


def check_idle_timeout(value: object) -> float | None:
    """Seconds an idle connection to p0f stays open (``None``: for ever)."""
    return validate_idle_timeout(value)


def check_backoff(initial: object, maximum: object) -> tuple[float, float]:
    """First and longest back-off in seconds, or :class:`ValueError`."""
    first = _number("the back-off", initial)
    longest = _number("the longest back-off", maximum)
    if first <= 0:
        raise ValueError(f"the back-off must be more than 0 s, got {initial!r}")
    if longest < first:
        raise ValueError(
            f"the longest back-off ({maximum!r}) must not be shorter than "
            f"the first ({initial!r})"
        )
    return first, longest


def parse_trusted_proxies(value: object) -> tuple[Network, ...]:
    """The networks whose ``X-Forwarded-For`` headers are believed.

    ``value`` is ``None`` (trust no one) or a list of addresses and networks,
    as strings (``"10.0.0.1"``, ``"10.0.0.0/8"``, ``"::1"``) or
    :mod:`ipaddress` objects.  A single string is refused, not read letter
    by letter, and so is a network with host bits set (``"10.0.0.1/8"``:
    a typo for ``10.0.0.0/8`` or for ``10.0.0.1``?).
    """
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(
            "trusted proxies must be a list of addresses or networks, "
            f"got {type(value).__name__} {value!r}"
        )
    networks: list[Network] = []
    for item in value:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            networks.append(item)
        elif isinstance(item, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            networks.append(ipaddress.ip_network(item))
        elif isinstance(item, str):
            try:
                networks.append(ipaddress.ip_network(item.strip()))
            except ValueError as exc:
                raise ValueError(f"trusted proxy {item!r} is not an address or network: {exc}") from None
        else:
            raise ValueError(
                f"trusted proxy {item!r} is a {type(item).__name__}, "
                "not an address or network"
            )
    return tuple(networks)


# -- the client's address -------------------------------------------------


@functools.lru_cache(maxsize=4096)
def peer_address(text: str | None) -> IPAddress | None:
    """``text`` (a peer's address, ``REMOTE_ADDR``) as an address, or
    ``None``; what :func:`client_address` gives with no trusted proxies."""
    # Cached: parsing an address string costs more than the rest of a cache
    # hit, and the same visitors come back request after request.
    if not text:
        return None  # a Unix socket peer, say
    try:
        return normalize_address(text.strip())
    except InvalidAddressError:
        return None


def _hop(text: str) -> IPAddress | None:
    """One ``X-Forwarded-For`` entry: an address, maybe with a port."""
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]:8080"
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # "192.0.2.1:8080"
        text = text.partition(":")[0]
    return peer_address(text)


def _is_trusted(address: IPAddress, trusted: Sequence[Network]) -> bool:
    # An IPv4 address is never "in" an IPv6 network (and the other way
    # round): ipaddress answers False rather than raising.
    return any(address in network for network in trusted)


def client_address(
    remote_addr: str | None,
    forwarded_for: str | None,
    trusted: Sequence[Network] = (),
) -> IPAddress | None:
    """The address to look up, or ``None`` when it cannot be known.

    ``remote_addr`` is the peer of the TCP connection (``REMOTE_ADDR``).
    With no trusted proxies that is the answer, and ``forwarded_for`` is
    ignored: any visitor can send that header.  Otherwise the header is
    read from the right, one hop per trusted address: a trusted proxy
    appended the address it was connected from, so that address is known
    for sure; the first one that is not itself a trusted proxy is the
    client.  Entries left of it were written by the client and are never
    read.  Should a trusted hop have written something that is not an
    address, the client is unknown and the answer ``None``.

    ``forwarded_for`` is the header's value; several headers are joined
    with commas, in order, first.
    """
    address = peer_address(remote_addr)
    if address is None or not trusted or not forwarded_for:
        return address
    hops = forwarded_for.split(",")
    while hops and _is_trusted(address, trusted):
        hop = _hop(hops.pop())
        if hop is None:
            return None
        address = hop
    return address


# -- what a request gets ---------------------------------------------------------


class LookupStatus(enum.Enum):
    """Why a :class:`P0fLookup` holds the answer it holds."""

    ANSWERED = "answered"
    """p0f answered; ``answer`` is what it knows."""
    NO_DATA = "no data"
    """p0f has no data on the address (still none after the settle time)."""
    NO_ADDRESS = "no address"
    """The client's address is unknown (a Unix socket peer, a garbled
    ``X-Forwarded-For`` from a trusted proxy); nothing was asked."""
    UNAVAILABLE = "unavailable"
    """p0f could not be asked, or failed (logged to ``p0f.web``); lookups
    pause for a while."""
    DISABLED = "disabled"
    """Nothing was asked: lookups are switched off (Django's
    ``P0F_ENABLED = False``), or the middleware did not see the request."""


@attrs.frozen(kw_only=True)
class P0fLookup:
    """What a middleware found out about one request's client.

    ``answer`` is p0f's answer (also in ``request.p0f``, ``environ["p0f"]``
    or ``scope["state"]["p0f"]``), or ``None``; ``address`` is the address
    that was looked up: the peer's, or the client's named by a trusted
    proxy; ``status`` says why ``answer`` is what it is; ``cached`` whether
    it came from the middleware's cache rather than from p0f just now.
    """

    answer: P0fResponse | None
    address: IPAddress | None
    status: LookupStatus
    cached: bool = False
    user_agent: UserAgentCheck | None = None
    """This request's own User-Agent against ``answer``
    (:func:`p0f.check_user_agent`: p0f's ``bad_sw`` check, done here so that
    it works behind TLS), made for every request even when ``answer`` came
    from the cache (``unknown`` when p0f had no answer); ``None`` when the
    check is switched off, or lookups are (``DISABLED``)."""


def with_user_agent(
    found: P0fLookup, rules: UaOsRules | None, user_agent: str | None
) -> P0fLookup:
    """``found`` with the request's User-Agent check; as is when ``rules``
    is ``None`` (the check is off) or lookups are switched off."""
    if rules is None:
        return found
    # A lookup served from the cache or while p0f is down is one object
    # shared by those requests, the rules are fixed, and a visitor sends
    # the same User-Agent each time: so the checked lookup is made once
    # per lookup and User-Agent (not kept for a long header: memory), and
    # looked for first, since that is what most requests find.  (A fresh
    # lookup, "no data" included, is its request's own: never found
    # again, so not kept.)  The rules are not in the key, only checked:
    # a process has one set per ua_os file, and usually one file.
    key = (id(found), user_agent)
    held = _checked.get(key)
    if held is not None and held[0] is found and held[1] is rules:
        return held[2]
    status = found.status
    if status is LookupStatus.DISABLED:
        return found
    checked = P0fLookup(
        answer=found.answer,
        address=found.address,
        status=status,
        cached=found.cached,
        user_agent=check_user_agent(user_agent, found.answer, rules=rules),
    )
    shared = found.cached or status is _UNAVAILABLE or status is _NO_ADDRESS_STATUS
    if shared and (user_agent is None or len(user_agent) <= _MEMO_USER_AGENT):
        _remember(_checked, key, (found, rules, checked))
    return checked


# Lookups made once, found by the identity of what they are made from,
# since hashing an address or a record runs Python code (ipaddress, attrs)
# and these are looked up on every request.  Each value holds the objects
# whose ids make its key, so no id is reused while its entry is here.
_MEMO_SIZE: Final = 4096
_MEMO_USER_AGENT: Final = 512
_UNAVAILABLE: Final = LookupStatus.UNAVAILABLE
_NO_ADDRESS_STATUS: Final = LookupStatus.NO_ADDRESS
_checked: Final[
    OrderedDict[tuple[int, str | None], tuple[P0fLookup, UaOsRules, P0fLookup]]
] = OrderedDict()
_unavailable_memo: Final[OrderedDict[int, tuple[IPAddress, P0fLookup]]] = OrderedDict()
_memo_lock = threading.Lock()


def _new_memo_lock() -> None:
    # A fork while another thread held the lock would leave it held for
    # ever in the child.
    global _memo_lock
    _memo_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_memo_lock)

K = TypeVar("K")
V = TypeVar("V")


def _remember(memo: OrderedDict[K, V], key: K, value: V) -> None:
    with _memo_lock:
        if len(memo) >= _MEMO_SIZE:
            memo.popitem(last=False)  # the oldest: first in, first out
        memo[key] = value


_NO_ADDRESS: Final = P0fLookup(answer=None, address=None, status=LookupStatus.NO_ADDRESS)
_DISABLED: Final = P0fLookup(answer=None, address=None, status=LookupStatus.DISABLED)


def not_looked_up() -> P0fLookup:
    """What a request gets while lookups are switched off, or when the
    middleware did not run."""
    return _DISABLED


def _result(address: IPAddress, answer: Answer, *, cached: bool) -> P0fLookup:
    status = LookupStatus.NO_DATA if answer is None else LookupStatus.ANSWERED
    return P0fLookup(answer=answer, address=address, status=status, cached=cached)


def _unavailable(address: IPAddress) -> P0fLookup:
    # Made once per address: while p0f is down every request gets one, and
    # a P0fLookup is frozen, so requests can share it.
    held = _unavailable_memo.get(id(address))
    if held is not None and held[0] is address:
        return held[1]
    found = P0fLookup(answer=None, address=address, status=LookupStatus.UNAVAILABLE)
    _remember(_unavailable_memo, id(address), (address, found))
    return found


# -- the cache --------------------------------------------------------------


@attrs.frozen
class CacheEntry:
    """One cached answer: when it was asked, whether it was asked again for
    the HTTP fields already, and the :class:`P0fLookup` a request served
    from it gets (built once here, not per request)."""

    answer: P0fResponse | None
    asked_at: float
    expires_at: float
    """When the cache stops serving it (by the cache's timer)."""
    found: P0fLookup = attrs.field(eq=False, repr=False)
    rechecked: bool = False


class _Miss(enum.Enum):
    MISS = enum.auto()


MISS: Final = _Miss.MISS
"""What :meth:`AnswerCache.get` returns for an address it does not hold."""


_Expiring: TypeAlias = "deque[tuple[IPAddress, CacheEntry]]"


class AnswerCache:
    """Answers kept ``seconds`` per address, "no data" (``None``) only
    ``negative_seconds``; at most ``maxsize`` addresses, those expired
    making way first, then the least recently used; safe to share between
    threads.

    ``seconds=0`` keeps nothing; ``negative_seconds`` is never longer than
    ``seconds``.
    """

    # Not cachetools' TLRUCache, which this was until the cache was read on
    # every request: there a miss (every request while p0f is down) raised
    # and caught a KeyError, and a hit hashed the address (Python code in
    # ipaddress) four times and ran cachetools' timer context, all under
    # our lock, since its caches are not thread-safe.  Here a request's
    # read is one dict lookup and no lock when nothing is held, and a hit
    # takes the lock only to mark the entry used: 170 ns for a miss
    # (cachetools 570, 370 with a lock-free `in`), 600 ns for a hit
    # (cachetools 1.2 us), warm; benchmarks/README.md has the rows.
    #
    # Reads use dict.get without the lock: one dict operation, which
    # CPython keeps consistent while another thread changes the dict (and
    # an entry is never changed, only replaced).  Every change is made
    # under the lock.
    #
    # What has expired goes first, before any entry that still serves (a
    # "no data" entry, kept a second, need not be the least recently used
    # when it expires).  Each kind of entry is kept a fixed time, so each
    # expires in the order it was put: a queue per kind, oldest first,
    # finds them without a look at every entry.  Each put drops what has
    # expired from the queues' fronts, so a queue holds at most what was
    # put within one keeping time.

    def __init__(
        self,
        seconds: float = DEFAULT_CACHE_SECONDS,
        maxsize: int = DEFAULT_CACHE_SIZE,
        *,
        negative_seconds: float = DEFAULT_NEGATIVE_CACHE_SECONDS,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds: Final = seconds
        self.negative_seconds: Final = min(negative_seconds, seconds)
        self.maxsize: Final = maxsize
        self.timer: Final = timer
        self._lock = threading.Lock()
        # Least recently used first.
        self._entries: Final[OrderedDict[IPAddress, CacheEntry]] = OrderedDict()
        # In the order they were put: answers, then "no data" entries.
        self._queues: Final[tuple[_Expiring, _Expiring]] = (deque(), deque())

    def entry(self, address: IPAddress) -> CacheEntry | None:
        """What is held for ``address``, with when it was asked."""
        entry = self._entries.get(address)
        return None if entry is None else self._used(address, entry)

    def _used(self, address: IPAddress, entry: CacheEntry) -> CacheEntry | None:
        # ``entry``, just read for ``address``, if it has not expired; it
        # becomes the most recently used.
        if self.timer() >= entry.expires_at:
            with self._lock:
                if self._entries.get(address) is entry:  # not replaced since
                    del self._entries[address]
            return None
        with self._lock:
            try:
                self._entries.move_to_end(address)
            except KeyError:  # evicted since
                pass
        return entry

    def get(self, address: IPAddress) -> Answer | _Miss:
        """The answer held for ``address``, or :data:`MISS`."""
        entry = self.entry(address)
        return MISS if entry is None else entry.answer

    def put(self, address: IPAddress, answer: Answer, *, rechecked: bool = False) -> None:
        """Hold ``answer`` for ``address`` from now on."""
        keep = self.seconds if answer is not None else self.negative_seconds
        if keep <= 0:
            return
        found = _result(address, answer, cached=True)
        with self._lock:
            now = self.timer()
            entries = self._entries
            entries.pop(address, None)
            self._drop_expired(now)
            while len(entries) >= self.maxsize:
                entries.popitem(last=False)  # the least recently used
            entry = CacheEntry(answer, now, now + keep, found, rechecked)
            entries[address] = entry
            self._queues[answer is None].append((address, entry))

    def put_rechecked(self, address: IPAddress, entry: CacheEntry) -> None:
        """Mark ``entry``, held for ``address``, as asked again: it keeps its
        answer and its times (unless it was replaced or dropped since)."""
        with self._lock:
            if self._entries.get(address) is entry:
                # Assigned to its key, it keeps its place in the order of use;
                # its queue still holds the old entry, with the same time.
                self._entries[address] = attrs.evolve(entry, rechecked=True)

    def _drop_expired(self, now: float) -> None:
        # Under the lock.  A queued entry since replaced by a later one,
        # evicted or found expired is no longer in the dictionary: only the
        # queue forgets it.  (One marked rechecked is a copy with the same
        # expiry, so it is the one held that has expired.)
        entries = self._entries
        for queue in self._queues:
            while queue and now >= queue[0][1].expires_at:
                address, _ = queue.popleft()
                held = entries.get(address)
                if held is not None and now >= held.expires_at:
                    del entries[address]

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._entries.clear()
            for queue in self._queues:
                queue.clear()

    def __len__(self) -> int:
        """How many addresses are held and not expired (those are dropped)."""
        with self._lock:
            self._drop_expired(self.timer())
            return len(self._entries)


# -- the back-off -------------------------------------------------------------


class Backoff:
    """When to skip asking a daemon that failed; safe to share between threads.

    Closed (ask freely) until a failure; then open for ``initial`` seconds,
    during which :meth:`allow` says no.  When the pause is over, one caller
    is let through to try; the others keep skipping until it reports (or
    until another pause has gone by, in case it never does).  Its failure
    doubles the pause, up to ``maximum``; any success closes it again.
    """

    def __init__(
        self,
        initial: float = DEFAULT_BACKOFF,
        maximum: float = DEFAULT_MAX_BACKOFF,
        *,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.initial: Final = initial
        self.maximum: Final = maximum
        self._timer = timer
        self._lock = threading.Lock()
        self._delay = initial
        self._retry_at: float | None = None  # None: closed
        self._probing = False
        self._down_since: float | None = None

    def is_open(self) -> bool:
        """Whether the daemon is considered down (lookups paused or probing)."""
        return self._retry_at is not None

    def allow(self) -> bool:
        """Whether the caller may ask the daemon now."""
        # Asked on every request: the answer while closed or paused needs no
        # lock, since each reads one attribute that is replaced whole; a
        # read racing a change is the answer of a moment earlier.
        retry_at = self._retry_at
        if retry_at is None:
            return True
        if self._timer() < retry_at:
            return False
        with self._lock:
            if self._retry_at is None:
                return True
            now = self._timer()
            if now < self._retry_at:
                return False
            self._retry_at = now + self._delay
            self._probing = True
            return True

    def failure(self) -> float | None:
        """Record a failed call; the new pause, or ``None`` if unchanged.

        A failure while already paused that is not the probe's (a call that
        started before the first failure) changes nothing.
        """
        with self._lock:
            now = self._timer()
            if self._retry_at is None:
                self._delay = self.initial
                self._down_since = now
            elif self._probing:
                self._delay = min(self._delay * 2, self.maximum)
            else:
                return None
            self._probing = False
            self._retry_at = now + self._delay
            return self._delay

    def success(self) -> float | None:
        """Record an answer: the daemon is up, ask freely again.

        Returns how long it had been down, or ``None`` if it was not.
        """
        with self._lock:
            down_since, self._down_since = self._down_since, None
            self._retry_at = None
            self._probing = False
            self._delay = self.initial
        return None if down_since is None else self._timer() - down_since


# -- one lookup ---------------------------------------------------------------


class SyncQuerier(Protocol):
    """What :meth:`Lookup.lookup` needs of a client (:class:`p0f.P0f` has it)."""

    def query(self, address: Address) -> P0fResponse: ...


class AsyncQuerier(Protocol):
    """What :meth:`Lookup.alookup` needs of a client (``p0f.AsyncP0f`` has it)."""

    async def query(self, address: Address) -> P0fResponse: ...


class _Ask(enum.Enum):
    ASK = enum.auto()


_ASK: Final = _Ask.ASK
# A lookup's plan yields _ASK (send back the answer, None for "no data", or
# the exception) or seconds to sleep (send back None); see Lookup._plan.
_Step: TypeAlias = "_Ask | float"
_Outcome: TypeAlias = "P0fResponse | None | Exception"


def has_http(answer: P0fResponse) -> bool:
    """Whether p0f had seen an HTTP request from the host when it answered."""
    return answer.http_name is not None


def describe_failure(exc: BaseException, socket_path: str | None = None) -> str:
    """What went wrong, in words: no ``[Errno N]``, and "nobody is
    listening" or "permission denied" where the operating system's words
    would leave the reader guessing.  (The client already says "not a
    socket" for a file or a directory.)"""
    text = str(exc)
    if isinstance(exc, OSError) and exc.strerror and text.startswith("[Errno"):
        text = exc.strerror  # an OSError built the operating system's way
    if socket_path is None or not isinstance(exc, P0fConnectError):
        return text
    code = exc.errno
    if code == errno.ENOENT:
        return f"there is no socket at {socket_path} (is p0f running, with -s {socket_path}?)"
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"permission denied connecting to {socket_path} "
            "(p0f's socket must be writable by this process)"
        )
    if code == errno.ECONNREFUSED:
        try:
            mode = os.stat(socket_path).st_mode
        except OSError:
            return text
        if stat.S_ISSOCK(mode):
            return f"nobody is listening on {socket_path} (p0f stopped?)"
    return text


class Lookup:
    """Cache, back-off and the query: what a middleware does per request.

    :meth:`lookup` and :meth:`alookup` never raise for the daemon's sake: no
    data, a daemon that cannot be reached or answers wrongly all come back
    as an answer of ``None``; failures are logged to ``p0f.web`` and pause
    lookups, and the end of an outage is logged once.

    When p0f has no data on an address, it is asked again on the
    :func:`settle_schedule` of ``settle`` seconds: p0f records a new
    connection a few milliseconds after it opened, often after the
    application asks.  A cached answer without HTTP fields is asked again
    once, when a request comes at least ``http_recheck`` seconds after it
    was asked, by which time p0f has seen the HTTP request sent with it
    (unless the site is served over TLS, which p0f cannot read).
    """

    def __init__(
        self,
        cache: AnswerCache | None = None,
        backoff: Backoff | None = None,
        *,
        settle: float = DEFAULT_SETTLE_SECONDS,
        http_recheck: float | None = None,
        socket_path: str | None = None,
        log: logging.Logger = logger,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache: Final = AnswerCache() if cache is None else cache
        self.backoff: Final = Backoff() if backoff is None else backoff
        self.settle: Final = settle
        self.http_recheck: Final = (
            max(settle, DEFAULT_SETTLE_SECONDS) if http_recheck is None else http_recheck
        )
        self.socket_path = socket_path
        self._schedule: Final = settle_schedule(settle)
        self._log = log
        self._sleep = sleep

    def known(
        self, address: IPAddress | None, rules: UaOsRules | None, user_agent: str | None
    ) -> P0fLookup | None:
        """What a request from ``address`` gets in the usual cases, checked
        against its ``user_agent`` by ``rules`` as :func:`with_user_agent`
        does: a cached answer, "unavailable" while lookups pause, or no
        address.  ``None`` otherwise (p0f may have to be asked): then
        :meth:`lookup` (or :meth:`alookup`) and :func:`with_user_agent`
        give it.

        The middleware's fast path, run first on every request.  It never
        asks p0f, nor changes the back-off.
        """
        # What most requests get (a cached answer; "unavailable" while p0f
        # is down; no address), made without the calls the full path makes:
        # measured in the Django middleware's row, each Python call on this
        # path costs about 0.3 % of a trivial view's time, and the full
        # path makes seven.  So the cache, the back-off and the memos are
        # read here directly, for the common states only; anything else is
        # left to the full path (the HTTP recheck, an expired entry, the
        # back-off's probe, a first request).  tests/test_web.py checks
        # that the two give the same lookups.
        if address is None:
            found = _NO_ADDRESS
        elif (entry := self.cache.entry(address)) is not None:
            if not self._serves(entry):
                return None
            found = entry.found
        else:
            # Backoff.allow's lock-free answer while paused, without the call.
            backoff = self.backoff
            retry_at = backoff._retry_at
            if retry_at is None or backoff._timer() >= retry_at:
                return None
            unavailable = _unavailable_memo.get(id(address))
            if unavailable is None or unavailable[0] is not address:
                return None
            found = unavailable[1]
        return with_user_agent(found, rules, user_agent)  # its memo, first

    def _without_asking(self, address: IPAddress) -> P0fLookup | CacheEntry | None:
        # What a request gets when p0f need not (or must not) be asked: a
        # cached answer, or "unavailable" while lookups pause.  Otherwise
        # the entry to fall back on (or None), for _plan.  It builds
        # nothing: the cache entry holds its lookup, and "unavailable" ones
        # are made once per address.  (The middleware ask known() first,
        # which answers the common cases of this without the calls.)
        entry = self.cache.entry(address)
        if entry is not None and self._serves(entry):
            return entry.found
        if not self.backoff.allow():
            # p0f is down: the answer held, if any, will do.
            return _unavailable(address) if entry is None else entry.found
        return entry

    def _serves(self, entry: CacheEntry) -> bool:
        # Whether a cached answer does as it is: not when it has no HTTP
        # fields yet and is old enough for p0f to have them (asked once).
        answer = entry.answer
        return (
            answer is None
            or has_http(answer)
            or entry.rechecked
            or self.cache.timer() - entry.asked_at < self.http_recheck
        )

    def _plan(
        self, address: IPAddress, entry: CacheEntry | None
    ) -> Generator[_Step, _Outcome, P0fLookup]:
        # The one asking logic, for the sync and the async driver alike,
        # once _without_asking has said p0f is to be asked.
        timer = self.cache.timer
        outcome = yield _ASK
        if outcome is None and entry is not None:
            # The HTTP recheck of a held answer, and p0f has no data now: it
            # has forgotten the host (restarted, or made room in its host
            # table).  Settling is for connections p0f has not recorded
            # yet, and "no data" would throw away what it said before:
            # the answer held stands until it expires, not asked again.
            self._answered()
            self.cache.put_rechecked(address, entry)
            return entry.found
        start = timer()
        for offset in self._schedule:
            if outcome is not None:
                break
            delay = offset - (timer() - start)
            if delay > 0:
                yield delay
            outcome = yield _ASK
        if isinstance(outcome, Exception):
            self._failed(address, outcome)
            return _unavailable(address) if entry is None else entry.found
        self._answered()
        self.cache.put(address, outcome, rechecked=entry is not None)
        return _result(address, outcome, cached=False)

    def _answered(self) -> None:
        down_for = self.backoff.success()
        if down_for is not None:
            self._log.warning("p0f answers again, after %.1f s of failed lookups", down_for)

    def lookup(self, client: SyncQuerier, address: IPAddress | None) -> P0fLookup:
        """What p0f knows about ``address``, asked with a blocking client."""
        if address is None:
            return _NO_ADDRESS
        known = self._without_asking(address)
        if isinstance(known, P0fLookup):
            return known
        plan = self._plan(address, known)
        try:
            step = next(plan)
            while True:
                if step is _ASK:
                    outcome: _Outcome
                    try:
                        outcome = client.query(address)
                    except NoMatchError:
                        outcome = None
                    except Exception as exc:
                        outcome = exc
                    step = plan.send(outcome)
                else:
                    self._sleep(step)
                    step = plan.send(None)
        except StopIteration as done:
            result: P0fLookup = done.value
            return result

    async def alookup(self, client: AsyncQuerier, address: IPAddress | None) -> P0fLookup:
        """What p0f knows about ``address``, asked with an async client."""
        if address is None:
            return _NO_ADDRESS
        known = self._without_asking(address)
        if isinstance(known, P0fLookup):
            return known
        plan = self._plan(address, known)
        try:
            step = next(plan)
            while True:
                if step is _ASK:
                    outcome: _Outcome
                    try:
                        outcome = await client.query(address)
                    except NoMatchError:
                        outcome = None
                    except Exception as exc:
                        outcome = exc
                    step = plan.send(outcome)
                else:
                    await asyncio.sleep(step)
                    step = plan.send(None)
        except StopIteration as done:
            result: P0fLookup = done.value
            return result

    def _failed(self, address: IPAddress, exc: Exception) -> None:
        pause = self.backoff.failure()
        if not isinstance(exc, P0fError):
            # Not one of the client's documented failures: a bug somewhere,
            # still no reason to fail the request.
            self._log.error(
                "p0f lookup of %s failed unexpectedly", address, exc_info=exc
            )
        elif pause is not None:
            self._log.warning(
                "p0f lookup of %s failed: %s; skipping lookups for %g s",
                address,
                describe_failure(exc, self.socket_path),
                pause,
            )
        else:
            self._log.debug(
                "p0f lookup of %s failed too: %s", address, describe_failure(exc, self.socket_path)
            )


class MiddlewareSettings:
    """What the ASGI and WSGI middleware make of their keyword arguments,
    checked at once (:class:`TypeError` for what is not a number,
    :class:`ValueError` for a value out of range)."""

    def __init__(
        self,
        *,
        socket_path: str | os.PathLike[str],
        timeout: float,
        cache_seconds: float,
        cache_size: int,
        negative_cache_seconds: float,
        settle_seconds: float,
        trusted_proxies: Iterable[str | IPAddress | Network] | None,
        backoff: float,
        max_backoff: float,
        idle_timeout: float | None,
        user_agent_check: bool = True,
        ua_os_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.trusted_proxies: Final = parse_trusted_proxies(trusted_proxies)
        #: The ``ua_os`` rules (read once per process and file), or ``None``
        #: when the User-Agent check is off.
        self.ua_rules: Final = load_ua_os(ua_os_file) if user_agent_check else None
        self.lookup: Final[Lookup] = build_lookup(
            cache_seconds=cache_seconds,
            cache_size=cache_size,
            negative_cache_seconds=negative_cache_seconds,
            settle_seconds=settle_seconds,
            backoff=backoff,
            max_backoff=max_backoff,
            socket_path=socket_path,
        )
        self.timeout: Final = check_timeout(timeout)
        self.idle_timeout: Final = check_idle_timeout(idle_timeout)


def build_lookup(
    *,
    cache_seconds: object = DEFAULT_CACHE_SECONDS,
    cache_size: object = DEFAULT_CACHE_SIZE,
    negative_cache_seconds: object = DEFAULT_NEGATIVE_CACHE_SECONDS,
    settle_seconds: object = DEFAULT_SETTLE_SECONDS,
    backoff: object = DEFAULT_BACKOFF,
    max_backoff: object = DEFAULT_MAX_BACKOFF,
    socket_path: str | os.PathLike[str] | None = None,
) -> Lookup:
    """A :class:`Lookup` from settings, checked; :class:`TypeError` or
    :class:`ValueError` if bad."""
    seconds, size = check_cache(cache_seconds, cache_size)
    negative = check_negative_cache(negative_cache_seconds)
    settle = check_settle(settle_seconds)
    first, longest = check_backoff(backoff, max_backoff)
    return Lookup(
        AnswerCache(seconds, size, negative_seconds=negative),
        Backoff(first, longest),
        settle=settle,
        socket_path=None if socket_path is None else os.fspath(socket_path),
    )


# -- one async client per event loop ------------------------------------------

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One object per event loop, made on first use by ``factory``.

    An asyncio client belongs to the loop it first ran in, and a process may
    run several loops (a test runner, one per test).  Entries of loops that
    have closed are dropped at the next :meth:`get`.  (A weak mapping would
    not do: the client refers to its loop, which would keep it alive.)
    """

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._items: dict[asyncio.AbstractEventLoop, T] = {}

    def get(self) -> T:
        """The running loop's object (call from a coroutine)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            item = self._items.get(loop)
            if item is None:
                for closed in [key for key in self._items if key.is_closed()]:
                    del self._items[closed]
                item = self._items[loop] = self._factory()
            return item

    def pop(self) -> T | None:
        """Remove and return the running loop's object, if any."""
        loop = asyncio.get_running_loop()
        with self._lock:
            return self._items.pop(loop, None)

    def pop_all(self) -> list[tuple[asyncio.AbstractEventLoop, T]]:
        """Remove and return every loop's object, with its loop."""
        with self._lock:
            items = list(self._items.items())
            self._items.clear()
            return items
