"""The three web integrations under real servers, against the real p0f.

Each test starts a real HTTP server on loopback (the Django example site
under gunicorn, a plain WSGI app under gunicorn, a Starlette app under
uvicorn; see :mod:`tests.real.web_apps`) with the integration's defaults,
and sends real requests to it from fresh source addresses (the client
socket bound to 127.x.y.z before it connects), as new visitors.  p0f
records a connection a few milliseconds after it opens, so without
settling a first request got "no data"; these tests count how many first
requests get the OS, and measure what the lookup costs.

The figures are printed (``pytest -s``) and kept in tests/real/README.md.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .bare import STATUS_OK, bare_answer
from .daemon import P0fDaemon, wait_until
from .p0flog import IPAddress
from .scenarios import send_syn, windows_syn

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "django_site"
FRESH_VISITORS = 20
KNOWN_VISITORS = 5
PROXY_SETTING = "127.0.0.1"  # only the test's own proxy hop is trusted


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def get(
        self, source: IPAddress | str = "127.0.0.1", forwarded_for: str | None = None,
        path: str = "/p0f.json",
    ) -> tuple[dict[str, Any], float]:
        """One request on a new connection from ``source``: the JSON, and
        the milliseconds the whole request took at the client."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=10, source_address=(str(source), 0)
        )
        headers = {"User-Agent": "p0f-client real web test", "Accept": "*/*"}
        if forwarded_for is not None:
            headers["X-Forwarded-For"] = forwarded_for
        started = time.perf_counter()
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status == 200, (response.status, body[:500], self.output())
        found: dict[str, Any] = json.loads(body) if path.endswith(".json") else {"html": body.decode()}
        return found, elapsed

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def start_server(name: str, command: list[str], env: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [part.replace("{port}", str(port)) for part in command],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    server = Server(name, port, process, log)

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited at start:\n{server.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    try:
        wait_until(listening, timeout=30, what=f"{name} to listen on port {port}")
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def server_env(daemon: P0fDaemon, *extra_paths: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env["P0F_SOCKET"] = daemon.socket_path
    env["P0F_TRUSTED_PROXIES"] = PROXY_SETTING
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *map(str, extra_paths)])
    return env


GUNICORN = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:{port}",
            "--workers", "4", "--worker-class", "sync", "--log-level", "warning"]


@pytest.fixture(scope="module", params=["django-gunicorn", "wsgi-gunicorn", "asgi-uvicorn"])
def server(
    request: pytest.FixtureRequest, module_p0f: P0fDaemon, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    name: str = request.param
    workdir = tmp_path_factory.mktemp(name)
    if name == "django-gunicorn":
        site = workdir / "site"
        shutil.copytree(EXAMPLE, site, ignore=shutil.ignore_patterns("db.sqlite3", "p0f.sock"))
        env = server_env(module_p0f, site)
        env["DJANGO_SETTINGS_MODULE"] = "tests.real.web_django_settings"
        subprocess.run([sys.executable, str(site / "manage.py"), "migrate", "-v0"],
                       check=True, env=env, cwd=site, timeout=120)
        command = [*GUNICORN, "example_site.wsgi:application"]
    elif name == "wsgi-gunicorn":
        env = server_env(module_p0f)
        command = [*GUNICORN, "tests.real.web_apps:wsgi_application"]
    else:
        env = server_env(module_p0f)
        command = [sys.executable, "-m", "uvicorn", "tests.real.web_apps:asgi_application",
                   "--host", "127.0.0.1", "--port", "{port}", "--log-level", "warning",
                   "--no-access-log"]
    started = start_server(name, command, env, workdir)
    try:
        yield started
    finally:
        stop_server(started)


@pytest.fixture
def daemon(module_p0f: P0fDaemon) -> Iterator[P0fDaemon]:
    module_p0f.check_alive()
    yield module_p0f
    module_p0f.check_alive()


def new_address(daemon: P0fDaemon) -> IPAddress:
    try:
        return daemon.addresses.new(4)
    except RuntimeError:  # a block holds 254; take another
        daemon.addresses = type(daemon.addresses)()
        return daemon.addresses.new(4)


def p0f_knows(daemon: P0fDaemon, address: IPAddress) -> bool:
    return bare_answer(daemon.socket_path, address).status == STATUS_OK


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} ms, worst {max(values):.2f} ms"


