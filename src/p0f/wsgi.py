"""WSGI middleware: what p0f knows about the client, in ``environ["p0f"]``.

::

    from wsgiref.types import StartResponse, WSGIEnvironment
    from collections.abc import Iterable

    from p0f.wsgi import P0fMiddleware, get_lookup, get_p0f


    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer = get_p0f(environ)  # a P0fResponse, or None
        address = get_lookup(environ).address  # what was looked up
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{address}: {answer.os_name if answer else 'unknown'}".encode()]


    application = P0fMiddleware(app, "/var/run/p0f.sock")

A Flask application is a WSGI application: wrap it whole,
``application = P0fMiddleware(flask_app, ...)``, serve ``application``, and
read ``get_p0f(flask.request.environ)`` in views.

The answer is a :class:`p0f.P0fResponse`, or ``None`` when p0f has no data,
the client's address is unknown, or the daemon cannot be reached (logged to
``p0f.web``, never raised).  ``environ["p0f.lookup"]`` holds a
:class:`P0fLookup`: the answer again, the address looked up and why the
answer is what it is.  One blocking client serves every request and
thread; answers are cached per address for ``cache_seconds`` ("no data"
for ``negative_cache_seconds``); a new visitor p0f has not recorded yet is
asked about again for up to ``settle_seconds``; after a failure, lookups
pause for ``backoff`` seconds, doubling up to ``max_backoff`` while the
daemon stays down.

``X-Forwarded-For`` is read only from ``trusted_proxies`` (addresses or
networks such as ``["127.0.0.1", "10.0.0.0/8"]``); see
:func:`p0f._web.client_address` for how.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Final
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._models import P0fResponse
from ._sync import P0f
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
    client_address,
    with_user_agent,
    not_looked_up,
)

__all__ = [
    "ENVIRON_KEY",
    "LOOKUP_KEY",
    "LookupStatus",
    "P0fLookup",
    "P0fMiddleware",
    "get_lookup",
    "get_p0f",
]

ENVIRON_KEY: Final = "p0f"
"""The ``environ`` key the answer is put under."""
LOOKUP_KEY: Final = "p0f.lookup"
"""The ``environ`` key the :class:`P0fLookup` is put under."""


class P0fMiddleware(MiddlewareSettings):
    """Wraps a WSGI application; puts p0f's answer in ``environ["p0f"]`` and
    the :class:`P0fLookup` in ``environ["p0f.lookup"]``.

    Arguments are checked at once (:class:`TypeError` or :class:`ValueError`);
    nothing connects until the first request.  By default the connection to
    p0f is given back as soon as an answer is read (``idle_timeout=0``), so
    that a fleet of processes never holds p0f's few connection slots while
    idle; ``idle_timeout=None`` keeps it for the process's life.  Call
    :meth:`close` at shutdown.
    """

    def __init__(
        self,
        app: WSGIApplication,
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
        self.client: Final = P0f(
            socket_path, timeout=self.timeout, idle_timeout=self.idle_timeout
        )

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        address = client_address(
            environ.get("REMOTE_ADDR"),
            environ.get("HTTP_X_FORWARDED_FOR"),
            self.trusted_proxies,
        )
        user_agent = environ.get("HTTP_USER_AGENT")
        found = self.lookup.known(address, self.ua_rules, user_agent)
        if found is None:
            asked = self.lookup.lookup(self.client, address)
            found = with_user_agent(asked, self.ua_rules, user_agent)
        environ[ENVIRON_KEY] = found.answer
        environ[LOOKUP_KEY] = found
        return self.app(environ, start_response)

    def close(self) -> None:
        """Close the connection to the daemon (a later request reopens it)."""
        self.client.close()


def get_p0f(environ: WSGIEnvironment) -> P0fResponse | None:
    """The answer :class:`P0fMiddleware` left in ``environ``, typed.

    ``None`` also when the middleware did not run.
    """
    answer = environ.get(ENVIRON_KEY)
    return answer if isinstance(answer, P0fResponse) else None


def get_lookup(environ: WSGIEnvironment) -> P0fLookup:
    """The :class:`P0fLookup` :class:`P0fMiddleware` left in ``environ``.

    When the middleware did not run: no answer, no address, and the status
    :attr:`LookupStatus.DISABLED`.
    """
    found = environ.get(LOOKUP_KEY)
    return found if isinstance(found, P0fLookup) else not_looked_up()
