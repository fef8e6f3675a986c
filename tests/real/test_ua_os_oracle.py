"""p0f itself as the oracle for the ``ua_os`` rule, offline.

Hypothesis writes a ``p0f.fp`` (Debian's, with its ``ua_os`` line replaced)
and a capture file: one host per User-Agent, each a Windows SYN, the
server's SYN+ACK, an ACK and an honest Firefox request.  p0f reads both
(``-f``, ``-r``: no network, no root) and either refuses the file, or logs
a ``ua_vs_os`` reason for exactly the hosts whose User-Agent claims another
OS than Windows.  :class:`p0f.UaOsRules` must refuse the same files and
flag the same User-Agents.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p0f import UaOsError, UaOsRules

from .daemon import find_p0f
from .p0flog import read_log
from .scenarios import SCAPY_MISSING

pytestmark = pytest.mark.real_daemon

DEBIAN_FP: Final = Path("/etc/p0f/p0f.fp")
P0F: Final = find_p0f()


def _missing() -> str | None:
    if P0F is None or not DEBIAN_FP.exists():
        return "p0f is not installed (Debian: apt-get install p0f)"
    return SCAPY_MISSING


@pytest.fixture(scope="module", autouse=True)
def requirements() -> None:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but p0f cannot be run: {reason}", pytrace=False)
        pytest.skip(reason)


_TOKENS: Final = ["Windows", "windows", "Linux", "linux", "iPhone", "iPad", "Mac OS X",
                  "MacOS X", "SunOS", "Win", "dows", "FreeBSD", "Android", " ", ";", "(", ")"]
_NAMES: Final = ["Linux", "linux", "Windows", "WINDOWS", "iOS", "Mac OS X", "MacOS X",
                 "FreeBSD", "Solaris", "Android", "Other OS"]

# A User-Agent: tokens p0f looks for, and any Latin-1 text that can sit in
# a header (no CR, LF or NUL).
_header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=255, blacklist_characters="\x7f"), max_size=6
)
user_agents = st.lists(st.sampled_from(_TOKENS) | _header_text, max_size=6).map("".join)

_entry = st.builds(
    lambda name, text: name if text is None else f"{name}=[{text}]",
    st.sampled_from(_NAMES),
    st.none() | st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=2).map("".join),
)
# A ua_os value: well-formed entries, or any text with the line's own
# characters mixed in (a NUL or a line end would cut the file itself).
ua_os_values = st.one_of(
    st.lists(_entry, max_size=6).map(",".join),
    st.lists(_entry | st.text(st.sampled_from("=[],;\r\t x!?()./-_Linux")), max_size=5).map(
        "".join
    ),
    st.text(st.characters(min_codepoint=1, max_codepoint=255, blacklist_characters="\n")),
)

_FIREFOX_HEADERS: Final = (
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\n"
    "Connection: keep-alive\r\n\r\n"
)


def _capture(path: Path, agents: list[str]) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    windows = [("MSS", 1460), ("NOP", None), ("WScale", 8), ("NOP", None), ("NOP", None),
               ("SAckOK", b"")]
    packets = []
    for n, agent in enumerate(agents):
        client, server, port = f"10.9.{n // 250}.{n % 250 + 1}", "10.8.0.1", 40000 + n
        request = (f"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {agent}\r\n"
                   + _FIREFOX_HEADERS).encode("latin-1")
        out = IP(src=client, dst=server, ttl=128, flags="DF", id=n + 1)
        back = IP(src=server, dst=client, ttl=64, flags="DF", id=n + 1)
        packets += [
            Ether() / out / TCP(sport=port, dport=80, flags="S", seq=1000, window=8192,
                                options=windows),
            Ether() / back / TCP(sport=80, dport=port, flags="SA", seq=5000, ack=1001,
                                 window=43690, options=[("MSS", 1460)]),
            Ether() / out / TCP(sport=port, dport=80, flags="A", seq=1001, ack=5001,
                                window=256),
            Ether() / out / TCP(sport=port, dport=80, flags="PA", seq=1001, ack=5001,
                                window=256) / Raw(request),
        ]
    wrpcap(str(path), packets)


def _with_line(value: str) -> str:
    text = DEBIAN_FP.read_text(encoding="latin-1")
    lines = [f"ua_os = {value}" if line.startswith("ua_os") else line
             for line in text.split("\n")]
    return "\n".join(lines)


@given(ua_os_values, st.lists(user_agents, min_size=1, max_size=12))
def test_p0f_refuses_and_flags_what_the_rules_do(value: str, agents: list[str]) -> None:
    assert P0F is not None
    agents = [f"{agent} Firefox/40.0" for agent in agents]  # an honest Firefox
    with TemporaryDirectory() as scratch:
        work = Path(scratch)
        fp = work / "p0f.fp"
        fp.write_bytes(_with_line(value).encode("latin-1"))
        try:
            rules: UaOsRules | None = UaOsRules.from_file(fp)
        except UaOsError:
            rules = None
        _capture(work / "t.pcap", agents)
        done = subprocess.run(
            [P0F, "-f", str(fp), "-r", str(work / "t.pcap"), "-o", str(work / "log")],
            capture_output=True, timeout=30, check=False,
        )
        refused = b"PROGRAM ABORT" in done.stdout + done.stderr
        assert refused == (rules is None), (done.returncode, done.stdout[-300:], rules)
        if rules is None:
            return
        assert done.returncode == 0
        lines = read_log(work / "log")
    apps = [line for line in lines if line.mod == "http request"]
    assert len(apps) == len(agents) and all(a.field("app").startswith("Firefox") for a in apps)
    flagged = {
        str(line.client) for line in lines
        if line.mod == "host change" and "ua_vs_os" in line.fields.get("reason", "").split()
    }
    for n, agent in enumerate(agents):
        claimed = rules.claimed_os(agent)
        ours = claimed is not None and claimed.lower() != "windows"
        assert (f"10.9.{n // 250}.{n % 250 + 1}" in flagged) == ours, (agent, claimed, rules)
