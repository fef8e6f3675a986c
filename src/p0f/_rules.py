"""The parsing rules: how each parsed field comes from a wire value, and back.

:data:`RULES` is the one table of them.  :meth:`P0fResponse.from_raw
<p0f.P0fResponse.from_raw>` applies the ``parse`` column,
:meth:`~p0f.P0fResponse.to_raw` the ``unparse`` column, the cattrs parsing
converter goes through those two, and the Django model stores each field
by its rule.  A rule changed here changes all of them.

A rule states its parse as a Python expression of the wire value,
``value``: :meth:`~p0f.P0fResponse.from_raw` is generated with every
expression written inline (a function call per field would cost more than
most of the conversions), and :attr:`Rule.parse` is the same expression
compiled as a function, for everything else.

``parse`` takes a wire value that the decoder has already checked;
``unparse`` is its inverse for every parsed value (``parse(unparse(v)) ==
v``), and ``unparse(parse(w)) == w`` for every wire value but 255 for
``distance``, p0f's second spelling of "unknown" (it becomes -1).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs

from ._enums import BadSoftware, MatchQuality

UTC: Final = _dt.timezone.utc
EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=UTC)


# No cache on the datetimes: with a functools.lru_cache on them and on
# up_mod_days, decoding and reading every field of the benchmark's answers
# measured 1.43x the hand-written parse, and 1.42x without (medians of 7
# alternating runs); most first_seen values would miss it anyway.
_SECOND: Final = _dt.timedelta(seconds=1)
_MINUTE: Final = _dt.timedelta(minutes=1)
_DAY: Final = _dt.timedelta(days=1)


def _seconds(moment: _dt.datetime | None) -> int:
    return (moment - EPOCH) // _SECOND if moment is not None else 0


def _minutes(delta: _dt.timedelta | None) -> int:
    return delta // _MINUTE if delta else 0


def _days(delta: _dt.timedelta | None) -> int:
    return delta.days if delta else 0


# p0f 3.09b sends -1 for "unknown distance", or 255 when the host's entry
# holds -1 in a byte (a host seen only through its HTTP traffic, say).
_NO_DISTANCE: Final = frozenset((-1, 255))


def _hops(distance: int | None) -> int:
    return -1 if distance is None else distance


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


NAMESPACE: Final[Mapping[str, object]] = MappingProxyType(
    {
        "moment": _dt.datetime.fromtimestamp,
        "UTC": UTC,
        "MINUTE": _MINUTE,
        "DAY": _DAY,
        "NO_DISTANCE": _NO_DISTANCE,
        "bad_software": _member_of(BadSoftware),
        "match_quality": _member_of(MatchQuality),
    }
)
"""The names a rule's expression may use, besides ``value``."""


def _compile(expression: str) -> Callable[[Any], Any]:
    function: Callable[[Any], Any] = eval(f"lambda value: {expression}", dict(NAMESPACE))
    return function


@attrs.frozen
class Rule:
    """One parsed field of :class:`~p0f.P0fResponse` and its wire field."""

    #: The field of :class:`~p0f.P0fResponse`.
    name: str
    #: The field of :class:`~p0f.RawResponse` it comes from.
    wire: str
    #: Wire value to parsed value: an expression of ``value`` over
    #: :data:`NAMESPACE`.
    expression: str
    #: Parsed value to wire value.
    unparse: Callable[[Any], Any]
    #: Wire value to parsed value: :attr:`expression` as a function.
    parse: Callable[[Any], Any] = attrs.field(init=False, repr=False, eq=False)

    @parse.default
    def _parse(self) -> Callable[[Any], Any]:
        return _compile(self.expression)


_MOMENT: Final = "moment(value, UTC)"
_MOMENT_OR_NONE: Final = "moment(value, UTC) if value else None"
_TEXT_OR_NONE: Final = "value or None"

RULES: Final = (
    Rule("first_seen", "first_seen", _MOMENT, _seconds),
    Rule("last_seen", "last_seen", _MOMENT, _seconds),
    Rule("total_conn", "total_conn", "value", _same),
    Rule("uptime", "uptime_min", "MINUTE * value if value else None", _minutes),
    Rule("up_mod_days", "up_mod_days", "DAY * value if value else None", _days),
    Rule("last_nat", "last_nat", _MOMENT_OR_NONE, _seconds),
    Rule("last_chg", "last_chg", _MOMENT_OR_NONE, _seconds),
    Rule("distance", "distance", "None if value in NO_DISTANCE else value", _hops),
    Rule("bad_sw", "bad_sw", "bad_software(value)", int),
    Rule("os_match_q", "os_match_q", "match_quality(value)", int),
    Rule("os_name", "os_name", _TEXT_OR_NONE, _text),
    Rule("os_flavor", "os_flavor", _TEXT_OR_NONE, _text),
    Rule("http_name", "http_name", _TEXT_OR_NONE, _text),
    Rule("http_flavor", "http_flavor", _TEXT_OR_NONE, _text),
    Rule("link_type", "link_type", _TEXT_OR_NONE, _text),
    Rule("language", "language", _TEXT_OR_NONE, _text),
)
"""Every parsed field of :class:`~p0f.P0fResponse`, in its field order."""
