"""The ``p0f-query`` command line, run in-process against the fake daemon.

Answers use fixed timestamps so that every output mode can be compared to
the exact text a user would see.
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import pty
import socket
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from p0f import P0f, P0fResponse, RawResponse, Status
from p0f._cli import Result, format_text, late_answer_wait, main, render_text, run
from p0f._codec import decode_response, encode_query, encode_response
from p0f._wire import QUERY_SIZE, RESPONSE_SIZE
from p0f._demo import DemoDaemon, demo_hosts
from p0f.converters import make_json_converter
from p0f.testing import FakeP0f, Fault, sample_response

T0 = 1_795_734_245  # 2026-11-26 23:04:05 UTC

# A desktop: exact match, honest browser.
WINDOWS = sample_response(
    first_seen=T0 - 5400,
    last_seen=T0,
    total_conn=23,
    os_name="Windows",
    os_flavor="7 or 8",
    http_name="Firefox",
    http_flavor="10.x or newer",
    link_type="Ethernet or modem",
    language="German",
    distance=8,
)
# A gateway: every optional line, a generic fuzzy match and a distance of 0.
GATEWAY = sample_response(
    first_seen=T0 - 86400,
    last_seen=T0 - 5,
    total_conn=312,
    os_name="Linux",
    os_flavor="3.x",
    os_match_q=3,
    http_name="Chrome",
    http_flavor="11 or newer",
    bad_sw=1,
    link_type="DSL",
    language="English",
    distance=0,
    last_nat=T0 - 640,
    last_chg=T0 - 1900,
    uptime_min=4 * 1440 + 2 * 60 + 13,
    up_mod_days=49,
)
# An IPv6 client that lies about its browser and told p0f little else.
LIAR = sample_response(
    first_seen=T0 - 60,
    last_seen=T0 - 60,
    total_conn=1,
    os_name="",
    os_flavor="",
    http_name="MSIE",
    bad_sw=2,
    link_type="",
    distance=-1,
)

GATEWAY_TEXT = """\
Address       = 192.0.2.200
First seen    = 2026-11-25 23:04:05 UTC
Last update   = 2026-11-26 23:04:00 UTC
Total flows   = 312
Detected OS   = Linux 3.x [generic] [fuzzy]
HTTP software = Chrome 11 or newer (ID OS mismatch)
Network link  = DSL
Language      = English
Distance      = 0
IP sharing    = 2026-11-26 22:53:25 UTC
Sys change    = 2026-11-26 22:32:25 UTC
Uptime        = 4 days 2 hrs 13 min (modulo 49 days)
"""

# The three answers asked for in the mode tests, and one unknown host.
QUERIES = ["192.0.2.17", "2001:db8:0:0:0:0:0:66", "192.0.2.99", "::ffff:192.0.2.200"]

EXPECTED_TEXT = """\
Address       = 192.0.2.17
First seen    = 2026-11-26 21:34:05 UTC
Last update   = 2026-11-26 23:04:05 UTC
Total flows   = 23
Detected OS   = Windows 7 or 8
HTTP software = Firefox 10.x or newer (ID seems legit)
Network link  = Ethernet or modem
Language      = German
Distance      = 8

Address       = 2001:db8:0:0:0:0:0:66 (queried as 2001:db8::66)
First seen    = 2026-11-26 23:03:05 UTC
Last update   = 2026-11-26 23:03:05 UTC
Total flows   = 1
Detected OS   = ???
HTTP software = MSIE (ID is fake)
Network link  = ???
Language      = ???
Distance      = ???

Address       = 192.0.2.99
Result        = no matching host in p0f cache

