"""The p0f settings, read from ``django.conf.settings`` on every access.

Reading lazily keeps ``override_settings`` working.  Defaults live here and
nowhere else.

================================  ==========  ==================================================
Setting                           Default     Meaning
================================  ==========  ==================================================
``P0F_SOCKET``                    (none)      Path of p0f's API socket (its ``-s``).  The 2014
                                              name ``P0FSOCKET`` is read when this is not set.
``P0F_ENABLED``                   ``True``    ``False`` makes the middleware ask nothing
                                              (``request.p0f = None``).  The 2014 name
                                              ``P0FENABLED`` is read when this is not set.
``P0F_TIMEOUT``                   ``0.5``     Seconds to wait for the daemon, more than 0 and
                                              at most 10.
``P0F_SETTLE_SECONDS``            ``0.02``    How long to keep asking when p0f has no data
                                              yet on a new visitor; 0 to ask once.  At most 1.
``P0F_CACHE_SECONDS``             ``30``      How long an answer is reused; 0 for never.
``P0F_NEGATIVE_CACHE_SECONDS``    ``1``       How long a "no data" answer is reused (never
                                              longer than ``P0F_CACHE_SECONDS``); 0 for never.
``P0F_CACHE_SIZE``                ``10000``   How many addresses the cache holds at most.
``P0F_TRUSTED_PROXIES``           ``()``      Addresses or networks of reverse proxies whose
                                              ``X-Forwarded-For`` is believed.  Empty: the
                                              header is ignored and ``REMOTE_ADDR`` looked up.
``P0F_IDLE_TIMEOUT``              ``0``       Seconds a connection to p0f that is owed nothing
                                              stays open; 0 gives it back at once (p0f serves
                                              few connections), ``None`` keeps it for ever.
``P0F_BACKOFF``                   ``1``       Seconds lookups pause after the daemon fails.
``P0F_MAX_BACKOFF``               ``30``      The pause doubles while it stays down, up to this.
================================  ==========  ==================================================
"""

from __future__ import annotations

import os
from typing import Final

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .._web import (
    DEFAULT_BACKOFF,
    DEFAULT_CACHE_SECONDS,
    DEFAULT_CACHE_SIZE,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_NEGATIVE_CACHE_SECONDS,
    DEFAULT_SETTLE_SECONDS,
    DEFAULT_TIMEOUT,
    Network,
    check_backoff,
    check_cache,
    check_idle_timeout,
    check_negative_cache,
    check_settle,
    check_timeout,
    parse_trusted_proxies,
)

__all__ = ["P0fSettings", "conf"]

_UNSET: Final = object()

#: Each setting's default; the 2014 names are read when the new ones are unset.
DEFAULTS: Final[dict[str, object]] = {
    "P0F_SOCKET": None,
    "P0F_ENABLED": True,
    "P0F_TIMEOUT": DEFAULT_TIMEOUT,
    "P0F_CACHE_SECONDS": DEFAULT_CACHE_SECONDS,
    "P0F_CACHE_SIZE": DEFAULT_CACHE_SIZE,
    "P0F_NEGATIVE_CACHE_SECONDS": DEFAULT_NEGATIVE_CACHE_SECONDS,
    "P0F_SETTLE_SECONDS": DEFAULT_SETTLE_SECONDS,
    "P0F_IDLE_TIMEOUT": DEFAULT_IDLE_TIMEOUT,
    "P0F_TRUSTED_PROXIES": (),
    "P0F_BACKOFF": DEFAULT_BACKOFF,
    "P0F_MAX_BACKOFF": DEFAULT_MAX_BACKOFF,
}
OLD_NAMES: Final = {"P0F_SOCKET": "P0FSOCKET", "P0F_ENABLED": "P0FENABLED"}


def _improper(name: str, exc: TypeError | ValueError) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{name}: {exc}")


class P0fSettings:
    """One typed property per setting, each read from the settings when used.

    A property raises :class:`~django.core.exceptions.ImproperlyConfigured`
    for a value it cannot use; :meth:`raw` gives the value as configured,
    which the system checks examine.
    """

    def raw(self, name: str) -> object:
        """Setting ``name`` as configured (or its 2014 name, or its default)."""
        value = getattr(settings, name, _UNSET)
        old_name = OLD_NAMES.get(name)
        if value is _UNSET and old_name is not None:
            value = getattr(settings, old_name, _UNSET)
        return DEFAULTS[name] if value is _UNSET else value

    @property
    def P0F_SOCKET(self) -> str | None:
        value = self.raw("P0F_SOCKET")
        if value is None or value == "":
            return None
        if not isinstance(value, (str, os.PathLike)):
            raise ImproperlyConfigured(f"P0F_SOCKET must be a path, got {value!r}")
        path = os.fspath(value)
        if not isinstance(path, str):
            raise ImproperlyConfigured(f"P0F_SOCKET must be a str path, got {value!r}")
        return path

    @property
    def P0F_ENABLED(self) -> bool:
        return bool(self.raw("P0F_ENABLED"))

    @property
    def P0F_TIMEOUT(self) -> float:
        try:
            return check_timeout(self.raw("P0F_TIMEOUT"))
        except (TypeError, ValueError) as exc:
            raise _improper("P0F_TIMEOUT", exc) from None

    @property
    def P0F_CACHE_SECONDS(self) -> float:
        return self._cache()[0]

    @property
    def P0F_CACHE_SIZE(self) -> int:
        return self._cache()[1]

    @property
    def P0F_NEGATIVE_CACHE_SECONDS(self) -> float:
        try:
            return check_negative_cache(self.raw("P0F_NEGATIVE_CACHE_SECONDS"))
        except (TypeError, ValueError) as exc:
            raise _improper("P0F_NEGATIVE_CACHE_SECONDS", exc) from None

    @property
    def P0F_SETTLE_SECONDS(self) -> float:
        try:
            return check_settle(self.raw("P0F_SETTLE_SECONDS"))
        except (TypeError, ValueError) as exc:
            raise _improper("P0F_SETTLE_SECONDS", exc) from None

    @property
    def P0F_IDLE_TIMEOUT(self) -> float | None:
        try:
            return check_idle_timeout(self.raw("P0F_IDLE_TIMEOUT"))
        except (TypeError, ValueError) as exc:
            raise _improper("P0F_IDLE_TIMEOUT", exc) from None

    @property
    def P0F_TRUSTED_PROXIES(self) -> tuple[Network, ...]:
        try:
            return parse_trusted_proxies(self.raw("P0F_TRUSTED_PROXIES"))
        except (TypeError, ValueError) as exc:
            raise _improper("P0F_TRUSTED_PROXIES", exc) from None

    @property
    def P0F_BACKOFF(self) -> float:
        return self._backoff()[0]

    @property
    def P0F_MAX_BACKOFF(self) -> float:
        return self._backoff()[1]

    def _cache(self) -> tuple[float, int]:
        try:
            return check_cache(self.raw("P0F_CACHE_SECONDS"), self.raw("P0F_CACHE_SIZE"))
        except (TypeError, ValueError) as exc:
            raise _improper("P0F_CACHE_SECONDS / P0F_CACHE_SIZE", exc) from None

    def _backoff(self) -> tuple[float, float]:
        try:
            return check_backoff(self.raw("P0F_BACKOFF"), self.raw("P0F_MAX_BACKOFF"))
        except (TypeError, ValueError) as exc:
            raise _improper("P0F_BACKOFF / P0F_MAX_BACKOFF", exc) from None


conf: Final = P0fSettings()
"""The settings object the middleware and the checks read."""
