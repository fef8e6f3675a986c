"""The public surface: everything exported exists, and the list is sorted."""

from __future__ import annotations

import p0f


def test_all_is_sorted_and_complete() -> None:
    assert p0f.__all__ == sorted(p0f.__all__)
    assert len(set(p0f.__all__)) == len(p0f.__all__)
    for name in p0f.__all__:
        assert hasattr(p0f, name), name
    public = {
        name
        for name, value in vars(p0f).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("p0f.")
    }
    assert public <= set(p0f.__all__)


def test_seed_names_are_kept() -> None:
    assert p0f.P0fException is p0f.P0fError
    assert issubclass(p0f.NoMatchError, KeyError)
    assert issubclass(p0f.ProtocolError, ValueError)
    assert issubclass(p0f.InvalidAddressError, ValueError)
    assert issubclass(p0f.P0fTimeoutError, TimeoutError)
    assert issubclass(p0f.P0fTimeoutError, p0f.P0fConnectionError)
    assert issubclass(p0f.P0fConnectionError, OSError)
    for name in ("BadQueryError", "NoMatchError", "ProtocolError", "P0fConnectionError"):
        assert issubclass(getattr(p0f, name), p0f.P0fError)


def test_user_agent_check_is_exported() -> None:
    names = {
        "DEFAULT_UA_OS", "DEFAULT_UA_OS_LINE", "UaOsEntry", "UaOsError", "UaOsRules",
        "UserAgentCheck", "UserAgentReason", "UserAgentVerdict", "check_user_agent", "load_ua_os",
    }
    assert names <= set(p0f.__all__)
    assert issubclass(p0f.UaOsError, p0f.P0fError)
    assert issubclass(p0f.UaOsError, ValueError)