Address       = ::ffff:192.0.2.200 (queried as 192.0.2.200)
First seen    = 2026-11-25 23:04:05 UTC
Last update   = 2026-11-26 23:04:00 UTC
Total flows   = 312
Detected OS   = Linux 3.x [generic] [fuzzy]
HTTP software = Chrome 11 or newer (ID OS mismatch)
Network link  = DSL
Language      = English
Distance      = 0
IP sharing    = 2026-11-26 22:53:25 UTC
Sys change    = 2026-11-26 22:32:25 UTC
Uptime        = 4 days 2 hrs 13 min (modulo 49 days)
"""

EXPECTED_JSON = (
    '{"address": "192.0.2.17", "queried": "192.0.2.17", "result": "ok", '
    '"first_seen": "2026-11-26T21:34:05Z", "last_seen": "2026-11-26T23:04:05Z", '
    '"total_conn": 23, "uptime": null, "up_mod_days": null, "last_nat": null, '
    '"last_chg": null, "distance": 8, "bad_sw": "NONE", "os_match_q": "NORMAL", '
    '"os_name": "Windows", "os_flavor": "7 or 8", "http_name": "Firefox", '
    '"http_flavor": "10.x or newer", "link_type": "Ethernet or modem", '
    '"language": "German"}\n'
    '{"address": "2001:db8:0:0:0:0:0:66", "queried": "2001:db8::66", "result": "ok", '
    '"first_seen": "2026-11-26T23:03:05Z", "last_seen": "2026-11-26T23:03:05Z", '
    '"total_conn": 1, "uptime": null, "up_mod_days": null, "last_nat": null, '
    '"last_chg": null, "distance": null, "bad_sw": "FAKE", "os_match_q": "NORMAL", '
    '"os_name": null, "os_flavor": null, "http_name": "MSIE", "http_flavor": null, '
    '"link_type": null, "language": null}\n'
    '{"address": "192.0.2.99", "queried": "192.0.2.99", "result": "no_match"}\n'
    '{"address": "::ffff:192.0.2.200", "queried": "192.0.2.200", "result": "ok", '
    '"first_seen": "2026-11-25T23:04:05Z", "last_seen": "2026-11-26T23:04:00Z", '
    '"total_conn": 312, "uptime": 353580, "up_mod_days": 4233600, '
    '"last_nat": "2026-11-26T22:53:25Z", "last_chg": "2026-11-26T22:32:25Z", '
    '"distance": 0, "bad_sw": "OS_MISMATCH", "os_match_q": "FUZZY_GENERIC", '
    '"os_name": "Linux", "os_flavor": "3.x", "http_name": "Chrome", '
    '"http_flavor": "11 or newer", "link_type": "DSL", "language": "English"}\n'
)

EXPECTED_RAW = (
    '{"address": "192.0.2.17", "queried": "192.0.2.17", "result": "ok", '
    '"magic": 1345340930, "status": 16, "first_seen": 1795728845, '
    '"last_seen": 1795734245, "total_conn": 23, "uptime_min": 0, "up_mod_days": 0, '
    '"last_nat": 0, "last_chg": 0, "distance": 8, "bad_sw": 0, "os_match_q": 0, '
    '"os_name": "Windows", "os_flavor": "7 or 8", "http_name": "Firefox", '
    '"http_flavor": "10.x or newer", "link_type": "Ethernet or modem", '
    '"language": "German"}\n'
    '{"address": "2001:db8:0:0:0:0:0:66", "queried": "2001:db8::66", "result": "ok", '
    '"magic": 1345340930, "status": 16, "first_seen": 1795734185, '
    '"last_seen": 1795734185, "total_conn": 1, "uptime_min": 0, "up_mod_days": 0, '
    '"last_nat": 0, "last_chg": 0, "distance": -1, "bad_sw": 2, "os_match_q": 0, '
    '"os_name": "", "os_flavor": "", "http_name": "MSIE", "http_flavor": "", '
    '"link_type": "", "language": ""}\n'
    '{"address": "192.0.2.99", "queried": "192.0.2.99", "result": "no_match"}\n'
    '{"address": "::ffff:192.0.2.200", "queried": "192.0.2.200", "result": "ok", '
    '"magic": 1345340930, "status": 16, "first_seen": 1795647845, '
    '"last_seen": 1795734240, "total_conn": 312, "uptime_min": 5893, '
    '"up_mod_days": 49, "last_nat": 1795733605, "last_chg": 1795732345, '
    '"distance": 0, "bad_sw": 1, "os_match_q": 3, "os_name": "Linux", '
    '"os_flavor": "3.x", "http_name": "Chrome", "http_flavor": "11 or newer", '
    '"link_type": "DSL", "language": "English"}\n'
)


class Stream(io.StringIO):
    """A captured stream that can claim to be a terminal."""

    def __init__(self, text: str = "", *, tty: bool = False) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class Outcome(NamedTuple):
    code: int
    out: str
    err: str


def cli(
    argv: Sequence[str],
    *,
    stdin: str = "",
    env: dict[str, str] | None = None,
    stdin_tty: bool = False,
    stderr_tty: bool = False,
    stdout_tty: bool = False,
) -> Outcome:
    out, err = Stream(tty=stdout_tty), Stream(tty=stderr_tty)
    source = Stream(stdin, tty=stdin_tty)
    code = run(argv, stdin=source, stdout=out, stderr=err, environ=env or {})
    return Outcome(code, out.getvalue(), err.getvalue())


@pytest.fixture
def fake(fake_p0f: FakeP0f) -> FakeP0f:
    fake_p0f.add_host("192.0.2.17", WINDOWS)
    fake_p0f.add_host("192.0.2.200", GATEWAY)
    fake_p0f.add_host("2001:db8::66", LIAR)
    return fake_p0f


# -- rendering ---------------------------------------------------------------


def test_render_text_shows_every_line_of_p0f_client() -> None:
    assert render_text("192.0.2.200", P0fResponse.from_raw(GATEWAY)) == GATEWAY_TEXT


def test_render_text_marks_unknowns_and_leaves_out_unseen_events() -> None:
    bare = sample_response(
        first_seen=T0,
        last_seen=T0,
        total_conn=0,
        os_name="",
        os_flavor="",
        link_type="",
        distance=-1,
        uptime_min=0,
        up_mod_days=7,  # meaningless without an uptime: not shown
    )
    assert render_text("::1", P0fResponse.from_raw(bare)) == (
        "Address       = ::1\n"
        "First seen    = 2026-11-26 23:04:05 UTC\n"
        "Last update   = 2026-11-26 23:04:05 UTC\n"
        "Total flows   = 0\n"
        "Detected OS   = ???\n"
        "HTTP software = ???\n"
        "Network link  = ???\n"
        "Language      = ???\n"
        "Distance      = ???\n"
    )


@pytest.mark.parametrize(
    ("wire", "os_line", "http_line"),
    [
        ({"os_match_q": 0, "bad_sw": 0}, "Linux 2.2.x-3.x", "Wget 1.x (ID seems legit)"),
        ({"os_match_q": 1, "bad_sw": 1}, "Linux 2.2.x-3.x [fuzzy]", "Wget 1.x (ID OS mismatch)"),
        ({"os_match_q": 2, "bad_sw": 2}, "Linux 2.2.x-3.x [generic]", "Wget 1.x (ID is fake)"),
        ({"os_flavor": "", "http_flavor": ""}, "Linux", "Wget (ID seems legit)"),
    ],
)
def test_render_text_match_quality_and_software_verdict(
    wire: dict[str, int | str], os_line: str, http_line: str
) -> None:
    raw = sample_response(**{"http_name": "Wget", "http_flavor": "1.x", **wire})
    lines = render_text("x", P0fResponse.from_raw(raw)).splitlines()
    assert f"Detected OS   = {os_line}" in lines
    assert f"HTTP software = {http_line}" in lines


def test_uptime_without_wraparound_leaves_out_modulo() -> None:
    raw = sample_response(uptime_min=61, up_mod_days=0)
    lines = render_text("x", P0fResponse.from_raw(raw)).splitlines()
    assert lines[-1] == "Uptime        = 0 days 1 hrs 1 min"


def test_format_text_escapes_unprintable_input() -> None:
    result = Result("\x1b[2Jboom", error="not an address", line=4)
    assert format_text(result) == (
        "Address       = \\x1b[2Jboom\nResult        = error: line 4: not an address\n"
    )


# -- the three output modes, exactly -----------------------------------------


@pytest.mark.parametrize("chunk", ["1000", "3", "1"])
def test_text_output(fake: FakeP0f, chunk: str) -> None:
    argv = ["--chunk-size", chunk, "-s", fake.socket_path, *QUERIES]
    assert cli(argv) == (1, EXPECTED_TEXT, "")


def test_json_output(fake: FakeP0f) -> None:
    assert cli(["--json", "-s", fake.socket_path, *QUERIES]) == (1, EXPECTED_JSON, "")


def test_raw_output(fake: FakeP0f) -> None:
    assert cli(["--raw", "-s", fake.socket_path, *QUERIES]) == (1, EXPECTED_RAW, "")
    # --raw wins over --json rather than being an error.
    assert cli(["--json", "--raw", "-s", fake.socket_path, *QUERIES]).out == EXPECTED_RAW


def test_json_records_structure_back_with_the_library_converter(fake: FakeP0f) -> None:
    code, out, _ = cli(["--json", "-s", fake.socket_path, "192.0.2.200"])
    assert code == 0
    record = json.loads(out)
    assert (record.pop("address"), record.pop("queried"), record.pop("result")) == (
        "192.0.2.200",
        "192.0.2.200",
        "ok",
    )
    back = make_json_converter().structure(record, P0fResponse)
    assert back == P0fResponse.from_raw(GATEWAY)


def test_times_are_utc_whatever_the_local_zone(fake: FakeP0f) -> None:
    # Run as a user would, in a zone far from UTC: also covers python -m p0f.
    env = {**os.environ, "TZ": "America/New_York", "P0F_SOCKET": fake.socket_path}
    done = subprocess.run(
        [sys.executable, "-m", "p0f", "192.0.2.200"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, GATEWAY_TEXT, "")


def test_console_script_is_installed(fake: FakeP0f) -> None:
    script = Path(sys.executable).parent / "p0f-query"
    if not script.exists():
        pytest.skip("p0f-query is not installed next to this interpreter")
    done = subprocess.run(
        [script, "-s", fake.socket_path, "--json", "192.0.2.99"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stderr) == (1, "")
    assert json.loads(done.stdout)["result"] == "no_match"


# -- stdin, as Unix tools read it -----------------------------------------------


def p0f_query() -> Path:
    """The installed console script (``make setup`` installs it)."""
    script = Path(sys.executable).parent / "p0f-query"
    assert script.exists(), f"{script} is not installed: run make setup"
    return script


def test_dash_reads_stdin_in_its_place(fake: FakeP0f) -> None:
    done = subprocess.run(
        [p0f_query(), "--json", "-s", fake.socket_path, "192.0.2.99", "-", "192.0.2.17"],
        input="192.0.2.200\nbogus  # a typo\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["address"], r["result"], r.get("line")) for r in records] == [
        ("192.0.2.99", "no_match", None),
        ("192.0.2.200", "ok", None),
        ("bogus", "error", 2),
        ("192.0.2.17", "ok", None),
    ]
    assert done.stderr == (
        "p0f-query: 1 bad address on line 2: not an IPv4 or IPv6 address: 'bogus'\n"
    )


def test_piped_stdin_is_read_when_no_address_is_given(fake: FakeP0f) -> None:
    env = {**os.environ, "P0F_SOCKET": fake.socket_path}
    done = subprocess.run(
        [p0f_query()], input="192.0.2.200\n", env=env, capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, GATEWAY_TEXT, "")


def test_stdin_redirected_from_a_file_is_read(fake: FakeP0f, tmp_path: Path) -> None:
    path = tmp_path / "hosts.txt"
    path.write_text("# two hosts\n192.0.2.99\n192.0.2.200\n")
    with path.open() as stdin:
        done = subprocess.run(
            [p0f_query(), "--json", "-s", fake.socket_path],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert (done.returncode, done.stderr) == (1, "")
    assert [json.loads(line)["result"] for line in done.stdout.splitlines()] == [
        "no_match",
        "ok",
    ]


def test_an_empty_pipe_asks_nothing(fake: FakeP0f) -> None:
    done = subprocess.run(
        [p0f_query(), "-s", fake.socket_path], input="", capture_output=True, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    assert fake.queries == []


def test_no_stdin_at_all_is_read_as_empty(fake: FakeP0f) -> None:
    # Started with file descriptor 0 closed (sys.stdin is None), by a shell.
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" -s "$1" <&-', p0f_query(), fake.socket_path],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_a_terminal_on_stdin_without_address_is_a_usage_error(fake: FakeP0f) -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [p0f_query(), "-s", fake.socket_path],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("p0f-query: no address: ")
    assert done.stderr.endswith(" (see --help)\n")


# -- addresses ---------------------------------------------------------------


def test_every_ipv6_form_is_accepted(fake_p0f: FakeP0f) -> None:
    fake_p0f.add_host("127.0.0.1", WINDOWS)
    fake_p0f.add_host("::1", LIAR)
    fake_p0f.add_host("2001:db8::1", GATEWAY)
    forms = {
        "::1": "::1",
        "0:0:0:0:0:0:0:1": "::1",
        "0000:0000:0000:0000:0000:0000:0000:0001": "::1",
        "::ffff:127.0.0.1": "127.0.0.1",
        "::FFFF:7f00:1": "127.0.0.1",
        "2001:DB8::1": "2001:db8::1",
        "2001:0db8:0000:0000:0000:0000:0000:0001": "2001:db8::1",
        "2001:db8::1%eth0": "2001:db8::1",
        "127.0.0.1": "127.0.0.1",
    }
    code, out, err = cli(["--json", "-s", fake_p0f.socket_path, *forms])
    assert (code, err) == (0, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["address"], r["queried"], r["result"]) for r in records] == [
        (given, queried, "ok") for given, queried in forms.items()
    ]
    asked = [address for _, address in fake_p0f.queries]
    assert asked == [ipaddress.ip_address(q) for q in forms.values()]


# -- exit codes and errors ---------------------------------------------------


def test_all_answered_exits_0(fake: FakeP0f) -> None:
    assert cli(["-s", fake.socket_path, "192.0.2.200"]) == (0, GATEWAY_TEXT, "")


def test_no_match_exits_1(fake: FakeP0f) -> None:
    code, out, err = cli(["-s", fake.socket_path, "192.0.2.98", "192.0.2.99"])
    assert (code, err) == (1, "")
    assert out == (
        "Address       = 192.0.2.98\n"
        "Result        = no matching host in p0f cache\n"
        "\n"
        "Address       = 192.0.2.99\n"
        "Result        = no matching host in p0f cache\n"
    )


BAD_INPUT = """\
# hosts seen at the gateway
192.0.2.17

