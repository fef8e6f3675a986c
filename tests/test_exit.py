"""A process that used a client always exits, promptly, on every supported
Python, and drains what a merely late daemon still owes before it goes.

Each test runs a real script in a subprocess with a hard timeout: a client
closed, one dropped, one still referenced at module level when the
interpreter shuts down, an ``AsyncP0f`` whose ``asyncio.run`` ended with an
answer owed, and one on a loop left open.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from p0f._base import CLOSE_GRACE
from p0f._drain import EXIT_GRACE
from p0f.testing import FakeP0f, Fault

from .helpers import pythons, require_python, run_script, script_env, wait_until

# Close grace, then exit grace, then an interpreter's start-up and teardown.
PROMPT = CLOSE_GRACE + EXIT_GRACE + 10.0

THREE_CLIENTS = """
import asyncio, sys
from p0f import AsyncP0f, P0f, P0fError

path = sys.argv[1]

def ask(client, host):
    try:
        client.query(host)
    except P0fError:
        pass

closed = P0f(path, timeout=0.1)
ask(closed, "192.0.2.1")
closed.close()
dropped = P0f(path, timeout=0.1)
ask(dropped, "192.0.2.2")
del dropped
kept = P0f(path, timeout=0.1)   # still referenced when the interpreter ends
ask(kept, "192.0.2.3")

async def loop_ends_with_an_answer_owed():
    try:
        await AsyncP0f(path, timeout=0.1).query("192.0.2.4")
    except P0fError:
        pass

asyncio.run(loop_ends_with_an_answer_owed())

# A loop left open, never closed, with an answer owed on its connection.
left_open = asyncio.new_event_loop()
async_kept = AsyncP0f(path, timeout=0.1)
try:
    left_open.run_until_complete(async_kept.query("192.0.2.5"))
except P0fError:
    pass
print("done")
"""


@pytest.mark.parametrize("python", pythons())
def test_exits_promptly_when_p0f_accepted_and_never_answered(
    python: str | None, tmp_path: Path
) -> None:
    # p0f at its -S limit: the kernel accepts, nobody ever reads or answers.
    python = require_python(python)
    path = str(tmp_path / "silent.sock")
    with socket.socket(socket.AF_UNIX) as silent:
        silent.bind(path)
        silent.listen(16)
        done = run_script(python, THREE_CLIENTS, path, timeout=PROMPT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"


@pytest.mark.parametrize("python", pythons())
def test_exit_drains_what_a_late_daemon_still_owes(python: str | None) -> None:
    # Every answer comes late: after each call's timeout, within the graces;
    # the module-level client's comes last, after the others are drained.
    # Closing any connection before reading its answer is harm.
    python = require_python(python)
    with FakeP0f() as fake:
        for n, delay in ((1, 0.6), (2, 0.6), (3, 1.5), (4, 0.6), (5, 1.6)):
            fake.add_host(f"192.0.2.{n}")
            fake.inject(Fault(delay=delay), address=f"192.0.2.{n}")
        done = run_script(python, THREE_CLIENTS, fake.socket_path, timeout=PROMPT)
        assert done.returncode == 0, done.stderr
        fake.stop()
        assert len(fake.queries) == 5
        assert fake.harm == []


THREAD_MID_CALL = """
import sys, threading
from p0f import P0f, P0fError

client = P0f(sys.argv[1], timeout=0.5)

def ask():
    try:
        client.query("192.0.2.9")
    except P0fError:
        pass

threading.Thread(target=ask, daemon=True).start()
sys.stdin.readline()  # the test says when the query has reached the daemon
"""


@pytest.mark.parametrize("python", pythons())
def test_exit_waits_for_a_thread_mid_call_within_the_grace(python: str | None) -> None:
    # The process exits while a daemon thread is inside a call whose answer
    # comes after the call's timeout, within the exit grace.  The exit hook
    # gave up on a client in use after 0.1 s, so the process's end closed
    # the connection before p0f wrote the answer.
    python = require_python(python)
    with FakeP0f() as fake:
        fake.add_host("192.0.2.9")
        fake.inject(Fault(delay=1.2))
        script = subprocess.Popen(
            [python, "-c", THREAD_MID_CALL, fake.socket_path],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=script_env(),
        )
        try:
            wait_until(lambda: len(fake.queries) == 1)
            _, stderr = script.communicate("go\n", timeout=PROMPT)
        finally:
            script.kill()
            script.wait()
        assert script.returncode == 0, stderr
        wait_until(lambda: fake.connection_count == 0)
        fake.stop()
        assert fake.harm == []
