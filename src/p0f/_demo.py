"""Sample hosts for ``p0f-query --demo``, answered by the fake daemon.

They are made up, but each one is what p0f 3.09b could plausibly say about
a real client, and together they show every line of the text output:
generic and fuzzy matches, all three ``bad_sw`` values, NAT and OS change
detection, uptime with its wrap-around, an unknown distance and an IPv6
host.  Addresses are from the documentation ranges (RFC 5737, RFC 3849).

Times are relative to ``now``: p0f forgets a host after 120 idle minutes,
so every ``last_seen`` is within that.
"""

from __future__ import annotations

import time
from typing import Final

from ._enums import BadSoftware, MatchQuality, Status
from ._models import RawResponse
from ._wire import RESPONSE_MAGIC

__all__ = ["DEMO_NOTICE", "demo_hosts"]

DEMO_NOTICE: Final = (
    "demo mode: these are sample answers from a built-in fake p0f, "
    "not observations of real hosts"
)


def _host(
    now: int,
    *,
    first_ago: int,
    last_ago: int,
    total_conn: int,
    os_name: str,
    os_flavor: str,
    distance: int,
    link_type: str,
    os_match_q: MatchQuality = MatchQuality.NORMAL,
    http_name: str = "",
    http_flavor: str = "",
    bad_sw: BadSoftware = BadSoftware.NONE,
    language: str = "",
    uptime_min: int = 0,
    up_mod_days: int = 0,
    nat_ago: int | None = None,
    chg_ago: int | None = None,
) -> RawResponse:
    return RawResponse(
        magic=RESPONSE_MAGIC,
        status=int(Status.OK),
        first_seen=now - first_ago,
        last_seen=now - last_ago,
        total_conn=total_conn,
        uptime_min=uptime_min,
        up_mod_days=up_mod_days,
        last_nat=0 if nat_ago is None else now - nat_ago,
        last_chg=0 if chg_ago is None else now - chg_ago,
        distance=distance,
        bad_sw=int(bad_sw),
        os_match_q=int(os_match_q),
        os_name=os_name,
        os_flavor=os_flavor,
        http_name=http_name,
        http_flavor=http_flavor,
        link_type=link_type,
        language=language,
    )


def demo_hosts(now: int | None = None) -> list[tuple[str, RawResponse]]:
    """The sample hosts as ``(address, answer)``, times relative to ``now``."""
    if now is None:
        now = int(time.time())
    return [
        # A desktop browsing in German: exact SYN match, honest User-Agent.
        (
            "192.0.2.17",
            _host(
                now,
                first_ago=5520,
                last_ago=12,
                total_conn=23,
                os_name="Windows",
                os_flavor="7 or 8",
                distance=8,
                link_type="Ethernet or modem",
                http_name="Firefox",
                http_flavor="10.x or newer",
                language="German",
            ),
        ),
        # A server reached over a few hops, matched by a generic signature.
        (
            "198.51.100.4",
            _host(
                now,
                first_ago=3310,
                last_ago=45,
                total_conn=5,
                os_name="Linux",
                os_flavor="2.2.x-3.x",
                os_match_q=MatchQuality.GENERIC,
                distance=11,
                link_type="Ethernet or modem",
            ),
        ),
        (
            "198.51.100.23",
            _host(
                now,
                first_ago=1800,
                last_ago=300,
                total_conn=9,
                os_name="Mac OS X",
                os_flavor="10.x",
                distance=12,
                link_type="Ethernet or modem",
                http_name="Safari",
                http_flavor="5.1-6",
                language="English",
            ),
        ),
        # A crawler whose User-Agent claims a browser its headers contradict.
        (
            "203.0.113.66",
            _host(
                now,
                first_ago=960,
                last_ago=3,
                total_conn=41,
                os_name="Linux",
                os_flavor="3.11 and newer",
                os_match_q=MatchQuality.FUZZY,
                distance=17,
                link_type="DSL",
                http_name="MSIE",
                http_flavor="8 or newer",
                bad_sw=BadSoftware.FAKE,
            ),
        ),
        # An office gateway: several machines behind one address (NAT), so
        # the browser's OS disagrees with the SYN's, and the OS changed.
        (
            "192.0.2.200",
            _host(
                now,
                first_ago=7080,
                last_ago=1,
                total_conn=312,
                os_name="Linux",
                os_flavor="3.x",
                distance=6,
                link_type="Ethernet or modem",
                http_name="Chrome",
                http_flavor="11 or newer",
                bad_sw=BadSoftware.OS_MISMATCH,
                language="English",
                uptime_min=4 * 1440 + 2 * 60 + 13,
                up_mod_days=49,
                nat_ago=640,
                chg_ago=1900,
            ),
        ),
        # An IPv6 client seen once; its distance could not be worked out.
        (
            "2001:db8:4a1::6b",
            _host(
                now,
                first_ago=95,
                last_ago=95,
                total_conn=1,
                os_name="FreeBSD",
                os_flavor="9.x or newer",
                distance=-1,
                link_type="Ethernet or modem",
            ),
        ),
    ]
