"""End to end, as deployed: the kernel's own SYNs, a real TLS server, the real p0f.

A WSGI server (the standard library's, in a thread) serves HTTPS and plain
HTTP on 127.0.0.1 behind :class:`p0f.wsgi.P0fMiddleware`; clients connect
from source addresses of their own in 127.0.0.0/8, so the SYN p0f sees is
this machine's Linux stack.  In the clear, p0f reads a Firefox request and
judges its User-Agent itself; over TLS it is blind (no application, no
``bad_sw``) and the middleware's check, from the request's User-Agent,
gives the verdict p0f gave in the clear.
"""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest

from p0f import BadSoftware, P0f, UaOsRules, UserAgentVerdict
from p0f.wsgi import P0fMiddleware, get_lookup, get_p0f

from .daemon import P0fDaemon
from .p0flog import IPAddress
from .scenarios import Addresses

pytestmark = pytest.mark.real_daemon

FP_FILE: Final = Path("/etc/p0f/p0f.fp")
WINDOWS_UA: Final = "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:40.0) Gecko/20100101 Firefox/40.0"
LINUX_UA: Final = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:40.0) Gecko/20100101 Firefox/40.0"
NO_OS_UA: Final = "Mozilla/5.0 (rv:40.0) Gecko/20100101 Firefox/40.0"

# Header order of p0f.fp's "Firefox 10.x or newer", so p0f judges the
# User-Agent in the clear.
_FIREFOX: Final = [
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-US,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Connection", "keep-alive"),
]


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    check = get_lookup(environ).user_agent
    answer = get_p0f(environ)
    body = {
        "verdict": None if check is None else check.verdict.value,
        "claims": None if check is None else check.user_agent_os,
        "p0f_os": None if answer is None else answer.os_name,
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def daemon(
    real_daemon_requirements: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[P0fDaemon]:
    running = P0fDaemon(tmp_path_factory.mktemp("p0f-tls"), args=("-f", str(FP_FILE)))
    try:
        yield running.start()
    finally:
        if running.stop() is not None:
            pytest.fail(f"p0f died on its own: {running.output_tail()}", pytrace=False)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed for a test certificate (Debian: apt-get install openssl)")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


def _serve(server: WSGIServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@pytest.fixture(scope="module")
def middleware(daemon: P0fDaemon) -> Iterator[P0fMiddleware]:
    wrapped = P0fMiddleware(app, daemon.socket_path, timeout=2.0, cache_seconds=0,
                            ua_os_file=FP_FILE)
    try:
        yield wrapped
    finally:
        wrapped.close()


@pytest.fixture(scope="module")
def https_port(middleware: P0fMiddleware, tls_files: tuple[Path, Path]) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, middleware, handler_class=_Quiet)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


@pytest.fixture(scope="module")
def http_port(middleware: P0fMiddleware) -> Iterator[int]:
    yield from _serve(make_server("127.0.0.1", 0, middleware, handler_class=_Quiet))


@pytest.fixture(scope="module")
def addresses() -> Addresses:
    return Addresses()


def _request(connection: http.client.HTTPConnection, user_agent: str) -> Any:
    # Host first and the rest in Firefox's order; nothing added by http.client.
    connection.putrequest("GET", "/", skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", "localhost")
    connection.putheader("User-Agent", user_agent)
    for name, value in _FIREFOX:
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 200
    found = json.loads(response.read())
    connection.close()
    return found


def _https(port: int, source: IPAddress, user_agent: str) -> Any:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test's own certificate
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, source_address=(str(source), 0), context=context, timeout=10
    )
    return _request(connection, user_agent)


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [(WINDOWS_UA, UserAgentVerdict.MISMATCH), (LINUX_UA, UserAgentVerdict.MATCH),
     (NO_OS_UA, UserAgentVerdict.UNKNOWN)],
    ids=["windows-ua", "linux-ua", "no-os-ua"],
)
def test_tls_request_gets_the_verdict_p0f_gives_in_the_clear(
    daemon: P0fDaemon, https_port: int, http_port: int, addresses: Addresses,
    user_agent: str, expected: UserAgentVerdict,
) -> None:
    with P0f(daemon.socket_path, timeout=3.0) as client:
        # In the clear: p0f reads the request and judges the User-Agent itself.
        clear = addresses.new(4)
        connection = http.client.HTTPConnection(
            "127.0.0.1", http_port, source_address=(str(clear), 0), timeout=10
        )
        _request(connection, user_agent)
        logged = daemon.wait_for_log(clear, {"syn": 1, "http request": 1})
        in_clear = client.query(clear)
        assert in_clear.os_name == "Linux" and in_clear.http_name == "Firefox"
        flagged = any("ua_vs_os" in line.fields.get("reason", "").split()
                      for line in daemon.log() if line.host == clear)
        assert (in_clear.bad_sw is BadSoftware.OS_MISMATCH) == flagged == (
            expected is UserAgentVerdict.MISMATCH
        ), logged

        # Over TLS: a first request makes p0f know the host (it needs a few
        # ms after the SYN); the second is the one judged.
        hidden = addresses.new(4)
        _https(https_port, hidden, user_agent)
        daemon.wait_for_log(hidden, {"syn": 1})
        seen = _https(https_port, hidden, user_agent)
        blind = client.query(hidden)
        assert (blind.http_name, blind.bad_sw) == (None, BadSoftware.NONE)
        assert seen["p0f_os"] == "Linux"
        assert seen["verdict"] == expected.value
        assert seen["claims"] == UaOsRules.from_file(FP_FILE).claimed_os(user_agent)
