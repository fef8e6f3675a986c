"""The baseline for reading a whole answer: an eager unpack and parse by hand.

This is the code a user would write without the library: one
``struct.unpack``, a check of magic and status, and the conversions the
library makes (UTC datetimes, timedeltas, the two enums, ``None`` for 0,
-1/255 and empty strings), inline, with no caches.
"""

from __future__ import annotations

import datetime as dt
import random
import struct
from typing import Final

from p0f import BadSoftware, MatchQuality
from p0f.testing import sample_response

_ANSWER: Final = struct.Struct("=9IhBB32s32s32s32s32s32s")
_UTC: Final = dt.timezone.utc
_MAGIC: Final = 0x50304602
_OK: Final = 0x10

FIELDS: Final = (
    "first_seen",
    "last_seen",
    "total_conn",
    "uptime",
    "up_mod_days",
    "last_nat",
    "last_chg",
    "distance",
    "bad_sw",
    "os_match_q",
    "os_name",
    "os_flavor",
    "http_name",
    "http_flavor",
    "link_type",
    "language",
)
"""The parsed fields, in the order :func:`hand_parse` returns them."""


def hand_parse(data: bytes) -> tuple[object, ...]:
    """Every parsed field of one answer, in the order of :data:`FIELDS`."""
    (
        magic,
        status,
        first_seen,
        last_seen,
        total_conn,
        uptime_min,
        up_mod_days,
        last_nat,
        last_chg,
        distance,
        bad_sw,
        os_match_q,
        os_name,
        os_flavor,
        http_name,
        http_flavor,
        link_type,
        language,
    ) = _ANSWER.unpack(data)
    if magic != _MAGIC or status != _OK:
        raise ValueError("not an OK answer")
    return (
        dt.datetime.fromtimestamp(first_seen, _UTC),
        dt.datetime.fromtimestamp(last_seen, _UTC),
        total_conn,
        dt.timedelta(minutes=uptime_min) if uptime_min else None,
        dt.timedelta(days=up_mod_days) if up_mod_days else None,
        dt.datetime.fromtimestamp(last_nat, _UTC) if last_nat else None,
        dt.datetime.fromtimestamp(last_chg, _UTC) if last_chg else None,
        None if distance == -1 or distance == 255 else distance,
        BadSoftware(bad_sw),
        MatchQuality(os_match_q),
        os_name.partition(b"\0")[0].decode("latin-1") or None,
        os_flavor.partition(b"\0")[0].decode("latin-1") or None,
        http_name.partition(b"\0")[0].decode("latin-1") or None,
        http_flavor.partition(b"\0")[0].decode("latin-1") or None,
        link_type.partition(b"\0")[0].decode("latin-1") or None,
        language.partition(b"\0")[0].decode("latin-1") or None,
    )


# What p0f says of the hosts a web server sees: a few kinds of system, each
# host first seen at its own time, the last sightings within a few seconds.
_PROFILES: Final = (
    {"os_name": "Linux", "os_flavor": "2.2.x-3.x", "link_type": "Ethernet or modem"},
    {"os_name": "Windows", "os_flavor": "7 or 8", "http_name": "Firefox",
     "http_flavor": "10.x or newer", "language": "German", "link_type": "DSL"},
    {"os_name": "Mac OS X", "os_flavor": "10.x", "link_type": "Ethernet or modem"},
    {"link_type": "generic tunnel or VPN"},
)  # fmt: skip


def answers(count: int = 4096, now: int = 1_800_000_000) -> list[bytes]:
    """``count`` OK answers about as many hosts, with every kind of value."""
    rng = random.Random(0)
    pool = []
    for i in range(count):
        profile = dict(os_name="", os_flavor="", http_name="", http_flavor="",
                       language="", link_type="")  # fmt: skip
        profile.update(_PROFILES[i % len(_PROFILES)])
        raw = sample_response(
            first_seen=now - rng.randrange(1, 7200),
            last_seen=now - rng.randrange(8),
            total_conn=rng.randrange(1, 500),
            uptime_min=rng.choice((0, rng.randrange(1, 100_000))),
            up_mod_days=rng.choice((0, 49)),
            last_nat=rng.choice((0, 0, 0, now - rng.randrange(7200))),
            last_chg=rng.choice((0, 0, 0, 0, 0, 0, 0, now - rng.randrange(7200))),
            distance=rng.choice((-1, 0, 5, 11, 255)),
            bad_sw=rng.choice((0, 0, 0, 1, 2)),
            os_match_q=rng.choice((0, 0, 1, 2, 3)),
            **profile,
        )
        pool.append(raw.to_bytes())
    return pool