def test_every_first_request_gets_the_os(server: Server, daemon: P0fDaemon) -> None:
    # A request from 127.0.0.1 first, so that every worker has started.
    for _ in range(8):
        server.get()
    misses: list[str] = []
    fresh_ms: list[float] = []
    for _ in range(FRESH_VISITORS):
        visitor = new_address(daemon)
        found, _ = server.get(visitor)
        assert found["address"] == str(visitor)
        fresh_ms.append(found["lookup_ms"])
        if found["os_name"] is None:
            misses.append(f"{visitor}: {found['status']}")
    # Known hosts: p0f saw their connection before their first request.
    known_ms: list[float] = []
    cached_ms: list[float] = []
    for _ in range(KNOWN_VISITORS):
        visitor = new_address(daemon)
        with socket.create_connection(("127.0.0.1", server.port), source_address=(str(visitor), 0)):
            pass
        wait_until(lambda: p0f_knows(daemon, visitor), timeout=5, what=f"p0f to know {visitor}")
        found, _ = server.get(visitor)
        assert found["os_name"] is not None and not found["cached"], found
        known_ms.append(found["lookup_ms"])
        for _ in range(4):  # the same visitor again: the worker's cache, or one ask
            again, _ = server.get(visitor)
            assert again["os_name"] is not None
            if again["cached"]:
                cached_ms.append(again["lookup_ms"])
    print(
        f"\n{server.name}: {len(misses)} of {FRESH_VISITORS} first requests without the OS "
        f"{misses}; lookup on a first request: {summary(fresh_ms)}; "
        f"known host, not cached: {summary(known_ms)}; cached: {summary(cached_ms or [0.0])}"
    )
    assert len(misses) <= 1, misses


def test_a_host_p0f_learns_about_after_no_data_is_seen_within_a_second(
    server: Server, daemon: P0fDaemon
) -> None:
    # The visitor is named by the trusted proxy (this test's client on
    # 127.0.0.1) and has sent nothing yet: p0f has no data on it.
    visitor = new_address(daemon)
    found, _ = server.get(forwarded_for=str(visitor))
    assert (found["address"], found["status"]) == (str(visitor), "no data"), found
    send_syn(visitor, windows_syn())
    wait_until(lambda: p0f_knows(daemon, visitor), timeout=5, what=f"p0f to know {visitor}")
    known_at = time.monotonic()
    while True:
        found, _ = server.get(forwarded_for=str(visitor))
        waited = time.monotonic() - known_at
        if found["os_name"] is not None:
            break
        assert waited < 3, f"{server.name} still says {found} {waited:.2f} s after p0f knew"
        time.sleep(0.05)
    print(f"\n{server.name}: seen {waited * 1000:.0f} ms after p0f knew the host")
    assert found["os_name"] == "Windows"
    assert found["address"] == str(visitor)
    assert waited < 1.5


def test_the_address_behind_a_trusted_proxy(server: Server, daemon: P0fDaemon) -> None:
    # The proxy (127.0.0.1) says which visitor it serves; the visitor is
    # one p0f knows.  From an untrusted peer the same header is ignored.
    visitor = new_address(daemon)
    send_syn(visitor, windows_syn())
    wait_until(lambda: p0f_knows(daemon, visitor), timeout=5, what=f"p0f to know {visitor}")
    found, _ = server.get(forwarded_for=f"198.51.100.7, {visitor}")
    assert (found["address"], found["os_name"]) == (str(visitor), "Windows"), found
    stranger = new_address(daemon)
    found, _ = server.get(stranger, forwarded_for=str(visitor))
    assert found["address"] == str(stranger), found
    assert ipaddress.ip_address(found["address"]) != visitor


def test_a_stopped_p0f_is_reported_in_words(
    real_daemon_requirements: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # p0f leaves its socket file behind when it stops: the path exists,
    # and nobody listens on it.
    from django.test import override_settings

    from p0f.django.checks import check_settings
    from p0f.wsgi import P0fMiddleware, get_lookup

    stopped = P0fDaemon(tmp_path / "p0f").start()
    assert stopped.stop() is None  # it was running: this stopped it
    if not Path(stopped.socket_path).exists():
        pytest.fail("p0f removed its socket on exit; this test needs its stale socket")
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(get_lookup(environ).status.value)
        return [b""]

    wrapped = P0fMiddleware(app, stopped.socket_path)
    start_response: Any = None  # the app above never calls it
    with caplog.at_level(logging.WARNING, logger="p0f.web"):
        wrapped({"REMOTE_ADDR": "127.0.0.1"}, start_response)
    wrapped.close()
    assert seen == ["unavailable"]
    (record,) = caplog.records
    assert f"nobody is listening on {stopped.socket_path} (p0f stopped?)" in record.getMessage()
    with override_settings(P0F_SOCKET=stopped.socket_path):
        assert [message.id for message in check_settings()] == ["p0f.W002"]
