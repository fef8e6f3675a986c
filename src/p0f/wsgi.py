"""WSGI middleware: what p0f knows about the client, in ``environ["p0f"]``.

.. typecheck-context:
   from wsgiref.types import WSGIApplication
   class Flask:
       wsgi_app: WSGIApplication
   app = Flask()

::

    from p0f.wsgi import P0fMiddleware

    app.wsgi_app = P0fMiddleware(app.wsgi_app, "/var/run/p0f.sock")  # Flask

    # in a view: request.environ["p0f"], or p0f.wsgi.get_p0f(request.environ)

The value is a :class:`p0f.P0fResponse`, or ``None`` when p0f has no data,
the client's address is unknown, or the daemon cannot be reached (logged to
``p0f.web``, never raised).  One blocking client serves every request and
thread; answers are cached per address for ``cache_seconds``; after a
failure, lookups pause for ``backoff`` seconds, doubling up to
``max_backoff`` while the daemon stays down.

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
    DEFAULT_MAX_BACKOFF,
    DEFAULT_TIMEOUT,
    IPAddress,
    MiddlewareSettings,
    Network,
    client_address,
)

__all__ = ["ENVIRON_KEY", "P0fMiddleware", "get_p0f"]

ENVIRON_KEY: Final = "p0f"
"""The ``environ`` key the answer is put under."""


class P0fMiddleware(MiddlewareSettings):
    """Wraps a WSGI application; puts p0f's answer in ``environ["p0f"]``.

    Arguments are checked at once (:class:`ValueError`); nothing connects
    until the first request.  Call :meth:`close` at shutdown.
    """

    def __init__(
        self,
        app: WSGIApplication,
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
        self.client: Final = P0f(socket_path, timeout=self.timeout)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        address = client_address(
            environ.get("REMOTE_ADDR"),
            environ.get("HTTP_X_FORWARDED_FOR"),
            self.trusted_proxies,
        )
        environ[ENVIRON_KEY] = self.lookup.lookup(self.client, address)
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