not-an-address   # a typo
192.0.2.200  # the office
2001:db8::66::1
192.0.2.99
"""


def test_bad_lines_get_error_records_and_the_run_goes_on(fake: FakeP0f) -> None:
    code, out, err = cli(["--json", "-s", fake.socket_path, "-f", "-"], stdin=BAD_INPUT)
    assert code == 2
    assert err == (
        "p0f-query: 2 bad addresses, the first on line 4: "
        "not an IPv4 or IPv6 address: 'not-an-address'\n"
    )
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["address"], r["result"]) for r in records] == [
        ("192.0.2.17", "ok"),
        ("not-an-address", "error"),
        ("192.0.2.200", "ok"),
        ("2001:db8::66::1", "error"),
        ("192.0.2.99", "no_match"),
    ]
    assert records[1] == {
        "address": "not-an-address",
        "result": "error",
        "error": "not an IPv4 or IPv6 address: 'not-an-address'",
        "line": 4,
    }
    assert records[3]["line"] == 6


def test_bad_line_in_text_mode(fake: FakeP0f) -> None:
    code, out, err = cli(["-s", fake.socket_path, "-f", "-"], stdin="192.0.2.99\n\nbogus\n")
    assert code == 2
    assert out == (
        "Address       = 192.0.2.99\n"
        "Result        = no matching host in p0f cache\n"
        "\n"
        "Address       = bogus\n"
        "Result        = error: line 3: not an IPv4 or IPv6 address: 'bogus'\n"
    )
    assert err == "p0f-query: 1 bad address on line 3: not an IPv4 or IPv6 address: 'bogus'\n"


def test_bad_argument_is_reported_without_a_line(fake: FakeP0f) -> None:
    code, out, err = cli(["--json", "-s", fake.socket_path, "192.0.2.17", "300.1.1.1"])
    assert code == 2
    assert json.loads(out.splitlines()[1]) == {
        "address": "300.1.1.1",
        "result": "error",
        "error": "not an IPv4 or IPv6 address: '300.1.1.1'",
    }
    assert err == "p0f-query: 1 bad address: not an IPv4 or IPv6 address: '300.1.1.1'\n"


def test_missing_socket_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "p0f.sock"
    assert cli(["-s", str(path), "192.0.2.1"]) == (
        3,
        "",
        f"p0f-query: cannot connect to p0f at {path}: No such file or directory\n",
    )


def test_refused_socket_exits_3(fake: FakeP0f) -> None:
    fake.refuse_connections()
    assert cli(["-s", fake.socket_path, "192.0.2.17"]) == (
        3,
        "",
        f"p0f-query: cannot connect to p0f at {fake.socket_path}: Connection refused\n",
    )


def test_protocol_error_exits_3_after_the_chunks_already_printed(fake: FakeP0f) -> None:
    fake.inject(Fault(payload=b"\xff" * 232), address="192.0.2.200")
    code, out, err = cli(
        ["--json", "--chunk-size", "1", "-s", fake.socket_path, "192.0.2.17", "192.0.2.200"]
    )
    assert code == 3
    assert [json.loads(line)["address"] for line in out.splitlines()] == ["192.0.2.17"]
    assert err == "p0f-query: p0f broke the protocol: answer has wrong magic 0xffffffff\n"


def test_timeout_exits_3(fake: FakeP0f) -> None:
    fake.inject(Fault(delay=0.5))
    assert cli(["-t", "0.1", "-s", fake.socket_path, "192.0.2.17"]) == (
        3,
        "",
        "p0f-query: p0f did not answer within 0.1 s (nothing ever came back on "
        "this connection: p0f may be at its -S connection limit); waiting up to "
        "3 s more for the answers p0f still owes before exiting (closing sooner "
        "can kill p0f)\n",
    )
    # The late answer was read before closing (the fixture checks for harm).


def test_socket_comes_from_the_environment(fake: FakeP0f) -> None:
    env = {"P0F_SOCKET": fake.socket_path}
    assert cli(["192.0.2.200"], env=env) == (0, GATEWAY_TEXT, "")
    # -s wins over the environment.
    assert cli(["-s", fake.socket_path, "192.0.2.200"], env={"P0F_SOCKET": "/nope"}).code == 0


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["192.0.2.1"], {}, "no socket: give -s SOCKET or set P0F_SOCKET, or try --demo"),
        (["192.0.2.1"], {"P0F_SOCKET": ""}, "no socket: give -s SOCKET or set P0F_SOCKET"),
        (["-s", "/x"], {}, "no address: give ADDRESS..., -f FILE, or pipe addresses"),
        (["-s", "/x", "-", "::1", "-"], {}, "stdin ('-') can be read only once"),
        (["-s", "/x", "-f", "-", "-"], {}, "stdin ('-') can be read only once"),
        (["--bogus", "-s", "/x", "::1"], {}, "unrecognized arguments: --bogus"),
        (["-t", "0", "-s", "/x", "::1"], {}, "-t/--timeout: timeout must be positive and finite"),
        (["-t", "nan", "-s", "/x", "::1"], {}, "timeout must be positive and finite, got nan"),
        (["-t", "inf", "-s", "/x", "::1"], {}, "timeout must be positive and finite, got inf"),
        (["-t", "-1", "-s", "/x", "::1"], {}, "timeout must be positive and finite, got -1.0"),
        (["-t", "soon", "::1"], {}, "argument -t/--timeout: not a number: 'soon'"),
        (["--chunk-size", "1.5", "-s", "/x", "::1"], {}, "not a whole number: '1.5'"),
        (["--demo", "-s", "/x"], {}, "argument -s/--socket: not allowed with argument --demo"),
    ],
)
def test_usage_errors_exit_2_in_one_line(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    # stdin is a terminal: with no address, nothing is read from it.
    code, out, err = cli(argv, env=env, stdin_tty=True)
    assert (code, out) == (2, "")
    assert err.startswith("p0f-query: ")
    assert message in err
    assert err.endswith(" (see --help)\n")
    assert err.count("\n") == 1


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "missing.txt"
    assert cli(["-s", "/x", "-f", str(path)]) == (
        2,
        "",
        f"p0f-query: cannot read {path}: No such file or directory\n",
    )


def test_addresses_from_a_file_follow_the_arguments(fake: FakeP0f, tmp_path: Path) -> None:
    path = tmp_path / "hosts.txt"
    path.write_bytes(b"192.0.2.17\r\n# comment\n\xff\xfe\n::ffff:192.0.2.200")
    code, out, err = cli(["--json", "-s", fake.socket_path, "-f", str(path), "192.0.2.99"])
    assert code == 2
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["address"], r["result"], r.get("line")) for r in records] == [
        ("192.0.2.99", "no_match", None),
        ("192.0.2.17", "ok", None),
        ("\ufffd\ufffd", "error", 3),  # undecodable bytes: a bad line, no crash
        ("::ffff:192.0.2.200", "ok", None),
    ]
    assert "on line 3" in err


def test_help_and_version_exit_0() -> None:
    code, out, err = cli(["--help"])
    assert (code, err) == (0, "")
    assert out.startswith("usage: p0f-query ")
    for text in ("--json", "--raw", "--demo", "P0F_SOCKET", "exit codes: 0 all answered"):
        assert text in out
    # The wait after a timeout is announced, with its bound.
    assert " ".join(out.split()).count("max(1, SECONDS) + 2") == 2
    code, out, err = cli(["--version"])
    assert (code, out, err) == (0, "p0f-query 2.0.0.dev0\n", "")


def test_main_uses_the_process_streams(
    fake: FakeP0f, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-s", fake.socket_path, "192.0.2.200"]) == 0
    assert capsys.readouterr() == (GATEWAY_TEXT, "")


def test_closed_output_pipe_stops_quietly(tmp_path: Path) -> None:
    path = tmp_path / "many.txt"
    path.write_text("192.0.2.17\n" * 50_000)
    with subprocess.Popen(
        [sys.executable, "-m", "p0f", "--demo", "--json", "-f", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert json.loads(process.stdout.readline())["result"] == "ok"
        process.stdout.close()
        err = process.stderr.read()
        assert process.wait(30) == 141
    assert "Traceback" not in err
    assert err.startswith("p0f-query: demo mode")


# -- streaming ---------------------------------------------------------------


class Lines:
    """Input produced on demand, counting how much has been read."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = lines
        self.read = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.read += 1
            yield line

    def isatty(self) -> bool:
        return False


