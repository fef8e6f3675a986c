"""The middleware: ``request.p0f`` for every request.

Add ``"p0f.django.middleware.P0fMiddleware"`` to ``MIDDLEWARE`` (before
anything that reads ``request.p0f``).  It works in sync (WSGI) and async
(ASGI) stacks alike.

``request.p0f`` is a :class:`p0f.P0fResponse`, or ``None`` when p0f has no
data on the client, the client's address is unknown, ``P0F_ENABLED`` is
false, or the daemon cannot be reached or answers wrongly.  Failures are
logged to the ``p0f.web`` logger and never reach the view.
``request.p0f_lookup`` is a :class:`P0fLookup`: the answer again, the
address that was looked up (the client's behind trusted proxies, not
``REMOTE_ADDR``) and why the answer is what it is.

Each process keeps one blocking client (:class:`p0f.P0f`, shared by all
threads) and, in async stacks, one :class:`p0f.AsyncP0f` per event loop;
their connection to p0f is given back as soon as nothing is owed on it
(``P0F_IDLE_TIMEOUT = 0``), since p0f serves only a few connections at once;
answers are cached per address (``P0F_CACHE_SECONDS``, "no data" for
``P0F_NEGATIVE_CACHE_SECONDS``); a new visitor p0f has not recorded yet is
asked about again for up to ``P0F_SETTLE_SECONDS``; after a failure,
lookups pause (``P0F_BACKOFF``, doubling up to ``P0F_MAX_BACKOFF``) so that
requests do not each wait on a dead daemon.  Settings are read at the first
request, and again after any ``P0F*`` setting changes (``override_settings``
and pytest-django's ``settings`` fixture announce that); see
:mod:`p0f.django.conf`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Final

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from .._async import AsyncP0f
from .._models import P0fResponse
from .._sync import P0f
from .._useragent import UaOsError, load_ua_os
from .._web import (
    IPAddress,
    Lookup,
    LookupStatus,
    Network,
    P0fLookup,
    PerLoop,
    build_lookup,
    client_address,
    peer_address,
    not_looked_up,
    with_user_agent,
)
from .conf import conf

__all__ = [
    "LookupStatus",
    "P0fHttpRequest",
    "P0fLookup",
    "P0fMiddleware",
    "aclose",
    "get_lookup",
    "get_p0f",
    "reset",
]


class P0fHttpRequest(HttpRequest):
    """A request the middleware has seen; annotate views with it.

    .. typecheck-context:
       from django.http import HttpResponse
       from p0f.django.middleware import P0fHttpRequest

    ::

        from django.http import HttpResponse

        from p0f.django.middleware import P0fHttpRequest


        def view(request: P0fHttpRequest) -> HttpResponse:
            os_name = request.p0f.os_name if request.p0f else None
            return HttpResponse(f"{request.p0f_lookup.address}: {os_name}")
    """

    p0f: P0fResponse | None
    p0f_lookup: P0fLookup


def get_p0f(request: HttpRequest) -> P0fResponse | None:
    """``request.p0f``, typed; ``None`` also if the middleware did not run."""
    answer = getattr(request, "p0f", None)
    return answer if isinstance(answer, P0fResponse) else None


def get_lookup(request: HttpRequest) -> P0fLookup:
    """``request.p0f_lookup``, typed; when the middleware did not run, a
    lookup with no answer, no address and :attr:`LookupStatus.DISABLED`."""
    found = getattr(request, "p0f_lookup", None)
    return found if isinstance(found, P0fLookup) else not_looked_up()


class _Runtime:
    """What one set of settings makes: the clients, the cache, the back-off."""

    def __init__(self) -> None:
        self.enabled: Final = conf.P0F_ENABLED
        self.trusted: Final[tuple[Network, ...]] = conf.P0F_TRUSTED_PROXIES
        try:
            # Read once per process and file; None turns the check off.
            self.ua_rules: Final = (
                load_ua_os(conf.P0F_UA_OS_FILE) if conf.P0F_USER_AGENT_CHECK else None
            )
        except (OSError, UaOsError) as exc:
            raise ImproperlyConfigured(f"P0F_UA_OS_FILE: {exc}") from exc
        socket_path = conf.P0F_SOCKET
        self.lookup: Final[Lookup] = build_lookup(
            cache_seconds=conf.P0F_CACHE_SECONDS,
            cache_size=conf.P0F_CACHE_SIZE,
            negative_cache_seconds=conf.P0F_NEGATIVE_CACHE_SECONDS,
            settle_seconds=conf.P0F_SETTLE_SECONDS,
            backoff=conf.P0F_BACKOFF,
            max_backoff=conf.P0F_MAX_BACKOFF,
            socket_path=socket_path,
        )
        timeout = conf.P0F_TIMEOUT
        idle = conf.P0F_IDLE_TIMEOUT
        if socket_path is None:
            if self.enabled:
                raise ImproperlyConfigured(
                    "P0F_SOCKET (or P0FSOCKET) is not set; set P0F_ENABLED = False "
                    "to run without p0f"
                )
            socket_path = "unused"  # never connected to while disabled
        self.client: Final = P0f(socket_path, timeout=timeout, idle_timeout=idle)
        self.async_clients: Final = PerLoop(
            lambda: AsyncP0f(socket_path, timeout=timeout, idle_timeout=idle)
        )

    def address(self, request: HttpRequest) -> IPAddress | None:
        meta = request.META
        if not self.trusted:  # client_address's answer, by the shortest way
            return peer_address(meta.get("REMOTE_ADDR"))
        return client_address(
            meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), self.trusted
        )

    def close(self) -> None:
        self.client.close()
        for loop, client in self.async_clients.pop_all():
            if loop.is_running():
                # Best effort: the connection belongs to that loop.
                asyncio.run_coroutine_threadsafe(client.aclose(), loop)


_lock: Final = threading.Lock()
_runtime: _Runtime | None = None


def _get_runtime() -> _Runtime:
    global _runtime
    runtime = _runtime
    if runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = _Runtime()
            runtime = _runtime
    return runtime


def reset() -> None:
    """Close the shared clients and forget cached answers and the back-off.

    The next request reads the settings again.  Runs by itself whenever a
    ``P0F*`` setting changes.
    """
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
    if runtime is not None:
        runtime.close()


async def aclose() -> None:
    """Close the running event loop's async client, e.g. before the loop ends.

    An async test that sent requests through the middleware calls this so
    that no connection outlives its loop.  The next request reconnects.
    """
    runtime = _runtime
    if runtime is not None:
        client = runtime.async_clients.pop()
        if client is not None:
            await client.aclose()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("P0F"):
        reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="p0f.django.middleware")


def _annotate(request: HttpRequest, found: P0fLookup) -> None:
    # setattr, not a cast to P0fHttpRequest: typing.cast is a function
    # call at run time, on every request.
    setattr(request, "p0f", found.answer)
    setattr(request, "p0f_lookup", found)


class P0fMiddleware:
    """Sets ``request.p0f`` and ``request.p0f_lookup``; sync and async capable."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: (
            Callable[[HttpRequest], HttpResponseBase]
            | Callable[[HttpRequest], Awaitable[HttpResponseBase]]
        ),
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            # Django then awaits __call__; the switch itself is in __call__,
            # so that no dunder method is swapped on the instance.
            markcoroutinefunction(self)

    def __call__(
        self, request: HttpRequest
    ) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.async_mode:
            return self.__acall__(request)
        runtime = _runtime or _get_runtime()  # no call once made
        if runtime.enabled:
            # The User-Agent check is this request's own, even for a cached answer.
            user_agent = request.META.get("HTTP_USER_AGENT")
            address = runtime.address(request)
            lookup = runtime.lookup
            found = lookup.known(address, runtime.ua_rules, user_agent)
            if found is None:
                found = with_user_agent(
                    lookup.lookup(runtime.client, address), runtime.ua_rules, user_agent
                )
        else:
            found = not_looked_up()
        _annotate(request, found)
        # A sync middleware's get_response is sync, and __call__ returns
        # what it returns: no isinstance check needed to type it.
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        runtime = _runtime or _get_runtime()
        found = not_looked_up()
        if runtime.enabled:
            user_agent = request.META.get("HTTP_USER_AGENT")
            address = runtime.address(request)
            lookup = runtime.lookup
            known = lookup.known(address, runtime.ua_rules, user_agent)
            if known is None:
                asked = await lookup.alookup(runtime.async_clients.get(), address)
                known = with_user_agent(asked, runtime.ua_rules, user_agent)
            found = known
        _annotate(request, found)
        result = self.get_response(request)
        assert not isinstance(result, HttpResponseBase)
        return await result
