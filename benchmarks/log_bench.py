"""Reading p0f's log: lines per second parsed into events, against a bare
``split("|")`` / ``split("=", 1)`` into dicts over the same lines.

The log is made from lines the real p0f 3.09b wrote for the real-daemon
scenarios (``tests/real``), repeated with a new client address and port for
each copy and the date moving on a second every 50 lines, so the parser's
caches see what they would in a busy log: each client a few lines, the
signatures and servers again and again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final

from p0f.log import LogParser

if TYPE_CHECKING:
    from benchmarks.__main__ import Row

SAMPLE: Final = (
    '[2026/11/27 07:06:17] mod=syn|cli=127.181.142.1/36278|srv=127.0.0.1/80|subj=cli|os=Windows 7 or 8|dist=0|params=none|raw_sig=4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0',
    '[2026/11/27 07:06:17] mod=mtu|cli=127.181.142.1/36278|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:17] mod=syn|cli=127.181.142.2/20796|srv=127.0.0.1/80|subj=cli|os=Linux 3.11 and newer|dist=0|params=none|raw_sig=4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0',
    '[2026/11/27 07:06:17] mod=mtu|cli=127.181.142.2/20796|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:17] mod=syn|cli=127.181.142.10/33150|srv=127.0.0.1/80|subj=cli|os=???|dist=55|params=excess_dist|raw_sig=4:200+?:0:1460:1234,5:mss,nop,nop,ws,eol+2:df,id+:0',
    '[2026/11/27 07:06:17] mod=mtu|cli=127.181.142.10/33150|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:17] mod=syn|cli=fd00:0:0:0:0:0:7e55:f/22573|srv=0:0:0:0:0:0:0:1/80|subj=cli|os=Linux 3.11 and newer|dist=0|params=none|raw_sig=6:64+0:0:1440:mss*20,7:mss,sok,ts,nop,ws::0',
    '[2026/11/27 07:06:17] mod=mtu|cli=fd00:0:0:0:0:0:7e55:f/22573|srv=0:0:0:0:0:0:0:1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=syn|cli=fd00:0:0:0:0:0:7e55:f/22574|srv=0:0:0:0:0:0:0:1/80|subj=cli|os=Linux 3.11 and newer|dist=0|params=none|raw_sig=6:64+0:0:1440:mss*20,7:mss,sok,ts,nop,ws::0',
    '[2026/11/27 07:06:18] mod=mtu|cli=fd00:0:0:0:0:0:7e55:f/22574|srv=0:0:0:0:0:0:0:1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=uptime|cli=fd00:0:0:0:0:0:7e55:f/22574|srv=0:0:0:0:0:0:0:1/80|subj=cli|uptime=3 days 0 hrs 1 min (modulo 49 days)|raw_freq=998.00 Hz',
    '[2026/11/27 07:06:18] mod=syn|cli=127.181.142.18/28467|srv=127.0.0.1/80|subj=cli|os=Windows 7 or 8|dist=0|params=none|raw_sig=4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.18/28467|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=syn+ack|cli=127.181.142.18/28467|srv=127.0.0.1/80|subj=srv|os=???|dist=0|params=none|raw_sig=4:64+0:0:65495:43690,7:mss,sok,ts,nop,ws:df,id+:0',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.18/28467|srv=127.0.0.1/80|subj=srv|link=???|raw_mtu=65535',
    '[2026/11/27 07:06:18] mod=http request|cli=127.181.142.18/28467|srv=127.0.0.1/80|subj=cli|app=Firefox 10.x or newer|lang=German|params=none|raw_sig=1:Host,User-Agent,Accept=[text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8],Accept-Language=[de-DE,de;q=0.8,en-US;q=0.5,en;q=0.3],Accept-Encoding=[gzip, deflate],Connection=[keep-alive]:Accept-Charset,Keep-Alive:Mozilla/5.0 (Windows NT 6.1; WOW64; rv:40.0) Gecko/20100101 Firefox/40.0',
    '[2026/11/27 07:06:18] mod=syn|cli=127.181.142.21/26704|srv=127.0.0.1/80|subj=cli|os=Windows 7 or 8|dist=0|params=none|raw_sig=4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.21/26704|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=syn+ack|cli=127.181.142.21/26704|srv=127.0.0.1/80|subj=srv|os=???|dist=0|params=none|raw_sig=4:64+0:0:65495:43690,7:mss,sok,ts,nop,ws:df,id+:0',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.21/26704|srv=127.0.0.1/80|subj=srv|link=???|raw_mtu=65535',
    '[2026/11/27 07:06:18] mod=http request|cli=127.181.142.21/26704|srv=127.0.0.1/80|subj=cli|app=Firefox 10.x or newer|lang=German|params=none|raw_sig=1:Host,User-Agent,Accept=[text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8],Accept-Language=[de-DE,de;q=0.8,en-US;q=0.5,en;q=0.3],Accept-Encoding=[gzip, deflate],Connection=[keep-alive]:Accept-Charset,Keep-Alive:Mozilla/5.0 (Macintosh; Intel Mac OS X 10.10; rv:40.0) Gecko/20100101 Firefox/40.0',
    '[2026/11/27 07:06:18] mod=host change|cli=127.181.142.21/26704|srv=127.0.0.1/80|subj=cli|reason=ua_vs_os|raw_hits=0,1,1,1',
    '[2026/11/27 07:06:18] mod=syn|cli=127.181.142.25/31068|srv=127.0.0.1/80|subj=cli|os=Windows 7 or 8|dist=0|params=none|raw_sig=4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.25/31068|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=syn|cli=127.181.142.25/31069|srv=127.0.0.1/80|subj=cli|os=Linux 3.11 and newer|dist=0|params=none|raw_sig=4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0',
    '[2026/11/27 07:06:18] mod=host change|cli=127.181.142.25/31069|srv=127.0.0.1/80|subj=cli|reason=os_diff|raw_hits=1,1,1,1',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.25/31069|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=syn|cli=127.181.142.25/31070|srv=127.0.0.1/80|subj=cli|os=Windows 7 or 8|dist=0|params=none|raw_sig=4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0',
    '[2026/11/27 07:06:18] mod=host change|cli=127.181.142.25/31070|srv=127.0.0.1/80|subj=cli|reason=os_diff|raw_hits=2,2,2,2',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.25/31070|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=syn|cli=127.181.142.25/31071|srv=127.0.0.1/80|subj=cli|os=Linux 3.11 and newer|dist=0|params=none|raw_sig=4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0',
    '[2026/11/27 07:06:18] mod=ip sharing|cli=127.181.142.25/31071|srv=127.0.0.1/80|subj=cli|reason=os_diff|raw_hits=3,3,3,3',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.25/31071|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=syn|cli=127.181.142.27/37098|srv=127.0.0.1/80|subj=cli|os=Linux 3.11 and newer|dist=0|params=none|raw_sig=4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.27/37098|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=syn|cli=127.181.142.27/37099|srv=127.0.0.1/80|subj=cli|os=Linux 3.11 and newer|dist=0|params=none|raw_sig=4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0',
    '[2026/11/27 07:06:18] mod=mtu|cli=127.181.142.27/37099|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500',
    '[2026/11/27 07:06:18] mod=uptime|cli=127.181.142.27/37099|srv=127.0.0.1/80|subj=cli|uptime=0 days 20 hrs 34 min (modulo 49 days)|raw_freq=998.00 Hz',
)
"""Lines the real p0f 3.09b wrote (tests/real scenarios, TZ=UTC)."""

_CLIENT: Final = re.compile(r"cli=([0-9a-f.:]+)/(\d+)")


def synthetic_log(count: int) -> Iterator[str]:
    """``count`` lines (each with its newline) in p0f's format, no two
    copies of the sample sharing a client."""
    produced = 0
    copy = 0
    while True:
        for line in SAMPLE:
            if produced == count:
                return
            second = produced // 50
            stamp = f"[2026/11/{1 + second // 86400 % 28:02d} {second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}]"

            def client(match: re.Match[str]) -> str:
                address, port = match[1], int(match[2])
                last = address.rsplit(".", 1)[-1] if "." in address else str(int(address.rsplit(":", 1)[-1], 16) % 250)
                if ":" in address:
                    moved = f"fd00:0:0:0:0:{copy >> 16:x}:{copy & 0xFFFF:x}:{last}"
                else:
                    moved = f"10.{copy >> 8 & 255}.{copy & 255}.{last}"
                return f"cli={moved}/{1024 + (port + copy) % 64000}"

            yield stamp + _CLIENT.sub(client, line[21:], count=1) + "\n"
            produced += 1
        copy += 1


def bare_split(lines: list[str]) -> int:
    """The plainest reader: every line a dict of its ``key=value`` parts."""
    count = 0
    for line in lines:
        fields = dict(part.split("=", 1) for part in line.rstrip("\n").split("|"))
        count += len(fields)
    return count


def parse_all(lines: list[str]) -> int:
    """What a user's code costs: a parser, every line an event, one field read."""
    count = 0
    for event in LogParser().parse_lines(lines):
        count += event.client_port > 0
    return count


def run(
    rounds: int, count: int, row: type[Row], median_pair: Callable[..., tuple[float, float]]
) -> list[Row]:
    lines = list(synthetic_log(count))
    ours, base = median_pair(lambda: parse_all(lines), lambda: bare_split(lines), 1, rounds)
    per_line_ours, per_line_base = ours / count, base / count
    return [
        row(
            f"p0f log, {count:,} lines parsed into events",
            "bare str.split of each line into a dict",
            per_line_ours,
            per_line_base,
            "<= 3x",
            per_line_ours / per_line_base <= 3,
        )
    ]
