"""The system checks, by id."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from p0f.django.checks import check_settings
from p0f.testing import FakeP0f

from ..privileges import forbidden_socket, unprivileged


def ids() -> list[str]:
    return [message.id for message in check_settings() if message.id is not None]


def test_a_good_configuration_passes(fake_p0f: FakeP0f) -> None:
    with override_settings(
        P0F_SOCKET=fake_p0f.socket_path,
        P0F_TIMEOUT=0.25,
        P0F_TRUSTED_PROXIES=["127.0.0.1", "::1", "10.0.0.0/8"],
        P0F_CACHE_SECONDS=0,
        P0F_CACHE_SIZE=100,
        P0F_BACKOFF=0.5,
        P0F_MAX_BACKOFF=60,
        P0F_SETTLE_SECONDS=0.01,
        P0F_NEGATIVE_CACHE_SECONDS=0.5,
    ):
        assert check_settings() == []


def test_the_checks_are_registered_by_the_app() -> None:
    with override_settings(P0F_SOCKET=None, P0FSOCKET=None, P0F_TIMEOUT=0):
        found = {message.id for message in checks.run_checks()}
    assert {"p0f.E001", "p0f.E003"} <= found


@pytest.mark.parametrize("value", [None, ""])
def test_e001_no_socket(value: str | None) -> None:
    with override_settings(P0F_SOCKET=value, P0FSOCKET=value):
        assert ids() == ["p0f.E001"]
        (message,) = check_settings()
        assert message.level == checks.ERROR
        assert "P0F_SOCKET" in (message.hint or "")


def test_e001_socket_is_not_a_path() -> None:
    with override_settings(P0F_SOCKET=42):
        assert ids() == ["p0f.E001"]


def test_no_socket_is_fine_when_disabled() -> None:
    with override_settings(P0F_SOCKET=None, P0FSOCKET=None, P0F_ENABLED=False):
        assert ids() == []
    with override_settings(P0F_SOCKET=None, P0FSOCKET=None, P0FENABLED=False):
        assert ids() == []


def test_e002_path_is_not_a_socket(tmp_path: Path) -> None:
    regular = tmp_path / "p0f.sock"
    regular.write_text("")
    with override_settings(P0F_SOCKET=str(regular)):
        (message,) = check_settings()
    assert message.id == "p0f.E002"
    assert message.msg == f"The p0f socket path {str(regular)!r} is not a socket but a regular file."
    with override_settings(P0F_SOCKET=tmp_path):  # a directory, as a PathLike
        (message,) = check_settings()
    assert message.id == "p0f.E002"
    assert "is not a socket but a directory" in message.msg


def test_w001_socket_missing(tmp_path: Path) -> None:
    with override_settings(P0F_SOCKET=str(tmp_path / "nothing-here")):
        (message,) = check_settings()
    assert message.id == "p0f.W001"
    assert message.level == checks.WARNING


def test_a_listening_unix_socket_passes(tmp_path: Path) -> None:
    path = os.path.join(tmp_path, "s")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen()
        with override_settings(P0F_SOCKET=path):
            assert ids() == []


def test_w002_nobody_listening(tmp_path: Path) -> None:
    # What a killed p0f leaves behind: the socket file, and no one on it.
    path = os.path.join(tmp_path, "s")
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(path)
        with override_settings(P0F_SOCKET=path):
            (message,) = check_settings()
    assert message.id == "p0f.W002"
    assert message.level == checks.WARNING
    assert message.msg == f"Nobody is listening on the p0f socket {path!r}."
    assert "[Errno" not in message.msg + (message.hint or "")


def test_w003_permission_denied() -> None:
    with forbidden_socket() as path, override_settings(P0F_SOCKET=path):
        found = unprivileged(lambda: repr([(m.id, m.msg) for m in check_settings()]))
    assert found == repr(
        [("p0f.W003", f"This process may not connect to the p0f socket {path!r} (permission denied).")]
    )


@pytest.mark.parametrize("value", [0, -1, 10.5, float("nan"), float("inf"), "1", True, None])
def test_e003_timeout_out_of_range(value: object, fake_p0f: FakeP0f) -> None:
    with override_settings(P0F_SOCKET=fake_p0f.socket_path, P0F_TIMEOUT=value):
        assert ids() == ["p0f.E003"]


@pytest.mark.parametrize(
    "value",
    [
        "127.0.0.1",  # one string, not a list
        ["127.0.0.1", "proxy.example"],
        ["10.0.0.1/8"],  # host bits set
        ["300.0.0.1"],
        [42],
        42,
    ],
)
def test_e004_trusted_proxies_malformed(value: object, fake_p0f: FakeP0f) -> None:
    with override_settings(P0F_SOCKET=fake_p0f.socket_path, P0F_TRUSTED_PROXIES=value):
        assert ids() == ["p0f.E004"]


@pytest.mark.parametrize(
    ("seconds", "size"), [(-1, 100), ("30", 100), (30, 0), (30, 1.5), (30, True)]
)
def test_e005_cache_settings(seconds: object, size: object, fake_p0f: FakeP0f) -> None:
    with override_settings(
        P0F_SOCKET=fake_p0f.socket_path, P0F_CACHE_SECONDS=seconds, P0F_CACHE_SIZE=size
    ):
        assert ids() == ["p0f.E005"]


@pytest.mark.parametrize(("first", "longest"), [(0, 30), (-1, 30), (5, 1), ("1", 30)])
def test_e006_backoff_settings(first: object, longest: object, fake_p0f: FakeP0f) -> None:
    with override_settings(
        P0F_SOCKET=fake_p0f.socket_path, P0F_BACKOFF=first, P0F_MAX_BACKOFF=longest
    ):
        assert ids() == ["p0f.E006"]


@pytest.mark.parametrize("value", [-0.01, 1.5, "0.025", None, float("nan")])
def test_e007_settle_seconds(value: object, fake_p0f: FakeP0f) -> None:
    with override_settings(P0F_SOCKET=fake_p0f.socket_path, P0F_SETTLE_SECONDS=value):
        assert ids() == ["p0f.E007"]


@pytest.mark.parametrize("value", [-1, "1", float("inf")])
def test_e005_negative_cache_seconds(value: object, fake_p0f: FakeP0f) -> None:
    with override_settings(P0F_SOCKET=fake_p0f.socket_path, P0F_NEGATIVE_CACHE_SECONDS=value):
        assert ids() == ["p0f.E005"]


@pytest.mark.parametrize("value", [-1, "never", float("nan")])
def test_e008_idle_timeout(value: object, fake_p0f: FakeP0f) -> None:
    with override_settings(P0F_SOCKET=fake_p0f.socket_path, P0F_IDLE_TIMEOUT=value):
        assert ids() == ["p0f.E008"]
    with override_settings(P0F_SOCKET=fake_p0f.socket_path, P0F_IDLE_TIMEOUT=None):
        assert ids() == []


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    with override_settings(
        P0F_SOCKET=str(tmp_path),
        P0F_TIMEOUT=60,
        P0F_TRUSTED_PROXIES="10.0.0.0/8",
        P0F_CACHE_SIZE=0,
        P0F_BACKOFF=0,
        P0F_SETTLE_SECONDS=-1,
    ):
        assert ids() == ["p0f.E002", "p0f.E003", "p0f.E004", "p0f.E005", "p0f.E006", "p0f.E007"]
