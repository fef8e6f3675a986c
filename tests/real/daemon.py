"""Start, watch, freeze and stop real p0f daemons for the tests."""

from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from .bare import STATUS_OK, BareConnection
from .p0flog import IPAddress, LoggedHost, LogLine, logged_host, read_log
from .scenarios import SERVER_V4, Addresses, send_syn, windows_syn

_started: set[subprocess.Popen[bytes]] = set()


def find_p0f() -> str | None:
    """The p0f binary (root's PATH has /usr/sbin; others' may not)."""
    return shutil.which("p0f") or shutil.which("p0f", path="/usr/sbin:/usr/local/sbin")


_PR_SET_PDEATHSIG: Final = 1


def _die_with_parent() -> None:
    # In the child, before exec: p0f gets SIGTERM if the test process dies,
    # even by SIGKILL, so no daemon of ours outlives an aborted run.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _kill_leftovers() -> None:
    # Last resort (an interrupted run): no p0f of ours outlives the tests.
    for proc in list(_started):
        if proc.poll() is None:
            proc.kill()
            proc.wait()


atexit.register(_kill_leftovers)


class P0fDied(AssertionError):
    """The daemon exited although nobody stopped it."""


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode}"


class P0fDaemon:
    """One ``p0f -i lo -s SOCK -o LOG [args] 'tcp'`` process.

    :meth:`start` returns once the API socket answers *and* a canary SYN
    sent on ``lo`` shows up in the API, so traffic sent afterwards is seen.
    p0f runs with ``TZ=UTC`` so its log dates read as UTC.
    """

    READY_TIMEOUT: Final = 10.0

    def __init__(self, workdir: Path, *, args: Sequence[str] = (), binary: str | None = None) -> None:
        found = binary or find_p0f()
        if found is None:
            raise FileNotFoundError("p0f is not installed")
        self.binary = found
        self.workdir = workdir
        self.args = tuple(args)
        self.socket_path = str(workdir / "p0f.sock")
        self.log_path = workdir / "p0f.log"
        self.output_path = workdir / "p0f.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self.addresses = Addresses()
        self.canary: IPAddress | None = None

    # -- life cycle ---------------------------------------------------------------

    def start(self) -> P0fDaemon:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path.unlink(missing_ok=True)
        self._stopping = False
        with self.output_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "-i", "lo", "-s", self.socket_path, "-o", str(self.log_path),
                 *self.args, "tcp"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, "TZ": "UTC"},
                preexec_fn=_die_with_parent,
            )
        _started.add(self.proc)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.READY_TIMEOUT
        # 1. The API socket accepts and answers.
        while not self._answers():
            self._check_deadline(deadline, "its API socket to answer")
            time.sleep(0.01)
        # 2. The capture sees lo: a canary SYN must reach the API.
        self.canary = canary = self.addresses.new(4)
        with BareConnection(self.socket_path) as conn:
            while True:
                send_syn(canary, windows_syn())
                polled_until = time.monotonic() + 0.5
                while time.monotonic() < polled_until:
                    if conn.answer(canary).status == STATUS_OK:
                        return
                    time.sleep(0.01)
                self._check_deadline(deadline, "a canary SYN on lo to show up")

    def _answers(self) -> bool:
        self.check_alive()
        if not os.path.exists(self.socket_path):
            return False
        try:
            with BareConnection(self.socket_path, timeout=1.0) as conn:
                conn.answer(SERVER_V4)
        except OSError:
            return False
        return True

    def _check_deadline(self, deadline: float, waiting_for: str) -> None:
        self.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"p0f did not get ready in {self.READY_TIMEOUT} s "
                               f"(waiting for {waiting_for}):\n{self.output_tail()}")

    def stop(self) -> int | None:
        """Stop the daemon (SIGTERM, then SIGKILL); return its exit status if
        it had already ended on its own, ``None`` if it was still running."""
        proc = self.proc
        if proc is None:
            return None
        self._stopping = True
        died_alone = proc.poll()
        if died_alone is None:
            proc.send_signal(signal.SIGCONT)  # in case a test left it frozen
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        _started.discard(proc)
        return died_alone

    def restart(self) -> P0fDaemon:
        self.stop()
        return self.start()

    # -- watching -----------------------------------------------------------------

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("not started")
        return self.proc.pid

    def check_alive(self) -> None:
        """Raise :class:`P0fDied` if the daemon exited without being stopped."""
        if self.proc is None or self._stopping:
            return
        code = self.proc.poll()
        if code is not None:
            raise P0fDied(f"p0f (pid {self.proc.pid}) {describe_exit(code)} on its own; "
                          f"its last output:\n{self.output_tail()}")

    def output_tail(self, lines: int = 15) -> str:
        try:
            text = self.output_path.read_text(encoding="latin-1", errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def freeze(self) -> None:
        """Stop the daemon in its tracks (SIGSTOP), as a busy machine might."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen daemon run again (SIGCONT); nothing if it is gone."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGCONT)

    # -- the log ------------------------------------------------------------------

    def log(self) -> list[LogLine]:
        return read_log(self.log_path)

    def wait_for_log(
        self, address: IPAddress, mods: Mapping[str, int] | None = None, *, timeout: float = 5.0
    ) -> LoggedHost:
        """Wait until the log has at least ``mods`` lines about ``address``."""
        wanted = mods or {"syn": 1}
        deadline = time.monotonic() + timeout
        while True:
            host = logged_host(self.log(), address)
            counts = host.mods() if host is not None else {}
            if host is not None and all(counts.get(m, 0) >= n for m, n in wanted.items()):
                return host
            self.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"p0f's log has {counts} about {address} after {timeout} s, "
                    f"expected at least {wanted}"
                )
            time.sleep(0.005)


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
