"""A log of 1,000,000 lines is read with flat memory.

The test writes the log; a subprocess (so the measure is its own) reads it with
:func:`p0f.log.read_log` (every line a new client and port, the worst case
for the parser's caches), and reports its resident memory after the first
100,000 lines and at the end, and its peak (VmHWM).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

LINES = 1_000_000

TEMPLATES = [
    "mod=syn|cli={c}/{p}|srv=127.0.0.1/80|subj=cli|os=Windows 7 or 8|dist=0|params=none|"
    "raw_sig=4:128+0:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0",
    "mod=mtu|cli={c}/{p}|srv=127.0.0.1/80|subj=cli|link=Ethernet or modem|raw_mtu=1500",
    "mod=http request|cli={c}/{p}|srv=127.0.0.1/80|subj=cli|app=Firefox 10.x or newer|"
    "lang=German|params=none|raw_sig=1:Host,User-Agent,Accept=[text/html],"
    "Accept-Language=[de-DE,de;q=0.8],Connection=[keep-alive]:Accept-Charset,Keep-Alive:"
    "Mozilla/5.0 (Windows NT 6.1; rv:40.0) Gecko/20100101 Firefox/40.0",
    "mod=uptime|cli={c}/{p}|srv=127.0.0.1/80|subj=cli|"
    "uptime=0 days 20 hrs 34 min (modulo 49 days)|raw_freq=998.00 Hz",
    "mod=host change|cli={c}/{p}|srv=127.0.0.1/80|subj=cli|reason=os_diff ttl|raw_hits=1,1,1,1",
]

SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from p0f.log import read_log

    def rss():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()

    def peak():
        # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak.
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmHWM")

    path, count = sys.argv[1], int(sys.argv[2])
    seen = 0
    kinds = set()
    for event in read_log(path):
        seen += 1
        kinds.add(type(event).__name__)
        if seen == count // 10:
            warm = rss()
    print(json.dumps({
        "lines": seen,
        "kinds": len(kinds),
        "rss_warm": warm,
        "rss_end": rss(),
        "peak": peak(),
    }))
    """
)


def write_log(path: Path, count: int) -> None:
    """``count`` lines of five kinds, each line a new client and port."""
    with open(path, "w", encoding="utf-8") as log:
        for n in range(count):
            s = n // 40
            stamp = f"[2026/11/{1 + s // 86400 % 28:02d} {s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}]"
            client = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
            log.write(f"{stamp} {TEMPLATES[n % 5].format(c=client, p=1024 + n % 60000)}\n")


def test_a_million_lines_with_flat_memory(tmp_path: Path) -> None:
    write_log(tmp_path / "p0f.log", LINES)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "p0f.log"), str(LINES)],
        capture_output=True, text=True, timeout=600, check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["lines"] == LINES and figures["kinds"] == 5
    growth = figures["rss_end"] - figures["rss_warm"]
    peak_growth = figures["peak"] - figures["rss_warm"]
    # Keeping even one small object per line would add well over 50 MiB.
    assert growth < 8 << 20, figures
    assert peak_growth < 8 << 20, figures
