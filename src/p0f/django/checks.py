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
``p0f.W002``    The socket exists but nobody is listening on it: p0f was
                stopped or killed and left its socket file behind.
``p0f.W003``    This process may not connect to the socket (permission
                denied).
``p0f.E003``    ``P0F_TIMEOUT`` is not a number, or not in (0, 10] seconds.
``p0f.E004``    ``P0F_TRUSTED_PROXIES`` is not a list of addresses or networks.
``p0f.E005``    ``P0F_CACHE_SECONDS``, ``P0F_NEGATIVE_CACHE_SECONDS`` or
                ``P0F_CACHE_SIZE`` is unusable.
``p0f.E006``    ``P0F_BACKOFF`` or ``P0F_MAX_BACKOFF`` is unusable.
``p0f.E007``    ``P0F_SETTLE_SECONDS`` is not a number, or not in [0, 1].
``p0f.E008``    ``P0F_IDLE_TIMEOUT`` is neither ``None`` nor a number >= 0.
==============  ===========================================================

The socket checks connect to it once and hang up at once, asking nothing
(so no answer is ever owed to a closed connection).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error
from django.core.checks import Warning as CheckWarning

from .._web import (
    check_backoff,
    check_cache,
    check_idle_timeout,
    check_negative_cache,
    check_settle,
    check_timeout,
    parse_trusted_proxies,
)
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
    except (TypeError, ValueError) as exc:
        messages.append(Error(f"P0F_TIMEOUT: {exc}.", id="p0f.E003"))
    try:
        parse_trusted_proxies(conf.raw("P0F_TRUSTED_PROXIES"))
    except (TypeError, ValueError) as exc:
        messages.append(
            Error(
                f"P0F_TRUSTED_PROXIES: {exc}.",
                hint='For example ["127.0.0.1", "::1", "10.0.0.0/8"].',
                id="p0f.E004",
            )
        )
    try:
        check_cache(conf.raw("P0F_CACHE_SECONDS"), conf.raw("P0F_CACHE_SIZE"))
        check_negative_cache(conf.raw("P0F_NEGATIVE_CACHE_SECONDS"))
    except (TypeError, ValueError) as exc:
        messages.append(
            Error(
                f"P0F_CACHE_SECONDS / P0F_NEGATIVE_CACHE_SECONDS / P0F_CACHE_SIZE: {exc}.",
                id="p0f.E005",
            )
        )
    try:
        check_backoff(conf.raw("P0F_BACKOFF"), conf.raw("P0F_MAX_BACKOFF"))
    except (TypeError, ValueError) as exc:
        messages.append(Error(f"P0F_BACKOFF / P0F_MAX_BACKOFF: {exc}.", id="p0f.E006"))
    try:
        check_settle(conf.raw("P0F_SETTLE_SECONDS"))
    except (TypeError, ValueError) as exc:
        messages.append(
            Error(
                f"P0F_SETTLE_SECONDS: {exc}.",
                hint="0.02 suits p0f on the same host; 0 asks once and never waits.",
                id="p0f.E007",
            )
        )
    try:
        check_idle_timeout(conf.raw("P0F_IDLE_TIMEOUT"))
    except (TypeError, ValueError) as exc:
        messages.append(
            Error(
                f"P0F_IDLE_TIMEOUT: {exc}.",
                hint="0 gives p0f's connection back after each lookup; None keeps it.",
                id="p0f.E008",
            )
        )
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
        kind = "a directory" if stat.S_ISDIR(mode) else "a regular file"
        return [
            Error(
                f"The p0f socket path {path!r} is not a socket but {kind}.",
                hint="Point P0F_SOCKET at the path given to p0f's -s option.",
                id="p0f.E002",
            )
        ]
    return _check_listening(path)


def _check_listening(path: str) -> list[CheckMessage]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED:
                return [
                    CheckWarning(
                        f"Nobody is listening on the p0f socket {path!r}.",
                        hint="p0f was stopped or killed and left its socket behind; "
                        "start it again (remove the stale socket file first: p0f "
                        "refuses to replace it).  Until then request.p0f is None.",
                        id="p0f.W002",
                    )
                ]
            if exc.errno in (errno.EACCES, errno.EPERM):
                return [
                    CheckWarning(
                        f"This process may not connect to the p0f socket {path!r} "
                        "(permission denied).",
                        hint="p0f makes its socket writable by everyone; check the "
                        "modes of the socket and of the directories above it.",
                        id="p0f.W003",
                    )
                ]
            if isinstance(exc, TimeoutError) or exc.errno == errno.EAGAIN:
                return []  # p0f is there, only busy: the middleware copes
            return [
                CheckWarning(
                    f"The p0f socket {path!r} cannot be connected to: {exc.strerror or exc}.",
                    id="p0f.W002",
                )
            ]
    return []
