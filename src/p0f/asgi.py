"""ASGI middleware: what p0f knows about the client, in ``scope["state"]["p0f"]``.

.. typecheck-context:
   from p0f.asgi import ASGIApp
   app: ASGIApp

::

    from p0f.asgi import P0fMiddleware

    app = P0fMiddleware(app, "/var/run/p0f.sock")
    # Starlette: Starlette(middleware=[Middleware(P0fMiddleware, socket_path=...)])
    # FastAPI:   app.add_middleware(P0fMiddleware, socket_path=...)

    # in an endpoint: request.state.p0f, or p0f.asgi.get_p0f(request.scope)

It runs for HTTP and websocket connections.  The value is a
:class:`p0f.P0fResponse`, or ``None`` when p0f has no data, the client's
address is unknown, or the daemon cannot be reached (logged to ``p0f.web``,
never raised).  Lookups use :class:`p0f.AsyncP0f`, one per event loop (an
asyncio client belongs to its loop); answers are cached per address for
``cache_seconds``; after a failure, lookups pause for ``backoff`` seconds,
doubling up to ``max_backoff`` while the daemon stays down.  The client is
closed at lifespan shutdown, or by :meth:`P0fMiddleware.aclose`.

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
    DEFAULT_MAX_BACKOFF,
    DEFAULT_TIMEOUT,
    IPAddress,
    MiddlewareSettings,
    Network,
    PerLoop,
    client_address,
)

__all__ = ["STATE_KEY", "ASGIApp", "P0fMiddleware", "Receive", "Scope", "Send", "get_p0f"]

# The ASGI types, shaped as Starlette's (starlette.types) so either fits.
Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

STATE_KEY: Final = "p0f"
"""The key the answer is put under in ``scope["state"]``."""

_LOOKED_UP: Final = frozenset({"http", "websocket"})


def _forwarded_for(scope: Scope) -> str | None:
    # Header names are lower case in ASGI; several headers join with commas.
    values = [value for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"]
    return b",".join(values).decode("latin-1") if values else None


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


class P0fMiddleware(MiddlewareSettings):
    """Wraps an ASGI application; puts p0f's answer in ``scope["state"]["p0f"]``.

    Arguments are checked at once (:class:`ValueError`); nothing connects
    until the first request.
    """

    def __init__(
        self,
        app: ASGIApp,
        socket_path: str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        trusted_proxies: Iterable[str | IPAddress | Network] | None = None,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
    ) -> None:
        super().__init__(
            timeout=timeout,
            cache_seconds=cache_seconds,
            cache_size=cache_size,
            trusted_proxies=trusted_proxies,
            backoff=backoff,
            max_backoff=max_backoff,
        )
        self.app: Final = app
        seconds = self.timeout
        AsyncP0f(socket_path, timeout=seconds)  # check the path now, not per loop
        self._clients: Final = PerLoop(lambda: AsyncP0f(socket_path, timeout=seconds))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind in _LOOKED_UP:
            address = client_address(_peer(scope), _forwarded_for(scope), self.trusted_proxies)
            answer = await self.lookup.alookup(self._clients.get(), address)
            scope = dict(scope)  # a middleware copies the scope it changes
            state = scope.get("state")
            if state is None:
                state = scope["state"] = {}
            state[STATE_KEY] = answer
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
    """The answer :class:`P0fMiddleware` left in the scope, typed.

    ``None`` also when the middleware did not run.  With Starlette,
    ``get_p0f(request.scope)``.
    """
    state = scope.get("state")
    answer = state.get(STATE_KEY) if isinstance(state, Mapping) else None
    return answer if isinstance(answer, P0fResponse) else None
