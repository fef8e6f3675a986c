"""Fixtures for the Django tests: a fresh middleware state per test, and
settings pointing at the fake daemon."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from p0f.django import middleware
from p0f.testing import FakeP0f


@pytest.fixture(autouse=True)
def fresh_middleware() -> Iterator[None]:
    """No client, cached answer or back-off carried from one test to the next."""
    middleware.reset()
    yield
    middleware.reset()


@pytest.fixture
def p0f_fake(fake_p0f: FakeP0f) -> Iterator[FakeP0f]:
    """The fake daemon, with the settings pointing at it."""
    with override_settings(P0F_SOCKET=fake_p0f.socket_path, P0F_TIMEOUT=2.0):
        yield fake_p0f
