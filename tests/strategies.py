"""Hypothesis strategies for the p0f wire format, in one place."""

from __future__ import annotations

import datetime as dt
import ipaddress

from hypothesis import strategies as st

from p0f import RESPONSE_MAGIC, BadSoftware, MatchQuality, P0fResponse, RawResponse, Status

u32 = st.integers(min_value=0, max_value=2**32 - 1)
i16 = st.integers(min_value=-(2**15), max_value=2**15 - 1)

#: Strings a p0f field can carry: Latin-1, no NUL, at most 32 bytes.
field_text = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=32
)

ipv4 = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
ipv6 = st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1)).filter(
    lambda a: a.ipv4_mapped is None
)
addresses = st.one_of(ipv4, ipv6)


def raw_responses(status: st.SearchStrategy[int] | None = None) -> st.SearchStrategy[RawResponse]:
    """Any answer the format can carry with valid enums (OK status by default)."""
    return st.builds(
        RawResponse,
        magic=st.just(RESPONSE_MAGIC),
        status=status if status is not None else st.just(int(Status.OK)),
        first_seen=u32,
        last_seen=u32,
        total_conn=u32,
        uptime_min=u32,
        up_mod_days=st.integers(0, 999_999_999),
        last_nat=u32,
        last_chg=u32,
        distance=i16,
        bad_sw=st.integers(0, 2),
        os_match_q=st.integers(0, 3),
        os_name=field_text,
        os_flavor=field_text,
        http_name=field_text,
        http_flavor=field_text,
        link_type=field_text,
        language=field_text,
    )


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MAX_DAYS = 999_999_999  # the decoder's limit for up_mod_days (a timedelta's)

#: A time the wire can carry: whole seconds from 1970 to 2106, in UTC.
moments = u32.map(lambda seconds: EPOCH + dt.timedelta(seconds=seconds))
#: The same but 1970-01-01 00:00, which the wire spells like "never".
known_moments = st.integers(1, 2**32 - 1).map(
    lambda seconds: EPOCH + dt.timedelta(seconds=seconds)
)
#: A string p0f knows: not empty, since "" is how the wire says "unknown".
known_text = st.text(
    alphabet=st.characters(min_codepoint=1, max_codepoint=255), min_size=1, max_size=32
)


def parsed_responses() -> st.SearchStrategy[P0fResponse]:
    """Any parsed answer the wire can carry, built from parsed values."""
    return st.builds(
        P0fResponse,
        first_seen=moments,
        last_seen=moments,
        total_conn=u32,
        uptime=st.none() | st.integers(1, 2**32 - 1).map(lambda m: dt.timedelta(minutes=m)),
        up_mod_days=st.none() | st.integers(1, MAX_DAYS).map(lambda d: dt.timedelta(days=d)),
        last_nat=st.none() | known_moments,
        last_chg=st.none() | known_moments,
        distance=st.none() | i16.filter(lambda hops: hops not in (-1, 255)),
        bad_sw=st.sampled_from(BadSoftware),
        os_match_q=st.sampled_from(MatchQuality),
        os_name=st.none() | known_text,
        os_flavor=st.none() | known_text,
        http_name=st.none() | known_text,
        http_flavor=st.none() | known_text,
        link_type=st.none() | known_text,
        language=st.none() | known_text,
    )
