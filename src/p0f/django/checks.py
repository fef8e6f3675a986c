"""System checks for the p0f settings, with stable ids.

==============  ===========================================================
Id              Problem
==============  ===========================================================
``p0f.E001``    No socket configured (``P0F_SOCKET`` / ``P0FSOCKET``), or
                it is not a path, while ``P0F_ENABLED`` is true.
``p0f.E002``    The socket path exists but is not a socket.
``p0f.W001``    The socket path does not exist or cannot be examined.  Only
                a warning: the daemon may start after Django, and the
                middleware copes with a daemon that is down.
``p0f.E003``    ``P0F_TIMEOUT`` is not a number, or not in (0, 10] seconds.
``p0f.E004``    ``P0F_TRUSTED_PROXIES`` is not a list of addresses or networks.
``p0f.E005``    ``P0F_CACHE_SECONDS`` or ``P0F_CACHE_SIZE`` is unusable.
``p0f.E006``    ``P0F_BACKOFF`` or ``P0F_MAX_BACKOFF`` is unusable.
==============  ===========================================================
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error
from django.core.checks import Warning as CheckWarning

from .._web import check_backoff, check_cache, check_timeout, parse_trusted_proxies
from .conf import conf

__all__ = ["check_settings"]

_SOCKET_HINT = (
    "Set P0F_SOCKET (the 2014 name P0FSOCKET also works) to the path p0f "
    "was started with (its -s option), or set P0F_ENABLED = False."
)


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Every p0f setting, checked; registered by the app's ``ready()``."""
    messages: list[CheckMessage] = []
    if conf.P0F_ENABLED:
        messages += _check_socket()
    try:
        check_timeout(conf.raw("P0F_TIMEOUT"))
    except ValueError as exc:
        messages.append(Error(f"P0F_TIMEOUT: {exc}.", id="p0f.E003"))
    try:
        parse_trusted_proxies(conf.raw("P0F_TRUSTED_PROXIES"))
    except ValueError as exc:
        messages.append(
            Error(
                f"P0F_TRUSTED_PROXIES: {exc}.",
                hint='For example ["127.0.0.1", "::1", "10.0.0.0/8"].',
                id="p0f.E004",
            )
        )
    try:
        check_cache(conf.raw("P0F_CACHE_SECONDS"), conf.raw("P0F_CACHE_SIZE"))
    except ValueError as exc:
        messages.append(Error(f"P0F_CACHE_SECONDS / P0F_CACHE_SIZE: {exc}.", id="p0f.E005"))
    try:
        check_backoff(conf.raw("P0F_BACKOFF"), conf.raw("P0F_MAX_BACKOFF"))
    except ValueError as exc:
        messages.append(Error(f"P0F_BACKOFF / P0F_MAX_BACKOFF: {exc}.", id="p0f.E006"))
    return messages


def _check_socket() -> list[CheckMessage]:
    value = conf.raw("P0F_SOCKET")
    if value is None or value == "":
        return [Error("No p0f socket is configured.", hint=_SOCKET_HINT, id="p0f.E001")]
    path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(path, str):
        return [
            Error(
                f"P0F_SOCKET must be a path, got {value!r}.",
                hint=_SOCKET_HINT,
                id="p0f.E001",
            )
        ]
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return [
            CheckWarning(
                f"The p0f socket {path!r} does not exist.",
                hint="Is p0f running with -s pointing there?  Until it is, "
                "request.p0f is None.",
                id="p0f.W001",
            )
        ]
    except OSError as exc:
        return [
            CheckWarning(
                f"The p0f socket {path!r} cannot be examined: {exc.strerror}.",
                id="p0f.W001",
            )
        ]
    if not stat.S_ISSOCK(mode):
        return [
            Error(
                f"The p0f socket path {path!r} exists but is not a socket.",
                hint="Point P0F_SOCKET at the path given to p0f's -s option.",
                id="p0f.E002",
            )
        ]
    return []
