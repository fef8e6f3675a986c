"""cattrs converters between the records and plain data.

Each factory returns a new private :class:`cattrs.Converter`; none touches
cattrs' global converter, so an application's own hooks never change how
p0f answers are converted, and the other way round.

- :func:`make_raw_converter`: a mapping of wire values to and from
  :class:`~p0f.RawResponse`.
- :func:`make_parsing_converter`: a :class:`~p0f.RawResponse` (or a mapping
  of wire values) structured into a :class:`~p0f.P0fResponse` by the
  parsing rules, and a :class:`~p0f.P0fResponse` unstructured into its
  wire values (the rules' inverses, as :meth:`~p0f.P0fResponse.to_raw`).
- :func:`make_json_converter`: a :class:`~p0f.P0fResponse` to and from a
  JSON-ready dictionary: ISO 8601 UTC strings for times, whole seconds for
  durations, member names for ``bad_sw`` and ``os_match_q``, ``null`` for
  unknowns.  ``raw`` is left out; structuring rebuilds it.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._enums import BadSoftware, MatchQuality
from ._models import P0fResponse, RawResponse

__all__ = ["make_json_converter", "make_parsing_converter", "make_raw_converter"]

attrs.resolve_types(RawResponse)
attrs.resolve_types(P0fResponse)


def make_raw_converter() -> cattrs.Converter:
    """Wire values: ``dict`` to :class:`~p0f.RawResponse` and back.

    Unknown keys are an error, so a typo does not pass silently.
    """
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(
        RawResponse,
        make_dict_structure_fn(RawResponse, converter, _cattrs_forbid_extra_keys=True),
    )
    return converter


def make_parsing_converter() -> cattrs.Converter:
    """Structure a :class:`~p0f.P0fResponse` from wire values, and back.

    ``converter.structure(raw, P0fResponse)`` takes a :class:`~p0f.RawResponse`
    or a mapping of wire values (as :func:`make_raw_converter` makes them);
    ``converter.unstructure(raw)`` gives such a mapping back, and so does
    ``converter.unstructure(response)`` for a :class:`~p0f.P0fResponse`:
    the wire values of its ``raw`` (as decoded, or derived by
    :meth:`~p0f.P0fResponse.to_raw` for a record built from parsed values).
    """
    converter = make_raw_converter()

    def structure(value: Any, _: type[Any]) -> P0fResponse:
        if not isinstance(value, RawResponse):
            value = converter.structure(value, RawResponse)
        return P0fResponse.from_raw(value)

    def unstructure(response: P0fResponse) -> Any:
        return converter.unstructure(response.raw, RawResponse)

    converter.register_structure_hook(P0fResponse, structure)
    converter.register_unstructure_hook(P0fResponse, unstructure)
    return converter


def _from_iso(value: Any, _: type[Any]) -> _dt.datetime:
    moment = _dt.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"time without a UTC offset: {value!r}")
    return moment.astimezone(_dt.timezone.utc)


def _iso(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


def make_json_converter() -> cattrs.Converter:
    """A :class:`~p0f.P0fResponse` to and from JSON-ready data.

    ``unstructure(response)`` gives a ``dict`` that :func:`json.dumps` takes
    as it is; ``structure(data, P0fResponse)`` gives back an equal record.
    """
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_unstructure_hook(_dt.datetime, _iso)
    converter.register_structure_hook(_dt.datetime, _from_iso)
    converter.register_unstructure_hook(
        _dt.timedelta, lambda delta: int(delta.total_seconds())
    )
    converter.register_structure_hook(
        _dt.timedelta, lambda seconds, _: _dt.timedelta(seconds=_whole(seconds))
    )
    for enum_type in (BadSoftware, MatchQuality):
        converter.register_unstructure_hook(enum_type, lambda member: member.name)
        converter.register_structure_hook(enum_type, _by_name)
    converter.register_unstructure_hook(
        P0fResponse,
        make_dict_unstructure_fn(P0fResponse, converter, raw=override(omit=True)),
    )
    converter.register_structure_hook(
        P0fResponse,
        make_dict_structure_fn(
            P0fResponse,
            converter,
            raw=override(omit=True),
            _cattrs_forbid_extra_keys=True,
        ),
    )
    return converter


def _whole(seconds: Any) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise TypeError(f"a duration is a whole number of seconds, got {seconds!r}")
    return seconds


def _by_name(name: Any, enum_type: type[Any]) -> Any:
    if not isinstance(name, str):
        raise TypeError(f"{enum_type.__name__} is given by name, got {name!r}")
    try:
        return enum_type[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a {enum_type.__name__} member") from None
