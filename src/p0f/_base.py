"""What the sync and async clients share: settings, checks and the codec calls."""

from __future__ import annotations

import math
import os
from typing import Final

DEFAULT_TIMEOUT: Final = 1.0
"""Seconds a call waits for the daemon before :class:`P0fTimeoutError`."""

CLOSE_GRACE: Final = 1.0
"""The least time ``close()`` waits for answers still owed before handing the
connection to a background drainer."""

class BaseClient:
    """Settings and argument checks common to :class:`P0f` and :class:`AsyncP0f`."""

    def __init__(
        self, socket_path: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        path = os.fspath(socket_path)
        if not isinstance(path, str) or not path:
            raise ValueError(f"socket_path must be a non-empty path, got {socket_path!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number of seconds, got {timeout!r}")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be positive and finite, got {timeout!r}")
        self._socket_path: Final = path
        self._timeout: Final = float(timeout)

    @property
    def socket_path(self) -> str:
        """The path of the daemon's API socket (p0f's ``-s``)."""
        return self._socket_path

    @property
    def timeout(self) -> float:
        """Seconds each call may wait for the daemon."""
        return self._timeout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._socket_path!r}, timeout={self._timeout})"
