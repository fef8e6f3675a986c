"""Run a piece of a test as an unprivileged user, for "permission denied".

Root may connect to any Unix socket whatever its mode, so a test run as
root forks, and the child drops to ``nobody`` before it acts.  Run as
anyone else, the action runs in-process: the socket's mode already stops
the user.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

NOBODY = 65534


@contextmanager
def forbidden_socket() -> Iterator[str]:
    """A listening Unix socket that only root may connect to, in a
    directory anyone may enter (so stat works and connect is what fails)."""
    directory = tempfile.mkdtemp(prefix="p0f-forbidden-")
    os.chmod(directory, 0o755)
    path = os.path.join(directory, "p0f.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen()
        os.chmod(path, 0o600 if os.geteuid() == 0 else 0o000)
        yield path
    finally:
        listener.close()
        os.unlink(path)
        os.rmdir(directory)


def unprivileged(action: Callable[[], str], *, timeout: float = 60.0) -> str:
    """``action()``'s result, computed without root's right to every socket.

    The forked child has none of the parent's threads, so ``action`` must
    not need a thread pool the parent started (asgiref's, for one).
    """
    if os.geteuid() != 0:
        return action()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a threaded process may deadlock;
        # the child here only connects to a socket and reports.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns into the test runner
        code = 1
        try:
            os.close(read_end)
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result = action()
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result = f"the unprivileged child failed: {exc!r}"
        finally:
            try:
                os.write(write_end, result.encode())
            finally:
                os._exit(code)
    os.close(write_end)
    chunks = []
    deadline = time.monotonic() + timeout
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(f"the unprivileged child did not finish in {timeout} s")
            chunk = pipe.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    output = b"".join(chunks).decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise AssertionError(output)
    return output
