"""Pytest fixtures around :class:`p0f.testing.FakeP0f`.

Opt in from a ``conftest.py``::

    pytest_plugins = ["p0f.testing.pytest_plugin"]

``fake_p0f`` gives a running fake daemon, and at teardown fails the test if
the server thread raised or saw a client close a connection with answers
owed (what kills the real p0f).  ``p0f_client`` gives a :class:`p0f.P0f`
connected to it, closed at teardown.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .. import P0f
from . import FakeP0f

__all__ = ["fake_p0f", "p0f_client"]


@pytest.fixture
def fake_p0f() -> Iterator[FakeP0f]:
    """A running :class:`FakeP0f`, checked for errors and harm at teardown."""
    fake = FakeP0f().start()
    try:
        yield fake
    finally:
        fake.stop()
    fake.check()


@pytest.fixture
def p0f_client(fake_p0f: FakeP0f) -> Iterator[P0f]:
    """A :class:`p0f.P0f` for ``fake_p0f``, closed before the fake stops."""
    client = P0f(fake_p0f.socket_path, timeout=2.0)
    try:
        yield client
    finally:
        client.close()
