"""The parsing rules: how each parsed field comes from a wire value, and back.

:data:`RULES` is the one table of them.  :meth:`P0fResponse.from_raw
<p0f.P0fResponse.from_raw>` applies the ``parse`` column,
:meth:`~p0f.P0fResponse.to_raw` the ``unparse`` column, the cattrs parsing
converter goes through those two, and the Django model stores each field
by its rule.  A rule changed here changes all of them.

``parse`` takes a wire value that the decoder has already checked;
``unparse`` is its inverse for every parsed value (``parse(unparse(v)) ==
v``), and ``unparse(parse(w)) == w`` for every wire value but 255 for
``distance``, p0f's second spelling of "unknown" (it becomes -1).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any, Final

import attrs

from ._enums import BadSoftware, MatchQuality

UTC: Final = _dt.timezone.utc
EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=UTC)


@attrs.frozen
class Rule:
    """One parsed field of :class:`~p0f.P0fResponse` and its wire field."""

    #: The field of :class:`~p0f.P0fResponse`.
    name: str
    #: The field of :class:`~p0f.RawResponse` it comes from.
    wire: str
    #: Wire value to parsed value.
    parse: Callable[[Any], Any]
    #: Parsed value to wire value.
    unparse: Callable[[Any], Any]


_SECOND: Final = _dt.timedelta(seconds=1)
_MINUTE: Final = _dt.timedelta(minutes=1)
_DAY: Final = _dt.timedelta(days=1)


# No cache here: with a functools.lru_cache on the datetimes and on
# up_mod_days, decoding and reading every field of the benchmark's answers
# measured 1.43x the hand-written parse, and 1.42x without (medians of 7
# alternating runs); most first_seen values would miss it anyway.
def _moment(seconds: int) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(seconds, UTC)


def _moment_or_none(seconds: int) -> _dt.datetime | None:
    return _dt.datetime.fromtimestamp(seconds, UTC) if seconds else None


def _seconds(moment: _dt.datetime | None) -> int:
    return (moment - EPOCH) // _SECOND if moment is not None else 0


def _minutes_or_none(minutes: int) -> _dt.timedelta | None:
    return _MINUTE * minutes if minutes else None


def _minutes(delta: _dt.timedelta | None) -> int:
    return delta // _MINUTE if delta else 0


def _days_or_none(days: int) -> _dt.timedelta | None:
    return _DAY * days if days else None


def _days(delta: _dt.timedelta | None) -> int:
    return delta.days if delta else 0


# p0f 3.09b sends -1 for "unknown distance", or 255 when the host's entry
# holds -1 in a byte (a host seen only through its HTTP traffic, say).
_NO_DISTANCE: Final = frozenset((-1, 255))


def _distance(hops: int) -> int | None:
    return None if hops in _NO_DISTANCE else hops


def _hops(distance: int | None) -> int:
    return -1 if distance is None else distance


def _text_or_none(text: str) -> str | None:
    return text or None


def _text(text: str | None) -> str:
    return text or ""


def _member_of(enum_type: type[BadSoftware] | type[MatchQuality]) -> Callable[[int], Any]:
    members = {int(m): m for m in enum_type}

    def member(value: int) -> Any:
        try:
            return members[value]
        except KeyError:
            raise ValueError(f"{value!r} is not a valid {enum_type.__name__}") from None

    return member


def _same(value: Any) -> Any:
    return value


RULES: Final = (
    Rule("first_seen", "first_seen", _moment, _seconds),
    Rule("last_seen", "last_seen", _moment, _seconds),
    Rule("total_conn", "total_conn", _same, _same),
    Rule("uptime", "uptime_min", _minutes_or_none, _minutes),
    Rule("up_mod_days", "up_mod_days", _days_or_none, _days),
    Rule("last_nat", "last_nat", _moment_or_none, _seconds),
    Rule("last_chg", "last_chg", _moment_or_none, _seconds),
    Rule("distance", "distance", _distance, _hops),
    Rule("bad_sw", "bad_sw", _member_of(BadSoftware), int),
    Rule("os_match_q", "os_match_q", _member_of(MatchQuality), int),
    Rule("os_name", "os_name", _text_or_none, _text),
    Rule("os_flavor", "os_flavor", _text_or_none, _text),
    Rule("http_name", "http_name", _text_or_none, _text),
    Rule("http_flavor", "http_flavor", _text_or_none, _text),
    Rule("link_type", "link_type", _text_or_none, _text),
    Rule("language", "language", _text_or_none, _text),
)
"""Every parsed field of :class:`~p0f.P0fResponse`, in its field order."""
