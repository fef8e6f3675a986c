from __future__ import annotations

import os
import socket
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from p0f.testing import FakeP0f

pytest_plugins = ["p0f.testing.pytest_plugin"]

settings.register_profile(
    "fast", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("P0F_HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture
def connect_attempts(monkeypatch: pytest.MonkeyPatch, fake_p0f: FakeP0f) -> list[str]:
    """Every attempt to connect to ``fake_p0f``'s socket, sync or asyncio
    (both make their sockets with ``socket.socket``), one entry each."""
    attempts: list[str] = []
    path = fake_p0f.socket_path

    class CountingSocket(socket.socket):
        def connect(self, address: Any, /) -> None:
            if address == path:
                attempts.append(address)
            super().connect(address)

    monkeypatch.setattr(socket, "socket", CountingSocket)
    return attempts
