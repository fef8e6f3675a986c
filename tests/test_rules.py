"""The one table of parsing rules, and everything that goes through it:
from_raw, to_raw, the cattrs converters (the Django model's tests are in
tests/django/test_models.py)."""

from __future__ import annotations

import datetime as dt
import json

import attrs
from hypothesis import given

from p0f import P0fResponse, RawResponse, decode_response
from p0f._rules import RULES
from p0f._wire import RESPONSE_FIELDS
from p0f.converters import make_json_converter, make_parsing_converter, make_raw_converter

from .strategies import parsed_responses, raw_responses


def test_the_table_has_one_rule_per_parsed_field_in_field_order() -> None:
    parsed = [field.name for field in attrs.fields(P0fResponse) if field.name != "raw"]
    assert [rule.name for rule in RULES] == parsed
    wires = [rule.wire for rule in RULES]
    assert len(set(wires)) == len(wires)
    assert set(wires) == set(RESPONSE_FIELDS) - {"magic", "status"}
    assert [field.name for field in attrs.fields(RawResponse)] == list(RESPONSE_FIELDS)


@given(raw_responses())
def test_from_raw_applies_every_rule_to_its_wire_field(raw: RawResponse) -> None:
    response = P0fResponse.from_raw(raw)
    for rule in RULES:
        expected = rule.parse(getattr(raw, rule.wire))
        value = getattr(response, rule.name)
        assert value == expected and type(value) is type(expected), rule.name
    assert response.raw is raw


@given(raw_responses())
def test_every_rule_inverts_on_wire_values(raw: RawResponse) -> None:
    for rule in RULES:
        wire = getattr(raw, rule.wire)
        if rule.name == "distance" and wire == 255:
            wire = -1  # p0f's second spelling of "unknown"
        assert rule.unparse(rule.parse(wire)) == wire, rule.name


@given(parsed_responses())
def test_every_rule_inverts_on_parsed_values(response: P0fResponse) -> None:
    for rule in RULES:
        value = getattr(response, rule.name)
        assert rule.parse(rule.unparse(value)) == value, rule.name


@given(parsed_responses())
def test_to_raw_then_from_raw_is_identity(response: P0fResponse) -> None:
    raw = response.to_raw()
    assert raw == response.raw
    assert P0fResponse.from_raw(raw) == response
    # ... and the wire carries it: the bytes decode to the same record.
    assert P0fResponse.from_raw(decode_response(raw.to_bytes())) == response


@given(parsed_responses())
def test_parsed_times_are_utc(response: P0fResponse) -> None:
    again = P0fResponse.from_raw(response.raw)
    for name in ("first_seen", "last_seen", "last_nat", "last_chg"):
        moment = getattr(again, name)
        assert moment is None or moment.tzinfo is dt.timezone.utc


@given(parsed_responses())
def test_parsing_converter_round_trips_parsed_records(response: P0fResponse) -> None:
    converter = make_parsing_converter()
    data = converter.unstructure(response)
    assert data == make_raw_converter().unstructure(response.to_raw())
    assert converter.structure(data, P0fResponse) == response
    assert converter.structure(json.loads(json.dumps(data)), P0fResponse) == response


@given(raw_responses())
def test_parsing_converter_gives_the_wire_values_as_decoded(raw: RawResponse) -> None:
    converter = make_parsing_converter()
    assert converter.unstructure(P0fResponse.from_raw(raw)) == attrs.asdict(raw)


@given(parsed_responses())
def test_json_converter_round_trips_parsed_records(response: P0fResponse) -> None:
    converter = make_json_converter()
    text = json.dumps(converter.unstructure(response))
    again = converter.structure(json.loads(text), P0fResponse)
    assert again == response
    assert again.raw == response.raw
