"""What the Django, ASGI and WSGI middleware share; no web framework in here.

Each middleware does the same four things per request, with these helpers:

1. find the client's address: :func:`client_address`, from the peer address
   and ``X-Forwarded-For``, trusting the header only as far as
   :func:`parse_trusted_proxies` says;
2. look in a short-lived cache of answers: :class:`AnswerCache`;
3. skip asking while the daemon is known to be down: :class:`Backoff`;
4. ask, and turn every failure into ``None`` plus a log line: :class:`Lookup`,
   which runs steps 2 to 4 with a sync or an async client.

:class:`PerLoop` keeps one async client per event loop, since an async
client belongs to the loop it was first used in.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final, Generic, Protocol, TypeAlias, TypeVar

from cachetools import TTLCache

from ._codec import Address, normalize_address
from ._errors import InvalidAddressError, NoMatchError, P0fError
from ._models import P0fResponse

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
DEFAULT_CACHE_SIZE: Final = 10_000
"""At most this many addresses are cached; the least recently used make way."""
DEFAULT_BACKOFF: Final = 1.0
"""Seconds lookups are skipped after the daemon first fails."""
DEFAULT_MAX_BACKOFF: Final = 30.0
"""The longest pause: each failed retry doubles the pause up to this."""

logger: Final = logging.getLogger("p0f.web")


# -- settings checks ------------------------------------------------------


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def check_timeout(value: object) -> float:
    """``value`` as a timeout in seconds, or :class:`ValueError` saying why not."""
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
def _peer(text: str | None) -> IPAddress | None:
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
    return _peer(text)


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
    address = _peer(remote_addr)
    if address is None or not trusted or not forwarded_for:
        return address
    hops = forwarded_for.split(",")
    while hops and _is_trusted(address, trusted):
        hop = _hop(hops.pop())
        if hop is None:
            return None
        address = hop
    return address


# -- the cache --------------------------------------------------------------


class _Miss(enum.Enum):
    MISS = enum.auto()


MISS: Final = _Miss.MISS
"""What :meth:`AnswerCache.get` returns for an address it does not hold."""


class AnswerCache:
    """Answers (``None`` for "no data" too) kept ``seconds`` per address.

    Safe to share between threads; ``seconds=0`` keeps nothing.
    """

    def __init__(
        self,
        seconds: float = DEFAULT_CACHE_SECONDS,
        maxsize: int = DEFAULT_CACHE_SIZE,
        *,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds: Final = seconds
        self._lock = threading.Lock()  # TTLCache is not thread-safe
        self._cache: TTLCache[IPAddress, Answer] | None = (
            TTLCache(maxsize=maxsize, ttl=seconds, timer=timer) if seconds > 0 else None
        )

    def get(self, address: IPAddress) -> Answer | _Miss:
        """The answer held for ``address``, or :data:`MISS`."""
        if self._cache is None:
            return MISS
        with self._lock:
            return self._cache.get(address, MISS)

    def put(self, address: IPAddress, answer: Answer) -> None:
        """Hold ``answer`` for ``address`` from now on."""
        if self._cache is not None:
            with self._lock:
                self._cache[address] = answer

    def clear(self) -> None:
        """Forget every answer."""
        if self._cache is not None:
            with self._lock:
                self._cache.clear()

    def __len__(self) -> int:
        if self._cache is None:
            return 0
        with self._lock:
            self._cache.expire()
            return len(self._cache)


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

    def is_open(self) -> bool:
        """Whether the daemon is considered down (lookups paused or probing)."""
        return self._retry_at is not None

    def allow(self) -> bool:
        """Whether the caller may ask the daemon now."""
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
            elif self._probing:
                self._delay = min(self._delay * 2, self.maximum)
            else:
                return None
            self._probing = False
            self._retry_at = now + self._delay
            return self._delay

    def success(self) -> None:
        """Record an answer: the daemon is up, ask freely again."""
        with self._lock:
            self._retry_at = None
            self._probing = False
            self._delay = self.initial


# -- one lookup ---------------------------------------------------------------


class SyncQuerier(Protocol):
    """What :meth:`Lookup.lookup` needs of a client (:class:`p0f.P0f` has it)."""

    def query(self, address: Address) -> P0fResponse: ...


class AsyncQuerier(Protocol):
    """What :meth:`Lookup.alookup` needs of a client (``p0f.AsyncP0f`` has it)."""

    async def query(self, address: Address) -> P0fResponse: ...


class Lookup:
    """Cache, back-off and the query: what a middleware does per request.

    :meth:`lookup` and :meth:`alookup` never raise for the daemon's sake: no
    data, a daemon that cannot be reached or answers wrongly all come back
    as ``None``; failures are logged to ``p0f.web`` and pause lookups.
    """

    def __init__(
        self,
        cache: AnswerCache | None = None,
        backoff: Backoff | None = None,
        *,
        log: logging.Logger = logger,
    ) -> None:
        self.cache: Final = AnswerCache() if cache is None else cache
        self.backoff: Final = Backoff() if backoff is None else backoff
        self._log = log

    def _known(self, address: IPAddress) -> Answer | _Miss:
        # What can be said without asking: a cached answer, or None while
        # the daemon is known to be down; MISS when it must be asked.
        hit = self.cache.get(address)
        if hit is not MISS:
            return hit
        return MISS if self.backoff.allow() else None

    def lookup(self, client: SyncQuerier, address: IPAddress | None) -> Answer:
        """What p0f knows about ``address``, asked with a blocking client."""
        if address is None:
            return None
        known = self._known(address)
        if known is not MISS:
            return known
        try:
            answer: Answer = client.query(address)
        except NoMatchError:
            answer = None
        except Exception as exc:
            self._failed(address, exc)
            return None
        return self._answered(address, answer)

    async def alookup(self, client: AsyncQuerier, address: IPAddress | None) -> Answer:
        """What p0f knows about ``address``, asked with an async client."""
        if address is None:
            return None
        known = self._known(address)
        if known is not MISS:
            return known
        try:
            answer: Answer = await client.query(address)
        except NoMatchError:
            answer = None
        except Exception as exc:
            self._failed(address, exc)
            return None
        return self._answered(address, answer)

    def _answered(self, address: IPAddress, answer: Answer) -> Answer:
        self.backoff.success()
        self.cache.put(address, answer)
        return answer

    def _failed(self, address: IPAddress, exc: Exception) -> None:
        pause = self.backoff.failure()
        if not isinstance(exc, P0fError):
            # Not one of the client's documented failures: a bug somewhere,
            # still no reason to fail the request.
            self._log.exception("p0f lookup of %s failed unexpectedly", address)
        elif pause is not None:
            self._log.warning(
                "p0f lookup of %s failed (%s: %s); skipping lookups for %g s",
                address,
                type(exc).__name__,
                exc,
                pause,
            )
        else:
            self._log.debug("p0f lookup of %s failed too: %s", address, exc)


class MiddlewareSettings:
    """What the ASGI and WSGI middleware make of their keyword arguments,
    checked at once (:class:`ValueError`)."""

    def __init__(
        self,
        *,
        timeout: float,
        cache_seconds: float,
        cache_size: int,
        trusted_proxies: Iterable[str | IPAddress | Network] | None,
        backoff: float,
        max_backoff: float,
    ) -> None:
        self.trusted_proxies: Final = parse_trusted_proxies(trusted_proxies)
        self.lookup: Final[Lookup] = build_lookup(
            cache_seconds=cache_seconds,
            cache_size=cache_size,
            backoff=backoff,
            max_backoff=max_backoff,
        )
        self.timeout: Final = check_timeout(timeout)


def build_lookup(
    *,
    cache_seconds: object = DEFAULT_CACHE_SECONDS,
    cache_size: object = DEFAULT_CACHE_SIZE,
    backoff: object = DEFAULT_BACKOFF,
    max_backoff: object = DEFAULT_MAX_BACKOFF,
) -> Lookup:
    """A :class:`Lookup` from settings, checked; :class:`ValueError` if bad."""
    seconds, size = check_cache(cache_seconds, cache_size)
    first, longest = check_backoff(backoff, max_backoff)
    return Lookup(AnswerCache(seconds, size), Backoff(first, longest))


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