class Watcher(Stream):
    """Output that notes how much input had been read at each write."""

    def __init__(self, source: Lines) -> None:
        super().__init__()
        self.source = source
        self.read_at_write: list[int] = []

    def write(self, text: str, /) -> int:
        self.read_at_write.append(self.source.read)
        return super().write(text)


def test_output_is_written_a_chunk_at_a_time(fake: FakeP0f) -> None:
    source = Lines(f"192.0.2.{i}\n" for i in range(10))
    out = Watcher(source)
    code = run(
        ["--json", "--chunk-size", "3", "-s", fake.socket_path, "-f", "-"],
        stdin=source,
        stdout=out,
        stderr=Stream(),
        environ={},
    )
    assert code == 1
    # Each chunk is printed before the next is read: 3 lines read, 3 written ...
    assert out.read_at_write == [3, 3, 3, 6, 6, 6, 9, 9, 9, 10]
    assert [json.loads(line)["address"] for line in out.getvalue().splitlines()] == [
        f"192.0.2.{i}" for i in range(10)
    ]


class TypedLines(Lines):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stdin_args", [["-f", "-"], ["-"]])
def test_someone_typing_gets_each_answer_at_once(fake: FakeP0f, stdin_args: list[str]) -> None:
    source = TypedLines(["192.0.2.17\n", "\n", "192.0.2.200\n", "192.0.2.99\n"])
    out = Watcher(source)
    code = run(
        ["--json", "-s", fake.socket_path, *stdin_args],
        stdin=source,
        stdout=out,
        stderr=Stream(),
        environ={},
    )
    assert code == 1
    assert out.read_at_write == [1, 3, 4]


