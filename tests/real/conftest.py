"""Fixtures that run the real p0f daemon on ``lo``.

The tests need root (p0f sniffs ``lo``; scapy sends raw frames), the p0f
binary (Debian's ``p0f`` package, 3.09b) and scapy.  Without them every test
here is skipped with the reason, except under ``CI=true``, where CI is meant
to have them all and a missing one fails the tests instead.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .daemon import P0fDaemon, describe_exit, find_p0f
from .scenarios import SCAPY_MISSING


def missing_requirement() -> str | None:
    """Why the real daemon cannot be run here, or ``None`` if it can."""
    if os.geteuid() != 0:
        return "the real-p0f tests must run as root (p0f sniffs lo, and the tests send raw frames on it)"
    if find_p0f() is None:
        return "p0f is not installed (Debian: apt-get install p0f)"
    if SCAPY_MISSING is not None:
        return SCAPY_MISSING
    return None


_HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a real-daemon test, marked or not: the sessions
    that deselect ``real_daemon`` must never reach the lock below."""
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.real_daemon)


#: Held while this process runs real daemons.  Every p0f on ``lo`` sees
#: every crafted packet sent there, so two test runs on one machine (two
#: checkouts, two Python versions) would read each other's scenarios.
LOCK_PATH = "/tmp/p0f-client-real-tests.lock"


@pytest.fixture(scope="session")
def real_daemon_requirements() -> Iterator[None]:
    """Skip (or, with ``CI=true``, fail) when the real daemon cannot run;
    otherwise hold the machine-wide lock for the rest of the session."""
    reason = missing_requirement()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the real-p0f tests cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    with open(LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fail_if_died(daemons: list[P0fDaemon]) -> None:
    deaths = []
    for daemon in daemons:
        died = daemon.stop()
        if died is not None:
            deaths.append(
                f"p0f {' '.join(daemon.args)} (pid {daemon.pid}) {describe_exit(died)} "
                f"on its own; its last output:\n{daemon.output_tail()}"
            )
    if deaths:
        pytest.fail("\n".join(deaths), pytrace=False)


@pytest.fixture(scope="module")
def module_p0f(
    real_daemon_requirements: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[P0fDaemon]:
    """One daemon for a whole test module (each test uses its own hosts)."""
    daemon = P0fDaemon(tmp_path_factory.mktemp("p0f"))
    try:
        yield daemon.start()
    finally:
        _fail_if_died([daemon])


@pytest.fixture
def real_p0f(module_p0f: P0fDaemon) -> Iterator[P0fDaemon]:
    """The module's daemon, checked alive before and after each test, so a
    test during which p0f dies fails."""
    module_p0f.check_alive()
    yield module_p0f
    module_p0f.check_alive()


@pytest.fixture
def start_p0f(
    real_daemon_requirements: None, tmp_path: Path
) -> Iterator[Callable[..., P0fDaemon]]:
    """Start daemons of the test's own (``start_p0f("-S", "2")``); all are
    stopped at teardown, and the test fails if one had died on its own."""
    daemons: list[P0fDaemon] = []

    def start(*args: str) -> P0fDaemon:
        daemon = P0fDaemon(tmp_path / f"p0f{len(daemons)}", args=args)
        daemons.append(daemon)
        return daemon.start()

    try:
        yield start
    finally:
        _fail_if_died(daemons)
