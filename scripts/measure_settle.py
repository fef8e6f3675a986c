"""How long the real p0f needs before it can answer for a new visitor.

Run as root (it starts p0f on ``lo``), from the repository root::

    .venv/bin/python scripts/measure_settle.py [connections]

For each connection, from a fresh 127.x.y.z source address to a server on
127.0.0.1: the time from ``connect()`` returning (when a web server could
first see the visitor) until p0f answers with the OS, and the time from
the HTTP request being sent (when an application could first see it) until
p0f's answer has its HTTP fields.  p0f is asked every 0.25 ms meanwhile.
The machine-wide lock of the real-daemon tests is held throughout.
"""

from __future__ import annotations

import fcntl
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.real.bare import STATUS_OK, BareAnswer, BareConnection  # noqa: E402
from tests.real.conftest import LOCK_PATH  # noqa: E402
from tests.real.daemon import P0fDaemon  # noqa: E402
from tests.real.scenarios import firefox_request  # noqa: E402

POLL = 0.00025


def serve(listener: socket.socket, stop: threading.Event) -> None:
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass


def wait_for(ask: BareConnection, source: str, want_http: bool, limit: float = 1.0) -> float:
    start = time.perf_counter()
    address = __import__("ipaddress").ip_address(source)
    while True:
        answer = ask.answer(address)
        now = time.perf_counter()
        if answer.status == STATUS_OK and (not want_http or BareAnswer.text(answer.http_name)):
            return now - start
        if now - start > limit:
            return float("inf")
        time.sleep(POLL)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    syn: list[float] = []
    http: list[float] = []
    with open(LOCK_PATH, "a") as lock, tempfile.TemporaryDirectory() as workdir:
        fcntl.flock(lock, fcntl.LOCK_EX)
        daemon = P0fDaemon(Path(workdir)).start()
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        stop = threading.Event()
        server = threading.Thread(target=serve, args=(listener, stop), daemon=True)
        server.start()
        try:
            with BareConnection(daemon.socket_path) as ask:
                for _ in range(count):
                    source = str(daemon.addresses.new(4))
                    with socket.socket() as client:
                        client.bind((source, 0))
                        client.connect(("127.0.0.1", port))
                        syn.append(wait_for(ask, source, want_http=False))
                        client.sendall(firefox_request())
                        http.append(wait_for(ask, source, want_http=True))
                        client.recv(1024)
                    if len(syn) % 50 == 0:
                        daemon.addresses = type(daemon.addresses)()
        finally:
            stop.set()
            server.join()
            listener.close()
            daemon.stop()
    for name, values in (("OS after connect", syn), ("HTTP after request", http)):
        finite = [v for v in values if v != float("inf")]
        ms = [v * 1000 for v in finite]
        print(
            f"{name}: n={len(values)} missing={len(values) - len(finite)} "
            f"min={min(ms):.2f} median={statistics.median(ms):.2f} "
            f"p90={percentile(ms, 0.9):.2f} p99={percentile(ms, 0.99):.2f} "
            f"max={max(ms):.2f} ms"
        )
        buckets = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50]
        print("  share answered by: " + ", ".join(
            f"{b} ms {sum(v <= b for v in ms) / len(values):.0%}" for b in buckets))


if __name__ == "__main__":
    main()
