"""ASGI middleware: what p0f knows about the client, in ``scope["state"]["p0f"]``.

.. typecheck-context:
   from p0f.asgi import ASGIApp
   app: ASGIApp

::

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from p0f.asgi import P0fMiddleware, get_lookup, get_p0f


    async def home(request: Request) -> PlainTextResponse:
        answer = get_p0f(request.scope)  # a P0fResponse, or None
        address = get_lookup(request.scope).address  # what was looked up
        return PlainTextResponse(f"{address}: {answer.os_name if answer else 'unknown'}")


    app = Starlette(
        routes=[Route("/", home)],
        middleware=[Middleware(P0fMiddleware, socket_path="/var/run/p0f.sock")],
    )
    # FastAPI: app.add_middleware(P0fMiddleware, socket_path="/var/run/p0f.sock")
    # Any ASGI app: app = P0fMiddleware(app, "/var/run/p0f.sock")

It runs for HTTP and websocket connections.  The answer is a
:class:`p0f.P0fResponse`, or ``None`` when p0f has no data, the client's
address is unknown, or the daemon cannot be reached (logged to ``p0f.web``,
never raised); ``scope["state"]["p0f_lookup"]`` holds a :class:`P0fLookup`:
the answer again, the address looked up and why the answer is what it is.
Lookups use :class:`p0f.AsyncP0f`, one per event loop (an asyncio client
belongs to its loop); answers are cached per address for ``cache_seconds``
("no data" for ``negative_cache_seconds``); a new visitor p0f has not
recorded yet is asked about again for up to ``settle_seconds``; after a
failure, lookups pause for ``backoff`` seconds, doubling up to
``max_backoff`` while the daemon stays down.  The client is closed at
lifespan shutdown, or by :meth:`P0fMiddleware.aclose`.

``X-Forwarded-For`` is read only from ``trusted_proxies`` (addresses or
networks such as ``["127.0.0.1", "10.0.0.0/8"]``); see
:func:`p0f._web.client_address` for how.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final, TypeAlias

from ._async import AsyncP0f
from ._models import P0fResponse
from ._web import (
    DEFAULT_BACKOFF,
    DEFAULT_CACHE_SECONDS,
    DEFAULT_CACHE_SIZE,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_NEGATIVE_CACHE_SECONDS,
    DEFAULT_SETTLE_SECONDS,
    DEFAULT_TIMEOUT,
    IPAddress,
    LookupStatus,
    MiddlewareSettings,
    Network,
    P0fLookup,
    PerLoop,
    client_address,
    with_user_agent,
    not_looked_up,
)

__all__ = [
    "LOOKUP_KEY",
    "STATE_KEY",
    "ASGIApp",
    "LookupStatus",
    "P0fLookup",
    "P0fMiddleware",
    "Receive",
    "Scope",
    "Send",
    "get_lookup",
    "get_p0f",
]

# The ASGI types, shaped as Starlette's (starlette.types) so either fits.
Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

STATE_KEY: Final = "p0f"
"""The key the answer is put under in ``scope["state"]``."""
LOOKUP_KEY: Final = "p0f_lookup"
"""The key the :class:`P0fLookup` is put under in ``scope["state"]``."""

_LOOKED_UP: Final = frozenset({"http", "websocket"})


def _forwarded_for(scope: Scope) -> str | None:
    # Header names are lower case in ASGI; several headers join with commas.
    values = [value for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"]
    return b",".join(values).decode("latin-1") if values else None


def _user_agent(scope: Scope) -> str | None:
    # The last User-Agent header (p0f keeps the last), its bytes as Latin-1.
    values = [value for name, value in scope.get("headers", ()) if name == b"user-agent"]
    return values[-1].decode("latin-1") if values else None


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


class P0fMiddleware(MiddlewareSettings):
    """Wraps an ASGI application; puts p0f's answer in ``scope["state"]["p0f"]``.

    Arguments are checked at once (:class:`TypeError` or :class:`ValueError`);
    nothing connects until the first request.  By default the connection to
    p0f is given back as soon as an answer is read (``idle_timeout=0``), so
    that a fleet of processes never holds p0f's few connection slots while
    idle; ``idle_timeout=None`` keeps it for the process's life.
    """

    def __init__(
        self,
        app: ASGIApp,
        socket_path: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        negative_cache_seconds: float = DEFAULT_NEGATIVE_CACHE_SECONDS,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
        trusted_proxies: Iterable[str | IPAddress | Network] | None = None,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        user_agent_check: bool = True,
        ua_os_file: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__(
            socket_path=socket_path,
            timeout=timeout,
            cache_seconds=cache_seconds,
            cache_size=cache_size,
            negative_cache_seconds=negative_cache_seconds,
            settle_seconds=settle_seconds,
            trusted_proxies=trusted_proxies,
            backoff=backoff,
            max_backoff=max_backoff,
            idle_timeout=idle_timeout,
            user_agent_check=user_agent_check,
            ua_os_file=ua_os_file,
        )
        self.app: Final = app
        seconds, idle = self.timeout, self.idle_timeout
        AsyncP0f(socket_path, timeout=seconds)  # check the path now, not per loop
        self._clients: Final = PerLoop(
            lambda: AsyncP0f(socket_path, timeout=seconds, idle_timeout=idle)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind in _LOOKED_UP:
            address = client_address(_peer(scope), _forwarded_for(scope), self.trusted_proxies)
            user_agent = _user_agent(scope)
            found = self.lookup.known(address, self.ua_rules, user_agent)
            if found is None:
                asked = await self.lookup.alookup(self._clients.get(), address)
                found = with_user_agent(asked, self.ua_rules, user_agent)
            scope = dict(scope)  # a middleware copies the scope it changes
            state = scope.get("state")
            if state is None:
                state = scope["state"] = {}
            state[STATE_KEY] = found.answer
            state[LOOKUP_KEY] = found
        elif kind == "lifespan":
            receive = self._lifespan(receive)
        await self.app(scope, receive, send)

    def _lifespan(self, receive: Receive) -> Receive:
        async def receive_then_close() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.aclose()
            return message

        return receive_then_close

    async def aclose(self) -> None:
        """Close the running event loop's client (a later request reopens it).

        Runs by itself at lifespan shutdown.
        """
        client = self._clients.pop()
        if client is not None:
            await client.aclose()


def get_p0f(scope: Mapping[str, Any]) -> P0fResponse | None:
    """The answer :class:`P0fMiddleware` left in the scope, typed: a
    :class:`p0f.P0fResponse` or ``None``.

    ``None`` also when the middleware did not run.  With Starlette,
    ``get_p0f(request.scope)``.
    """
    state = scope.get("state")
    answer = state.get(STATE_KEY) if isinstance(state, Mapping) else None
    return answer if isinstance(answer, P0fResponse) else None


def get_lookup(scope: Mapping[str, Any]) -> P0fLookup:
    """The :class:`P0fLookup` :class:`P0fMiddleware` left in the scope.

    When the middleware did not run: no answer, no address, and the status
    :attr:`LookupStatus.DISABLED`.  With Starlette, ``get_lookup(request.scope)``.
    """
    state = scope.get("state")
    found = state.get(LOOKUP_KEY) if isinstance(state, Mapping) else None
    return found if isinstance(found, P0fLookup) else not_looked_up()
