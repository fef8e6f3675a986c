"""Helpers shared by the sync and async client tests."""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from p0f import RawResponse
from p0f._drain import pending as pending_drainers
from p0f.testing import sample_response

SRC = str(Path(__file__).resolve().parent.parent / "src")


def address(n: int) -> str:
    """The n-th test address: even ones IPv4, odd ones IPv6."""
    if n % 2:
        return f"fd00::{n:x}"
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"


def host_response(n: int) -> RawResponse:
    """An answer that names its host, in total_conn and in os_flavor."""
    return sample_response(total_conn=n, os_flavor=address(n))


def spoiled(n: int) -> bytes:
    """Host ``n``'s answer with a wrong magic number."""
    return attrs.evolve(host_response(n), magic=0x12345678).to_bytes()


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Poll ``condition`` until it holds; a generous bound, not a timing claim."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def drainers_finish() -> None:
    wait_until(lambda: pending_drainers() == 0)


def pythons() -> list[object]:
    """``pytest.param`` for each supported Python: this one, and those pyenv
    has (3.11, 3.12, 3.13).  One missing is skipped with the reason outside
    CI, and fails under ``CI=true``."""
    params: list[object] = [pytest.param(sys.executable, id="this-python")]
    for version in ("3.11", "3.12", "3.13"):
        found = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python")))
        if found:
            params.append(pytest.param(found[-1], id=version))
        else:
            params.append(pytest.param(None, id=version))
    return params


def require_python(python: str | None) -> str:
    if python is None:
        reason = "this Python version is not installed under ~/.pyenv"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}", pytrace=False)
        pytest.skip(reason)
    return python


def script_env() -> dict[str, str]:
    """The environment for a script run by another Python: this checkout's
    sources and the pure-Python dependencies of this environment."""
    import attrs as attrs_module
    import cattrs

    deps = {
        str(Path(attrs_module.__file__).parent.parent),
        str(Path(cattrs.__file__).parent.parent),
    }
    return dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, *sorted(deps)]))


def run_script(python: str, script: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``python`` and this checkout's sources (and the
    pure-Python dependencies of this environment) on its path; fail the
    test rather than wait past ``timeout``."""
    env = script_env()
    try:
        return subprocess.run(
            [python, "-c", script, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the script did not exit within {timeout} s") from exc


@contextlib.contextmanager
def child_alive() -> Iterator[None]:
    """Fork a child that does nothing but live until the block ends (so the
    block can check that the child holds none of the parent's sockets)."""
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only waits
        os.read(done_r, 1)
        os._exit(0)
    try:
        yield
    finally:
        os.write(done_w, b"x")
        os.waitpid(pid, 0)
        os.close(done_r)
        os.close(done_w)


def fill_queue(path: str) -> list[socket.socket]:
    """Connections left unaccepted in the queue of the socket at ``path``
    until it is full, so that the next ``connect()`` fails with EAGAIN (as
    at p0f's -S limit)."""
    fillers: list[socket.socket] = []
    while True:
        filler = socket.socket(socket.AF_UNIX)
        filler.setblocking(False)
        try:
            filler.connect(path)
        except BlockingIOError:
            filler.close()
            return fillers
        fillers.append(filler)


def watch_for_full_queue(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set when a client's ``connect()`` meets a full queue (EAGAIN)."""
    seen = threading.Event()

    class WatchedSocket(socket.socket):
        def connect(self, address: Any, /) -> None:
            try:
                super().connect(address)
            except BlockingIOError:
                seen.set()
                raise

    monkeypatch.setattr(socket, "socket", WatchedSocket)
    return seen