def _address(i: int) -> str:
    return str(ipaddress.IPv4Address(0x0A00_0000 + i))


_FAKE_DAEMON = """\
import ipaddress, sys
from p0f.testing import FakeP0f, sample_response
count, every = int(sys.argv[1]), int(sys.argv[2])
with FakeP0f() as fake:
    for i in range(0, count, every):
        fake.add_host(ipaddress.IPv4Address(0x0A000000 + i), sample_response(total_conn=i))
    print(fake.socket_path, flush=True)
    sys.stdin.read()
"""


def _measured_cli(
    argv: Sequence[str], stdin_path: Path, check: Callable[[int, dict[str, Any]], None]
) -> tuple[int, int, int]:
    """Run ``python -m p0f`` on a file as stdin, checking its output line by
    line as it arrives; return (exit code, lines, peak RSS in bytes)."""
    with stdin_path.open() as stdin, subprocess.Popen(
        [sys.executable, "-m", "p0f", *argv],
        stdin=stdin,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        lines = 0
        for line in process.stdout:
            check(lines, json.loads(line))
            lines += 1
        # wait4, unlike getrusage(RUSAGE_CHILDREN), measures this child alone.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    kib = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is KiB on Linux
    return process.returncode, lines, usage.ru_maxrss * kib


def test_100k_addresses_from_stdin_in_flat_memory_and_in_order(tmp_path: Path) -> None:
    count, every = 100_000, 4
    # The fake daemon runs in a process of its own (it records every query).
    with subprocess.Popen(
        [sys.executable, "-c", _FAKE_DAEMON, str(count), str(every)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as daemon:
        assert daemon.stdin is not None and daemon.stdout is not None
        argv = ["--json", "-t", "10", "-s", daemon.stdout.readline().strip(), "-f", "-"]
        wrong: list[str] = []

        def check(index: int, record: dict[str, Any]) -> None:
            # Every 4th host is known, its answer carrying its own index.
            expected = "ok" if index % every == 0 else "no_match"
            got = (record["address"], record["result"], record.get("total_conn", index))
            if got != (_address(index), expected, index) and len(wrong) < 5:
                wrong.append(f"line {index}: {record}")

        peaks = {}
        for size in (1_000, count):
            path = tmp_path / f"{size}.txt"
            with path.open("w") as file:
                file.writelines(f"{_address(i)}\n" for i in range(size))
            code, lines, peaks[size] = _measured_cli(argv, path, check)
            assert (code, lines, wrong) == (1, size, [])
        daemon.stdin.close()
        assert daemon.wait(30) == 0  # the fake saw no harm
    # Growth from 1,000 to 100,000 addresses.  Measured: none.  Holding the
    # input adds about 6.7 MB, holding every answer about 105 MB.
    growth = peaks[count] - peaks[1_000]
    assert growth < 4_000_000, f"peak RSS {peaks}: grew by {growth:,} bytes"


# -- after a timeout: exiting waits for the answers owed ---------------------


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        assert chunk, "the client hung up"
        data += chunk
    return data


TIMEOUT_LINE = (
    "p0f-query: p0f did not answer within 0.3 s (nothing ever came back on this "
    "connection: p0f may be at its -S connection limit); waiting up to 3 s more "
    "for the answers p0f still owes before exiting (closing sooner can kill p0f)\n"
)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A daemon's listening socket that answers only when the test says so."""
    path = str(tmp_path / "p0f.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(path)
        sock.listen()
        sock.settimeout(30)
        yield sock, path


def test_late_answer_wait_is_close_grace_plus_exit_grace() -> None:
    assert late_answer_wait(0.3) == 3.0
    assert late_answer_wait(5) == 7.0


def test_timeout_is_reported_at_once_and_the_late_answer_read_before_closing(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    with subprocess.Popen(
        [p0f_query(), "-t", "0.3", "-s", path, "192.0.2.17"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        conn, _ = sock.accept()
        with conn:
            conn.settimeout(30)
            assert _recv_exactly(conn, QUERY_SIZE) == encode_query("192.0.2.17")
            # The timeout is reported while the connection is still held ...
            assert process.stderr.readline() == TIMEOUT_LINE
            # ... so p0f's late answer still finds it open: a write to a
            # closed connection fails here (EPIPE), and kills p0f.
            conn.sendall(encode_response(sample_response(status=int(Status.NO_MATCH))))
            assert conn.recv(1) == b""  # closed only once it was read
            assert process.wait(30) == 3
            assert process.stderr.read() == ""


def test_a_silent_daemon_does_not_keep_it_from_exiting(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    with subprocess.Popen(
        [p0f_query(), "-t", "0.3", "-s", path, "192.0.2.17", "192.0.2.99"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        conn, _ = sock.accept()
        with conn:
            out, err = process.communicate(timeout=30)  # generous: it does not hang
            assert (process.returncode, out, err) == (3, "", TIMEOUT_LINE)


# -- progress ----------------------------------------------------------------


def test_progress_on_a_terminal_for_long_input(fake: FakeP0f) -> None:
    lines = "".join(f"{_address(i)}\n" for i in range(12_345))
    code, out, err = cli(
        ["--json", "-s", fake.socket_path, "-f", "-"], stdin=lines, stderr_tty=True
    )
    assert code == 1
    assert out.count("\n") == 12_345
    assert err.startswith("\rp0f-query: 1") and " addresses done\r" in err
    assert err.endswith("\rp0f-query: 12,345 addresses done\n")


@pytest.mark.parametrize(
    ("count", "stderr_tty", "stdout_tty"),
    [(12_345, False, False), (9_000, True, False), (12_345, True, True)],
    ids=["stderr-not-a-terminal", "short-input", "output-on-the-terminal-too"],
)
def test_no_progress_otherwise(
    fake: FakeP0f, count: int, stderr_tty: bool, stdout_tty: bool
) -> None:
    lines = "".join(f"{_address(i)}\n" for i in range(count))
    argv = ["--json", "-s", fake.socket_path, "-f", "-"]
    result = cli(argv, stdin=lines, stderr_tty=stderr_tty, stdout_tty=stdout_tty)
    assert (result.code, result.err) == (1, "")
    assert result.out.count("\n") == count


# -- demo --------------------------------------------------------------------


def test_demo_answers_every_sample_host_and_says_so() -> None:
    code, out, err = cli(["--demo"])
    assert code == 0
    assert err == (
        "p0f-query: demo mode: these are sample answers from a built-in fake p0f, "
        "not observations of real hosts\n"
    )
    blocks = out.split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == [
        f"Address       = {address}" for address, _ in demo_hosts()
    ]
    for line in (
        "Detected OS   = Windows 7 or 8",
        "Language      = German",
        "Detected OS   = Linux 2.2.x-3.x [generic]",
        "HTTP software = Safari 5.1-6 (ID seems legit)",
        "HTTP software = MSIE 8 or newer (ID is fake)",
        "Uptime        = 4 days 2 hrs 13 min (modulo 49 days)",
    ):
        assert line in out.splitlines()
    assert "IP sharing    = " in out


def test_demo_json_with_chosen_addresses() -> None:
    code, out, err = cli(["--demo", "--json", "2001:db8:4a1:0:0:0:0:6b", "192.0.2.1"])
    assert code == 1
    assert err.startswith("p0f-query: demo mode")
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["queried"], r["result"]) for r in records] == [
        ("2001:db8:4a1::6b", "ok"),
        ("192.0.2.1", "no_match"),
    ]
    assert records[0]["os_name"] == "FreeBSD"


def test_demo_hosts_are_realistic_and_recent() -> None:
    now = T0
    hosts = demo_hosts(now)
    assert 5 <= len(hosts) <= 6
    assert len({address for address, _ in hosts}) == len(hosts)
    assert any(ipaddress.ip_address(address).version == 6 for address, _ in hosts)
    for _, answer in hosts:
        assert isinstance(answer, RawResponse)
        assert answer.to_bytes()  # encodable as the daemon would send it
        assert answer.first_seen <= answer.last_seen <= now
        assert now - answer.last_seen < 120 * 60  # p0f forgets idle hosts after that
    assert {answer.bad_sw for _, answer in hosts} == {0, 1, 2}
    assert any(answer.last_nat and answer.uptime_min for _, answer in hosts)


def test_demo_reads_stdin_only_when_asked_with_a_dash() -> None:
    # Without "-", the demo shows every sample host whatever stdin is ...
    done = subprocess.run(
        [p0f_query(), "--demo", "--json"],
        input="192.0.2.1\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert [json.loads(line)["address"] for line in done.stdout.splitlines()] == [
        address for address, _ in demo_hosts()
    ]
    # ... and with it, the addresses piped in.
    done = subprocess.run(
        [p0f_query(), "--demo", "--json", "-"],
        input="192.0.2.1\n198.51.100.4\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert [json.loads(line)["result"] for line in done.stdout.splitlines()] == [
        "no_match",
        "ok",
    ]


def test_demo_does_not_load_the_test_helpers() -> None:
    script = (
        "import sys\n"
        "from p0f._cli import main\n"
        "code = main(['--demo', '--json'])\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('p0f.testing')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )
    assert done.stdout.splitlines()[-1] == "0 []"
    assert done.stdout.count('"result": "ok"') == len(demo_hosts())


def test_demo_daemon_answers_like_p0f() -> None:
    hosts = demo_hosts(T0)
    addresses = [address for address, _ in hosts]
    with DemoDaemon(hosts) as daemon:
        with P0f(daemon.socket_path) as client, P0f(daemon.socket_path) as other:
            answers = client.query_many([*addresses, "192.0.2.1"] * 300)
            assert [a and a.raw for a in answers] == [*(raw for _, raw in hosts), None] * 300
            assert other.query(addresses[-1]).raw == hosts[-1][1]  # two connections
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(daemon.socket_path)
            query = encode_query(addresses[0])
            sock.sendall(query[:5])  # a query in two pieces is answered whole
            bad_magic = b"\0" * 4 + query[4:]
            bad_type = query[:4] + b"\x05" + query[5:]
            sock.sendall(query[5:] + bad_magic + bad_type)
            data = _recv_exactly(sock, 3 * RESPONSE_SIZE)
        size = RESPONSE_SIZE
        got = [decode_response(data[i : i + size]) for i in range(0, len(data), size)]
        assert got[0] == hosts[0][1]
        assert [raw.status for raw in got[1:]] == [Status.BAD_QUERY, Status.BAD_QUERY]
        folder = Path(daemon.socket_path).parent
        assert folder.stat().st_mode & 0o077 == 0  # no one else's to connect to
    assert not folder.exists()


def test_demo_that_cannot_start_exits_3_in_one_line(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120)  # too long a path for a Unix socket
    deep.mkdir()
    env = {**os.environ, "TMPDIR": str(deep)}
    done = subprocess.run(
        [p0f_query(), "--demo"], env=env, capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr.startswith("p0f-query: cannot start the demo daemon: ")
    assert done.stderr.count("\n") == 1
